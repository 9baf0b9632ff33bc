/**
 * The backlog workflow (`<backlogId>`): starts every card as a child workflow at once (each visible as
 * TODO from the first second). Each card tells its dependents itself how it came to rest; the backlog
 * passes on what a card could not deliver (a dependent not started yet) once that dependent has started,
 * so a dependency that finishes first can never lose its signal — PRODUCT.md "Card lifecycle" (see
 * docs/architecture.md "Dependency signals"; backlogs started before that relay every rest). The backlog
 * ends when every card has ended (DONE, or cancelled); cards at rest (REJECTED, BLOCKED) keep it open
 * until someone retries or skips them. The cards' child workflows are card-children.ts, what passes
 * between them dependency-relay.ts, the state and results backlog-results.ts.
 *
 * A backlog too big for one workflow (more than a page of cards, see src/domain/pages.ts) is paged: the
 * client starts one backlog shard workflow per page (backlog-shard.ts) and registers each here with the
 * `addCards` update, so that no history grows past a few thousand events and each page's cards are in
 * one history only.
 */
import {
  CancellationScope,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  setCurrentDetails,
  setHandler,
  sleep,
  type ExternalWorkflowHandle,
} from "@temporalio/workflow";
import { roundUsd } from "../domain/cost.js";
import { shardWorkflowId } from "../domain/ids.js";
import { parseOpsDecision } from "../domain/review.js";
import { backlogCurrentDetails } from "../domain/ui-metadata.js";
import type {
  AuditEntry,
  CardPlan,
  DependencyArtifacts,
  OpsDecision,
  RepositoryTarget,
  WebhookConfig,
} from "../domain/index.js";
import type { BacklogSource, BacklogState, ShardEntry } from "../domain/backlog-state.js";
import { repositoryActivities, squadActivities, summarized, type ActivityQueues } from "./activities.js";
import { failureMessage } from "./attempt.js";
import { endIfCancelled, newBacklogState, type Tally } from "./backlog-results.js";
import { CardChildren } from "./card-children.js";
import { backlogBudgetQuery, backlogStateQuery } from "./backlog-queries.js";
import {
  addCardsUpdate,
  pauseBacklogUpdate,
  resumeBacklogUpdate,
  backlogBudgetExhaustedSignal,
  cardCostSignal,
  setPausedSignal,
  shardAcceptedSignal,
  shardFinishedSignal,
  shardStartedSignal,
} from "./messages.js";

export type {
  BacklogCardEntry,
  BacklogRepositoryState,
  BacklogSource,
  BacklogState,
  ShardEntry,
} from "../domain/backlog-state.js";

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
  /** A paged backlog's webhooks (the squad's `notifications`), for `backlog.finished`. */
  webhooks?: WebhookConfig[];
  /** The repository the backlog delivers into (also in every card plan); absent = isolated workspaces. */
  repository?: RepositoryTarget;
}

export { backlogBudgetQuery, backlogStateQuery };
export { retryFailedCardUpdate, skipFailedCardUpdate } from "./messages.js";

export { pauseBacklogUpdate, resumeBacklogUpdate, addCardsUpdate };
export type { ShardRegistration } from "../domain/backlog-state.js";

/** Result of the backlog workflow: its final state, every card with its outcome (a paged one: its shards). */
export type BacklogResult = BacklogState;

/** Coordinates a backlog: runs every card as a child workflow and relays dependency outcomes. */
export async function backlogWorkflow(input: BacklogWorkflowInput): Promise<BacklogResult> {
  if (input.pages !== undefined) return pagedBacklog(input, input.pages);
  const cards = new CardChildren(input);
  cards.state.repository = repositoryState(input.repository);
  setHandler(backlogStateQuery, () => cards.state);
  cards.setHandlers();
  setBudgetAndPauseHandlers(cards.state, input.cards[0]?.backlogBudgetUsd, {
    exhausted: (spentUsd) => cards.budgetExhausted(spentUsd),
    pause: (paused) => cards.setPaused(paused),
  });

  await cards.startAll();
  await cards.awaitAll();
  return finish(input, cards.state, input.cards[0]?.webhooks, () => cards.tally());
}

/**
 * A paged backlog: its cards run in backlog shards (one per page, see src/domain/pages.ts) that
 * `squadflow start` starts with their pages and registers here with `addCards`, in page order. The backlog
 * accepts each (passing on whether it is paused or out of budget), waits until the shard's cards have all
 * started before taking the next page, passes pause, resume, budget and cancellation on to every shard,
 * and ends when every shard has said that its cards have ended.
 */
