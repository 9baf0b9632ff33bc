/**
 * One attempt of a card, shared by the card workflow (first and retried attempts) and correction
 * workflows: budget gate → owner (a council for a card that deliberates: src/workflows/deliberation.ts)
 * → verification (blocking gate) → budget gate → LLM-judge ‖ QA (‖ peer review, issue 12) — PRODUCT.md
 * "Validation" and the agent-kinds issue ("budgets … checked before each owner/judge run").
 * Workflow code: deterministic, no Node APIs.
 */
import { TimeoutType } from "@temporalio/common";
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  TimeoutFailure,
  condition,
  executeChild,
  isCancellation,
  log,
  patched,
  setHandler,
} from "@temporalio/workflow";
import { ownerEventSignal } from "../contract.js";
import { estimateRunUsd, runBudgetCheck, type SpentBefore } from "../domain/budget.js";
import { addCosts } from "../domain/cost.js";
import { decidePeerReview, type PeerReviewMoment } from "../domain/peer-review.js";
import { attemptWorkspace } from "../domain/ids.js";
import {
  councilSummary,
  deliberationWorkflowId,
  type CouncilRecord,
  type DeliberationInput,
  type DeliberationResult,
} from "../domain/deliberation.js";
import type {
  AgentSession,
  AttemptGit,
  AttemptRecord,
  CardPlan,
  CardStatus,
  Cost,
  CorrectionFeedback,
  DependencyArtifacts,
  OwnerEventSignal,
  OwnerResult,
  Verdict,
} from "../domain/index.js";
import { ActivityErrorType, type AgentFailureDetails } from "../domain/activity-errors.js";
import { repositoryActivities, squadActivities, summarized, type ActivityQueues } from "./activities.js";
import {
  VERIFY_ACTIVITY_SUMMARY,
  judgeActivitySummary,
  ownerActivitySummary,
  peerReviewActivitySummary,
  qaActivitySummary,
} from "../domain/ui-metadata.js";

/** What `runAttempt` needs. */
export interface AttemptInput {
  plan: CardPlan;
  queues: ActivityQueues;
  /** 1-based attempt number. */
  attempt: number;
  /** Workflow ID running the attempt (recorded in the attempt record). */
  workflowId: string;
  dependencies: DependencyArtifacts[];
  /** Workspace of the previous attempt, reworked by a correction. */
  previousWorkspace?: string;
  /** With a repository: the previous attempt's branch and commits, which a correction continues. */
  previousGit?: AttemptGit;
  /** Tools a human granted this card after a permission blocker (`approve`), added to the type's `allow_tools`. */
  grantedTools?: string[];
  /**
   * The previous attempt's agent session, which a correction's owner continues (`claude --resume`, `codex
   * exec resume`, `gemini --session-file`) — given only when the same agent ran it (see `resumableSessionOf`).
   */
  previousSession?: AgentSession;
  feedback?: CorrectionFeedback;
  /**
   * What the card has spent before this attempt, for the budget gate: USD, the costs of its earlier owner
   * and judge runs (estimates of the next ones), and what it heard of the backlog budget.
   */
  spent?: SpentBefore;
}

/** Hooks the running workflow gives the attempt. */
export interface AttemptHooks {
  /** Called with each status the attempt enters (IN_PROGRESS, VALIDATING). */
  onStatus: (status: CardStatus) => void;
  /** Awaited before each owner and validator run (the pause gate). */
  beforeRun?: () => Promise<void>;
}

function now(): string {
  return new Date().toISOString();
}

/** The deepest cause of an activity failure. */
function rootCause(err: unknown): unknown {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  return e;
}

/** The message of the deepest cause of an activity failure ("agent exited 1: …"). */
export function failureMessage(err: unknown): string {
  const e = rootCause(err);
  return e instanceof Error ? e.message : String(e);
}

/**
 * Owner runs whose every try ended because its worker stopped heartbeating (killed, machine lost) are
 * run again up to this many times before they count as an owner failure: a lost worker is not the agent
 * failing, and must not turn into a rejection and a correction round.
 */
