/**
 * The embedded Temporal dev server (the `temporal server start-dev` of the Temporal CLI: server, SQLite and
 * UI in one process), started through `@temporalio/testing`'s `TestWorkflowEnvironment.createLocal` so that
 * the SDK owns the child process and tears it down with the environment. `squadflow dev` instead starts it
 * in a process group of its own (`ownProcessGroup`), so that Ctrl-C reaches the workers first and the
 * server is stopped only after they drained.
 *
 * If a Temporal server already listens on the requested port it is reused (its search attributes are
 * registered if missing) instead of failing: `squadflow dev` can then be run twice, or against
 * `temporal server start-dev` started by hand.
 *
 * Node-only: never import from workflows.
 */
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { dirname, isAbsolute, resolve } from "node:path";
import { Connection } from "@temporalio/client";
import type { SearchAttributeType } from "@temporalio/common";
import { TestWorkflowEnvironment, type EphemeralServerExecutable } from "@temporalio/testing";
import { NativeConnection } from "@temporalio/worker";
import {
  findTemporalCli,
  PROJECT_ROOT,
  TemporalCliNotFoundError,
  temporalCliNotFoundMessage,
  toEphemeralExecutable,
  type FindTemporalCliOptions,
} from "./cli-path.js";
import { SEARCH_ATTRIBUTES } from "./search-attributes.js";
import { withParentDeathSignal } from "../os/parent-death.js";

export { TemporalCliNotFoundError } from "./cli-path.js";

/** Default dev server gRPC port (the Temporal default). */
export const DEFAULT_DEV_SERVER_PORT = 7233;
/** Default dev server UI port (the Temporal CLI's default: gRPC port + 1000). */
export const DEFAULT_DEV_SERVER_UI_PORT = 8233;
/** Default SQLite file of the persisted dev server, relative to the project root. */
export const DEFAULT_DEV_SERVER_DB = "state/temporal.db";

/** The dev server's log level unless a caller says otherwise (see {@link StartDevServerOptions.logLevel}). */
const DEFAULT_LOG_LEVEL = "error";

/** How long probing an address for an existing Temporal server may take, ms. */
const PROBE_TIMEOUT_MS = 3_000;

/** A search attribute to register: its name and type (what `defineSearchAttributeKey` returns). */
export interface SearchAttributeDef {
  readonly name: string;
  readonly type: SearchAttributeType;
}

/** A search attribute type as the server's `IndexedValueType` enum number (temporal.api.enums.v1). */
const INDEXED_VALUE_TYPE: Record<SearchAttributeType, number> = {
  TEXT: 1,
  KEYWORD: 2,
  INT: 3,
  DOUBLE: 4,
  BOOL: 5,
  DATETIME: 6,
  KEYWORD_LIST: 7,
};

/** Options of {@link startDevServer}; every field is optional. */
export interface StartDevServerOptions {
  /** IP to bind (and to probe for an existing server). Default `127.0.0.1`. */
  ip?: string;
  /** gRPC port. Default 7233; `0` picks a random free port (and never reuses a server). */
  port?: number;
  /** Namespace created at startup (and used on a reused server). Default `default`. */
  namespace?: string;
  /** Serve the Temporal UI. Default `true`. */
  ui?: boolean;
  /** UI port. Default 8233 when `port` is 7233, otherwise the CLI's default of `port + 1000`. */
  uiPort?: number;
  /**
   * SQLite file that persists the server's state; relative paths are resolved against the project root
   * and its folder is created. Default `state/temporal.db`; `null` runs in memory (nothing persisted).
   */
  dbFilename?: string | null;
  /** Run SQLite in WAL journal mode (`--sqlite-pragma journal_mode=wal`; persisted DB only). Default `true`. */
  walJournal?: boolean;
  /** Search attributes to register. Default {@link SEARCH_ATTRIBUTES} (PRODUCT.md "Contracts"). */
  searchAttributes?: readonly SearchAttributeDef[];
  /**
   * Dev server log level (`debug`, `info`, `warn`, `error`). Default `error`: at `warn` the server prints a
   * screenful of "Failed to poll for task" lines while it stops, every time `squadflow dev` exits.
   */
  logLevel?: string;
  /** Extra CLI args appended after squadflow's own (see `temporal server start-dev --help`). */
  extraArgs?: string[];
  /** Reuse a Temporal server already listening on `ip:port`. Default `true`. */
  reuseExisting?: boolean;
  /**
   * Run the server in a process group (and session) of its own, started by squadflow rather than the SDK
   * (a local CLI only: a `cached-download` executable is still started by the SDK). A terminal's Ctrl-C
   * signals its whole foreground process group; with the server in it, the server stops at the same
   * moment as the workers, which then cannot report the activities they were running (they retry against
   * a dead server until their own deadline). In a group of its own the server serves until `stop()`,
   * called once the workers drained. It still dies with this process: parent-death signal SIGTERM
   * (`setpriv --pdeathsig`, Linux) and a kill when this process exits. Default `false`.
   */
  ownProcessGroup?: boolean;
  /** Explicit executable; default: {@link findTemporalCli} with {@link cli}. */
  executable?: EphemeralServerExecutable;
  /** Options for the CLI discovery (env, project root). */
  cli?: FindTemporalCliOptions;
}

