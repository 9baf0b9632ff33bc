/**
 * The process runner every activity uses to run agents, QA checks and rubric commands: no shell, its own
 * process group, bounded output, a hard wall-clock limit, cancellation, and periodic ticks for heartbeats.
 *
 * Why a process group: agents and test runners spawn children (`npm test` → `node` → workers). Killing
 * only the direct child would leave those running as orphans after a timeout — the old Celery worker's
 * "hard limit" had exactly that leak. Every run here leads its own group (`detached: true`, i.e. setsid),
 * and the whole group is signalled. POSIX only; a grandchild that starts its own session escapes.
 */
import { spawn } from "node:child_process";
import { constants as fsConstants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { delimiter, isAbsolute, join, resolve as resolvePath } from "node:path";
import { SETPRIV, withParentDeathSignal } from "../os/parent-death.js";

/** Default cap of collected stdout and of collected stderr, bytes (10 MiB each; the tail is kept). */
export const DEFAULT_MAX_OUTPUT_BYTES = 10 * 1024 * 1024;
/** Default time between SIGTERM and SIGKILL when a process group is killed, ms. */
export const DEFAULT_KILL_GRACE_MS = 2_000;
/** Default interval of `onTick`, ms. */
export const DEFAULT_TICK_MS = 2_000;

/** Options of `runProcess`. */
export interface RunProcessOptions {
  /** Program to run: an absolute path, a path relative to `cwd`, or a name looked up on `env.PATH`. No shell. */
  command: string;
  args?: readonly string[];
  /** Working directory; must exist. */
  cwd: string;
  /** The complete environment of the process (nothing is inherited when given); default: this process's. */
  env?: Record<string, string | undefined>;
  /** Written to the process's stdin, then stdin is closed. Without it stdin is `/dev/null`. */
  stdin?: string;
  /** Wall-clock limit, ms. Past it the whole process group is killed and `timedOut` is set. */
  timeoutMs: number;
  /** Aborting it kills the whole process group and sets `cancelled` (Temporal activity cancellation). */
  signal?: AbortSignal;
  /** Called with every chunk of stdout as it arrives (UTF-8; a chunk may end mid-line). */
  onStdout?: (chunk: string) => void;
  /** Called every `tickMs` while the process runs, with the elapsed time in ms (used for heartbeats). */
  onTick?: (elapsedMs: number) => void;
  /** Interval of `onTick`, ms (default 2 000). */
  tickMs?: number;
  /** Cap of collected stdout and of collected stderr, bytes (default 10 MiB each); older output is dropped. */
  maxOutputBytes?: number;
  /** Time between SIGTERM and SIGKILL when the group is killed, ms (default 2 000). */
  killGraceMs?: number;
  /**
   * Resource limits of the whole process group, checked every `tickMs` (Linux `/proc`; see
   * `groupUsage`): past one the group is killed and `limitExceeded` names it.
   */
  limits?: GroupLimits;
}

/** Limits of a process group: CPU seconds (user + system, reaped children included) and resident memory. */
export interface GroupLimits {
  cpuSeconds?: number;
  memoryMb?: number;
}

/** A group limit that was hit: which, what was used and the limit (CPU seconds, or MB of resident memory). */
export interface LimitExceeded {
  limit: "cpu_seconds" | "memory_mb";
  used: number;
  max: number;
}

/** Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ; 100 on every Linux architecture Node runs on). */
const USER_HZ = 100;
/** Bytes per page of `/proc/<pid>/stat` rss. */
const PAGE_BYTES = 4096;

/**
 * What the processes of group `pgid` use now, from `/proc/<pid>/stat`: CPU seconds (utime + stime +
 * cutime + cstime — the last two count children already reaped) and resident memory, MB. Undefined where
 * there is no `/proc` (the limits are then not enforced). Rlimits are no alternative: they are per process,
 * and an address-space or data limit crashes runtimes that reserve memory up front (Bun, V8).
 */
export async function groupUsage(pgid: number): Promise<{ cpuSeconds: number; memoryMb: number } | undefined> {
  const { readdir, readFile } = await import("node:fs/promises");
  const entries = await readdir("/proc").catch(() => undefined);
  if (!entries) return undefined;
  let ticks = 0;
  let pages = 0;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, "utf8").catch(() => "");
    // "pid (comm) state ppid pgrp …": comm may hold spaces, so split after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) !== pgid) continue;
    ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
    pages += Number(fields[21]);
  }
  return { cpuSeconds: ticks / USER_HZ, memoryMb: (pages * PAGE_BYTES) / (1024 * 1024) };
}

