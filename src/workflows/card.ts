/**
 * The card workflow: one card of a backlog, `<backlogId>/<cardId>`. Reads like the lifecycle diagram of
 * PRODUCT.md: wait for dependencies → run the owner → validate → correct (child workflows, at most 3) or
 * escalate to a human → DONE. A card REJECTED by a human or BLOCKED by a dependency comes to rest and
 * waits for an ops decision (`retry`, `skip`); only DONE and CANCELLED end it.
 */
import {
  CancellationScope,
  isCancellation,
  log,
  patched,
  setHandler,
  startChild,
  workflowInfo,
  type ChildWorkflowHandle,
} from "@temporalio/workflow";
import { failureReasons, repeatedReasons, resumableSessionOf } from "../domain/attempt.js";
import { previousRuns } from "../domain/budget.js";
import { attemptWorkspace, correctionWorkflowId } from "../domain/ids.js";
import { MAX_CORRECTIONS, afterFailedAttempt } from "../domain/lifecycle.js";
import type {
  AttemptRecord,
  AuditEntry,
  CardOutcome,
  CardPlan,
  CardRelay,
  CardState,
  CorrectionFeedback,
  HumanReview,
  NotificationEvent,
  OpsDecision,
} from "../domain/index.js";
import {
  drainNotifications,
  notifyInBackground,
  repositoryActivities,
  squadActivities,
  summarized,
  type ActivityQueues,
} from "./activities.js";
import { correctionSummary, debugActivitySummary, mergeActivitySummary } from "../domain/ui-metadata.js";
import { removeAttemptWorktree, runAttempt, type AttemptInput } from "./attempt.js";
import { CardLifecycle } from "./card-lifecycle.js";
import { reportCardFinished, reportCardRested, type CardFinalStatus } from "../observability/sinks.js";
import { correctionWorkflow } from "./correction.js";
import {
  backlogBudgetExhaustedSignal,
  cardStateQuery,
  dependencyReopenedSignal,
  dependencyResolvedSignal,
  humanReviewSignal,
  humanReviewUpdate,
  retryCardUpdate,
  setPausedSignal,
  skipCardUpdate,
} from "../contract.js";

// ---- Messages ---------------------------------------------------------------------------------

export { dependencyResolvedSignal, dependencyReopenedSignal, setPausedSignal };

export { cardStateQuery, humanReviewUpdate, humanReviewSignal, retryCardUpdate, skipCardUpdate };

/** Input of the card workflow. */
export interface CardWorkflowInput {
  plan: CardPlan;
  queues: ActivityQueues;
  /** Start paused (the backlog was paused when the card started). */
  paused?: boolean;
  /** A new run of a card whose previous run FAILED, started by its backlog on `retry` or `skip`. */
  restart?: CardRestart;
  /**
   * Present: the card tells its dependents itself when it comes to rest or is retried (one hop, no
   * coordinator step); absent (cards started on their own, or by backlogs of older versions): it tells
   * only its backlog, which relays.
   */
  relay?: CardRelay;
  /**
   * True when the starter set the card's search attributes (`initialCardAttributes`, as backlogs do): the
   * card then upserts only what changes, at most once per workflow task. Absent: it upserts its identity
   * at start and its progress on every change.
   */
  attributesSetAtStart?: boolean;
}

/** Why and how a FAILED card's workflow is run again (see `CardChildren.restart`). */
export interface CardRestart {
  kind: "retry" | "skip";
  decision: OpsDecision;
  /** Run ID of the failed run, whose state (a query of the closed run) the new run takes over. */
  previousRunId: string;
  /** Why that run failed. */
  failure: string;
}

// ---- Workflow ---------------------------------------------------------------------------------

