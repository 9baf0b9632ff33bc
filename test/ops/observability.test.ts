/**
 * Observability in-process: the JSON log format, the card context of activity log lines, the Prometheus
 * metrics the activity interceptor fills while a real card runs (scripted activities, real worker), the
 * workflow sink, and the metrics HTTP endpoint.
 */
import { describe, expect, it } from "vitest";
import type { LogEntry } from "@temporalio/worker";
import {
  activityLogAttributes,
  cardContextFromArgs,
  cardContextFromWorkflowId,
  formatJsonLogEntry,
} from "../../src/observability/logging.js";
import { squadflowActivityInterceptors } from "../../src/observability/interceptors.js";
import { SquadflowMetrics, metricsSinks, startMetricsServer } from "../../src/observability/metrics.js";
import { RuntimeConfigError, runtimeSetupFromEnv } from "../../src/temporal/runtime.js";
import { cardWorkflow } from "../../src/workflows/card.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import { fakeActivities, testPlan, uniqueBacklogId } from "../workflows/fakes.js";

const entry = (meta: Record<string, unknown>, message = "Activity completed"): LogEntry => ({
  level: "INFO",
  message,
  timestampNanos: BigInt(Date.parse("2025-01-01T12:00:00.000Z")) * 1_000_000n,
  meta,
});

describe("JSON log lines", () => {
  it("are one JSON object with time, level, message and the card/workflow fields", () => {
    const line = formatJsonLogEntry(
      entry(
        activityLogAttributes(
          {
            attempt: 2,
            workflowId: "shop/BE-002",
            workflowRunId: "run-1",
            activityType: "runQa",
            taskQueue: "squadflow-validation",
            namespace: "default",
          },
          { backlogId: "shop", cardId: "BE-002", attempt: 3 },
        ),
      ),
    );
    expect(line).not.toContain("\n");
    expect(JSON.parse(line)).toEqual({
      time: "2025-01-01T12:00:00.000Z",
      level: "INFO",
      message: "Activity completed",
      service: "squadflow",
      backlogId: "shop",
      cardId: "BE-002",
      attempt: 3,
      activityAttempt: 2,
      workflowId: "shop/BE-002",
      runId: "run-1",
      activityType: "runQa",
      taskQueue: "squadflow-validation",
      namespace: "default",
    });
  });

  it("derive backlog and card of workflow log lines from the workflow ID, and serialise errors and bigints", () => {
    const card = JSON.parse(
      formatJsonLogEntry(
        entry({
          workflowId: "shop/ARQ-001-CORR-2",
          runId: "r",
          workflowType: "correctionWorkflow",
          n: 5n,
          error: new Error("boom"),
        }),
      ),
    );
    expect(card).toMatchObject({
      backlogId: "shop",
      cardId: "ARQ-001",
      runId: "r",
      n: "5",
      error: { name: "Error", message: "boom" },
    });
    const backlog = JSON.parse(formatJsonLogEntry(entry({ workflowId: "shop", workflowType: "backlogWorkflow" })));
    expect(backlog.backlogId).toBe("shop");
    expect(backlog.cardId).toBeUndefined();
  });
});

describe("card context of activity inputs", () => {
  it("is read from every activity input shape", () => {
    const card = { id: "C1", type: "DOC" };
    expect(cardContextFromArgs([{ backlogId: "b", card, attempt: 2, workspace: "b/C1/attempt-2" }])).toEqual({
      backlogId: "b",
      cardId: "C1",
      attempt: 2,
    });
    expect(cardContextFromArgs([{ workspace: "b/C1/attempt-3", artifacts: [] }])).toEqual({
      backlogId: "b",
      cardId: "C1",
      attempt: 3,
    });
    expect(
      cardContextFromArgs([
        {
          card,
          history: [
            { attempt: 1, workspace: "b/C1/attempt-1" },
            { attempt: 2, workspace: "b/C1/attempt-2" },
          ],
        },
      ]),
    ).toEqual({
      backlogId: "b",
      cardId: "C1",
      attempt: 2,
    });
    expect(
      cardContextFromArgs([{ event: { event: "card.escalated", backlogId: "b", cardId: "C1", attempt: 4 } }]),
    ).toEqual({ backlogId: "b", cardId: "C1", attempt: 4 });
    expect(cardContextFromArgs(["x"])).toEqual({});
    expect(cardContextFromWorkflowId("b/C1-CORR-1")).toEqual({ backlogId: "b", cardId: "C1" });
  });
});

