/**
 * The backlog workflow (`<backlogId>`): starts every card as a child workflow at once (each visible as
 * TODO from the first second) and relays how each card comes to rest to its dependents. Every child is
 * started before any signal is relayed, so a dependency that finishes first can never lose its signal —
 * PRODUCT.md "Card lifecycle". The backlog ends when every card has ended (DONE, or cancelled); cards at
 * rest (REJECTED, BLOCKED) keep it open until someone retries or skips them.
 *
 * A backlog too big for one workflow (more than a page of cards, see src/domain/pages.ts) is paged: the
 * client sends its cards with the `addCards` update, one page at a time, and the backlog runs each page as
 * a backlog shard child workflow (backlog-shard.ts), so that no history grows past a few thousand events.
 */
import {
  CancellationScope,
  CancelledFailure,
  ParentClosePolicy,
  condition,
  defineUpdate,
  log,
  setHandler,
  sleep,
  startChild,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import {
  roundUsd,
  shardWorkflowId,
  type AuditEntry,
  type CardPlan,
  type DependencyArtifacts,
  type OpsDecision,
  type PlanPage,
} from '../domain/index.js';
import { squadActivities, type ActivityQueues } from './activities.js';
import { BacklogBook, assertPause, auditPause, type BacklogSource, type BacklogState, type ShardEntry } from './backlog-book.js';
import { backlogShardWorkflow } from './backlog-shard.js';
import { backlogStateQuery } from './backlog-queries.js';
import {
  backlogBudgetExhaustedSignal,
  cardCostSignal,
  cardReopenedSignal,
  cardSettledSignal,
  setPausedSignal,
  shardStartedSignal,
} from './messages.js';

export type { BacklogCardEntry, BacklogState, ShardEntry } from './backlog-book.js';

/** Input of the backlog workflow: a validated plan (see `planBacklog`). */
export interface BacklogWorkflowInput {
  backlogId: string;
  /** Cards to run (empty for a paged backlog: they come with `addCards`). */
  cards: CardPlan[];
  /** Cards already DONE in the file (legacy), not run again. */
  done: DependencyArtifacts[];
  queues: ActivityQueues;
  /** The file's `metadata` and its legacy cards (DONE and CORRECTION), kept for `export`. */
  source: BacklogSource;
  /** A paged backlog: the number of pages the client sends with `addCards` (see src/domain/pages.ts). */
  pages?: number;
  /** A paged backlog's budget, USD (`squad.budget.per_backlog_usd`); absent = unlimited. */
  budgetUsd?: number;
}

export { backlogStateQuery };

/** Update: pause the backlog — no new owner or validator run starts; running ones finish. Audited. */
export const pauseBacklogUpdate = defineUpdate<AuditEntry, [OpsDecision]>('pause');

/** Update: resume a paused backlog. Audited. */
export const resumeBacklogUpdate = defineUpdate<AuditEntry, [OpsDecision]>('resume');

/**
 * Update (paged backlogs): the next page of cards. Pages must come in order (`index` = pages received so
 * far); the update returns once every card of the page has started. Send each with update ID
 * `<backlogId>/page-<index>` so that a resent page is not run twice.
 */
export const addCardsUpdate = defineUpdate<{ index: number; cards: number }, [PlanPage]>('addCards');

/** Result of the backlog workflow: its final state, every card with its outcome (a paged one: its shards). */
export type BacklogResult = BacklogState;

/** Coordinates a backlog: runs every card as a child workflow and relays dependency outcomes. */
export async function backlogWorkflow(input: BacklogWorkflowInput): Promise<BacklogResult> {
  if (input.pages !== undefined) return pagedBacklog(input, input.pages);
  const book = new BacklogBook(input);
  setHandler(backlogStateQuery, () => book.state);
  setHandler(cardSettledSignal, (s) => book.relay(() => book.cardSettled(s)));
  setHandler(cardReopenedSignal, ({ cardId }) => book.relay(() => book.cardReopened(cardId)));
  setHandler(cardCostSignal, ({ usd }) => book.spend(usd));
  for (const [update, paused] of [[pauseBacklogUpdate, true], [resumeBacklogUpdate, false]] as const) {
    setHandler(
      update,
      async (d) => {
        const entry = auditPause(book.state, paused, d);
        await book.setPaused(paused);
        return entry;
      },
      { validator: (d) => assertPause(book.state, paused, d) },
    );
  }

  await book.startAll();
  await book.awaitAll();
  book.state.finished = true;
  const { counts, costUsd } = book.tally();
  await notifyFinished(input, input.cards[0]?.webhooks, counts, costUsd);
  // A cancelled backlog (its cards were cancelled with it and have ended CANCELLED) ends cancelled too.
  if (CancellationScope.current().consideredCancelled) throw new CancelledFailure(`backlog ${input.backlogId} cancelled`);
  return book.state;
}

/** A paged backlog: one shard child workflow per page, started in page order (see src/domain/pages.ts). */
async function pagedBacklog(input: BacklogWorkflowInput, expected: number): Promise<BacklogResult> {
  const state: BacklogState = {
    backlogId: input.backlogId,
    startedAt: new Date().toISOString(),
    cards: [],
    done: input.done,
    source: input.source,
    paused: false,
    auditLog: [],
    spentUsd: 0,
    budgetExhausted: false,
    finished: false,
    pages: { expected, received: 0 },
    shards: [],
  };
  const handles: ChildWorkflowHandle<typeof backlogShardWorkflow>[] = [];
  const ended: Promise<void>[] = [];
  let webhooks: CardPlan['webhooks'];
  const toShards = (send: (h: ChildWorkflowHandle<typeof backlogShardWorkflow>) => Promise<void>) =>
    Promise.all(handles.map((h, i) => (state.shards![i]!.finished ? undefined : send(h).catch(() => undefined))));

  setHandler(backlogStateQuery, () => state);
  setHandler(shardStartedSignal, ({ index }) => {
    const shard = state.shards![index];
    if (shard) shard.started = true;
  });
  setHandler(cardCostSignal, ({ usd }) => {
    state.spentUsd = roundUsd(state.spentUsd + usd);
    if (input.budgetUsd === undefined || state.budgetExhausted || state.spentUsd < input.budgetUsd) return;
    state.budgetExhausted = true;
    log.warn('Backlog budget used up', { backlogId: input.backlogId, spentUsd: state.spentUsd, budgetUsd: input.budgetUsd });
    void toShards((h) => h.signal(backlogBudgetExhaustedSignal, { spentUsd: state.spentUsd }));
  });
  for (const [update, paused] of [[pauseBacklogUpdate, true], [resumeBacklogUpdate, false]] as const) {
    setHandler(
      update,
      async (d) => {
        const entry = auditPause(state, paused, d);
        state.paused = paused;
        await toShards((h) => h.signal(setPausedSignal, { paused }));
        return entry;
      },
      { validator: (d) => assertPause(state, paused, d) },
    );
  }
  setHandler(
    addCardsUpdate,
    async (page) => {
      const index = page.index;
      const entry: ShardEntry = {
        index,
        workflowId: shardWorkflowId(input.backlogId, index + 1),
        cardIds: page.cards.map((c) => c.card.id),
        started: false,
        finished: false,
      };
      state.shards!.push(entry);
      state.pages!.received++;
      webhooks ??= page.cards[0]?.webhooks;
      const handle = await startChild(backlogShardWorkflow, {
        workflowId: entry.workflowId,
        args: [{ backlogId: input.backlogId, page, queues: input.queues, paused: state.paused, budgetExhausted: state.budgetExhausted ? state.spentUsd : undefined }],
        parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      });
      handles[index] = handle;
      ended[index] = handle.result().then(
        (result) => {
          entry.counts = result.counts;
          entry.costUsd = result.costUsd;
        },
        (err: unknown) => log.warn('Backlog shard failed', { shard: entry.workflowId, error: (err as Error).message }),
      ).then(() => {
        entry.finished = true;
      });
      // The next page may start only once every card of this one has (their dependents come first).
      await condition(() => entry.started || entry.finished);
      return { index, cards: page.cards.length };
    },
    {
      validator: (page) => {
        if (state.pages!.received >= expected) throw new Error(`backlog ${input.backlogId} already has all its ${expected} pages`);
        if (page?.index !== state.pages!.received) {
          throw new Error(`backlog ${input.backlogId} expects page ${state.pages!.received} next, not page ${String(page?.index)}`);
        }
        if (!Array.isArray(page.cards) || page.cards.length === 0) throw new Error(`page ${page.index} of backlog ${input.backlogId} has no cards`);
      },
    },
  );

  await condition(() => state.pages!.received === expected);
  await Promise.all(ended.slice(0, expected));
  await condition(() => state.shards!.every((s) => s.finished));
  state.finished = true;
  const counts: Record<string, number> = {};
  for (const s of state.shards!) for (const [k, n] of Object.entries(s.counts ?? {})) counts[k] = (counts[k] ?? 0) + n;
  await notifyFinished(input, webhooks, counts, roundUsd(state.shards!.reduce((sum, s) => sum + (s.costUsd ?? 0), 0)));
  if (CancellationScope.current().consideredCancelled) throw new CancelledFailure(`backlog ${input.backlogId} cancelled`);
  return state;
}

/** The `backlog.finished` notification: waited for at most a minute, never failing the backlog. */
async function notifyFinished(
  input: BacklogWorkflowInput,
  webhooks: CardPlan['webhooks'],
  counts: Record<string, number>,
  costUsd: number,
): Promise<void> {
  if (!webhooks || webhooks.length === 0) return;
  const sent = squadActivities(input.queues)
    .notify({ event: { event: 'backlog.finished', at: new Date().toISOString(), backlogId: input.backlogId, counts, costUsd }, webhooks })
    .catch((err: unknown) => log.warn('Notification not delivered', { event: 'backlog.finished', error: (err as Error).message }));
  await Promise.race([sent, sleep('1 minute')]);
}
