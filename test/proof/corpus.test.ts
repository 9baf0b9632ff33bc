/**
 * Bad input, part 1: every file of the fixed corpus of malformed backlogs (`test/proof/corpus/`, made by
 * `scripts/make-bad-backlog-corpus.ts`) is refused by the CLI's loader with a BacklogValidationError — never
 * another exception — whose issues name the file, the field and (for card problems) the card; and the CLI itself
 * exits 2 without starting any workflow.
 */
import { randomUUID } from "node:crypto";
import { readdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WorkflowNotFoundError } from "@temporalio/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBacklog } from "../../src/cli/load.js";
import { BacklogValidationError, MAX_DESCRIPTION_CHARS, type BacklogIssue } from "../../src/domain/index.js";
import { testEnv } from "../helpers/temporal.js";
import { validBacklog } from "../domain/fixtures.js";
import { CORPUS_DIR, cli, corpusIndex, until } from "./helpers.js";

const index = corpusIndex();
const entries = Object.entries(index);

/** What `loadBacklog` throws for a corpus file; fails the test on a plan or any other exception. */
async function refusal(file: string, squad?: string): Promise<BacklogValidationError> {
  let thrown: unknown;
  try {
    await loadBacklog(file, squad ? { squad } : {});
  } catch (err) {
    thrown = err;
  }
  if (thrown === undefined) throw new Error(`${file} was accepted`);
  if (!(thrown instanceof BacklogValidationError)) {
    throw new Error(`${file}: expected a BacklogValidationError, got ${String(thrown)}`, { cause: thrown });
  }
  return thrown;
}

/** Every issue names a file it was given, and a card whenever its field is inside a card. */
function expectWellFormed(issues: readonly BacklogIssue[], files: string[]): void {
  expect(issues.length).toBeGreaterThan(0);
  for (const issue of issues) {
    expect(files).toContain(issue.file);
    expect(typeof issue.field).toBe("string");
    expect(issue.message.trim()).not.toBe("");
    if (/^cards\[\d+\]\./.test(issue.field) || /^cards\[\d+\]$/.test(issue.field)) expect(issue.cardId).toBeTruthy();
  }
}

describe("the corpus of malformed backlogs", () => {
  it("holds at least 100 files, each with its expected error recorded in index.json", () => {
    const files = readdirSync(CORPUS_DIR).filter(
      (f) => f.endsWith(".json") && f !== "index.json" && !f.endsWith(".squad.json"),
    );
    expect(files.length).toBeGreaterThanOrEqual(100);
    expect(files.sort()).toEqual(Object.keys(index).sort());
    for (const [file, e] of entries) {
      expect(e.expect.length, `${file} records no expected message`).toBeGreaterThan(0);
      expect(e.backlogId, file).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/);
    }
  });

  it.each(entries)(
    "refuses %s with a BacklogValidationError naming the file, the field and the card",
    async (name, e) => {
      const file = join(CORPUS_DIR, name);
      const squad = e.squad ? join(CORPUS_DIR, e.squad) : undefined;
      const err = await refusal(file, squad);
      expectWellFormed(err.issues, squad ? [file, squad] : [file]);
      const wantFile = e.issueFile ? join(CORPUS_DIR, e.issueFile) : file;
      const match = err.issues.find(
        (i) =>
          i.file === wantFile &&
          i.field === e.field &&
          (e.cardId === undefined || i.cardId === e.cardId) &&
          e.expect.every((s) => i.message.includes(s)),
      );
      expect(
        match,
        `${name} (${e.description}): no issue with field "${e.field}"${e.cardId ? `, card ${e.cardId}` : ""} and ${JSON.stringify(e.expect)}; got:\n${err.message}`,
      ).toBeDefined();
      // The one-line form the CLI prints names the file, the card and the field too.
      expect(err.message).toContain(
        `${wantFile}: ${e.cardId ? `card ${e.cardId}, ` : ""}field ${e.field || "(root)"}: `,
      );
    },
  );
});

