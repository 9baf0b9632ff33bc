/**
 * The backlog shard workflow (`<backlogId>/~shard-<n>`): runs one page of a big backlog (src/domain/pages.ts)
 * exactly as a backlog runs its cards — children started at once, what a card could not tell a dependent
 * passed on, pause and budget fan-out. `squadflow start` starts it with its page (so the page's cards
 * are in this history only) and then registers it with the backlog (`addCards`); the shard starts its
 * cards once the backlog has accepted it, tells the backlog when they have all started and when they have
 * all ended. Its result lists its cards' outcomes without their full states (read the card workflows).
 */
import {
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  setHandler,
  workflowInfo,
} from "@temporalio/workflow";
import { backlogWorkflowId } from "../domain/ids.js";
import type { PlanPage } from "../domain/index.js";
import type { ActivityQueues } from "./activities.js";
import type { BacklogState } from "../domain/backlog-state.js";
import { endIfCancelled } from "./backlog-results.js";
import { backlogStateQuery } from "./backlog-queries.js";
import { CardChildren } from "./card-children.js";
import {
  backlogBudgetExhaustedSignal,
  cardCostSignal,
  setPausedSignal,
  shardAcceptedSignal,
  shardFinishedSignal,
  shardStartedSignal,
} from "./messages.js";

/** Input of a backlog shard. */
export interface BacklogShardInput {
  backlogId: string;
  page: PlanPage;
  queues: ActivityQueues;
}

/** Result of a shard: its state (lean card outcomes), cards per final status and the USD they spent. */
export interface BacklogShardResult extends BacklogState {
  counts: Record<string, number>;
  costUsd: number;
}

/** How long a shard waits for its backlog to accept it (a `squadflow start` that stopped half-way) before ending empty. */
const ACCEPT_TIMEOUT = "7 days";

/** Runs one page of a paged backlog. Cancellation (the backlog passes its own on) cancels its cards. */
export async function backlogShardWorkflow(input: BacklogShardInput): Promise<BacklogShardResult> {
  const { page } = input;
  const cards = new CardChildren({
    backlogId: input.backlogId,
    cards: page.cards,
    done: [],
    queues: input.queues,
    source: { file: "", metadata: {}, legacyCards: [] },
    dependents: page.dependents,
    shardIndex: page.index,
  });
  const backlog = getExternalWorkflowHandle(backlogWorkflowId(input.backlogId));
  let accepted: { paused: boolean; budgetExhaustedUsd?: number } | undefined;
  setHandler(backlogStateQuery, () => cards.state);
  setHandler(shardAcceptedSignal, (a) => void (accepted ??= a));
  cards.setHandlers();
  // The backlog keeps the budget: costs go up to it, "used up" comes back down to every card.
  setHandler(
    cardCostSignal,
    (c) =>
      void backlog
        .signal(cardCostSignal, c)
        .catch((err: unknown) => log.warn("Could not tell the backlog", { error: (err as Error).message })),
  );
  setHandler(backlogBudgetExhaustedSignal, ({ spentUsd }) => void cards.budgetExhausted(spentUsd));
  setHandler(setPausedSignal, ({ paused }) => void cards.setPaused(paused));

  try {
    if (!(await condition(() => accepted !== undefined, ACCEPT_TIMEOUT))) {
      log.warn("Backlog shard never accepted by its backlog; ending without starting its cards", {
        shard: workflowInfo().workflowId,
      });
      return { ...cards.state, finished: true, ...cards.tally() };
    }
    cards.state.paused = accepted!.paused;
    cards.showProgress();
    await cards.startAll();
    if (accepted!.budgetExhaustedUsd !== undefined) await cards.budgetExhausted(accepted!.budgetExhaustedUsd);
    await backlog.signal(shardStartedSignal, { index: page.index });
    await cards.awaitAll();
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Cancelled (by the backlog): the cards were cancelled with this scope; wait for them to end.
    await CancellationScope.nonCancellable(() => cards.awaitAll());
  }
  cards.state.finished = true;
  const tally = cards.tally();
  await CancellationScope.nonCancellable(() =>
    backlog
      .signal(shardFinishedSignal, { index: page.index, ...tally })
      .catch((err: unknown) => log.warn("Could not tell the backlog", { error: (err as Error).message })),
  );
  endIfCancelled(`backlog shard ${workflowInfo().workflowId} cancelled`);
  return { ...cards.state, ...tally };
}
