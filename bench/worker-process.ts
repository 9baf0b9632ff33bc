/**
 * The benchmark's worker, in a process of its own, so that its RSS and CPU are the worker's alone (issue 10:
 * "worker RSS ≤ 500 MB at 1,000 live cards"), not those of the client that starts the cards. bench/case.ts
 * forks it (`node --import tsx bench/worker-process.ts`, an IPC channel) the same way for every variant:
 * one worker on one task queue, workflows and instant activities (bench/instant-activities.ts), connected to
 * the case's Temporal server only through its address and namespace.
 *
 * Messages (Node IPC, {@link WorkerMessage} / {@link CaseMessage}):
 * - worker → case `ready` once the worker is created and polling, then `progress` every
 *   {@link PROGRESS_INTERVAL_MS} while the counters move (owner runs, QA runs, V8 heap used);
 * - case → worker `stop`: the worker shuts down (in-flight tasks drain), sends `stopped` with the instant
 *   activities' whole clock (owner start of every card, worker clock) and exits 0;
 * - a worker that cannot start or whose run fails sends `failed` (the error, with its causes) and exits 1.
 */
import { NativeConnection, Worker } from "@temporalio/worker";
import { DEFAULT_MAX_CACHED_WORKFLOWS } from "../src/worker.js";
import { metricsSinks } from "../src/observability/metrics.js";
import { installRuntime } from "../src/temporal/runtime.js";
import { bareActivities, instantActivities, newActivityClock } from "./instant-activities.js";
import { describeError } from "./measure.js";
import type { Variant } from "./variants.js";

/** How often the worker reports its counters to the case, ms. */
export const PROGRESS_INTERVAL_MS = 250;

/** What the worker process runs (its one command-line argument, as JSON). */
export interface WorkerProcessConfig {
  variant: Variant;
  /** Temporal frontend, `host:port`. */
  address: string;
  namespace: string;
  taskQueue: string;
  /** Absolute path of the variant's prebuilt workflow bundle. */
  bundlePath: string;
  /** Worker `maxCachedWorkflows`. Default: the product's (`DEFAULT_MAX_CACHED_WORKFLOWS`, as `createWorkers`). */
  maxCachedWorkflows?: number;
  /** More `WorkerOptions` (JSON, e.g. `{"workflowTaskPollerBehavior": {"type": "autoscaling"}}`), diagnostics only. */
  workerOptions?: Record<string, unknown>;
}

/** The instant activities' counters as sent over IPC (the owner starts as `[cardId, epoch ms]` pairs). */
export interface ClockSnapshot {
  ownerRuns: number;
  qaRuns: number;
  /** Cards whose owner started at least once. */
  owners: number;
}

/** Messages from the worker process to the case. */
export type WorkerMessage =
  | { type: "ready" }
  | ({ type: "progress"; heapUsed: number } & ClockSnapshot)
  | ({ type: "stopped"; ownerStart: [string, number][] } & ClockSnapshot)
  | { type: "failed"; error: string };

/** Messages from the case to the worker process. */
export type CaseMessage = { type: "stop" };

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(message, undefined, undefined, () => resolve());
  });
}

async function main(): Promise<void> {
  const arg = process.argv[2];
  if (!arg || !process.send) throw new Error("bench/worker-process.ts is forked by bench/case.ts (IPC, config JSON)");
  const config = JSON.parse(arg) as WorkerProcessConfig;
  installRuntime("WARN");
  const clock = newActivityClock();
  const connection = await NativeConnection.connect({ address: config.address });
  const worker = await Worker.create({
    connection,
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    workflowBundle: { codePath: config.bundlePath },
    maxCachedWorkflows: config.maxCachedWorkflows ?? DEFAULT_MAX_CACHED_WORKFLOWS,
    ...(config.variant === "squadflow"
      ? { activities: instantActivities(clock), sinks: metricsSinks() }
      : { activities: bareActivities(clock) }),
    ...config.workerOptions,
  });
  process.on("message", (m: CaseMessage) => {
    if (m.type === "stop" && worker.getState() === "RUNNING") worker.shutdown();
  });
  // The case holds the IPC channel for the whole run: if it goes away, so does this worker.
  process.on("disconnect", () => {
    if (worker.getState() === "RUNNING") worker.shutdown();
  });
  const snapshot = (): ClockSnapshot => ({
    ownerRuns: clock.ownerRuns,
    qaRuns: clock.qaRuns,
    owners: clock.ownerStart.size,
  });
  let lastMark = -1;
  const progress = setInterval(() => {
    const s = snapshot();
    const mark = s.ownerRuns + s.qaRuns;
    if (mark === lastMark) return;
    lastMark = mark;
    void send({ type: "progress", heapUsed: process.memoryUsage().heapUsed, ...s });
  }, PROGRESS_INTERVAL_MS);
  const running = worker.run();
  await send({ type: "ready" });
  try {
    await running;
  } finally {
    clearInterval(progress);
    await connection.close();
  }
  await send({ type: "stopped", ownerStart: [...clock.ownerStart], ...snapshot() });
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    await send({ type: "failed", error: describeError(err) });
    process.stderr.write(`bench worker failed: ${describeError(err)}\n`);
    process.exit(1);
  },
);