/** The outcome of one `runProcess` call. A process that ran and failed is a result, not an error. */
export interface ProcessResult {
  /** Exit code, or `null` when the process was ended by a signal. */
  exitCode: number | null;
  /** The signal that ended the process, or `null` when it exited by itself. */
  signal: NodeJS.Signals | null;
  /** Collected stdout (UTF-8), at most `maxOutputBytes`; the tail is kept when it was longer. */
  stdout: string;
  /** Collected stderr (UTF-8), at most `maxOutputBytes`; the tail is kept when it was longer. */
  stderr: string;
  /** True when stdout was longer than `maxOutputBytes` and its beginning was dropped. */
  stdoutTruncated: boolean;
  /** True when stderr was longer than `maxOutputBytes` and its beginning was dropped. */
  stderrTruncated: boolean;
  /** True when the group was killed because `timeoutMs` passed. */
  timedOut: boolean;
  /** True when the group was killed because `signal` was aborted. */
  cancelled: boolean;
  /** Set when the group was killed because it passed one of `limits`. */
  limitExceeded?: LimitExceeded;
  /** Wall-clock duration, ms. */
  durationMs: number;
}

/** Why a program could not be started at all. */
export type SpawnErrorCode = "ENOENT" | "EACCES" | "NO_CWD" | "OTHER";

/**
 * Thrown by `runProcess` when the program cannot be started: not found (`ENOENT`), not executable
 * (`EACCES`), or its working directory is missing (`NO_CWD`). The message names the command. Callers turn
 * it into a non-retryable `AgentConfigError` / `ValidatorConfigError` (see errors.ts).
 */
export class SpawnError extends Error {
  constructor(
    /** Why, without the command: `not found (ENOENT)`. */
    readonly why: string,
    readonly code: SpawnErrorCode,
    readonly command: string,
    readonly cwd: string,
  ) {
    super(`cannot run "${command}": ${why}`);
    this.name = "SpawnError";
  }
}

/** Collects a stream's bytes up to a cap, dropping the oldest bytes past it. */
class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;

  constructor(private readonly cap: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.cap && this.chunks.length > 0) {
      const first = this.chunks[0]!;
      const excess = this.size - this.cap;
      this.truncated = true;
      if (first.length <= excess) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.size -= excess;
      }
    }
  }

  toString(): string {
    return Buffer.concat(this.chunks).toString("utf8");
  }
}

/**
 * The last `maxLines` lines of `text` (trailing newlines ignored), at most `maxChars` characters — for
 * error messages and verdict details. Returns `''` for empty text.
 */
export function tail(text: string, maxLines: number, maxChars = 4_000): string {
  const lines = text.replace(/\s+$/, "").split(/\r?\n/);
  let out = lines.slice(Math.max(0, lines.length - maxLines)).join("\n");
  if (out.length > maxChars) out = "…" + out.slice(out.length - maxChars + 1);
  return out;
}

/** Signals a whole process group; false when the group no longer exists. */
function signalGroup(pgid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    // ESRCH: nobody left in the group. EPERM: a member changed credentials; nothing more we can do.
    return false;
  }
}

function describeSpawnFailure(code: string | undefined): { code: SpawnErrorCode; why: string } {
  if (code === "ENOENT") return { code: "ENOENT", why: "not found (ENOENT)" };
  if (code === "EACCES") return { code: "EACCES", why: "permission denied, not executable (EACCES)" };
  return { code: "OTHER", why: `spawn failed (${code ?? "unknown error"})` };
}

