/**
 * One benchmark case, in its own process (so that RSS, the Temporal core runtime and the dev server belong
 * to this case alone): `tsx bench/case.ts <config.json>` runs one size of one variant and writes a
 * {@link CaseResult} as JSON to `config.out`. bench/run.ts starts the cases and prints the tables.
 *
 * - `squadflow`: the real backlog/card workflows (the product's bundle), the instant activities, one
 *   backlog started with `startBacklog` — the product's own path from a planned backlog to running cards
 *   (over 200 cards: the client uploads the backlog page by page).
 * - `bare-dag`: the fair baseline (bench/bare-dag-workflow.ts): the same DAG, one bare workflow per card
 *   started by the client, each waiting for its dependencies' signals and signalling its dependents.
 * - `bare-flat`: the old baseline (bench/bare-workflow.ts): one workflow per card, no dependencies, the same
 *   4 activities in sequence.
 *
 * Every variant runs on a fresh embedded dev server (`startDevServer`, random port, no UI), with one worker
 * serving one task queue (workflows and activities, default worker options) in a process of its own
 * (bench/worker-process.ts, forked the same way for every variant), so that the worker's RSS and CPU are
 * its own and not the client's; this process is the client. Every variant is timed and sampled the same
 * way: the sampler (worker process, client, server) starts with the first start call and stops when the run
 * is over, before the post-run reads (card states, histories). A run ends when every card is
 * done, or on failure, on a stall (no activity progress and no completion for `stallMs`), or at
 * `timeoutMs`; what happened is diagnosed from the histories and reported, never thrown.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readFileSync } from "node:fs";
import { Client, Connection } from "@temporalio/client";
import proto from "@temporalio/proto";
import { readBacklogView, startBacklog, type BacklogQueues } from "../src/cli/backlogs.js";
import { cardWorkflowId, needsPages, planPages, type CardState } from "../src/domain/index.js";
import type { BacklogState } from "../src/workflows/backlog.js";
import { startDevServer } from "../src/temporal/dev-server.js";
import { installRuntime } from "../src/temporal/runtime.js";
import { Cluster } from "../scripts/cluster/cluster.js";
import { benchCardId, layeredBacklog, planLayeredBacklog } from "./backlog.js";
import type { BareDagCardInput, BareDagCardResult } from "./bare-dag-workflow.js";
import type { BareCardResult } from "./bare-workflow.js";
import type { Variant } from "./variants.js";
import type { ActivityClock } from "./instant-activities.js";
import { forkWorker, type ForkedWorker } from "./worker-fork.js";
import {
  RssSampler,
  descendants,
  describeError,
  historySize,
  largest,
  mapPool,
  percentiles,
  procRss,
  spreadSample,
  type HistorySize,
  type Percentiles,
  type RssPeaks,
} from "./measure.js";

const { temporal } = proto;

/**
 * Where a case runs: `dev`, a fresh embedded dev server (SQLite); `cluster`, a fresh Temporal server on a
 * fresh private PostgreSQL, set up by scripts/cluster/cluster.ts as `npm run cluster` sets it up (issue 14).
 */
export type BenchTarget = "dev" | "cluster";

/** What a case runs. */
export interface CaseConfig {
  variant: Variant;
  /** Which Temporal server the case runs on (default `dev`). */
  target?: BenchTarget;
  /** Number of cards. */
  size: number;
  /** Layers of the DAG (squadflow and bare-dag). */
  layers: number;
  /** Absolute path of the workflow bundle of the variant. */
  bundlePath: string;
  /** Where the CaseResult JSON goes. */
  out: string;
  /** Give up after this long, ms (from the start of the backlog / the first start). */
  timeoutMs: number;
  /** Give up when nothing progresses (no activity, no completion) for this long, ms. */
  stallMs: number;
  /** Dev server only. `memory`: in-memory SQLite; `file`: a SQLite file in WAL mode (what `squadflow dev` uses). */
  db: "memory" | "file";
  /** `--dynamic-config-value` arguments for the dev server (diagnostics only; empty by default; dev target only). */
  dynamicConfig: string[];
  /** How many card (or bare) workflow histories to fetch and measure besides the backlog's. */
  historySample: number;
  /** Worker `maxCachedWorkflows` (default: the product's, as `createWorkers`). */
  maxCachedWorkflows?: number;
  /** Node options of the worker process (diagnostics, e.g. `--max-old-space-size=256`); absent: none. */
  workerNodeArgs?: string[];
  /** More worker options (diagnostics; `BENCH_WORKER_OPTIONS`); absent: none. */
  workerOptions?: Record<string, unknown>;
}