/** A running (or reused) dev server and connections to it. */
export interface DevServerHandle {
  /** gRPC address, `host:port`. */
  address: string;
  /** Namespace the server was started with / is used on. */
  namespace: string;
  /** Temporal UI URL, e.g. `http://127.0.0.1:8233`; absent when the UI is off or could not be found. */
  uiUrl?: string;
  /** True when an already-running server was reused (then `stop()` leaves it running). */
  reused: boolean;
  /** Client connection (for `new Client({ connection, namespace })`). */
  connection: Connection;
  /** Worker connection (for `Worker.create({ connection: nativeConnection, … })`). */
  nativeConnection: NativeConnection;
  /**
   * Closes both connections and, unless `reused`, shuts the server process down (no orphan process is
   * left). Idempotent; never throws.
   */
  stop(): Promise<void>;
}

/**
 * The port is taken by something that does not speak the Temporal API. Not retryable: free the port or
 * pick another one. `type` is stable.
 */
export class DevServerPortInUseError extends Error {
  /** Stable error type for callers and logs. */
  readonly type = "DevServerPortInUseError";
  override readonly name = "DevServerPortInUseError";
  constructor(
    /** The probed address, `host:port`. */
    readonly address: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Port ${address} is in use by something that is not a Temporal server. ` +
        "Stop it, or start the dev server on another port (TEMPORAL_ADDRESS / --port).",
      options,
    );
  }
}

/** What listens on an address: nothing, a Temporal frontend, or something else. */
export type AddressProbe = "free" | "temporal" | "other";

/**
 * Probes `host:port`: `free` when the TCP connection is refused (or times out), `temporal` when a Temporal
 * frontend answers `GetSystemInfo`, `other` when the port accepts TCP but does not speak the Temporal API.
 * Takes at most about 2 × `timeoutMs` (default 3000 ms). Never throws.
 */
export async function probeAddress(host: string, port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<AddressProbe> {
  const open = await tcpOpen(host, port, timeoutMs);
  if (!open) return "free";
  let connection: Connection | undefined;
  try {
    // Connection.connect() itself calls GetSystemInfo within connectTimeout; an explicit call keeps the
    // check independent of that SDK detail.
    connection = await Connection.connect({ address: formatAddress(host, port), connectTimeout: timeoutMs });
    await connection.withDeadline(Date.now() + timeoutMs, () => connection!.workflowService.getSystemInfo({}));
    return "temporal";
  } catch {
    return "other";
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

/**
 * Ensures `searchAttributes` are registered in `namespace` on the server behind `connection`: lists the
 * custom attributes and adds the missing ones ("already exists" races are ignored).
 *
 * @throws Error when an attribute exists with a different type (the server cannot change it) or the server
 *   refuses the registration.
 */
export async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
  searchAttributes: readonly SearchAttributeDef[] = SEARCH_ATTRIBUTES,
): Promise<void> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const custom = existing.customAttributes ?? {};
  const missing: Record<string, number> = {};
  for (const { name, type } of searchAttributes) {
    const want = INDEXED_VALUE_TYPE[type];
    const have = custom[name];
    if (have === undefined || have === null) {
      missing[name] = want;
    } else if (Number(have) !== want) {
      throw new Error(
        `Search attribute ${name} is registered in namespace ${namespace} with type #${String(have)}, ` +
          `but squadflow needs ${type} (#${want}); use a fresh namespace or server.`,
      );
    }
  }
  if (Object.keys(missing).length === 0) return;
  try {
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
  } catch (err) {
    if (!/already exists/i.test(errorMessage(err))) throw err;
  }
}