async function pagedBacklog(input: BacklogWorkflowInput, expected: number): Promise<BacklogResult> {
  const state = newBacklogState(
    { ...input, cards: [], paused: false },
    {
      pages: { expected, received: 0 },
      shards: [],
      ...(input.repository ? { repository: repositoryState(input.repository) } : {}),
    },
  );
  const shards = state.shards!;
  const showProgress = () => setCurrentDetails(backlogCurrentDetails(shardTally(shards), state));
  const toShards = (send: (h: ExternalWorkflowHandle) => Promise<void>) =>
    Promise.all(
      shards
        .filter((s) => !s.finished)
        .map((s) => send(getExternalWorkflowHandle(s.workflowId)).catch(() => undefined)),
    );

  setHandler(backlogStateQuery, () => state);
  setHandler(shardStartedSignal, ({ index }) => {
    const shard = shards[index];
    if (shard) shard.started = true;
  });
  setHandler(shardFinishedSignal, ({ index, counts, costUsd }) => {
    const shard = shards[index];
    if (!shard) return;
    Object.assign(shard, { started: true, finished: true, counts, costUsd });
    showProgress();
  });
  setBudgetAndPauseHandlers(state, input.budgetUsd, {
    exhausted: async (spentUsd) => {
      state.budgetExhausted = true;
      showProgress();
      await toShards((h) => h.signal(backlogBudgetExhaustedSignal, { spentUsd }));
    },
    pause: async (paused) => {
      showProgress();
      await toShards((h) => h.signal(setPausedSignal, { paused }));
    },
  });
  setHandler(
    addCardsUpdate,
    async (shard) => {
      const entry: ShardEntry = {
        index: shard.index,
        workflowId: shard.workflowId,
        cardIds: shard.cardIds,
        started: false,
        finished: false,
      };
      shards.push(entry);
      state.pages!.received++;
      await getExternalWorkflowHandle(entry.workflowId).signal(shardAcceptedSignal, {
        paused: state.paused,
        ...(state.budgetExhausted ? { budgetExhaustedUsd: state.spentUsd } : {}),
      });
      // The next page may come only once every card of this one has started (their dependents come first).
      showProgress();
      await condition(() => entry.started);
      return { index: entry.index, cards: entry.cardIds.length };
    },
    {
      validator: (shard) => {
        if (state.pages!.received >= expected)
          throw new Error(`backlog ${input.backlogId} already has all its ${expected} pages`);
        if (shard?.index !== state.pages!.received) {
          throw new Error(
            `backlog ${input.backlogId} expects page ${state.pages!.received} next, not page ${String(shard?.index)}`,
          );
        }
        if (shard.workflowId !== shardWorkflowId(input.backlogId, shard.index + 1)) {
          throw new Error(
            `page ${shard.index} of backlog ${input.backlogId} must run in workflow ${shardWorkflowId(input.backlogId, shard.index + 1)}`,
          );
        }
        if (!Array.isArray(shard.cardIds) || shard.cardIds.length === 0)
          throw new Error(`page ${shard.index} of backlog ${input.backlogId} has no cards`);
      },
    },
  );

  try {
    await condition(() => state.pages!.received === expected && shards.every((s) => s.finished));
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Cancelled: cancel every shard (and so every card), and wait for them to say that they have ended.
    await CancellationScope.nonCancellable(async () => {
      await toShards((h) => h.cancel());
      await condition(() => shards.every((s) => s.finished));
    });
  }
  return finish(input, state, input.webhooks, () => shardTally(shards));
}

/**
 * A paged backlog's tally: its finished shards' counts and costs (USD) added up; the cards of a shard still
 * running count as RUNNING (none are left when the backlog finishes).
 */
function shardTally(shards: readonly ShardEntry[]): Tally {
  const counts: Record<string, number> = {};
  for (const s of shards) {
    const shardCounts = s.finished ? (s.counts ?? {}) : { RUNNING: s.cardIds.length };
    for (const [k, n] of Object.entries(shardCounts)) counts[k] = (counts[k] ?? 0) + n;
  }
  return { counts, costUsd: roundUsd(shards.reduce((sum, s) => sum + (s.costUsd ?? 0), 0)) };
}

/**
 * The end of a backlog, paged or not, once every card has ended: the repository's end (clean-up, push),
 * then `finished`, the `backlog.finished` notification with the `tally` of its cards, and a cancelled
 * backlog (its cards were cancelled with it and have ended CANCELLED) ends cancelled too.
 * @throws CancelledFailure when the backlog was cancelled.
 */
async function finish(
  input: BacklogWorkflowInput,
  state: BacklogState,
  webhooks: CardPlan["webhooks"],
  tally: () => Tally,
): Promise<BacklogResult> {
  await finishRepository(input, state);
  state.finished = true;
  const { counts, costUsd } = tally();
  await notifyFinished(input, webhooks, counts, costUsd);
  endIfCancelled(`backlog ${input.backlogId} cancelled`);
  return state;
}

/**
 * The handlers a backlog has whether it is paged or not: `cardCost` adds a card's spend (USD) to
 * `state.spentUsd` and, the first time the budget (`squad.budget.per_backlog_usd`, absent = unlimited) is
 * used up, calls `exhausted`, which must set `state.budgetExhausted`; the `pause` and `resume` updates are
 * validated (bad payload, already in that state), audited, set `state.paused` and call `pause`.
 */
