/**
 * The worker process of the FAULTS harness: squadflow's own worker wiring (`createWorkers` of
 * src/worker.ts, every queue kind, real activities) in a process of its own, so that the harness can
 * SIGKILL it for real. It differs from `src/worker.ts` only in what the harness must control, read from
 * the environment:
 * - `CHAOS_WORKSPACES_ROOT` (required): absolute workspaces root (src/worker.ts always uses
 *   `state/workspaces`);
 * - `CHAOS_QUEUE_PREFIX` (required): task queues `<prefix>-orchestration|owners|validation|debugging`, so
 *   that scenarios sharing a server never take each other's tasks;
 * - `CHAOS_BUNDLE` (optional): a prebuilt workflow bundle (a restart then takes ~1 s instead of a
 *   bundling of several seconds);
 * - `TEMPORAL_ADDRESS` / `TEMPORAL_NAMESPACE`: as for src/worker.ts (src/temporal/connection.ts).
 * Prints `chaos-worker ready` on stdout once every worker is created (the harness waits for that line).
 *
 * Run: `node_modules/.bin/tsx scripts/chaos/worker.ts` (spawned by scripts/chaos/scenarios.ts).
 */
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import { createWorkers, runWorkers } from "../../src/worker.js";
import { connectWorkerConnection, connectionOptions } from "../../src/temporal/connection.js";
import { installRuntime } from "../../src/temporal/runtime.js";
import { QUEUE_KINDS, type QueueKind } from "../../src/temporal/queues.js";

/** The line the worker prints on stdout once it polls every queue. */
export const READY_LINE = "chaos-worker ready";

/** The task queues of a chaos scenario: `<prefix>-<kind>` for every queue kind. */
export function chaosTaskQueues(prefix: string): Record<QueueKind, string> {
  return Object.fromEntries(QUEUE_KINDS.map((k) => [k, `${prefix}-${k}`])) as Record<QueueKind, string>;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

async function main(): Promise<void> {
  installRuntime({ level: "ERROR" });
  const workspacesRoot = required("CHAOS_WORKSPACES_ROOT");
  const taskQueues = chaosTaskQueues(required("CHAOS_QUEUE_PREFIX"));
  const bundle = process.env.CHAOS_BUNDLE;
  const conn = connectionOptions();
  const connection = await connectWorkerConnection(conn);
  try {
    const workers = await createWorkers({
      connection,
      namespace: conn.namespace,
      taskQueues,
      workspacesRoot,
      ...(bundle ? { workflowBundle: { codePath: bundle } } : {}),
    });
    console.log(`${READY_LINE} pid ${process.pid} on ${conn.address}`);
    await runWorkers(workers);
  } finally {
    await connection.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(`chaos-worker: ${(err as Error).stack ?? String(err)}`);
      process.exit(1);
    },
  );
}