describe("bad input generated at test time", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "squadflow-proof-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses a 10 MB description, naming the card and the field, quickly", async () => {
    const b = validBacklog();
    b.cards[1]!.description = "lorem ".repeat((10 * 1024 * 1024) / 6);
    const file = join(dir, "huge.json");
    await writeFile(file, JSON.stringify(b));
    const started = Date.now();
    const err = await refusal(file);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(err.issues).toEqual([
      {
        file,
        cardId: "SPEC-002",
        field: "cards[1].description",
        message: `must be at most ${MAX_DESCRIPTION_CHARS} characters`,
      },
    ]);
  });

  it("accepts a valid backlog saved with a UTF-8 byte order mark (the control: a BOM is not an error)", async () => {
    const file = join(dir, "bom.json");
    await writeFile(
      file,
      Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(validBacklog()))]),
    );
    const plan = await loadBacklog(file);
    expect(plan.cards.map((c) => c.card.id)).toEqual(["SPEC-001", "SPEC-002"]);
  });

  it("refuses a file that does not exist, naming it", async () => {
    const file = join(dir, "missing.json");
    const err = await refusal(file);
    expect(err.issues).toEqual([{ file, field: "", message: "cannot read file (ENOENT)" }]);
  });
});

describe("squadflow start on malformed backlogs", () => {
  const SAMPLE = [
    "empty-file",
    "truncated",
    "trailing-comma-array",
    "utf16le",
    "latin1-title",
    "root-array",
    "cards-empty",
    "card-title-missing",
    "card-priority-unknown",
    "duplicate-id",
    "unknown-dependency",
    "self-dependency",
    "cycle-3",
    "cycle-long",
    "depends-on-correction-card",
    "artifact-traversal",
    "artifact-absolute",
    "unknown-card-type",
    "card-owner-unknown",
    "squad-agent-unknown-kind",
    "squad-agent-negative-timeout",
    "squad-invalid-regex",
    "squad-judge-pass-score-11",
    "squad-file-invalid-regex",
  ];
  const sample = SAMPLE.map((slug) => {
    const entry = entries.find(([name]) => name.replace(/^\d{3}-/, "") === `${slug}.json`);
    if (!entry) throw new Error(`no corpus file for ${slug}`);
    return entry;
  });

  beforeAll(async () => {
    const env = await testEnv();
    process.env.TEMPORAL_ADDRESS = env.address;
    process.env.TEMPORAL_NAMESPACE = env.namespace;
  });

  /** Ids of the workflows whose BacklogId is `backlogId` (the backlog's cards), plus the backlog workflow if it exists. */
  async function workflowsOf(backlogId: string): Promise<string[]> {
    const { client } = await testEnv();
    const found: string[] = [];
    for await (const wf of client.workflow.list({ query: `BacklogId="${backlogId}"` })) found.push(wf.workflowId);
    return found;
  }

  it("finds a backlog that was started (the control: the visibility query below does see started backlogs)", async () => {
    const { client } = await testEnv();
    const dir = await mkdtemp(join(tmpdir(), "squadflow-proof-start-"));
    const backlogId = `proof-control-${randomUUID().slice(0, 8)}`;
    try {
      const file = join(dir, "valid.json");
      await writeFile(file, JSON.stringify(validBacklog()));
      const started = await cli("start", file, "--id", backlogId);
      expect(started.err).toBe("");
      expect(started.code).toBe(0);
      const found = await until("the started backlog to be visible", async () => {
        const ids = await workflowsOf(backlogId);
        return ids.includes(backlogId) ? ids : undefined;
      });
      expect(found).toContain(backlogId);
    } finally {
      await client.workflow
        .getHandle(backlogId)
        .terminate("proof control done")
        .catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.each(sample)("exits 2 on %s and starts no workflow", async (name, e) => {
    const { client } = await testEnv();
    const file = join(CORPUS_DIR, name);
    const args = e.squad ? ["start", file, "--squad", join(CORPUS_DIR, e.squad)] : ["start", file];
    const r = await cli(...args);
    expect(r.code).toBe(2);
    expect(r.err).toContain("Backlog is invalid");
    expect(r.err).toContain("nothing was started");
    expect(r.out).not.toContain("Started backlog");
    // Strongly consistent: no backlog workflow under that id …
    const err = await client.workflow
      .getHandle(e.backlogId)
      .describe()
      .catch((x: unknown) => x);
    expect(err).toBeInstanceOf(WorkflowNotFoundError);
    // … and nothing carrying its BacklogId in visibility.
    expect(await workflowsOf(e.backlogId)).toEqual([]);
  });
});
