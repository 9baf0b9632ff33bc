/**
 * Where a paged start's time goes: `npx tsx bench/paged-start.ts [cards] [pageCards] [--run] [--bare]`
 * (defaults 600, 200) starts a layered backlog with `startBacklog` on a fresh embedded dev server with
 * instant agents, then prints, for each shard, from its history: when it was started and accepted (ms after
 * the start call), how long its card starts took (first StartChildWorkflowExecutionInitiated → last
 * ChildWorkflowExecutionStarted), and its events and workflow tasks up to then.
 *
 * `--run` also waits for the backlog's result and prints what the run wrote: events by type per card
 * workflow (a sample of cards, averaged), per shard and for the backlog. `--bare` runs the benchmark's bare
 * DAG (bench/bare-dag-workflow.ts, started as bench/case.ts starts it) instead, with the same breakdown of
 * its card workflows: the two side by side say which writes squadflow adds per card.
 *
 * Both print the CPU time (user + system) the worker process and the dev server spent during the start and
 * the whole run: less dependent on the machine's load than wall time.
 *
 * A diagnostic beside `npm run bench` (which reports the start as one figure), not a test. `PROBE_DB=file`
 * uses a SQLite file (as `npm run bench`) instead of an in-memory one.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@temporalio/client";
import { Worker, bundleWorkflowCode } from "@temporalio/worker";
import proto from "@temporalio/proto";
import { startBacklog, type BacklogQueues } from "../src/cli/backlogs.js";
import { backlogWorkflowId, cardWorkflowId, needsPages, planPages, shardWorkflowId } from "../src/domain/index.js";
import { WORKFLOWS_PATH } from "../src/worker.js";
import { metricsSinks } from "../src/observability/metrics.js";
import { startDevServer } from "../src/temporal/dev-server.js";
import { installRuntime } from "../src/temporal/runtime.js";
import { benchCardId, layeredBacklog, planLayeredBacklog } from "./backlog.js";
import { bareActivities, instantActivities, newActivityClock } from "./instant-activities.js";
import { RssSampler } from "./measure.js";

type HistoryEvent = NonNullable<proto.temporal.api.history.v1.IHistory["events"]>[number];
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };
const EventType = proto.temporal.api.enums.v1.EventType;

function eventMs(e: HistoryEvent): number {
  return Number(e.eventTime?.seconds ?? 0) * 1000 + Math.round((e.eventTime?.nanos ?? 0) / 1e6);
}

/** `EVENT_TYPE_WORKFLOW_TASK_COMPLETED` → `WorkflowTaskCompleted`. */
function typeName(e: HistoryEvent): string {
  const name = EventType[e.eventType ?? 0] ?? String(e.eventType);
  return name
    .replace(/^EVENT_TYPE_/, "")
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_m, _s, c: string) => c.toUpperCase());
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function mapPool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

/** A sampler for this probe, whose worker runs in this process (its descendants: the dev server). */
function inProcessSampler(): RssSampler {
  return new RssSampler({ workerPid: process.pid, workerOnly: true });
}

/** Stops a sampler: "CPU worker x s + server y s" (load average z). */
function cpu(sampler: RssSampler): string {
  const { workerCpuMs = 0, serverCpuMs = 0 } = sampler.stop();
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return `CPU worker ${s(workerCpuMs)} + server ${s(serverCpuMs)} = ${s(workerCpuMs + serverCpuMs)} (load average ${loadavg()[0]!.toFixed(1)})`;
}

/** Events by type over some histories, averaged per history; printed with the total per history. */
async function printEvents(client: Client, label: string, workflowIds: readonly string[]): Promise<void> {
  const counts = new Map<string, number>();
  const typeBytes = new Map<string, number>();
  let total = 0;
  let bytes = 0;
  const histories = await mapPool(workflowIds, 8, (id) => client.workflow.getHandle(id).fetchHistory());
  for (const h of histories) {
    bytes += proto.temporal.api.history.v1.History.encode(h).finish().length;
    for (const e of h.events ?? []) {
      const t = typeName(e);
      counts.set(t, (counts.get(t) ?? 0) + 1);
      typeBytes.set(t, (typeBytes.get(t) ?? 0) + proto.temporal.api.history.v1.HistoryEvent.encode(e).finish().length);
      total++;
    }
  }
  const n = histories.length;
  const per = (x: number) => (x / n).toFixed(1).replace(/\.0$/, "");
  const rows = [...counts]
    .sort((a, b) => b[1] - a[1])
    .map(([t, c]) => `${t} ${per(c)} (${((typeBytes.get(t) ?? 0) / n / 1024).toFixed(1)} KiB)`);
  console.log(`${label} (${n}): ${per(total)} events, ${(bytes / n / 1024).toFixed(1)} KiB per history`);
  console.log(`  ${rows.join(", ")}`);
}

