/**
 * The squadflow worker: wires each task queue to what runs on it — orchestration → workflows, owners /
 * validation / debugging → activities (PRODUCT.md "Task queues by kind of work"). No lifecycle rules here.
 *
 * Run alone with `npx tsx src/worker.ts [--queues owners,validation]` (or `squadflow worker`); connection
 * from TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE.
 */
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundleOption } from '@temporalio/worker';
import { createActivities } from './activities/index.js';
import { connectWorkerConnection, connectionOptions } from './temporal/connection.js';
import { PROJECT_ROOT } from './temporal/cli-path.js';
import { installRuntime } from './temporal/runtime.js';
import { QUEUE_KINDS, TASK_QUEUES, type QueueKind } from './temporal/queues.js';

/** Absolute path of the workflows entry point the bundler reads. */
export const WORKFLOWS_PATH = fileURLToPath(new URL('./workflows/index.ts', import.meta.url));

/** Default workspaces root: `state/workspaces` in the project. */
export const DEFAULT_WORKSPACES_ROOT = resolve(PROJECT_ROOT, 'state', 'workspaces');

/** Options of `createWorkers`. */
export interface SquadWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  /** Which kinds of work this process serves (default: all). */
  queues?: QueueKind[];
  /** Task queue names (default TASK_QUEUES; tests use unique ones). */
  taskQueues?: Record<QueueKind, string>;
  /** Absolute workspaces root (default `state/workspaces`). */
  workspacesRoot?: string;
  /** Directory `./` agent paths are resolved against (default: the project root). */
  baseDir?: string;
  /** A prebuilt workflow bundle; built once per process otherwise. */
  workflowBundle?: WorkflowBundleOption;
}

/**
 * Creates one Worker per requested queue kind. Workflows are bundled once and shared.
 * @throws whatever `Worker.create` throws (e.g. the server is unreachable).
 */
export async function createWorkers(opts: SquadWorkerOptions): Promise<Worker[]> {
  const kinds = opts.queues ?? QUEUE_KINDS;
  const taskQueues = opts.taskQueues ?? TASK_QUEUES;
  const activities = createActivities({
    workspacesRoot: opts.workspacesRoot ?? DEFAULT_WORKSPACES_ROOT,
    baseDir: opts.baseDir ?? PROJECT_ROOT,
  });
  const workers: Worker[] = [];
  for (const kind of kinds) {
    const common = { connection: opts.connection, namespace: opts.namespace, taskQueue: taskQueues[kind] };
    if (kind === 'orchestration') {
      const workflowBundle = opts.workflowBundle ?? (await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger }));
      workers.push(await Worker.create({ ...common, workflowBundle }));
    } else {
      workers.push(await Worker.create({ ...common, activities }));
    }
  }
  return workers;
}

/** Runs workers until they shut down (SIGINT/SIGTERM, or `shutdown()`); rejects if any fails. */
export async function runWorkers(workers: Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.run()));
}

/** Parses `--queues owners,validation` into queue kinds. @throws Error naming an unknown kind. */
export function parseQueueKinds(value: string | undefined): QueueKind[] {
  if (!value) return QUEUE_KINDS;
  const kinds = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const k of kinds) {
    if (!(QUEUE_KINDS as string[]).includes(k)) {
      throw new Error(`unknown queue "${k}" (queues: ${QUEUE_KINDS.join(', ')})`);
    }
  }
  return kinds as QueueKind[];
}

const quietBundlerLogger = {
  log() {},
  trace() {},
  debug() {},
  info() {},
  warn(message: string, meta?: Record<string, unknown>) {
    console.warn(message, meta ?? '');
  },
  error(message: string, meta?: Record<string, unknown>) {
    console.error(message, meta ?? '');
  },
};

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const i = args.indexOf('--queues');
  const queues = parseQueueKinds(i >= 0 ? args[i + 1] : undefined);
  installRuntime();
  const conn = connectionOptions();
  const connection = await connectWorkerConnection(conn);
  const workers = await createWorkers({ connection, namespace: conn.namespace, queues });
  console.log(`squadflow worker on ${conn.address} (${conn.namespace}): ${queues.map((q) => TASK_QUEUES[q]).join(', ')}`);
  try {
    await runWorkers(workers);
  } finally {
    await connection.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err) => {
    console.error(`squadflow worker: ${(err as Error).message}`);
    process.exit(1);
  });
}
