/**
 * Typed activity errors: every failure an activity throws on purpose is an `ApplicationFailure` with one
 * of the stable `type`s of src/domain/activity-errors.ts (listed and explained there), so that workflows (and ops reading the Temporal UI) can tell a bad config
 * from a flaky agent — STYLE.md "Errors". This file builds those failures; workflows read the types from
 * the domain module, never from here.
 */
import { ApplicationFailure } from "@temporalio/common";
import type { Cost } from "../domain/cost.js";

export {
  ActivityErrorType,
  NON_RETRYABLE_ACTIVITY_ERRORS,
  type AgentFailureDetails,
} from "../domain/activity-errors.js";
import { ActivityErrorType, type AgentFailureDetails } from "../domain/activity-errors.js";

/**
 * An `ApplicationFailure` of one of the types above; `cost` (when the run spent tokens) goes into
 * `details[0]` as `AgentFailureDetails`.
 */
export function agentFailure(
  type: ActivityErrorType,
  message: string,
  opts: { nonRetryable: boolean; cost?: Cost },
): ApplicationFailure {
  return ApplicationFailure.create({
    message,
    type,
    nonRetryable: opts.nonRetryable,
    ...(opts.cost && { details: [{ cost: opts.cost } satisfies AgentFailureDetails] }),
  });
}

/**
 * A non-retryable `AgentPermissionError` naming the denied tools; `details[0]` is `AgentFailureDetails`
 * with `deniedTools` (deduplicated, in order) and the run's cost.
 */
export function agentPermissionError(message: string, deniedTools: readonly string[], cost: Cost): ApplicationFailure {
  return ApplicationFailure.create({
    message,
    type: ActivityErrorType.AgentPermissionError,
    nonRetryable: true,
    details: [{ cost, deniedTools: [...new Set(deniedTools)] } satisfies AgentFailureDetails],
  });
}

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

/** A non-retryable `ApplicationFailure` of type `RepositoryError` (issue 9). */
export function repositoryError(message: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(message, ActivityErrorType.RepositoryError);
}

/** A retryable `ApplicationFailure` of type `GitError`: a git command failed, a retry may succeed. */
export function gitCommandError(message: string): ApplicationFailure {
  return ApplicationFailure.retryable(message, ActivityErrorType.GitError);
}
