/**
 * The real squadflow workers (src/worker.ts `createWorkers`: real activities, real agents) for end-to-end
 * tests, on unique task queues of the run's dev server, with attempt workspaces in a temp folder; the CLI
 * run in-process (test/helpers/cli.ts) is pointed at the same server.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QueueKind } from '../../src/temporal/queues.js';
import { createWorkers, runWorkers } from '../../src/worker.js';
import { testEnv, uniqueTaskQueue, type TestEnv } from './temporal.js';
import { until as poll } from './until.js';

/** Running e2e workers: their queues and workspaces; `stop()` drains them and removes the workspaces. */
export interface E2eWorkers {
  env: TestEnv;
  taskQueues: Record<QueueKind, string>;
  workspaces: string;
  stop(): Promise<void>;
}

/**
 * Starts a worker for every task queue (unique names from `prefix`), sets TEMPORAL_ADDRESS and
 * TEMPORAL_NAMESPACE for the in-process CLI, and makes a temp workspaces folder.
 */
export async function startE2eWorkers(prefix: string): Promise<E2eWorkers> {
  const env = await testEnv();
  process.env.TEMPORAL_ADDRESS = env.address;
  process.env.TEMPORAL_NAMESPACE = env.namespace;
  const workspaces = await mkdtemp(join(tmpdir(), `squadflow-${prefix}-`));
  const q = uniqueTaskQueue(prefix);
  const taskQueues = { orchestration: `${q}-orch`, owners: `${q}-owners`, validation: `${q}-validation`, debugging: `${q}-debugging` };
  const workers = await createWorkers({
    connection: env.nativeConnection,
    namespace: env.namespace,
    taskQueues,
    workspacesRoot: workspaces,
    workflowBundle: { codePath: env.bundlePath },
  });
  const running = runWorkers(workers);
  return {
    env,
    taskQueues,
    workspaces,
    async stop() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running;
      await rm(workspaces, { recursive: true, force: true });
    },
  };
}

/** `until` (./until.ts) with the e2e tests' patience: 90 s by default, polled every 250 ms. */
export function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  return poll(what, fn, timeoutMs, 250);
}
