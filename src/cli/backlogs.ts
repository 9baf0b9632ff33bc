/**
 * What the CLI does against Temporal: start a backlog, read its state and its cards' states, send a human
 * review. Card data comes from the workflows themselves (queries while they run, results once closed),
 * so Temporal stays the source of truth.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowHandle,
} from "@temporalio/client";
import {
  CORRECTION_TYPE,
  isCardIdle,
  COORDINATOR_PRIORITY_KEY,
  backlogWorkflowId,
  cardWorkflowId,
  parseHumanReview,
  type AuditEntry,
  type BacklogPlan,
  type CardOutcome,
  type CardState,
  type CardStatus,
  type HumanReview,
  type PageLimits,
  type PlanPage,
  needsPages,
  planPages,
  shardWorkflowId,
} from "../domain/index.js";
import {
  addCardsUpdate,
  backlogStateQuery,
  backlogWorkflow,
  type BacklogCardEntry,
  type BacklogState,
} from "../workflows/backlog.js";
import { backlogShardWorkflow, type BacklogShardResult } from "../workflows/backlog-shard.js";
import { cardStateQuery, humanReviewUpdate, retryCardUpdate, skipCardUpdate } from "../workflows/card.js";
import { TASK_QUEUES } from "../temporal/queues.js";
import { backlogDetails, backlogSummary, shardSummary } from "../domain/ui-metadata.js";
import { BacklogIdKey } from "../temporal/search-attributes.js";
import { CliError, EXIT } from "./errors.js";
import { mapPool } from "./map-pool.js";

/** Task queues a backlog's workflows and activities use. */
export interface BacklogQueues {
  orchestration: string;
  owners: string;
  validation: string;
  debugging: string;
}

/** What `startBacklog` did. */
export interface StartResult {
  backlogId: string;
  workflowId: string;
  /** False when a backlog with this id already existed (nothing new was started). */
  started: boolean;
  /** Status of the existing run when `started` is false (`RUNNING`, `COMPLETED`…). */
  existingStatus?: string;
}

/** Options of {@link startBacklog}. */
export interface StartOptions {
  /** Page limits of a big backlog (defaults: src/domain/pages.ts); tests page small backlogs with them. */
  pages?: PageLimits;
}

/**
 * Starts the backlog workflow of a validated plan (workflow ID = backlog id). A backlog bigger than one
 * page (src/domain/pages.ts) is then sent page by page (`sendPages`: a shard workflow per page, registered
 * with the `addCards` update, which returns once the page's cards have started). If a workflow with that ID already exists, starts nothing and says so —
 * except for a paged backlog whose pages did not all arrive (the client stopped half-way): the missing
 * pages are sent.
 */
