/**
 * The seeds' success metrics (src/domain/metrics.ts), checked against a hand-built backlog whose outcome
 * is known: every expected number below is computed by hand in the comments, from the definitions in the
 * module docstring.
 */
import { describe, expect, it } from "vitest";
import type { AttemptRecord, CardState, CardStatus, Verdict } from "../../src/domain/index.js";
import { computeBacklogMetrics, durationStats, percentile } from "../../src/domain/metrics.js";

const T0 = Date.parse("2025-01-01T00:00:00.000Z");
/** ISO time `m` minutes after T0. */
const at = (m: number) => new Date(T0 + m * 60_000).toISOString();
const MIN = 60_000;

type V = [Verdict["validator"], string[]];

/** An attempt; `fails` lists the failed validators with their reasons (none = passed). */
function attempt(n: number, fails: V[] = []): AttemptRecord {
  const verdicts: Verdict[] = fails.length
    ? fails.map(([validator, reasons]) => ({ validator, passed: false, reasons, at: at(0) }))
    : [
        { validator: "verification", passed: true, reasons: [], at: at(0) },
        { validator: "llm_judge", passed: true, score: 9, reasons: [], at: at(0) },
      ];
  return {
    attempt: n,
    workflowId: "b/X",
    workspace: `b/X/attempt-${n}`,
    artifacts: [],
    summary: "",
    verdicts,
    passed: fails.length === 0,
    cost: { inputTokens: 0, outputTokens: 0, usd: 0 },
    startedAt: at(0),
    finishedAt: at(0),
  };
}

/** A card state from its status history (`[status, minute]`), attempts, cost and completion. */
function card(
  id: string,
  history: [CardStatus, number][],
  attempts: AttemptRecord[],
  opts: { usd?: number; costAlert?: boolean; completed?: boolean; settled?: boolean } = {},
): CardState {
  const last = history[history.length - 1]!;
  return {
    backlogId: "b",
    card: { id, type: "DOC", title: id, description: "", priority: "MEDIUM", dependencies: [], acceptanceCriteria: [] },
    status: last[0],
    attempt: attempts.length,
    corrections: Math.max(0, attempts.length - 1),
    attempts,
    debugReports: [],
    artifacts: [],
    cost: { inputTokens: 0, outputTokens: 0, usd: opts.usd ?? 0 },
    costAlert: opts.costAlert ?? false,
    auditLog: [],
    statusHistory: history.map(([status, m]) => ({ status, at: at(m) })),
    waitingFor: [],
    legacyCorrections: [],
    settled: opts.settled ?? false,
    paused: false,
    backlogBudgetExhausted: false,
    createdAt: at(history[0]![1]),
    updatedAt: at(last[1]),
    ...(opts.completed ? { completedAt: at(last[1]) } : {}),
  };
}

const QA: V = ["qa", ["unit tests exited 1"]];
const EMPTY: V = ["verification", ['artifact "x.md" is empty']];

/**
 * Six cards, times in minutes after T0, "now" = minute 60:
 * - A: DONE first time. IN_PROGRESS 0 → APPROVED 3.                         $0.10
 * - B: judge rejects once, one correction. IN_PROGRESS 1 → REJECTED 5 → CORRECTING 5 → APPROVED 9.   $0.30
 * - C: QA fails 4 times (the judge too on attempt 3), escalated, a human approves at 30.             $1.20, cost alert
 *      loops REJECTED 3→REJECTED 5, 5→8, 8→10.
 * - D: verification fails (owner fails on attempt 3), escalated at 6, human clarify at 16 (one more
 *      round, REJECTED at 20), escalated again, human rejects at 40: REJECTED, at rest (settled)
 *      waiting for an ops retry/skip.                                                              $0.50
 *      loops 2→3, 3→4, 4→6, and the clarify round CORRECTING 16→REJECTED 20.
 * - E: BLOCKED by D at 40 (settled); never ran.
 * - F: still IN_PROGRESS since 35 (first attempt running: no finished attempt).
 */