/** Every `step`-th card id of a backlog of `size` cards (and the first and last card of each layer end). */
function sampleCards(size: number, step = 10): string[] {
  const ids: string[] = [];
  for (let i = 0; i < size; i += step) ids.push(benchCardId(i));
  return ids;
}

async function runSquadflow(client: Client, worker: Worker, size: number, maxCards: number, run: boolean) {
  const queues: BacklogQueues = {
    orchestration: worker.options.taskQueue,
    owners: worker.options.taskQueue,
    validation: worker.options.taskQueue,
    debugging: worker.options.taskQueue,
  };
  const backlogId = `paged-${Date.now().toString(36)}`;
  const plan = planLayeredBacklog({ backlogId, size });
  const limits = { maxCards };
  const pages = needsPages(plan.cards, limits) ? planPages(plan.cards, limits).length : 1;
  await worker.runUntil(async () => {
    const t0 = Date.now();
    const [all, start] = [inProcessSampler(), inProcessSampler()];
    await startBacklog(client, plan, `${backlogId}.json`, queues, { pages: limits });
    const startMs = Date.now() - t0;
    console.log(
      `${size} cards, ${pages} pages of ≤ ${maxCards}: startBacklog ${startMs} ms (${(startMs / size).toFixed(1)} ms per card), ${cpu(start)}`,
    );
    const shardIds = pages > 1 ? Array.from({ length: pages }, (_, i) => shardWorkflowId(backlogId, i + 1)) : [];
    for (const [i, id] of shardIds.entries()) {
      const history = await client.workflow.getHandle(id).fetchHistory();
      const events = history.events ?? [];
      const initiated = events.filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes);
      const childStarted = events.filter((e) => e.childWorkflowExecutionStartedEventAttributes);
      const lastStart = childStarted.at(-1);
      const upTo = lastStart ? events.indexOf(lastStart) + 1 : events.length;
      const tasks = events.slice(0, upTo).filter((e) => e.workflowTaskCompletedEventAttributes).length;
      const signaled = events.find((e) => e.workflowExecutionSignaledEventAttributes);
      // Each card's start: its StartChildWorkflowExecutionInitiated → its ChildWorkflowExecutionStarted, ms.
      const initiatedAt = new Map(
        initiated.map((e) => [e.startChildWorkflowExecutionInitiatedEventAttributes!.workflowId!, eventMs(e)]),
      );
      const latencies = childStarted
        .map((e) => {
          const id = e.childWorkflowExecutionStartedEventAttributes!.workflowExecution!.workflowId!;
          return eventMs(e) - (initiatedAt.get(id) ?? eventMs(e));
        })
        .sort((a, b) => a - b);
      const pct = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
      // The same from the card's side: its workflow's start time (the parent records "started" after that).
      const created = (
        await mapPool([...initiatedAt], 16, async ([id, at]) => {
          const { startTime } = await client.workflow.getHandle(id).describe();
          return startTime.getTime() - at;
        })
      ).sort((a, b) => a - b);
      const cpct = (q: number) => created[Math.min(created.length - 1, Math.floor(q * created.length))] ?? 0;
      console.log(
        [
          `shard ${i + 1}: started +${eventMs(events[0]!) - t0} ms`,
          `accepted +${signaled ? eventMs(signaled) - t0 : "?"} ms`,
          `${childStarted.length} cards started in ${lastStart && initiated[0] ? eventMs(lastStart) - eventMs(initiated[0]) : "?"} ms`,
          `(${initiated.length} initiated; ${upTo} events, ${tasks} workflow tasks until then)`,
          `each card's start p50 / p95 / max ${pct(0.5)} / ${pct(0.95)} / ${latencies.at(-1) ?? 0} ms`,
          `its workflow created after p50 / p95 / max ${cpct(0.5)} / ${cpct(0.95)} / ${created.at(-1) ?? 0} ms`,
        ].join(", "),
      );
    }
    if (!run) return;
    await client.workflow.getHandle(backlogWorkflowId(backlogId)).result();
    const wallMs = Date.now() - t0;
    console.log(`run: backlog result after ${wallMs} ms (start ${startMs} + run ${wallMs - startMs}), ${cpu(all)}`);
    await printEvents(client, "backlog", [backlogWorkflowId(backlogId)]);
    if (shardIds.length > 0) await printEvents(client, "shards", shardIds);
    await printEvents(
      client,
      "card workflows",
      sampleCards(size).map((id) => cardWorkflowId(backlogId, id)),
    );
  });
}

