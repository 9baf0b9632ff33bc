/**
 * The one way squadflow runs `git` (issue 9): the `git` binary through `execFile` (no shell, no JS git
 * library), with a clean environment, squadflow's own identity for the commits it makes, typed errors that
 * name the command and quote git's stderr, and a few retries on transient ref-lock errors (several
 * activities of one backlog touch the same repository at once).
 */
import { execFile } from "node:child_process";

/**
 * `-c` options of the git commands that write on squadflow's behalf (commit, commit-tree, rebase, worktree
 * add): squadflow's identity, no signing (no key, no pinentry on a worker), and no hooks — the validators
 * are the gate, and a project's hook (interactive, slow, or refusing squadflow's identity) must not break
 * an attempt or a merge.
 */
export const SQUADFLOW_IDENTITY: readonly string[] = [
  "-c",
  "user.name=squadflow",
  "-c",
  "user.email=squadflow@localhost",
  "-c",
  "commit.gpgsign=false",
  "-c",
  "core.hooksPath=/dev/null",
];

/**
 * Names copied from the worker's environment into git's. Nothing else is: no `GIT_DIR`, `GIT_WORK_TREE` or
 * `GIT_INDEX_FILE` of a calling git hook can redirect squadflow's commands, and no API key reaches a hook.
 * HOME stays so that the user's credentials and `~/.gitconfig` work for clones and pushes; SSH_AUTH_SOCK
 * so that an ssh agent does.
 */
export const GIT_ENV_ALLOW_LIST = ["PATH", "HOME", "TMPDIR", "TZ", "SSH_AUTH_SOCK"] as const;

/** Default limit of one git command, ms (local commands take well under a second). */
export const DEFAULT_GIT_TIMEOUT_MS = 120_000;
/** Limit of a git command that talks to a remote (clone, ls-remote, push), ms. */
export const NETWORK_GIT_TIMEOUT_MS = 600_000;
/** Most bytes read from one git command's stdout (a diff is bounded by its callers before this). */
const MAX_BUFFER = 256 * 1024 * 1024;
/** Tries of a command that failed on a held ref lock (`Unable to create '….lock': File exists`). */
export const LOCK_RETRIES = 6;

/**
 * A git command that failed: exit code non-zero (or it could not start, or timed out). The message names
 * the command line and the repository directory and quotes git's stderr (its last 2 000 characters).
 */
export class GitError extends Error {
  constructor(
    /** `git merge-tree --write-tree …`, as run (without the identity options). */
    readonly command: string,
    /** Directory the command ran in. */
    readonly cwd: string,
    /** Exit code; null when git was killed (timeout) or could not start. */
    readonly exitCode: number | null,
    /** git's stderr, trimmed. */
    readonly stderr: string,
    /** git's stdout (some commands report on stdout, e.g. `merge-tree`). */
    readonly stdout: string,
    why?: string,
  ) {
    const quoted = stderr.length > 2_000 ? `…${stderr.slice(-1_999)}` : stderr;
    super(`"${command}" in ${cwd} ${why ?? `exited ${exitCode ?? "abnormally"}`}${quoted ? `: ${quoted}` : ""}`);
    this.name = "GitError";
  }

  /**
   * True when git could not take a lock another git process holds, or read a worktree entry another git
   * process (another worker on the same repository) is writing — worth a retry.
   */
  get isLockContention(): boolean {
    return (
      /Unable to create '[^']*\.lock': File exists/i.test(this.stderr) ||
      /failed to read [^\n]*worktrees\/[^\n]*\/(commondir|gitdir)/i.test(this.stderr)
    );
  }
}

/** Options of `git`. */
export interface GitOptions {
  /** Written to git's stdin (e.g. a commit message for `commit-tree -F -`). */
  input?: string;
  /** Exit codes that are results, not failures (e.g. `[1]` for `merge-tree` conflicts, `diff --quiet`). */
  okExitCodes?: readonly number[];
  /** Prepend `SQUADFLOW_IDENTITY` (for commands that make commits: commit, commit-tree, rebase). */
  identity?: boolean;
  /** Limit, ms (default `DEFAULT_GIT_TIMEOUT_MS`). */
  timeoutMs?: number;
  /** Environment the allow-listed names are taken from (default: `process.env`). */
  workerEnv?: Record<string, string | undefined>;
  /** Set on top of the environment (e.g. `GIT_INDEX_FILE`: a private index that leaves the worktree's own alone). */
  env?: Record<string, string>;
}

