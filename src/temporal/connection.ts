/**
 * Where the Temporal server is and how to authenticate, from Temporal's standard environment
 * configuration (`@temporalio/envconfig`) — one place for the client CLI and the worker:
 *
 * - a TOML config file: `TEMPORAL_CONFIG_FILE`, else `~/.config/temporalio/temporal.toml` (the file the
 *   `temporal config` command writes), profile `TEMPORAL_PROFILE` (default `default`);
 * - environment variables, which override the profile: `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`,
 *   `TEMPORAL_API_KEY`, `TEMPORAL_TLS`, `TEMPORAL_TLS_CLIENT_CERT_PATH` / `_DATA`,
 *   `TEMPORAL_TLS_CLIENT_KEY_PATH` / `_DATA`, `TEMPORAL_TLS_SERVER_CA_CERT_PATH` / `_DATA`,
 *   `TEMPORAL_TLS_SERVER_NAME`, `TEMPORAL_GRPC_META_<NAME>`;
 * - defaults: `127.0.0.1:7233`, namespace `default`, no TLS. An API key turns TLS on (Temporal Cloud).
 *
 * Blank variables count as unset. Node-only: never import from workflows.
 */
import { dataConverterFromEnv } from "../codec/aes-gcm.js";
import { Client, Connection, type TLSConfig } from "@temporalio/client";
import { loadClientConfigProfile, toClientOptions } from "@temporalio/envconfig";
import { NativeConnection } from "@temporalio/worker";

/** Default Temporal frontend address (the local dev server). */
export const DEFAULT_TEMPORAL_ADDRESS = "127.0.0.1:7233";
/** Default Temporal namespace. */
export const DEFAULT_TEMPORAL_NAMESPACE = "default";

/** Where and how to connect. Only `address` and `namespace` are always set. */
export interface TemporalConnectionOptions {
  /** gRPC address, `host:port`. */
  address: string;
  /** Namespace for clients and workers. */
  namespace: string;
  /** API key (Temporal Cloud); implies TLS. Never printed. */
  apiKey?: string;
  /** TLS: `true` for system roots, a config for mTLS / custom CA / server name, `false` to disable. */
  tls?: TLSConfig | boolean;
  /** gRPC metadata sent with every call. */
  metadata?: Record<string, string>;
  /** The config profile used, when one was named (`TEMPORAL_PROFILE`). */
  profile?: string;
}

/** Thrown when the Temporal config file or profile cannot be loaded (bad TOML, unknown profile, unreadable cert). */
export class TemporalConfigError extends Error {
  readonly type = "TemporalConfigError";
  constructor(message: string) {
    super(message);
    this.name = "TemporalConfigError";
  }
}

/**
 * Loads the connection settings from `env` (default `process.env`) and the TOML config file it points to
 * (see the module docstring), applying squadflow's defaults. Reads files (config, certificates) but
 * connects to nothing.
 *
 * @throws TemporalConfigError naming the file and profile when the config cannot be loaded.
 */
export function connectionOptions(env: NodeJS.ProcessEnv = process.env): TemporalConnectionOptions {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v.trim() !== "") clean[k] = v.trim();
  let connect: ReturnType<typeof toClientOptions>;
  try {
    connect = toClientOptions(loadClientConfigProfile({ overrideEnvVars: clean }));
  } catch (err) {
    const file = clean.TEMPORAL_CONFIG_FILE ?? "~/.config/temporalio/temporal.toml";
    throw new TemporalConfigError(
      `cannot load the Temporal config (file ${file}, profile ${clean.TEMPORAL_PROFILE ?? "default"}): ${(err as Error).message}`,
    );
  }
  const c = connect.connectionOptions;
  const opts: TemporalConnectionOptions = {
    address: c.address ?? DEFAULT_TEMPORAL_ADDRESS,
    namespace: connect.namespace ?? DEFAULT_TEMPORAL_NAMESPACE,
  };
  if (typeof c.apiKey === "string") opts.apiKey = c.apiKey;
  if (c.tls !== undefined && c.tls !== null) opts.tls = asBuffers(c.tls);
  const metadata = Object.entries(c.metadata ?? {}).filter((e): e is [string, string] => typeof e[1] === "string");
  if (metadata.length > 0) opts.metadata = Object.fromEntries(metadata);
  if (clean.TEMPORAL_PROFILE) opts.profile = clean.TEMPORAL_PROFILE;
  return opts;
}

/**
 * envconfig 1.24 reads certificates as Uint8Array; @grpc/grpc-js (the client `Connection`) insists on
 * Buffers (`createSsl` throws "must be a Buffer"), so both connections get Buffers.
 */
function asBuffers(tls: TLSConfig | boolean): TLSConfig | boolean {
  if (typeof tls === "boolean") return tls;
  const buf = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b));
  const out: TLSConfig = {};
  if (tls.serverNameOverride !== undefined) out.serverNameOverride = tls.serverNameOverride;
  if (tls.serverRootCACertificate !== undefined) out.serverRootCACertificate = buf(tls.serverRootCACertificate);
  if (tls.clientCertPair) out.clientCertPair = { crt: buf(tls.clientCertPair.crt)!, key: buf(tls.clientCertPair.key)! };
  return out;
}

/** A one-line description for logs and messages: address, namespace, TLS / API key (never the key itself). */
export function describeConnection(opts: TemporalConnectionOptions): string {
  const extras = [
    opts.profile ? `profile ${opts.profile}` : undefined,
    opts.tls ? (typeof opts.tls === "object" && opts.tls.clientCertPair ? "mTLS" : "TLS") : undefined,
    opts.apiKey ? "API key" : undefined,
  ].filter(Boolean);
  return `${opts.address} (namespace ${opts.namespace}${extras.length ? `, ${extras.join(", ")}` : ""})`;
}

/**
 * Connects a `Client` to `opts` (default {@link connectionOptions}). The caller owns the connection: close it
 * with `client.connection.close()`.
 *
 * @throws the SDK's connection error (naming the address) when no server answers within ~10 s.
 */
export async function connectClient(opts: TemporalConnectionOptions = connectionOptions()): Promise<Client> {
  const connection = await Connection.connect({
    address: opts.address,
    ...(opts.tls !== undefined ? { tls: opts.tls } : {}),
    ...(opts.apiKey !== undefined ? { apiKey: opts.apiKey } : {}),
    ...(opts.metadata ? { metadata: opts.metadata } : {}),
  });
  // Payload encryption when a key is configured (SQUADFLOW_CODEC_KEY / _FILE — src/codec/aes-gcm.ts).
  const dataConverter = dataConverterFromEnv();
  return new Client({ connection, namespace: opts.namespace, ...(dataConverter ? { dataConverter } : {}) });
}

/**
 * Connects a worker `NativeConnection` to `opts` (default from {@link connectionOptions}); pass
 * `opts.namespace` to `Worker.create` yourself. The caller closes it with `connection.close()` after the
 * workers shut down.
 *
 * @throws the SDK's transport error when the server cannot be reached.
 */
export async function connectWorkerConnection(
  opts: TemporalConnectionOptions = connectionOptions(),
): Promise<NativeConnection> {
  return await NativeConnection.connect({
    address: opts.address,
    ...(opts.tls !== undefined ? { tls: opts.tls } : {}),
    ...(opts.apiKey !== undefined ? { apiKey: opts.apiKey } : {}),
    ...(opts.metadata ? { metadata: opts.metadata } : {}),
  });
}
