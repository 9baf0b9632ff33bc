/**
 * Typed activity errors: every failure an activity throws on purpose is an `ApplicationFailure` with one
 * of the stable `type`s below, so that workflows (and ops reading the Temporal UI) can tell a bad config
 * from a flaky agent — STYLE.md "Errors". Imports only `@temporalio/common`, so workflow code may import
 * these constants (e.g. for `nonRetryableErrorTypes`) without pulling Node modules into the bundle.
 */
import { ApplicationFailure } from '@temporalio/common';

/**
 * The `type` of every `ApplicationFailure` the activities throw on purpose.
 *
 * - `AgentConfigError` — non-retryable: the owner agent cannot be started (binary missing or not
 *   executable, bad working directory). Retrying cannot help; fix the squad config.
 * - `AgentExitError` — retryable: the agent exited non-zero (or was killed by a signal it was not sent by us).
 * - `AgentOutputError` — retryable: the agent's stdout is not the one JSON object of the protocol.
 * - `AgentTimeoutError` — retryable: the agent ran past `timeout_ms` and its process group was killed.
 * - `ValidatorConfigError` — non-retryable: a QA check or rubric criterion cannot run as configured
 *   (command missing, invalid regular expression).
 * - `WorkspaceError` — non-retryable: a workspace path escapes the workspaces root.
 * - `WorkspaceNotFoundError` — retryable: an attempt workspace that must exist does not (usually a worker
 *   on another machine without the shared workspaces directory; another worker may see it).
 */
export const ActivityErrorType = {
  AgentConfigError: 'AgentConfigError',
  AgentExitError: 'AgentExitError',
  AgentOutputError: 'AgentOutputError',
  AgentTimeoutError: 'AgentTimeoutError',
  ValidatorConfigError: 'ValidatorConfigError',
  WorkspaceError: 'WorkspaceError',
  WorkspaceNotFoundError: 'WorkspaceNotFoundError',
} as const;

/** One of the stable activity error types. */
export type ActivityErrorType = (typeof ActivityErrorType)[keyof typeof ActivityErrorType];

/** Error types that retrying cannot fix; workflows may list them in `nonRetryableErrorTypes` too. */
export const NON_RETRYABLE_ACTIVITY_ERRORS: readonly ActivityErrorType[] = [
  ActivityErrorType.AgentConfigError,
  ActivityErrorType.ValidatorConfigError,
  ActivityErrorType.WorkspaceError,
];

/** A non-retryable `ApplicationFailure` of type `AgentConfigError`. */
export function agentConfigError(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, ActivityErrorType.AgentConfigError);
}

/** A non-retryable `ApplicationFailure` of type `ValidatorConfigError`. */
export function validatorConfigError(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, ActivityErrorType.ValidatorConfigError);
}

/** A non-retryable `ApplicationFailure` of type `WorkspaceError`. */
export function workspaceError(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, ActivityErrorType.WorkspaceError);
}

/** A retryable `ApplicationFailure` of type `WorkspaceNotFoundError`. */
export function workspaceNotFoundError(message: string): ApplicationFailure {
  return ApplicationFailure.retryable(message, ActivityErrorType.WorkspaceNotFoundError);
}
