/**
 * What the activities receive from the worker (their dependencies) and the small helpers they share:
 * the Temporal activity context (heartbeat, cancellation), the clean environment of child processes and
 * the resolution of project-relative commands.
 */
import { isAbsolute, resolve } from "node:path";
import { Context } from "@temporalio/activity";
import { CancelledFailure } from "@temporalio/common";

/** Default workspaces directory, relative to the worker's base directory — PRODUCT/issue: `state/workspaces`. */
export const DEFAULT_WORKSPACES_DIR = "state/workspaces";

/** Default worktrees directory, relative to the worker's base directory — issue 9: `state/worktrees`. */
export const DEFAULT_WORKTREES_DIR = "state/worktrees";

/** Default directory of the clones of URL repositories, relative to the worker's base directory — issue 9: `state/repos`. */
export const DEFAULT_REPOS_DIR = "state/repos";

/** Where activities log (the Temporal activity logger inside an activity): messages plus structured metadata. */
export interface ActivityLog {
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
}

/** The per-execution hooks of a running activity: heartbeats, cancellation, logging. */
export interface ActivityHooks {
  /** Records a heartbeat (details are kept by Temporal for the next retry). */
  heartbeat: (details?: unknown) => void;
  /** Aborted when Temporal cancels the activity (delivered with the next heartbeat's response). */
  cancellationSignal?: AbortSignal;
  /**
   * The activity logger (`Context.current().log`): soft-timeout warnings, cost comparisons. Absent outside an
   * activity; never give it secrets (the agent-kinds activities redact before logging).
   */
  log?: ActivityLog;
}

/** Dependencies of every activity, injected by the worker (or a test). */
export interface ActivityDeps {
  /** Absolute directory that holds every attempt workspace (`<backlogId>/<cardId>/attempt-<n>` under it). */
  workspacesRoot: string;
  /** Absolute project root of the worker: `./` and `../` commands and args resolve against it. */
  baseDir: string;
  /**
   * Absolute directory of the attempt worktrees of backlogs with a repository (`<backlogId>/<cardId>/attempt-<n>`
   * under it — issue 9); default `<baseDir>/state/worktrees`.
   */
  worktreesRoot?: string;
  /** Absolute directory where URL repositories are cloned (`<backlogId>` under it); default `<baseDir>/state/repos`. */
  reposRoot?: string;
  /** Clock for verdict timestamps (default: `new Date()`). */
  now?: () => Date;
  /**
   * Hooks of the current activity execution, resolved on every call (default: `temporalHooks`, i.e.
   * `Context.current()` inside an activity, no-op outside one).
   */
  hooks?: () => ActivityHooks;
  /** Interval of heartbeats while a process runs, ms (default 2 000). */
  heartbeatIntervalMs?: number;
  /** Time between SIGTERM and SIGKILL when a process group is killed, ms (default 2 000). */
  killGraceMs?: number;
  /** Environment the allow-list is taken from (default: `process.env` of the worker). */
  workerEnv?: Record<string, string | undefined>;
  /**
   * Set by the owner activity for one run (issue 12): hears each event the agent emits while it runs
   * (agents/events.ts), as soon as it is read.
   */
  onOwnerEvent?: (event: import("../domain/attempt.js").OwnerEvent) => void;
}

/**
 * Heartbeat, cancellation and logger of the Temporal activity being executed (`Context.current()` of
 * @temporalio/activity 1.24), or a no-op heartbeat, no cancellation signal and no logger when called
 * outside an activity (plain function calls in tests and scripts).
 */
export function temporalHooks(): ActivityHooks {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return { heartbeat: () => undefined };
  }
  return { heartbeat: (d) => ctx.heartbeat(d), cancellationSignal: ctx.cancellationSignal, log: ctx.log };
}

/**
 * The error to throw once a run was cancelled: the signal's reason when it is an Error (Temporal aborts
 * with a `CancelledFailure`, which makes the activity report "cancelled"), else a new `CancelledFailure`.
 */
export function cancellationError(signal: AbortSignal | undefined, what: string): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new CancelledFailure(`${what} was cancelled`);
}

/**
 * Names copied from the worker's environment into every child process; nothing else is, so secrets of the
 * worker (API keys, Temporal Cloud certificates) never reach an agent unless its config passes them in
 * `env`. NODE_OPTIONS is deliberately absent (it would inject code into `node` agents).
 */
export const ENV_ALLOW_LIST = ["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ"] as const;

/** The allow-listed part of `workerEnv` (unset names are left out). */
export function allowListedEnv(workerEnv: Record<string, string | undefined>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ENV_ALLOW_LIST) {
    const value = workerEnv[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** True for `./x`, `../x` (and `.`/`..`): the values resolved against the project root. */
export function isProjectRelative(value: string): boolean {
  return value === "." || value === ".." || value.startsWith("./") || value.startsWith("../");
}

/**
 * Resolves a command or argument of an agent, QA check or rubric command: values starting with `./` or
 * `../` are paths in the project, resolved against `baseDir` (where `squadflow` runs — squad.ts
 * CommandAgentSchema); every other value is returned unchanged (a name on PATH, an absolute path, a flag, or
 * a path the program reads relative to its working directory, the attempt workspace).
 */
export function resolveProjectPath(baseDir: string, value: string): string {
  return isProjectRelative(value) ? resolve(baseDir, value) : value;
}

/** The command line as configured, for messages: `node ./agents/spec.mjs --fast`. */
export function commandLine(command: string, args: readonly string[] = []): string {
  return [command, ...args].join(" ");
}

/** Checks that a directory given in the deps is absolute; throws naming the field otherwise. */
export function assertAbsolute(field: string, value: string): void {
  if (!isAbsolute(value)) throw new Error(`ActivityDeps.${field} must be an absolute path, got "${value}"`);
}

/** ISO-8601 timestamp from the deps' clock. */
export function nowIso(deps: Pick<ActivityDeps, "now">): string {
  return (deps.now?.() ?? new Date()).toISOString();
}

/** The worktrees root of the deps: `worktreesRoot`, else `<baseDir>/state/worktrees`. */
export function worktreesRootOf(deps: Pick<ActivityDeps, "worktreesRoot" | "baseDir">): string {
  return deps.worktreesRoot ?? resolve(deps.baseDir, DEFAULT_WORKTREES_DIR);
}

/** The clones root of the deps: `reposRoot`, else `<baseDir>/state/repos`. */
export function reposRootOf(deps: Pick<ActivityDeps, "reposRoot" | "baseDir">): string {
  return deps.reposRoot ?? resolve(deps.baseDir, DEFAULT_REPOS_DIR);
}
