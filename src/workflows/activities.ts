/**
 * Activity proxies of the card and correction workflows, with their timeouts and retry policies spelled
 * out (the old Celery setup: "retry 3× with backoff, 1 h hard / 50 min soft limits" — PRODUCT.md).
 * Task queues come from the workflow input, so a deployment (or a test) can route each kind of work.
 */
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';

/** Task queues of the activity kinds (see src/temporal/queues.ts for the defaults). */
export interface ActivityQueues {
  owners: string;
  validation: string;
  debugging: string;
}

/** Owner agents: up to 1 h per run, heartbeats every few seconds, 3 tries with exponential backoff. */
const OWNER_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '1 minute',
  retry: {
    maximumAttempts: 3,
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    nonRetryableErrorTypes: ['AgentConfigError'],
  },
};

/** Verification, LLM-judge, QA: up to 15 min (QA runs test suites), heartbeats, 3 tries. */
const VALIDATION_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '1 minute',
  retry: { maximumAttempts: 3, initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
};

/** The debugging agent: up to 10 min, 3 tries. */
const DEBUGGING_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '10 minutes',
  retry: { maximumAttempts: 3, initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
};

/** Proxies of every activity, each routed to its kind's task queue. */
export function squadActivities(queues: ActivityQueues) {
  const { runOwner } = proxyActivities<Activities>({ ...OWNER_OPTIONS, taskQueue: queues.owners });
  const { verifyArtifacts, judgeArtifacts, runQa } = proxyActivities<Activities>({
    ...VALIDATION_OPTIONS,
    taskQueue: queues.validation,
  });
  const { debugFailures } = proxyActivities<Activities>({ ...DEBUGGING_OPTIONS, taskQueue: queues.debugging });
  return { runOwner, verifyArtifacts, judgeArtifacts, runQa, debugFailures };
}
