/**
 * The stable error types of squadflow's activities (STYLE.md "Errors"), shared by the activities that
 * throw them and the workflows that read them (retry policies, failure details): pure data, so workflow
 * code needs no import of activity code. The helpers that build these failures live in
 * src/activities/errors.ts.
 */
import type { Cost } from "./cost.js";

/**
 * The `type` of every `ApplicationFailure` the activities throw on purpose.
 *
 * - `AgentConfigError` — non-retryable: the owner agent cannot be started or authenticated: binary missing
 *   or not executable (the message names what to install), API key variable unset (names the variable),
 *   credentials refused (HTTP 401/403, Claude Code "Invalid API key", Gemini exit 41), model or endpoint
 *   unknown (HTTP 404), CLI configuration refused (Gemini exit 44/52), bad working directory, invalid config.
 *   Retrying cannot help; fix the squad config or the worker's environment.
 * - `AgentExitError` — retryable: the agent exited non-zero (or was killed by a signal it was not sent by
 *   us), or its CLI reported a failed run (Claude Code `error_during_execution` and other `error_*`
 *   subtypes, Codex `turn.failed`/`error`, Gemini exit 1).
 * - `AgentOutputError` — retryable: the agent's output is not what its kind promises (the `command` JSON
 *   object, Claude Code's result object, Codex JSONL, Gemini JSON, the `llm` structured answer, or a file
 *   path that leaves the workspace), or it was longer than the 10 MiB cap.
 * - `AgentTimeoutError` — retryable: the agent ran past `timeout_ms` and its process group was killed (or
 *   the LLM call was aborted).
 * - `AgentTurnLimitError` — non-retryable: the agent used up its turns (Claude Code `error_max_turns`,
 *   Gemini exit 53). The same prompt would stop at the same limit; the failure becomes the owner verdict
 *   and a correction round (with feedback) or a human takes it from there.
 * - `AgentBudgetExceededError` — non-retryable: the run reached its budget (Claude Code
 *   `error_max_budget_usd`), or `OwnerInput.budgetUsd` was ≤ 0 so it did not start. Retrying would spend
 *   past the budget.
 * - `AgentInputError` — non-retryable: the CLI refused its prompt or arguments (Gemini exit 42): check
 *   `extra_args`.
 * - `AgentPermissionError` — non-retryable: the agent's CLI denied a tool the run needed (Claude Code
 *   `permission_denials`, a Codex patch or command rejected by its sandbox, a Gemini tool its approval mode
 *   leaves out); the message and `AgentFailureDetails.deniedTools` name the tools. The same configuration
 *   would be denied again: widen `permission_mode` / `sandbox` / `approval_mode` or split the card.
 * - `AgentResourceLimitError` — non-retryable: the run passed one of its agent's `limits` (`cpu_seconds`,
 *   `memory_mb` of its process group — which was killed —, or `max_output_tokens` reported); the message
 *   names the limit, what was used and the cost is in `details[0]` when known.
 * - `AgentToolError` — retryable: a tool the agent ran failed fatally (Gemini exit 54).
 * - `AgentCancelledError` — retryable: the agent reported that it was cancelled (Gemini exit 130, SIGINT)
 *   although squadflow did not cancel it — a user or the machine interrupted it; a new try may finish.
 *   (When the activity itself is cancelled, squadflow kills the agent and rethrows the `CancelledFailure`
 *   instead.)
 * - `LlmApiError` — retryable: an LLM API call failed after the SDK's (or the agent CLI's) own retries
 *   (HTTP 408/409/429/5xx/529, connection errors).
 * - `LlmRequestError` — non-retryable: the LLM API refused the request itself (other HTTP 4xx, e.g. 400
 *   prompt too long, 422): the same request fails the same way.
 * - `JudgeOutputError` — non-retryable: an `llm` judge's answer stayed invalid after `max_output_retries`
 *   re-asks. The judge reports a failure (the workflow turns it into a failed verdict), never a silent pass.
 * - `PeerReviewOutputError` — non-retryable: a peer reviewer's answer is not `{ verdict, comments }` within
 *   200 words (a `command` reviewer's stdout; an `llm` reviewer's after its re-asks). The peer review fails
 *   (a failed verdict naming the reviewer), never a silent pass.
 * - `ValidatorConfigError` — non-retryable: a QA check or rubric criterion cannot run as configured
 *   (command missing, invalid regular expression).
 * - `WorkspaceError` — non-retryable: a workspace path escapes the workspaces root.
 * - `WorkspaceNotFoundError` — retryable: an attempt workspace that must exist does not (usually a worker
 *   on another machine without the shared workspaces directory; another worker may see it).
 * - `RepositoryError` — non-retryable: the backlog's repository cannot be used as configured (missing, not a
 *   git repository, base branch or attempt commit unknown, clone URL refused) — issue 9. Fix the backlog's
 *   `metadata.repository` / `metadata.base_branch` or the worker's repository.
 * - `GitError` — retryable: a git command failed for a reason a retry may fix (a lock held too long, I/O,
 *   network); the message names the command and quotes git's stderr.
 * - `PushRefusedError` — retryable: the remote refused the push of the integration branch (non-fast-forward,
 *   a hook, credentials); the message quotes git. The workflow caps its retries and reports it.
 */
