/**
 * Helpers of the ops tests: the CLI run in-process (`main()` with TEMPORAL_ADDRESS pointing at the run's
 * dev server), polling, and a small backlog of two card types run by scripted activities on a task queue
 * of its own.
 */
import type { Worker } from "@temporalio/worker";
import { startBacklog } from "../../src/cli/backlogs.js";
import { planBacklog, type BacklogPlan } from "../../src/domain/index.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import { fakeActivities, uniqueBacklogId, type CardScript } from "../workflows/fakes.js";

export { cli, type CliRun } from "../helpers/cli.js";
export { until } from "../helpers/until.js";

/** A card of an ops test backlog. */
export interface OpsCard {
  id: string;
  type: "DOC" | "BACKEND";
  priority?: string;
  dependencies?: string[];
}

/** Plans a backlog with card types DOC and BACKEND through the real `planBacklog`. */
export function opsPlan(backlogId: string, cards: OpsCard[], costAlertUsd: number): BacklogPlan {
  const judge = { kind: "rubric", criteria: [{ name: "has intro", check: { type: "section", heading: "Intro" } }] };
  return planBacklog(
    JSON.stringify({
      metadata: { backlog_id: backlogId },
      cards: cards.map((c) => ({ title: `Card ${c.id}`, priority: "MEDIUM", ...c })),
      squad: {
        agents: { writer: { kind: "command", command: "node", args: ["./agent.mjs"] } },
        card_types: { DOC: { owner: "writer", judge }, BACKEND: { owner: "writer", judge } },
        cost_alert_usd: costAlertUsd,
      },
    }),
    { file: `${backlogId}.json` },
  );
}

/** A running backlog and the worker that runs it. */
export interface Scenario {
  backlogId: string;
  taskQueue: string;
  worker: Worker;
  /** Stops the worker and waits for it. */
  stop(): Promise<void>;
}

/**
 * Points the CLI at the run's server, starts a worker (workflows + scripted activities) on a new task queue
 * and starts the backlog on it.
 */
export async function startScenario(
  prefix: string,
  cards: OpsCard[],
  scripts: Record<string, CardScript>,
  costAlertUsd = 1,
): Promise<Scenario> {
  const env = await testEnv();
  process.env.TEMPORAL_ADDRESS = env.address;
  process.env.TEMPORAL_NAMESPACE = env.namespace;
  const taskQueue = uniqueTaskQueue(prefix);
  const worker = await createTestWorker({ taskQueue, activities: fakeActivities(scripts).activities });
  const running = worker.run();
  const backlogId = uniqueBacklogId(prefix);
  const plan = opsPlan(backlogId, cards, costAlertUsd);
  await startBacklog(env.client, plan, `${backlogId}.json`, {
    orchestration: taskQueue,
    owners: taskQueue,
    validation: taskQueue,
    debugging: taskQueue,
  });
  return {
    backlogId,
    taskQueue,
    worker,
    async stop() {
      if (worker.getState() === "RUNNING") worker.shutdown();
      await running;
    },
  };
}
