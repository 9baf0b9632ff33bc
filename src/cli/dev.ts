/**
 * `squadflow dev`: a real Temporal dev server (or the one already on the port) plus a worker for every
 * task queue, optionally with a backlog started, serving until Ctrl-C (or until idle with
 * `--exit-when-idle`). Shutdown is clean: workers drained, server stopped, no orphan process.
 */
import { Client } from '@temporalio/client';
import { codecFromEnv, dataConverterFromEnv } from '../codec/aes-gcm.js';
import { startCodecServer } from '../codec/server.js';
import type { BacklogPlan } from '../domain/index.js';
import { startDevServer, type DevServerHandle } from '../temporal/dev-server.js';
import { createWorkers, runWorkers } from '../worker.js';
import { startBacklog } from './backlogs.js';
import { watchBacklog } from './watch.js';

/** Options of `runDev`. */
export interface DevOptions {
  port: number;
  uiPort: number;
  /** SQLite file; `null` for in-memory. */
  db: string | null;
  /** A validated backlog to start, with the file it came from. */
  backlog?: { plan: BacklogPlan; file: string };
  exitWhenIdle: boolean;
  /** Port of the codec server started when payload encryption is on (default 8081). */
  codecPort?: number;
}

/** Runs the dev environment until Ctrl-C or idle; resolves with the exit code. */
export async function runDev(opts: DevOptions): Promise<number> {
  // With payload encryption on, the Web UI decodes through a local codec server (src/codec/server.ts).
  const dataConverter = dataConverterFromEnv();
  const codec = codecFromEnv();
  const codecServer = codec
    ? await startCodecServer({ codec, port: opts.codecPort, origin: [`http://localhost:${opts.uiPort}`, `http://127.0.0.1:${opts.uiPort}`] })
    : undefined;
  const server: DevServerHandle = await startDevServer({
    port: opts.port,
    uiPort: opts.uiPort,
    dbFilename: opts.db,
    // Ctrl-C signals the terminal's whole process group: the server must not stop before the workers drained.
    ownProcessGroup: true,
    ...(codecServer ? { extraArgs: ['--ui-codec-endpoint', codecServer.url] } : {}),
  }).catch(async (err: unknown) => {
    await codecServer?.close();
    throw err;
  });
  if (codecServer) console.log(`Payloads encrypted (AES-256-GCM); the Web UI decodes them through ${codecServer.url}`);
  const ui = server.uiUrl ?? `http://127.0.0.1:${opts.uiPort}`;
  console.log(
    server.reused
      ? `Using the Temporal server already running at ${server.address} (UI ${ui})`
      : `Temporal dev server at ${server.address}, Web UI ${ui}${opts.db ? `, state in ${opts.db}` : ''}`,
  );
  const workers = await createWorkers({ connection: server.nativeConnection, namespace: server.namespace });
  const running = runWorkers(workers);
  console.log(`Workers serving ${workers.map((w) => w.options.taskQueue).join(', ')}`);
  const stopWorkers = () => workers.forEach((w) => w.getState() === 'RUNNING' && w.shutdown());

  const abort = new AbortController();
  const onSignal = () => {
    console.log('\nShutting down: draining workers, stopping the server…');
    abort.abort();
    stopWorkers();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let exitCode = 0;
  try {
    const client = new Client({ connection: server.connection, namespace: server.namespace, ...(dataConverter ? { dataConverter } : {}) });
    if (opts.backlog) {
      const { plan, file } = opts.backlog;
      const started = await startBacklog(client, plan, file);
      console.log(
        started.started
          ? `Started backlog ${plan.backlogId}: ${plan.cards.length} cards to run, ${plan.done.length} already DONE`
          : `Backlog ${plan.backlogId} already exists (${started.existingStatus}); showing it. Use --id to start a new run.`,
      );
      console.log(`  ${ui}/namespaces/${server.namespace}/workflows?query=${encodeURIComponent(`BacklogId="${plan.backlogId}"`)}`);
      await watchBacklog(client, plan.backlogId, { untilIdle: opts.exitWhenIdle, signal: abort.signal });
    } else if (!opts.exitWhenIdle) {
      console.log('Ready. Start a backlog from another terminal: npx squadflow start FILE --wait (Ctrl-C to stop)');
      await new Promise<void>((resolve) => abort.signal.addEventListener('abort', () => resolve(), { once: true }));
    }
  } catch (err) {
    console.error(`squadflow dev: ${(err as Error).message}`);
    exitCode = 1;
  } finally {
    stopWorkers();
    await running.catch((err: Error) => {
      console.error(`worker failed: ${err.message}`);
      exitCode = 1;
    });
    await server.stop();
    await codecServer?.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return exitCode;
}
