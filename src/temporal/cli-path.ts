/**
 * Finding the `temporal` CLI binary that runs the embedded dev server (server + UI in one process).
 *
 * Discovery order (first hit wins):
 *   1. env `TEMPORAL_CLI_PATH` — must point at an existing executable file, else an error naming the variable;
 *   2. `temporal` on `PATH`;
 *   3. `<projectRoot>/.temporal-cli/bin/temporal` — what `npm run setup:temporal` installs;
 *   4. the SDK's cached download (`@temporalio/testing` fetches the CLI on first use; needs internet).
 *
 * Node-only (fs, path): never import from workflows.
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { EphemeralServerExecutable } from "@temporalio/testing";

/** Name of the environment variable that overrides discovery with an explicit binary path. */
export const TEMPORAL_CLI_PATH_ENV = "TEMPORAL_CLI_PATH";

/** The `package.json` name that marks the package root when walking up from this file. */
const PACKAGE_NAME = "squadflow";

/**
 * Where a Temporal CLI was found: `env` (TEMPORAL_CLI_PATH), `path` (on PATH), `project`
 * (`.temporal-cli/bin/temporal`), or `sdk-download` (none found locally; let the SDK download and cache one).
 */
export type TemporalCliSource = "env" | "path" | "project" | "sdk-download";

/**
 * Result of {@link findTemporalCli}: the source and, for every source but `sdk-download`, the absolute
 * path of the executable.
 */
export interface FoundTemporalCli {
  /** Where it was found. */
  source: TemporalCliSource;
  /** Absolute path of the executable; absent for `sdk-download`. */
  path?: string;
}

/** Options of {@link findTemporalCli}; both exist so tests can run discovery against a fake world. */
export interface FindTemporalCliOptions {
  /** Environment to read `TEMPORAL_CLI_PATH` and `PATH` from. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Package root holding `.temporal-cli/`. Default {@link PROJECT_ROOT}. */
  projectRoot?: string;
}

/**
 * A Temporal CLI is required but none can be used: a bad `TEMPORAL_CLI_PATH`, or no local binary and the
 * SDK download failed (e.g. offline). Not retryable: a human must install the CLI. `type` is stable.
 */
export class TemporalCliNotFoundError extends Error {
  /** Stable error type for callers and logs. */
  readonly type = "TemporalCliNotFoundError";
  override readonly name = "TemporalCliNotFoundError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The message telling a user how to get a Temporal CLI: `npm run setup:temporal`, `TEMPORAL_CLI_PATH`, or a
 * system-wide install. `reason` (one sentence, e.g. why the last attempt failed) is put first when given.
 */
export function temporalCliNotFoundMessage(reason?: string): string {
  const lines = [
    reason ? `Temporal CLI not found: ${reason}` : "Temporal CLI not found.",
    "Install it with one of:",
    "  - npm run setup:temporal   (installs it into .temporal-cli/bin/temporal in this project)",
    `  - set ${TEMPORAL_CLI_PATH_ENV}=/path/to/temporal   (an existing temporal CLI binary)`,
    "  - install the temporal CLI system-wide and put it on PATH (https://docs.temporal.io/cli)",
  ];
  return lines.join("\n");
}

/**
 * Absolute path of the squadflow package root: the nearest folder above this file whose `package.json`
 * is named `squadflow` (falls back to two levels up, i.e. the parent of `src/`).
 */
export const PROJECT_ROOT: string = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg)) {
      try {
        const parsed = JSON.parse(readFileSync(pkg, "utf8")) as { name?: unknown };
        if (parsed.name === PACKAGE_NAME) return dir;
      } catch {
        // An unreadable package.json is not ours; keep walking.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return resolve(start, "..", "..");
    dir = parent;
  }
}

/** True when `file` is a regular file the current user may execute. */
function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Binary names to look for in a directory: `temporal`, plus `temporal.exe` on Windows. */
function binaryNames(): string[] {
  return process.platform === "win32" ? ["temporal.exe", "temporal"] : ["temporal"];
}

/**
 * Finds the Temporal CLI to run the dev server with, in the order described at the top of this file.
 * Synchronous; only stats files, never runs them.
 *
 * @returns `{ source, path }`, or `{ source: 'sdk-download' }` when nothing local was found.
 * @throws TemporalCliNotFoundError when `TEMPORAL_CLI_PATH` is set but is not an existing executable file.
 */
export function findTemporalCli(opts: FindTemporalCliOptions = {}): FoundTemporalCli {
  const env = opts.env ?? process.env;
  const projectRoot = opts.projectRoot ?? PROJECT_ROOT;

  const explicit = env[TEMPORAL_CLI_PATH_ENV];
  if (explicit !== undefined && explicit !== "") {
    const abs = resolve(explicit);
    if (!existsSync(abs)) {
      throw new TemporalCliNotFoundError(
        temporalCliNotFoundMessage(`${TEMPORAL_CLI_PATH_ENV}=${explicit} does not exist.`),
      );
    }
    if (!isExecutableFile(abs)) {
      throw new TemporalCliNotFoundError(
        temporalCliNotFoundMessage(`${TEMPORAL_CLI_PATH_ENV}=${explicit} is not an executable file.`),
      );
    }
    return { source: "env", path: abs };
  }

  for (const dir of (env.PATH ?? "").split(delimiter)) {
    // An empty PATH entry means the current directory; ignoring it avoids picking up a stray local file.
    if (dir === "") continue;
    for (const name of binaryNames()) {
      const candidate = resolve(dir, name);
      if (isExecutableFile(candidate)) return { source: "path", path: candidate };
    }
  }

  for (const name of binaryNames()) {
    const candidate = join(projectRoot, ".temporal-cli", "bin", name);
    if (isExecutableFile(candidate)) return { source: "project", path: candidate };
  }

  return { source: "sdk-download" };
}

/**
 * Maps a discovery result to `@temporalio/testing`'s executable option: `{ type: 'existing-path', path }`
 * for a local binary, `{ type: 'cached-download' }` for `sdk-download`.
 */
export function toEphemeralExecutable(found: FoundTemporalCli): EphemeralServerExecutable {
  if (found.source === "sdk-download" || found.path === undefined) return { type: "cached-download" };
  return { type: "existing-path", path: found.path };
}
