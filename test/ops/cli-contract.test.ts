/**
 * The CLI contract scripts rely on (docs/operations.md "`--json` and exit codes"), through `main()`
 * in-process: usage errors as JSON with `--json`, exit 3 when Temporal is unreachable, exit 1, `export
 * --json`, and the `--json` output of `skip`, `pause` and `resume` on a small backlog run by scripted
 * activities:
 *   A (DOC)            fails QA every time → 3 corrections → escalated, waits for a human (keeps the backlog running)
 *   B (DOC, after A)   waits for A (TODO) until skipped
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBacklogView, startBacklog } from "../../src/cli/backlogs.js";
import { wantsJson } from "../../src/cli/errors.js";
import { testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import { uniqueBacklogId } from "../workflows/fakes.js";
import { cli, opsPlan, startScenario, until, type Scenario } from "./helpers.js";

let s: Scenario;
let backlogId: string;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "squadflow-cli-contract-"));
  s = await startScenario(
    "cli-contract",
    [
      { id: "A", type: "DOC" },
      { id: "B", type: "DOC", dependencies: ["A"] },
    ],
    { A: { qa: [["unit tests exited 1"]] } },
  );
  backlogId = s.backlogId;
});

afterAll(async () => {
  await s?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The parsed `--json` error document of a run, asserting that stderr holds nothing else. */
function jsonError(err: string): { error: { message: string; exitCode: number } } {
  expect(err.split("\n")).toHaveLength(1);
  return JSON.parse(err);
}

/** A local port nothing listens on (bound once by the OS, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** Runs `fn` with TEMPORAL_ADDRESS pointing at `address`, restoring it afterwards. */
async function withAddress<T>(address: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.TEMPORAL_ADDRESS;
  process.env.TEMPORAL_ADDRESS = address;
  try {
    return await fn();
  } finally {
    process.env.TEMPORAL_ADDRESS = saved;
  }
}

describe("usage errors", () => {
  it("with --json, an invalid option value is one JSON error on stderr, exit 2, nothing on stdout", async () => {
    const r = await cli("list", "--status", "STUCK", "--json");
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(jsonError(r.err)).toEqual({
      error: { message: expect.stringContaining('unknown status "STUCK" (statuses: TODO, IN_PROGRESS'), exitCode: 2 },
    });
  });

  it("with --json, a missing required option, an unknown option and an unknown command are JSON errors too", async () => {
    const missing = await cli("review", backlogId, "A", "--approve", "--reason", "ok", "--json");
    expect(missing.code).toBe(2);
    expect(jsonError(missing.err)).toEqual({
      error: { message: "required option '--reviewer <name>' not specified", exitCode: 2 },
    });
    const unknown = await cli("status", backlogId, "--colour", "--json");
    expect(unknown.code).toBe(2);
    expect(jsonError(unknown.err)).toEqual({ error: { message: "unknown option '--colour'", exitCode: 2 } });
    const command = await cli("stat", backlogId, "--json");
    expect(command.code).toBe(2);
    expect(jsonError(command.err).error).toMatchObject({
      message: expect.stringContaining("unknown command 'stat'"),
      exitCode: 2,
    });
  });

  it("without --json, keeps commander's message and the command's help on stderr, exit 2", async () => {
    const r = await cli("list", "--status", "STUCK");
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toMatch(/^error: option '--status <status>' argument 'STUCK' is invalid\. unknown status "STUCK"/);
    expect(r.err).toContain("Usage: squadflow list [options]");
  });

  it("still prints --help on stdout with exit 0 when --json is given too", async () => {
    const r = await cli("list", "--help", "--json");
    expect(r.code).toBe(0);
    expect(r.out).toContain("Usage: squadflow list [options]");
    expect(r.err).toBe("");
  });

  it("reads --json as a request for JSON only before a `--`", () => {
    expect(wantsJson(["node", "squadflow", "list", "--json"])).toBe(true);
    expect(wantsJson(["node", "squadflow", "validate", "--", "--json"])).toBe(false);
    expect(wantsJson(["node", "squadflow", "list"])).toBe(false);
  });
});

describe("exit 3: Temporal unreachable", () => {
  it("names the address and says how to start a server", async () => {
    const address = `127.0.0.1:${await closedPort()}`;
    const r = await withAddress(address, () => cli("status", backlogId));
    expect(r.code).toBe(3);
    expect(r.out).toBe("");
    expect(r.err).toMatch(new RegExp(`^squadflow: cannot reach Temporal at ${address} \\(namespace `));
    expect(r.err).toContain('Start it with "npx squadflow dev" or set TEMPORAL_ADDRESS');
  });

  it("is one JSON error with exitCode 3 with --json", async () => {
    const address = `127.0.0.1:${await closedPort()}`;
    const r = await withAddress(address, () => cli("list", "--json"));
    expect(r.code).toBe(3);
    expect(r.out).toBe("");
    expect(jsonError(r.err)).toEqual({
      error: { message: expect.stringContaining(`cannot reach Temporal at ${address}`), exitCode: 3 },
    });
  });
});

