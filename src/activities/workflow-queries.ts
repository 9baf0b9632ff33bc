/**
 * Activities that read other workflows (a workflow cannot query another one; an activity can, with the
 * worker's client):
 * - `readBacklogBudget` — the budget gate's view of the backlog's spend. The agent-kinds issue: "Budgets
 *   per card and per backlog: checked **before** each owner/judge run". The backlog workflow keeps the
 *   backlog's spend (every card reports its costs to it); before each owner and judge run of a card whose
 *   backlog has a budget, this asks the backlog.
 * - `readCardState` — the state of a card's failed run, which a new run started on `retry` / `skip`
 *   takes over (the operations issue: a FAILED card gets a fresh attempt). Temporal answers a query of a
 *   closed run by replaying its history on a worker.
 */
import { Context } from "@temporalio/activity";
import type { Client } from "@temporalio/client";
import type { CardState } from "../domain/index.js";
import { backlogBudgetQuery, cardStateQuery } from "../contract.js";
import type { BacklogBudget } from "../domain/backlog-state.js";

/** Input of `readBacklogBudget`: the backlog's workflow ID (= its backlog id). */
export interface ReadBacklogBudgetInput {
  backlogId: string;
}

/** Which client the reads use: default, the worker's own (`Context.current().client`), so they need no connection settings. */
export type ClientOf = () => Client;

const workerClient: ClientOf = () => Context.current().client;

/**
 * Creates the `readBacklogBudget` activity: `readBacklogBudget({ backlogId })` runs the backlog
 * workflow's `backlogBudget` query and returns `{ spentUsd, budgetUsd?, exhausted }` (USD).
 *
 * @throws what the query throws (`WorkflowNotFoundError` when no backlog workflow has that ID, a
 *   `QueryNotRegisteredError`, connection errors): Temporal retries it; the gate falls back to what
 *   the card already knows when it keeps failing (src/workflows/attempt.ts).
 */
export function createReadBacklogBudget(
  client: ClientOf = workerClient,
): (input: ReadBacklogBudgetInput) => Promise<BacklogBudget> {
  return async function readBacklogBudget({ backlogId }: ReadBacklogBudgetInput): Promise<BacklogBudget> {
    return await client().workflow.getHandle(backlogId).query(backlogBudgetQuery);
  };
}

/** Input of `readCardState`: one run of a card workflow. */
export interface ReadCardStateInput {
  workflowId: string;
  runId: string;
}

/**
 * Creates the `readCardState` activity: `readCardState({ workflowId, runId })` runs the `cardState` query
 * on that run (open or closed) and returns its `CardState`.
 *
 * @throws what the query throws (`WorkflowNotFoundError`, a query failure when the run's history cannot
 *   be replayed): Temporal retries it, then the card run that asked fails.
 */
export function createReadCardState(
  client: ClientOf = workerClient,
): (input: ReadCardStateInput) => Promise<CardState> {
  return async function readCardState({ workflowId, runId }: ReadCardStateInput): Promise<CardState> {
    return await client().workflow.getHandle(workflowId, runId).query(cardStateQuery);
  };
}
