/**
 * The case's side of the benchmark's worker process (bench/worker-process.ts): forks it, waits until it
 * polls, mirrors its instant activities' counters while the run goes on, and stops it. Every variant's
 * worker is started and stopped this way, so their RSS and CPU are sampled alike (bench/measure.ts).
 */
import { fork, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { newActivityClock, type ActivityClock } from "./instant-activities.js";
import type { CaseMessage, WorkerMessage, WorkerProcessConfig } from "./worker-process.js";

const WORKER_FILE = join(fileURLToPath(new URL(".", import.meta.url)), "worker-process.ts");

/** How long the worker process may take to connect and create its worker, ms (bundle loading included). */
const READY_TIMEOUT_MS = 120_000;
/** How long a stopped worker may take to drain and report, ms, before it is killed. */
const STOP_TIMEOUT_MS = 60_000;

/** A running worker process. */
export interface ForkedWorker {
  /** Its process id (what the sampler reads in /proc). */
  readonly pid: number;
  /**
   * The instant activities' clock as last reported: counters while it runs (every ~250 ms), every owner
   * start once {@link stop} resolved. Times are the worker's `Date.now()` (same machine as the case).
   */
  readonly clock: ActivityClock;
  /** Peak V8 heap used the worker reported since {@link resetHeapPeak}, bytes. */
  heapPeak(): number;
  /** Forgets the heap peak so far (sampling starts with the first start call). */
  resetHeapPeak(): void;
  /** Why the worker process failed or exited before being stopped; undefined while it runs. */
  failure(): string | undefined;
  /** Shuts the worker down (in-flight tasks drain), fills `clock` with its final figures; never throws. */
  stop(): Promise<void>;
}

/**
 * Forks bench/worker-process.ts with `config` (and `nodeArgs`, Node options of that process alone) and
 * resolves once its worker polls.
 * @throws Error when the process fails to start its worker (its error) or is not ready in time.
 */
export async function forkWorker(config: WorkerProcessConfig, nodeArgs: readonly string[] = []): Promise<ForkedWorker> {
  const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  const child: ChildProcess = fork(WORKER_FILE, [JSON.stringify(config)], {
    execArgv: [...nodeArgs, "--import", tsxLoader],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const clock = newActivityClock();
  let heapPeak = 0;
  let failure: string | undefined;
  let stopping = false;
  let onReady: (() => void) | undefined;
  let onStopped: (() => void) | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      if (!stopping || code !== 0)
        failure ??= `worker process exited ${signal ? `on ${signal}` : `with code ${code}`}${stopping ? " while stopping" : ""}`;
      onReady?.();
      onStopped?.();
      resolve();
    }),
  );
  child.on("message", (m: WorkerMessage) => {
    if (m.type === "ready") onReady?.();
    else if (m.type === "progress") {
      clock.ownerRuns = m.ownerRuns;
      clock.qaRuns = m.qaRuns;
      heapPeak = Math.max(heapPeak, m.heapUsed);
    } else if (m.type === "stopped") {
      clock.ownerRuns = m.ownerRuns;
      clock.qaRuns = m.qaRuns;
      clock.ownerStart = new Map(m.ownerStart);
      onStopped?.();
    } else if (m.type === "failed") {
      failure = `worker process failed: ${m.error}`;
    }
  });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      kill();
      reject(new Error(`worker process not ready after ${READY_TIMEOUT_MS / 1000} s`));
    }, READY_TIMEOUT_MS);
    onReady = () => {
      clearTimeout(timer);
      onReady = undefined;
      if (failure) reject(new Error(failure));
      else resolve();
    };
  });
  return {
    pid: child.pid!,
    clock,
    heapPeak: () => heapPeak,
    resetHeapPeak: () => void (heapPeak = 0),
    failure: () => failure,
    async stop() {
      if (stopping) return exited;
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const stopped = new Promise<void>((resolve) => (onStopped = resolve));
      child.send({ type: "stop" } satisfies CaseMessage);
      const timer = setTimeout(() => {
        failure ??= `worker process did not stop within ${STOP_TIMEOUT_MS / 1000} s`;
        kill();
      }, STOP_TIMEOUT_MS);
      await stopped;
      await exited;
      clearTimeout(timer);
    },
  };
}
