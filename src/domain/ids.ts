/**
 * Workflow IDs (PRODUCT.md "Every workflow ID is derived from the backlog id and card id"):
 *   backlog            `<backlogId>`
 *   card               `<backlogId>/<cardId>`
 *   correction round n `<backlogId>/<cardId>-CORR-<n>`
 *   backlog shard n    `<backlogId>/~shard-<n>` (big backlogs only; `~` cannot start a card id)
 */

/** Workflow ID of a backlog workflow: the backlog id itself. */
export function backlogWorkflowId(backlogId: string): string {
  return backlogId;
}

/** Workflow ID of a card workflow, `<backlogId>/<cardId>`. */
export function cardWorkflowId(backlogId: string, cardId: string): string {
  return `${backlogId}/${cardId}`;
}

/** Workflow ID of shard `n` (1-based) of a paged backlog, `<backlogId>/~shard-<n>` — see pages.ts. */
export function shardWorkflowId(backlogId: string, n: number): string {
  return `${backlogId}/~shard-${n}`;
}

/** Card id of correction round `n` (1-based), e.g. `ARQ-001-CORR-1` — PRODUCT.md vocabulary. */
export function correctionCardId(cardId: string, n: number): string {
  return `${cardId}-CORR-${n}`;
}

/** Workflow ID of correction round `n`, `<backlogId>/<cardId>-CORR-<n>`. */
export function correctionWorkflowId(backlogId: string, cardId: string, n: number): string {
  return cardWorkflowId(backlogId, correctionCardId(cardId, n));
}

/** Card id of the escalation of a card, e.g. `ARQ-001-ESC` — PRODUCT.md vocabulary. */
export function escalationCardId(cardId: string): string {
  return `${cardId}-ESC`;
}

/**
 * Workspace of one attempt, relative to the workspaces root (`state/workspaces`):
 * `<backlogId>/<cardId>/attempt-<n>`.
 */
export function attemptWorkspace(backlogId: string, cardId: string, attempt: number): string {
  return `${backlogId}/${cardId}/attempt-${attempt}`;
}

/** Backlog ids are used in workflow IDs and paths: letters, digits, `.`, `_`, `-`; 1–100 chars. */
export const BACKLOG_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Card ids are used in workflow IDs and paths: letters, digits, `.`, `_`, `-`; 1–100 chars. */
export const CARD_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
