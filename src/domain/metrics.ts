/**
 * The seeds' success metrics (PRODUCT.md "The seeds' success metrics come from run data"), computed from
 * the cards' states as the `cardState` query / card outcome returns them. Pure: no Node, no I/O, no
 * Temporal imports, no clock (the caller passes `now`).
 *
 * Definitions (every one over the card states passed in — the CLI passes the cards a backlog RAN, never
 * its legacy cards):
 *
 * - **cards**: number of card states. **cardsRun**: cards with at least one finished attempt
 *   (`attempts.length ≥ 1`); a BLOCKED card, one still waiting for its dependencies, or one whose first
 *   attempt is still running, has not run yet.
 * - **attempts**: Σ `attempts.length` (attempts of this run only: a seed's prior attempts are not records).
 *   **failedAttempts**: attempts with `passed = false` (any validator failed, or the owner failed).
 * - **rejectionRate** = failedAttempts ÷ attempts.
 * - **averageAttemptsPerCard** = attempts ÷ cardsRun.
 * - **escalationRate** = escalatedCards ÷ cardsRun, where a card is escalated when its status history
 *   contains ESCALATED (it may since have been approved, rejected or clarified by a human).
 * - **firstTimeRightRate** = firstTimeRightCards ÷ cardsRun, where a card is first-time-right when it is
 *   DONE with exactly one attempt, that attempt passed, and it was never escalated (no human involved).
 *   The attempt *count* is used, not the attempt number, which continues a seed's numbering.
 * - **timeToApproval**: per card that reached APPROVED, from its first IN_PROGRESS (the owner starts:
 *   the time a card waits as TODO for its dependencies measures the backlog's critical path, not this
 *   card) to its first APPROVED, from `statusHistory` timestamps. Includes correction rounds and any
 *   time spent waiting for a human.
 * - **correctionLoop**: one loop per CORRECTING entry of a status history; it starts at the REJECTED
 *   entry right before it (or, for a human `clarify` round, at the CORRECTING entry itself — the
 *   human's thinking time is not a correction) and ends at the next APPROVED or REJECTED entry. Loops
 *   still running are left out.
 * - Durations are summarised as count, mean, p50 and p95 in milliseconds; percentiles use the
 *   nearest-rank method (the value at 1-based rank ⌈p/100 × n⌉ of the ascending values).
 * - **throughput** = doneCards ÷ wall time in hours. A card has *finished* when its workflow ended
 *   (`completedAt`; DONE, FAILED, CANCELLED) or its work came to rest waiting for an ops decision
 *   (`settled`: REJECTED by a human, BLOCKED by a dependency). Wall time runs from the earliest
 *   `createdAt` to the latest `completedAt` (else `updatedAt`) when every card has finished, else to
 *   `now`. `finishedCards` is reported beside it.
 * - **cost**: totalUsd = Σ `cost.usd`; meanUsdPerCard = totalUsd ÷ cardsRun; cards over the cost
 *   threshold = cards with `costAlert` (their cost exceeded their card's `cost_alert_usd`).
 * - **topRejectionReasons**: the 10 most frequent reasons over every failed verdict of every attempt, each
 *   as `<validator>: <reason>` (the shape of correction feedback), counted once per verdict; ties by
 *   reason, alphabetically. A failed verdict without reasons counts as `<validator>: (no reason given)`.
 *
 * Ratios are fractions in [0, 1] (not percentages), `null` when their denominator is 0.
 */
import type { CardState, StatusChange } from "./card-state.js";

/** Count, mean and percentiles of a set of durations, ms; `null` statistics when `count` is 0. */
export interface DurationStats {
  count: number;
  meanMs: number | null;
  p50Ms: number | null;
  p95Ms: number | null;
  maxMs: number | null;
}

/** A rejection reason and how many failed verdicts gave it. */
export interface ReasonCount {
  /** `<validator>: <reason>`, e.g. `qa: unit tests exited 1`. */
  reason: string;
  count: number;
}

/** The seeds' success metrics of a set of cards; see the module docstring for the exact definitions. */
export interface BacklogMetrics {
  cards: number;
  cardsRun: number;
  /** Cards per current status. */
  cardsByStatus: Record<string, number>;
  attempts: number;
  failedAttempts: number;
  rejectionRate: number | null;
  averageAttemptsPerCard: number | null;
  escalatedCards: number;
  escalationRate: number | null;
  firstTimeRightCards: number;
  firstTimeRightRate: number | null;
  timeToApproval: DurationStats;
  correctionLoop: DurationStats;
  throughput: {
    doneCards: number;
    finishedCards: number;
    /** Wall time of the run, ms (0 when there are no cards). */
    wallTimeMs: number;
    /** DONE cards per hour of wall time; null when the wall time is 0. */
    doneCardsPerHour: number | null;
  };
  cost: {
    /** USD, rounded to the micro-dollar. */
    totalUsd: number;
    /** USD per card run, rounded to the micro-dollar; null when no card ran. */
    meanUsdPerCard: number | null;
    overThreshold: number;
    /** Ids of the cards over their cost alert threshold. */
    overThresholdCards: string[];
  };
  /** At most 10, most frequent first. */
  topRejectionReasons: ReasonCount[];
}

/** Options of {@link computeBacklogMetrics}. */
export interface MetricsOptions {
  /**
   * ISO-8601 "now", the end of the wall time while some card has not ended. Default: the latest
   * `updatedAt` of the cards (deterministic, but under-counts a run that is still going).
   */
  now?: string;
  /** How many rejection reasons to keep (default 10). */
  topReasons?: number;
}

const ENDED = new Set(["DONE", "FAILED", "CANCELLED"]);

