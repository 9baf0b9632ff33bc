/**
 * Test helpers for talking to the run's Temporal dev server (started once by `test/global-setup.ts`):
 * a client and worker connection per test file, a fresh task queue per test, and a worker factory that loads
 * the workflow bundle made once per run.
 *
 * ```ts
 * const taskQueue = uniqueTaskQueue('card');
 * const worker = await createTestWorker({ taskQueue, activities: fakeActivities });
 * const { client } = await testEnv();
 * await worker.runUntil(client.workflow.execute(cardWorkflow, { taskQueue, workflowId, args }));
 * ```
 */
import { randomUUID } from "node:crypto";
import { Client, Connection } from "@temporalio/client";
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type InjectedSinks,
  type WorkerOptions,
} from "@temporalio/worker";
import type { SquadflowSinks } from "../../src/observability/sinks.js";
import { afterAll, inject } from "vitest";
import { msToTs } from "@temporalio/common/lib/time.js";
import { ensureSearchAttributes } from "../../src/temporal/dev-server.js";
import { until } from "./until.js";

// Workers log every state change at INFO; tests only want warnings and errors (override with
// SQUADFLOW_TEST_LOG_LEVEL=DEBUG|INFO|…). The Runtime is a per-process singleton, so a second install in
// the same process (another helper import, or a test that installed its own) is left alone.
try {
  const level = (process.env.SQUADFLOW_TEST_LOG_LEVEL ?? "WARN") as ConstructorParameters<typeof DefaultLogger>[0];
  Runtime.install({ logger: new DefaultLogger(level) });
} catch {
  // already installed in this process
}

/** What a test file gets from {@link testEnv}. */
export interface TestEnv {
  /** Client on the run's server and namespace. */
  client: Client;
  /** Worker connection to the same server (pass to `Worker.create`). */
  nativeConnection: NativeConnection;
  /** The namespace (`default`). */
  namespace: string;
  /** The server's gRPC address, `127.0.0.1:<port>`. */
  address: string;
  /**
   * Absolute path of the workflow bundle for `workflowBundle: { codePath }`.
   * @throws Error (on access) naming why there is no bundle, e.g. a bundler error in `src/workflows`.
   */
  readonly bundlePath: string;
}

let cached: Promise<TestEnv> | undefined;

/**
 * Connects (once per test file; later calls return the same object) to the server provided by the global
 * setup. The connections are closed by an `afterAll` hook registered when this module is imported.
 */
export function testEnv(): Promise<TestEnv> {
  cached ??= (async () => {
    const address = inject("temporalAddress");
    const namespace = inject("temporalNamespace");
    const connection = await Connection.connect({ address });
    const nativeConnection = await NativeConnection.connect({ address });
    return {
      client: new Client({ connection, namespace }),
      nativeConnection,
      namespace,
      address,
      get bundlePath(): string {
        return workflowBundlePath();
      },
    };
  })();
  return cached;
}

afterAll(async () => {
  if (!cached) return;
  const env = await cached.catch(() => undefined);
  cached = undefined;
  if (!env) return;
  await env.client.connection.close().catch(() => undefined);
  await env.nativeConnection.close().catch(() => undefined);
});

/**
 * Absolute path of the run's workflow bundle.
 * @throws Error naming the reason when there is none (no `src/workflows/index.ts`, or it did not bundle).
 */
export function workflowBundlePath(): string {
  const path = inject("workflowBundlePath");
  if (path === "") {
    throw new Error(`No workflow bundle for this test run: ${inject("workflowBundleError") || "unknown reason"}`);
  }
  return path;
}

/** A task queue name no other test uses: `<prefix>-<uuid>`. */
export function uniqueTaskQueue(prefix: string): string {
  return `${prefix}-${randomUUID()}`;
}

/** Options of {@link createTestWorker}. */
export interface CreateTestWorkerOptions {
  /** The task queue to poll (use {@link uniqueTaskQueue}). */
  taskQueue: string;
  /** Activity implementations (real or fakes) keyed by name; omit for a workflow-only worker. */
  activities?: object;
  /**
   * Workflow bundle path; default: the run's bundle. `false` makes an activity-only worker (no bundle
   * needed).
   */
  workflowBundlePath?: string | false;
  /** Any other `Worker.create` options (e.g. `maxConcurrentActivityTaskExecutions`, `interceptors`). */
  workerOptions?: Partial<Omit<WorkerOptions, "connection" | "namespace" | "taskQueue" | "activities">>;
}

/**
 * Creates (does not run) a worker on the run's server: `Worker.create({ connection: nativeConnection,
 * namespace, taskQueue, workflowBundle: { codePath }, activities })`. Run it with `worker.runUntil(promise)`.
 *
 * @throws Error when workflows are wanted but the run has no bundle (the bundler's error is named).
 */
export async function createTestWorker(opts: CreateTestWorkerOptions): Promise<Worker> {
  const env = await testEnv();
  const codePath = opts.workflowBundlePath === undefined ? workflowBundlePath() : opts.workflowBundlePath;
  return await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace,
    taskQueue: opts.taskQueue,
    ...(codePath !== false ? { workflowBundle: { codePath } } : {}),
    ...(opts.activities !== undefined ? { activities: opts.activities } : {}),
    // The workflows report to the metrics sinks of squadflow's workers; without them the SDK logs an error
    // per call (on stderr, where an in-process CLI run would read it as its own).
    sinks: NO_METRICS_SINKS,
    ...opts.workerOptions,
  });
}

/** Sinks that drop squadflow's workflow metrics (tests that read metrics pass their own `sinks`). */
const NO_METRICS_SINKS: InjectedSinks<SquadflowSinks> = {
  squadflowMetrics: { cardFinished: { fn: () => undefined }, cardRested: { fn: () => undefined } },
};

/**
 * Registers a fresh namespace `<prefix>-<8 hex>` on the test server (1 day retention) and waits, up to 60 s,
 * until it is usable: described, squadflow's search attributes added, a visibility query on one answered
 * (a new namespace reaches every service of the server within a few seconds).
 * @returns the namespace and a client connection to the server (close it when done).
 */
export async function freshNamespace(prefix: string): Promise<{ namespace: string; connection: Connection }> {
  const env = await testEnv();
  const namespace = `${prefix}-${randomUUID().slice(0, 8)}`;
  const connection = await Connection.connect({ address: env.address });
  await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs("1 day") });
  await until(
    "the namespace to be usable",
    async () => {
      await connection.workflowService.describeNamespace({ namespace });
      await ensureSearchAttributes(connection, namespace);
      await connection.workflowService.listWorkflowExecutions({ namespace, query: 'BacklogId="x"' });
      return true;
    },
    60_000,
    250,
  );
  return { namespace, connection };
}