/**
 * How to start `command` so that it dies with the worker: its own process group (for the timeout and
 * cancellation kills) survives a SIGKILLed worker, and an orphaned agent would then finish its work while
 * Temporal retries the same attempt elsewhere — the same side effect twice (`npm run chaos` checks it). On
 * Linux with `setpriv`, the program runs under `setpriv --pdeathsig KILL`, which exec()s it with the
 * parent-death signal set. The command is resolved on PATH first, so a missing or non-executable program
 * is still a SpawnError (ENOENT/EACCES) rather than setpriv's exit code.
 * @throws SpawnError when the program is missing or not executable.
 */
async function tiedToWorker(
  command: string,
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ command: string; args: string[] }> {
  if (!SETPRIV) return { command, args: [...args] };
  const candidates = command.includes("/")
    ? [isAbsolute(command) ? command : resolvePath(cwd, command)]
    : (env.PATH ?? "")
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(isAbsolute(dir) ? dir : resolvePath(cwd, dir), command));
  let sawNonExecutable = false;
  for (const candidate of candidates) {
    const st = await stat(candidate).catch(() => undefined);
    if (!st?.isFile()) continue;
    if (
      await access(candidate, fsConstants.X_OK).then(
        () => true,
        () => false,
      )
    ) {
      return withParentDeathSignal("KILL", candidate, args);
    }
    sawNonExecutable = true;
  }
  const { code, why } = describeSpawnFailure(sawNonExecutable ? "EACCES" : "ENOENT");
  throw new SpawnError(why, code, command, cwd);
}

/**
 * Runs a program without a shell in its own process group and waits until it and everything it started in
 * that group have finished.
 *
 * Lifecycle: output is collected (bounded, tail kept); when `timeoutMs` passes or `signal` aborts, the group
 * gets SIGTERM and, `killGraceMs` later, SIGKILL if anything still holds its output open. When the group
 * leader exits (by itself or killed) the rest of its group is sent SIGTERM, and SIGKILL once the output
 * pipes are closed, so no background process outlives the run.
 *
 * @returns the result; a non-zero exit, a timeout or a cancellation is reported in it, never thrown.
 * @throws SpawnError when the program cannot be started (missing, not executable, missing `cwd`).
 */
