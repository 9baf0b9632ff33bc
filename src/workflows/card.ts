/**
 * The card workflow: one card of a backlog, `<backlogId>/<cardId>`, from TODO to a final status.
 * Reads like the lifecycle diagram of PRODUCT.md: wait for dependencies → run the owner → validate →
 * correct (child workflows, at most 3) or escalate to a human → finish.
 */
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  executeChild,
  isCancellation,
  log,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  MAX_CORRECTIONS,
  addCosts,
  correctionCardId,
  correctionWorkflowId,
  failureReasons,
  parseHumanReview,
  repeatedReasons,
  transition,
  type AttemptRecord,
  type AuditEntry,
  type CardOutcome,
  type CardPlan,
  type CardState,
  type CardStatus,
  type CorrectionFeedback,
  type DependencyArtifacts,
  type FinalStatus,
  type HumanReview,
} from '../domain/index.js';
import { squadActivities, type ActivityQueues } from './activities.js';
import { runAttempt } from './attempt.js';
import { correctionWorkflow } from './correction.js';
import { initialCardAttributes, upsertCardProgress } from './search-attributes.js';

// ---- Messages ---------------------------------------------------------------------------------

/** How a dependency ended, sent by the backlog workflow (or any tool) to each dependent. */
export interface DependencyResolved {
  cardId: string;
  status: FinalStatus;
  /** The dependency's artifacts, relative to the workspaces root. */
  artifacts: string[];
}

/** Signal: a dependency of this card reached a final status. Repeats are harmless. */
export const dependencyResolvedSignal = defineSignal<[DependencyResolved]>('dependencyResolved');

/** Query: the card's whole state (status, attempts with every verdict, cost, audit log, timestamps). */
export const cardStateQuery = defineQuery<CardState>('cardState');

/**
 * Update: a human decision on a card AWAITING_HUMAN. The validator refuses bad input (not awaiting
 * review, unknown decision, missing reviewer or reason) without touching history. Returns the audit entry.
 */
export const humanReviewUpdate = defineUpdate<AuditEntry, [HumanReview]>('humanReview');

/** Signal: the same decision as `humanReviewUpdate`, for tools that can only signal; bad input is logged and ignored. */
export const humanReviewSignal = defineSignal<[HumanReview]>('humanReviewSignal');

/** Input of the card workflow. */
export interface CardWorkflowInput {
  plan: CardPlan;
  queues: ActivityQueues;
}

// ---- Workflow ---------------------------------------------------------------------------------

/** Runs one card through the lifecycle; returns how it ended. */
export async function cardWorkflow({ plan, queues }: CardWorkflowInput): Promise<CardOutcome> {
  const card = new CardBook(plan);

  setHandler(cardStateQuery, () => card.state);
  setHandler(dependencyResolvedSignal, (dep) => card.resolveDependency(dep));
  setHandler(
    humanReviewUpdate,
    (review) => card.acceptReview(review),
    { validator: (review) => card.assertReviewable(review) },
  );
  setHandler(humanReviewSignal, (raw) => {
    try {
      card.acceptReview(card.assertReviewable(raw));
    } catch (err) {
      log.warn('Ignored human review signal', { cardId: plan.card.id, error: (err as Error).message });
    }
  });

  try {
    // 1. Wait, as TODO, until every dependency is DONE; any other ending blocks this card.
    await condition(() => card.state.waitingFor.length === 0 || card.blockingDependency() !== undefined);
    const blocker = card.blockingDependency();
    if (blocker) {
      card.state.blockedBy = blocker;
      return card.finish('BLOCKED', `blocked by ${blocker.cardId} (${blocker.status})`);
    }

    // 2. Owner, then the validation pipeline.
    let result = await runAttempt(
      { plan, queues, attempt: 1, workflowId: workflowInfo().workflowId, dependencies: card.dependencies() },
      (status) => card.setStatus(status, 1),
    );
    card.addAttempt(result);

    // 3. Corrections (at most MAX_CORRECTIONS, plus one per human clarify), then escalation.
    let correctionLimit = MAX_CORRECTIONS;
    let humanContext: string | undefined;
    let humanApproved = false;
    while (!result.passed) {
      card.setStatus('REJECTED');
      if (card.state.corrections < correctionLimit) {
        result = await runCorrection(card, queues, humanContext);
        continue;
      }
      card.setStatus('ESCALATED');
      card.audit('squadflow', 'escalated', `still failing after ${card.state.corrections} corrections: ${failureReasons(result.verdicts).join('; ')}`);
      card.setStatus('AWAITING_HUMAN');
      const review = await card.nextReview();
      if (review.decision === 'approve') {
        humanApproved = true;
        break;
      }
      if (review.decision === 'reject') return card.finish('REJECTED', `rejected by ${review.reviewer}: ${review.reason}`);
      humanContext = review.context;
      correctionLimit = card.state.corrections + 1;
      result = await runCorrection(card, queues, humanContext);
    }

    card.setStatus('APPROVED');
    if (humanApproved) log.info('Card approved by a human', { cardId: plan.card.id });
    return card.finish('DONE');
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(async () => card.finish('CANCELLED', 'cancelled'));
    }
    throw err;
  }
}

