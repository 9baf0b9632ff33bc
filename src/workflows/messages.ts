/**
 * Signals between the backlog workflow and its card workflows (PRODUCT.md: "A card waits … until every
 * dependency is DONE (dependency signals)"), and the updates both the backlog and its shards answer.
 * Card-specific messages (human review, ops, state) live in card.ts; backlog-specific ones in backlog.ts.
 */
import { defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AuditEntry, FailedCardDecision, SettledStatus } from '../domain/index.js';

/** How a card's work came to rest, with its artifacts (relative to the workspaces root). */
export interface CardSettled {
  cardId: string;
  status: SettledStatus;
  artifacts: string[];
}

/** Backlog → card: a dependency came to rest (DONE lets the card run; anything else blocks it). Repeats are harmless. */
export const dependencyResolvedSignal = defineSignal<[CardSettled]>('dependencyResolved');

/** Backlog → card: a dependency that had come to rest was retried; wait for it again. */
export const dependencyReopenedSignal = defineSignal<[{ cardId: string }]>('dependencyReopened');

/** Backlog → card: pause (no new owner or validator run starts) or resume. */
export const setPausedSignal = defineSignal<[{ paused: boolean }]>('setPaused');

/** Card → backlog: the card came to rest (DONE, REJECTED by a human, BLOCKED). */
export const cardSettledSignal = defineSignal<[CardSettled]>('cardSettled');

/** Card → backlog: what an attempt cost, USD (sent only when the backlog has a budget). */
export const cardCostSignal = defineSignal<[{ cardId: string; usd: number }]>('cardCost');

/** Backlog → card: the backlog budget is used up; no new owner or judge run starts (the card escalates). */
export const backlogBudgetExhaustedSignal = defineSignal<[{ spentUsd: number }]>('backlogBudgetExhausted');

/** Card → backlog: a card that had come to rest was retried. */
export const cardReopenedSignal = defineSignal<[{ cardId: string }]>('cardReopened');

/** Backlog shard → backlog: every card of shard `index` (0-based page) has started; the next page may be sent. */
export const shardStartedSignal = defineSignal<[{ index: number }]>('shardStarted');

/**
 * Backlog → backlog shard: the backlog has registered the shard; start its cards (paused, or with the
 * backlog budget already used up, as the backlog is now).
 */
export const shardAcceptedSignal = defineSignal<[{ paused: boolean; budgetExhaustedUsd?: number }]>('shardAccepted');

/** Backlog shard → backlog: every card of shard `index` has ended; cards per final status and USD spent. */
export const shardFinishedSignal = defineSignal<[{ index: number; counts: Record<string, number>; costUsd: number }]>('shardFinished');

/**
 * Update of the backlog workflow (or of the shard that runs the card): `retry` a card whose run FAILED
 * (failed, terminated, timed out) — a new run of its workflow takes over the failed run's state and makes
 * a fresh attempt; its BLOCKED dependents wait again. The validator refuses an unknown card, a card that
 * has not failed, or a bad payload. Returns the backlog's audit entry.
 */
export const retryFailedCardUpdate = defineUpdate<AuditEntry, [FailedCardDecision]>('retryFailedCard');

/** Update, like `retryFailedCardUpdate`: `skip` a FAILED card — its new run ends DONE by decision (audited); dependents proceed. */
export const skipFailedCardUpdate = defineUpdate<AuditEntry, [FailedCardDecision]>('skipFailedCard');