/** Runs one card through the lifecycle; returns how it ended (DONE). Cancellation ends it CANCELLED. */
export async function cardWorkflow({
  plan,
  queues,
  paused,
  restart,
  relay,
  attributesSetAtStart,
}: CardWorkflowInput): Promise<CardOutcome> {
  const card = new CardLifecycle(plan, paused, relay, attributesSetAtStart);
  const run = new CardRun(card, queues);

  registerCardHandlers(card, run);

  try {
    // A new run after a failed one takes over its state; a skip ends it DONE at once.
    const skipped = restart !== undefined && (await restartAfterFailure(card, run, queues, restart)) === "DONE";
    while (!skipped) {
      // Wait for dependencies → attempt with corrections → escalate → merge (CardRun.untilRest).
      const ending = await run.untilRest();
      if (ending === "DONE") break;
      // REJECTED by a human or BLOCKED by a dependency: rest until an ops decision (or the blocker is cleared).
      if ((await restUntilOpsDecision(card, ending)) === "skip") {
        card.setStatus("DONE");
        break;
      }
      // Retried (or unblocked): reopen for a fresh start. Inline, not in a helper: the card's search
      // attributes are upserted two condition-loop passes after a change, so the awaits between this status
      // change and the next owner run are part of the recorded histories (test/fixtures/histories).
      await card.reopen();
      card.setStatus(ending === "BLOCKED" ? "TODO" : "REJECTED");
      run.freshStart(ending === "REJECTED");
    }
    return await finishDone(card, run);
  } catch (err) {
    if (isCancellation(err)) await finishCancelled(card, queues);
    throw err;
  }
}

/**
 * A card at rest (REJECTED or BLOCKED) tells its backlog and dependents, then waits for `retry` or `skip` —
 * or, when BLOCKED, for its blocker to be cleared (the dependency was retried).
 */
async function restUntilOpsDecision(card: CardLifecycle, ending: "REJECTED" | "BLOCKED"): Promise<"skip" | "reopen"> {
  await card.settle(ending);
  reportCardRested({ status: ending, cardType: card.state.card.type });
  const decision = await card.decisions.next(
    (d) => d.kind === "retry" || d.kind === "skip",
    () => ending === "BLOCKED" && card.dependencies.blocking() === undefined,
  );
  return decision?.kind === "skip" ? "skip" : "reopen";
}

/** DONE: tells the backlog and dependents, counts the end, lets notifications finish; returns the lean outcome. */
async function finishDone(card: CardLifecycle, run: CardRun): Promise<CardOutcome> {
  await card.settle("DONE");
  const outcome = card.finish("DONE");
  reportFinished(card, "DONE");
  await drainNotifications(run.notifications);
  return outcome;
}

/** CANCELLED (the backlog or an operator cancelled the card): removes its worktree and tells the backlog, even though cancelled. */
async function finishCancelled(card: CardLifecycle, queues: ActivityQueues): Promise<void> {
  await CancellationScope.nonCancellable(async () => {
    await removeCurrentWorktree(card, queues);
    card.finish("CANCELLED", "cancelled");
    reportFinished(card, "CANCELLED");
    await card.settle("CANCELLED");
  });
}

// ---- Message handlers: validate, then delegate ------------------------------------------------------

/** Registers the card's query, signals and updates; each validates its input and delegates to the card lifecycle or the run. */
function registerCardHandlers(card: CardLifecycle, run: CardRun): void {
  setHandler(cardStateQuery, () => card.state);
  setHandler(dependencyResolvedSignal, (dep) => card.dependencies.resolve(dep));
  setHandler(dependencyReopenedSignal, (reopened) => card.dependencies.reopen(reopened));
  setHandler(setPausedSignal, ({ paused }) => run.setPaused(paused));
  setHandler(backlogBudgetExhaustedSignal, ({ spentUsd }) => {
    card.state.backlogBudgetExhausted = true;
    card.state.backlogSpentUsd = spentUsd;
  });
  setHandler(humanReviewUpdate, (review) => card.decisions.acceptReview(review), {
    validator: (r) => void card.decisions.assertReviewable(r),
  });
  setHandler(humanReviewSignal, (raw) => {
    try {
      card.decisions.acceptReview(card.decisions.assertReviewable(raw));
    } catch (err) {
      log.warn("Ignored human review signal", { cardId: card.plan.card.id, error: (err as Error).message });
    }
  });
  setHandler(retryCardUpdate, (d) => card.decisions.acceptOps("retry", d), {
    validator: (d) => void card.decisions.assertOps("retry", d),
  });
  setHandler(skipCardUpdate, (d) => card.decisions.acceptOps("skip", d), {
    validator: (d) => void card.decisions.assertOps("skip", d),
  });
}