export const MAX_WORKER_LOSSES = 5;

/** True when an activity failed because its worker stopped heartbeating (not because the agent failed). */
export function lostItsWorker(err: ActivityFailure): boolean {
  return err.cause instanceof TimeoutFailure && err.cause.timeoutType === TimeoutType.HEARTBEAT;
}

/** What a failed run had spent (agents report it in the failure's details), else nothing. */
/** The tools an owner failure says the agent was denied (`AgentPermissionError`), or undefined for any other failure. */
function permissionDenied(err: unknown): string[] | undefined {
  const e = rootCause(err);
  if (!(e instanceof ApplicationFailure) || e.type !== ActivityErrorType.AgentPermissionError) return undefined;
  return (e.details?.[0] as AgentFailureDetails | undefined)?.deniedTools ?? [];
}

export function failureCost(err: unknown): Cost | undefined {
  const e = rootCause(err);
  if (!(e instanceof ApplicationFailure)) return undefined;
  return (e.details?.[0] as AgentFailureDetails | undefined)?.cost;
}

/**
 * Runs one attempt. An owner that still fails after its retries yields a failed `owner` verdict with the
 * reason "Owner execution failed: …" (PRODUCT.md); validators run only on what the owner produced. A run
 * that would start over budget does not start: the record carries `budgetStop` and the card escalates.
 */
