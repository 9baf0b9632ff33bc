/**
 * The squadflow worker: wires each task queue to what runs on it — orchestration → workflows, owners /
 * validation / debugging → activities (PRODUCT.md "Task queues by kind of work"). No lifecycle rules here.
 *
 * Run alone with `npx tsx src/worker.ts [--queues owners,validation] [--metrics-port 9464]` (or
 * `squadflow worker`); connection from Temporal's environment configuration (TEMPORAL_ADDRESS,
 * TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TLS, TEMPORAL_PROFILE — src/temporal/connection.ts); logs and
 * metrics from SQUADFLOW_LOG_LEVEL / SQUADFLOW_LOG_FORMAT / SQUADFLOW_METRICS_PORT (src/temporal/runtime.ts).
 * Every activity worker runs squadflow's activity interceptor (card context in logs, Prometheus metrics);
 * the orchestration worker injects the `squadflowMetrics` workflow sink.
 */
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { DataConverter } from "@temporalio/common";
import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundleOption } from "@temporalio/worker";
import { dataConverterFromEnv } from "./codec/aes-gcm.js";
import { createActivities } from "./activities/index.js";
import { squadflowActivityInterceptors } from "./observability/interceptors.js";
import { metricsSinks } from "./observability/metrics.js";
import { connectWorkerConnection, connectionOptions, describeConnection } from "./temporal/connection.js";
import { PROJECT_ROOT } from "./temporal/cli-path.js";
import { parseMetricsPort, startObservability } from "./temporal/runtime.js";
import { QUEUE_KINDS, TASK_QUEUES, type QueueKind } from "./temporal/queues.js";

/** Absolute path of the workflows entry point the bundler reads. */
export const WORKFLOWS_PATH = fileURLToPath(new URL("./workflows/index.ts", import.meta.url));

/** Default workspaces root: `state/workspaces` in the project. */
export const DEFAULT_WORKSPACES_ROOT = resolve(PROJECT_ROOT, "state", "workspaces");
/** Default worktrees root (attempt worktrees of backlogs with a repository, issue 9): `state/worktrees` in the project. */
export const DEFAULT_WORKTREES_ROOT = resolve(PROJECT_ROOT, "state", "worktrees");
/** Default root of the clones of URL repositories (issue 9): `state/repos` in the project. */
export const DEFAULT_REPOS_ROOT = resolve(PROJECT_ROOT, "state", "repos");

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
  /** Absolute worktrees root (default `SQUADFLOW_WORKTREES`, else `state/worktrees`). */
  worktreesRoot?: string;
  /** Absolute root of URL clones (default `SQUADFLOW_REPOS`, else `state/repos`). */
  reposRoot?: string;
  /** Directory `./` agent paths are resolved against (default: the project root). */
  baseDir?: string;
  /** A prebuilt workflow bundle; built once per process otherwise. */
  workflowBundle?: WorkflowBundleOption;
  /**
   * Data converter (payload encryption). Default: from the environment (`SQUADFLOW_CODEC_KEY` /
   * `SQUADFLOW_CODEC_KEY_FILE`), none when no key is set. A prebuilt bundle must have been made with its
   * `failureConverterPath`.
   */
  dataConverter?: DataConverter;
}

/**
 * The workspaces root: `SQUADFLOW_WORKSPACES` (resolved against the working directory), else
 * `state/workspaces` of the project. Every worker of a deployment must see the same folder.
 */
export function workspacesRootFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const raw = env.SQUADFLOW_WORKSPACES?.trim();
  return raw ? resolve(raw) : DEFAULT_WORKSPACES_ROOT;
}

/**
 * The worktrees root: `SQUADFLOW_WORKTREES` (resolved against the working directory), else `state/worktrees`
 * of the project. Like the workspaces, every worker of a deployment must see the same folder (and the
 * same repository path).
 */
export function worktreesRootFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const raw = env.SQUADFLOW_WORKTREES?.trim();
  return raw ? resolve(raw) : DEFAULT_WORKTREES_ROOT;
}

/** The root of URL clones: `SQUADFLOW_REPOS` (resolved against the working directory), else `state/repos` of the project. */
export function reposRootFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const raw = env.SQUADFLOW_REPOS?.trim();
  return raw ? resolve(raw) : DEFAULT_REPOS_ROOT;
}

/**
 * Default of the orchestration worker's `maxCachedWorkflows`: how many workflows it keeps in memory
 * (others are replayed from history when they next have work). High enough for a 1,000-card backlog to
 * stay cached, for speed on a development machine. A smaller cache alone saves little memory (at 1,000
 * cards, 250 cached: 600 instead of 697 MiB); with V8's old space capped as well it does (435 MiB, the same
 * wall time): the production compose file sets `SQUADFLOW_MAX_CACHED_WORKFLOWS=250` and
 * `--max-old-space-size=384` for its orchestration worker (docs/benchmark.md "Worker settings").
 */