/**
 * Reads the failed run's state (the `cardState` query of that closed run, through the `readCardState`
 * activity) and continues from it (`CardLifecycle.restartAfterFailure`).
 * @throws ActivityFailure when the failed run cannot be read: this run fails too, and can be retried.
 */
async function restartAfterFailure(
  card: CardLifecycle,
  run: CardRun,
  queues: ActivityQueues,
  restart: CardRestart,
): Promise<"TODO" | "DONE"> {
  const previous = await squadActivities(queues).readCardState({
    workflowId: workflowInfo().workflowId,
    runId: restart.previousRunId,
  });
  const status = card.restartAfterFailure(previous, restart.failure, restart.kind, restart.decision);
  if (status === "TODO") run.freshStart(false); // a fresh correction budget too
  return status;
}

/**
 * A cancelled card's current attempt worktree is removed (issue 9, "a cancelled card's worktree is removed
 * too"); its branch stays until the backlog ends.
 */
async function removeCurrentWorktree(card: CardLifecycle, queues: ActivityQueues): Promise<void> {
  const { plan, state } = card;
  if (state.attempt > 0)
    await removeAttemptWorktree(plan, queues, attemptWorkspace(plan.backlogId, plan.card.id, state.attempt));
}

/**
 * Counts the card's end (DONE or CANCELLED) in the worker's Prometheus metrics, once: REJECTED / BLOCKED
 * rests are reported apart (`reportCardRested`), FAILED by the backlog. A sink: no history event, not
 * called on replay.
 */
function reportFinished(card: CardLifecycle, status: Extract<CardFinalStatus, "DONE" | "CANCELLED">): void {
  const { state } = card;
  reportCardFinished({ status, cardType: state.card.type, attempts: state.attempts.length, costUsd: state.cost.usd });
}

/** The latest attempt that made an attempt branch (with a repository), if any. */
function latestWithBranch(attempts: AttemptRecord[]): AttemptRecord | undefined {
  for (let i = attempts.length - 1; i >= 0; i--) if (attempts[i]!.git) return attempts[i];
  return undefined;
}

/** The steps of one card, from waiting for dependencies to coming to rest. */
class CardRun {
  private retryOfRejected = false;
  private correctionLimit = MAX_CORRECTIONS;
  private child: ChildWorkflowHandle<typeof correctionWorkflow> | undefined;

  constructor(
    private readonly card: CardLifecycle,
    private readonly queues: ActivityQueues,
  ) {}

  setPaused(paused: boolean): void {
    this.card.setPaused(paused);
    // A running correction round pauses too.
    void this.child?.signal(setPausedSignal, { paused }).catch(() => undefined);
  }

  /** After `retry`: a fresh attempt with a fresh correction budget (and no dependency wait after REJECTED). */
  freshStart(afterRejection: boolean): void {
    this.retryOfRejected = afterRejection;
    this.humanContext = undefined;
    this.correctionLimit = this.card.state.corrections + MAX_CORRECTIONS;
  }

  /** Runs until the card is DONE, rejected by a human, blocked by a dependency, or skipped (→ DONE). */
  async untilRest(): Promise<"DONE" | "REJECTED" | "BLOCKED"> {
    const { card } = this;
    // Not after a retry of a rejection: its dependencies were done.
    if (!this.retryOfRejected) {
      const waited = await this.waitForDependencies();
      if (waited !== "ready") return waited;
    }
    // The owner, then the validation pipeline; corrections and escalation until approved or decided.
    let result = await this.attempt();
    for (;;) {
      const approval = await this.untilApproved(result);
      if (approval.kind === "rejected") {
        card.setStatus("REJECTED");
        return "REJECTED";
      }
      if (approval.kind === "skipped") {
        await this.mergeSkipped(approval.decision);
        return this.skip();
      }
      card.setStatus("APPROVED");
      // Into the integration branch, exactly once; a conflict is a rejection like any other.
      const conflict = await this.merge(approval.human);
      if (!conflict) break;
      result = conflict;
    }
    card.setStatus("DONE");
    return "DONE";
  }

