/**
 * `squadflow dev`: a real Temporal dev server (or the one already on the port) plus a worker for every
 * task queue, optionally with a backlog started, serving until Ctrl-C (or until idle with
 * `--exit-when-idle`). Shutdown is clean: workers drained, server stopped, no orphan process.
 *
 * With `--json` (`json: true`) stdout is NDJSON, one {@link DevEvent} per line: `metrics.started`,
 * `server.started` or `server.reused`, `codec.started`, `workers.started`, `backlog.started` or `backlog.existing`, `ready`
 * (no backlog), `board` (the live board, `status --watch --json`'s form), `idle` (with `--exit-when-idle`),
 * `shutdown`, `stopped`; errors are `errorJson` objects on stderr, and the server's own banner and logs stay
 * off stdout (`--output none`, JSON logs on stderr).
 */
import { Client } from "@temporalio/client";
import { codecFromEnv, dataConverterFromEnv } from "../codec/aes-gcm.js";
import { startCodecServer } from "../codec/server.js";
import type { BacklogPlan } from "../domain/index.js";
import { startDevServer, type DevServerHandle } from "../temporal/dev-server.js";
import { createWorkers, runWorkers } from "../worker.js";
import type { PortalAuthConfig } from "../portal/auth.js";
import { startPortal, type PortalHandle } from "../portal/server.js";
import { startBacklog } from "./backlogs.js";
import { loginUrl, portalBanner } from "./portal.js";
import { watchBoard, type Board } from "./board.js";
import { errorJson } from "./errors.js";
import { sleep, watchBacklog } from "./watch.js";

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
  /** NDJSON events on stdout and JSON errors on stderr instead of text (`dev --json`). */
  json?: boolean;
  /** Serve the review portal (src/portal/) on this address with these auth settings; absent: no portal. */
  portal?: { port: number; host: string; auth: PortalAuthConfig };
}

/** Kinds of the `dev --json` events, in the order they can occur. */
export type DevEventKind =
  | "metrics.started"
  | "server.started"
  | "server.reused"
  | "codec.started"
  | "workers.started"
  | "portal.started"
  | "backlog.started"
  | "backlog.existing"
  | "ready"
  | "board"
  | "idle"
  | "shutdown"
  | "stopped";

/**
 * One line of `dev --json`: `event`, `at` (ISO time), then the event's fields —
 * `metrics.started` (with `--metrics-port`, printed by src/client.ts): `temporalMetrics`, `squadflowMetrics`;
 * `server.started` / `server.reused`: `address`, `namespace`, `uiUrl`, `db` (SQLite file, `null` in memory;
 *   `server.started` only);
 * `codec.started`: `url` of the codec server the Web UI decodes encrypted payloads through;
 * `workers.started`: `taskQueues`;
 * `portal.started`: `url` of the review portal, `loginUrl` (with the local token; `null` when tokens are configured);
 * `backlog.started`: `backlogId`, `workflowId`, `cards` (`cardId`, `workflowId`), `done`, `uiUrl` (as
 *   `start --json`); `backlog.existing`: `backlogId`, `workflowId`, `existingStatus`, `uiUrl`;
 * `board` (printed when it changed) and `idle` (the backlog became idle with `--exit-when-idle`): the
 *   fields of a {@link Board} — one line of `status --watch --json`;
 * `shutdown`: `reason` (`signal` with `signal`, `idle`, `error`); `stopped`: `exitCode` (the last line).
 */
export type DevEvent = { event: DevEventKind; at: string } & Record<string, unknown>;

/** Where dev's output goes: text lines, or NDJSON events with JSON errors. */
interface DevOutput {
  /** With --json: prints the event; without: prints `text` (if any). */
  event(kind: DevEventKind, fields: Record<string, unknown>, text?: string): void;
  error(message: string): void;
}

function devOutput(json: boolean): DevOutput {
  return json
    ? {
        event: (kind, fields) => console.log(JSON.stringify({ event: kind, at: new Date().toISOString(), ...fields })),
        error: (message) => console.error(errorJson(message, 1)),
      }
    : {
        event: (_kind, _fields, text) => text !== undefined && console.log(text),
        error: (message) => console.error(message),
      };
}

/**
 * The `board` events of `dev --json` (src/cli/board.ts `watchBoard`, printed only when the board changed)
 * until the backlog is idle (`untilIdle`) or `signal` aborts; returns the last board.
 */
async function watchBoardEvents(
  client: Client,
  backlogId: string,
  out: DevOutput,
  opts: { untilIdle: boolean; signal: AbortSignal },
): Promise<Board> {
  let last = "";
  const write = (line: string) => {
    if (line === last) return;
    last = line;
    out.event("board", { ...(JSON.parse(line) as Board) });
  };
  for (;;) {
    const board = await watchBoard(client, backlogId, { json: true, write, signal: opts.signal });
    if (opts.untilIdle || opts.signal.aborted) return board;
    // Idle, but dev keeps serving: go on watching (a human decision wakes cards up again).
    await sleep(1000, opts.signal);
    if (opts.signal.aborted) return board;
  }
}

