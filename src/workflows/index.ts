/** The workflows of squadflow, re-exported for the worker's workflow bundle. */
export { backlogWorkflow } from "./backlog.js";
export { backlogShardWorkflow } from "./backlog-shard.js";
export { cardWorkflow } from "./card.js";
export { correctionWorkflow } from "./correction.js";
export { deliberationWorkflow } from "./deliberation.js";