describe("exit 1", () => {
  it("for a backlog workflow that was terminated, in text and JSON", async () => {
    const { client } = await testEnv();
    const id = uniqueBacklogId("cli-contract-term");
    const q = uniqueTaskQueue("cli-contract-term"); // nothing polls it
    await startBacklog(client, opsPlan(id, [{ id: "X", type: "DOC" }], 1), `${id}.json`, {
      orchestration: q,
      owners: q,
      validation: q,
      debugging: q,
    });
    await client.workflow.getHandle(id).terminate("test: ended from outside");
    const text = await cli("status", id);
    expect(text.code).toBe(1);
    expect(text.err).toBe(`squadflow: backlog "${id}" ended TERMINATED; see: temporal workflow show -w ${id}`);
    const json = await cli("status", id, "--json");
    expect(json.code).toBe(1);
    expect(jsonError(json.err)).toEqual({
      error: { message: expect.stringContaining("ended TERMINATED"), exitCode: 1 },
    });
  });

  it("for an error the CLI does not classify (export --out into a missing directory), as JSON with --json", async () => {
    await until("A to wait for a human", async () => ((await cardStatus("A")) === "AWAITING_HUMAN" ? true : undefined));
    const out = join(dir, "missing", "export.json");
    const r = await cli("export", backlogId, "--out", out, "--json");
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(jsonError(r.err)).toEqual({
      error: { message: expect.stringMatching(/^squadflow: ENOENT: no such file or directory/), exitCode: 1 },
    });
  });
});

/** A card's status in the scenario backlog, read through the CLI's own view. */
async function cardStatus(cardId: string): Promise<string | undefined> {
  const { client } = await testEnv();
  return (await readBacklogView(client, backlogId)).cards.find((c) => c.cardId === cardId)?.status;
}

/** An export without `metadata.exported_at`, which differs between two runs of the same export. */
function withoutExportTime(doc: { metadata: Record<string, unknown> }): unknown {
  const { exported_at: _at, ...metadata } = doc.metadata;
  return { ...doc, metadata };
}

describe("--json of export, pause, resume and skip", () => {
  it("export accepts --json and prints the same document; with --out it prints { backlogId, out }", async () => {
    await until("A to wait for a human", async () => ((await cardStatus("A")) === "AWAITING_HUMAN" ? true : undefined));
    const plain = await cli("export", backlogId);
    const json = await cli("export", backlogId, "--json");
    expect(json.code).toBe(0);
    expect(json.err).toBe("");
    const exported = JSON.parse(json.out);
    expect(withoutExportTime(exported)).toEqual(withoutExportTime(JSON.parse(plain.out)));
    const statuses = Object.fromEntries(exported.cards.map((c: { id: string; status: string }) => [c.id, c.status]));
    expect(statuses).toMatchObject({ A: "AWAITING_HUMAN", B: "TODO" });

    const file = join(dir, "export.json");
    const written = await cli("export", backlogId, "--out", file, "--json");
    expect(written.code).toBe(0);
    expect(JSON.parse(written.out)).toEqual({ backlogId, out: file });
    expect(withoutExportTime(JSON.parse(await readFile(file, "utf8")))).toEqual(withoutExportTime(exported));
  });

  it("pause and resume print the audit entry", async () => {
    const pause = await cli("pause", backlogId, "--reviewer", "ops", "--reason", "deploy freeze", "--json");
    expect(pause.err).toBe("");
    expect(pause.code).toBe(0);
    const paused = JSON.parse(pause.out);
    expect(paused).toEqual({ at: expect.any(String), actor: "ops", action: "pause", reason: "deploy freeze" });
    expect(Number.isNaN(Date.parse(paused.at))).toBe(false);

    const again = await cli("pause", backlogId, "--reviewer", "ops", "--reason", "again", "--json");
    expect(again.code).toBe(2);
    expect(jsonError(again.err).error).toMatchObject({
      message: expect.stringContaining("already paused"),
      exitCode: 2,
    });

    const resume = await cli("resume", backlogId, "--reviewer", "ops", "--reason", "freeze over", "--json");
    expect(resume.err).toBe("");
    expect(resume.code).toBe(0);
    expect(JSON.parse(resume.out)).toEqual({
      at: expect.any(String),
      actor: "ops",
      action: "resume",
      reason: "freeze over",
    });
  });

  it("skip prints the audit entry, and the skipped card ends DONE", async () => {
    const r = await cli("skip", backlogId, "B", "--reviewer", "ana", "--reason", "not needed", "--json");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ at: expect.any(String), actor: "ana", action: "skip", reason: "not needed" });
    await until("B to be DONE", async () => ((await cardStatus("B")) === "DONE" ? true : undefined));

    const refused = await cli("skip", backlogId, "B", "--reviewer", "ana", "--reason", "again", "--json");
    expect(refused.code).toBe(2);
    expect(refused.out).toBe("");
    expect(jsonError(refused.err).error.exitCode).toBe(2);
  });
});