/**
 * One correction round (from REJECTED, or from AWAITING_HUMAN after `clarify`): the debugging agent first
 * when reasons repeat, then a correction child workflow with the aggregated feedback.
 */
async function runCorrection(card: CardBook, queues: ActivityQueues, humanContext?: string): Promise<AttemptRecord> {
  const { plan } = card;
  const history = card.state.attempts;
  const last = history[history.length - 1]!;
  const round = card.state.corrections + 1;
  const attempt = last.attempt + 1;
  card.setStatus('CORRECTING', attempt);
  const feedback: CorrectionFeedback = { round, reasons: failureReasons(last.verdicts), humanContext };

  // From the 2nd attempt on, when the same reasons repeat, the debugging agent runs first — PRODUCT.md.
  if (repeatedReasons(history).length > 0) {
    const report = await squadActivities(queues).debugFailures({ card: plan.card, history });
    card.state.debugReports.push(report);
    feedback.rootCause = report.rootCause;
    feedback.suggestions = report.suggestions;
  }

  card.state.corrections = round;
  const result = await executeChild(correctionWorkflow, {
    workflowId: correctionWorkflowId(plan.backlogId, plan.card.id, round),
    args: [{ plan, queues, attempt, round, dependencies: card.dependencies(), previousWorkspace: last.workspace, feedback }],
    typedSearchAttributes: card.correctionAttributes(round),
  });
  card.addAttempt(result);
  return result;
}

// ---- Bookkeeping ------------------------------------------------------------------------------

/** The card's state and the small helpers that keep it, its search attributes and its audit log current. */
class CardBook {
  readonly state: CardState;
  private readonly resolved = new Map<string, DependencyResolved>();
  private pendingReview: HumanReview | undefined;

  constructor(readonly plan: CardPlan) {
    const at = new Date().toISOString();
    for (const dep of plan.resolvedDependencies) {
      this.resolved.set(dep.cardId, { cardId: dep.cardId, status: 'DONE', artifacts: dep.artifacts });
    }
    this.state = {
      backlogId: plan.backlogId,
      card: plan.card,
      status: 'TODO',
      attempt: 0,
      corrections: 0,
      attempts: [],
      debugReports: [],
      artifacts: [],
      cost: { inputTokens: 0, outputTokens: 0, usd: 0 },
      costAlert: false,
      auditLog: [],
      statusHistory: [{ status: 'TODO', at }],
      waitingFor: plan.card.dependencies.filter((d) => !this.resolved.has(d)),
      legacyCorrections: plan.legacyCorrections,
      createdAt: at,
      updatedAt: at,
    };
    // Identity too, so that a card started on its own (not by a backlog) is just as visible.
    upsertSearchAttributes(initialCardAttributes(plan.backlogId, plan.card));
  }

