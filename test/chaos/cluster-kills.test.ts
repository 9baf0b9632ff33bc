/**
 * How the cluster's fault phase (scripts/cluster/faults.ts) attributes interrupted agent runs to worker
 * kills when several owner workers run side by side, each killed at most once and replaced.
 */
import { describe, expect, it } from "vitest";
import type { AgentRun, AttemptRuns } from "../../scripts/chaos/lib.js";
import { ownerKillHits, type WorkerKill } from "../../scripts/cluster/faults.js";

const run = (r: Partial<AgentRun> & Pick<AgentRun, "pid" | "parentAtStart" | "startedAt">): AgentRun => ({
  orphaned: false,
  ...r,
});

const attempt = (cardId: string, runs: AgentRun[]): AttemptRuns => ({
  cardId,
  attempt: 1,
  runs,
  started: runs.length,
  completed: runs.filter((r) => r.doneAt !== undefined).length,
  orphanCompleted: runs.filter((r) => r.orphaned).length,
});

describe("kills of several owner workers", () => {
  // Owner workers 100 and 200 run side by side; 100 is killed at 1000 (replaced by 101), a validation
  // worker at 1500, 200 at 2000 (replaced by 201).
  const kills: WorkerKill[] = [
    { at: 1000, pid: 100, kind: "owners", name: "worker-owners-1" },
    { at: 1500, pid: 300, kind: "validation", name: "worker-validation-1" },
    { at: 2000, pid: 200, kind: "owners", name: "worker-owners-2" },
  ];
  const workers = new Set([100, 101, 200, 201, 300]);

  it("charges an interrupted run to the kill of its own worker, not to an earlier kill of another", () => {
    const attempts = [
      attempt("A", [
        run({ pid: 1, parentAtStart: 100, startedAt: 900 }),
        run({ pid: 2, parentAtStart: 101, startedAt: 21_000, doneAt: 21_500 }),
      ]),
      // Running on 200 when 100 was killed: untouched by that kill, interrupted by the kill of 200.
      attempt("B", [
        run({ pid: 3, parentAtStart: 200, startedAt: 900 }),
        run({ pid: 4, parentAtStart: 201, startedAt: 22_500, doneAt: 23_000 }),
      ]),
      // Completed under 200 between the two owner kills: not interrupted.
      attempt("C", [run({ pid: 5, parentAtStart: 200, startedAt: 1100, doneAt: 1600 })]),
    ];
    const { hits, retryGapsMs } = ownerKillHits(attempts, kills, workers);
    expect(hits).toEqual([["A#1"], [], ["B#1"]]);
    expect(retryGapsMs).toEqual([20_000, 20_500]);
  });

  it("charges a run whose worker died before it logged its start to the last owner kill before it", () => {
    const attempts = [attempt("D", [run({ pid: 6, parentAtStart: 1, startedAt: 2050 })])];
    expect(ownerKillHits(attempts, kills, workers).hits).toEqual([[], [], ["D#1"]]);
  });

  it("charges a run that outlived its killed worker (orphaned) to that worker's kill", () => {
    const attempts = [
      attempt("E", [run({ pid: 7, parentAtStart: 200, startedAt: 1900, doneAt: 2100, orphaned: true })]),
    ];
    expect(ownerKillHits(attempts, kills, workers).hits).toEqual([[], [], ["E#1"]]);
  });
});
