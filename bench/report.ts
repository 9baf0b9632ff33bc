/**
 * The benchmark's report: sums up the runs of each size and variant (median and spread over the runs),
 * formats the markdown tables (a headline table across sizes, one table per size) and reads back the
 * results a previous `npm run bench` wrote, so that sizes measured apart (e.g. `BENCH_SIZES=100`, then
 * `BENCH_SIZES=1000 BENCH_RUNS=1`) end up side by side in one bench/RESULTS.md. Pure: no Temporal, no I/O.
 */
import type { CaseResult } from "./case.js";
import type { Variant } from "./variants.js";
import { median, type HistorySize, type Percentiles } from "./measure.js";

/** The issue's bound: no workflow history above this many events, at any size. */
export const MAX_HISTORY_EVENTS = 10_000;

/**
 * Version of the raw JSON block of RESULTS.md; blocks of another version are not merged. 3: the worker runs
 * in a process of its own, so "worker RSS" is the worker's alone (in 2 it was client + worker).
 */
export const RESULTS_FORMAT = 3;

/** When, how and under what load one size was measured. */
export interface Measured {
  date: string;
  commit: string;
  command: string;
  runs: number;
  /** Which server (absent: `dev`, as before the cluster target existed). */
  target?: "dev" | "cluster";
  /** The dev server's database (not used on the cluster). */
  db: "memory" | "file";
  /** 1-minute load average before the size's first case and after its last. */
  load: [number, number];
  /** `BENCH_NOTE`, when given (e.g. what else ran on the machine). */
  note?: string;
}

/** Every case of one size (all runs, all variants), and how they were measured. */
export interface SizeRecord {
  size: number;
  measured: Measured;
  results: CaseResult[];
}

/** Median and range of one figure over the runs that have it. */
export interface Stat {
  median?: number;
  min?: number;
  max?: number;
  /** Runs the figure was taken from. */
  n: number;
}