/** What a finished git command returned. */
export interface GitResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/**
 * The environment of every git command: the allow-listed names, `GIT_TERMINAL_PROMPT=0` (a missing
 * credential fails instead of waiting for a terminal that is not there), `GIT_CONFIG_NOSYSTEM=1` (the
 * machine's /etc/gitconfig does not change how squadflow's commands behave), and `LC_ALL=C` (the messages
 * squadflow reads, like "but expected", are in English).
 */
export function gitEnv(workerEnv: Record<string, string | undefined> = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of GIT_ENV_ALLOW_LIST) {
    const value = workerEnv[name];
    if (value !== undefined) env[name] = value;
  }
  return { ...env, GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", LC_ALL: "C", GIT_ADVICE: "0" };
}

function once(cwd: string, args: readonly string[], opts: GitOptions): Promise<GitResult> {
  const argv = [...(opts.identity ? SQUADFLOW_IDENTITY : []), ...args];
  const shown = `git ${args.join(" ")}`;
  return new Promise((resolve, reject) => {
    const child = execFile(
      "git",
      argv,
      {
        cwd,
        env: { ...gitEnv(opts.workerEnv), ...opts.env },
        maxBuffer: MAX_BUFFER,
        timeout: opts.timeoutMs ?? DEFAULT_GIT_TIMEOUT_MS,
        encoding: "utf8",
      },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr, exitCode: 0 });
        const e = err as NodeJS.ErrnoException & { code?: number | string; killed?: boolean };
        if (typeof e.code === "number" && (opts.okExitCodes ?? []).includes(e.code))
          return resolve({ stdout, stderr, exitCode: e.code });
        if (typeof e.code === "string") {
          // ENOENT from spawn: git is not on PATH, or the directory is missing.
          const why =
            e.code === "ENOENT"
              ? "could not start (ENOENT: is git on PATH, does the directory exist?)"
              : `could not start (${e.code})`;
          return reject(new GitError(shown, cwd, null, String(stderr ?? "").trim(), String(stdout ?? ""), why));
        }
        const why = e.killed ? `was killed after ${opts.timeoutMs ?? DEFAULT_GIT_TIMEOUT_MS} ms` : undefined;
        reject(
          new GitError(
            shown,
            cwd,
            typeof e.code === "number" ? e.code : null,
            String(stderr ?? "").trim(),
            String(stdout ?? ""),
            why,
          ),
        );
      },
    );
    if (opts.input !== undefined) {
      child.stdin?.on("error", () => undefined);
      child.stdin?.end(opts.input);
    }
  });
}

/**
 * Runs `git <args>` in `cwd` and returns its output. A failure on a ref lock another git process holds is
 * retried up to `LOCK_RETRIES` times, with a short growing pause (the holder finishes within milliseconds);
 * every other failure is thrown at once.
 *
 * @throws GitError naming the command, the directory, the exit code and git's stderr.
 */
export async function git(cwd: string, args: readonly string[], opts: GitOptions = {}): Promise<GitResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await once(cwd, args, opts);
    } catch (err) {
      if (!(err instanceof GitError) || !err.isLockContention || attempt >= LOCK_RETRIES) throw err;
      await new Promise((r) => setTimeout(r, 20 * attempt + Math.floor(Math.random() * 30)));
    }
  }
}

/** `git <args>`'s stdout without its trailing newline. @throws GitError */
export async function gitOut(cwd: string, args: readonly string[], opts: GitOptions = {}): Promise<string> {
  return (await git(cwd, args, opts)).stdout.replace(/\n$/, "");
}

/**
 * The commit a revision names (`git rev-parse --verify --quiet <rev>^{commit}`), or undefined when there is
 * none (a missing branch, an unknown object).
 * @throws GitError when git fails for another reason (not a repository).
 */
export async function commitOf(cwd: string, rev: string, opts: GitOptions = {}): Promise<string | undefined> {
  const r = await git(cwd, ["rev-parse", "--verify", "--quiet", "--end-of-options", `${rev}^{commit}`], {
    ...opts,
    okExitCodes: [1],
  });
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

/** True when `ancestor` is an ancestor of (or equal to) `descendant` (`git merge-base --is-ancestor`). @throws GitError */
export async function isAncestor(
  cwd: string,
  ancestor: string,
  descendant: string,
  opts: GitOptions = {},
): Promise<boolean> {
  return (
    (await git(cwd, ["merge-base", "--is-ancestor", ancestor, descendant], { ...opts, okExitCodes: [1] })).exitCode ===
    0
  );
}

/** The all-zero object id: as the old value of `git update-ref`, "this ref must not exist yet". */
export const ZERO_OID = "0000000000000000000000000000000000000000";
