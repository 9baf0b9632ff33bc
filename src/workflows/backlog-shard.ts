/**
 * The backlog shard workflow (`<backlogId>/~shard-<n>`): runs one page of a big backlog (src/domain/pages.ts)
 * exactly as a backlog runs its cards — children started at once, relays to dependents (in this page or an
 * earlier one), pause and budget fan-out — and tells its backlog when every card of the page has started.
 * Its result lists its cards' outcomes without their full states (read those from the card workflows).
 */
import { CancellationScope, CancelledFailure, getExternalWorkflowHandle, log, setHandler, workflowInfo } from '@temporalio/workflow';
import type { PlanPage } from '../domain/index.js';
import type { ActivityQueues } from './activities.js';
import { BacklogBook, type BacklogState } from './backlog-book.js';
import { backlogStateQuery } from './backlog-queries.js';
import {
  backlogBudgetExhaustedSignal,
  cardCostSignal,
  cardReopenedSignal,
  cardSettledSignal,
  setPausedSignal,
  shardStartedSignal,
} from './messages.js';

/** Input of a backlog shard. */
export interface BacklogShardInput {
  backlogId: string;
  page: PlanPage;
  queues: ActivityQueues;
  /** Start paused (the backlog is paused). */
  paused: boolean;
  /** Set when the backlog budget was already used up: what the backlog had spent, USD. */
  budgetExhausted?: number;
}

/** Result of a shard: its state (lean card outcomes), cards per final status and the USD they spent. */
export interface BacklogShardResult extends BacklogState {
  counts: Record<string, number>;
  costUsd: number;
}

/** Runs one page of a paged backlog. Cancellation (of the backlog) cancels its cards. */
export async function backlogShardWorkflow(input: BacklogShardInput): Promise<BacklogShardResult> {
  const { page } = input;
  const book = new BacklogBook({
    backlogId: input.backlogId,
    cards: page.cards,
    done: [],
    queues: input.queues,
    source: { file: '', metadata: {}, legacyCards: [] },
    paused: input.paused,
    dependents: page.dependents,
    shardIndex: page.index,
  });
  const backlog = getExternalWorkflowHandle(workflowInfo().parent?.workflowId ?? input.backlogId);
  setHandler(backlogStateQuery, () => book.state);
  setHandler(cardSettledSignal, (s) => book.relay(() => book.cardSettled(s)));
  setHandler(cardReopenedSignal, ({ cardId }) => book.relay(() => book.cardReopened(cardId)));
  // The backlog keeps the budget: costs go up to it, "used up" comes back down to every card.
  setHandler(cardCostSignal, (c) => void backlog.signal(cardCostSignal, c).catch((err: unknown) => log.warn('Could not tell the backlog', { error: (err as Error).message })));
  setHandler(backlogBudgetExhaustedSignal, ({ spentUsd }) => void book.budgetExhausted(spentUsd));
  setHandler(setPausedSignal, ({ paused }) => void book.setPaused(paused));

  await book.startAll();
  if (input.budgetExhausted !== undefined) await book.budgetExhausted(input.budgetExhausted);
  await backlog.signal(shardStartedSignal, { index: page.index });
  await book.awaitAll();
  book.state.finished = true;
  if (CancellationScope.current().consideredCancelled) throw new CancelledFailure(`backlog shard ${workflowInfo().workflowId} cancelled`);
  return { ...book.state, ...book.tally() };
}
