/**
 * Measurement helpers of the benchmark: percentiles, medians, a bounded-concurrency map, an RSS and CPU
 * sampler (the worker process, this process as the client, the Temporal server) and workflow history sizes
 * (events and encoded bytes).
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import type { Client } from "@temporalio/client";
import proto from "@temporalio/proto";

// @temporalio/proto is CommonJS whose named exports Node's ESM loader cannot see: take them from the default export.
const { temporal } = proto;

/** Nearest-rank percentile (`p` in 0–100) of `values`; undefined for an empty list. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

/** p50 and p95 of a list of milliseconds (undefined when empty), plus how many values there were. */
export interface Percentiles {
  p50?: number;
  p95?: number;
  count: number;
}

/** {@link Percentiles} of `values`. */
export function percentiles(values: readonly number[]): Percentiles {
  return { p50: percentile(values, 50), p95: percentile(values, 95), count: values.length };
}

export { mapPool } from "../src/cli/map-pool.js";

/** Resident set size (bytes) of a process from /proc, or undefined when it cannot be read. */
export function procRss(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Every descendant process id of `root` (Linux /proc; empty elsewhere). */
export function descendants(root: number): number[] {
  const parentOf = new Map<number, number>();
  let entries: string[] = [];
  try {
    entries = readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  for (const e of entries) {
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      // pid (comm) state ppid …; comm may contain spaces and parentheses: split after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parentOf.set(Number(e), ppid);
    } catch {
      // the process ended meanwhile
    }
  }
  const result: number[] = [];
  const frontier = [root];
  while (frontier.length > 0 && result.length < 10_000) {
    const p = frontier.pop()!;
    for (const [child, parent] of parentOf) {
      if (parent === p) {
        result.push(child);
        frontier.push(child);
      }
    }
  }
  return result;
}

/** Peak memory and CPU time seen by an {@link RssSampler}, between its construction and `stop()`. */
export interface RssPeaks {
  /** Peak RSS of the worker process (bench/worker-process.ts, with anything it spawned), bytes. */
  worker: number;
  /** Peak RSS of the case process (the client: starts, result waits), bytes; absent in results before format 3. */
  client?: number;
  /** Peak RSS of the Temporal server process(es), summed, bytes; 0 when not found. */
  server: number;
  /**
   * Peak memory of the database's processes (the cluster's PostgreSQL), bytes: their PSS summed, so that the
   * shared buffers every backend maps count once. Absent on the dev server (its SQLite is in its process).
   */
  db?: number;
  /**
   * Peak V8 heap used by the worker process's main thread (activities, the SDK's JavaScript side), bytes, as it
   * reported it every ~250 ms while it worked. The workflows run in the SDK's worker threads, whose heaps are
   * not in it: RSS counts them.
   */
  heapUsed: number;
  /** CPU time (user + system) of the worker process while sampling, ms. */
  workerCpuMs?: number;
  /** CPU time (user + system) of the case process (the client) while sampling, ms. */
  clientCpuMs?: number;
  /** CPU time (user + system) of the Temporal server process(es) while sampling, ms. */
  serverCpuMs?: number;
  /** CPU time (user + system) of the database's processes while sampling, ms. */
  dbCpuMs?: number;
}

let clockTicksPerSecond: number | undefined;
function ticksPerSecond(): number {
  if (clockTicksPerSecond === undefined) {
    try {
      clockTicksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicksPerSecond = 100;
    }
  }
  return clockTicksPerSecond;
}

/** CPU time (user + system, ms) of a process from /proc, or 0 when it cannot be read. */
function procCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // After "pid (comm)": state(0) ppid(1) … utime(11) stime(12), in clock ticks.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond();
  } catch {
    return 0;
  }
}

