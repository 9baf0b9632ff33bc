/**
 * A card's lifecycle as ops see it, on the run's dev server with a real worker (owner and validators
 * scripted): the Prometheus counters fed by the workflow sinks — every card counted once per final status
 * (DONE, CANCELLED, FAILED), REJECTED / BLOCKED rests apart — and one structured JSON log line per status
 * change and audit entry, formatted by the worker's own JSON logger.
 */
// First: installs the JSON logger before test/helpers/temporal.ts installs its own.
import { jsonLogLines } from "./json-log-capture.js";
import {
  WorkflowNotFoundError,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from "@temporalio/client";
import type { Worker } from "@temporalio/worker";
import { beforeAll, describe, expect, it } from "vitest";
import type { CardOutcome, CardState } from "../../src/domain/index.js";
import { SquadflowMetrics, metricsSinks } from "../../src/observability/metrics.js";
import { backlogStateQuery } from "../../src/workflows/backlog.js";
import { cardStateQuery, cardWorkflow, humanReviewUpdate, retryCardUpdate } from "../../src/workflows/card.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import {
  fakeActivities,
  startBacklogWorkflow,
  testPlan,
  uniqueBacklogId,
  type CardScript,
  type TestCard,
} from "../workflows/fakes.js";
import { until } from "./helpers.js";

/** A worker on a fresh task queue whose workflow sinks fill `metrics` (a registry of this test only). */
async function workerWithMetrics(prefix: string, scripts: Record<string, CardScript>) {
  const metrics = new SquadflowMetrics();
  const taskQueue = uniqueTaskQueue(prefix);
  const worker = await createTestWorker({
    taskQueue,
    activities: fakeActivities(scripts).activities,
    workerOptions: { sinks: metricsSinks(metrics) },
  });
  const queues = { owners: taskQueue, validation: taskQueue, debugging: taskQueue };
  return { metrics, taskQueue, worker, queues };
}

/** Starts one card workflow of a fresh backlog (not as a child: no backlog). */
async function startCard(
  taskQueue: string,
  queues: { owners: string; validation: string; debugging: string },
  cards: TestCard[],
  cardId: string,
) {
  const { client } = await testEnv();
  const backlogId = uniqueBacklogId("obs");
  const plan = testPlan(backlogId, cards).cards.find((c) => c.card.id === cardId)!;
  const handle = await client.workflow.start(cardWorkflow, {
    taskQueue,
    workflowId: `${backlogId}/${cardId}`,
    args: [{ plan, queues }],
  });
  return { backlogId, handle };
}

async function status(handle: WorkflowHandle, wanted: string): Promise<CardState> {
  return until(`status ${wanted}`, async () => {
    const state: CardState = await handle.query(cardStateQuery);
    return state.status === wanted ? state : undefined;
  });
}

/** The samples of one metric in Prometheus text, e.g. `{ 'status="DONE",card_type="DOC"': 1 }`. */
async function samples(metrics: SquadflowMetrics, name: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const line of (await metrics.registry.metrics()).split("\n")) {
    const m = new RegExp(`^${name}(?:\\{(.*)\\})? (\\S+)$`).exec(line);
    if (m) out[m[1] ?? ""] = Number(m[2]);
  }
  return out;
}

