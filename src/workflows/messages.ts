/**
 * The messages between workflows, re-exported from the contract (src/contract.ts), where every
 * signal, query and update is defined.
 */
export * from "../contract.js";
export type { CardSettled } from "../domain/backlog-state.js";
