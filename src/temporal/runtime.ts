/**
 * The Temporal core runtime as squadflow's processes install it. By default: SDK logs as text at WARN
 * (the INFO stream of worker state changes drowns the progress a user watches), minus the expected
 * warnings that a workflow-only or activity-only worker has nothing of the other kind to poll — by design,
 * one worker per task queue kind — and no metrics.
 *
 * Settings (arguments win over the environment):
 * - `SQUADFLOW_LOG_LEVEL` — TRACE, DEBUG, INFO, WARN (default), ERROR;
 * - `SQUADFLOW_LOG_FORMAT=json` — one JSON object per line on stderr (src/observability/logging.ts), core
 *   (Rust) logs forwarded into the same stream;
 * - `SQUADFLOW_METRICS_PORT=<port>` — the SDK's Prometheus endpoint on `<port>` (`/metrics`, metrics
 *   prefixed `temporal_`); squadflow's own metrics are served on `<port> + 1` by
 *   {@link startObservability}; `SQUADFLOW_METRICS_HOST` is the interface (default `0.0.0.0`).
 *
 * Node-only; install once per process, before the first connection or worker.
 */
import { DefaultLogger, Runtime, type LogEntry, type LogLevel } from "@temporalio/worker";
import { formatJsonLogEntry } from "../observability/logging.js";
import { startMetricsServer, type MetricsServer } from "../observability/metrics.js";

const EXPECTED = /^No (activities|workflows) registered, not polling/;

const LEVELS: readonly LogLevel[] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];

/** Log line formats. */
export type LogFormat = "text" | "json";

/** How to install the runtime; every field is optional (see the module docstring for defaults). */
export interface RuntimeSetup {
  level?: LogLevel;
  format?: LogFormat;
  /** Port of the SDK's Prometheus endpoint; undefined = no metrics. */
  metricsPort?: number;
  /** Interface the metrics endpoints bind (default `0.0.0.0`). */
  metricsHost?: string;
  /** Where JSON lines go (default: stderr). */
  write?: (line: string) => void;
}

/** Thrown for a bad `SQUADFLOW_*` setting (the message names the variable). */
export class RuntimeConfigError extends Error {
  readonly type = "RuntimeConfigError";
  constructor(message: string) {
    super(message);
    this.name = "RuntimeConfigError";
  }
}

/**
 * Reads `SQUADFLOW_LOG_LEVEL`, `SQUADFLOW_LOG_FORMAT`, `SQUADFLOW_METRICS_PORT`, `SQUADFLOW_METRICS_HOST`
 * from `env` (blank values count as unset).
 * @throws RuntimeConfigError naming the variable when a value is invalid.
 */
export function runtimeSetupFromEnv(env: NodeJS.ProcessEnv = process.env): RuntimeSetup {
  const setup: RuntimeSetup = {};
  const level = env.SQUADFLOW_LOG_LEVEL?.trim().toUpperCase();
  if (level) {
    if (!(LEVELS as string[]).includes(level))
      throw new RuntimeConfigError(
        `SQUADFLOW_LOG_LEVEL must be one of ${LEVELS.join(", ")}, got "${env.SQUADFLOW_LOG_LEVEL}"`,
      );
    setup.level = level as LogLevel;
  }
  const format = env.SQUADFLOW_LOG_FORMAT?.trim().toLowerCase();
  if (format) {
    if (format !== "json" && format !== "text")
      throw new RuntimeConfigError(`SQUADFLOW_LOG_FORMAT must be json or text, got "${env.SQUADFLOW_LOG_FORMAT}"`);
    setup.format = format;
  }
  const port = env.SQUADFLOW_METRICS_PORT?.trim();
  if (port) setup.metricsPort = parseMetricsPort(port, "SQUADFLOW_METRICS_PORT");
  const host = env.SQUADFLOW_METRICS_HOST?.trim();
  if (host) setup.metricsHost = host;
  return setup;
}

/**
 * Parses a metrics port (1–65534: squadflow's own metrics use the next port).
 * @throws RuntimeConfigError naming `what`.
 */
export function parseMetricsPort(value: string, what = "--metrics-port"): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65534)
    throw new RuntimeConfigError(`${what} must be a port number (1–65534), got "${value}"`);
  return n;
}

/** What {@link installRuntime} installed. */
export interface InstalledRuntime {
  level: LogLevel;
  format: LogFormat;
  /** `host:port` of the SDK's Prometheus endpoint, when enabled. */
  temporalMetrics?: string;
}

/**
 * Installs the runtime. `setup` is merged over {@link runtimeSetupFromEnv}; a bare level (the old
 * signature) is accepted too.
 * @throws RuntimeConfigError for a bad setting; the SDK's error when a runtime is already installed.
 */
export function installRuntime(setup: RuntimeSetup | LogLevel = {}): InstalledRuntime {
  const s: RuntimeSetup = {
    ...runtimeSetupFromEnv(),
    ...(typeof setup === "string" ? { level: setup } : dropUndefined(setup)),
  };
  const level = s.level ?? "WARN";
  const format = s.format ?? "text";
  const write = s.write ?? ((line: string) => void process.stderr.write(`${line}\n`));
  let logger: DefaultLogger;
  if (format === "json") {
    logger = new DefaultLogger(level, (entry: LogEntry) => {
      if (!EXPECTED.test(entry.message)) write(formatJsonLogEntry(entry));
    });
  } else {
    const print = new DefaultLogger(level);
    logger = new DefaultLogger(level, (entry: LogEntry) => {
      if (EXPECTED.test(entry.message)) return;
      print.log(entry.level, entry.message, entry.meta);
    });
  }
  const temporalMetrics = s.metricsPort !== undefined ? `${s.metricsHost ?? "0.0.0.0"}:${s.metricsPort}` : undefined;
  Runtime.install({
    logger,
    telemetryOptions: {
      // JSON: core (Rust) logs join the same JSON stream instead of printing their own text format.
      ...(format === "json" ? { logging: { filter: { core: level, other: "ERROR" }, forward: {} } } : {}),
      ...(temporalMetrics ? { metrics: { prometheus: { bindAddress: temporalMetrics } } } : {}),
    },
  });
  return { level, format, temporalMetrics };
}

/** The runtime plus squadflow's metrics server; close it when the process stops serving. */
export interface Observability extends InstalledRuntime {
  /** squadflow's own metrics server (`<metricsPort + 1>/metrics`), when metrics are enabled. */
  squadflowMetrics?: MetricsServer;
  /** `host:port` of squadflow's metrics endpoint, when enabled. */
  squadflowMetricsAddress?: string;
  /** Stops the metrics server (the runtime stays installed). */
  close(): Promise<void>;
}

/**
 * Installs the runtime ({@link installRuntime}) and, when metrics are enabled, serves squadflow's own
 * metrics on `metricsPort + 1`.
 * @throws RuntimeConfigError for a bad setting; an Error naming the address when a port is taken.
 */
export async function startObservability(setup: RuntimeSetup = {}): Promise<Observability> {
  const merged: RuntimeSetup = { ...runtimeSetupFromEnv(), ...dropUndefined(setup) };
  const runtime = installRuntime(merged);
  if (merged.metricsPort === undefined) return { ...runtime, close: async () => undefined };
  const host = merged.metricsHost ?? "0.0.0.0";
  const server = await startMetricsServer({ port: merged.metricsPort + 1, host });
  return {
    ...runtime,
    squadflowMetrics: server,
    squadflowMetricsAddress: `${host}:${server.port}`,
    close: () => server.close(),
  };
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
