/**
 * Helpers of the portal tests: Debian's Chromium driven by playwright-core (no browser download), a
 * portal on a free loopback port against the test run's Temporal server, and small backlogs run by a
 * worker with scripted activities (test/workflows/fakes.ts).
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { chromium, type Browser } from "playwright-core";
import type { Worker } from "@temporalio/worker";
import { resolvePortalAuth, type PortalAuthConfig } from "../../src/portal/auth.js";
import { startPortal, type PortalHandle } from "../../src/portal/server.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import {
  fakeActivities,
  startBacklogWorkflow,
  testPlan,
  uniqueBacklogId,
  type CardScript,
  type TestCard,
} from "../workflows/fakes.js";

/** Where screenshots go (git-ignored; CI keeps them as artifacts). */
export const SCREENSHOTS = resolve("test-results/portal");

/** The system Chromium: SQUADFLOW_CHROMIUM, else Debian's /usr/bin/chromium (`apt-get install chromium`). */
export function chromiumPath(): string {
  const path = process.env.SQUADFLOW_CHROMIUM ?? "/usr/bin/chromium";
  if (!existsSync(path))
    throw new Error(
      `no Chromium at ${path}: apt-get install -y chromium (or set SQUADFLOW_CHROMIUM); .ci/run installs it`,
    );
  return path;
}

/** Launches the system Chromium headless (no sandbox: CI runs as root in a container). */
export async function launchBrowser(): Promise<Browser> {
  await mkdir(SCREENSHOTS, { recursive: true });
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

/** Test tokens: a reviewer and a viewer. */
export const TOKENS = { reviewer: "reviewer-token-1234", viewer: "viewer-token-5678" };

/** Auth settings with the two test tokens (as SQUADFLOW_PORTAL_TOKENS would give them). */
export function testAuth(): PortalAuthConfig {
  return resolvePortalAuth({ env: { SQUADFLOW_PORTAL_TOKENS: `tess:${TOKENS.reviewer},vic:${TOKENS.viewer}:viewer` } });
}

/** A portal on a free port of 127.0.0.1 against the run's Temporal server, polling every 200 ms. */
export async function testPortal(
  opts: {
    readOnly?: boolean;
    taskQueue?: string;
    auth?: PortalAuthConfig;
    log?: (line: string) => void;
    backlogRoot?: string;
  } = {},
): Promise<PortalHandle> {
  const { client } = await testEnv();
  const q = opts.taskQueue;
  return startPortal({
    client,
    auth: opts.auth ?? testAuth(),
    ...(opts.log ? { log: opts.log } : {}),
    ...(opts.backlogRoot ? { backlogRoot: opts.backlogRoot } : {}),
    readOnly: opts.readOnly,
    pollMs: 200,
    temporalUi: "http://127.0.0.1:8233",
    port: 0,
    host: "127.0.0.1",
    ...(q ? { queues: { orchestration: q, owners: q, validation: q, debugging: q } } : {}),
  });
}

/** A worker with scripted activities on a fresh task queue, running until `stop()`. */
export async function runningWorker(
  scripts: Record<string, CardScript>,
  override: (activities: ReturnType<typeof fakeActivities>["activities"]) => object = (a) => a,
): Promise<{ taskQueue: string; worker: Worker; stop: () => Promise<void> }> {
  const taskQueue = uniqueTaskQueue("portal");
  const fake = fakeActivities(scripts);
  const worker = await createTestWorker({ taskQueue, activities: override(fake.activities) });
  const running = worker.run();
  return {
    taskQueue,
    worker,
    stop: async () => {
      if (worker.getState() === "RUNNING") worker.shutdown();
      await running;
    },
  };
}

/** Starts a small test backlog on `taskQueue`; returns its id. */
export async function startTestBacklog(taskQueue: string, cards: TestCard[], prefix = "portal"): Promise<string> {
  const { client } = await testEnv();
  const backlogId = uniqueBacklogId(prefix);
  await startBacklogWorkflow(client, taskQueue, testPlan(backlogId, cards));
  return backlogId;
}

/** A backlog file's content (the shape `testPlan` plans), for starting a backlog from the page. */
export function testBacklogFile(backlogId: string, cards: TestCard[]): Record<string, unknown> {
  return {
    metadata: { backlog_id: backlogId },
    cards: cards.map((c) => ({ title: `Card ${c.id}`, type: "DOC", ...c })),
    squad: {
      agents: { writer: { kind: "command", command: "node", args: ["./agent.mjs"] } },
      card_types: {
        DOC: {
          owner: "writer",
          judge: { kind: "rubric", criteria: [{ name: "has intro", check: { type: "section", heading: "Intro" } }] },
        },
      },
    },
  };
}

/** A screenshot path under {@link SCREENSHOTS}. */
export function screenshot(name: string): string {
  return join(SCREENSHOTS, name);
}