/** {@link Stat} of the defined values of `values`. */
export function stat(values: readonly (number | undefined)[]): Stat {
  const v = values.filter((x): x is number => x !== undefined && Number.isFinite(x));
  if (v.length === 0) return { n: 0 };
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

/** One variant at one size, summed up over its runs. */
export interface VariantSummary {
  variant: Variant;
  runs: CaseResult[];
  completed: number;
  wall: Stat;
  start: Stat;
  run: Stat;
  cardsPerSec: Stat;
  depP50: Stat;
  depP95: Stat;
  durationP50: Stat;
  durationP95: Stat;
  rssWorker: Stat;
  rssClient: Stat;
  rssServer: Stat;
  /** The database's memory (PSS summed over its processes): the cluster's PostgreSQL; none on the dev server. */
  memDb: Stat;
  cpuWorker: Stat;
  cpuClient: Stat;
  cpuServer: Stat;
  cpuDb: Stat;
  /** The completed run of median wall time (the lower middle one for an even count): histories come from it. */
  representative?: CaseResult;
}

/** The result when its run got as far as running cards (a refused start measured no run). */
function ran(r: CaseResult): boolean {
  return r.status !== "start-failed" && r.status !== "crashed";
}

/**
 * Sums up the runs of one variant: timings over the completed runs (over every run that ran when none
 * completed), memory and CPU over every run that ran.
 */
export function summarize(variant: Variant, runs: readonly CaseResult[]): VariantSummary {
  const mine = runs.filter((r) => r.variant === variant);
  const completed = mine.filter((r) => r.status === "completed");
  const timed = completed.length > 0 ? completed : mine.filter(ran);
  const running = mine.filter(ran);
  const byWall = [...completed].sort((a, b) => (a.wallMs ?? 0) - (b.wallMs ?? 0));
  const p = (pick: (r: CaseResult) => Percentiles | undefined, k: "p50" | "p95") =>
    stat(timed.map((r) => (pick(r)?.count ? pick(r)![k] : undefined)));
  return {
    variant,
    runs: mine,
    completed: completed.length,
    wall: stat(timed.map((r) => r.wallMs)),
    start: stat(timed.map((r) => r.startMs)),
    run: stat(timed.map((r) => r.runMs)),
    cardsPerSec: stat(timed.map((r) => r.cardsPerSec)),
    depP50: p((r) => r.depLatency, "p50"),
    depP95: p((r) => r.depLatency, "p95"),
    durationP50: p((r) => r.cardDuration, "p50"),
    durationP95: p((r) => r.cardDuration, "p95"),
    rssWorker: stat(running.map((r) => r.rss.worker || undefined)),
    rssClient: stat(running.map((r) => r.rss.client || undefined)),
    rssServer: stat(running.map((r) => r.rss.server || undefined)),
    memDb: stat(running.map((r) => r.rss.db || undefined)),
    cpuWorker: stat(running.map((r) => r.rss.workerCpuMs)),
    cpuClient: stat(running.map((r) => r.rss.clientCpuMs)),
    cpuServer: stat(running.map((r) => r.rss.serverCpuMs)),
    cpuDb: stat(running.map((r) => r.rss.dbCpuMs)),
    ...(byWall.length > 0 ? { representative: byWall[(byWall.length - 1) >> 1] } : {}),
  };
}

// ---- formatting -----------------------------------------------------------------------------------

const fmtInt = (n: number) => n.toLocaleString("en-US");
const fmtMs = (n: number) => (n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : `${Math.round(n)} ms`);
const fmtS = (n: number) => `${(n / 1000).toFixed(1)} s`;
const fmtDur = (n: number) => (n >= 1000 ? fmtS(n) : `${Math.round(n)} ms`);
const fmtMiB = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
const fmtRate = (n: number) => n.toFixed(1);
function fmtBytes(b: number | undefined): string {
  if (b === undefined) return "–";
  if (b >= 2 ** 20) return `${(b / 2 ** 20).toFixed(2)} MiB`;
  if (b >= 1024) return `${(b / 1024).toFixed(1)} KiB`;
  return `${b} B`;
}

/** A stat as `median (min–max)`; just the median for one run or no spread; `–` when absent. */
function cell(s: Stat | undefined, fmt: (n: number) => string): string {
  if (!s || s.median === undefined) return "–";
  const m = fmt(s.median);
  if (s.n < 2 || fmt(s.min!) === fmt(s.max!)) return m;
  return `${m} (${fmt(s.min!)}–${fmt(s.max!)})`;
}

/** `a ÷ b` of two medians, to 2–3 significant digits; `–` when either is missing. */
export function ratio(a: Stat | number | undefined, b: Stat | number | undefined): string {
  const x = typeof a === "number" ? a : a?.median;
  const y = typeof b === "number" ? b : b?.median;
  if (x === undefined || y === undefined || y === 0) return "–";
  const r = x / y;
  return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2);
}

function outcome(s: VariantSummary): string {
  if (s.runs.length === 0) return "not run";
  const failed = s.runs.filter((r) => r.status !== "completed");
  const cards = s.runs[0]!.size;
  if (failed.length === 0) return `${s.runs.length}/${s.runs.length} completed`;
  const how = failed.map((r) => `${r.status}, ${fmtInt(r.cardsDone)}/${fmtInt(cards)} DONE`).join("; ");
  return `**${s.completed}/${s.runs.length} completed** (${how})`;
}

function whose(h: HistorySize | undefined, backlog: HistorySize | undefined): string {
  if (!h) return "";
  if (!backlog || h.workflowId !== backlog.workflowId) return " (card)";
  return h.workflowId.includes("/~shard-") ? " (backlog shard)" : " (backlog)";
}

function historyCheck(r: CaseResult | undefined): string {
  if (!r?.largestHistory) return "–";
  return r.largestHistory.events <= MAX_HISTORY_EVENTS ? "yes" : `**NO** (${fmtInt(r.largestHistory.events)})`;
}

const VARIANT_TITLES: Record<Variant, string> = {
  squadflow: "squadflow",
  "bare-dag": "bare DAG",
  "bare-flat": "bare flat (old baseline)",
};