/** Computes every metric of the module docstring from the cards' states. Never throws; pure. */
export function computeBacklogMetrics(cards: readonly CardState[], opts: MetricsOptions = {}): BacklogMetrics {
  const run = cards.filter((c) => c.attempts.length > 0);
  const attempts = sum(cards.map((c) => c.attempts.length));
  const failedAttempts = sum(cards.map((c) => c.attempts.filter((a) => !a.passed).length));
  const escalated = cards.filter(wasEscalated);
  const firstTimeRight = cards.filter(
    (c) => c.status === "DONE" && c.attempts.length === 1 && c.attempts[0]!.passed && !wasEscalated(c),
  );
  const totalUsd = micro(sum(cards.map((c) => c.cost.usd)));
  const over = cards.filter((c) => c.costAlert).map((c) => c.card.id);
  const done = cards.filter((c) => c.status === "DONE").length;
  const finished = cards.filter(isFinished).length;
  const wallTimeMs = wallTime(cards, opts.now);

  return {
    cards: cards.length,
    cardsRun: run.length,
    cardsByStatus: countBy(cards.map((c) => c.status)),
    attempts,
    failedAttempts,
    rejectionRate: ratio(failedAttempts, attempts),
    averageAttemptsPerCard: ratio(attempts, run.length),
    escalatedCards: escalated.length,
    escalationRate: ratio(escalated.length, run.length),
    firstTimeRightCards: firstTimeRight.length,
    firstTimeRightRate: ratio(firstTimeRight.length, run.length),
    timeToApproval: durationStats(cards.flatMap((c) => timeToApproval(c.statusHistory))),
    correctionLoop: durationStats(cards.flatMap((c) => correctionLoops(c.statusHistory))),
    throughput: {
      doneCards: done,
      finishedCards: finished,
      wallTimeMs,
      doneCardsPerHour: wallTimeMs > 0 ? done / (wallTimeMs / 3_600_000) : null,
    },
    cost: {
      totalUsd,
      meanUsdPerCard: run.length > 0 ? micro(totalUsd / run.length) : null,
      overThreshold: over.length,
      overThresholdCards: over,
    },
    topRejectionReasons: rejectionReasons(cards, opts.topReasons ?? 10),
  };
}

/**
 * The nearest-rank percentile `p` (0 < p ≤ 100) of `values`: the value at 1-based rank ⌈p/100 × n⌉ of
 * the ascending values; `null` for no values.
 */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

/** Count, mean, p50, p95 and max of durations in ms. */
export function durationStats(values: readonly number[]): DurationStats {
  if (values.length === 0) return { count: 0, meanMs: null, p50Ms: null, p95Ms: null, maxMs: null };
  return {
    count: values.length,
    meanMs: sum(values) / values.length,
    p50Ms: percentile(values, 50),
    p95Ms: percentile(values, 95),
    maxMs: Math.max(...values),
  };
}

/** Time from the first IN_PROGRESS to the first APPROVED after it, ms; `[]` if the card never got there. */
function timeToApproval(history: readonly StatusChange[]): number[] {
  const start = history.findIndex((s) => s.status === "IN_PROGRESS");
  if (start < 0) return [];
  const approved = history.findIndex((s, i) => i > start && s.status === "APPROVED");
  if (approved < 0) return [];
  return [ms(history[approved]!.at) - ms(history[start]!.at)];
}

/** Durations of the ended correction loops of one status history, ms (see the module docstring). */
function correctionLoops(history: readonly StatusChange[]): number[] {
  const loops: number[] = [];
  history.forEach((s, i) => {
    if (s.status !== "CORRECTING") return;
    const before = history[i - 1];
    const start = before?.status === "REJECTED" ? before : s;
    const end = history.find((e, j) => j > i && (e.status === "APPROVED" || e.status === "REJECTED"));
    if (end) loops.push(ms(end.at) - ms(start.at));
  });
  return loops;
}

function wasEscalated(c: CardState): boolean {
  return c.statusHistory.some((s) => s.status === "ESCALATED");
}

/** A card has finished: its workflow ended, or it rests waiting for an ops decision (see the module docstring). */
function isFinished(c: CardState): boolean {
  return c.completedAt !== undefined || ENDED.has(c.status) || (c as { settled?: boolean }).settled === true;
}

function wallTime(cards: readonly CardState[], now: string | undefined): number {
  if (cards.length === 0) return 0;
  const start = Math.min(...cards.map((c) => ms(c.createdAt)));
  const end = cards.every(isFinished)
    ? Math.max(...cards.map((c) => ms(c.completedAt ?? c.updatedAt)))
    : now !== undefined
      ? ms(now)
      : Math.max(...cards.map((c) => ms(c.updatedAt)));
  return Math.max(0, end - start);
}

function rejectionReasons(cards: readonly CardState[], top: number): ReasonCount[] {
  const counts = new Map<string, number>();
  for (const card of cards) {
    for (const attempt of card.attempts) {
      for (const v of attempt.verdicts) {
        if (v.passed) continue;
        const reasons = v.reasons.length > 0 ? new Set(v.reasons) : ["(no reason given)"];
        for (const r of reasons) {
          const key = `${v.validator}: ${r}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
      }
    }
  }
  return [...counts]
    .map(([reason, count]) => ({ reason, count }))
    .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : a.reason > b.reason ? 1 : 0))
    .slice(0, top);
}

function countBy(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

function ratio(n: number, d: number): number | null {
  return d === 0 ? null : n / d;
}

function sum(values: readonly number[]): number {
  return values.reduce((s, v) => s + v, 0);
}

function ms(iso: string): number {
  return Date.parse(iso);
}

/** Rounds USD to the micro-dollar, like the card's own cost sums. */
function micro(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}
