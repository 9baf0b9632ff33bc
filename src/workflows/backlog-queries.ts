/** The backlog's queries, re-exported from the contract (src/contract.ts). */
export { backlogBudgetQuery, backlogStateQuery } from "../contract.js";
export type { BacklogBudget } from "../domain/backlog-state.js";