const CARDS: CardState[] = [
  card(
    "A",
    [
      ["TODO", 0],
      ["IN_PROGRESS", 0],
      ["VALIDATING", 2],
      ["APPROVED", 3],
      ["DONE", 3],
    ],
    [attempt(1)],
    { usd: 0.1, completed: true },
  ),
  card(
    "B",
    [
      ["TODO", 0],
      ["IN_PROGRESS", 1],
      ["VALIDATING", 4],
      ["REJECTED", 5],
      ["CORRECTING", 5],
      ["APPROVED", 9],
      ["DONE", 9],
    ],
    [attempt(1, [["llm_judge", ['criterion "Rollback plan" not met']]]), attempt(2)],
    { usd: 0.3, completed: true },
  ),
  card(
    "C",
    [
      ["TODO", 0],
      ["IN_PROGRESS", 0],
      ["VALIDATING", 2],
      ["REJECTED", 3],
      ["CORRECTING", 3],
      ["REJECTED", 5],
      ["CORRECTING", 5],
      ["REJECTED", 8],
      ["CORRECTING", 8],
      ["REJECTED", 10],
      ["ESCALATED", 10],
      ["AWAITING_HUMAN", 10],
      ["APPROVED", 30],
      ["DONE", 30],
    ],
    [
      attempt(1, [QA]),
      attempt(2, [QA]),
      attempt(3, [QA, ["llm_judge", ['criterion "Names the API" not met']]]),
      attempt(4, [QA]),
    ],
    { usd: 1.2, costAlert: true, completed: true },
  ),
  card(
    "D",
    [
      ["TODO", 0],
      ["IN_PROGRESS", 0],
      ["VALIDATING", 1],
      ["REJECTED", 2],
      ["CORRECTING", 2],
      ["REJECTED", 3],
      ["CORRECTING", 3],
      ["REJECTED", 4],
      ["CORRECTING", 4],
      ["REJECTED", 6],
      ["ESCALATED", 6],
      ["AWAITING_HUMAN", 6],
      ["CORRECTING", 16],
      ["REJECTED", 20],
      ["ESCALATED", 20],
      ["AWAITING_HUMAN", 20],
      ["REJECTED", 40],
    ],
    [
      attempt(1, [EMPTY]),
      attempt(2, [EMPTY]),
      attempt(3, [["owner", ["Owner execution failed: agent exited 3"]]]),
      attempt(4, [EMPTY]),
      attempt(5, [EMPTY]),
    ],
    { usd: 0.5, settled: true },
  ),
  card(
    "E",
    [
      ["TODO", 0],
      ["BLOCKED", 40],
    ],
    [],
    { settled: true },
  ),
  card(
    "F",
    [
      ["TODO", 0],
      ["IN_PROGRESS", 35],
    ],
    [],
  ),
];

describe("computeBacklogMetrics on a backlog whose outcome is known", () => {
  const m = computeBacklogMetrics(CARDS, { now: at(60) });

  it("counts cards, cards run (A, B, C, D — E was blocked, F has no finished attempt) and statuses", () => {
    expect(m.cards).toBe(6);
    expect(m.cardsRun).toBe(4);
    expect(m.cardsByStatus).toEqual({ DONE: 3, REJECTED: 1, BLOCKED: 1, IN_PROGRESS: 1 });
  });

  it("rejection rate = failed attempts / attempts = (0 + 1 + 4 + 5) / (1 + 2 + 4 + 5) = 10/12", () => {
    expect(m.attempts).toBe(12);
    expect(m.failedAttempts).toBe(10);
    expect(m.rejectionRate).toBeCloseTo(10 / 12, 10);
  });

  it("average attempts per card = 12 attempts / 4 cards run = 3", () => {
    expect(m.averageAttemptsPerCard).toBe(3);
  });

  it("escalation rate = 2 escalated (C, D) / 4 cards run = 0.5", () => {
    expect(m.escalatedCards).toBe(2);
    expect(m.escalationRate).toBe(0.5);
  });

  it("first-time-right rate = 1 (A only) / 4 cards run = 0.25", () => {
    expect(m.firstTimeRightCards).toBe(1);
    expect(m.firstTimeRightRate).toBe(0.25);
  });

  it("time to approval: A 3 min, B 9−1 = 8 min, C 30 min → p50 (rank ⌈1.5⌉ = 2) 8 min, p95 (rank ⌈2.85⌉ = 3) 30 min, mean 41/3 min", () => {
    expect(m.timeToApproval).toEqual({
      count: 3,
      p50Ms: 8 * MIN,
      p95Ms: 30 * MIN,
      meanMs: (41 / 3) * MIN,
      maxMs: 30 * MIN,
    });
  });

  it("correction loops: B 4; C 2, 3, 2; D 1, 1, 2 and the clarify round 4 → sorted 1 1 2 2 2 3 4 4: p50 (rank 4) 2 min, p95 (rank ⌈7.6⌉ = 8) 4 min, mean 19/8 min", () => {
    expect(m.correctionLoop).toEqual({
      count: 8,
      p50Ms: 2 * MIN,
      p95Ms: 4 * MIN,
      meanMs: (19 / 8) * MIN,
      maxMs: 4 * MIN,
    });
  });

  it("throughput = 3 DONE cards / 1 hour (T0 → now, since F still runs) = 3 cards/hour; 5 cards finished (A, B, C ended, D, E at rest)", () => {
    expect(m.throughput).toEqual({ doneCards: 3, finishedCards: 5, wallTimeMs: 60 * MIN, doneCardsPerHour: 3 });
  });

  it("cost: total 0.10 + 0.30 + 1.20 + 0.50 = $2.10, mean $2.10 / 4 cards run = $0.525, one card (C) over the threshold", () => {
    expect(m.cost).toEqual({ totalUsd: 2.1, meanUsdPerCard: 0.525, overThreshold: 1, overThresholdCards: ["C"] });
  });

  it("top rejection reasons: QA 4× (C), verification 4× (D), then the 1× reasons alphabetically", () => {
    expect(m.topRejectionReasons).toEqual([
      { reason: "qa: unit tests exited 1", count: 4 },
      { reason: 'verification: artifact "x.md" is empty', count: 4 },
      { reason: 'llm_judge: criterion "Names the API" not met', count: 1 },
      { reason: 'llm_judge: criterion "Rollback plan" not met', count: 1 },
      { reason: "owner: Owner execution failed: agent exited 3", count: 1 },
    ]);
  });
});