export async function runAttempt(input: AttemptInput, hooks: AttemptHooks): Promise<AttemptRecord> {
  const { plan, attempt } = input;
  const beforeRun = hooks.beforeRun ?? (async () => undefined);
  const acts = squadActivities(input.queues);
  // A council's attempt works in its winner's worktree (`…/attempt-<n>/<agent>`), known once it chose.
  let workspace = attemptWorkspace(plan.backlogId, plan.card.id, attempt);
  // With a repository the workspace is a git worktree (issue 9), under the worktrees root.
  const { repository } = plan;
  const workspaceRoot = repository ? ("worktrees" as const) : undefined;
  const startedAt = now();
  // The owner run's agent session (Claude Code session id, turns), shown on the attempt record once known.
  let session: AgentSession | undefined;
  let git: AttemptGit | undefined;
  // Which agent ran (a pooled owner's candidate) and what it was granted, once the owner has answered.
  let ran: Pick<AttemptRecord, "agentName" | "permissionRecovery" | "permissionBlocker"> = {};
  let council: CouncilRecord | undefined;
  // What the peer review decided (issue 12), once its reviewers answered.
  let peerReview: AttemptRecord["peerReview"];
  // The text of a `blocker` event the owner agent emitted (issue 12).
  let ownerBlocker: string | undefined;
  const record = (
    artifacts: string[],
    summary: string,
    verdicts: Verdict[],
    cost: Cost,
    budgetStop?: string,
  ): AttemptRecord => ({
    attempt,
    workflowId: input.workflowId,
    workspace,
    ...(workspaceRoot ? { workspaceRoot } : {}),
    artifacts,
    summary,
    verdicts,
    passed: budgetStop === undefined && verdicts.every((v) => v.passed),
    cost,
    feedback: input.feedback,
    startedAt,
    finishedAt: now(),
    ...(budgetStop ? { budgetStop } : {}),
    ...(session ? { session } : {}),
    ...(git ? { git } : {}),
    ...ran,
    ...(council ? { council } : {}),
    ...(peerReview ? { peerReview } : {}),
    ...(ownerBlocker !== undefined ? { ownerBlocker } : {}),
  });
  // A finished attempt's worktree goes (its branch stays, for corrections, the merge and `squadflow diff`).
  const done = async (...args: Parameters<typeof record>): Promise<AttemptRecord> => {
    await removeAttemptWorktree(plan, input.queues, workspace);
    return record(...args);
  };
  // The gate before a run: `spentNow` is what this attempt spent so far (not yet reported to the backlog).
  const gate = async (spentNow: number, estimateUsd: number) =>
    runBudgetCheck({
      cardSpentUsd: (input.spent?.cardUsd ?? 0) + spentNow,
      cardBudgetUsd: plan.budgetUsd,
      backlogSpentUsd: (await backlogSpentUsd(input, acts)) + spentNow,
      backlogBudgetUsd: input.spent?.backlogBudgetUsd,
      estimateUsd,
    });

  const ownerGate = await gate(0, estimateRunUsd(input.spent?.ownerRuns ?? []));
  if (!ownerGate.ok)
    return record([], "not started: over budget", [], { inputTokens: 0, outputTokens: 0, usd: 0 }, ownerGate.reason);

  hooks.onStatus("IN_PROGRESS");
  const allowTools = [...new Set([...(plan.typeConfig.permissions?.allow_tools ?? []), ...(input.grantedTools ?? [])])];
  const allowDirs = plan.typeConfig.permissions?.allow_dirs ?? [];
  let owner: OwnerResult | undefined;
  // A card that deliberates (issue 12) runs a council in place of the owner, unless this attempt reworks
  // an earlier one with feedback: a correction is the owner's, on the winner's branch.
  if (plan.deliberation && input.feedback === undefined && input.previousGit === undefined && patched("deliberation")) {
    await beforeRun();
    const d = await deliberate(input);
    council = d.council;
    if (d.budgetStop) return record([], "council not started: over budget", [], d.council.cost, d.budgetStop);
    if (!d.owner) {
      const why = d.council.proposals.map((p) => `${p.agent}: ${p.failed ?? "no score"}`).join("; ");
      const verdict: Verdict = {
        validator: "owner",
        passed: false,
        reasons: [`Owner execution failed: council of ${d.council.agents.length} agents left no proposal (${why})`],
        at: now(),
      };
      return done([], "council failed", [verdict], d.council.cost);
    }
    owner = d.owner;
    workspace = d.workspace!;
    git = owner.git;
    session = owner.session;
    ran = owner.agentName ? { agentName: owner.agentName } : {};
  }
  // `on_milestone` peer review (issue 12): reviews run at the owner's events, while it runs; workflows
  // started before that replay without it (`patched`).
  const atEvents =
    owner === undefined &&
    plan.peerReviewers?.length &&
    plan.typeConfig.peer_review?.trigger === "on_milestone" &&
    patched("peer-review-at-events")
      ? reviewsAtEvents(input, acts, workspaceRoot)
      : undefined;
  for (let workerLosses = 0; owner === undefined; workerLosses++) {
    try {
      await beforeRun();
      const runOwner = summarized(
        atEvents ? acts.runStoppableOwner : acts.runOwner,
        ownerActivitySummary(plan.agentName, attempt),
      );
      const ownerInput: Parameters<typeof runOwner>[0] = {
        backlogId: plan.backlogId,
        card: plan.card,
        attempt,
        agent: plan.agent,
        workspace,
        ...(repository
          ? { workspaceRoot, repository, ...(input.previousGit ? { previousGit: input.previousGit } : {}) }
          : { previousWorkspace: input.previousWorkspace }),
        dependencies: input.dependencies,
        feedback: input.feedback,
        budgetUsd: ownerGate.remainingUsd,
        pricing: plan.pricing,
        ...(plan.ownerCandidates ? { ownerCandidates: plan.ownerCandidates } : {}),
        ...(allowTools.length ? { allowTools } : {}),
        // Attempts scheduled before granted tools were passed apart replay without them (`patched`).
        ...(input.grantedTools?.length && patched("owner-granted-tools")
          ? { grantedTools: [...input.grantedTools] }
          : {}),
        ...(allowDirs.length ? { allowDirs } : {}),
        ...(input.previousSession ? { previousSession: input.previousSession } : {}),
        ...(atEvents ? { reviewAtEvents: true } : {}),
      };
      const result = atEvents ? await atEvents.run(() => runOwner(ownerInput)) : await runOwner(ownerInput);
      if (result === "stopped") {
        // A reviewer found a blocker at an event: the owner was stopped; nothing of it is validated or merged.
        const { verdict, signal } = atEvents!.reviewed!;
        peerReview = peerReviewRecord(verdict.reviews ?? [], "milestone", atEvents!.milestones, plan.card.id, attempt);
        return done(
          [],
          `owner stopped at its ${signal.event.kind} "${signal.event.name}": peer review blocker`,
          [verdict],
          verdict.cost ?? { inputTokens: 0, outputTokens: 0, usd: 0 },
        );
      }
      owner = result;
      session = owner.session;
      git = owner.git;
      ran = {
        ...(owner.agentName ? { agentName: owner.agentName } : {}),
        ...(owner.permissionRecovery ? { permissionRecovery: owner.permissionRecovery } : {}),
      };
      break;
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      // Workers that died under the agent (heartbeats stopped) are not the agent failing: run it again.
      if (lostItsWorker(err) && workerLosses < MAX_WORKER_LOSSES) {
        log.warn("Owner run lost its worker; running it again", {
          cardId: plan.card.id,
          attempt,
          workerLosses: workerLosses + 1,
        });
        continue;
      }
      const verdict: Verdict = {
        validator: "owner",
        passed: false,
        reasons: [`Owner execution failed: ${failureMessage(err)}`],
        at: now(),
      };
      const deniedTools = permissionDenied(err);
      if (deniedTools) ran = { ...ran, permissionBlocker: { deniedTools } };
      return done([], "owner failed", [verdict], failureCost(err) ?? { inputTokens: 0, outputTokens: 0, usd: 0 });
    }
  }

  // An owner that reported a blocker needs a human (issue 12): no validation, escalated at once.
  const blocker = owner.events?.find((e) => e.kind === "blocker");
  if (blocker && patched("owner-blocker-escalates")) {
    ownerBlocker = blocker.name;
    const verdict: Verdict = {
      validator: "owner",
      passed: false,
      reasons: [`the owner agent reported a blocker: ${blocker.name}`],
      at: now(),
    };
    return done(owner.artifacts, owner.summary, [verdict], addCosts(owner.cost, ...(atEvents?.costs() ?? [])));
  }

  hooks.onStatus("VALIDATING");
  await beforeRun();
  const { typeConfig, card } = plan;
  const { artifacts } = owner;
  const at = workspaceRoot ? { workspace, workspaceRoot } : { workspace };
  const verification = await failedAsVerdict(
    "verification",
    summarized(
      acts.verifyArtifacts,
      VERIFY_ACTIVITY_SUMMARY,
    )({ ...at, ...(git ? { git } : {}), artifacts, config: typeConfig.verification }),
  );
  // What reviews at the owner's events spent counts on every path (none ran without them).
  const ownerAndReviews = atEvents ? addCosts(owner.cost, ...atEvents.costs()) : owner.cost;
  if (!verification.passed) return done(artifacts, owner.summary, [verification], ownerAndReviews);

  const judgeGate = await gate(ownerAndReviews.usd, estimateRunUsd(input.spent?.judgeRuns ?? []));
  if (!judgeGate.ok) return done(artifacts, owner.summary, [verification], ownerAndReviews, judgeGate.reason);
  const ownerModel = plan.agent.kind !== "command" ? plan.agent.model : undefined;
  // Peer review runs beside the judge and QA (issue 12); workflows started before it replay without it.
  const reviewers =
    plan.peerReviewers?.length && typeConfig.peer_review && patched("peer-review") ? plan.peerReviewers : undefined;
  const milestones = (owner.events ?? []).filter((e) => e.kind !== "blocker").map((e) => e.name);
  const moment: PeerReviewMoment =
    typeConfig.peer_review?.trigger !== "on_milestone" ? "always" : milestones.length > 0 ? "milestone" : "end";
  // Reviewed at an event already: that review (the latest snapshot's) is the attempt's, none runs at the end.
  const reviewedAtEvent = reviewers ? atEvents?.reviewed : undefined;
  const [judge, qa, peer] = await Promise.all([
    failedAsVerdict(
      "llm_judge",
      summarized(
        acts.judgeArtifacts,
        judgeActivitySummary(typeConfig.judge),
      )({
        card,
        ...at,
        ...(git ? { git } : {}),
        artifacts,
        config: typeConfig.judge,
        pricing: plan.pricing,
        ownerModel,
      }),
    ),
    failedAsVerdict(
      "qa",
      summarized(acts.runQa, qaActivitySummary(typeConfig.qa.checks))({ ...at, checks: typeConfig.qa.checks }),
    ),
    reviewedAtEvent
      ? Promise.resolve(reviewedAtEvent.verdict)
      : reviewers
        ? failedAsVerdict(
            "peer_review",
            summarized(
              acts.reviewPeers,
              peerReviewActivitySummary(reviewers.map((r) => r.name)),
            )({
              backlogId: plan.backlogId,
              attempt,
              card,
              ...at,
              ...(git ? { git } : {}),
              artifacts,
              reviewers,
              moment,
              ...(milestones.length ? { milestones } : {}),
              pricing: plan.pricing,
            }),
          )
        : undefined,
  ]);
  if (peer?.reviews)
    peerReview = reviewedAtEvent
      ? peerReviewRecord(peer.reviews, "milestone", atEvents!.milestones, plan.card.id, attempt)
      : peerReviewRecord(peer.reviews, moment, milestones, plan.card.id, attempt);
  const verdicts = [verification, judge, qa, ...(peer ? [peer] : [])];
  // Reviews at earlier events (superseded by a later snapshot's) still cost what they cost.
  const earlier = reviewedAtEvent ? atEvents!.costs().slice(0, -1) : (atEvents?.costs() ?? []);
  const cost = addCosts(owner.cost, ...earlier, ...verdicts.flatMap((v) => (v.cost ? [v.cost] : [])));
  return done(artifacts, owner.summary, verdicts, cost);
}