/** Proportional set size (bytes) of a process from /proc (shared pages divided among their users), or undefined. */
function procPss(pid: number): number | undefined {
  try {
    const m = /^Pss:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** A group of processes sampled together: summed RSS (or PSS) peak, and CPU time since each was first seen. */
class ProcessGroup {
  peak = 0;
  private readonly cpuAtStart = new Map<number, number>();
  private pids: number[] = [];

  constructor(private readonly memory: (pid: number) => number | undefined = procRss) {}

  /** Adopts `pids` as the group's members (CPU time counts from the first time each is seen). */
  track(pids: readonly number[]): void {
    this.pids = [...pids];
    for (const pid of pids) if (!this.cpuAtStart.has(pid)) this.cpuAtStart.set(pid, procCpuMs(pid));
  }

  sample(): void {
    this.peak = Math.max(
      this.peak,
      this.pids.reduce((sum, pid) => sum + (this.memory(pid) ?? 0), 0),
    );
  }

  /** CPU time (user + system, ms) the members spent since first seen. */
  cpuMs(): number {
    return Math.round(
      [...this.cpuAtStart].reduce((sum, [pid, atStart]) => sum + Math.max(0, procCpuMs(pid) - atStart), 0),
    );
  }
}

/** What an {@link RssSampler} samples besides its own process (the client). */
export interface SampledProcesses {
  /** The worker process (bench/worker-process.ts); its descendants are counted with it unless `workerOnly`. */
  workerPid: number;
  /**
   * Count the worker process alone, not its descendants: for a worker running in the sampling process itself
   * (bench/paged-start.ts), whose descendants are the dev server.
   */
  workerOnly?: boolean;
  /**
   * The Temporal server's processes (dev server; or the cluster's server and PostgreSQL), asked again now
   * and then. Default: every descendant of this process outside the worker's tree (the dev server it spawned).
   */
  serverPids?: () => number[];
  /** The database's processes (the cluster's PostgreSQL), asked again now and then; none by default. */
  dbPids?: () => number[];
  /** The worker's V8 heap used peak so far, bytes (it reports it itself). */
  workerHeapPeak?: () => number;
}

/**
 * Samples RSS every `intervalMs` from its construction until `stop()`, and keeps the peaks and the CPU time
 * spent meanwhile, of three groups: the worker process, this process (the client) and the Temporal server
 * (and of the database's processes when given: the cluster's PostgreSQL).
 * Every variant of the benchmark makes one right before its first start call and stops it when its run is
 * over (before any post-run read), so the figures of all variants cover the same phase; every variant's
 * worker runs in a process of its own, so its RSS is the worker's alone.
 */
export class RssSampler {
  private readonly worker = new ProcessGroup();
  private readonly server = new ProcessGroup();
  private readonly db = new ProcessGroup(procPss);
  private clientPeak = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly cpuAtStart = process.cpuUsage();
  private ticks = 0;
  private stopped?: RssPeaks;

  constructor(
    private readonly processes: SampledProcesses,
    intervalMs = 250,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  private sample(): void {
    this.clientPeak = Math.max(this.clientPeak, process.memoryUsage().rss);
    // Re-discover the processes now and then (they are spawned before the sampler; a server may restart).
    if (this.ticks++ % 20 === 0) {
      const { workerPid } = this.processes;
      const workerTree = this.processes.workerOnly ? [workerPid] : [workerPid, ...descendants(workerPid)];
      this.worker.track(workerTree);
      this.server.track(
        this.processes.serverPids?.() ?? descendants(process.pid).filter((pid) => !workerTree.includes(pid)),
      );
      if (this.processes.dbPids) this.db.track(this.processes.dbPids());
    }
    this.worker.sample();
    this.server.sample();
    if (this.processes.dbPids) this.db.sample();
  }

  /** Stops sampling (after one last sample) and returns the peaks and CPU times; later calls return the same. */
  stop(): RssPeaks {
    if (this.stopped) return this.stopped;
    this.sample();
    clearInterval(this.timer);
    const cpu = process.cpuUsage(this.cpuAtStart);
    this.stopped = {
      worker: this.worker.peak,
      client: this.clientPeak,
      server: this.server.peak,
      heapUsed: this.processes.workerHeapPeak?.() ?? 0,
      workerCpuMs: this.worker.cpuMs(),
      clientCpuMs: Math.round((cpu.user + cpu.system) / 1000),
      serverCpuMs: this.server.cpuMs(),
      ...(this.processes.dbPids ? { db: this.db.peak, dbCpuMs: this.db.cpuMs() } : {}),
    };
    return this.stopped;
  }
}

/** Median of `values` (the mean of the middle two for an even count); undefined for an empty list. */
export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Smallest and largest of `values`; undefined for an empty list. */
export function spread(values: readonly number[]): { min: number; max: number } | undefined {
  if (values.length === 0) return undefined;
  return { min: Math.min(...values), max: Math.max(...values) };
}

/** Size of one workflow's history. */
export interface HistorySize {
  workflowId: string;
  events: number;
  /** Encoded size of the `temporal.api.history.v1.History` proto, bytes. */
  bytes: number;
}

/** Fetches a workflow's whole history and measures it. */
export async function historySize(client: Client, workflowId: string): Promise<HistorySize> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const bytes = temporal.api.history.v1.History.encode(history).finish().length;
  return { workflowId, events: history.events?.length ?? 0, bytes };
}

/** The largest (by events, then bytes) of some history sizes; undefined for none. */
export function largest(sizes: readonly HistorySize[]): HistorySize | undefined {
  return sizes.reduce<HistorySize | undefined>(
    (max, s) => (!max || s.events > max.events || (s.events === max.events && s.bytes > max.bytes) ? s : max),
    undefined,
  );
}

/** `count` indexes spread evenly over `0 … n-1` (first and last included), without repeats. */
export function spreadSample(n: number, count: number): number[] {
  if (n <= 0) return [];
  if (count >= n) return Array.from({ length: n }, (_, i) => i);
  const picks = new Set<number>();
  for (let k = 0; k < count; k++) picks.add(Math.round((k * (n - 1)) / Math.max(1, count - 1)));
  return [...picks].sort((a, b) => a - b);
}

/** The message of an error, with its causes (`a: b: c`), for reports. */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 6; depth++) {
    if (e instanceof Error) {
      const type = (e as { type?: unknown }).type;
      parts.push(`${e.name}${typeof type === "string" && type !== e.name ? `[${type}]` : ""}: ${e.message}`);
      e = (e as { cause?: unknown }).cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join(" ← ");
}