function setBudgetAndPauseHandlers(
  state: BacklogState,
  budgetUsd: number | undefined,
  apply: { exhausted: (spentUsd: number) => Promise<void>; pause: (paused: boolean) => Promise<void> },
): void {
  setHandler(backlogBudgetQuery, () => ({
    spentUsd: state.spentUsd,
    ...(budgetUsd !== undefined ? { budgetUsd } : {}),
    exhausted: state.budgetExhausted,
  }));
  setHandler(cardCostSignal, ({ usd }) => {
    state.spentUsd = roundUsd(state.spentUsd + usd);
    if (budgetUsd === undefined || state.budgetExhausted || state.spentUsd < budgetUsd) return;
    log.warn("Backlog budget used up", { backlogId: state.backlogId, spentUsd: state.spentUsd, budgetUsd });
    void apply.exhausted(state.spentUsd);
  });
  for (const [update, paused] of [
    [pauseBacklogUpdate, true],
    [resumeBacklogUpdate, false],
  ] as const) {
    setHandler(
      update,
      async (d) => {
        const entry = auditPause(state, paused, d);
        state.paused = paused;
        await apply.pause(paused);
        return entry;
      },
      { validator: (d) => assertPause(state, paused, d) },
    );
  }
}

/** Update validator for pause/resume. @throws Error naming the problem (already paused, bad payload). */
function assertPause(state: BacklogState, paused: boolean, raw: unknown): void {
  parseOpsDecision(raw);
  if (state.paused === paused)
    throw new Error(`backlog ${state.backlogId} is already ${paused ? "paused" : "running (not paused)"}`);
}

/** Records a pause/resume decision in a backlog's audit log. */
function auditPause(state: BacklogState, paused: boolean, decision: OpsDecision): AuditEntry {
  const entry: AuditEntry = {
    at: new Date().toISOString(),
    actor: decision.reviewer,
    action: paused ? "pause" : "resume",
    reason: decision.reason,
  };
  state.auditLog.push(entry);
  return entry;
}

/** What `status` shows of a backlog's repository before it ends. */
function repositoryState(target: RepositoryTarget | undefined): BacklogState["repository"] {
  if (!target) return undefined;
  return {
    ...(target.path ? { path: target.path } : { url: target.url }),
    baseBranch: target.baseBranch,
    branch: target.integrationBranch,
  };
}

/**
 * The end of a backlog with a repository (issue 9): every worktree it left is removed and, unless
 * `--keep-branches`, its attempt branches are deleted (the integration branch stays); then, when
 * `metadata.push` asks for it and the backlog was not cancelled, the integration branch is pushed. A
 * push still refused after its retries is recorded in the state and logged; the backlog ends anyway.
 * Runs even when the backlog was cancelled (nothing may be left in `git worktree list`).
 */
async function finishRepository(input: BacklogWorkflowInput, state: BacklogState): Promise<void> {
  const { repository } = input;
  if (!repository) return;
  const repo = repositoryActivities(input.queues);
  const cancelled = CancellationScope.current().consideredCancelled;
  await CancellationScope.nonCancellable(async () => {
    try {
      await summarized(
        repo.finishRepository,
        `clean up ${repository.integrationBranch}: worktrees${repository.keepBranches ? "" : ", attempt branches"}`,
      )({ backlogId: input.backlogId, repository });
      if (state.repository) state.repository.cleanedUp = true;
    } catch (err) {
      log.warn("Could not clean up the repository", { backlogId: input.backlogId, error: (err as Error).message });
    }
    if (!repository.push || cancelled) return;
    const target = { remote: repository.push.remote, branch: repository.push.branch ?? repository.integrationBranch };
    try {
      const pushed = await summarized(
        repo.pushIntegrationBranch,
        `push ${target.branch} to ${target.remote}`,
      )({ backlogId: input.backlogId, repository });
      if (state.repository) state.repository.push = { ...target, ...pushed };
    } catch (err) {
      const error = failureMessage(err);
      log.warn("Push of the integration branch refused", { backlogId: input.backlogId, ...target, error });
      if (state.repository) state.repository.push = { ...target, error };
    }
  });
}

/** The `backlog.finished` notification: waited for at most a minute, never failing the backlog. */
async function notifyFinished(
  input: BacklogWorkflowInput,
  webhooks: CardPlan["webhooks"],
  counts: Record<string, number>,
  costUsd: number,
): Promise<void> {
  if (!webhooks || webhooks.length === 0) return;
  const event = {
    event: "backlog.finished" as const,
    at: new Date().toISOString(),
    backlogId: input.backlogId,
    counts,
    costUsd,
  };
  const sent = summarized(
    squadActivities(input.queues).notify,
    "notify backlog.finished",
  )({ event, webhooks }).catch((err: unknown) =>
    log.warn("Notification not delivered", { event: "backlog.finished", error: (err as Error).message }),
  );
  await Promise.race([sent, sleep("1 minute")]);
}
