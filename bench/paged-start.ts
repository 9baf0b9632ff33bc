/**
 * Where a paged start's time goes: `npx tsx bench/paged-start.ts [cards] [pageCards]` (defaults 600, 200)
 * starts a layered backlog with `startBacklog` on a fresh embedded dev server with instant agents, then
 * prints, for each shard, from its history: when it was started and accepted (ms after the start call),
 * how long its card starts took (first StartChildWorkflowExecutionInitiated → last
 * ChildWorkflowExecutionStarted), and its events and workflow tasks up to then. A diagnostic beside
 * `npm run bench` (which reports the start as one figure), not a test. `PROBE_DB=file` uses a SQLite file (as
 * `npm run bench`) instead of an in-memory one.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@temporalio/client";
import { Worker, bundleWorkflowCode } from "@temporalio/worker";
import proto from "@temporalio/proto";
import { startBacklog, type BacklogQueues } from "../src/cli/backlogs.js";
import { needsPages, planPages, shardWorkflowId } from "../src/domain/index.js";
import { WORKFLOWS_PATH } from "../src/worker.js";
import { metricsSinks } from "../src/observability/metrics.js";
import { startDevServer } from "../src/temporal/dev-server.js";
import { installRuntime } from "../src/temporal/runtime.js";
import { planLayeredBacklog } from "./backlog.js";
import { instantActivities, newActivityClock } from "./instant-activities.js";

type HistoryEvent = NonNullable<proto.temporal.api.history.v1.IHistory["events"]>[number];
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

function eventMs(e: HistoryEvent): number {
  return Number(e.eventTime?.seconds ?? 0) * 1000 + Math.round((e.eventTime?.nanos ?? 0) / 1e6);
}

async function main(): Promise<void> {
  const size = Number(process.argv[2] ?? 600);
  const maxCards = Number(process.argv[3] ?? 200);
  installRuntime("WARN");
  const dir = await mkdtemp(join(tmpdir(), "squadflow-paged-start-"));
  const dbFilename = process.env.PROBE_DB === "file" ? join(dir, "temporal.db") : null;
  const server = await startDevServer({ port: 0, ui: false, reuseExisting: false, dbFilename, logLevel: "error" });
  try {
    const client = new Client({ connection: server.connection, namespace: server.namespace });
    const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quiet as never });
    const clock = newActivityClock();
    const worker = await Worker.create({
      connection: server.nativeConnection,
      namespace: server.namespace,
      taskQueue: "paged-start",
      workflowBundle: { code },
      activities: instantActivities(clock),
      sinks: metricsSinks(),
    });
    const queues: BacklogQueues = {
      orchestration: "paged-start",
      owners: "paged-start",
      validation: "paged-start",
      debugging: "paged-start",
    };
    const backlogId = `paged-${Date.now().toString(36)}`;
    const plan = planLayeredBacklog({ backlogId, size });
    const limits = { maxCards };
    const pages = needsPages(plan.cards, limits) ? planPages(plan.cards, limits).length : 1;
    await worker.runUntil(async () => {
      const t0 = Date.now();
      await startBacklog(client, plan, `${backlogId}.json`, queues, { pages: limits });
      const startMs = Date.now() - t0;
      console.log(
        `${size} cards, ${pages} pages of ≤ ${maxCards}: startBacklog ${startMs} ms (${(startMs / size).toFixed(1)} ms per card)`,
      );
      for (let n = 1; n <= pages; n++) {
        const history = await client.workflow.getHandle(shardWorkflowId(backlogId, n)).fetchHistory();
        const events = history.events ?? [];
        const initiated = events.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes);
        const childStarted = events.filter((e) => e.childWorkflowExecutionStartedEventAttributes);
        const lastStart = childStarted.at(-1);
        const upTo = lastStart ? events.indexOf(lastStart) + 1 : events.length;
        const tasks = events.slice(0, upTo).filter((e) => e.workflowTaskCompletedEventAttributes).length;
        const signaled = events.find((e) => e.workflowExecutionSignaledEventAttributes);
        console.log(
          [
            `shard ${n}: started +${eventMs(events[0]!) - t0} ms`,
            `accepted +${signaled ? eventMs(signaled) - t0 : "?"} ms`,
            `${childStarted.length} cards started in ${lastStart && initiated[0] ? eventMs(lastStart) - eventMs(initiated[0]) : "?"} ms`,
            `(${initiated.length} initiated; ${upTo} events, ${tasks} workflow tasks until then)`,
          ].join(", "),
        );
      }
    });
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