/** How a case ended. */
export type CaseStatus = "completed" | "start-failed" | "failed" | "stalled" | "timeout" | "crashed";

/** What a case measured. Times in ms; sizes in bytes. */
export interface CaseResult {
  variant: CaseConfig["variant"];
  size: number;
  status: CaseStatus;
  /** Why it did not complete (the error, with its causes). */
  error?: string;
  /** From the first start call to the backlog's result (bare: the last card's result seen by the client): start + run. */
  wallMs?: number;
  /**
   * The start: how long the client took to start the run (squadflow: `startBacklog`, which for a paged
   * backlog uploads every page and returns once every page's cards have started; bare: starting every card
   * workflow). Cards may already run meanwhile.
   */
  startMs?: number;
  /** The run: from the start's return to the end of the wall time. */
  runMs?: number;
  /** Cards that reached DONE. */
  cardsDone: number;
  /** Cards DONE per second of wall time (until the last card DONE when the run did not complete). */
  cardsPerSec?: number;
  /** Last dependency DONE → dependent's owner start (squadflow and bare-dag). */
  depLatency?: Percentiles;
  /** Owner start (IN_PROGRESS) → DONE, workflow time. */
  cardDuration?: Percentiles;
  /** Largest history measured (backlog and the sampled cards). */
  largestHistory?: HistorySize;
  /** The backlog workflow's history (squadflow only). */
  backlogHistory?: HistorySize;
  /** Largest sampled card (or bare) workflow history. */
  largestCardHistory?: HistorySize;
  /** Histories measured. */
  historiesMeasured: number;
  /** RSS peaks and CPU times during the run (start + run), never during the post-run reads. */
  rss: RssPeaks;
  /** Size of the backlog workflow's input (JSON), squadflow only. */
  inputBytes?: number;
  /** Size of the backlog workflow's result (JSON), when it completed. */
  resultBytes?: number;
  /** What the backlog workflow's history says (event types, workflow tasks, how it closed); squadflow only. */
  diagnosis?: string[];
  /** The backlog workflow's workflow tasks: how many, and how long each took from started to completed. */
  backlogTasks?: WorkflowTaskStats;
  /** Owner runs started and QA runs finished (instant activities' counters). */
  ownerRuns: number;
  qaRuns: number;
}

// ---- helpers ------------------------------------------------------------------------------------

/** What every variant runs with: its settings, a client, the worker process and its task queue. */
interface CaseContext {
  config: CaseConfig;
  client: Client;
  worker: ForkedWorker;
  taskQueue: string;
  /** The Temporal server's processes to sample (default: this process's descendants outside the worker). */
  serverPids?: () => number[];
  /** The database's processes to sample apart (the cluster's PostgreSQL). */
  dbPids?: () => number[];
}

/** A Temporal server a case runs on, fresh for the case. */
interface ServerTarget {
  /** One line for the log. */
  description: string;
  /** Frontend gRPC address, `host:port`. */
  address: string;
  namespace: string;
  connection: Connection;
  serverPids?: () => number[];
  dbPids?: () => number[];
  /** Closes the connection and stops the server (and its database). Never throws. */
  stop(): Promise<void>;
}

/** A fresh embedded dev server (random port, no UI), its SQLite in `dir` unless `config.db` is `memory`. */
async function startDevTarget(config: CaseConfig, dir: string): Promise<ServerTarget> {
  const server = await startDevServer({
    port: 0,
    ui: false,
    reuseExisting: false,
    dbFilename: config.db === "memory" ? null : join(dir, "temporal.db"),
    extraArgs: config.dynamicConfig.flatMap((v) => ["--dynamic-config-value", v]),
    // The server's warnings (e.g. "history count exceeds warn limit", once per workflow task past 10,240
    // events) would drown the progress lines; the histories are measured instead.
    logLevel: "error",
  });
  return {
    description: `dev server ${server.address} (${config.db} db)`,
    address: server.address,
    namespace: server.namespace,
    connection: server.connection,
    stop: () => server.stop(),
  };
}

/** The process ids of a PostgreSQL cluster: its postmaster (first line of `postmaster.pid`) and its children. */
function postgresPids(dataDir: string): number[] {
  try {
    const postmaster = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    return Number.isInteger(postmaster) && postmaster > 0 ? [postmaster, ...descendants(postmaster)] : [];
  } catch {
    return [];
  }
}

