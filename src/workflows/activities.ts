/**
 * Activity proxies of the card and correction workflows, with their timeouts and retry policies spelled
 * out (the old Celery setup: "retry 3× with backoff, 1 h hard / 50 min soft limits" — PRODUCT.md).
 * Task queues come from the workflow input, so a deployment (or a test) can route each kind of work.
 */
import {
  ActivityCancellationType,
  log,
  proxyActivities,
  sleep,
  type ActivityFunctionWithOptions,
  type ActivityOptions,
} from "@temporalio/workflow";
import type { ActivityFunction, Duration } from "@temporalio/common";
import type { NotificationEvent, WebhookConfig } from "../domain/notifications.js";
import type { RepositoryActivities } from "../domain/repository.js";
import {
  DEBUGGING_ACTIVITY_TIMEOUT_MS,
  OWNER_ACTIVITY_TIMEOUT_MS,
  VALIDATION_ACTIVITY_TIMEOUT_MS,
} from "../domain/timeouts.js";
import { NON_RETRYABLE_ACTIVITY_ERRORS } from "../domain/activity-errors.js";
import type { Activities } from "../activities/index.js";

/** Task queues of the activity kinds (see src/temporal/queues.ts for the defaults). */
export interface ActivityQueues {
  owners: string;
  validation: string;
  debugging: string;
}

/**
 * Owner agents: heartbeats every few seconds, 3 tries with exponential backoff. 65 min per run, so the
 * agent's own hard limit (default 60 min, process group killed, a typed AgentTimeoutError) fires first —
 * the squad config refuses an agent `timeout_ms` above 60 min (src/domain/timeouts.ts).
 */
const OWNER_OPTIONS: ActivityOptions = {
  startToCloseTimeout: OWNER_ACTIVITY_TIMEOUT_MS,
  // Agents heartbeat every 2 s; 20 s without one means the worker is gone (recovery time after a crash).
  heartbeatTimeout: "20 seconds",
  retry: {
    maximumAttempts: 3,
    initialInterval: "1 second",
    backoffCoefficient: 2,
    maximumInterval: "1 minute",
    nonRetryableErrorTypes: [...NON_RETRYABLE_ACTIVITY_ERRORS],
  },
};

/**
 * Verification, LLM-judge, QA: up to 15 min (QA runs test suites), heartbeats, 3 tries. An `llm` judge's
 * `timeout_ms` is at most 10 min, so it fires first (src/domain/timeouts.ts).
 */
const VALIDATION_OPTIONS: ActivityOptions = {
  startToCloseTimeout: VALIDATION_ACTIVITY_TIMEOUT_MS,
  heartbeatTimeout: "20 seconds",
  retry: { maximumAttempts: 3, initialInterval: "1 second", backoffCoefficient: 2, maximumInterval: "30 seconds" },
};

/**
 * The debugging agent: up to 10 min, 3 tries. The `llm` debugger heartbeats while it waits for the model
 * (src/activities/llm/client.ts), so a lost worker is noticed in 20 s; `rules` answers at once.
 */
const DEBUGGING_OPTIONS: ActivityOptions = {
  startToCloseTimeout: DEBUGGING_ACTIVITY_TIMEOUT_MS,
  heartbeatTimeout: "20 seconds",
  retry: { maximumAttempts: 3, initialInterval: "1 second", backoffCoefficient: 2, maximumInterval: "30 seconds" },
};

/**
 * Notifications (webhooks): retried with backoff for up to ~10 min, never blocking the card (the
 * workflows do not wait for them to succeed). Lightweight, so they share the validation queue.
 */
const NOTIFY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: "1 minute",
  retry: {
    maximumAttempts: 8,
    initialInterval: "2 seconds",
    backoffCoefficient: 2,
    maximumInterval: "2 minutes",
    nonRetryableErrorTypes: ["NotificationConfigError", "NotificationRejectedError"],
  },
};

/**
 * Reads of other workflows (queries: the backlog budget for the budget gate, a failed card run's state):
 * quick, 3 tries; a workflow that does not exist is not retried. Lightweight, so they share the
 * validation queue.
 */
const READ_OPTIONS: ActivityOptions = {
  startToCloseTimeout: "10 seconds",
  retry: {
    maximumAttempts: 3,
    initialInterval: "1 second",
    backoffCoefficient: 2,
    nonRetryableErrorTypes: ["WorkflowNotFoundError"],
  },
};

/**
 * Git work on the backlog's repository (merge, worktree removal, end of backlog): local `git` commands of
 * seconds, 2 min each; a merge that lost the race for the integration branch recomputes inside the
 * activity, so retries are for infrastructure (a lock held by a crashed git, a worker lost). 5 tries.
 */
