/**
 * Start-to-close timeouts of the activities, in one place: the workflows schedule the activities with them
 * (src/workflows/activities.ts) and the squad config refuses run limits (`timeout_ms`) they would cut off
 * (src/domain/squad.ts). Pure constants, safe to import from workflow code.
 *
 * Why the margin: an activity does more than its agent or model call — it prepares the workspace, kills the
 * process group with a grace period, lists and redacts the artifacts, records the result. The run's own hard
 * limit must fire first, so that it ends with a typed, explained `AgentTimeoutError` (and its cost) rather
 * than a bare Temporal start-to-close timeout that is retried with the agent killed mid-run.
 */

/** One minute, ms. */
const MINUTE_MS = 60_000;

/** Start-to-close timeout of the owner activity (`runOwner`), ms: 65 min (the old Celery 1 h hard limit + margin). */
export const OWNER_ACTIVITY_TIMEOUT_MS = 65 * MINUTE_MS;

/** Start-to-close timeout of the validation activities (`verifyArtifacts`, `judgeArtifacts`, `runQa`), ms: 15 min. */
export const VALIDATION_ACTIVITY_TIMEOUT_MS = 15 * MINUTE_MS;

/** Start-to-close timeout of the debugging activity (`debugFailures`), ms: 10 min. */
export const DEBUGGING_ACTIVITY_TIMEOUT_MS = 10 * MINUTE_MS;

/** Time an activity keeps beyond its run's own hard limit (workspace, kill grace, artifacts), ms: 5 min. */
export const ACTIVITY_TIMEOUT_MARGIN_MS = 5 * MINUTE_MS;

/** Largest `timeout_ms` of an owner agent (any kind), ms: the owner activity's timeout less the margin (60 min). */
export const MAX_AGENT_TIMEOUT_MS = OWNER_ACTIVITY_TIMEOUT_MS - ACTIVITY_TIMEOUT_MARGIN_MS;

/** Largest `timeout_ms` of an `llm` judge (all its calls, panel in parallel), ms: the validation timeout less the margin (10 min). */
export const MAX_JUDGE_TIMEOUT_MS = VALIDATION_ACTIVITY_TIMEOUT_MS - ACTIVITY_TIMEOUT_MARGIN_MS;

/** Largest `timeout_ms` of an `llm` debugger, ms: the debugging timeout less the margin (5 min). */
export const MAX_DEBUGGER_TIMEOUT_MS = DEBUGGING_ACTIVITY_TIMEOUT_MS - ACTIVITY_TIMEOUT_MARGIN_MS;

/** `ms` in words for messages: `60 min`, `90 s`, `1500 ms`. */
export function formatMs(ms: number): string {
  if (ms % MINUTE_MS === 0) return `${ms / MINUTE_MS} min`;
  if (ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}
