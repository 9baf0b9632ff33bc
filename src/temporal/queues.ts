/**
 * Task queues by kind of work, so each can be scaled on its own — PRODUCT.md "Contracts".
 * Pure constants: imported by workflows, the worker and the client alike.
 */

/** The task queue of each kind of work. */
export const TASK_QUEUES = {
  /** Backlog, card and correction workflows. */
  orchestration: "squadflow-orchestration",
  /** Owner agents (long-running, heavy). */
  owners: "squadflow-owners",
  /** Verification, LLM-judge and QA. */
  validation: "squadflow-validation",
  /** The debugging agent. */
  debugging: "squadflow-debugging",
} as const;

/** A kind of work, e.g. `owners`. */
export type QueueKind = keyof typeof TASK_QUEUES;

/** Every queue kind, in the order a full worker starts them. */
export const QUEUE_KINDS = Object.keys(TASK_QUEUES) as QueueKind[];
