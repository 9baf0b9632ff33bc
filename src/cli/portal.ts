/**
 * `squadflow portal`: serves the review portal (src/portal/) against the Temporal server of
 * TEMPORAL_ADDRESS / the Temporal profile, until Ctrl-C. `squadflow dev` starts the same portal beside its
 * Temporal UI. Auth settings: docs/portal.md.
 */
import type { Client } from "@temporalio/client";
import { type Command, InvalidArgumentError } from "commander";
import { PortalConfigError, resolvePortalAuth, type PortalAuthConfig } from "../portal/auth.js";
import { startPortal, type PortalHandle } from "../portal/server.js";
import { CliError, EXIT } from "./errors.js";

/** Default port of the portal (next to the Temporal UI's 8233). */
export const DEFAULT_PORTAL_PORT = 8234;

/** Loopback addresses: the only hosts the portal binds to without `--host`. */
const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/**
 * The portal's auth settings from the environment and options.
 * @throws CliError (exit 2) naming the bad variable, file or line.
 */
export function portalAuth(o: { tokensFile?: string; trustedHeader?: string }): PortalAuthConfig {
  try {
    return resolvePortalAuth({ tokensFile: o.tokensFile, trustedHeader: o.trustedHeader });
  } catch (err) {
    if (err instanceof PortalConfigError) throw new CliError(err.message, EXIT.badInput);
    throw err;
  }
}

/** The lines that announce a started portal: its URL, and the login URL when a local token was made. */
export function portalBanner(portal: PortalHandle, auth: PortalAuthConfig, readOnly: boolean): string {
  const lines = [`Portal ${portal.url}${readOnly ? " (read-only)" : ""}`];
  if (auth.localToken) lines.push(`  log in (local token, valid while this process runs): ${loginUrl(portal, auth)}`);
  return lines.join("\n");
}

/** The login URL with the local token, when there is one. */
export function loginUrl(portal: PortalHandle, auth: PortalAuthConfig): string | undefined {
  return auth.localToken ? `${portal.url}/login?token=${encodeURIComponent(auth.localToken)}` : undefined;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError("must be a port number (0–65535)");
  return n;
}

/** Registers `portal`; `withClient` comes from the CLI so connection errors read like the other commands'. */
export function registerPortalCommand(
  program: Command,
  withClient: <T>(fn: (client: Client) => Promise<T>) => Promise<T>,
): void {
  program
    .command("portal")
    .description("serve the review portal: live board, human-review panel, card pages, metrics (docs/portal.md)")
    .option("--port <port>", "HTTP port", port, DEFAULT_PORTAL_PORT)
    .option(
      "--host <host>",
      "address to bind (loopback by default; put a TLS reverse proxy in front of anything else)",
      "127.0.0.1",
    )
    .option("--read-only", "nobody can change anything from the portal (viewers only)", false)
    .option(
      "--tokens-file <file>",
      'file of hashed tokens, "name role sha256-hex" per line (default: SQUADFLOW_PORTAL_TOKENS_FILE)',
    )
    .option(
      "--trusted-header <name>",
      "reverse-proxy header naming the reviewer, e.g. X-Forwarded-User (default: SQUADFLOW_PORTAL_TRUSTED_HEADER)",
    )
    .option("--temporal-ui <url>", "Temporal UI base URL for links to workflows", "http://127.0.0.1:8233")
    .option("--json", "print one JSON line { url, loginUrl } once listening", false)
    .action(async (o) => {
      const auth = portalAuth(o);
      if (!LOOPBACK.has(o.host))
        console.error(`squadflow portal: listening on ${o.host}, not loopback — serve it behind TLS (docs/portal.md)`);
      await withClient(async (client) => {
        const portal = await startPortal({
          client,
          auth,
          readOnly: o.readOnly,
          temporalUi: o.temporalUi,
          port: o.port,
          host: o.host,
        }).catch((err: Error) => {
          throw new CliError(err.message, EXIT.failure);
        });
        if (o.json)
          console.log(
            JSON.stringify({ url: portal.url, loginUrl: loginUrl(portal, auth) ?? null, readOnly: o.readOnly }),
          );
        else console.log(portalBanner(portal, auth, o.readOnly));
        await new Promise<void>((resolve) => {
          process.once("SIGINT", resolve);
          process.once("SIGTERM", resolve);
        });
        await portal.close();
      });
    });
}
