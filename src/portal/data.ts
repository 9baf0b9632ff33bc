/**
 * What the portal reads from Temporal, built on the CLI's own readers (src/cli/): the board of
 * `status --watch`, the review queue of `list --status AWAITING_HUMAN`, the history of `history`. Nothing
 * is stored here: every answer is read again from Temporal.
 */
import type { Client } from "@temporalio/client";
import { CARD_STATUSES, failureReasons, type CardState, type Priority } from "../domain/index.js";
import { readBacklogView, type BacklogView, type CardView } from "../cli/backlogs.js";
import { boardOf, readWorkingOwners, type Board } from "../cli/board.js";
import { readCardHistory } from "../cli/history.js";
import { listCards } from "../cli/list.js";
import { mapPool } from "../cli/map-pool.js";
import { renderOwnerProgress } from "../cli/progress.js";

/** One backlog as visibility lists it. */
export interface BacklogSummary {
  backlogId: string;
  /** The backlog workflow's execution status: RUNNING, COMPLETED, CANCELLED… */
  execution: string;
  startTime: string;
  closeTime?: string;
}

/** Every backlog workflow on the namespace (visibility; newest first), at most `limit` (default 200). */
export async function listBacklogs(client: Client, limit = 200): Promise<BacklogSummary[]> {
  const out: BacklogSummary[] = [];
  for await (const wf of client.workflow.list({ query: 'WorkflowType="backlogWorkflow"' })) {
    out.push({
      backlogId: wf.workflowId,
      execution: wf.status.name,
      startTime: wf.startTime.toISOString(),
      ...(wf.closeTime ? { closeTime: wf.closeTime.toISOString() } : {}),
    });
    if (out.length >= limit) break;
  }
  return out.sort((a, b) => b.startTime.localeCompare(a.startTime));
}

/** A card as a board column shows it. */
export interface BoardCard {
  cardId: string;
  title: string;
  type: string;
  priority: Priority | string;
  status: string;
  attempt: number;
  /** Latest LLM-judge score, 0–10. */
  score?: number;
  costUsd: number;
  /** Why it waits (dependencies, a human, a decision), or what ended it. */
  why?: string;
  legacy: boolean;
  /** While its owner works: what the owner's last heartbeat said (turns, tokens, last tool). */
  progress?: string;
}

/** The board page's data: the CLI board plus every card, by status column. */
export interface PortalBoard extends Board {
  /** Status columns in lifecycle order (every status of CARD_STATUSES, plus any other a legacy card has). */
  columns: { status: string; cards: BoardCard[] }[];
  paused: boolean;
}

function whyItWaits(c: CardView): string | undefined {
  const s = c.state;
  if (c.status === "AWAITING_HUMAN") {
    const last = s?.attempts[s.attempts.length - 1];
    const reason = last ? failureReasons(last.verdicts)[0] : undefined;
    return `waits for a human review${reason ? `: ${reason}` : ""}`;
  }
  if (s?.settled)
    return c.status === "BLOCKED" && s.blockedBy
      ? `blocked by ${s.blockedBy.cardId} (${s.blockedBy.status}); retry or skip`
      : "at rest: retry or skip";
  if (s?.paused && !c.final) return "backlog paused";
  return c.note;
}

function boardCard(c: CardView, working: Board["working"]): BoardCard {
  const spec = c.state?.card;
  const why = whyItWaits(c);
  const progress = working?.find((w) => w.cardId === c.cardId)?.progress;
  const said = progress ? renderOwnerProgress(progress, false) : "";
  return {
    cardId: c.cardId,
    title: spec?.title ?? "",
    type: spec?.type ?? "",
    priority: spec?.priority ?? "",
    status: c.status,
    attempt: c.attempt,
    ...(c.score !== undefined ? { score: c.score } : {}),
    costUsd: c.costUsd,
    ...(why ? { why } : {}),
    legacy: c.legacy,
    ...(said ? { progress: said } : {}),
  };
}

