/**
 * The backlog workflow (`<backlogId>`): starts every card as a child workflow at once (each visible as
 * TODO from the first second), and when a card ends, signals its dependents how it ended. Since every
 * child is started before any result is awaited, a dependency that finishes first can never lose its
 * signal — PRODUCT.md "Card lifecycle".
 */
import {
  ParentClosePolicy,
  defineQuery,
  isCancellation,
  log,
  setHandler,
  startChild,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import {
  PRIORITY_KEYS,
  cardWorkflowId,
  dependentsOf,
  type CardOutcome,
  type CardPlan,
  type DependencyArtifacts,
  type FinalStatus,
} from '../domain/index.js';
import type { ActivityQueues } from './activities.js';
import { cardWorkflow, dependencyResolvedSignal } from './card.js';
import { initialCardAttributes } from './search-attributes.js';

/** Input of the backlog workflow: a validated plan (see `planBacklog`). */
export interface BacklogWorkflowInput {
  backlogId: string;
  /** Cards to run. */
  cards: CardPlan[];
  /** Cards already DONE in the file (legacy), not run again. */
  done: DependencyArtifacts[];
  queues: ActivityQueues;
  /** The file's `metadata` and its legacy cards (DONE and CORRECTION), kept for `export`. */
  source: { file: string; metadata: Record<string, unknown>; legacyCards: Record<string, unknown>[] };
}

/** One card as the backlog sees it. */
export interface BacklogCardEntry {
  cardId: string;
  workflowId: string;
  type: string;
  dependencies: string[];
  /** Set once the card workflow ended. */
  outcome?: CardOutcome;
}

/** The `backlogState` query's answer. */
export interface BacklogState {
  backlogId: string;
  startedAt: string;
  cards: BacklogCardEntry[];
  done: DependencyArtifacts[];
  source: BacklogWorkflowInput['source'];
  finished: boolean;
}

/** Query: the backlog's cards, which have ended and how. */
export const backlogStateQuery = defineQuery<BacklogState>('backlogState');

/** Result of the backlog workflow: its final state, every card with its outcome. */
export type BacklogResult = BacklogState;

/** Coordinates a backlog: runs every card as a child workflow and resolves dependencies. */
export async function backlogWorkflow(input: BacklogWorkflowInput): Promise<BacklogResult> {
  const state: BacklogState = {
    backlogId: input.backlogId,
    startedAt: new Date().toISOString(),
    cards: input.cards.map((p) => ({
      cardId: p.card.id,
      workflowId: cardWorkflowId(input.backlogId, p.card.id),
      type: p.card.type,
      dependencies: p.card.dependencies,
    })),
    done: input.done,
    source: input.source,
    finished: false,
  };
  const entries = new Map(state.cards.map((e) => [e.cardId, e]));
  const handles = new Map<string, ChildWorkflowHandle<typeof cardWorkflow>>();
  setHandler(backlogStateQuery, () => state);

  // Start every card at once, highest priority first; each waits for its dependency signals as TODO.
  const byPriority = [...input.cards].sort((a, b) => PRIORITY_KEYS[a.card.priority] - PRIORITY_KEYS[b.card.priority]);
  await Promise.all(
    byPriority.map(async (plan) => {
      const handle = await startChild(cardWorkflow, {
        workflowId: cardWorkflowId(input.backlogId, plan.card.id),
        args: [{ plan, queues: input.queues }],
        typedSearchAttributes: initialCardAttributes(input.backlogId, plan.card),
        priority: { priorityKey: PRIORITY_KEYS[plan.card.priority] },
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      });
      handles.set(plan.card.id, handle);
    }),
  );

  const dependents = dependentsOf(input.cards.map((p) => p.card));
  await Promise.all(
    input.cards.map(async (plan) => {
      const outcome = await cardResult(plan, handles.get(plan.card.id)!);
      entries.get(plan.card.id)!.outcome = outcome;
      await Promise.all(
        (dependents.get(plan.card.id) ?? []).map(async (id) => {
          const dependent = handles.get(id)!;
          try {
            await dependent.signal(dependencyResolvedSignal, {
              cardId: outcome.cardId,
              status: outcome.status,
              artifacts: outcome.artifacts,
            });
          } catch (err) {
            // The dependent already ended (e.g. blocked by another dependency): nothing to tell it.
            log.info('Dependent no longer running', { cardId: id, error: (err as Error).message });
          }
        }),
      );
    }),
  );
  state.finished = true;
  return state;
}

/** A card's outcome; a card workflow that failed or was cancelled counts as FAILED/CANCELLED. */
async function cardResult(plan: CardPlan, handle: ChildWorkflowHandle<typeof cardWorkflow>): Promise<CardOutcome> {
  try {
    return await handle.result();
  } catch (err) {
    const status: FinalStatus = isCancellation(err) ? 'CANCELLED' : 'FAILED';
    return {
      cardId: plan.card.id,
      status,
      attempt: 0,
      artifacts: [],
      cost: { inputTokens: 0, outputTokens: 0, usd: 0 },
      message: (err as Error).message,
    };
  }
}
