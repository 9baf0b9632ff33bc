/** The queries the backlog workflow and its shards answer, in a module of its own so that a shard (and an activity) need not import the backlog workflow. */
import { defineQuery } from '@temporalio/workflow';
import type { BacklogState } from './backlog-book.js';

/** Query: the backlog's (or shard's) cards, how each came to rest or ended. */
export const backlogStateQuery = defineQuery<BacklogState>('backlogState');

/** What the backlog's budget stands at: USD spent by its cards as reported, the budget, whether it is used up. */
export interface BacklogBudget {
  /** USD its cards reported spending so far (owner, judge and debugging runs). */
  spentUsd: number;
  /** `squad.budget.per_backlog_usd`; absent = unlimited. */
  budgetUsd?: number;
  /** True once `spentUsd` reached `budgetUsd`. */
  exhausted: boolean;
}

/**
 * Query: the backlog budget (answered by the backlog workflow, single or paged — the one holding the
 * budget). Small on purpose: the budget gate reads it before every owner and judge run of a card whose
 * backlog has a budget (src/activities/workflow-queries.ts).
 */
export const backlogBudgetQuery = defineQuery<BacklogBudget>('backlogBudget');