describe("a card rejected by a human, then retried to DONE", () => {
  let metrics: SquadflowMetrics;
  let worker: Worker;
  let backlogId: string;
  let handle: WorkflowHandleWithFirstExecutionRunId<typeof cardWorkflow>;
  let outcome: CardOutcome;

  beforeAll(async () => {
    // QA fails on attempts 1–4 (escalation after the 3rd correction), passes on the retried attempt 5.
    const w = await workerWithMetrics("obs-retry", { C1: { qa: [["x"], ["x"], ["x"], ["x"], "pass"] } });
    ({ metrics, worker } = w);
    ({ backlogId, handle } = await startCard(w.taskQueue, w.queues, [{ id: "C1" }], "C1"));
    outcome = await worker.runUntil(async () => {
      await status(handle, "AWAITING_HUMAN");
      await handle.executeUpdate(humanReviewUpdate, {
        args: [{ decision: "reject", reviewer: "bo", reason: "wrong approach" }],
      });
      await status(handle, "REJECTED");
      await handle.executeUpdate(retryCardUpdate, { args: [{ reviewer: "bo", reason: "spec fixed" }] });
      return handle.result();
    });
    expect(outcome.status).toBe("DONE");
  });

  it("counts it once, as DONE, with its attempts — and its REJECTED rest apart, not as final", async () => {
    expect(await samples(metrics, "squadflow_cards_finished_total")).toEqual({ 'status="DONE",card_type="DOC"': 1 });
    expect(await samples(metrics, "squadflow_card_rests_total")).toEqual({ 'status="REJECTED",card_type="DOC"': 1 });
    expect(await samples(metrics, "squadflow_card_attempts_count")).toEqual({ "": 1 });
    expect(await samples(metrics, "squadflow_card_attempts_sum")).toEqual({ "": 5 });
  });

  it("logs one JSON line per status change and per audit entry, with backlogId, cardId, attempt and status", () => {
    const lines = jsonLogLines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.workflowId === `${backlogId}/C1`);
    const context = {
      level: "INFO",
      service: "squadflow",
      workflowType: "cardWorkflow",
      runId: handle.firstExecutionRunId,
      backlogId,
      cardId: "C1",
    };

    const changes = lines.filter((l) => l.message === "Card status changed");
    // Every status change of the card's history (after the initial TODO), in order, each once.
    expect(changes.map((l) => l.status)).toEqual(outcome.state!.statusHistory.slice(1).map((s) => s.status));
    for (const l of changes) {
      expect(l).toMatchObject({
        ...context,
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        attempt: expect.any(Number),
        from: expect.any(String),
      });
    }
    expect(changes.find((l) => l.status === "VALIDATING")).toMatchObject({ attempt: 1, from: "IN_PROGRESS" });
    expect(changes.find((l) => l.status === "AWAITING_HUMAN")).toMatchObject({ attempt: 4, from: "ESCALATED" });
    expect(changes[changes.length - 1]).toMatchObject({ status: "DONE", attempt: 5, from: "APPROVED" });

    const audits = lines.filter((l) => l.message === "Card audit entry");
    expect(audits.map((l) => [l.actor, l.action])).toEqual([
      ["squadflow", "escalated"],
      ["bo", "reject"],
      ["bo", "retry"],
    ]);
    expect(audits[1]).toMatchObject({ ...context, attempt: 4, status: "AWAITING_HUMAN", reason: "wrong approach" });
    expect(audits[2]).toMatchObject({ ...context, attempt: 4, status: "REJECTED", reason: "spec fixed" });
  });
});

describe("cards that do not end DONE", () => {
  it("counts a cancelled card once, as CANCELLED", async () => {
    const { metrics, taskQueue, queues, worker } = await workerWithMetrics("obs-cancel", {});
    // B waits as TODO for A, which never runs here.
    const { handle } = await startCard(taskQueue, queues, [{ id: "A" }, { id: "B", dependencies: ["A"] }], "B");
    await worker.runUntil(async () => {
      await status(handle, "TODO");
      await handle.cancel();
      await expect(handle.result()).rejects.toThrow();
      expect((await handle.query(cardStateQuery)).status).toBe("CANCELLED");
    });
    expect(await samples(metrics, "squadflow_cards_finished_total")).toEqual({
      'status="CANCELLED",card_type="DOC"': 1,
    });
    expect(await samples(metrics, "squadflow_card_rests_total")).toEqual({});
  });

  it("counts a card workflow of a backlog that was terminated once, as FAILED (reported by the backlog)", async () => {
    const { metrics, taskQueue, queues, worker } = await workerWithMetrics("obs-failed", { E: { qa: [["x"]] } });
    const { client } = await testEnv();
    const backlogId = uniqueBacklogId("obs");
    const plan = testPlan(backlogId, [{ id: "E" }]);
    const backlog = await startBacklogWorkflow(client, taskQueue, plan);
    await worker.runUntil(async () => {
      const card = client.workflow.getHandle(`${backlogId}/E`);
      await until("card E awaiting a human", async () =>
        (await card.query<CardState>(cardStateQuery)).status === "AWAITING_HUMAN" ? true : undefined,
      );
      await card.terminate("operator pulled the plug");
      await until("the backlog to record E as FAILED", async () =>
        (await backlog.query(backlogStateQuery)).cards.find((c) => c.cardId === "E")?.outcome?.status === "FAILED"
          ? true
          : undefined,
      );
      // Whether the backlog ended with its only card or keeps E at rest for an ops decision, it is done here.
      await backlog.terminate("test done").catch((err: unknown) => {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
      });
    });
    expect(await samples(metrics, "squadflow_cards_finished_total")).toEqual({ 'status="FAILED",card_type="DOC"': 1 });
    // Unknown for a card that did not say how it ended: not in the per-card histograms.
    expect(await samples(metrics, "squadflow_card_attempts_count")).toEqual({ "": 0 });
  });
});
