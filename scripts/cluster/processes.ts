/**
 * Process plumbing of `npm run cluster` (scripts/cluster/run.ts): commands run to completion, long-lived
 * children in their own process group (so stopping one stops what it spawned, and nothing else), free
 * loopback ports, and waiting on a condition. Node-only; nothing here is imported by src/.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream } from "node:fs";
import { freePort, portIsFree } from "../../src/temporal/dev-server.js";

/** What a finished command left: exit code (null when killed by a signal), stdout and stderr text. */
export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Options of `run`. */
export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Append stdout and stderr to this file as well (the run's log of that step). */
  logFile?: string;
  /** Kill the command (SIGTERM) after this many ms; it then counts as failed. Default: no limit. */
  timeoutMs?: number;
}

/**
 * Runs a command to its end and collects its output.
 * @throws Error naming the command, its exit code and the tail of its stderr when it does not exit 0.
 */
export async function run(command: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  const r = await runUnchecked(command, args, opts);
  if (r.code !== 0) {
    const tail = (r.stderr || r.stdout).trim().split("\n").slice(-15).join("\n");
    throw new Error(
      `${command} ${args.join(" ")} exited ${r.code}${opts.logFile ? ` (log: ${opts.logFile})` : ""}:\n${tail}`,
    );
  }
  return r;
}

/** Commands of `run`/`runUnchecked` still running (killed by `killCommands` on the way out). */
const running = new Set<ChildProcess>();

/** SIGTERM to every command `run`/`runUnchecked` started that has not ended (e.g. a CLI waiting for a backlog). */
export function killCommands(): void {
  for (const child of running) child.kill("SIGTERM");
}

/** Like `run`, but returns a non-zero exit code instead of throwing (for probes such as health checks). */
export function runUnchecked(command: string, args: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    running.add(child);
    const log = opts.logFile ? createWriteStream(opts.logFile, { flags: "a" }) : undefined;
    let stdout = "";
    let stderr = "";
    const timer =
      opts.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            stderr += `\nkilled after ${Math.round(opts.timeoutMs! / 1000)} s`;
            child.kill("SIGTERM");
          }, opts.timeoutMs);
    child.stdout.on("data", (b: Buffer) => {
      stdout += b.toString();
      log?.write(b);
    });
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
      log?.write(b);
    });
    child.once("error", (err) => {
      running.delete(child);
      clearTimeout(timer);
      log?.end();
      reject(new Error(`cannot run ${command}: ${err.message}`));
    });
    child.once("close", (code) => {
      running.delete(child);
      clearTimeout(timer);
      log?.end();
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** A long-lived child (server, worker) with its output going to a log file. */
export interface Service {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** Everything the child wrote to stdout so far (for readiness lines). */
  stdout(): string;
  /** Resolves with the exit code (or signal) once the child has exited. */
  exited: Promise<number | string | null>;
}

/**
 * Starts a long-lived child in its own process group (`detached`), stdout and stderr appended to `logFile`.
 * @throws Error when the command cannot be spawned.
 */
export function startService(
  name: string,
  command: string,
  args: readonly string[],
  opts: RunOptions & { logFile: string },
): Service {
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log = createWriteStream(opts.logFile, { flags: "a" });
  let out = "";
  child.stdout?.on("data", (b: Buffer) => {
    if (out.length < 1_000_000) out += b.toString();
    log.write(b);
  });
  child.stderr?.on("data", (b: Buffer) => log.write(b));
  const exited = new Promise<number | string | null>((resolvePromise) => {
    child.once("exit", (code, signal) => resolvePromise(code ?? signal));
    child.once("error", (err) => {
      log.write(`spawn error: ${err.message}\n`);
      resolvePromise(null);
    });
  });
  exited.then(
    () => log.end(),
    () => log.end(),
  );
  return { name, child, logFile: opts.logFile, stdout: () => out, exited };
}

/**
 * Stops a service: SIGTERM to its process group, SIGKILL after `graceMs` (ms) if it has not exited; with
 * `graceMs` 0, SIGKILL at once.
 * Never throws (used on the way out).
 */
export async function stopService(s: Service, graceMs = 15_000): Promise<void> {
  const pid = s.child.pid;
  if (pid === undefined || s.child.exitCode !== null || s.child.signalCode !== null) return;
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // The group is gone already.
    }
  };
  if (graceMs <= 0) {
    // A crash, not a shutdown: no SIGTERM first, which would let the process start a graceful exit.
    signalGroup("SIGKILL");
    await s.exited;
    return;
  }
  signalGroup("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const killed = new Promise<void>((r) => {
    timer = setTimeout(() => {
      signalGroup("SIGKILL");
      r();
    }, graceMs);
  });
  await Promise.race([s.exited.then(() => undefined), killed]);
  clearTimeout(timer);
  await s.exited;
}

/** A free loopback port in 20000–32767 (see `freePort` of src/temporal/dev-server.ts), and its check. */
export { freePort, portIsFree };

/** `count` distinct free loopback ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** A free port p whose neighbour p + 1 is free too (a worker's metrics port and its /healthz port). */
export async function freePortPair(taken: ReadonlySet<number>): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (!taken.has(p) && !taken.has(p + 1) && (await portIsFree(p + 1))) return p;
  }
}

/**
 * Polls `probe` every `intervalMs` (ms) until it returns true.
 * @throws Error naming `what` when `timeoutMs` (ms) passes first, or when `failed` reports a reason (e.g.
 *   the process being waited for has exited).
 */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean> | boolean,
  opts: { timeoutMs: number; intervalMs?: number; failed?: () => string | undefined },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (await probe()) return;
    const reason = opts.failed?.();
    if (reason) throw new Error(`${what}: ${reason}`);
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${Math.round(opts.timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
  }
}