  /**
   * TODO until every dependency is DONE; a dependency that ends otherwise BLOCKs this card; a `skip` while
   * waiting ends it DONE.
   */
  private async waitForDependencies(): Promise<"ready" | "DONE" | "BLOCKED"> {
    const { card } = this;
    const skipped = await card.decisions.next(
      (d) => d.kind === "skip",
      () => card.state.waitingFor.length === 0 || card.dependencies.blocking() !== undefined,
    );
    if (skipped) return this.skip();
    const blocker = card.dependencies.blocking();
    if (!blocker) return "ready";
    card.state.blockedBy = blocker;
    card.setStatus("BLOCKED");
    return "BLOCKED";
  }

  /**
   * Corrections (at most MAX_CORRECTIONS, plus one per human clarify), then escalation, until an attempt
   * passes or a human decides. A run that would start over budget escalates at once.
   */
  private async untilApproved(
    first: AttemptRecord,
  ): Promise<
    { kind: "approved"; human?: HumanReview } | { kind: "rejected" } | { kind: "skipped"; decision: OpsDecision }
  > {
    const { card } = this;
    let result = first;
    while (!result.passed) {
      // Whether a denied permission escalates at once (runs recorded before that rule did not).
      const blocker =
        result.permissionBlocker && patched("permission-blocker-escalates") ? result.permissionBlocker : undefined;
      const peerQuestion =
        result.peerReview?.action === "escalate" || result.peerReview?.action === "clarify"
          ? result.peerReview.message
          : undefined;
      const next = afterFailedAttempt({
        cardType: card.plan.card.type,
        ...(result.budgetStop ? { budgetStop: result.budgetStop } : {}),
        ...(blocker ? { permissionBlocker: blocker } : {}),
        ...(result.ownerBlocker !== undefined ? { ownerBlocker: result.ownerBlocker } : {}),
        ...(peerQuestion !== undefined ? { peerQuestion } : {}),
        corrections: card.state.corrections,
        correctionLimit: this.correctionLimit,
        reasons: failureReasons(result.verdicts),
      });
      if (next.step === "correct" || !next.atOnce) card.setStatus("REJECTED");
      // Escalating at once goes to a human from where the attempt stopped (a budget stop may not have started).
      else if (!["TODO", "VALIDATING", "REJECTED"].includes(card.state.status)) card.setStatus("REJECTED");
      if (next.step === "correct") {
        result = await this.correct(this.humanContext);
        continue;
      }
      const decision = await this.escalate(next.reason);
      if (decision.kind === "skip") return { kind: "skipped", decision: decision.decision };
      if (decision.kind !== "review") continue;
      const review = decision.review;
      if (review.decision === "approve" && blocker) {
        // Approving a permission blocker grants the tools to this card, and the owner runs again with them.
        this.grantTools(blocker.deniedTools, review.reviewer);
        this.correctionLimit = card.state.corrections + 1;
        result = await this.correct(this.humanContext);
        continue;
      }
      if (review.decision === "approve") return { kind: "approved", human: review };
      if (review.decision === "reject") return { kind: "rejected" };
      this.humanContext = review.context;
      // A peer review's or the owner's question came before the card used its corrections: it keeps those left.
      this.correctionLimit =
        peerQuestion !== undefined || result.ownerBlocker !== undefined
          ? Math.max(this.correctionLimit, card.state.corrections + 1)
          : card.state.corrections + 1;
      result = await this.correct(this.humanContext);
    }
    return { kind: "approved" };
  }

  /** Context a human gave with `clarify`, passed to every later correction round of this run. */
  private humanContext: string | undefined;

  /** Tools humans granted this card after permission blockers (`approve`), for every later owner run. */
  private readonly grantedTools: string[] = [];