const REPOSITORY_OPTIONS: ActivityOptions = {
  startToCloseTimeout: "2 minutes",
  retry: {
    maximumAttempts: 5,
    initialInterval: "1 second",
    backoffCoefficient: 2,
    maximumInterval: "30 seconds",
    nonRetryableErrorTypes: ["RepositoryError"],
  },
};

/**
 * Pushing the integration branch at the backlog's end: a network call, 3 tries over about a minute; a
 * push still refused is reported in the backlog's state and the backlog ends anyway (issue 9).
 */
const PUSH_OPTIONS: ActivityOptions = {
  startToCloseTimeout: "5 minutes",
  retry: {
    maximumAttempts: 3,
    initialInterval: "5 seconds",
    backoffCoefficient: 4,
    nonRetryableErrorTypes: ["RepositoryError"],
  },
};

/**
 * Proxies of the repository activities (owner-side git work runs inside `runOwner`). They share the
 * owners' queue: its workers are the ones that hold the worktrees and the repository.
 */
export function repositoryActivities(queues: ActivityQueues) {
  const { mergeAttempt, removeWorktree, finishRepository } = proxyActivities<RepositoryActivities>({
    ...REPOSITORY_OPTIONS,
    taskQueue: queues.owners,
  });
  const { pushIntegrationBranch } = proxyActivities<RepositoryActivities>({
    ...PUSH_OPTIONS,
    taskQueue: queues.owners,
  });
  return { mergeAttempt, removeWorktree, finishRepository, pushIntegrationBranch };
}

/** Proxies of every activity, each routed to its kind's task queue. */
export function squadActivities(queues: ActivityQueues) {
  const { runOwner } = proxyActivities<Activities>({ ...OWNER_OPTIONS, taskQueue: queues.owners });
  // An owner a peer review may stop at an event (issue 12): the workflow waits until its agent is killed.
  const { runOwner: runStoppableOwner } = proxyActivities<Activities>({
    ...OWNER_OPTIONS,
    taskQueue: queues.owners,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  const { verifyArtifacts, judgeArtifacts, runQa, reviewPeers } = proxyActivities<Activities>({
    ...VALIDATION_OPTIONS,
    taskQueue: queues.validation,
  });
  const { debugFailures } = proxyActivities<Activities>({ ...DEBUGGING_OPTIONS, taskQueue: queues.debugging });
  const { notify } = proxyActivities<Activities>({ ...NOTIFY_OPTIONS, taskQueue: queues.validation });
  const { readBacklogBudget, readCardState } = proxyActivities<Activities>({
    ...READ_OPTIONS,
    taskQueue: queues.validation,
  });
  return {
    runOwner,
    verifyArtifacts,
    judgeArtifacts,
    runQa,
    reviewPeers,
    runStoppableOwner,
    debugFailures,
    notify,
    readBacklogBudget,
    readCardState,
  };
}

/**
 * The activity `activity` with a summary (single-line markdown, see src/domain/ui-metadata.ts) on the
 * activity task it schedules: the Temporal UI shows it on the event and in the timeline instead of the bare
 * activity type. Call sites change by one line: `summarized(acts.runQa, 'QA: unit tests')(input)`.
 */
export function summarized<F extends ActivityFunction>(
  activity: ActivityFunctionWithOptions<F>,
  summary: string,
): (...args: Parameters<F>) => Promise<Awaited<ReturnType<F>>> {
  return (...args) => activity.executeWithOptions({ summary }, args);
}

/**
 * Proxies of the council activities (issue 12): a critique and the architect's choice are agent runs, so
 * they have the owners' options and queue (heartbeats, 3 tries, the agent's own limit fires first).
 */
export function councilActivities(queues: ActivityQueues) {
  const { critiqueProposal, askArchitect } = proxyActivities<Activities>({
    ...OWNER_OPTIONS,
    taskQueue: queues.owners,
  });
  return { critiqueProposal, askArchitect };
}

/**
 * Sends a notification without waiting for it and without letting its failure reach the workflow
 * (the operations issue: "never blocking the card if the webhook is down").
 */
export function notifyInBackground(
  queues: ActivityQueues,
  webhooks: WebhookConfig[] | undefined,
  event: NotificationEvent,
): Promise<void> | undefined {
  if (!webhooks || webhooks.length === 0) return undefined;
  return summarized(
    squadActivities(queues).notify,
    `notify ${event.event}`,
  )({ event, webhooks }).then(
    () => undefined,
    (err: unknown) => log.warn("Notification not delivered", { event: event.event, error: (err as Error).message }),
  );
}

/**
 * Lets notifications still under way finish before a workflow ends (an activity scheduled by a closed
 * workflow never runs), waiting at most `limit`: the card is DONE already; only its workflow closes later.
 */
export async function drainNotifications(pending: Promise<void>[], limit: Duration = "1 minute"): Promise<void> {
  if (pending.length === 0) return;
  await Promise.race([Promise.all(pending), sleep(limit)]);
}