export async function startBacklog(
  client: Client,
  plan: BacklogPlan,
  file: string,
  queues: BacklogQueues = TASK_QUEUES,
  options: StartOptions = {},
): Promise<StartResult> {
  const workflowId = backlogWorkflowId(plan.backlogId);
  const legacyCards = plan.source.cards.filter((c) => c.status === "DONE" || c.type === CORRECTION_TYPE) as Record<
    string,
    unknown
  >[];
  const pages = needsPages(plan.cards, options.pages) ? planPages(plan.cards, options.pages) : undefined;
  let started = true;
  try {
    await client.workflow.start(backlogWorkflow, {
      workflowId,
      taskQueue: queues.orchestration,
      // A backlog id names one run: re-starting a finished backlog would mix two runs' cards under the same IDs.
      workflowIdReusePolicy: "REJECT_DUPLICATE",
      args: [
        {
          backlogId: plan.backlogId,
          cards: pages ? [] : plan.cards,
          done: plan.done,
          queues: { owners: queues.owners, validation: queues.validation, debugging: queues.debugging },
          source: { file, metadata: plan.source.metadata as Record<string, unknown>, legacyCards },
          ...(pages ? { pages: pages.length, budgetUsd: plan.budgetUsd, webhooks: plan.cards[0]?.webhooks } : {}),
          ...(plan.repository ? { repository: plan.repository } : {}),
        },
      ],
      typedSearchAttributes: [{ key: BacklogIdKey, value: plan.backlogId }],
      priority: { priorityKey: COORDINATOR_PRIORITY_KEY },
      staticSummary: backlogSummary(plan.backlogId, plan.cards.length, plan.repository),
      staticDetails: backlogDetails(file, plan.budgetUsd, pages?.length),
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    started = false;
  }
  const handle = client.workflow.getHandle<typeof backlogWorkflow>(workflowId);
  if (!started) {
    const desc = await handle.describe();
    const existing: StartResult = {
      backlogId: plan.backlogId,
      workflowId,
      started: false,
      existingStatus: desc.status.name,
    };
    if (!pages || desc.status.name !== "RUNNING") return existing;
    const state = await handle.query(backlogStateQuery);
    if (!state.pages || state.pages.received >= state.pages.expected) return existing;
  }
  if (pages) await sendPages(client, handle, plan, queues, pages);
  return { backlogId: plan.backlogId, workflowId, started: true };
}

/**
 * Sends the pages a paged backlog has not received yet, in order: starts each page's shard workflow with
 * the page (an existing one is reused, so a resent page starts nothing twice), then registers it with the
 * backlog (`addCards`, update ID `<backlogId>/page-<n>`), which returns once the page's cards have started.
 */
async function sendPages(
  client: Client,
  handle: WorkflowHandle<typeof backlogWorkflow>,
  plan: BacklogPlan,
  queues: BacklogQueues,
  pages: PlanPage[],
): Promise<void> {
  const { pages: received } = await handle.query(backlogStateQuery);
  for (const page of pages.slice(received?.received ?? 0)) {
    const workflowId = shardWorkflowId(plan.backlogId, page.index + 1);
    await client.workflow.start(backlogShardWorkflow, {
      workflowId,
      taskQueue: queues.orchestration,
      workflowIdConflictPolicy: "USE_EXISTING",
      workflowIdReusePolicy: "REJECT_DUPLICATE",
      args: [
        {
          backlogId: plan.backlogId,
          page,
          queues: { owners: queues.owners, validation: queues.validation, debugging: queues.debugging },
        },
      ],
      typedSearchAttributes: [{ key: BacklogIdKey, value: plan.backlogId }],
      priority: { priorityKey: COORDINATOR_PRIORITY_KEY },
      staticSummary: shardSummary(plan.backlogId, page.index, page.cards.length),
    });
    await handle.executeUpdate(addCardsUpdate, {
      args: [{ index: page.index, workflowId, cardIds: page.cards.map((c) => c.card.id) }],
      updateId: `${handle.workflowId}/page-${page.index}`,
    });
  }
}

/** A card's row: its state, plus whether its workflow has ended. */
export interface CardView {
  cardId: string;
  workflowId: string;
  /** True once the card workflow has ended (DONE, REJECTED, BLOCKED, FAILED, CANCELLED). */
  final: boolean;
  /** Legacy card (DONE or CORRECTION in the file), not run. */
  legacy: boolean;
  status: CardStatus | string;
  attempt: number;
  /** Latest LLM-judge score, 0–10. */
  score?: number;
  costUsd: number;
  state?: CardState;
  note?: string;
}

/** The backlog and every card's view. */
export interface BacklogView {
  backlog: BacklogState;
  running: boolean;
  cards: CardView[];
}

function isNotFound(err: unknown): boolean {
  return err instanceof WorkflowNotFoundError || (err as { name?: string })?.name === "WorkflowNotFoundError";
}

/**
 * Reads a backlog's state: the workflow result once completed, a query while it runs or once cancelled
 * (`cancel BACKLOG`: a cancelled workflow has no result; a query of the closed run reads its last state).
 * @throws CliError(exit 2) for an unknown backlog; CliError(exit 3) when no worker answers the query.
 */
export async function readBacklog(
  client: Client,
  backlogId: string,
): Promise<{ state: BacklogState; running: boolean }> {
  const handle = client.workflow.getHandle<typeof backlogWorkflow>(backlogWorkflowId(backlogId));
  let status: string;
  try {
    status = (await handle.describe()).status.name;
  } catch (err) {
    if (isNotFound(err))
      throw new CliError(`unknown backlog "${backlogId}" (no workflow with ID "${backlogWorkflowId(backlogId)}")`);
    throw err;
  }
  if (status === "COMPLETED") return { state: await withShardCards(client, await handle.result()), running: false };
  if (status !== "RUNNING" && status !== "CANCELLED") {
    throw new CliError(
      `backlog "${backlogId}" ended ${status}; see: temporal workflow show -w ${backlogWorkflowId(backlogId)}`,
      EXIT.failure,
    );
  }
  return {
    state: await withShardCards(client, await queryOrExplain(handle, backlogStateQuery, backlogId)),
    running: status === "RUNNING",
  };
}

/**
 * A paged backlog keeps its cards in its shards (src/domain/pages.ts): gathers them into `state.cards`
 * (a shard's result once it ended, its query while it runs), so that the rest of the CLI sees one list.
 */
async function withShardCards(client: Client, state: BacklogState): Promise<BacklogState> {
  if (!state.shards) return state;
  const parts = await mapPool(state.shards, 8, async (shard) => {
    const handle = client.workflow.getHandle(shard.workflowId);
    try {
      const status = (await handle.describe()).status.name;
      if (status === "COMPLETED") return ((await handle.result()) as BacklogShardResult).cards;
      if (status !== "RUNNING" && status !== "CANCELLED") return [];
      return (await queryOrExplain<BacklogState>(handle, backlogStateQuery, `backlog shard ${shard.workflowId}`)).cards;
    } catch (err) {
      if (isNotFound(err)) return []; // being started
      throw err;
    }
  });
  return { ...state, cards: parts.flat() };
}

async function queryOrExplain<T>(
  handle: WorkflowHandle,
  query: Parameters<WorkflowHandle["query"]>[0],
  what: string,
): Promise<T> {
  try {
    return (await handle.query(query as never)) as T;
  } catch (err) {
    throw new CliError(
      `could not query ${what}: ${(err as Error).message}. Is a squadflow worker running (squadflow dev / squadflow worker)?`,
      EXIT.unavailable,
    );
  }
}

function lastScore(state: CardState): number | undefined {
  for (let i = state.attempts.length - 1; i >= 0; i--) {
    const judge = state.attempts[i]!.verdicts.find((v) => v.validator === "llm_judge");
    if (judge?.score !== undefined) return judge.score;
  }
  return undefined;
}

function viewOf(cardId: string, workflowId: string, final: boolean, state: CardState, note?: string): CardView {
  return {
    cardId,
    workflowId,
    final,
    legacy: false,
    status: state.status,
    attempt: state.attempt,
    score: lastScore(state),
    costUsd: state.cost.usd,
    state,
    note: note ?? (state.waitingFor.length > 0 ? `waiting for ${state.waitingFor.join(", ")}` : undefined),
  };
}

/**
 * The final state of a card whose workflow has ended: its outcome's, or (backlogs and shards keep lean
 * outcomes) the card workflow's own result's. Undefined while the card runs, for a FAILED run, or when the
 * result cannot be read.
 */
export async function endedCardState(client: Client, entry: BacklogCardEntry): Promise<CardState | undefined> {
  const o = entry.outcome;
  if (!o) return undefined;
  if (o.state) return o.state;
  if (o.status === "FAILED") return undefined;
  const full = await (client.workflow.getHandle(entry.workflowId).result() as Promise<CardOutcome>).catch(
    () => undefined,
  );
  return full?.state;
}

/** Reads the backlog and every card (queries for running cards, outcomes for ended ones). */
export async function readBacklogView(client: Client, backlogId: string): Promise<BacklogView> {
  const { state, running } = await readBacklog(client, backlogId);
  const cards: CardView[] = [];
  for (const legacy of state.source.legacyCards) {
    const cost = (legacy.cost_tracking as { cost_usd?: number } | undefined)?.cost_usd ?? 0;
    cards.push({
      cardId: String(legacy.id),
      workflowId: "-",
      final: true,
      legacy: true,
      status: String(legacy.status),
      attempt: Number(legacy.attempt ?? 0),
      costUsd: cost,
      note:
        legacy.type === CORRECTION_TYPE ? `legacy correction of ${String(legacy.parent_card)}` : "legacy, not re-run",
    });
  }
  const views = await mapPool(state.cards, 32, async (entry): Promise<CardView> => {
    if (entry.outcome) {
      const o = entry.outcome;
      const ended = await endedCardState(client, entry);
      if (ended) return viewOf(entry.cardId, entry.workflowId, true, ended, o.message);
      return {
        cardId: entry.cardId,
        workflowId: entry.workflowId,
        final: true,
        legacy: false,
        status: o.status,
        attempt: o.attempt,
        costUsd: o.cost.usd,
        note: o.message,
      };
    }
    const handle = client.workflow.getHandle(entry.workflowId);
    try {
      return viewOf(entry.cardId, entry.workflowId, false, await handle.query(cardStateQuery));
    } catch (err) {
      // The backlog lists every card at once; a child still being started is simply TODO.
      if (isNotFound(err))
        return {
          cardId: entry.cardId,
          workflowId: entry.workflowId,
          final: false,
          legacy: false,
          status: "TODO",
          attempt: 0,
          costUsd: 0,
          note: "starting",
        };
      return viewOf(
        entry.cardId,
        entry.workflowId,
        false,
        await queryOrExplain<CardState>(handle, cardStateQuery, `card ${entry.cardId}`),
      );
    }
  });
  cards.push(...views);
  return { backlog: state, running, cards };
}

/**
 * True when nothing more happens without someone acting: every page has arrived and every card is idle
 * (`isCardIdle`, domain/lifecycle.ts) — no owner, validator or correction is at work, and no dependency
 * signal is on its way (it may be between workers).
 */
export function isIdle(view: BacklogView): boolean {
  const pages = view.backlog.pages;
  if (pages && pages.received < pages.expected) return false; // pages still arriving
  const done = new Set(view.cards.filter((c) => c.status === "DONE").map((c) => c.cardId));
  return view.cards.every((c) =>
    isCardIdle({ final: c.final, status: c.status, settled: c.state?.settled, waitingFor: c.state?.waitingFor }, done),
  );
}

/**
 * Waits until a card's workflow exists. The backlog lists every card from its first second but starts
 * them in the background (in pages for big backlogs), so an operator can name a card whose workflow is
 * still being started.
 * @param timeoutMs how long to wait, ms (default 30 s).
 * @throws CliError(exit 3) when the card workflow has not started in time (is a worker running?).
 */
export async function awaitCardStarted(client: Client, workflowId: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await client.workflow.getHandle(workflowId).describe();
      return;
    } catch (err) {
      if (!isNotFound(err)) throw err;
      if (Date.now() > deadline) {
        throw new CliError(
          `card workflow "${workflowId}" has not started after ${timeoutMs / 1000} s; is a squadflow worker running?`,
          EXIT.unavailable,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/**
 * Checks that a card belongs to a backlog and was run (not a legacy card); waits for its workflow to
 * have started when the backlog has not started it yet.
 * @throws CliError(exit 2) naming the unknown backlog or card.
 */
export async function assertRunCard(client: Client, backlogId: string, cardId: string): Promise<BacklogState> {
  const { state } = await readBacklog(client, backlogId);
  if (!state.cards.some((c) => c.cardId === cardId)) {
    const legacy = state.source.legacyCards.some((c) => c.id === cardId);
    throw new CliError(
      legacy
        ? `card "${cardId}" of backlog "${backlogId}" is a legacy card that was not run; nothing to do`
        : `unknown card "${cardId}" in backlog "${backlogId}" (cards: ${state.cards.map((c) => c.cardId).join(", ")})`,
    );
  }
  if (!state.cards.find((c) => c.cardId === cardId)!.outcome)
    await awaitCardStarted(client, cardWorkflowId(backlogId, cardId));
  return state;
}

/**
 * Sends an update to a card workflow and returns its audit entry. When the card has already ended, an
 * identical decision that was its last one is answered with that entry (idempotent repeats).
 * @throws CliError(exit 2) for an unknown backlog/card, or a decision the card refused.
 */
export async function updateCard(
  client: Client,
  backlogId: string,
  cardId: string,
  update: typeof humanReviewUpdate | typeof retryCardUpdate | typeof skipCardUpdate,
  payload: { reviewer: string; reason: string; decision?: string; context?: string },
  /** The backlog's state when the caller has just read it (else read here). */
  known?: BacklogState,
): Promise<AuditEntry> {
  const state = known ?? (await assertRunCard(client, backlogId, cardId));
  const handle = client.workflow.getHandle(cardWorkflowId(backlogId, cardId));
  try {
    return await handle.executeUpdate(update as typeof humanReviewUpdate, { args: [payload as HumanReview] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      throw new CliError(`refused: ${(err.cause as Error | undefined)?.message ?? err.message}`);
    }
    const entry = state.cards.find((c) => c.cardId === cardId);
    const ended = entry?.outcome;
    const last = (entry ? await endedCardState(client, entry) : undefined)?.auditLog
      .filter((e) => e.actor !== "squadflow")
      .pop();
    const action = payload.decision ?? update.name;
    const reason = payload.context ? `${payload.reason} (context: ${payload.context})` : payload.reason;
    if (last && last.actor === payload.reviewer && last.action === action && last.reason === reason) return last;
    if (isNotFound(err) || ended) {
      throw new CliError(
        `card "${cardId}" of backlog "${backlogId}" is not running (already ended)${ended ? `, status ${ended.status}` : ""}`,
      );
    }
    throw err;
  }
}

/**
 * Sends a human decision as the `humanReview` update and returns the audit entry.
 * @throws CliError(exit 2) for bad input, an unknown backlog/card, or a decision the card refused.
 */
export async function reviewCard(client: Client, backlogId: string, cardId: string, raw: unknown): Promise<AuditEntry> {
  let review: HumanReview;
  try {
    review = parseHumanReview(raw);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  return updateCard(client, backlogId, cardId, humanReviewUpdate, review);
}