/** What `reviewsAtEvents` gives the attempt: the owner run wrapper and what the reviews found. */
interface ReviewsAtEvents {
  /**
   * Runs the owner (`start`) while reviewing at each event it signals; resolves with its result once the
   * reviews are done too, or `"stopped"` when a review found a blocker and the owner was cancelled. An owner
   * failure is rethrown (after the review in flight).
   */
  run: (start: () => Promise<OwnerResult>) => Promise<OwnerResult | "stopped">;
  /** The latest finished review and the event whose snapshot it read; undefined when no event came. */
  readonly reviewed: { verdict: Verdict; signal: OwnerEventSignal } | undefined;
  /** Names of the events reviewed so far, in order. */
  readonly milestones: string[];
  /** The cost of every review at an event so far, one entry per review, in order (zero when unreported). */
  costs: () => Cost[];
}

/**
 * Peer review at the owner's events (issue 12, seed 003's event-based reviews, `trigger: "on_milestone"`):
 * the owner activity signals each milestone / request_review with a snapshot of the work
 * (`ownerEventSignal`, src/activities/owner-events.ts), and the reviewers review that snapshot while the
 * owner goes on. At most one review is in flight: events that come meanwhile wait, and only the latest of
 * them is reviewed next (the latest snapshot wins; the ones it superseded are never reviewed). After each
 * review the seed's decision tree applies at once: a **blocker** cancels the owner activity (its agent is
 * killed; `run` resolves `"stopped"`); ≥ 2 concerns, 1 concern and all-approve let the owner go on, and the
 * latest review is the attempt's `peer_review` verdict — ≥ 2 concerns then send the card to a human after
 * the owner run (card.ts), with the concerns as the question. When the owner ends, the review in flight and
 * a waiting event are still reviewed. No event at all: `reviewed` stays undefined and the attempt is
 * reviewed at its end (moment `end`).
 */