/** The portal board of a backlog view (pure). */
export function portalBoardOf(view: BacklogView, progress?: Parameters<typeof boardOf>[1]): PortalBoard {
  const board = boardOf(view, progress);
  const statuses: string[] = [...CARD_STATUSES];
  for (const c of view.cards) if (!statuses.includes(c.status)) statuses.push(c.status);
  return {
    ...board,
    columns: statuses.map((status) => ({
      status,
      cards: view.cards.filter((c) => c.status === status).map((c) => boardCard(c, board.working)),
    })),
    paused: view.cards.some((c) => c.state?.paused === true && !c.final),
  };
}

/**
 * Reads a backlog's board.
 * @throws CliError as `readBacklogView` (exit 2 unknown backlog, exit 3 no worker).
 */
export async function readPortalBoard(client: Client, backlogId: string): Promise<PortalBoard> {
  const view = await readBacklogView(client, backlogId);
  return portalBoardOf(view, await readWorkingOwners(client, view).catch(() => undefined));
}

/** A card in the human-review queue. */
export interface ReviewItem {
  backlogId: string;
  cardId: string;
  title: string;
  type: string;
  priority: string;
  attempt: number;
  /** When the card started waiting for a human (ISO), from its status history. */
  waitingSince: string;
  /** The failure reasons of its last attempt (`validator: reason`). */
  reasons: string[];
  /** The debugging agent's last root cause, when it ran. */
  rootCause?: string;
  suggestions?: string[];
  costUsd: number;
  /** Set when the card's state could not be read in time (no worker answered): why. */
  unavailable?: string;
}

/** How long the review queue waits for one card's state, ms: a card nobody answers for must not stall the page. */
export const CARD_READ_DEADLINE_MS = 3000;

function waitingSince(state: CardState, fallback: string): string {
  for (let i = state.statusHistory.length - 1; i >= 0; i--) {
    if (state.statusHistory[i]!.status === "AWAITING_HUMAN") return state.statusHistory[i]!.at;
  }
  return fallback;
}

/**
 * The human-review queue, oldest wait first: the cards visibility lists as AWAITING_HUMAN (src/cli/list.ts;
 * all backlogs, or `backlogId`'s), each read through `history` for its reasons and root cause within
 * {@link CARD_READ_DEADLINE_MS} — a card whose state cannot be read in time (no worker answers) is listed
 * with what visibility knows and `unavailable`. Visibility trails a status change by up to a second: a card
 * whose state says it no longer waits is left out.
 */
export async function readReviewQueue(client: Client, backlogId?: string): Promise<ReviewItem[]> {
  const { cards } = await listCards(client, {
    status: "AWAITING_HUMAN",
    ...(backlogId !== undefined ? { backlog: backlogId } : {}),
  });
  const items = await mapPool(cards, 8, async (c): Promise<ReviewItem | undefined> => {
    let h;
    try {
      h = await client.withDeadline(Date.now() + CARD_READ_DEADLINE_MS, () =>
        readCardHistory(client, c.backlogId, c.cardId),
      );
    } catch (err) {
      return {
        backlogId: c.backlogId,
        cardId: c.cardId,
        title: "",
        type: c.type,
        priority: c.priority,
        attempt: c.attempt,
        waitingSince: c.startTime,
        reasons: [],
        costUsd: c.costUsd,
        unavailable: `its state could not be read (${(err as Error).message.split("\n")[0]}); is a worker running?`,
      };
    }
    if (h.state.status !== "AWAITING_HUMAN") return undefined;
    const s = h.state;
    const last = s.attempts[s.attempts.length - 1];
    const debug = s.debugReports[s.debugReports.length - 1];
    return {
      backlogId: c.backlogId,
      cardId: c.cardId,
      title: s.card.title,
      type: s.card.type,
      priority: s.card.priority,
      attempt: s.attempt,
      waitingSince: waitingSince(s, c.startTime),
      reasons: last ? failureReasons(last.verdicts) : [],
      ...(debug ? { rootCause: debug.rootCause, suggestions: debug.suggestions } : {}),
      costUsd: s.cost.usd,
    };
  });
  return items
    .filter((i): i is ReviewItem => i !== undefined)
    .sort((a, b) => a.waitingSince.localeCompare(b.waitingSince));
}

/** How many cards wait for a human (visibility only: cheap enough for every page view). */
export async function countAwaitingHuman(client: Client): Promise<number> {
  return (await listCards(client, { status: "AWAITING_HUMAN" })).cards.length;
}