/** The markdown section of one size: squadflow, bare DAG, their ratio, bare flat; then failures and diagnoses. */
export function sizeTable(record: SizeRecord): string {
  const ours = summarize("squadflow", record.results);
  const dag = summarize("bare-dag", record.results);
  const flat = summarize("bare-flat", record.results);
  const [o, d] = [ours.representative, dag.representative];
  const cluster = record.measured.target === "cluster";
  const server = cluster ? "Temporal server" : "dev server";
  type Row = [string, (s: VariantSummary) => string, string];
  const statRow = (label: string, pick: (s: VariantSummary) => Stat, fmt: (n: number) => string): Row => [
    label,
    (s) => cell(pick(s), fmt),
    ratio(pick(ours), pick(dag)),
  ];
  const rows: Row[] = [
    ["runs", outcome, ""],
    statRow("**wall time** (start + run)", (s) => s.wall, fmtS),
    statRow("start (client: `startBacklog` / starting every card workflow)", (s) => s.start, fmtDur),
    statRow("run (after the start)", (s) => s.run, fmtDur),
    statRow("cards/s", (s) => s.cardsPerSec, fmtRate),
    statRow("**dependency DONE → owner start, p50**", (s) => s.depP50, fmtMs),
    statRow("**dependency DONE → owner start, p95**", (s) => s.depP95, fmtMs),
    statRow("card duration (owner start → DONE), p50", (s) => s.durationP50, fmtMs),
    statRow("card duration (owner start → DONE), p95", (s) => s.durationP95, fmtMs),
    statRow("**worker RSS, peak during the run** (the worker process alone)", (s) => s.rssWorker, fmtMiB),
    statRow("client RSS, peak during the run (starts, result waits)", (s) => s.rssClient, fmtMiB),
    statRow(`${server} RSS, peak during the run`, (s) => s.rssServer, fmtMiB),
    ...(cluster ? [statRow("PostgreSQL PSS (its processes summed), peak during the run", (s) => s.memDb, fmtMiB)] : []),
    statRow("worker CPU time during the run", (s) => s.cpuWorker, fmtS),
    statRow("client CPU time during the run", (s) => s.cpuClient, fmtS),
    statRow(`${server} CPU time during the run`, (s) => s.cpuServer, fmtS),
    ...(cluster ? [statRow("PostgreSQL CPU time during the run", (s) => s.cpuDb, fmtS)] : []),
    [
      "largest history, events",
      (s) =>
        s.representative?.largestHistory
          ? `${fmtInt(s.representative.largestHistory.events)}${whose(s.representative.largestHistory, s.representative.backlogHistory)}`
          : "–",
      ratio(o?.largestHistory?.events, d?.largestHistory?.events),
    ],
    [
      "largest history, bytes",
      (s) =>
        s.representative?.largestHistory
          ? `${fmtBytes(s.representative.largestHistory.bytes)}${whose(s.representative.largestHistory, s.representative.backlogHistory)}`
          : "–",
      ratio(o?.largestHistory?.bytes, d?.largestHistory?.bytes),
    ],
    [
      "largest card history, events / bytes",
      (s) =>
        s.representative?.largestCardHistory
          ? `${fmtInt(s.representative.largestCardHistory.events)} / ${fmtBytes(s.representative.largestCardHistory.bytes)}`
          : "–",
      ratio(o?.largestCardHistory?.events, d?.largestCardHistory?.events),
    ],
    [`every history ≤ ${fmtInt(MAX_HISTORY_EVENTS)} events`, (s) => historyCheck(s.representative), ""],
    [
      "backlog workflow tasks: count, started → completed p50 / p95",
      (s) => {
        const t = s.representative?.backlogTasks;
        return t ? `${fmtInt(t.count)}, ${fmtMs(t.processing.p50 ?? 0)} / ${fmtMs(t.processing.p95 ?? 0)}` : "–";
      },
      "",
    ],
    [
      "largest workflow input / backlog result payload",
      (s) =>
        s.representative?.inputBytes !== undefined
          ? `${fmtBytes(s.representative.inputBytes)} / ${fmtBytes(s.representative.resultBytes)}`
          : "–",
      "",
    ],
  ];
  const m = record.measured;
  const lines = [
    `### ${fmtInt(record.size)} cards`,
    "",
    `Measured ${m.date}, commit ${m.commit}, \`${m.command}\`: ${m.runs} run${m.runs === 1 ? "" : "s"} per variant, ` +
      `${cluster ? "Temporal server on PostgreSQL" : m.db === "file" ? "SQLite file dev server" : "in-memory dev server"}; load average ${m.load[0].toFixed(2)} before, ${m.load[1].toFixed(2)} after.` +
      (m.note ? ` ${m.note}` : ""),
    "",
    `| | ${VARIANT_TITLES.squadflow} | ${VARIANT_TITLES["bare-dag"]} | squadflow ÷ bare DAG | ${VARIANT_TITLES["bare-flat"]} |`,
    "| --- | ---: | ---: | ---: | ---: |",
    ...rows.map(([label, value, r]) => `| ${label} | ${value(ours)} | ${value(dag)} | ${r} | ${value(flat)} |`),
  ];
  for (const r of record.results) {
    if (r.status === "completed") continue;
    const until = r.cardsDone > 0 ? " Its wall time and cards/s count until its last card DONE." : "";
    lines.push(
      "",
      `**${r.variant} at ${fmtInt(record.size)} cards: ${r.status}.** ${(r.error ?? "").replace(/\.$/, "")}.${until}`,
    );
    if (r.diagnosis?.length)
      lines.push("", `The backlog workflow's history of that run:`, "", "```", ...r.diagnosis, "```");
  }
  if (o?.diagnosis?.length) {
    lines.push(
      "",
      `The backlog workflow's history at ${fmtInt(record.size)} cards (the run of median wall time):`,
      "",
      "```",
      ...o.diagnosis,
      "```",
    );
  }
  return lines.join("\n");
}

