/**
 * `squadflow plan FILE --start --wait` through the CLI in-process, with the real worker wiring
 * (`createWorkers`: real activities, a tiny command agent, a rubric judge) running the derived backlog to
 * DONE on the run's Temporal server.
 *
 * `start` uses the deployment's task queues (`squadflow-orchestration`, …), which other tests on the run's
 * server start workflows on without a worker, so this file registers a namespace of its own (as
 * test/ops/start-wait.test.ts does): its workers serve the default queues there and see nothing else.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Connection } from "@temporalio/client";
import type { Worker } from "@temporalio/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkers, runWorkers } from "../../src/worker.js";
import { cli } from "../helpers/cli.js";
import { freshNamespace, testEnv } from "../helpers/temporal.js";
import { uniqueBacklogId } from "../workflows/fakes.js";
import { planSquad, scratch } from "./helpers.js";

/** Writes `docs/<card>.md` with the "Intro" section the rubric judge asks for. */
const AGENT = `
let input = '';
for await (const chunk of process.stdin) input += chunk;
const { card } = JSON.parse(input);
const { mkdirSync, writeFileSync } = await import('node:fs');
mkdirSync('docs', { recursive: true });
writeFileSync(\`docs/\${card.id}.md\`, \`# Intro\\n\${card.title}\\n\`);
console.log(JSON.stringify({ artifacts: [\`docs/\${card.id}.md\`], usage: { input_tokens: 10, output_tokens: 5, cost_usd: 0.001 } }));
`;

const PLAN = `# Plan: order export

## BACKEND Tasks

- [ ] EXP-001: CSV export endpoint
  - Priority: high
- [x] EXP-000: Orders table (delivered last sprint)

## UI Tasks

- [ ] EXP-002: Export button
  - Depends on: EXP-001, EXP-000

## QA Tasks

- [ ] EXP-003: Export end-to-end test
  - Depends on: EXP-002
`;

let tmp: Awaited<ReturnType<typeof scratch>>;
let workers: Worker[] = [];
let running: Promise<void> | undefined;
let connection: Connection;
let namespace: string;

beforeAll(async () => {
  const env = await testEnv();
  ({ namespace, connection } = await freshNamespace("plan-start"));
  process.env.TEMPORAL_ADDRESS = env.address;
  process.env.TEMPORAL_NAMESPACE = namespace;

  tmp = await scratch("plan-start");
  await tmp.write("agent.mjs", AGENT);
  workers = await createWorkers({
    connection: env.nativeConnection,
    namespace,
    workspacesRoot: join(tmp.dir, "workspaces"),
    baseDir: tmp.dir,
    workflowBundle: { codePath: env.bundlePath },
  });
  running = runWorkers(workers);
});

afterAll(async () => {
  for (const w of workers) if (w.getState() === "RUNNING") w.shutdown();
  await running;
  await connection?.close();
  await tmp?.remove();
});

describe("plan --start", () => {
  it("writes <plan>.backlog.json and runs the derived backlog to DONE, in dependency order", async () => {
    const squad = await tmp.write("squad.json", JSON.stringify(planSquad()));
    const plan = await tmp.write("export.md", PLAN);
    const id = uniqueBacklogId("plan-start");
    const r = await cli("plan", plan, "--squad", squad, "--id", id, "--start", "--wait", "--json");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out) as {
      backlogId: string;
      started: boolean;
      idle: boolean;
      done: string[];
      status: { cards: { cardId: string; status: string; attempt: number }[] };
    };
    expect(json).toMatchObject({ backlogId: id, started: true, idle: true, done: ["EXP-000"] });
    const cards = Object.fromEntries(json.status.cards.map((c) => [c.cardId, [c.status, c.attempt]]));
    expect(cards).toEqual({
      "EXP-000": ["DONE", 0],
      "EXP-001": ["DONE", 1],
      "EXP-002": ["DONE", 1],
      "EXP-003": ["DONE", 1],
    });

    const written = JSON.parse(await readFile(join(tmp.dir, "export.backlog.json"), "utf8"));
    expect(written.metadata.backlog_id).toBe(id);

    // The export (the backlog_master.json shape again) has each card completed after its dependencies.
    const exported = JSON.parse((await cli("export", id)).out) as {
      cards: { id: string; status: string; completed_at: string }[];
    };
    const completed = (cardId: string) => exported.cards.find((c) => c.id === cardId)!.completed_at;
    expect(completed("EXP-001") <= completed("EXP-002") && completed("EXP-002") <= completed("EXP-003")).toBe(true);
  }, 120_000);

  it("starts nothing and writes nothing when the plan is invalid", async () => {
    const squad = await tmp.write("squad.json", JSON.stringify(planSquad()));
    const plan = await tmp.write("broken.md", PLAN.replace("Depends on: EXP-002", "Depends on: EXP-009"));
    const id = uniqueBacklogId("plan-start-bad");
    const r = await cli("plan", plan, "--squad", squad, "--id", id, "--start", "--json");
    expect(r.code).toBe(2);
    expect(JSON.parse(r.err).error.issues).toEqual([
      { file: plan, line: 17, cardId: "EXP-003", field: "Depends on", message: 'unknown dependency "EXP-009"' },
    ]);
    expect(existsSync(join(tmp.dir, "broken.backlog.json"))).toBe(false);
    const status = await cli("status", id, "--json");
    expect(status.code).toBe(2);
  }, 60_000);
});