/**
 * Starts the embedded Temporal dev server, or reuses a Temporal server already listening on the port.
 *
 * Defaults: `127.0.0.1:7233`, UI on 8233, persisted to `state/temporal.db` in SQLite WAL mode, namespace
 * `default`, squadflow's search attributes registered, log level `warn`. Startup takes ~1–3 s with a local
 * binary; the first `sdk-download` start downloads the CLI (~50 MB) into the OS temp folder.
 *
 * @throws TemporalCliNotFoundError when `TEMPORAL_CLI_PATH` is bad, or no local CLI exists and the SDK
 *   download fails.
 * @throws DevServerPortInUseError when the port is taken by something that is not a Temporal server.
 * @throws Error when the server process fails to start for another reason (the CLI's message is included).
 */
export async function startDevServer(opts: StartDevServerOptions = {}): Promise<DevServerHandle> {
  const ip = opts.ip ?? "127.0.0.1";
  const port = opts.port ?? DEFAULT_DEV_SERVER_PORT;
  const namespace = opts.namespace ?? "default";
  const ui = opts.ui ?? true;
  const searchAttributes = opts.searchAttributes ?? SEARCH_ATTRIBUTES;

  if (port !== 0) {
    const probe = await probeAddress(ip, port);
    if (probe === "other") throw new DevServerPortInUseError(formatAddress(ip, port));
    if (probe === "temporal") {
      if (opts.reuseExisting === false) {
        throw new Error(`A Temporal server already listens on ${formatAddress(ip, port)} and reuseExisting is false.`);
      }
      return await reuseServer(ip, port, namespace, searchAttributes, ui ? (opts.uiPort ?? port + 1000) : undefined);
    }
  }

  const found = opts.executable ? undefined : findTemporalCli(opts.cli);
  const executable = opts.executable ?? toEphemeralExecutable(found!);

  const dbFilename = opts.dbFilename === undefined ? DEFAULT_DEV_SERVER_DB : opts.dbFilename;
  let dbPath: string | undefined;
  if (dbFilename !== null) {
    dbPath = isAbsolute(dbFilename) ? dbFilename : resolve(PROJECT_ROOT, dbFilename);
    mkdirSync(dirname(dbPath), { recursive: true });
  }
  const extraArgs: string[] = [];
  if (dbPath !== undefined && (opts.walJournal ?? true)) extraArgs.push("--sqlite-pragma", "journal_mode=wal");
  extraArgs.push(...(opts.extraArgs ?? []));

  const uiPort = ui
    ? (opts.uiPort ?? (port === DEFAULT_DEV_SERVER_PORT ? DEFAULT_DEV_SERVER_UI_PORT : undefined))
    : undefined;

  if (opts.ownProcessGroup && executable.type === "existing-path") {
    const own = await startServerProcess(executable.path, {
      ip,
      port: port !== 0 ? port : await freePort(ip),
      namespace,
      uiPort: ui ? uiPort : undefined,
      dbPath,
      logLevel: opts.logLevel ?? DEFAULT_LOG_LEVEL,
      searchAttributes,
      extraArgs,
    });
    return { ...own, namespace, reused: false };
  }

  let env: TestWorkflowEnvironment;
  try {
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable,
        ip,
        ...(port !== 0 ? { port } : {}),
        namespace,
        ui,
        ...(uiPort !== undefined ? { uiPort } : {}),
        ...(dbPath !== undefined ? { dbFilename: dbPath } : {}),
        log: { format: "pretty", level: opts.logLevel ?? DEFAULT_LOG_LEVEL },
        searchAttributes: [...searchAttributes],
        extraArgs,
      },
    });
  } catch (err) {
    if (executable.type === "cached-download") {
      throw new TemporalCliNotFoundError(
        temporalCliNotFoundMessage(
          `none on this machine, and starting one through the SDK's download failed (${errorMessage(err)}).`,
        ),
        { cause: err },
      );
    }
    throw new Error(
      `Temporal dev server failed to start (${executable.path}, ${port === 0 ? `${ip}, random port` : formatAddress(ip, port)}): ` +
        errorMessage(err),
      { cause: err },
    );
  }

  const address = env.address;
  const actualPort = Number(address.slice(address.lastIndexOf(":") + 1));
  let stopped: Promise<void> | undefined;
  return {
    address,
    namespace,
    uiUrl: ui ? `http://${ip}:${uiPort ?? actualPort + 1000}` : undefined,
    reused: false,
    connection: env.connection,
    nativeConnection: env.nativeConnection,
    stop: () => (stopped ??= env.teardown().catch(() => undefined)),
  };
}