  /** Grants `tools` to this card's later owner runs; audited and kept in the card's state. */
  private grantTools(tools: readonly string[], reviewer: string): void {
    for (const t of tools) if (!this.grantedTools.includes(t)) this.grantedTools.push(t);
    this.card.state.grantedTools = [...this.grantedTools];
    this.card.audit(reviewer, "granted", `tools allowed for this card: ${tools.join(", ")}`);
  }

  /**
   * Merges the approved attempt (the latest one with a branch) into the integration branch — once: the
   * activity finds a merge it already made. Without a repository, or without an attempt branch (a human
   * approved an attempt whose owner failed), there is nothing to merge.
   * @returns undefined when merged (or nothing to merge); on a conflict, the attempt record with a failed
   *   `merge` verdict naming the files and the cards they came from (the card is then REJECTED).
   */
  private async merge(human?: { reviewer: string; decision: string }): Promise<AttemptRecord | undefined> {
    const { card } = this;
    const { plan } = card;
    const approved = latestWithBranch(card.state.attempts);
    if (!plan.repository || !approved?.git) return undefined;
    const merged = await summarized(
      repositoryActivities(this.queues).mergeAttempt,
      mergeActivitySummary(plan.card.id, approved.attempt, plan.repository.integrationBranch),
    )({
      backlogId: plan.backlogId,
      cardId: plan.card.id,
      title: plan.card.title,
      attempt: approved.attempt,
      repository: plan.repository,
      git: approved.git,
      costUsd: card.state.cost.usd,
      ...(human ? { human: { reviewer: human.reviewer, decision: human.decision } } : {}),
    });
    if (merged.status === "merged") {
      card.recordMerge({
        commit: merged.commit,
        integrationBranch: plan.repository.integrationBranch,
        attempt: approved.attempt,
        branch: approved.git.branch,
        at: new Date().toISOString(),
      });
      return undefined;
    }
    card.setStatus("REJECTED");
    return card.rejectMerge(approved, merged.files, merged.cards);
  }

  /**
   * A card skipped by a human while it has an attempt branch: its work is merged (trailer decision `skip`);
   * a conflict does not stop a skip (an override), it is audited instead.
   */
  private async mergeSkipped(decision: OpsDecision): Promise<void> {
    const conflict = await this.merge({ reviewer: decision.reviewer, decision: "skip" });
    if (conflict)
      this.card.audit(
        "squadflow",
        "not_merged",
        `skipped without merging: ${failureReasons(conflict.verdicts).join("; ")}`,
      );
  }

  /** ESCALATED → AWAITING_HUMAN (audited, notified), then the next human or ops decision. */
  private async escalate(reason: string) {
    const { card } = this;
    const { plan } = card;
    card.setStatus("ESCALATED");
    card.audit("squadflow", "escalated", reason);
    const about = {
      backlogId: plan.backlogId,
      cardId: plan.card.id,
      attempt: card.state.attempt,
      reason,
      workflowId: workflowInfo().workflowId,
    };
    this.notify({ event: "card.escalated", at: new Date().toISOString(), ...about });
    card.setStatus("AWAITING_HUMAN");
    this.notify({ event: "card.awaiting_human", at: new Date().toISOString(), ...about });
    return (await card.decisions.next((d) => d.kind === "review" || d.kind === "skip"))!;
  }

  /** Sends a notification in the background (remembered, so the workflow can let it finish). */
  private notify(event: NotificationEvent): void {
    const sent = notifyInBackground(this.queues, this.card.plan.webhooks, event);
    if (sent) this.notifications.push(sent);
  }

  /** Notifications still under way, drained (at most a minute) before the workflow ends. */
  readonly notifications: Promise<void>[] = [];

