/**
 * The card lifecycle of PRODUCT.md ("Card lifecycle"): every status a card can have and, in one table,
 * every transition the card workflow may make. Pure: no Node, no I/O, no Temporal imports.
 */

/** Every status a card can be in (PRODUCT.md lifecycle plus the terminal BLOCKED/FAILED/CANCELLED). */
export const CARD_STATUSES = [
  'TODO',
  'IN_PROGRESS',
  'VALIDATING',
  'APPROVED',
  'DONE',
  'REJECTED',
  'CORRECTING',
  'ESCALATED',
  'AWAITING_HUMAN',
  'BLOCKED',
  'FAILED',
  'CANCELLED',
] as const;

/** A card status, e.g. `"AWAITING_HUMAN"`; stored in the `CardStatus` search attribute. */
export type CardStatus = (typeof CARD_STATUSES)[number];

/** The statuses a card workflow can end in. */
export const FINAL_STATUSES = ['DONE', 'REJECTED', 'BLOCKED', 'FAILED', 'CANCELLED'] as const;

/** A status a card workflow returns when it ends. */
export type FinalStatus = (typeof FINAL_STATUSES)[number];

/**
 * Allowed transitions, `from → [to…]`. REJECTED appears both as a step (before a correction or an
 * escalation) and as a final status (after a human reject). BLOCKED/FAILED/CANCELLED are reachable from
 * any non-final status and are added below rather than repeated in every row.
 */
const TRANSITIONS: Record<CardStatus, readonly CardStatus[]> = {
  TODO: ['IN_PROGRESS'],
  IN_PROGRESS: ['VALIDATING', 'REJECTED'],
  VALIDATING: ['APPROVED', 'REJECTED'],
  APPROVED: ['DONE'],
  DONE: [],
  REJECTED: ['CORRECTING', 'ESCALATED'],
  CORRECTING: ['APPROVED', 'REJECTED'],
  ESCALATED: ['AWAITING_HUMAN'],
  AWAITING_HUMAN: ['APPROVED', 'REJECTED', 'CORRECTING'],
  BLOCKED: [],
  FAILED: [],
  CANCELLED: [],
};

const ALWAYS_REACHABLE: readonly CardStatus[] = ['BLOCKED', 'FAILED', 'CANCELLED'];

/** Thrown when code asks for a transition the lifecycle table does not allow (a programming error). */
export class IllegalTransitionError extends Error {
  readonly type = 'IllegalTransitionError';
  constructor(
    readonly cardId: string,
    readonly from: CardStatus,
    readonly to: CardStatus,
  ) {
    super(`Card ${cardId}: illegal status transition ${from} → ${to} (see PRODUCT.md "Card lifecycle")`);
    this.name = 'IllegalTransitionError';
  }
}

/** True when `from → to` is allowed by the lifecycle table. */
export function canTransition(from: CardStatus, to: CardStatus): boolean {
  if (FINAL_STATUSES.includes(from as FinalStatus) && from !== 'REJECTED') return false;
  return TRANSITIONS[from].includes(to) || ALWAYS_REACHABLE.includes(to);
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
