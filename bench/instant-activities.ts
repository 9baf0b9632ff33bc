/**
 * "Instant agents": stand-ins for squadflow's activities that return at once, with the same names and
 * result shapes as `createActivities` (src/activities/index.ts) — a minimal owner that reports one
 * artifact, and validators that pass. The real workflows run unchanged on top of them, so the benchmark
 * measures orchestration (Temporal round trips, workflow code, history), not agents.
 *
 * Also the activities of the bare baseline (bench/bare-workflow.ts): the same four steps, nothing else.
 */
import { createReadBacklogBudget, createReadCardState } from "../src/activities/workflow-queries.js";
import type { Activities } from "../src/activities/index.js";
import type { NotifyResult } from "../src/activities/notify.js";
import type {
  DebugInput,
  DebugReport,
  JudgeInput,
  OwnerInput,
  OwnerResult,
  QaInput,
  Verdict,
  VerificationInput,
} from "../src/domain/index.js";

/** What the instant activities record while a run goes on (wall-clock ms, `Date.now()` of the worker). */
export interface ActivityClock {
  /** Owner start of each card's first attempt, by card id. */
  ownerStart: Map<string, number>;
  /** Owner runs started (every attempt). */
  ownerRuns: number;
  /** QA runs finished — the last activity of an attempt: a card near DONE. */
  qaRuns: number;
}

/** A fresh, empty {@link ActivityClock}. */
export function newActivityClock(): ActivityClock {
  return { ownerStart: new Map(), ownerRuns: 0, qaRuns: 0 };
}

const ZERO_COST = { inputTokens: 0, outputTokens: 0, usd: 0 };

function pass(validator: Verdict["validator"], score?: number): Verdict {
  return {
    validator,
    passed: true,
    ...(score !== undefined ? { score } : {}),
    reasons: [],
    at: new Date().toISOString(),
  };
}

/** The instant activities squadflow's workflows call, recording owner starts into `clock`. */
export function instantActivities(clock: ActivityClock) {
  const activities = {
    async runOwner(input: OwnerInput): Promise<OwnerResult> {
      const now = Date.now();
      clock.ownerRuns++;
      if (!clock.ownerStart.has(input.card.id)) clock.ownerStart.set(input.card.id, now);
      return { artifacts: ["README.md"], summary: "instant owner", cost: ZERO_COST };
    },
    async verifyArtifacts(_input: VerificationInput): Promise<Verdict> {
      return pass("verification");
    },
    async judgeArtifacts(_input: JudgeInput): Promise<Verdict> {
      return pass("llm_judge", 10);
    },
    async runQa(_input: QaInput): Promise<Verdict> {
      clock.qaRuns++;
      return pass("qa");
    },
    async debugFailures(_input: DebugInput): Promise<DebugReport> {
      return { rootCause: "none (instant agents never fail)", suggestions: [], repeatedReasons: [] };
    },
    async notify(): Promise<NotifyResult> {
      return { id: "bench", delivered: [], skipped: 0 };
    },
    readBacklogBudget: createReadBacklogBudget(), // the real ones (benchmarked backlogs have no budget, no failed card)
    readCardState: createReadCardState(),
    // Benchmarked backlogs configure no peer review (issue 12): the workflows never call it.
    async reviewPeers(): Promise<never> {
      throw new Error("instant activities: benchmarked backlogs have no peer review");
    },
    // Benchmarked backlogs target no repository (issue 9): the workflows never call these.
    async mergeAttempt(): Promise<never> {
      throw new Error("instant activities: benchmarked backlogs have no repository");
    },
    async removeWorktree(): Promise<never> {
      throw new Error("instant activities: benchmarked backlogs have no repository");
    },
    async finishRepository(): Promise<never> {
      throw new Error("instant activities: benchmarked backlogs have no repository");
    },
    async pushIntegrationBranch(): Promise<never> {
      throw new Error("instant activities: benchmarked backlogs have no repository");
    },
    // Benchmarked backlogs have no council (issue 12).
    async critiqueProposal(): Promise<never> {
      throw new Error("instant activities: benchmarked backlogs have no council");
    },
    async askArchitect(): Promise<never> {
      throw new Error("instant activities: benchmarked backlogs have no council");
    },
  } satisfies Activities;
  return activities;
}

/** Input of every bare activity: which card it works for. */
export interface BareStepInput {
  cardId: string;
}

/** The bare baseline's four activities (owner, verification, judge, QA): each returns a tiny value at once. */
export function bareActivities(clock: ActivityClock) {
  return {
    async bareOwner({ cardId }: BareStepInput): Promise<string[]> {
      const now = Date.now();
      clock.ownerRuns++;
      if (!clock.ownerStart.has(cardId)) clock.ownerStart.set(cardId, now);
      return ["README.md"];
    },
    async bareVerify(_input: BareStepInput): Promise<boolean> {
      return true;
    },
    async bareJudge(_input: BareStepInput): Promise<boolean> {
      return true;
    },
    async bareQa(_input: BareStepInput): Promise<boolean> {
      clock.qaRuns++;
      return true;
    },
  };
}

/** The bare activities' interface, for `proxyActivities<BareActivities>()` in the bare workflow. */
export type BareActivities = ReturnType<typeof bareActivities>;