/** Runs the dev environment until Ctrl-C or idle; resolves with the exit code. */
export async function runDev(opts: DevOptions): Promise<number> {
  const json = opts.json === true;
  const out = devOutput(json);
  // With payload encryption on, the Web UI decodes through a local codec server (src/codec/server.ts).
  const dataConverter = dataConverterFromEnv();
  const codec = codecFromEnv();
  const codecServer = codec
    ? await startCodecServer({
        codec,
        port: opts.codecPort,
        origin: [`http://localhost:${opts.uiPort}`, `http://127.0.0.1:${opts.uiPort}`],
      })
    : undefined;
  // --json: the server's banner off stdout (`--output none`), its logs as JSON on stderr (the last flag wins).
  const extraArgs = [
    ...(codecServer ? ["--ui-codec-endpoint", codecServer.url] : []),
    ...(json ? ["--output", "none", "--log-format", "json"] : []),
  ];
  const server: DevServerHandle = await startDevServer({
    port: opts.port,
    uiPort: opts.uiPort,
    dbFilename: opts.db,
    // Ctrl-C signals the terminal's whole process group: the server must not stop before the workers drained.
    ownProcessGroup: true,
    ...(extraArgs.length > 0 ? { extraArgs } : {}),
  }).catch(async (err: unknown) => {
    await codecServer?.close();
    throw err;
  });
  if (codecServer) {
    out.event(
      "codec.started",
      { url: codecServer.url },
      `Payloads encrypted (AES-256-GCM); the Web UI decodes them through ${codecServer.url}`,
    );
  }
  const ui = server.uiUrl ?? `http://127.0.0.1:${opts.uiPort}`;
  out.event(
    server.reused ? "server.reused" : "server.started",
    { address: server.address, namespace: server.namespace, uiUrl: ui, ...(server.reused ? {} : { db: opts.db }) },
    server.reused
      ? `Using the Temporal server already running at ${server.address} (UI ${ui})`
      : `Temporal dev server at ${server.address}, Web UI ${ui}${opts.db ? `, state in ${opts.db}` : ""}`,
  );
  const workers = await createWorkers({ connection: server.nativeConnection, namespace: server.namespace });
  const running = runWorkers(workers);
  const taskQueues = workers.map((w) => w.options.taskQueue);
  out.event("workers.started", { taskQueues }, `Workers serving ${taskQueues.join(", ")}`);
  const stopWorkers = () => workers.forEach((w) => w.getState() === "RUNNING" && w.shutdown());

  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    out.event("shutdown", { reason: "signal", signal }, "\nShutting down: draining workers, stopping the server…");
    abort.abort();
    stopWorkers();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  let exitCode = 0;
  let portal: PortalHandle | undefined;
  try {
    const client = new Client({
      connection: server.connection,
      namespace: server.namespace,
      ...(dataConverter ? { dataConverter } : {}),
    });
    if (opts.portal) {
      // A busy port (another dev running) costs the portal, not the run: say so and go on.
      portal = await startPortal({
        client,
        auth: opts.portal.auth,
        temporalUi: ui,
        port: opts.portal.port,
        host: opts.portal.host,
      }).catch((err: Error) => {
        out.error(`squadflow dev: ${err.message}; running without the portal (choose another port with --portal-port)`);
        return undefined;
      });
      if (portal)
        out.event(
          "portal.started",
          { url: portal.url, loginUrl: loginUrl(portal, opts.portal.auth) ?? null },
          portalBanner(portal, opts.portal.auth, false),
        );
    }
    if (opts.backlog) {
      const { plan, file } = opts.backlog;
      const started = await startBacklog(client, plan, file);
      const link = `${ui}/namespaces/${server.namespace}/workflows?query=${encodeURIComponent(`BacklogId="${plan.backlogId}"`)}`;
      if (started.started) {
        out.event(
          "backlog.started",
          {
            backlogId: plan.backlogId,
            workflowId: started.workflowId,
            cards: plan.cards.map((c) => ({ cardId: c.card.id, workflowId: `${plan.backlogId}/${c.card.id}` })),
            done: plan.done.map((d) => d.cardId),
            uiUrl: link,
          },
          `Started backlog ${plan.backlogId}: ${plan.cards.length} cards to run, ${plan.done.length} already DONE`,
        );
      } else {
        out.event(
          "backlog.existing",
          {
            backlogId: plan.backlogId,
            workflowId: started.workflowId,
            existingStatus: started.existingStatus,
            uiUrl: link,
          },
          `Backlog ${plan.backlogId} already exists (${started.existingStatus}); showing it. Use --id to start a new run.`,
        );
      }
      if (!json) console.log(`  ${link}`);
      const watch = { untilIdle: opts.exitWhenIdle, signal: abort.signal };
      if (json) {
        const board = await watchBoardEvents(client, plan.backlogId, out, watch);
        if (opts.exitWhenIdle && !abort.signal.aborted) out.event("idle", { ...board });
      } else await watchBacklog(client, plan.backlogId, watch);
    } else if (!opts.exitWhenIdle) {
      out.event(
        "ready",
        {},
        "Ready. Start a backlog from another terminal: npx squadflow start FILE --wait (Ctrl-C to stop)",
      );
      await new Promise<void>((resolve) => abort.signal.addEventListener("abort", () => resolve(), { once: true }));
    }
  } catch (err) {
    // After Ctrl-C the workers drain while a board read may still be in flight: a read that fails then is
    // the shutdown's doing, not a failed run (the user asked to stop; exit 0 as documented).
    if (!abort.signal.aborted) {
      out.error(`squadflow dev: ${(err as Error).message}`);
      exitCode = 1;
    }
  } finally {
    // Text output says nothing when dev ends by itself; JSON always announces the shutdown.
    if (json && !abort.signal.aborted) out.event("shutdown", { reason: exitCode === 0 ? "idle" : "error" });
    await portal?.close();
    stopWorkers();
    await running.catch((err: Error) => {
      out.error(`worker failed: ${err.message}`);
      exitCode = 1;
    });
    await server.stop();
    await codecServer?.close();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  out.event("stopped", { exitCode });
  return exitCode;
}