async function runBareDag(client: Client, worker: Worker, size: number) {
  const runId = `dag-${Date.now().toString(36)}`;
  const cards = layeredBacklog({ backlogId: runId, size }).cards as { id: string; dependencies: string[] }[];
  const workflowId = (cardId: string) => `${runId}/${cardId}`;
  const dependents = new Map<string, string[]>();
  for (const c of cards)
    for (const d of c.dependencies) dependents.set(d, [...(dependents.get(d) ?? []), workflowId(c.id)]);
  const start = (c: (typeof cards)[number]) =>
    client.workflow.start("bareDagCardWorkflow", {
      taskQueue: worker.options.taskQueue,
      workflowId: workflowId(c.id),
      args: [{ cardId: c.id, dependencies: c.dependencies.map(workflowId), dependents: dependents.get(c.id) ?? [] }],
    });
  await worker.runUntil(async () => {
    const t0 = Date.now();
    const [all, started] = [inProcessSampler(), inProcessSampler()];
    // As bench/case.ts: every card with dependencies first, then the cards without.
    await mapPool(
      cards.filter((c) => c.dependencies.length > 0),
      64,
      start,
    );
    await mapPool(
      cards.filter((c) => c.dependencies.length === 0),
      64,
      start,
    );
    const startMs = Date.now() - t0;
    console.log(
      `${size} cards, bare DAG: started in ${startMs} ms (${(startMs / size).toFixed(1)} ms per card), ${cpu(started)}`,
    );
    await mapPool(cards, 128, (c) => client.workflow.getHandle(workflowId(c.id)).result());
    const wallMs = Date.now() - t0;
    console.log(
      `run: every card's result after ${wallMs} ms (start ${startMs} + run ${wallMs - startMs}), ${cpu(all)}`,
    );
    await printEvents(client, "card workflows", sampleCards(size).map(workflowId));
  });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const [size = 600, maxCards = 200] = args.filter((a) => !a.startsWith("--")).map(Number);
  const run = args.includes("--run");
  const bare = args.includes("--bare");
  installRuntime("WARN");
  const dir = await mkdtemp(join(tmpdir(), "squadflow-paged-start-"));
  const dbFilename = process.env.PROBE_DB === "file" ? join(dir, "temporal.db") : null;
  const server = await startDevServer({ port: 0, ui: false, reuseExisting: false, dbFilename, logLevel: "error" });
  try {
    const client = new Client({ connection: server.connection, namespace: server.namespace });
    const workflowsPath = bare ? fileURLToPath(new URL("./bare-dag-workflow.ts", import.meta.url)) : WORKFLOWS_PATH;
    const { code } = await bundleWorkflowCode({ workflowsPath, logger: quiet as never });
    const clock = newActivityClock();
    const worker = await Worker.create({
      connection: server.nativeConnection,
      namespace: server.namespace,
      taskQueue: "paged-start",
      workflowBundle: { code },
      ...(bare
        ? { activities: bareActivities(clock) }
        : { activities: instantActivities(clock), sinks: metricsSinks() }),
    });
    if (bare) await runBareDag(client, worker, size);
    else await runSquadflow(client, worker, size, maxCards, run);
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