/**
 * A fresh Temporal server on a fresh private PostgreSQL in `dir` (scripts/cluster/cluster.ts: the compose
 * file's server version and config, schemas by deploy/temporal/setup-postgres.sh, namespace and search
 * attributes by deploy/temporal/create-namespace.sh), without the cluster's worker fleet: the case forks
 * its own worker, as on the dev server.
 * @throws Error naming the step that failed (the cluster's logs are in `dir`).
 */
async function startClusterTarget(dir: string): Promise<ServerTarget> {
  const cluster = await Cluster.start({ runDir: dir, workers: false });
  try {
    const connection = await Connection.connect({ address: cluster.address });
    return {
      description: `Temporal server ${cluster.server.version} on PostgreSQL, ${cluster.address}`,
      address: cluster.address,
      namespace: cluster.namespace,
      connection,
      serverPids: () => {
        const pid = cluster.server.process?.child.pid;
        return pid === undefined ? [] : [pid, ...descendants(pid)];
      },
      dbPids: () => postgresPids(cluster.postgres.dataDir),
      async stop() {
        await connection.close().catch(() => undefined);
        await cluster.stop();
      },
    };
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

function log(config: CaseConfig, message: string): void {
  process.stderr.write(`[${config.variant} ${config.size}] ${message}\n`);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Awaits `promise` until it settles, nothing progressed for `stallMs`, `deadline`, or the worker process
 * failing (an `error` outcome naming it).
 */
async function watch<T>(
  promise: Promise<T>,
  worker: ForkedWorker,
  config: CaseConfig,
  startedAt: number,
  extraProgress: () => number = () => 0,
): Promise<{ kind: "done"; value: T } | { kind: "error"; error: unknown } | { kind: "stalled" | "timeout" }> {
  let settled: { kind: "done"; value: T } | { kind: "error"; error: unknown } | undefined;
  promise.then(
    (value) => (settled = { kind: "done", value }),
    (error: unknown) => (settled = { kind: "error", error }),
  );
  let lastMark = -1;
  let lastChange = Date.now();
  let lastLog = Date.now();
  const deadline = startedAt + config.timeoutMs;
  const clock = worker.clock;
  while (Date.now() < deadline) {
    if (settled) return settled;
    const failure = worker.failure();
    if (failure) return { kind: "error", error: new Error(failure) };
    const mark = clock.ownerRuns + clock.qaRuns + extraProgress();
    if (mark !== lastMark) {
      lastMark = mark;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > config.stallMs) {
      return { kind: "stalled" };
    }
    if (Date.now() - lastLog >= 10_000) {
      lastLog = Date.now();
      const rss = Math.round((procRss(worker.pid) ?? 0) / 2 ** 20);
      log(
        config,
        `${((Date.now() - startedAt) / 1000).toFixed(0)} s: owner runs ${clock.ownerRuns}/${config.size}, QA done ${clock.qaRuns}, worker RSS ${rss} MiB`,
      );
    }
    await delay(100);
  }
  return settled ?? { kind: "timeout" };
}

/** A workflow's workflow tasks: how many completed, and started → completed / scheduled → started times. */
export interface WorkflowTaskStats {
  count: number;
  /** Started → completed (the worker's time on the task, plus its round trip), ms. */
  processing: Percentiles;
  /** Scheduled → started (waiting for a worker to pick the task up), ms. */
  queueWait: Percentiles;
  /** Sum of started → completed over every task, ms: how long the workflow kept its worker busy. */
  busyMs: number;
  /** Failed and timed-out workflow tasks. */
  failed: number;
  timedOut: number;
}

type HistoryEvent = NonNullable<proto.temporal.api.history.v1.IHistory["events"]>[number];

function eventMs(e: HistoryEvent | undefined): number | undefined {
  const t = e?.eventTime;
  if (!t) return undefined;
  return Number(t.seconds ?? 0) * 1000 + Math.round((t.nanos ?? 0) / 1e6);
}

/** Workflow task statistics of a history. */
export function workflowTaskStats(events: readonly HistoryEvent[]): WorkflowTaskStats {
  const byId = new Map<number, HistoryEvent>();
  for (const e of events) byId.set(Number(e.eventId ?? 0), e);
  const processing: number[] = [];
  const queueWait: number[] = [];
  let failed = 0;
  let timedOut = 0;
  for (const e of events) {
    if (e.workflowTaskFailedEventAttributes) failed++;
    if (e.workflowTaskTimedOutEventAttributes) timedOut++;
    const done = e.workflowTaskCompletedEventAttributes;
    if (!done) continue;
    const started = byId.get(Number(done.startedEventId ?? 0));
    const scheduled = byId.get(Number(started?.workflowTaskStartedEventAttributes?.scheduledEventId ?? 0));
    const [tDone, tStarted, tScheduled] = [eventMs(e), eventMs(started), eventMs(scheduled)];
    if (tDone !== undefined && tStarted !== undefined) processing.push(tDone - tStarted);
    if (tStarted !== undefined && tScheduled !== undefined) queueWait.push(tStarted - tScheduled);
  }
  return {
    count: processing.length,
    processing: percentiles(processing),
    queueWait: percentiles(queueWait),
    busyMs: processing.reduce((a, b) => a + b, 0),
    failed,
    timedOut,
  };
}

/** A short account of a workflow's history: events, bytes, event types, workflow tasks, how it closed. */
async function diagnose(client: Client, workflowId: string): Promise<{ lines: string[]; tasks?: WorkflowTaskStats }> {
  const lines: string[] = [];
  let tasks: WorkflowTaskStats | undefined;
  try {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const events = history.events ?? [];
    const bytes = temporal.api.history.v1.History.encode(history).finish().length;
    const type = (e: HistoryEvent) =>
      (temporal.api.enums.v1.EventType[e.eventType ?? 0] ?? String(e.eventType)).replace("EVENT_TYPE_", "");
    const first = eventMs(events[0]);
    const last = eventMs(events[events.length - 1]);
    lines.push(
      `${workflowId}: ${events.length} events, ${bytes} bytes, ${first !== undefined && last !== undefined ? `${((last - first) / 1000).toFixed(1)} s` : "?"}; ` +
        `last event ${events.length ? type(events[events.length - 1]!) : "none"}`,
    );
    const counts = new Map<string, number>();
    for (const e of events) counts.set(type(e), (counts.get(type(e)) ?? 0) + 1);
    lines.push(
      `  event types: ${[...counts]
        .sort((a, b) => b[1] - a[1])
        .map(([t, n]) => `${t} ${n}`)
        .join(", ")}`,
    );
    tasks = workflowTaskStats(events);
    const msOf = (n: number | undefined) => (n === undefined ? "–" : `${n} ms`);
    lines.push(
      `  workflow tasks: ${tasks.count} completed, started→completed p50 ${msOf(tasks.processing.p50)} / p95 ${msOf(tasks.processing.p95)} ` +
        `(sum ${(tasks.busyMs / 1000).toFixed(1)} s), scheduled→started p50 ${msOf(tasks.queueWait.p50)} / p95 ${msOf(tasks.queueWait.p95)}; ` +
        `${tasks.failed} failed, ${tasks.timedOut} timed out`,
    );
    const failedTasks = events.filter((e) => e.workflowTaskFailedEventAttributes);
    if (failedTasks.length > 0) {
      const lastFailed = failedTasks[failedTasks.length - 1]!.workflowTaskFailedEventAttributes!;
      const cause = temporal.api.enums.v1.WorkflowTaskFailedCause[lastFailed.cause ?? 0];
      lines.push(`  last workflow task failure: cause ${cause}, "${lastFailed.failure?.message ?? ""}"`);
    }
    const end = events[events.length - 1];
    const failedAttrs = end?.workflowExecutionFailedEventAttributes;
    if (failedAttrs) {
      const cause = failedAttrs.failure?.cause?.message;
      lines.push(`  workflow failed: "${failedAttrs.failure?.message ?? ""}"${cause ? ` (cause: ${cause})` : ""}`);
    }
    const terminated = end?.workflowExecutionTerminatedEventAttributes;
    if (terminated)
      lines.push(`  terminated: reason "${terminated.reason ?? ""}", identity "${terminated.identity ?? ""}"`);
    const childFailed = events.filter((e) => e.startChildWorkflowExecutionFailedEventAttributes).length;
    if (childFailed > 0) lines.push(`  child starts that failed: ${childFailed}`);
  } catch (err) {
    lines.push(`${workflowId}: history not readable: ${describeError(err)}`);
  }
  try {
    const d = await client.workflow.getHandle(workflowId).describe();
    lines.push(
      `  describe: status ${d.status.name}, historyLength ${d.historyLength}, historySize ${d.historySize ?? "?"} bytes, pending children ${d.raw.pendingChildren?.length ?? 0}`,
    );
  } catch (err) {
    lines.push(`  describe failed: ${describeError(err)}`);
  }
  return { lines, tasks };
}

/** Milliseconds of an ISO time. */
function ms(iso: string | undefined): number | undefined {
  if (!iso) return undefined;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? undefined : t;
}

/** Card metrics from final card states: DONE times, durations, dependency latencies. */
function cardMetrics(
  states: CardState[],
  clock: ActivityClock,
): { done: number; lastDoneAt?: number; duration: number[]; depLatency: number[] } {
  const doneAt = new Map<string, number>();
  const duration: number[] = [];
  for (const s of states) {
    const done = ms(s.statusHistory.find((h) => h.status === "DONE")?.at);
    if (done === undefined) continue;
    doneAt.set(s.card.id, done);
    const started = ms(s.statusHistory.find((h) => h.status === "IN_PROGRESS")?.at);
    if (started !== undefined) duration.push(done - started);
  }
  const depLatency: number[] = [];
  for (const s of states) {
    if (s.card.dependencies.length === 0) continue;
    const ownerStart = clock.ownerStart.get(s.card.id);
    const deps = s.card.dependencies.map((d) => doneAt.get(d));
    if (ownerStart === undefined || deps.some((d) => d === undefined)) continue;
    depLatency.push(ownerStart - Math.max(...(deps as number[])));
  }
  const lastDoneAt = doneAt.size > 0 ? Math.max(...doneAt.values()) : undefined;
  return { done: doneAt.size, lastDoneAt, duration, depLatency };
}

// ---- the squadflow variant ------------------------------------------------------------------------

async function runSquadflow(bench: CaseContext, result: CaseResult): Promise<void> {
  const { config, client, taskQueue: queue } = bench;
  const clock = bench.worker.clock;
  const queues: BacklogQueues = { orchestration: queue, owners: queue, validation: queue, debugging: queue };
  const backlogId = `bench-${config.size}-${Date.now().toString(36)}`;
  const plan = planLayeredBacklog({ backlogId, size: config.size, layers: config.layers });
  // The largest single workflow input: the backlog's, or a shard's page when the backlog is paged.
  const header = {
    backlogId: plan.backlogId,
    done: plan.done,
    queues: { owners: queue, validation: queue, debugging: queue },
    source: { file: `${backlogId}.json`, metadata: plan.source.metadata, legacyCards: [] },
  };
  result.inputBytes = needsPages(plan.cards)
    ? Math.max(
        ...planPages(plan.cards).map((page) =>
          Buffer.byteLength(JSON.stringify({ backlogId, page, queues: header.queues })),
        ),
      )
    : Buffer.byteLength(JSON.stringify({ ...header, cards: plan.cards }));
  log(
    config,
    `backlog ${backlogId}: ${plan.cards.length} cards, input ${(result.inputBytes / 2 ** 20).toFixed(2)} MiB`,
  );

  let finishedAt: number | undefined;
  const started = await startAndWatch(
    bench,
    result,
    () => startBacklog(client, plan, `${backlogId}.json`, queues),
    () =>
      client.workflow
        .getHandle(backlogId)
        .result()
        .then((value) => {
          finishedAt = Date.now();
          return value;
        }),
  );
  if (!started) return;
  const { outcome, startedAt } = started;
  let states: CardState[] = [];
  if (outcome.kind === "done") {
    result.status = "completed";
    result.wallMs = finishedAt! - startedAt;
    result.resultBytes = Buffer.byteLength(JSON.stringify(outcome.value));
    const view = await readBacklogView(client, backlogId);
    states = view.cards.flatMap((c) => (c.state ? [c.state] : []));
  } else {
    result.status = outcome.kind === "error" ? "failed" : outcome.kind;
    if (outcome.kind === "error") result.error = describeError(outcome.error);
    else
      result.error =
        outcome.kind === "stalled"
          ? `no progress for ${config.stallMs / 1000} s`
          : `not done after ${config.timeoutMs / 1000} s`;
    log(config, `did not complete (${result.status}): ${result.error}`);
    // Read what the cards that did finish say (closed card workflows keep their result).
    states = await closedCardStates(client, backlogId);
  }
  const m = cardMetrics(states, clock);
  result.cardsDone = m.done;
  if (result.wallMs === undefined && m.lastDoneAt !== undefined) result.wallMs = m.lastDoneAt - startedAt;
  if (result.wallMs) result.cardsPerSec = m.done / (result.wallMs / 1000);
  if (result.wallMs !== undefined && result.startMs !== undefined) result.runMs = result.wallMs - result.startMs;
  result.cardDuration = percentiles(m.duration);
  result.depLatency = percentiles(m.depLatency);

  const diagnosis = await diagnose(client, backlogId);
  result.diagnosis = diagnosis.lines;
  result.backlogTasks = diagnosis.tasks;

  // Histories: the backlog's and a sample of cards'.
  const sample = spreadSample(config.size, config.historySample).map((i) => cardWorkflowId(backlogId, benchCardId(i)));
  const cards = (await mapPool(sample, 8, (id) => historySize(client, id).catch(() => undefined))).filter(
    (h): h is HistorySize => !!h,
  );
  // The backlog's history, and every shard's when it is paged (the largest of them is reported).
  const shardIds =
    outcome.kind === "done" ? ((outcome.value as BacklogState).shards ?? []).map((s) => s.workflowId) : [];
  const coordinators = (
    await mapPool([backlogId, ...shardIds], 8, (id) => historySize(client, id).catch(() => undefined))
  ).filter((h): h is HistorySize => !!h);
  const backlog = largest(coordinators);
  result.backlogHistory = backlog;
  result.largestCardHistory = largest(cards);
  result.largestHistory = largest([...cards, ...coordinators]);
  result.historiesMeasured = cards.length + coordinators.length;
}

/** Final states of the closed card workflows of a backlog (via visibility, then each one's result). */
async function closedCardStates(client: Client, backlogId: string): Promise<CardState[]> {
  const ids: string[] = [];
  try {
    const query = `WorkflowType="cardWorkflow" AND BacklogId="${backlogId}" AND ExecutionStatus="Completed"`;
    for await (const wf of client.workflow.list({ query })) {
      ids.push(wf.workflowId);
      if (ids.length >= 100_000) break;
    }
  } catch {
    return [];
  }
  const outcomes = await mapPool(ids, 32, async (id) => {
    try {
      const outcome = (await client.workflow.getHandle(id).result()) as { state?: CardState };
      return outcome.state;
    } catch {
      return undefined;
    }
  });
  return outcomes.filter((s): s is CardState => !!s);
}

// ---- the bare-flat variant (the old baseline) -----------------------------------------------------

/** What `watch` reports. */
type Watched<T> = Awaited<ReturnType<typeof watch<T>>>;

/**
 * Runs a variant on the worker process, RSS sampled from the first start call to the end of the run:
 * `start` is timed into `result.startMs`, then `run` is watched (see `watch`); then the worker is stopped,
 * so that its clock holds every owner start. A start that throws is recorded on `result` (status
 * `start-failed`, logged) and gives `undefined`.
 * @returns the watched outcome and when the start began (epoch ms)
 */
async function startAndWatch<T>(
  bench: CaseContext,
  result: CaseResult,
  start: () => Promise<unknown>,
  run: () => Promise<T>,
  progress?: () => number,
): Promise<{ outcome: Watched<T>; startedAt: number } | undefined> {
  const { worker, config } = bench;
  const outcome = await (async () => {
    worker.resetHeapPeak();
    const sampler = new RssSampler({
      workerPid: worker.pid,
      workerHeapPeak: worker.heapPeak,
      ...(bench.serverPids ? { serverPids: bench.serverPids } : {}),
      ...(bench.dbPids ? { dbPids: bench.dbPids } : {}),
    });
    const startedAt = Date.now();
    try {
      await start();
    } catch (err) {
      result.rss = sampler.stop();
      return { kind: "start-failed" as const, error: err };
    }
    result.startMs = Date.now() - startedAt;
    const watched = await watch(run(), worker, config, startedAt, progress);
    result.rss = sampler.stop();
    return { watched, startedAt };
  })();
  await worker.stop();
  if ("kind" in outcome) {
    result.status = "start-failed";
    result.error = describeError(outcome.error);
    log(config, `start failed: ${result.error}`);
    return undefined;
  }
  return { outcome: outcome.watched, startedAt: outcome.startedAt };
}

async function runBareFlat(bench: CaseContext, result: CaseResult): Promise<void> {
  const { config, client, taskQueue: queue } = bench;
  const runId = `flat-${config.size}-${Date.now().toString(36)}`;
  const ids = Array.from({ length: config.size }, (_, i) => `${runId}/${benchCardId(i)}`);
  let finishedAt: number | undefined;
  let resultsIn = 0;
  const started = await startAndWatch(
    bench,
    result,
    () =>
      mapPool(ids, 64, (id, i) =>
        client.workflow.start("bareCardWorkflow", { taskQueue: queue, workflowId: id, args: [benchCardId(i)] }),
      ),
    async () => {
      const results = await mapPool(ids, 128, async (id) => {
        const r = (await client.workflow.getHandle(id).result()) as BareCardResult;
        resultsIn++;
        return r;
      });
      finishedAt = Date.now();
      return results;
    },
    () => resultsIn,
  );
  if (!started) return;
  const { outcome, startedAt } = started;
  if (outcome.kind === "done") {
    result.status = "completed";
    result.wallMs = finishedAt! - startedAt;
    result.cardsDone = outcome.value.length;
    result.cardsPerSec = result.cardsDone / (result.wallMs / 1000);
    if (result.startMs !== undefined) result.runMs = result.wallMs - result.startMs;
    result.cardDuration = percentiles(outcome.value.map((r) => r.finishedAt - r.startedAt));
  } else {
    result.status = outcome.kind === "error" ? "failed" : outcome.kind;
    result.error =
      outcome.kind === "error" ? describeError(outcome.error) : `${outcome.kind} after ${resultsIn} results`;
    result.cardsDone = resultsIn;
  }
  await measureBareHistories(config, client, ids, result);
}

async function measureBareHistories(
  config: CaseConfig,
  client: Client,
  ids: string[],
  result: CaseResult,
): Promise<void> {
  const sample = spreadSample(config.size, config.historySample).map((i) => ids[i]!);
  const cards = (await mapPool(sample, 8, (id) => historySize(client, id).catch(() => undefined))).filter(
    (h): h is HistorySize => !!h,
  );
  result.largestCardHistory = largest(cards);
  result.largestHistory = result.largestCardHistory;
  result.historiesMeasured = cards.length;
}

// ---- the bare-dag variant (the fair baseline) -----------------------------------------------------

/**
 * The bare-DAG inputs of the benchmark's layered backlog (the same cards and dependencies as squadflow's),
 * in start order: every card with dependencies first, then the cards without, so that no card can finish
 * (and signal its dependents) before every dependent workflow exists.
 */
export function bareDagInputs(
  runId: string,
  size: number,
  layers: number,
): { workflowId: string; input: BareDagCardInput }[] {
  const cards = layeredBacklog({ backlogId: runId, size, layers }).cards as { id: string; dependencies: string[] }[];
  const workflowId = (cardId: string) => `${runId}/${cardId}`;
  const dependents = new Map<string, string[]>();
  for (const c of cards)
    for (const d of c.dependencies) dependents.set(d, [...(dependents.get(d) ?? []), workflowId(c.id)]);
  const inputs = cards.map((c) => ({
    workflowId: workflowId(c.id),
    input: { cardId: c.id, dependencies: c.dependencies.map(workflowId), dependents: dependents.get(c.id) ?? [] },
  }));
  return [
    ...inputs.filter((c) => c.input.dependencies.length > 0),
    ...inputs.filter((c) => c.input.dependencies.length === 0),
  ];
}

async function runBareDag(bench: CaseContext, result: CaseResult): Promise<void> {
  const { config, client, taskQueue: queue } = bench;
  const clock = bench.worker.clock;
  const runId = `dag-${config.size}-${Date.now().toString(36)}`;
  const cards = bareDagInputs(runId, config.size, config.layers);
  const waiting = cards.filter((c) => c.input.dependencies.length > 0);
  const sources = cards.filter((c) => c.input.dependencies.length === 0);
  // Every card is an ancestor of a card nobody depends on: when these are done, all are.
  const sinks = cards.filter((c) => c.input.dependents.length === 0);
  const start = (c: (typeof cards)[number]) =>
    client.workflow.start("bareDagCardWorkflow", { taskQueue: queue, workflowId: c.workflowId, args: [c.input] });
  let finishedAt: number | undefined;
  let sinksIn = 0;
  const started = await startAndWatch(
    bench,
    result,
    async () => {
      await mapPool(waiting, 64, start);
      await mapPool(sources, 64, start);
    },
    () =>
      mapPool(sinks, 128, async (c) => {
        await client.workflow.getHandle(c.workflowId).result();
        sinksIn++;
      }).then(() => {
        finishedAt = Date.now();
      }),
    () => sinksIn,
  );
  if (!started) return;
  const { outcome, startedAt } = started;
  if (outcome.kind === "done") {
    result.status = "completed";
    result.wallMs = finishedAt! - startedAt;
  } else {
    result.status = outcome.kind === "error" ? "failed" : outcome.kind;
    result.error =
      outcome.kind === "error"
        ? describeError(outcome.error)
        : `${outcome.kind} after ${sinksIn}/${sinks.length} last cards`;
  }
  // After the run: every closed card's result (the DONE times), for the same measures as squadflow's.
  const results = (
    await mapPool(cards, 32, async (c) => {
      try {
        // result() would wait for a card still running: look first unless the run completed.
        if (
          outcome.kind !== "done" &&
          (await client.workflow.getHandle(c.workflowId).describe()).status.name !== "COMPLETED"
        )
          return undefined;
        return (await client.workflow.getHandle(c.workflowId).result()) as BareDagCardResult;
      } catch {
        return undefined;
      }
    })
  ).filter((r): r is BareDagCardResult => !!r);
  const doneAt = new Map(results.map((r) => [r.cardId, r.doneAt]));
  const depLatency: number[] = [];
  for (const c of cards) {
    if (c.input.dependencies.length === 0) continue;
    const ownerStart = clock.ownerStart.get(c.input.cardId);
    const deps = c.input.dependencies.map((id) => doneAt.get(id.slice(runId.length + 1)));
    if (ownerStart === undefined || deps.some((d) => d === undefined)) continue;
    depLatency.push(ownerStart - Math.max(...(deps as number[])));
  }
  result.cardsDone = results.length;
  if (result.wallMs === undefined && results.length > 0)
    result.wallMs = Math.max(...results.map((r) => r.doneAt)) - startedAt;
  if (result.wallMs) result.cardsPerSec = result.cardsDone / (result.wallMs / 1000);
  if (result.wallMs !== undefined && result.startMs !== undefined) result.runMs = result.wallMs - result.startMs;
  result.cardDuration = percentiles(results.map((r) => r.doneAt - r.startedAt));
  result.depLatency = percentiles(depLatency);
  await measureBareHistories(
    config,
    client,
    cards.map((c) => c.workflowId),
    result,
  );
}

// ---- main ----------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const configPath = process.argv[2];
  if (!configPath) throw new Error("usage: tsx bench/case.ts <config.json>");
  const config = JSON.parse(await readFile(configPath, "utf8")) as CaseConfig;
  installRuntime("WARN");
  const dir = await mkdtemp(join(tmpdir(), "squadflow-bench-"));
  const result: CaseResult = {
    variant: config.variant,
    size: config.size,
    status: "crashed",
    cardsDone: 0,
    historiesMeasured: 0,
    rss: { worker: 0, server: 0, heapUsed: 0 },
    ownerRuns: 0,
    qaRuns: 0,
  };
  const server = config.target === "cluster" ? await startClusterTarget(dir) : await startDevTarget(config, dir);
  let worker: ForkedWorker | undefined;
  // Past its hard limit bench/run.ts sends SIGTERM before SIGKILL: stop what lives outside this process
  // group (the cluster target's PostgreSQL and server) and the temp folder, then exit.
  process.once("SIGTERM", () => {
    log(config, "SIGTERM: stopping the worker and the server");
    void (async () => {
      await worker?.stop().catch(() => undefined);
      await server.stop().catch(() => undefined);
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      process.exit(143);
    })();
  });
  try {
    const client = new Client({ connection: server.connection, namespace: server.namespace });
    const taskQueue = `bench-${config.variant}-${config.size}`;
    worker = await forkWorker(
      {
        variant: config.variant,
        address: server.address,
        namespace: server.namespace,
        taskQueue,
        bundlePath: config.bundlePath,
        ...(config.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: config.maxCachedWorkflows } : {}),
        ...(config.workerOptions ? { workerOptions: config.workerOptions } : {}),
      },
      config.workerNodeArgs ?? [],
    );
    log(config, `${server.description}, worker process ${worker.pid} on ${taskQueue}`);
    const bench: CaseContext = {
      config,
      client,
      worker,
      taskQueue,
      ...(server.serverPids ? { serverPids: server.serverPids } : {}),
      ...(server.dbPids ? { dbPids: server.dbPids } : {}),
    };
    if (config.variant === "squadflow") await runSquadflow(bench, result);
    else if (config.variant === "bare-dag") await runBareDag(bench, result);
    else await runBareFlat(bench, result);
  } catch (err) {
    result.status = "crashed";
    result.error = describeError(err);
  } finally {
    await worker?.stop();
    result.ownerRuns = worker?.clock.ownerRuns ?? 0;
    result.qaRuns = worker?.clock.qaRuns ?? 0;
    await writeFile(config.out, JSON.stringify(result, null, 2));
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
  log(config, `${result.status}${result.wallMs !== undefined ? ` in ${(result.wallMs / 1000).toFixed(1)} s` : ""}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench case failed: ${describeError(err)}\n`);
    process.exit(1);
  },
);