/** The CLI's name of each search attribute type (`--search-attribute Name=Type`). */
const CLI_SEARCH_ATTRIBUTE_TYPE: Record<SearchAttributeType, string> = {
  TEXT: "Text",
  KEYWORD: "Keyword",
  INT: "Int",
  DOUBLE: "Double",
  BOOL: "Bool",
  DATETIME: "Datetime",
  KEYWORD_LIST: "KeywordList",
};

/**
 * The `temporal server start-dev` flags that register search attributes at start:
 * `['--search-attribute', 'Name=Type', …]` (the CLI's type names).
 */
export function searchAttributeArgs(
  searchAttributes: readonly { name: string; type: SearchAttributeType }[],
): string[] {
  return searchAttributes.flatMap((sa) => ["--search-attribute", `${sa.name}=${CLI_SEARCH_ATTRIBUTE_TYPE[sa.type]}`]);
}

/** How long a server started by squadflow may take to answer, ms (a persisted SQLite file is migrated first). */
const SERVER_START_TIMEOUT_MS = 60_000;
/** Time between SIGTERM and SIGKILL when squadflow stops the server it started, ms. */
const SERVER_STOP_GRACE_MS = 10_000;

/** What {@link startServerProcess} starts. `uiPort` undefined: headless. */
interface ServerProcessSettings {
  ip: string;
  port: number;
  namespace: string;
  uiPort: number | undefined;
  dbPath: string | undefined;
  logLevel: string;
  searchAttributes: readonly SearchAttributeDef[];
  extraArgs: readonly string[];
}

/**
 * Starts `temporal server start-dev` as the leader of a new process group (see
 * `StartDevServerOptions.ownProcessGroup`) with the arguments the SDK would pass, and waits until its
 * frontend answers. `stop()` closes the connections, then sends the group SIGTERM (SIGKILL after
 * {@link SERVER_STOP_GRACE_MS}) and waits for the server to exit.
 * @throws Error when the server exits or does not answer within {@link SERVER_START_TIMEOUT_MS}.
 */
