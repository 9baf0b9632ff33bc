/**
 * The card lifecycle of PRODUCT.md ("Card lifecycle"): every status a card can have and, in one table,
 * every transition the card workflow may make. Pure: no Node, no I/O, no Temporal imports.
 */

/** Every status a card can be in (PRODUCT.md lifecycle plus the terminal BLOCKED/FAILED/CANCELLED). */
export const CARD_STATUSES = [
  "TODO",
  "IN_PROGRESS",
  "VALIDATING",
  "APPROVED",
  "DONE",
  "REJECTED",
  "CORRECTING",
  "ESCALATED",
  "AWAITING_HUMAN",
  "BLOCKED",
  "FAILED",
  "CANCELLED",
] as const;

/** A card status, e.g. `"AWAITING_HUMAN"`; stored in the `CardStatus` search attribute. */
export type CardStatus = (typeof CARD_STATUSES)[number];

/**
 * The statuses that end a card workflow run. (A card REJECTED by a human or BLOCKED by a dependency stays
 * open, waiting for an ops decision — `retry` or `skip`; a FAILED one — its run failed, was terminated or
 * timed out — waits in its backlog for the same decisions, which start a new run of it.)
 */
export const FINAL_STATUSES = ["DONE", "FAILED", "CANCELLED"] as const;

/** A status that ends a card workflow. */
export type FinalStatus = (typeof FINAL_STATUSES)[number];

/**
 * The statuses in which a card's work has come to rest, as its dependents see it: DONE lets them run;
 * any other leaves them BLOCKED until the card is retried or skipped.
 */
export const SETTLED_STATUSES = ["DONE", "REJECTED", "BLOCKED", "FAILED", "CANCELLED"] as const;

/** How a card's work came to rest (see SETTLED_STATUSES). */
export type SettledStatus = (typeof SETTLED_STATUSES)[number];

/**
 * Allowed transitions, `from → [to…]` — PRODUCT.md "Card lifecycle" plus the ops decisions of the
 * operations issue: `retry` (REJECTED → IN_PROGRESS, BLOCKED → TODO, FAILED → TODO in a new run of the
 * card's workflow), `skip` (→ DONE by decision from any
 * waiting status), and the budget gate (a run that would start over budget escalates instead:
 * TODO/VALIDATING → ESCALATED). FAILED and CANCELLED are reachable from any non-final status and are added
 * below rather than repeated in every row.
 */
const TRANSITIONS: Record<CardStatus, readonly CardStatus[]> = {
  TODO: ["IN_PROGRESS", "BLOCKED", "ESCALATED", "DONE"],
  IN_PROGRESS: ["VALIDATING", "REJECTED"],
  VALIDATING: ["APPROVED", "REJECTED", "ESCALATED"],
  // A merge conflict of an approved attempt is a rejection (PRODUCT.md "Repository").
  APPROVED: ["DONE", "REJECTED"],
  DONE: [],
  REJECTED: ["CORRECTING", "ESCALATED", "IN_PROGRESS", "DONE"],
  CORRECTING: ["APPROVED", "REJECTED"],
  ESCALATED: ["AWAITING_HUMAN"],
  AWAITING_HUMAN: ["APPROVED", "REJECTED", "CORRECTING", "DONE"],
  BLOCKED: ["TODO", "DONE"],
  // A card whose workflow failed (terminated, timed out) is restarted by its backlog on `retry` / `skip`.
  FAILED: ["TODO", "DONE"],
  CANCELLED: [],
};

const ALWAYS_REACHABLE: readonly CardStatus[] = ["FAILED", "CANCELLED"];

/** Thrown when code asks for a transition the lifecycle table does not allow (a programming error). */
export class IllegalTransitionError extends Error {
  readonly type = "IllegalTransitionError";
  constructor(
    readonly cardId: string,
    readonly from: CardStatus,
    readonly to: CardStatus,
  ) {
    super(`Card ${cardId}: illegal status transition ${from} → ${to} (see PRODUCT.md "Card lifecycle")`);
    this.name = "IllegalTransitionError";
  }
}

/** True when `from → to` is allowed by the lifecycle table. */
export function canTransition(from: CardStatus, to: CardStatus): boolean {
  if (TRANSITIONS[from].includes(to)) return true;
  return !FINAL_STATUSES.includes(from as FinalStatus) && ALWAYS_REACHABLE.includes(to);
}

/**
 * Returns `to` when `from → to` is allowed.
 * @throws IllegalTransitionError otherwise.
 */
export function transition(cardId: string, from: CardStatus, to: CardStatus): CardStatus {
  if (!canTransition(from, to)) throw new IllegalTransitionError(cardId, from, to);
  return to;
}

