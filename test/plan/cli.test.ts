/**
 * `squadflow plan` end to end as a process of its own (`node bin/squadflow.mjs plan …`): the backlog file it
 * writes with `--out` (read back by the normal loader), stdout without `--out`, `--json`, and an invalid
 * plan: exit 2, every problem named by plan file and line, nothing written.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBacklog } from "../../src/cli/load.js";
import { planSquad, scratch } from "./helpers.js";

const BIN = join(resolve(dirname(fileURLToPath(import.meta.url)), "../.."), "bin", "squadflow.mjs");

const PLAN = `# Plan: order export

## BACKEND Tasks

- [ ] EXP-001: CSV export endpoint
  - Priority: high
- [ ] EXP-002: Export audit log
  - Depends on: EXP-001

## UI Tasks

- [ ] EXP-003: Export button
  - Depends on: EXP-001

## QA Tasks

- [ ] EXP-004: Export end-to-end test
  - Depends on: EXP-002, EXP-003
`;

let tmp: Awaited<ReturnType<typeof scratch>>;
let squad: string;
let plan: string;

beforeAll(async () => {
  tmp = await scratch("plan-cli");
  squad = await tmp.write("squad.json", JSON.stringify(planSquad()));
  plan = await tmp.write("export.md", PLAN);
});
afterAll(async () => {
  await tmp?.remove();
});

/** Runs the CLI as a child process in the scratch folder. */
function squadflow(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { cwd: tmp.dir }, (error, out, err) => {
      done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out, err });
    });
  });
}

describe("squadflow plan (a process of its own)", () => {
  it("writes the derived backlog with --out; the loader reads it into the plan's cards", async () => {
    const r = await squadflow("plan", "export.md", "--squad", "squad.json", "--out", "export.backlog.json");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      "export.md: backlog export written to export.backlog.json — 4 cards to run, 0 already DONE (run it: squadflow start export.backlog.json)\n",
    );
    const loaded = await loadBacklog(join(tmp.dir, "export.backlog.json"));
    expect(loaded.backlogId).toBe("export");
    expect(loaded.cards.map((c) => [c.card.id, c.card.type, c.card.priority, c.card.dependencies])).toEqual([
      ["EXP-001", "BACKEND", "HIGH", []],
      ["EXP-002", "BACKEND", "MEDIUM", ["EXP-001"]],
      ["EXP-003", "FRONTEND", "MEDIUM", ["EXP-001"]],
      ["EXP-004", "QA", "MEDIUM", ["EXP-002", "EXP-003"]],
    ]);
    const written = JSON.parse(await readFile(join(tmp.dir, "export.backlog.json"), "utf8"));
    expect(written.metadata).toMatchObject({ backlog_id: "export", project: "Plan: order export", plan: "export.md" });
    expect(written.squad).toEqual(planSquad());
  }, 60_000);

  it("prints the backlog on stdout without --out, and a summary with --out --json", async () => {
    const r = await squadflow("plan", plan, "--squad", squad, "--id", "export-2");
    expect(r.code).toBe(0);
    const backlog = JSON.parse(r.out);
    expect(backlog.metadata.backlog_id).toBe("export-2");
    expect(backlog.cards.map((c: { id: string }) => c.id)).toEqual(["EXP-001", "EXP-002", "EXP-003", "EXP-004"]);

    const j = await squadflow("plan", plan, "--squad", squad, "--out", "b.json", "--json");
    expect(j.code).toBe(0);
    expect(JSON.parse(j.out)).toEqual({
      plan,
      out: "b.json",
      backlogId: "export",
      cards: ["EXP-001", "EXP-002", "EXP-003", "EXP-004"],
      done: [],
    });
  }, 60_000);

  it("refuses an invalid plan with exit 2, naming plan file and line of each problem, and writes nothing", async () => {
    await tmp.write(
      "bad.md",
      PLAN.replace("Depends on: EXP-001\n\n## UI", "Depends on: EXP-010\n\n## UI").replace(
        "## UI Tasks",
        "## DESIGN Tasks",
      ),
    );
    const r = await squadflow("plan", "bad.md", "--squad", "squad.json", "--out", "bad.json");
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toContain('bad.md:8: card EXP-002, field Depends on: unknown dependency "EXP-010"');
    expect(r.err).toContain('bad.md:10: card EXP-003, field heading: unknown role "DESIGN"');
    expect(existsSync(join(tmp.dir, "bad.json"))).toBe(false);

    const j = await squadflow("plan", "bad.md", "--squad", "squad.json", "--out", "bad.json", "--json");
    expect(j.code).toBe(2);
    const issues = JSON.parse(j.err).error.issues as { file: string; line: number; cardId: string }[];
    expect(issues.map((i) => [i.file, i.line, i.cardId])).toEqual([
      ["bad.md", 8, "EXP-002"],
      ["bad.md", 10, "EXP-003"],
    ]);
  }, 60_000);

  it("needs --squad (a usage error, exit 2)", async () => {
    const r = await squadflow("plan", "export.md");
    expect(r.code).toBe(2);
    expect(r.err).toContain("required option '--squad <file>' not specified");
  }, 60_000);
});