export async function runProcess(opts: RunProcessOptions): Promise<ProcessResult> {
  const args = opts.args ?? [];
  const maxOutput = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const grace = opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const tickMs = opts.tickMs ?? DEFAULT_TICK_MS;
  const started = performance.now();

  const cwdStat = await stat(opts.cwd).catch(() => undefined);
  if (!cwdStat?.isDirectory()) {
    throw new SpawnError(`working directory "${opts.cwd}" does not exist`, "NO_CWD", opts.command, opts.cwd);
  }

  if (opts.signal?.aborted) {
    return {
      exitCode: null,
      signal: null,
      stdout: "",
      stderr: "",
      stdoutTruncated: false,
      stderrTruncated: false,
      timedOut: false,
      cancelled: true,
      durationMs: 0,
    };
  }

  const launch = await tiedToWorker(opts.command, args, opts.cwd, opts.env ?? process.env);
  return new Promise<ProcessResult>((resolve, reject) => {
    const child = spawn(launch.command, launch.args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true,
      stdio: [opts.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      windowsHide: true,
    });
    const stdout = new TailBuffer(maxOutput);
    const stderr = new TailBuffer(maxOutput);
    const decoder = new TextDecoder();
    child.stdout!.on("data", (c: Buffer) => {
      stdout.push(c);
      if (opts.onStdout) {
        try {
          opts.onStdout(decoder.decode(c, { stream: true }));
        } catch {
          // A failing observer must not take the run down.
        }
      }
    });
    child.stderr!.on("data", (c: Buffer) => stderr.push(c));

    let timedOut = false;
    let cancelled = false;
    let exitCode: number | null = null;
    let exitSignal: NodeJS.Signals | null = null;
    let exited = false;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];
    const pgid = child.pid;
    // Once the group is found empty, its id may be reused by an unrelated process: never signal it again.
    let groupGone = false;
    const signal = (sig: NodeJS.Signals): void => {
      if (pgid === undefined || groupGone) return;
      if (!signalGroup(pgid, sig)) groupGone = true;
    };

    const cleanup = (): void => {
      for (const t of timers) clearTimeout(t);
      clearInterval(ticker);
      opts.signal?.removeEventListener("abort", onAbort);
    };

    const finish = (): void => {
      if (settled) return;
      settled = true;
      cleanup();
      // Anything of the group still alive after its pipes closed gets no more grace.
      signal("SIGKILL");
      resolve({
        exitCode,
        signal: exitSignal,
        stdout: stdout.toString(),
        stderr: stderr.toString(),
        stdoutTruncated: stdout.truncated,
        stderrTruncated: stderr.truncated,
        timedOut,
        cancelled,
        ...(limitExceeded && { limitExceeded }),
        durationMs: Math.round(performance.now() - started),
      });
    };

    let killing = false;
    /** SIGTERM to the group now; SIGKILL after the grace period unless everything has closed by then. */
    const killGroup = (): void => {
      if (killing || pgid === undefined) return;
      killing = true;
      signal("SIGTERM");
      timers.push(
        setTimeout(() => {
          signal("SIGKILL");
          // A process that left the group (setsid) may still hold our pipes: stop waiting for it.
          timers.push(
            setTimeout(() => {
              child.stdout?.destroy();
              child.stderr?.destroy();
              if (exited) finish();
            }, grace),
          );
        }, grace),
      );
    };

    const onAbort = (): void => {
      if (settled || exited) return;
      cancelled = true;
      killGroup();
    };

    let limitExceeded: LimitExceeded | undefined;
    let sampling = false;
    const checkLimits = async (): Promise<void> => {
      const limits = opts.limits;
      if (!limits || pgid === undefined || sampling || killing || exited) return;
      sampling = true;
      try {
        const used = await groupUsage(pgid);
        if (!used || killing || exited) return;
        if (limits.cpuSeconds !== undefined && used.cpuSeconds > limits.cpuSeconds) {
          limitExceeded = { limit: "cpu_seconds", used: Math.round(used.cpuSeconds * 10) / 10, max: limits.cpuSeconds };
        } else if (limits.memoryMb !== undefined && used.memoryMb > limits.memoryMb) {
          limitExceeded = { limit: "memory_mb", used: Math.round(used.memoryMb), max: limits.memoryMb };
        }
        if (limitExceeded) killGroup();
      } finally {
        sampling = false;
      }
    };

    const ticker = setInterval(() => {
      try {
        opts.onTick?.(Math.round(performance.now() - started));
      } catch {
        // A failing heartbeat must not take the run down; Temporal reports missed heartbeats itself.
      }
      void checkLimits();
    }, tickMs);

    child.once("error", (err: NodeJS.ErrnoException) => {
      if (pgid === undefined) {
        // Never started.
        settled = true;
        cleanup();
        const { code, why } = describeSpawnFailure(err.code);
        reject(new SpawnError(why, code, opts.command, opts.cwd));
      }
    });

    if (pgid === undefined) return; // the 'error' event follows

    timers.push(
      setTimeout(() => {
        if (settled || exited) return;
        timedOut = true;
        killGroup();
      }, opts.timeoutMs),
    );
    opts.signal?.addEventListener("abort", onAbort, { once: true });

    if (opts.stdin !== undefined && child.stdin) {
      // The program may exit without reading its stdin; EPIPE is not our failure.
      child.stdin.on("error", () => undefined);
      child.stdin.end(opts.stdin);
    }

    child.once("exit", (code, sig) => {
      exited = true;
      exitCode = code;
      exitSignal = sig;
      // The leader is gone: background processes it left in its group must not outlive the run.
      killGroup();
    });
    child.once("close", () => finish());
  });
}