function reviewsAtEvents(
  input: AttemptInput,
  acts: ReturnType<typeof squadActivities>,
  workspaceRoot: "worktrees" | undefined,
): ReviewsAtEvents {
  const { plan, attempt } = input;
  const reviewers = plan.peerReviewers!;
  let waiting: OwnerEventSignal | undefined;
  const state: { reviewed?: { verdict: Verdict; signal: OwnerEventSignal } } = {};
  const milestones: string[] = [];
  const costs: Cost[] = [];
  setHandler(ownerEventSignal, (s) => {
    // One owner run signals its events one after the other, so the last one heard is the latest snapshot
    // (a retried run numbers its events from 1 again: `seq` names the snapshot, it does not order them).
    // Another attempt's late signal is not reviewed.
    if (s.attempt !== attempt) return;
    waiting = s;
  });
  const review = (s: OwnerEventSignal): Promise<Verdict> =>
    failedAsVerdict(
      "peer_review",
      summarized(
        acts.reviewPeers,
        peerReviewActivitySummary(reviewers.map((r) => r.name)),
      )({
        backlogId: plan.backlogId,
        attempt,
        card: plan.card,
        workspace: s.snapshot.workspace,
        ...(s.snapshot.git ? { workspaceRoot, git: s.snapshot.git } : {}),
        artifacts: s.snapshot.artifacts,
        reviewers,
        moment: "milestone",
        milestones: [...milestones, s.event.name],
        pricing: plan.pricing,
      }),
    );
  return {
    get reviewed() {
      return state.reviewed;
    },
    milestones,
    costs: () => [...costs],
    async run(start) {
      let ownerEnded = false;
      let stopped = false;
      const scope = new CancellationScope();
      const owner = scope.run(start);
      const reviewing = (async () => {
        for (;;) {
          await condition(() => waiting !== undefined || ownerEnded);
          const s = waiting;
          if (s === undefined) return;
          waiting = undefined;
          const verdict = await review(s);
          milestones.push(s.event.name);
          costs.push(verdict.cost ?? { inputTokens: 0, outputTokens: 0, usd: 0 });
          // A review that could not run says nothing about the work: the latest real one stays the attempt's.
          if (verdict.reviews) state.reviewed = { verdict, signal: s };
          if (verdict.reviews && decidePeerReview(verdict.reviews).action === "escalate" && !ownerEnded) {
            log.warn("Peer review blocker at an owner event; stopping the owner", {
              cardId: plan.card.id,
              attempt,
              event: s.event.name,
            });
            stopped = true;
            scope.cancel();
            return;
          }
        }
      })();
      try {
        const result = await owner;
        ownerEnded = true;
        await reviewing;
        return result;
      } catch (err) {
        ownerEnded = true;
        await reviewing;
        if (stopped && isCancellation(err)) return "stopped";
        throw err;
      }
    },
  };
}