describe("Prometheus metrics", () => {
  it("count attempts, verdicts and owner cost from a real card run through the activity interceptor", async () => {
    const metrics = new SquadflowMetrics();
    const taskQueue = uniqueTaskQueue("ops-metrics");
    const fake = fakeActivities({ C1: { judge: [['criterion "has intro" not met'], "pass"] } });
    const worker = await createTestWorker({
      taskQueue,
      activities: fake.activities,
      workerOptions: { interceptors: { activity: [squadflowActivityInterceptors(metrics)] } },
    });
    const backlogId = uniqueBacklogId("ops-metrics");
    const plan = testPlan(backlogId, [{ id: "C1" }]).cards[0]!;
    const { client } = await testEnv();
    const outcome = await worker.runUntil(
      client.workflow.execute(cardWorkflow, {
        taskQueue,
        workflowId: `${backlogId}/C1`,
        args: [{ plan, queues: { owners: taskQueue, validation: taskQueue, debugging: taskQueue } }],
      }),
    );
    expect(outcome.status).toBe("DONE");
    const text = await metrics.registry.metrics();
    expect(text).toContain('squadflow_attempts_total{card_type="DOC"} 2');
    expect(text).toContain('squadflow_validator_verdicts_total{validator="llm_judge",passed="false"} 1');
    expect(text).toContain('squadflow_validator_verdicts_total{validator="llm_judge",passed="true"} 1');
    expect(text).toContain('squadflow_validator_verdicts_total{validator="verification",passed="true"} 2');
    expect(text).toContain('squadflow_cost_usd_total{card_type="DOC"} 0.02');
    expect(text).toContain('squadflow_tokens_total{kind="input"} 200');
    expect(text).toContain('squadflow_activity_executions_total{activity="runOwner",outcome="ok"} 2');
    expect(text).toMatch(/squadflow_judge_score_count 2/);
  });

  it("count finished cards and rests through the workflow sinks (not during replay)", async () => {
    const metrics = new SquadflowMetrics();
    const sinks = metricsSinks(metrics).squadflowMetrics;
    expect(sinks.cardFinished.callDuringReplay).toBe(false);
    expect(sinks.cardRested.callDuringReplay).toBe(false);
    sinks.cardFinished.fn({} as never, { status: "DONE", cardType: "BACKEND", attempts: 2, costUsd: 0.04 });
    sinks.cardFinished.fn({} as never, { status: "FAILED" });
    sinks.cardRested.fn({} as never, { status: "REJECTED", cardType: "BACKEND" });
    const text = await metrics.registry.metrics();
    expect(text).toContain('squadflow_cards_finished_total{status="DONE",card_type="BACKEND"} 1');
    expect(text).toContain('squadflow_cards_finished_total{status="FAILED",card_type="unknown"} 1');
    expect(text).toContain('squadflow_card_rests_total{status="REJECTED",card_type="BACKEND"} 1');
    expect(text).not.toMatch(/squadflow_cards_finished_total\{status="REJECTED"/);
    // A FAILED card seen by the backlog has no attempts or cost: only the DONE card is in the histograms.
    expect(text).toContain("squadflow_card_attempts_sum 2");
    expect(text).toContain("squadflow_card_attempts_count 1");
  });

  it("are served at /metrics", async () => {
    const metrics = new SquadflowMetrics();
    metrics.notification({ event: "card.escalated", format: "slack", outcome: "ok" });
    const server = await startMetricsServer({ port: 0, host: "127.0.0.1", metrics });
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/plain");
      const text = await res.text();
      expect(text).toContain('squadflow_notifications_total{event="card.escalated",format="slack",outcome="ok"} 1');
      expect(text).toContain("squadflow_process_cpu_user_seconds_total");
      expect((await fetch(`http://127.0.0.1:${server.port}/nope`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});

describe("runtime settings from the environment", () => {
  it("reads level, format and metrics port, and names a bad variable", () => {
    expect(
      runtimeSetupFromEnv({
        SQUADFLOW_LOG_LEVEL: "info",
        SQUADFLOW_LOG_FORMAT: "JSON",
        SQUADFLOW_METRICS_PORT: "9464",
      }),
    ).toEqual({ level: "INFO", format: "json", metricsPort: 9464 });
    expect(runtimeSetupFromEnv({ SQUADFLOW_METRICS_PORT: " " })).toEqual({});
    expect(() => runtimeSetupFromEnv({ SQUADFLOW_METRICS_PORT: "65535" })).toThrow(RuntimeConfigError);
    expect(() => runtimeSetupFromEnv({ SQUADFLOW_LOG_FORMAT: "xml" })).toThrow(/SQUADFLOW_LOG_FORMAT/);
  });
});