/** The headline table across sizes: wall time, dependency hop and worker RSS, squadflow vs bare DAG. */
export function headlineTable(records: readonly SizeRecord[]): string {
  const lines = [
    "| cards | runs | wall squadflow / bare DAG (ratio) | start squadflow / bare DAG | dependency hop p50 / p95, squadflow | dependency hop p50 / p95, bare DAG | worker RSS squadflow / bare DAG | wall, bare flat |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const rec of records) {
    const o = summarize("squadflow", rec.results);
    const d = summarize("bare-dag", rec.results);
    const f = summarize("bare-flat", rec.results);
    const med = (s: Stat, fmt: (n: number) => string) => (s.median === undefined ? "–" : fmt(s.median));
    lines.push(
      `| ${fmtInt(rec.size)} | ${rec.measured.runs} | ${med(o.wall, fmtS)} / ${med(d.wall, fmtS)} ${ratio(o.wall, d.wall) === "–" ? "" : `(**${ratio(o.wall, d.wall)}×**)`} | ` +
        `${med(o.start, fmtDur)} / ${med(d.start, fmtDur)} | ${med(o.depP50, fmtMs)} / ${med(o.depP95, fmtMs)} | ${med(d.depP50, fmtMs)} / ${med(d.depP95, fmtMs)} | ` +
        `${med(o.rssWorker, fmtMiB)} / ${med(d.rssWorker, fmtMiB)} | ${med(f.wall, fmtS)} |`,
    );
  }
  return lines.join("\n");
}

/** The raw JSON block written at the end of RESULTS.md. */
export function rawBlock(records: readonly SizeRecord[]): string {
  return [
    "<details><summary>raw results (JSON)</summary>",
    "",
    "```json",
    JSON.stringify({ format: RESULTS_FORMAT, sizes: records }, null, 1),
    "```",
    "",
    "</details>",
  ].join("\n");
}

/**
 * The size records of a RESULTS.md written by this version of the benchmark (its raw JSON block); empty
 * when there is none, it does not parse, or it is of another format.
 */
export function parseRawBlock(markdown: string): SizeRecord[] {
  const m = /<summary>raw results \(JSON\)<\/summary>\s*```json\n([\s\S]*?)\n```/.exec(markdown);
  if (!m) return [];
  try {
    const parsed = JSON.parse(m[1]!) as { format?: number; sizes?: SizeRecord[] };
    return parsed.format === RESULTS_FORMAT && Array.isArray(parsed.sizes) ? parsed.sizes : [];
  } catch {
    return [];
  }
}

/** `earlier` with every size of `latest` replaced or added, sorted by size. */
export function mergeRecords(earlier: readonly SizeRecord[], latest: readonly SizeRecord[]): SizeRecord[] {
  const bySize = new Map<number, SizeRecord>(earlier.map((r) => [r.size, r]));
  for (const r of latest) bySize.set(r.size, r);
  return [...bySize.values()].sort((a, b) => a.size - b.size);
}