  /** Records an attempt's cost; tells the backlog (budget) and notifies a cost alert once. */
  private async record(result: AttemptRecord): Promise<void> {
    const { card } = this;
    const { plan } = card;
    if (card.addAttempt(result)) {
      this.notify({
        event: "card.cost_alert",
        at: new Date().toISOString(),
        backlogId: plan.backlogId,
        cardId: plan.card.id,
        attempt: result.attempt,
        costUsd: card.state.cost.usd,
        thresholdUsd: plan.costAlertUsd,
        workflowId: workflowInfo().workflowId,
      });
    }
    if (plan.backlogBudgetUsd !== undefined) await card.reportCost(result.cost.usd);
  }

  /** What the budget gate needs: this card's spend, its owner runs, the backlog budget's state. */
  private spent(): AttemptInput["spent"] {
    const { card } = this;
    return {
      cardUsd: card.state.cost.usd,
      ...previousRuns(card.state.attempts),
      backlogExhausted: card.state.backlogBudgetExhausted,
      backlogSpentUsd: card.state.backlogSpentUsd,
      backlogBudgetUsd: card.plan.backlogBudgetUsd,
    };
  }

  private skip(): "DONE" {
    this.card.setStatus("DONE");
    return "DONE";
  }

  /** A first attempt (or a retried one): owner and validators in this workflow. */
  private async attempt(): Promise<AttemptRecord> {
    const { card } = this;
    const attempt = card.nextAttempt();
    const result = await runAttempt(
      {
        plan: card.plan,
        queues: this.queues,
        attempt,
        workflowId: workflowInfo().workflowId,
        dependencies: card.dependencies.artifacts(),
        previousWorkspace: card.state.attempts[card.state.attempts.length - 1]?.workspace,
        ...(this.grantedTools.length ? { grantedTools: [...this.grantedTools] } : {}),
        spent: this.spent(),
      },
      { onStatus: (status) => card.setStatus(status, attempt), beforeRun: () => card.whileUnpaused() },
    );
    await this.record(result);
    return result;
  }

  /**
   * One correction round (from REJECTED, or from AWAITING_HUMAN after `clarify`): the debugging agent
   * first when reasons repeat, then a correction child workflow with the aggregated feedback.
   */
  private async correct(humanContext?: string): Promise<AttemptRecord> {
    const { card } = this;
    const { plan } = card;
    const history = card.state.attempts;
    const last = history[history.length - 1]!;
    const round = card.state.corrections + 1;
    const attempt = card.nextAttempt();
    card.setStatus("CORRECTING", attempt);
    const feedback: CorrectionFeedback = { round, reasons: failureReasons(last.verdicts), humanContext };

    // From the 2nd attempt on, when the same reasons repeat, the debugging agent runs first — PRODUCT.md.
    if (repeatedReasons(history).length > 0) {
      await card.whileUnpaused();
      const report = await summarized(
        squadActivities(this.queues).debugFailures,
        debugActivitySummary(plan.card.id, attempt),
      )({ card: plan.card, history, config: plan.debugger, pricing: plan.pricing });
      card.state.debugReports.push(report);
      if (report.cost) {
        card.addCost(report.cost);
        if (plan.backlogBudgetUsd !== undefined) await card.reportCost(report.cost.usd);
      }
      feedback.rootCause = report.rootCause;
      feedback.suggestions = report.suggestions;
    }

    card.state.corrections = round;
    const resumable = resumableSessionOf(history, plan.agentName);
    this.child = await startChild(correctionWorkflow, {
      workflowId: correctionWorkflowId(plan.backlogId, plan.card.id, round),
      args: [
        {
          plan,
          queues: this.queues,
          attempt,
          round,
          dependencies: card.dependencies.artifacts(),
          previousWorkspace: last.workspace,
          ...(latestWithBranch(history)?.git ? { previousGit: latestWithBranch(history)!.git } : {}),
          ...(resumable ? { previousSession: resumable } : {}),
          ...(this.grantedTools.length ? { grantedTools: [...this.grantedTools] } : {}),
          feedback,
          paused: card.state.paused,
          spent: this.spent(),
        },
      ],
      typedSearchAttributes: card.correctionAttributes(round),
      staticSummary: correctionSummary(plan.card, round),
    });
    const result = await this.child.result();
    this.child = undefined;
    await this.record(result);
    return result;
  }
}