async function startServerProcess(
  cliPath: string,
  s: ServerProcessSettings,
): Promise<Pick<DevServerHandle, "address" | "uiUrl" | "connection" | "nativeConnection" | "stop">> {
  const address = formatAddress(s.ip, s.port);
  const args = [
    "server",
    "start-dev",
    "--ip",
    s.ip,
    "--port",
    String(s.port),
    "--namespace",
    s.namespace,
    "--log-format",
    "pretty",
    "--log-level",
    s.logLevel,
    // The dynamic config the SDK's ephemeral server sets: updates on, no version check.
    "--dynamic-config-value",
    "frontend.enableServerVersionCheck=false",
    "--dynamic-config-value",
    "frontend.enableUpdateWorkflowExecution=true",
    "--dynamic-config-value",
    "frontend.enableUpdateWorkflowExecutionAsyncAccepted=true",
    ...(s.uiPort !== undefined ? ["--ui-port", String(s.uiPort)] : ["--headless"]),
    ...(s.dbPath !== undefined ? ["--db-filename", s.dbPath] : []),
    ...searchAttributeArgs(s.searchAttributes),
    ...s.extraArgs,
  ];
  const { command, args: argv } = withParentDeathSignal("TERM", cliPath, args);
  // Its own group (detached: setsid) so a terminal's Ctrl-C does not reach it; output shown as the SDK does.
  const child = spawn(command, argv, { detached: true, stdio: ["ignore", "inherit", "inherit"] });
  const exited = new Promise<void>((resolveExit) => child.once("exit", () => resolveExit()));
  const spawnFailed = new Promise<Error>((resolveError) => child.once("error", resolveError));
  const hasExited = () => child.exitCode !== null || child.signalCode !== null;
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // the group is gone
    }
  };
  // A normal exit of this process (also process.exit on an error) never leaves the server behind.
  const killOnExit = () => signalGroup("SIGTERM");
  process.once("exit", killOnExit);
  const kill = async () => {
    if (child.pid !== undefined && !hasExited()) {
      signalGroup("SIGTERM");
      const timer = setTimeout(() => signalGroup("SIGKILL"), SERVER_STOP_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    process.off("exit", killOnExit);
  };

  const failure = (why: string) => new Error(`Temporal dev server failed to start (${cliPath}, ${address}): ${why}`);
  const deadline = Date.now() + SERVER_START_TIMEOUT_MS;
  let spawnError: Error | undefined;
  void spawnFailed.then((err) => (spawnError = err));
  for (;;) {
    if (spawnError) {
      process.off("exit", killOnExit);
      throw failure(spawnError.message);
    }
    if (hasExited()) {
      process.off("exit", killOnExit);
      throw failure(`it exited (${child.exitCode ?? child.signalCode}); its output above says why`);
    }
    if ((await probeAddress(s.ip, s.port, 1_000)) === "temporal") break;
    if (Date.now() > deadline) {
      await kill();
      throw failure(`not answering after ${SERVER_START_TIMEOUT_MS} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  let connection: Connection | undefined;
  let nativeConnection: NativeConnection;
  try {
    connection = await Connection.connect({ address });
    nativeConnection = await NativeConnection.connect({ address });
  } catch (err) {
    await connection?.close().catch(() => undefined);
    await kill();
    throw err;
  }
  const conn = connection;
  let stopped: Promise<void> | undefined;
  return {
    address,
    uiUrl: s.uiPort !== undefined ? `http://${s.ip}:${s.uiPort}` : undefined,
    connection: conn,
    nativeConnection,
    stop: () =>
      (stopped ??= Promise.all([conn.close().catch(() => undefined), nativeConnection.close().catch(() => undefined)])
        .then(kill)
        .catch(() => undefined)),
  };
}

/**
 * A TCP port on `host` (default 127.0.0.1), free when asked, drawn at random from 20000–32767: below Linux's
 * ephemeral range (32768+), from which the kernel takes the local port of every outgoing connection — a
 * kernel-picked port (`listen(0)`) is in that range and another process's connection may take it before our
 * server binds it (seen in CI as "bind: address already in use") — and within a smallint, the column type of
 * the membership ports Temporal's SQL schema stores. Another process may still take it after the call.
 */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_767);
    if (await portIsFree(port, host)) return port;
  }
}

/** Whether `port` can be bound on `host` (default 127.0.0.1) right now. */
export function portIsFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const server = createServer();
    server.once("error", () => resolvePromise(false));
    server.listen(port, host, () => server.close(() => resolvePromise(true)));
  });
}

/** Connects to an existing server, makes sure the search attributes exist, returns a handle. */
async function reuseServer(
  ip: string,
  port: number,
  namespace: string,
  searchAttributes: readonly SearchAttributeDef[],
  uiPort: number | undefined,
): Promise<DevServerHandle> {
  const address = formatAddress(ip, port);
  const connection = await Connection.connect({ address, connectTimeout: PROBE_TIMEOUT_MS });
  let nativeConnection: NativeConnection | undefined;
  try {
    try {
      await ensureSearchAttributes(connection, namespace, searchAttributes);
    } catch (err) {
      throw new Error(
        `Reusing the Temporal server at ${address}: cannot register search attributes in namespace ` +
          `${namespace}: ${errorMessage(err)}`,
        { cause: err },
      );
    }
    nativeConnection = await NativeConnection.connect({ address });
  } catch (err) {
    await connection.close().catch(() => undefined);
    throw err;
  }
  const uiUrl = uiPort !== undefined && (await tcpOpen(ip, uiPort)) ? `http://${ip}:${uiPort}` : undefined;
  const native = nativeConnection;
  let stopped: Promise<void> | undefined;
  return {
    address,
    namespace,
    uiUrl,
    reused: true,
    connection,
    nativeConnection: native,
    // Someone else owns the server: only our connections are closed.
    stop: () =>
      (stopped ??= Promise.all([connection.close().catch(() => undefined), native.close().catch(() => undefined)]).then(
        () => undefined,
      )),
  };
}

/** True when `host:port` accepts a TCP connection within `timeoutMs`. */
async function tcpOpen(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return await new Promise<boolean>((resolvePromise) => {
    const socket = createConnection({ host, port });
    const done = (result: boolean) => {
      socket.removeAllListeners();
      socket.destroy();
      resolvePromise(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

function formatAddress(host: string, port: number): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]:${port}` : `${host}:${port}`;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