export const DEFAULT_MAX_CACHED_WORKFLOWS = 1000;

/**
 * `maxCachedWorkflows` from `SQUADFLOW_MAX_CACHED_WORKFLOWS` (a positive integer), else the default.
 * @throws Error naming the variable when it is not a positive integer.
 */
export function maxCachedWorkflowsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SQUADFLOW_MAX_CACHED_WORKFLOWS?.trim();
  if (!raw) return DEFAULT_MAX_CACHED_WORKFLOWS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`SQUADFLOW_MAX_CACHED_WORKFLOWS must be a positive integer, got "${raw}"`);
  return n;
}

/**
 * Creates one Worker per requested queue kind. Workflows are bundled once and shared.
 * @throws whatever `Worker.create` throws (e.g. the server is unreachable).
 */
export async function createWorkers(opts: SquadWorkerOptions): Promise<Worker[]> {
  const kinds = opts.queues ?? QUEUE_KINDS;
  const taskQueues = opts.taskQueues ?? TASK_QUEUES;
  const activities = createActivities({
    workspacesRoot: opts.workspacesRoot ?? workspacesRootFromEnv(),
    worktreesRoot: opts.worktreesRoot ?? worktreesRootFromEnv(),
    reposRoot: opts.reposRoot ?? reposRootFromEnv(),
    baseDir: opts.baseDir ?? PROJECT_ROOT,
  });
  const dataConverter = opts.dataConverter ?? dataConverterFromEnv();
  const workers: Worker[] = [];
  for (const kind of kinds) {
    const common = {
      connection: opts.connection,
      namespace: opts.namespace,
      taskQueue: taskQueues[kind],
      ...(dataConverter ? { dataConverter } : {}),
    };
    if (kind === "orchestration") {
      const workflowBundle =
        opts.workflowBundle ??
        (await bundleWorkflowCode({
          workflowsPath: WORKFLOWS_PATH,
          logger: quietBundlerLogger,
          ...(dataConverter?.failureConverterPath ? { failureConverterPath: dataConverter.failureConverterPath } : {}),
        }));
      workers.push(
        await Worker.create({
          ...common,
          workflowBundle,
          sinks: metricsSinks(),
          maxCachedWorkflows: maxCachedWorkflowsFromEnv(),
        }),
      );
    } else {
      workers.push(
        await Worker.create({
          ...common,
          activities,
          interceptors: { activity: [squadflowActivityInterceptors()] },
          // Heartbeats reach the server every 2 s (the SDK's default waits 0.8 × the 20 s heartbeat timeout),
          // so a cancelled card's agent is killed within seconds, not ~16 s later: cancellation arrives with a heartbeat's answer.
          maxHeartbeatThrottleInterval: HEARTBEAT_THROTTLE,
        }),
      );
    }
  }
  return workers;
}

/** Longest time between heartbeats sent to the server by the activity workers (cancellation arrives with them). */
export const HEARTBEAT_THROTTLE = "2 seconds";

/** Runs workers until they shut down (SIGINT/SIGTERM, or `shutdown()`); rejects if any fails. */
export async function runWorkers(workers: Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.run()));
}

/** Parses `--queues owners,validation` into queue kinds. @throws Error naming an unknown kind. */
export function parseQueueKinds(value: string | undefined): QueueKind[] {
  if (!value) return QUEUE_KINDS;
  const kinds = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const k of kinds) {
    if (!(QUEUE_KINDS as string[]).includes(k)) {
      throw new Error(`unknown queue "${k}" (queues: ${QUEUE_KINDS.join(", ")})`);
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
    console.warn(message, meta ?? "");
  },
  error(message: string, meta?: Record<string, unknown>) {
    console.error(message, meta ?? "");
  },
};

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const queues = parseQueueKinds(flag(args, "--queues"));
  const port = flag(args, "--metrics-port");
  const obs = await startObservability({ metricsPort: port !== undefined ? parseMetricsPort(port) : undefined });
  try {
    const conn = connectionOptions();
    const connection = await connectWorkerConnection(conn);
    try {
      const workers = await createWorkers({ connection, namespace: conn.namespace, queues });
      const metrics = obs.temporalMetrics
        ? `; metrics: Temporal ${obs.temporalMetrics}, squadflow ${obs.squadflowMetricsAddress}`
        : "";
      console.log(
        `squadflow worker on ${describeConnection(conn)}: ${queues.map((q) => TASK_QUEUES[q]).join(", ")}${metrics}`,
      );
      // Until SIGINT/SIGTERM: the Temporal runtime then drains every worker and run() resolves.
      await runWorkers(workers);
    } finally {
      await connection.close();
    }
  } finally {
    await obs.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(`squadflow worker: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
