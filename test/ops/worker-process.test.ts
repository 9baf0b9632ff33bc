/**
 * The worker as a real process (`npx tsx src/worker.ts --queues debugging`) against the run's dev server:
 * it joins the server from TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE alone and stops cleanly on SIGTERM; with
 * SQUADFLOW_LOG_FORMAT=json every log line is JSON with the card's context, and with
 * SQUADFLOW_METRICS_PORT it serves the Temporal SDK's and squadflow's Prometheus metrics.
 *
 * The process serves the default `squadflow-debugging` queue (the queue names are the deployment's
 * contract); no other test uses the default queues.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { temporal } from "@temporalio/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../src/temporal/cli-path.js";
import { TASK_QUEUES } from "../../src/temporal/queues.js";
import { cardWorkflow } from "../../src/workflows/card.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import { fakeActivities, testPlan, uniqueBacklogId } from "../workflows/fakes.js";
import { until } from "./helpers.js";

interface Proc {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  exit: Promise<number | null>;
}

let home: string;

beforeAll(async () => {
  // A HOME without ~/.config/temporalio/temporal.toml or ~/.npmrc: nothing but the variables below counts.
  home = await mkdtemp(join(tmpdir(), "squadflow-worker-home-"));
});

afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

/** Starts the worker in its own process group with exactly `env` (plus PATH and HOME). */
function startWorker(env: Record<string, string>): Proc {
  const child = spawn("npx", ["tsx", "src/worker.ts", "--queues", "debugging"], {
    cwd: PROJECT_ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: home, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const proc: Proc = {
    child,
    stdout: [],
    stderr: [],
    exit: new Promise((resolve) => child.on("exit", (code) => resolve(code))),
  };
  const lines = (into: string[]) => {
    let rest = "";
    return (chunk: Buffer) => {
      const parts = (rest + chunk.toString()).split("\n");
      rest = parts.pop()!;
      into.push(...parts);
    };
  };
  child.stdout!.on("data", lines(proc.stdout));
  child.stderr!.on("data", lines(proc.stderr));
  return proc;
}

/** Non-empty output lines of the worker itself (npm's own notices, e.g. its update check, left out). */
function workerLines(lines: string[]): string[] {
  return lines.filter((l) => l.trim() !== "" && !/^npm (notice|warn)/.test(l));
}

/** The process running the worker: the last descendant of npx (npx → tsx → node), from /proc (Linux). */
async function workerPid(pid: number): Promise<number> {
  for (;;) {
    const children = (await readFile(`/proc/${pid}/task/${pid}/children`, "utf8"))
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    if (children.length === 0) return pid;
    pid = children[children.length - 1]!;
  }
}

/**
 * SIGTERM to the worker's node process (as an orchestrator would send it to the worker), then the exit
 * code that comes back up through tsx and npx. (npm itself does not pass SIGTERM on to its child: it
 * dies and leaves the worker running — hence not signalling npx.) Falls back to killing the process group.
 */
async function stop(p: Proc): Promise<number | null> {
  if (p.child.exitCode !== null) return p.child.exitCode;
  process.kill(await workerPid(p.child.pid!), "SIGTERM");
  const timer = setTimeout(() => p.child.exitCode === null && process.kill(-p.child.pid!, "SIGKILL"), 20_000);
  try {
    return await p.exit;
  } finally {
    clearTimeout(timer);
  }
}

/** Activity pollers on the default debugging queue that polled after `since`. */
async function pollersSince(since: number): Promise<number> {
  const { client, namespace } = await testEnv();
  const res = await client.workflowService.describeTaskQueue({
    namespace,
    taskQueue: { name: TASK_QUEUES.debugging, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  return (res.pollers ?? []).filter((p) => {
    const t = p.lastAccessTime;
    return t && Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) >= since;
  }).length;
}

/** Two consecutive free TCP ports (P for the Temporal SDK's metrics, P+1 for squadflow's). */
async function freePortPair(): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
  for (;;) {
    const p = 20_000 + Math.floor(Math.random() * 40_000);
    if ((await free(p)) && (await free(p + 1))) return p;
  }
}

describe("the worker process", () => {
  it("joins an existing server with only TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE set, and exits 0 on SIGTERM", async () => {
    const { address, namespace } = await testEnv();
    const since = Date.now() - 1000;
    const p = startWorker({ TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace });
    try {
      await until(
        "the worker to poll squadflow-debugging",
        async () => ((await pollersSince(since)) > 0 ? true : undefined),
        25_000,
      );
      expect(p.stdout.join("\n")).toContain(
        `squadflow worker on ${address} (namespace ${namespace}): squadflow-debugging`,
      );
    } finally {
      expect(await stop(p)).toBe(0);
    }
    expect(workerLines(p.stderr)).toEqual([]);
  });

  it("logs one JSON line per event with the card context and serves Prometheus metrics", async () => {
    const { address, namespace, client } = await testEnv();
    const port = await freePortPair();
    const p = startWorker({
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: namespace,
      SQUADFLOW_LOG_FORMAT: "json",
      SQUADFLOW_LOG_LEVEL: "INFO",
      SQUADFLOW_METRICS_PORT: String(port),
      SQUADFLOW_METRICS_HOST: "127.0.0.1",
    });
    try {
      await until(
        "the worker to start",
        async () => (p.stdout.some((l) => l.startsWith("squadflow worker on")) ? true : undefined),
        25_000,
      );
      expect(p.stdout.join("\n")).toContain(`metrics: Temporal 127.0.0.1:${port}, squadflow 127.0.0.1:${port + 1}`);

      // A card whose judge fails twice for the same reason: the debugging agent runs (in the process) before
      // the 2nd correction; owner and validators are scripted, on a queue of this test.
      const taskQueue = uniqueTaskQueue("ops-worker");
      const worker = await createTestWorker({
        taskQueue,
        activities: fakeActivities({
          C1: { judge: [['criterion "has intro" not met'], ['criterion "has intro" not met'], "pass"] },
        }).activities,
      });
      const backlogId = uniqueBacklogId("ops-worker");
      const plan = testPlan(backlogId, [{ id: "C1" }]).cards[0]!;
      const handle = await client.workflow.start(cardWorkflow, {
        taskQueue,
        workflowId: `${backlogId}/C1`,
        args: [{ plan, queues: { owners: taskQueue, validation: taskQueue, debugging: TASK_QUEUES.debugging } }],
      });
      const outcome = await worker.runUntil(handle.result());
      expect(outcome.status).toBe("DONE");

      const line = await until("the debugging activity to be logged", async () =>
        p.stderr.find((l) => l.includes('"activityType":"debugFailures"') && l.includes("Activity completed")),
      );
      expect(JSON.parse(line)).toMatchObject({
        level: "INFO",
        message: "Activity completed",
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        backlogId,
        cardId: "C1",
        attempt: 2,
        workflowId: `${backlogId}/C1`,
        runId: handle.firstExecutionRunId,
        activityType: "debugFailures",
        activityAttempt: 1,
        taskQueue: TASK_QUEUES.debugging,
        rootCause: expect.any(String),
      });
      for (const l of workerLines(p.stderr)) expect(() => JSON.parse(l), l).not.toThrow();

      const temporalMetrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(temporalMetrics).toMatch(/^temporal_/m);
      const squadflow = await (await fetch(`http://127.0.0.1:${port + 1}/metrics`)).text();
      expect(squadflow).toContain('squadflow_activity_executions_total{activity="debugFailures",outcome="ok"} 1');
    } finally {
      expect(await stop(p)).toBe(0);
    }
  });
});
