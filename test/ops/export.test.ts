/**
 * `squadflow export BACKLOG --out FILE` through the CLI in-process, on a backlog run by scripted activities
 * on the run's dev server: the file is written, is a valid backlog file again (src/domain/backlog.ts), and
 * holds every card with its status, correction rounds as `CORRECTION` cards, and the legacy card as given.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Worker } from "@temporalio/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isIdle, readBacklogView, startBacklog } from "../../src/cli/backlogs.js";
import { BacklogFileSchema, planBacklog } from "../../src/domain/index.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import { fakeActivities, testPlan, uniqueBacklogId } from "../workflows/fakes.js";
import { cli, until } from "./helpers.js";

let dir: string;
let worker: Worker;
let running: Promise<void>;
const backlogId = uniqueBacklogId("export");

beforeAll(async () => {
  const env = await testEnv();
  process.env.TEMPORAL_ADDRESS = env.address;
  process.env.TEMPORAL_NAMESPACE = env.namespace;
  dir = await mkdtemp(join(tmpdir(), "squadflow-export-"));
  const q = uniqueTaskQueue("export");
  // B is rejected by the judge once, then passes; C fails verification every time and waits for a human.
  const { activities } = fakeActivities({
    B: { judge: [['criterion "Intro" not met'], "pass"] },
    C: { verification: [["no artifact"]] },
  });
  worker = await createTestWorker({ taskQueue: q, activities });
  running = worker.run();
  const plan = testPlan(backlogId, [
    { id: "L", status: "DONE", artifacts: ["legacy/L.md"] },
    { id: "A", dependencies: ["L"] },
    { id: "B", dependencies: ["A"] },
    { id: "C" },
    { id: "D", dependencies: ["C"] },
  ]);
  await startBacklog(env.client, plan, "export.json", { orchestration: q, owners: q, validation: q, debugging: q });
  await until(
    "the backlog to be idle",
    async () => (isIdle(await readBacklogView(env.client, backlogId)) ? true : undefined),
    60_000,
  );
});

afterAll(async () => {
  if (worker?.getState() === "RUNNING") worker.shutdown();
  await running;
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("export --out", () => {
  it("writes the backlog to the file as a valid backlog file, every card with its status", async () => {
    const out = join(dir, "exported.json");
    const r = await cli("export", backlogId, "--out", out);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toBe(`wrote ${out}`);

    const parsed = BacklogFileSchema.safeParse(JSON.parse(await readFile(out, "utf8")));
    expect(parsed.error?.issues ?? []).toEqual([]);
    const doc = parsed.data!;
    expect(doc.metadata).toMatchObject({ backlog_id: backlogId, source_file: "export.json", finished: false });
    expect(Object.fromEntries(doc.cards.map((c) => [c.id, [c.status, c.attempt]]))).toEqual({
      L: ["DONE", 0],
      A: ["DONE", 1],
      B: ["DONE", 2],
      "B-CORR-1": ["DONE", 2],
      C: ["AWAITING_HUMAN", 4],
      "C-CORR-1": ["REJECTED", 2],
      "C-CORR-2": ["REJECTED", 3],
      "C-CORR-3": ["REJECTED", 4],
      D: ["TODO", 0],
    });
    expect(doc.cards.find((c) => c.id === "L")!.artifacts).toEqual(["legacy/L.md"]);
    expect(doc.cards.find((c) => c.id === "B-CORR-1")).toMatchObject({ type: "CORRECTION", parent_card: "B" });
    expect(doc.cards.find((c) => c.id === "A")!.cost_tracking).toMatchObject({
      tokens_input: 100,
      tokens_output: 50,
      cost_usd: 0.01,
    });
  });

  it("writes a file that plans again with the squad: DONE cards are kept, the others run", async () => {
    const out = join(dir, "replan.json");
    expect((await cli("export", backlogId, "--out", out)).code).toBe(0);
    const squad = testPlan("squad-only", [{ id: "X" }]).source.squad;
    const plan = planBacklog(await readFile(out, "utf8"), {
      file: out,
      backlogId: `${backlogId}-again`,
      squad: { file: "squad.json", text: JSON.stringify(squad) },
    });
    expect(plan.done.map((d) => d.cardId).sort()).toEqual(["A", "B", "L"]);
    expect(plan.cards.map((c) => c.card.id)).toEqual(["C", "D"]);
  });
});