/** Maximum number of correction rounds before escalation — PRODUCT.md ("at most 3"). */
export const MAX_CORRECTIONS = 3;

/** Statuses in which `skip` is accepted: the card waits (for dependencies, a human, or an ops decision). */
export const SKIPPABLE_STATUSES: readonly CardStatus[] = ["TODO", "BLOCKED", "REJECTED", "AWAITING_HUMAN"];

/** A decision a card takes: a human review, or an ops `retry` / `skip`. */
export type DecisionKind = "review" | "retry" | "skip";

/**
 * True when a card can take a decision of this kind now — the operations issue and PRODUCT.md
 * "Escalation": a review only while AWAITING_HUMAN, `retry` only at rest (REJECTED by a human or BLOCKED,
 * `settled`), `skip` in any {@link SKIPPABLE_STATUSES}; never while an earlier decision waits to be applied.
 */
export function acceptsDecision(
  kind: DecisionKind,
  card: { status: CardStatus; settled: boolean; decisionPending: boolean },
): boolean {
  if (card.decisionPending) return false;
  if (kind === "review") return card.status === "AWAITING_HUMAN";
  if (kind === "retry") return card.settled;
  return SKIPPABLE_STATUSES.includes(card.status);
}

/**
 * True when a card does nothing more until someone acts: it has ended, waits for a human, rests for an
 * ops decision (`settled`), or waits as TODO for a dependency that is not DONE (`doneCardIds`). A card
 * still TODO whose dependencies are all DONE is not idle: their signals have yet to reach it.
 */
export function isCardIdle(
  card: { final: boolean; status: string; settled?: boolean; waitingFor?: readonly string[] },
  doneCardIds: ReadonlySet<string>,
): boolean {
  return (
    card.final ||
    card.status === "AWAITING_HUMAN" ||
    card.settled === true ||
    (card.status === "TODO" && (card.waitingFor ?? []).some((d) => !doneCardIds.has(d)))
  );
}

/**
 * What a card does with an attempt that did not pass (PRODUCT.md "Lifecycle"): a correction round while
 * it has rounds left, else escalation to a human. Four things escalate at once, whatever rounds are left,
 * because a correction would meet them again: a run the budget stopped (issue 8), a permission the owner was
 * denied outside its card type's policy (issue 11), a `blocker` event of the owner agent itself (it says it
 * needs a human — seed 003's agent events, issue 12), and a peer-review blocker or ≥ 2 concerns (seed 003's
 * decision tree, issue 12). `reason` is what the card's audit log and the human see.
 */
export type FailedAttemptStep = { step: "correct" } | { step: "escalate"; reason: string; atOnce: boolean };

/** What `afterFailedAttempt` reads of a failed attempt and the card. */
export interface FailedAttemptFacts {
  cardType: string;
  /** Why the budget gate stopped a run (the attempt's `budgetStop`). */
  budgetStop?: string;
  /** Tools the owner was denied outside the policy (only when that rule applies to this run). */
  permissionBlocker?: { deniedTools: string[] };
  /** The text of a `blocker` event the owner agent emitted (the attempt's `ownerBlocker`). */
  ownerBlocker?: string;
  /** The peer review's question when it escalates or asks to clarify. */
  peerQuestion?: string;
  /** Correction rounds used, and the most this run of the card may use. */
  corrections: number;
  correctionLimit: number;
  /** The failed verdicts' reasons ("judge: …", "qa: …"). */
  reasons: string[];
}

/** The next step after a failed attempt; see `FailedAttemptStep`. Pure, used by the card workflow. */
export function afterFailedAttempt(f: FailedAttemptFacts): FailedAttemptStep {
  if (f.budgetStop) return { step: "escalate", atOnce: true, reason: `over budget: ${f.budgetStop}` };
  if (f.permissionBlocker) {
    const denied = f.permissionBlocker.deniedTools.join(", ") || "a tool";
    return {
      step: "escalate",
      atOnce: true,
      reason:
        `permission blocker: the owner was denied ${denied}, outside card type ` +
        `${f.cardType}'s permissions.allow_tools — approve to allow it for this card, reject, or clarify`,
    };
  }
  if (f.ownerBlocker !== undefined) {
    return {
      step: "escalate",
      atOnce: true,
      reason:
        `owner blocker: the agent reported "${f.ownerBlocker}" — clarify to answer it (your answer goes to the ` +
        "owner), approve to accept the work as it is, or reject",
    };
  }
  if (f.peerQuestion !== undefined) return { step: "escalate", atOnce: true, reason: f.peerQuestion };
  if (f.corrections < f.correctionLimit) return { step: "correct" };
  return {
    step: "escalate",
    atOnce: false,
    reason: `still failing after ${f.corrections} corrections: ${f.reasons.join("; ")}`,
  };
}
