/**
 * Where the Temporal server is, from the environment — one place for the client CLI and the worker.
 * Deliberately small: a later issue moves this to `@temporalio/envconfig` (profiles, TLS, API keys).
 *
 * Node-only: never import from workflows.
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';

/** Default Temporal frontend address (the local dev server). */
export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';
/** Default Temporal namespace. */
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';

/** Where to connect: frontend `host:port` and namespace. */
export interface TemporalConnectionOptions {
  /** gRPC address, `host:port`. */
  address: string;
  /** Namespace for clients and workers. */
  namespace: string;
}

/**
 * Reads `TEMPORAL_ADDRESS` (default `127.0.0.1:7233`) and `TEMPORAL_NAMESPACE` (default `default`) from
 * `env` (default `process.env`); empty values count as unset. Pure; never throws.
 */
export function connectionOptions(env: NodeJS.ProcessEnv = process.env): TemporalConnectionOptions {
  return {
    address: nonEmpty(env.TEMPORAL_ADDRESS) ?? DEFAULT_TEMPORAL_ADDRESS,
    namespace: nonEmpty(env.TEMPORAL_NAMESPACE) ?? DEFAULT_TEMPORAL_NAMESPACE,
  };
}

/**
 * Connects a `Client` to `opts` (default {@link connectionOptions}). The caller owns the connection: close it
 * with `client.connection.close()`.
 *
 * @throws the SDK's connection error (naming the address) when no server answers within ~10 s.
 */
export async function connectClient(opts: TemporalConnectionOptions = connectionOptions()): Promise<Client> {
  const connection = await Connection.connect({ address: opts.address });
  return new Client({ connection, namespace: opts.namespace });
}

/**
 * Connects a worker `NativeConnection` to `opts.address` (default from {@link connectionOptions}); pass
 * `opts.namespace` to `Worker.create` yourself. The caller closes it with `connection.close()` after the
 * workers shut down.
 *
 * @throws the SDK's transport error when the server cannot be reached.
 */
export async function connectWorkerConnection(
  opts: TemporalConnectionOptions = connectionOptions(),
): Promise<NativeConnection> {
  return await NativeConnection.connect({ address: opts.address });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