/**
 * Runs the attempt's council as a child workflow (src/workflows/deliberation.ts), by name: the child's
 * module imports this one. A council whose workflow failed (a bug, not an agent) is an owner failure too.
 */
async function deliberate(input: AttemptInput): Promise<DeliberationResult> {
  const { plan, attempt } = input;
  const args: DeliberationInput = {
    plan: { ...plan, deliberation: plan.deliberation! },
    queues: input.queues,
    attempt,
    dependencies: input.dependencies,
    ...(input.grantedTools?.length ? { grantedTools: input.grantedTools } : {}),
    ...(input.spent ? { spent: input.spent } : {}),
  };
  const workflowId = deliberationWorkflowId(plan.backlogId, plan.card.id, attempt);
  try {
    return await executeChild<(i: DeliberationInput) => Promise<DeliberationResult>>("deliberationWorkflow", {
      workflowId,
      args: [args],
      staticSummary: councilSummary(
        plan.card.id,
        args.plan.deliberation.members.map((m) => m.name),
        attempt,
      ),
    });
  } catch (err) {
    // A cancelled card cancels its council: that is the card's cancellation, not an owner failure.
    if (!(err instanceof ChildWorkflowFailure) || isCancellation(err)) throw err;
    const error = failureMessage(err.cause ?? err);
    log.warn("Council workflow failed", { cardId: plan.card.id, workflowId, error });
    const council: CouncilRecord = {
      workflowId,
      agents: plan.deliberation!.members.map((m) => m.name),
      rounds: plan.deliberation!.rounds,
      architect: plan.deliberation!.architect === "top-score" ? "top-score" : plan.deliberation!.architect.name,
      topK: plan.deliberation!.topK,
      proposals: [],
      candidates: [],
      runs: [],
      cost: { inputTokens: 0, outputTokens: 0, usd: 0 },
    };
    return { council: { ...council, rationale: `council workflow failed: ${error}` } };
  }
}

