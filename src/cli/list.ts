/**
 * `squadflow list`: cards found by a visibility query over squadflow's search attributes (PRODUCT.md
 * "Contracts") — across backlogs, without asking any worker. `list --status AWAITING_HUMAN` is the
 * human-review queue. Visibility is eventually consistent: a card that just changed status may show its
 * previous status for a second.
 */
import type { Client, WorkflowExecutionInfo } from "@temporalio/client";
import { CARD_STATUSES, PRIORITY_KEYS, type CardStatus, type Priority } from "../domain/index.js";
import { reviewCommand } from "../domain/notifications.js";
import {
  BacklogIdKey,
  CardAttemptKey,
  CardCostUsdKey,
  CardIdKey,
  CardPriorityKey,
  CardStatusKey,
  CardTypeKey,
} from "../temporal/search-attributes.js";
import { CliError } from "./errors.js";

/** What to list. */
export interface ListFilter {
  status?: CardStatus;
  /** Card type, e.g. `BACKEND`. */
  type?: string;
  backlog?: string;
  /** Include correction workflows (`<card>-CORR-<n>`); default false. */
  corrections?: boolean;
}

/** One card (or correction) as visibility shows it. */
export interface ListedCard {
  backlogId: string;
  cardId: string;
  workflowId: string;
  runId: string;
  /** `cardWorkflow` or `correctionWorkflow`. */
  workflowType: string;
  type: string;
  status: string;
  attempt: number;
  priority: Priority | string;
  costUsd: number;
  /** The workflow execution's status: RUNNING, COMPLETED, FAILED… */
  execution: string;
  startTime: string;
  closeTime?: string;
}

/**
 * Checks `--status` against CARD_STATUSES (case-insensitive) and returns it upper-cased.
 * @throws CliError (exit 2) naming the valid statuses.
 */
export function parseStatus(value: string): CardStatus {
  const s = value.trim().toUpperCase();
  if (!(CARD_STATUSES as readonly string[]).includes(s)) {
    throw new CliError(`unknown status "${value}" (statuses: ${CARD_STATUSES.join(", ")})`);
  }
  return s as CardStatus;
}

/**
 * A string literal of Temporal's visibility query language: double-quoted, `\` and `"` escaped.
 * @throws CliError (exit 2) for control characters, which no backlog id, card id or type contains.
 */
export function quoteQueryValue(value: string): string {
  if (/[\u0000-\u001f\u007f]/.test(value))
    throw new CliError(`invalid value ${JSON.stringify(value)}: control characters are not allowed`);
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** The visibility query of a filter, e.g. `WorkflowType="cardWorkflow" AND CardStatus="AWAITING_HUMAN"`. */
export function buildListQuery(f: ListFilter): string {
  const parts = [
    f.corrections
      ? '(WorkflowType="cardWorkflow" OR WorkflowType="correctionWorkflow")'
      : 'WorkflowType="cardWorkflow"',
  ];
  if (f.backlog !== undefined) parts.push(`BacklogId=${quoteQueryValue(f.backlog)}`);
  if (f.type !== undefined) parts.push(`CardType=${quoteQueryValue(f.type)}`);
  if (f.status !== undefined) parts.push(`CardStatus=${quoteQueryValue(f.status)}`);
  return parts.join(" AND ");
}

const PRIORITY_NAMES = Object.fromEntries(Object.entries(PRIORITY_KEYS).map(([name, key]) => [key, name])) as Record<
  number,
  Priority
>;

function listed(wf: WorkflowExecutionInfo): ListedCard {
  const sa = wf.typedSearchAttributes;
  const priority = sa.get(CardPriorityKey);
  return {
    backlogId: sa.get(BacklogIdKey) ?? "",
    cardId: sa.get(CardIdKey) ?? wf.workflowId,
    workflowId: wf.workflowId,
    runId: wf.runId,
    workflowType: wf.type,
    type: sa.get(CardTypeKey) ?? "",
    status: sa.get(CardStatusKey) ?? "",
    attempt: sa.get(CardAttemptKey) ?? 0,
    priority: priority !== undefined ? (PRIORITY_NAMES[priority] ?? String(priority)) : "",
    costUsd: sa.get(CardCostUsdKey) ?? 0,
    execution: wf.status.name,
    startTime: wf.startTime.toISOString(),
    ...(wf.closeTime ? { closeTime: wf.closeTime.toISOString() } : {}),
  };
}

/**
 * Lists the cards matching `filter`: highest priority first, then oldest first (the order a review queue
 * is worked through). `limit` caps how many are read (default: all).
 */
export async function listCards(
  client: Client,
  filter: ListFilter,
  limit?: number,
): Promise<{ query: string; cards: ListedCard[] }> {
  const query = buildListQuery(filter);
  const cards: ListedCard[] = [];
  for await (const wf of client.workflow.list({ query })) {
    cards.push(listed(wf));
    if (limit !== undefined && cards.length >= limit) break;
  }
  const rank = (p: string) => PRIORITY_KEYS[p as Priority] ?? 9;
  cards.sort(
    (a, b) =>
      rank(a.priority) - rank(b.priority) ||
      a.startTime.localeCompare(b.startTime) ||
      a.workflowId.localeCompare(b.workflowId),
  );
  return { query, cards };
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

/** A table of listed cards; for cards awaiting a human, the review command under the row. */
export function renderList(cards: ListedCard[], query: string): string {
  if (cards.length === 0) return `no cards match ${query}`;
  const w = {
    backlog: Math.max(7, ...cards.map((c) => c.backlogId.length)),
    card: Math.max(4, ...cards.map((c) => c.cardId.length)),
    type: Math.max(4, ...cards.map((c) => c.type.length)),
  };
  const lines = [
    `${pad("BACKLOG", w.backlog)}  ${pad("CARD", w.card)}  ${pad("TYPE", w.type)}  ${pad("STATUS", 15)} ATTEMPT  ${pad("PRIORITY", 8)}  COST USD  STARTED`,
  ];
  for (const c of cards) {
    lines.push(
      `${pad(c.backlogId, w.backlog)}  ${pad(c.cardId, w.card)}  ${pad(c.type, w.type)}  ${pad(c.status, 15)} ${pad(String(c.attempt), 7)}  ${pad(c.priority, 8)}  ${pad(c.costUsd.toFixed(4), 8)}  ${c.startTime.slice(0, 19).replace("T", " ")}`,
    );
    if (c.status === "AWAITING_HUMAN" && c.workflowType === "cardWorkflow")
      lines.push(`  ↳ ${reviewCommand(c.backlogId, c.cardId)}`);
  }
  lines.push(`${cards.length} card${cards.length === 1 ? "" : "s"}`);
  return lines.join("\n");
}
