/**
 * The contract between squadflow's workflows and everything that talks to them: every signal, query and
 * update definition (STYLE.md "One contract module"). It imports only `@temporalio/workflow` and domain
 * types, so workflows, activities (the budget and card-state reads) and the CLI all import it, and no
 * arrow runs from activities to workflows.
 *
 *   card workflow      cardState, humanReview (update + signal), retry, skip, dependencyResolved,
 *                      dependencyReopened, setPaused, backlogBudgetExhausted
 *   correction         correctionState, setPaused
 *   backlog workflow   backlogState, backlogBudget, pause, resume, addCards, retryFailedCard,
 *                      skipFailedCard, cardSettled, cardReopened, cardCost, shardStarted, shardFinished
 *   backlog shard      backlogState, retryFailedCard, skipFailedCard, shardAccepted, setPaused, …
 */
import { defineQuery, defineSignal, defineUpdate } from "@temporalio/workflow";
import type { AuditEntry, CardState, FailedCardDecision, HumanReview, OpsDecision } from "./domain/index.js";
import type {
  BacklogBudget,
  BacklogState,
  CardReopened,
  CardSettled,
  CorrectionState,
  ShardRegistration,
} from "./domain/backlog-state.js";

// ---- card workflow --------------------------------------------------------------------------------

/** Query: the card's whole state (status, attempts with every verdict, cost, audit log, timestamps, merge). */
export const cardStateQuery = defineQuery<CardState>("cardState");

/**
 * Update: a human decision on a card AWAITING_HUMAN. The validator refuses bad input (not awaiting
 * review, unknown decision, missing reviewer or reason) without touching history. Returns the audit entry.
 */
export const humanReviewUpdate = defineUpdate<AuditEntry, [HumanReview]>("humanReview");

/** Signal: the same decision as `humanReviewUpdate`, for tools that can only signal; bad input is logged and ignored. */
export const humanReviewSignal = defineSignal<[HumanReview]>("humanReviewSignal");

/** Update: a fresh attempt for a card at rest (REJECTED or BLOCKED); its blocked dependents wait again. */
export const retryCardUpdate = defineUpdate<AuditEntry, [OpsDecision]>("retry");

/** Update: mark a waiting card DONE by decision (audited); its dependents proceed. */
export const skipCardUpdate = defineUpdate<AuditEntry, [OpsDecision]>("skip");

/**
 * Dependency (or its backlog) → card: a dependency came to rest (DONE lets the card run; anything else
 * blocks it). Repeats are harmless; a message older than one already applied (`epoch`/`seq`) is ignored.
 */
export const dependencyResolvedSignal = defineSignal<[CardSettled]>("dependencyResolved");

/** Dependency (or its backlog) → card: a dependency that had come to rest was retried; wait for it again. */
export const dependencyReopenedSignal = defineSignal<[CardReopened]>("dependencyReopened");

/** Backlog → card (and card → correction, backlog → shard): pause (no new owner or validator run starts) or resume. */
export const setPausedSignal = defineSignal<[{ paused: boolean }]>("setPaused");

/** Backlog → card: the backlog budget is used up; no new owner or judge run starts (the card escalates). */
export const backlogBudgetExhaustedSignal = defineSignal<[{ spentUsd: number }]>("backlogBudgetExhausted");

// ---- correction workflow --------------------------------------------------------------------------

/** Query: where the correction round is. */
export const correctionStateQuery = defineQuery<CorrectionState>("correctionState");

// ---- backlog workflow and its shards ----------------------------------------------------------------

/** Query: the backlog's (or shard's) cards, how each came to rest or ended. */
export const backlogStateQuery = defineQuery<BacklogState>("backlogState");

/**
 * Query: the backlog budget (answered by the backlog workflow, single or paged — the one holding the
 * budget). Small on purpose: the budget gate reads it before every owner and judge run of a card whose
 * backlog has a budget (src/activities/workflow-queries.ts).
 */
export const backlogBudgetQuery = defineQuery<BacklogBudget>("backlogBudget");

/** Update: pause the backlog — no new owner or validator run starts; running ones finish. Audited. */
export const pauseBacklogUpdate = defineUpdate<AuditEntry, [OpsDecision]>("pause");

/** Update: resume a paused backlog. Audited. */
export const resumeBacklogUpdate = defineUpdate<AuditEntry, [OpsDecision]>("resume");

/**
 * Update (paged backlogs): registers the shard of the next page (started by the client with the page).
 * Pages must come in order (`index` = pages received so far); the update returns once every card of the
 * page has started. Send each with update ID `<backlogId>/page-<index>` so that a resent one counts once.
 */
export const addCardsUpdate = defineUpdate<{ index: number; cards: number }, [ShardRegistration]>("addCards");

/**
 * Update of the backlog workflow (or of the shard that runs the card): `retry` a card whose run FAILED
 * (failed, terminated, timed out) — a new run of its workflow takes over the failed run's state and makes
 * a fresh attempt; its BLOCKED dependents wait again. The validator refuses an unknown card, a card that
 * has not failed, or a bad payload. Returns the backlog's audit entry.
 */
export const retryFailedCardUpdate = defineUpdate<AuditEntry, [FailedCardDecision]>("retryFailedCard");

/** Update, like `retryFailedCardUpdate`: `skip` a FAILED card — its new run ends DONE by decision (audited); dependents proceed. */
export const skipFailedCardUpdate = defineUpdate<AuditEntry, [FailedCardDecision]>("skipFailedCard");

/**
 * Card → backlog: the card came to rest (DONE, REJECTED by a human, BLOCKED). A card that tells its
 * dependents itself (`relay` in its input) sends REJECTED and BLOCKED, for the backlog's state, and any
 * rest some dependents could not hear yet (`undelivered`), for the backlog to pass on; the backlog learns
 * DONE and CANCELLED from the child's result.
 */
export const cardSettledSignal = defineSignal<[CardSettled]>("cardSettled");

/** Card → backlog: what an attempt cost, USD (sent only when the backlog has a budget). */
export const cardCostSignal = defineSignal<[{ cardId: string; usd: number }]>("cardCost");

/** Card → backlog: a card that had come to rest was retried. */
export const cardReopenedSignal = defineSignal<[CardReopened]>("cardReopened");

/** Backlog shard → backlog: every card of shard `index` (0-based page) has started; the next page may be sent. */
export const shardStartedSignal = defineSignal<[{ index: number }]>("shardStarted");

/**
 * Backlog → backlog shard: the backlog has registered the shard; start its cards (paused, or with the
 * backlog budget already used up, as the backlog is now).
 */
export const shardAcceptedSignal = defineSignal<[{ paused: boolean; budgetExhaustedUsd?: number }]>("shardAccepted");

/** Backlog shard → backlog: every card of shard `index` has ended; cards per final status and USD spent. */
export const shardFinishedSignal =
  defineSignal<[{ index: number; counts: Record<string, number>; costUsd: number }]>("shardFinished");