/**
 * The attempt record's `peerReview`: the decision tree's action over the reviews (src/domain/peer-review.ts)
 * and its message — the question a human answers (`escalate`, `clarify`) or the warning (`warn`, also logged).
 */
function peerReviewRecord(
  reviews: NonNullable<Verdict["reviews"]>,
  moment: PeerReviewMoment,
  milestones: string[],
  cardId: string,
  attempt: number,
): AttemptRecord["peerReview"] {
  const decision = decidePeerReview(reviews);
  const message =
    decision.action === "warn" ? decision.warning : decision.action === "continue" ? undefined : decision.question;
  if (decision.action === "warn") log.warn("Peer review concern", { cardId, attempt, warning: decision.warning });
  return {
    moment,
    action: decision.action,
    ...(message !== undefined ? { message } : {}),
    ...(milestones.length ? { milestones } : {}),
  };
}

/**
 * Removes an attempt's worktree `workspace` of a backlog with a repository: after every attempt (also
 * when its owner failed: a half-made worktree goes too) and for a cancelled card. A removal that fails is
 * logged, never a failed attempt: the backlog's end (`finishRepository`) removes what is left.
 */
export async function removeAttemptWorktree(plan: CardPlan, queues: ActivityQueues, workspace: string): Promise<void> {
  if (!plan.repository) return;
  try {
    await repositoryActivities(queues).removeWorktree({
      backlogId: plan.backlogId,
      repository: plan.repository,
      workspace,
    });
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    log.warn("Could not remove the attempt worktree", { cardId: plan.card.id, workspace, error: failureMessage(err) });
  }
}

/**
 * What the backlog has spent, USD, as the gate sees it: read from the backlog workflow (its
 * `backlogBudget` query, through the `readBacklogBudget` activity) when the backlog has a budget — so a
 * run that would pass the backlog budget escalates instead of starting, and the agent gets what is left
 * as its own limit. Without a budget: 0, and nothing is read. When the read fails: what the card heard
 * (a backlog that said its budget is used up counts as spent to the limit). Workflows that started
 * before this read existed replay without it (`patched`).
 */
export async function backlogSpentUsd(
  input: Pick<AttemptInput, "plan" | "spent">,
  acts: ReturnType<typeof squadActivities>,
): Promise<number> {
  const spent = input.spent;
  if (spent?.backlogBudgetUsd === undefined) return 0;
  const heard = spent.backlogExhausted ? Math.max(spent.backlogSpentUsd ?? 0, spent.backlogBudgetUsd) : 0;
  if (!patched("read-backlog-budget")) return heard;
  try {
    const budget = await acts.readBacklogBudget({ backlogId: input.plan.backlogId });
    return Math.max(heard, budget.exhausted ? Math.max(budget.spentUsd, spent.backlogBudgetUsd) : budget.spentUsd);
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    log.warn("Could not read the backlog budget; gating on what the card knows", {
      cardId: input.plan.card.id,
      error: failureMessage(err),
    });
    return heard;
  }
}

/**
 * A validator that cannot run (after its retries, e.g. a QA command that is not installed, a judge whose
 * output never parses) is a failed verdict, never a silent pass: the card goes through corrections and
 * reaches a human with the reason. What it spent still counts.
 */
async function failedAsVerdict(validator: Verdict["validator"], run: Promise<Verdict>): Promise<Verdict> {
  try {
    return await run;
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    const cost = failureCost(err);
    return {
      validator,
      passed: false,
      reasons: [`validator could not run: ${failureMessage(err)}`],
      at: now(),
      ...(cost ? { cost } : {}),
    };
  }
}
