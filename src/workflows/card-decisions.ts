/**
 * The human and ops decisions a card workflow takes (`humanReview`, `retry`, `skip`): validated in the
 * update validators (a refusal leaves no trace in history), accepted into a one-slot queue, and taken by the
 * lifecycle step that waits for them. Which decision a card takes in which status is the lifecycle's rule
 * (`acceptsDecision`, src/domain/lifecycle.ts). Workflow code.
 */
import { ApplicationFailure, condition } from "@temporalio/workflow";
import { SKIPPABLE_STATUSES, acceptsDecision, type DecisionKind } from "../domain/lifecycle.js";
import { parseHumanReview, parseOpsDecision } from "../domain/review.js";
import type { AuditEntry, CardState, HumanReview, OpsDecision } from "../domain/index.js";

/** A decision waiting to be acted on: a human review, or an ops `retry` / `skip`. */
export type PendingDecision =
  { kind: "review"; review: HumanReview } | { kind: "retry" | "skip"; decision: OpsDecision };

/** Appends an audit entry (who, what, why) to the card's audit log; see `CardLifecycle.audit`. */
export type Audit = (actor: string, action: string, reason: string) => AuditEntry;

/** The audited reason of a review: its reason, plus the context of a clarify. */
function reviewReason(review: HumanReview): string {
  return review.context ? `${review.reason} (context: ${review.context})` : review.reason;
}

/** A card's decisions: validation, idempotent acceptance (audited), and the queue the lifecycle waits on. */
export class CardDecisions {
  private pending: PendingDecision | undefined;

  /**
   * @param state the card's state (status, settled, audit log are read)
   * @param audit records an accepted decision in the audit log
   */
  constructor(
    private readonly state: CardState,
    private readonly audit: Audit,
  ) {}

  /** True when the card can take a decision of this kind now (`acceptsDecision`, domain/lifecycle.ts). */
  private accepts(kind: DecisionKind): boolean {
    return acceptsDecision(kind, {
      status: this.state.status,
      settled: this.state.settled,
      decisionPending: this.pending !== undefined,
    });
  }

  /**
   * The audit entry of an identical decision (same actor, action, reason) that was the last one applied,
   * when the card can no longer take it: a repeat, answered with the same entry and no change (idempotent).
   */
  private repeatOf(
    kind: "review" | "retry" | "skip",
    actor: string,
    action: string,
    reason: string,
  ): AuditEntry | undefined {
    if (this.accepts(kind)) return undefined;
    const last = [...this.state.auditLog].reverse().find((e) => e.actor !== "squadflow");
    return last && last.actor === actor && last.action === action && last.reason === reason ? last : undefined;
  }

  private parse<T>(fn: () => T, type: string): T {
    try {
      return fn();
    } catch (err) {
      throw ApplicationFailure.nonRetryable(`card ${this.state.card.id}: ${(err as Error).message}`, type);
    }
  }

  /**
   * Validates a human review (the update validator: throwing refuses it without a trace in history).
   * An identical repeat of the decision just applied is accepted (idempotent).
   * @throws ApplicationFailure naming the card and the problem.
   */
  assertReviewable(raw: unknown): HumanReview {
    const review = this.parse(() => parseHumanReview(raw), "InvalidHumanReview");
    if (this.repeatOf("review", review.reviewer, review.decision, reviewReason(review))) return review;
    if (!this.accepts("review")) {
      throw ApplicationFailure.nonRetryable(
        `card ${this.state.card.id} is not awaiting human review (status ${this.state.status})`,
        "CardNotAwaitingReview",
      );
    }
    return review;
  }

  /**
   * Validates an ops decision: `retry` when the card rests REJECTED or BLOCKED, `skip` when it waits
   * (TODO, BLOCKED, REJECTED, AWAITING_HUMAN). An identical repeat is accepted (idempotent).
   * @throws ApplicationFailure naming the card, its status and what is allowed.
   */
  assertOps(kind: "retry" | "skip", raw: unknown): OpsDecision {
    const decision = this.parse(() => parseOpsDecision(raw), "InvalidOpsDecision");
    if (this.repeatOf(kind, decision.reviewer, kind, decision.reason)) return decision;
    if (!this.accepts(kind)) {
      const when = kind === "retry" ? "REJECTED or BLOCKED, at rest" : SKIPPABLE_STATUSES.join(", ");
      throw ApplicationFailure.nonRetryable(
        `card ${this.state.card.id} cannot be ${kind === "retry" ? "retried" : "skipped"} in status ${this.state.status} (allowed: ${when})`,
        "CardOpsRefused",
      );
    }
    return decision;
  }

  /** Records an accepted human review; an identical repeat returns the first one's audit entry. */
  acceptReview(review: HumanReview): AuditEntry {
    const reason = reviewReason(review);
    const repeat = this.repeatOf("review", review.reviewer, review.decision, reason);
    if (repeat) return repeat;
    this.pending = { kind: "review", review };
    return this.audit(review.reviewer, review.decision, reason);
  }

  /** Records an accepted ops decision; an identical repeat returns the first one's audit entry. */
  acceptOps(kind: "retry" | "skip", decision: OpsDecision): AuditEntry {
    const repeat = this.repeatOf(kind, decision.reviewer, kind, decision.reason);
    if (repeat) return repeat;
    this.pending = { kind, decision };
    return this.audit(decision.reviewer, kind, decision.reason);
  }

  /** True when a `skip` waits to be applied. */
  skipRequested(): boolean {
    return this.pending?.kind === "skip";
  }

  /**
   * Waits for the next decision `accept` takes (it says which kinds count in this step), or until `orUntil`
   * holds. @returns the decision, taken off the queue; undefined when `orUntil` ended the wait.
   */
  async next(
    accept: (d: PendingDecision) => boolean,
    orUntil: () => boolean = () => false,
  ): Promise<PendingDecision | undefined> {
    await condition(() => (this.pending !== undefined && accept(this.pending)) || orUntil());
    if (this.pending === undefined || !accept(this.pending)) return undefined;
    const d = this.pending;
    this.pending = undefined;
    return d;
  }
}