export const ActivityErrorType = {
  AgentConfigError: "AgentConfigError",
  AgentExitError: "AgentExitError",
  AgentOutputError: "AgentOutputError",
  AgentTimeoutError: "AgentTimeoutError",
  AgentTurnLimitError: "AgentTurnLimitError",
  AgentBudgetExceededError: "AgentBudgetExceededError",
  AgentInputError: "AgentInputError",
  AgentPermissionError: "AgentPermissionError",
  AgentResourceLimitError: "AgentResourceLimitError",
  AgentToolError: "AgentToolError",
  AgentCancelledError: "AgentCancelledError",
  LlmApiError: "LlmApiError",
  LlmRequestError: "LlmRequestError",
  JudgeOutputError: "JudgeOutputError",
  PeerReviewOutputError: "PeerReviewOutputError",
  ValidatorConfigError: "ValidatorConfigError",
  WorkspaceError: "WorkspaceError",
  WorkspaceNotFoundError: "WorkspaceNotFoundError",
  RepositoryError: "RepositoryError",
  GitError: "GitError",
  PushRefusedError: "PushRefusedError",
} as const;

/** One of the stable activity error types. */
export type ActivityErrorType = (typeof ActivityErrorType)[keyof typeof ActivityErrorType];

/** Error types that retrying cannot fix; workflows may list them in `nonRetryableErrorTypes` too. */
export const NON_RETRYABLE_ACTIVITY_ERRORS: readonly ActivityErrorType[] = [
  ActivityErrorType.AgentConfigError,
  ActivityErrorType.AgentTurnLimitError,
  ActivityErrorType.AgentBudgetExceededError,
  ActivityErrorType.AgentInputError,
  ActivityErrorType.AgentPermissionError,
  ActivityErrorType.AgentResourceLimitError,
  ActivityErrorType.LlmRequestError,
  ActivityErrorType.JudgeOutputError,
  ActivityErrorType.PeerReviewOutputError,
  ActivityErrorType.ValidatorConfigError,
  ActivityErrorType.WorkspaceError,
  ActivityErrorType.RepositoryError,
];

/**
 * Details attached to an agent failure that happened after the agent spent tokens: what the failed run
 * cost (tokens, USD), so that the workflow can still count it against the budget. Read it from the
 * activity failure's cause: `(err.cause as ApplicationFailure).details?.[0] as AgentFailureDetails`.
 */
export interface AgentFailureDetails {
  cost: Cost;
  /** `AgentPermissionError`: the tools the agent's CLI denied (Claude Code `Write`, Codex `apply_patch`, Gemini `write_file`). */
  deniedTools?: string[];
}
