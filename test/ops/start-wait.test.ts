/**
 * `squadflow start FILE --wait` through the CLI in-process, with the real worker wiring (`createWorkers`,
 * real activities, a tiny command agent and a rubric judge) running the backlog.
 *
 * `start` always uses the deployment's task queues (`squadflow-orchestration`, …), which other tests on
 * the run's server start workflows on without a worker. So this file registers a namespace of its own on
 * that server: its workers serve the default queues there and see nothing of the other tests.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Connection } from "@temporalio/client";
import type { Worker } from "@temporalio/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkers, runWorkers } from "../../src/worker.js";
import { freshNamespace, testEnv } from "../helpers/temporal.js";
import { uniqueBacklogId } from "../workflows/fakes.js";
import { cli, until } from "./helpers.js";

/** Writes `docs/<card>.md`; card `C` never gets the "Intro" section the judge asks for, so it always fails. */
const AGENT = `
let input = '';
for await (const chunk of process.stdin) input += chunk;
const { card } = JSON.parse(input);
const { mkdirSync, writeFileSync } = await import('node:fs');
mkdirSync('docs', { recursive: true });
writeFileSync(\`docs/\${card.id}.md\`, card.id === 'C' ? '# Notes\\nno intro\\n' : \`# Intro\\n\${card.title}\\n\`);
console.log(JSON.stringify({ artifacts: [\`docs/\${card.id}.md\`], usage: { input_tokens: 10, output_tokens: 5, cost_usd: 0.001 } }));
`;

let dir: string;
let file: string;
let workers: Worker[] = [];
let running: Promise<void> | undefined;
let connection: Connection;
let namespace: string;

beforeAll(async () => {
  const env = await testEnv();
  ({ namespace, connection } = await freshNamespace("start-wait"));
  process.env.TEMPORAL_ADDRESS = env.address;
  process.env.TEMPORAL_NAMESPACE = namespace;

  dir = await mkdtemp(join(tmpdir(), "squadflow-start-wait-"));
  await writeFile(join(dir, "agent.mjs"), AGENT);
  file = join(dir, "backlog.json");
  const judge = { kind: "rubric", criteria: [{ name: "has intro", check: { type: "section", heading: "Intro" } }] };
  await writeFile(
    file,
    JSON.stringify({
      metadata: { backlog_id: "start-wait" },
      cards: [
        { id: "A", type: "DOC", title: "a" },
        { id: "B", type: "DOC", title: "b", dependencies: ["A"] },
        { id: "C", type: "DOC", title: "c" },
        { id: "D", type: "DOC", title: "d", dependencies: ["C"] },
      ],
      squad: {
        agents: { writer: { kind: "command", command: "node", args: ["./agent.mjs"] } },
        card_types: { DOC: { owner: "writer", judge } },
      },
    }),
  );
  workers = await createWorkers({
    connection: env.nativeConnection,
    namespace,
    workspacesRoot: join(dir, "workspaces"),
    baseDir: dir,
    workflowBundle: { codePath: env.bundlePath },
  });
  running = runWorkers(workers);
});

afterAll(async () => {
  for (const w of workers) if (w.getState() === "RUNNING") w.shutdown();
  await running;
  await connection?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("start --wait", () => {
  it("returns once idle with --json: every card ended or waits for a human, with its status", async () => {
    const id = uniqueBacklogId("start-wait");
    const r = await cli("start", file, "--id", id, "--wait", "--json");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const json = JSON.parse(r.out) as {
      backlogId: string;
      started: boolean;
      idle: boolean;
      status: { backlogId: string; running: boolean; cards: { cardId: string; status: string; attempt: number }[] };
    };
    expect(json).toMatchObject({ backlogId: id, started: true, idle: true, status: { backlogId: id, running: true } });
    const cards = Object.fromEntries(json.status.cards.map((c) => [c.cardId, [c.status, c.attempt]]));
    // C failed its first attempt and 3 corrections, and waits for a human; D waits for C, not yet tried.
    expect(cards).toEqual({ A: ["DONE", 1], B: ["DONE", 1], C: ["AWAITING_HUMAN", 4], D: ["TODO", 0] });
  }, 120_000);

  it("prints live progress without --json and returns once idle", async () => {
    const id = uniqueBacklogId("start-wait-text");
    const r = await cli("start", file, "--id", id, "--wait");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain(`Started backlog ${id} (workflow ID ${id}): 4 cards, 0 already DONE`);
    expect(r.out).toMatch(/ B DONE — attempt 1/);
    expect(r.out).toMatch(/ C AWAITING_HUMAN\n/);
    expect(r.out).toMatch(/DONE 2 · AWAITING_HUMAN 1 · TODO 1 — idle: every card has ended or waits for a human$/);
  }, 120_000);
});