  resolveDependency(dep: DependencyResolved): void {
    if (!this.plan.card.dependencies.includes(dep.cardId) || this.resolved.has(dep.cardId)) return;
    this.resolved.set(dep.cardId, dep);
    this.state.waitingFor = this.state.waitingFor.filter((d) => d !== dep.cardId);
    this.touch();
  }

  /** The first dependency that ended other than DONE, if any. */
  blockingDependency(): { cardId: string; status: FinalStatus } | undefined {
    for (const dep of this.resolved.values()) if (dep.status !== 'DONE') return { cardId: dep.cardId, status: dep.status };
    return undefined;
  }

  dependencies(): DependencyArtifacts[] {
    return this.plan.card.dependencies.map((id) => ({ cardId: id, artifacts: this.resolved.get(id)?.artifacts ?? [] }));
  }

  setStatus(status: CardStatus, attempt = this.state.attempt): void {
    if (status !== this.state.status) {
      this.state.status = transition(this.plan.card.id, this.state.status, status);
      this.state.statusHistory.push({ status, at: new Date().toISOString() });
    }
    this.state.attempt = attempt;
    this.touch();
    upsertCardProgress(this.state.status, attempt, this.state.cost.usd);
  }

  addAttempt(result: AttemptRecord): void {
    this.state.attempts.push(result);
    this.state.attempt = result.attempt;
    this.state.artifacts = result.artifacts.map((a) => `${result.workspace}/${a}`);
    this.state.cost = addCosts(this.state.cost, result.cost);
    if (!this.state.costAlert && this.state.cost.usd > this.plan.costAlertUsd) {
      this.state.costAlert = true;
      this.audit('squadflow', 'cost_alert', `cost $${this.state.cost.usd} exceeds the alert threshold $${this.plan.costAlertUsd}`);
      log.warn('Card cost alert', { cardId: this.plan.card.id, costUsd: this.state.cost.usd });
    }
    this.touch();
  }

  /**
   * Validates a human review against the card's state (the update validator: throwing here refuses the
   * update without a trace in history).
   * @throws ApplicationFailure naming the card and the problem.
   */
  assertReviewable(raw: unknown): HumanReview {
    let review: HumanReview;
    try {
      review = parseHumanReview(raw);
    } catch (err) {
      throw ApplicationFailure.nonRetryable(`card ${this.plan.card.id}: ${(err as Error).message}`, 'InvalidHumanReview');
    }
    if (this.state.status !== 'AWAITING_HUMAN' || this.pendingReview !== undefined) {
      throw ApplicationFailure.nonRetryable(
        `card ${this.plan.card.id} is not awaiting human review (status ${this.state.status})`,
        'CardNotAwaitingReview',
      );
    }
    return review;
  }

  /** Records an accepted human decision in the audit log; the main loop picks it up. */
  acceptReview(review: HumanReview): AuditEntry {
    this.pendingReview = review;
    const reason = review.context ? `${review.reason} (context: ${review.context})` : review.reason;
    return this.audit(review.reviewer, review.decision, reason);
  }

  /** Waits for the next accepted human decision. */
  async nextReview(): Promise<HumanReview> {
    await condition(() => this.pendingReview !== undefined);
    const review = this.pendingReview!;
    this.pendingReview = undefined;
    return review;
  }

  audit(actor: string, action: string, reason: string): AuditEntry {
    const entry: AuditEntry = { at: new Date().toISOString(), actor, action, reason };
    this.state.auditLog.push(entry);
    this.touch();
    return entry;
  }

  correctionAttributes(round: number) {
    return initialCardAttributes(this.plan.backlogId, this.plan.card, correctionCardId(this.plan.card.id, round));
  }

  finish(status: FinalStatus, message?: string): CardOutcome {
    this.setStatus(status);
    this.state.completedAt = this.state.updatedAt;
    return {
      cardId: this.plan.card.id,
      status,
      attempt: this.state.attempt,
      artifacts: this.state.artifacts,
      cost: this.state.cost,
      blockedBy: this.state.blockedBy,
      message,
      state: this.state,
    };
  }

  private touch(): void {
    this.state.updatedAt = new Date().toISOString();
  }
}