describe("computeBacklogMetrics edge cases", () => {
  it("ends the wall time at the last completion once every card has ended (A, B, C: T0 → minute 30)", () => {
    const m = computeBacklogMetrics(CARDS.slice(0, 3), { now: at(999) });
    expect(m.throughput.wallTimeMs).toBe(30 * MIN);
    expect(m.throughput.doneCardsPerHour).toBe(6); // 3 DONE in half an hour
  });

  it("ends it at the last change of a card at rest when every card has finished (A–E: T0 → minute 40)", () => {
    const m = computeBacklogMetrics(CARDS.slice(0, 5), { now: at(999) });
    expect(m.throughput.wallTimeMs).toBe(40 * MIN);
    expect(m.throughput.finishedCards).toBe(5);
  });

  it("gives null ratios and statistics for no cards", () => {
    const m = computeBacklogMetrics([]);
    expect(m).toMatchObject({
      cards: 0,
      rejectionRate: null,
      averageAttemptsPerCard: null,
      escalationRate: null,
      firstTimeRightRate: null,
      timeToApproval: { count: 0, p50Ms: null, p95Ms: null },
      throughput: { wallTimeMs: 0, doneCardsPerHour: null },
      cost: { totalUsd: 0, meanUsdPerCard: null, overThreshold: 0 },
      topRejectionReasons: [],
    });
  });

  it("counts a card first-time-right by its attempt count, not its attempt number (a seed with 2 prior attempts)", () => {
    const seeded = card(
      "S",
      [
        ["TODO", 0],
        ["IN_PROGRESS", 0],
        ["APPROVED", 1],
        ["DONE", 1],
      ],
      [attempt(3)],
      { completed: true },
    );
    expect(computeBacklogMetrics([seeded]).firstTimeRightRate).toBe(1);
  });

  it("keeps only the 10 most frequent reasons and counts a reason once per verdict", () => {
    const reasons = Array.from({ length: 12 }, (_, i) => `r${String(i).padStart(2, "0")}`);
    const c = card(
      "R",
      [
        ["TODO", 0],
        ["IN_PROGRESS", 0],
        ["REJECTED", 1],
      ],
      [attempt(1, [["qa", [...reasons, "r00"]]])],
    );
    const top = computeBacklogMetrics([c]).topRejectionReasons;
    expect(top).toHaveLength(10);
    expect(top[0]).toEqual({ reason: "qa: r00", count: 1 });
  });
});

describe("percentile (nearest rank)", () => {
  it("takes the value at rank ⌈p/100 × n⌉", () => {
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3); // rank ⌈2.5⌉ = 3 of 1 2 3 4 5
    expect(percentile([5, 1, 4, 2, 3], 95)).toBe(5); // rank ⌈4.75⌉ = 5
    expect(percentile([7], 95)).toBe(7);
    expect(percentile([], 50)).toBeNull();
  });

  it("summarises durations", () => {
    expect(durationStats([10, 30, 20])).toEqual({ count: 3, meanMs: 20, p50Ms: 20, p95Ms: 30, maxMs: 30 });
  });
});
