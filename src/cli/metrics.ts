/**
 * `squadflow metrics BACKLOG`: the seeds' success metrics of one backlog run (definitions in
 * src/domain/metrics.ts), computed from the cards the backlog ran (legacy cards excluded).
 */
import { computeBacklogMetrics, type BacklogMetrics, type DurationStats } from "../domain/metrics.js";
import type { BacklogView } from "./backlogs.js";
import { formatDuration } from "./history.js";

/** The metrics report of a backlog (the `--json` form). */
export interface MetricsReport {
  backlogId: string;
  running: boolean;
  /** Cards of the backlog that were not run (legacy DONE/CORRECTION cards of the file). */
  legacyCards: number;
  /** Cards whose workflow failed without a recorded state (left out of the metrics). */
  cardsWithoutState: string[];
  metrics: BacklogMetrics;
}

/** Computes the report of a backlog view (`now` ends the wall time of a running backlog). */
export function metricsReport(view: BacklogView, now: Date = new Date()): MetricsReport {
  const run = view.cards.filter((c) => !c.legacy);
  return {
    backlogId: view.backlog.backlogId,
    running: view.running,
    legacyCards: view.cards.length - run.length,
    cardsWithoutState: run.filter((c) => !c.state).map((c) => c.cardId),
    metrics: computeBacklogMetrics(
      run.flatMap((c) => (c.state ? [c.state] : [])),
      { now: now.toISOString() },
    ),
  };
}

const pct = (r: number | null) => (r === null ? "n/a" : `${(r * 100).toFixed(1)}%`);
const usd = (v: number | null) => (v === null ? "n/a" : `$${v.toFixed(4)}`);

function durations(d: DurationStats, what: string): string {
  if (d.count === 0) return `n/a (no ${what} yet)`;
  return `p50 ${formatDuration(d.p50Ms)} · p95 ${formatDuration(d.p95Ms)} · mean ${formatDuration(d.meanMs)} (${d.count} ${what})`;
}

/** The report as text. Pure. */
export function renderMetrics(r: MetricsReport): string {
  const m = r.metrics;
  const rows: [string, string][] = [
    ["rejection rate", `${pct(m.rejectionRate)} (${m.failedAttempts} failed of ${m.attempts} attempts)`],
    [
      "attempts per card",
      m.averageAttemptsPerCard === null
        ? "n/a"
        : `${m.averageAttemptsPerCard.toFixed(2)} (over ${m.cardsRun} cards run)`,
    ],
    ["escalation rate", `${pct(m.escalationRate)} (${m.escalatedCards} of ${m.cardsRun} cards run)`],
    ["first-time-right", `${pct(m.firstTimeRightRate)} (${m.firstTimeRightCards} of ${m.cardsRun} cards run)`],
    ["time to approval", durations(m.timeToApproval, "cards")],
    ["correction loop", durations(m.correctionLoop, "loops")],
    [
      "throughput",
      m.throughput.doneCardsPerHour === null
        ? "n/a"
        : `${m.throughput.doneCardsPerHour.toFixed(1)} cards/hour (${m.throughput.doneCards} DONE in ${formatDuration(m.throughput.wallTimeMs)})`,
    ],
    ["cost per card", `mean ${usd(m.cost.meanUsdPerCard)} · total ${usd(m.cost.totalUsd)}`],
    [
      "over cost threshold",
      m.cost.overThreshold === 0 ? "0" : `${m.cost.overThreshold}: ${m.cost.overThresholdCards.join(", ")}`,
    ],
  ];
  const status = Object.entries(m.cardsByStatus)
    .map(([s, n]) => `${s} ${n}`)
    .join(" · ");
  const lines = [
    `metrics of backlog ${r.backlogId} — ${r.running ? "running" : "finished"}: ${m.cards} cards (${status || "none"})` +
      `${r.legacyCards ? `, ${r.legacyCards} legacy not counted` : ""}${r.cardsWithoutState.length ? `, no state for ${r.cardsWithoutState.join(", ")}` : ""}`,
  ];
  for (const [k, v] of rows) lines.push(`  ${k.padEnd(20)} ${v}`);
  lines.push(`  top rejection reasons${m.topRejectionReasons.length === 0 ? ": none" : ""}`);
  for (const t of m.topRejectionReasons) lines.push(`    ${String(t.count).padStart(3)}×  ${t.reason}`);
  return lines.join("\n");
}
