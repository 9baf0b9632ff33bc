/**
 * The backlog-budget read of the budget gate — the agent-kinds issue: "Budgets per card and per backlog:
 * checked **before** each owner/judge run". The backlog workflow keeps the backlog's spend (every card
 * reports its costs to it); a card's workflow cannot query another workflow, so before each owner and
 * judge run of a card whose backlog has a budget, this activity asks the backlog.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { backlogBudgetQuery, type BacklogBudget } from '../workflows/backlog-queries.js';

/** Input of `readBacklogBudget`: the backlog's workflow ID (= its backlog id). */
export interface ReadBacklogBudgetInput {
  backlogId: string;
}

/**
 * Creates the `readBacklogBudget` activity: `readBacklogBudget({ backlogId })` runs the backlog
 * workflow's `backlogBudget` query and returns `{ spentUsd, budgetUsd?, exhausted }` (USD).
 *
 * @param client the Temporal client to query with; default: the worker's own client
 *   (`Context.current().client`), so the activity needs no connection settings of its own.
 * @throws what the query throws (`WorkflowNotFoundError` when no backlog workflow has that ID, a
 *   `QueryNotRegisteredError`, connection errors): Temporal retries it; the gate falls back to what
 *   the card already knows when it keeps failing (src/workflows/attempt.ts).
 */
export function createReadBacklogBudget(client?: () => Client): (input: ReadBacklogBudgetInput) => Promise<BacklogBudget> {
  const clientOf = client ?? (() => Context.current().client);
  return async function readBacklogBudget({ backlogId }: ReadBacklogBudgetInput): Promise<BacklogBudget> {
    return await clientOf().workflow.getHandle(backlogId).query(backlogBudgetQuery);
  };
}
