/**
 * `--json` on the commands that printed only text before (validate, start), and the exit code of a bad
 * Temporal config, through the CLI in-process.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testEnv } from "../helpers/temporal.js";
import { uniqueBacklogId } from "../workflows/fakes.js";
import { cli } from "./helpers.js";

let dir: string;
/** A small valid backlog file: two cards to run (B after A) and one legacy DONE card. */
let EXAMPLE: string;

beforeAll(async () => {
  const env = await testEnv();
  process.env.TEMPORAL_ADDRESS = env.address;
  process.env.TEMPORAL_NAMESPACE = env.namespace;
  dir = await mkdtemp(join(tmpdir(), "squadflow-ops-json-"));
  EXAMPLE = join(dir, "backlog.json");
  const judge = { kind: "rubric", criteria: [{ name: "has intro", check: { type: "section", heading: "Intro" } }] };
  await writeFile(
    EXAMPLE,
    JSON.stringify({
      metadata: { backlog_id: "ops-json" },
      cards: [
        { id: "DONE-1", type: "DOC", title: "done before", status: "DONE" },
        { id: "A", type: "DOC", title: "a", dependencies: ["DONE-1"] },
        { id: "B", type: "DOC", title: "b", dependencies: ["A"] },
      ],
      squad: {
        agents: { writer: { kind: "command", command: "node", args: ["./agent.mjs"] } },
        card_types: { DOC: { owner: "writer", judge } },
      },
    }),
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("validate --json", () => {
  it("prints the plan of a valid backlog", async () => {
    const r = await cli("validate", EXAMPLE, "--json");
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out);
    expect(json).toEqual({ file: EXAMPLE, valid: true, backlogId: "ops-json", cards: ["A", "B"], done: ["DONE-1"] });
  });

  it("prints every issue of an invalid backlog and exits 2", async () => {
    const file = join(dir, "bad.json");
    await writeFile(file, JSON.stringify({ cards: [{ id: "X-1", type: "DOC", title: "x", dependencies: ["NOPE"] }] }));
    const r = await cli("validate", file, "--json");
    expect(r.code).toBe(2);
    const json = JSON.parse(r.out);
    expect(json.valid).toBe(false);
    expect(json.issues.length).toBeGreaterThan(0);
    expect(json.issues.some((i: { message: string }) => /NOPE/.test(i.message))).toBe(true);
  });

  it("still prints text without --json", async () => {
    const r = await cli("validate", EXAMPLE);
    expect(r.out).toBe(`${EXAMPLE}: valid — backlog ops-json, 2 cards to run, 1 already DONE`);
  });
});

describe("start --json", () => {
  it("prints the started workflow IDs and the UI link", async () => {
    const id = uniqueBacklogId("ops-start");
    const r = await cli("start", EXAMPLE, "--id", id, "--json");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out);
    expect(json).toMatchObject({ backlogId: id, workflowId: id, started: true, done: ["DONE-1"] });
    expect(json.cards).toEqual([
      { cardId: "A", workflowId: `${id}/A` },
      { cardId: "B", workflowId: `${id}/B` },
    ]);
    expect(json.uiUrl).toContain(encodeURIComponent(`BacklogId="${id}"`));
    // No worker polls the default queues in tests: end it rather than leave it pending.
    const { client } = await testEnv();
    await client.workflow.getHandle(id).terminate("test done");

    const again = await cli("start", EXAMPLE, "--id", id, "--json");
    expect(again.code).toBe(2);
    expect(JSON.parse(again.err).error.message).toContain(`backlog "${id}" already exists`);
  });
});

describe("exit codes", () => {
  it("exits 2 for a Temporal profile that does not exist", async () => {
    const file = join(dir, "temporal.toml");
    await writeFile(file, '[profile.default]\naddress = "127.0.0.1:7233"\n');
    const saved = { ...process.env };
    try {
      process.env.TEMPORAL_CONFIG_FILE = file;
      process.env.TEMPORAL_PROFILE = "nope";
      const r = await cli("status", "x");
      expect(r.code).toBe(2);
      expect(r.err).toContain("Profile 'nope' not found");
    } finally {
      process.env = saved;
    }
  });
});
