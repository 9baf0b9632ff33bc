/**
 * The real squadflow workers (src/worker.ts `createWorkers`: real activities, real agents) for end-to-end
 * tests, on unique task queues of the run's dev server, with attempt workspaces and worktrees in a temp
 * folder; the CLI run in-process (test/helpers/cli.ts) is pointed at the same server.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { QueueKind } from "../../src/temporal/queues.js";
import { createWorkers, runWorkers } from "../../src/worker.js";
import { testEnv, uniqueTaskQueue, type TestEnv } from "./temporal.js";
import { until as poll } from "./until.js";

/** Running e2e workers: their queues, workspaces and worktrees roots; `stop()` drains them and removes both. */
export interface E2eWorkers {
  env: TestEnv;
  taskQueues: Record<QueueKind, string>;
  workspaces: string;
  /** Root of the attempt worktrees of backlogs with a repository (never the project's state/worktrees). */
  worktrees: string;
  stop(): Promise<void>;
}

/**
 * Starts a worker for every task queue (unique names from `prefix`), sets TEMPORAL_ADDRESS and
 * TEMPORAL_NAMESPACE for the in-process CLI, and makes temp workspaces and worktrees folders.
 */
export async function startE2eWorkers(prefix: string): Promise<E2eWorkers> {
  const env = await testEnv();
  process.env.TEMPORAL_ADDRESS = env.address;
  process.env.TEMPORAL_NAMESPACE = env.namespace;
  const workspaces = await mkdtemp(join(tmpdir(), `squadflow-${prefix}-`));
  const worktrees = await mkdtemp(join(tmpdir(), `squadflow-${prefix}-worktrees-`));
  const q = uniqueTaskQueue(prefix);
  const taskQueues = {
    orchestration: `${q}-orch`,
    owners: `${q}-owners`,
    validation: `${q}-validation`,
    debugging: `${q}-debugging`,
  };
  const workers = await createWorkers({
    connection: env.nativeConnection,
    namespace: env.namespace,
    taskQueues,
    workspacesRoot: workspaces,
    worktreesRoot: worktrees,
    workflowBundle: { codePath: env.bundlePath },
  });
  const running = runWorkers(workers);
  return {
    env,
    taskQueues,
    workspaces,
    worktrees,
    async stop() {
      for (const w of workers) if (w.getState() === "RUNNING") w.shutdown();
      await running;
      await rm(workspaces, { recursive: true, force: true });
      await rm(worktrees, { recursive: true, force: true });
    },
  };
}

/** `until` (./until.ts) with the e2e tests' patience: 90 s by default, polled every 250 ms. */
export function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  return poll(what, fn, timeoutMs, 250);
}
