/**
 * Card priorities and the Temporal priority keys they become. Pure and free of libraries (workflow code
 * imports it).
 */

/** Card priorities, highest first — PRODUCT.md vocabulary. */
export const PRIORITIES = ["CRITICAL", "HIGH", "MEDIUM", "LOW"] as const;
/** A card priority. */
export type Priority = (typeof PRIORITIES)[number];

/** Temporal priority key of each card priority (1 runs first; the server default is 3 of 1–5). */
export const PRIORITY_KEYS: Record<Priority, number> = { CRITICAL: 1, HIGH: 2, MEDIUM: 3, LOW: 4 };

/**
 * Temporal priority key of the backlog and shard workflows: 1, above every card (see {@link cardPriorityKey}),
 * so that a coordinator's workflow tasks (starting cards and pages) are not queued behind its cards'.
 */
export const COORDINATOR_PRIORITY_KEY = 1;

/**
 * Temporal priority key of a card workflow: its priority's {@link PRIORITY_KEYS} value + 1 (2–5, within
 * the server's 1–5), below the coordinators'. The `CardPriority` search attribute keeps PRIORITY_KEYS.
 */
export function cardPriorityKey(priority: Priority): number {
  return PRIORITY_KEYS[priority] + 1;
}
