/**
 * The test harness itself: the run's shared dev server, the helpers, and a worker running a bundled
 * workflow end to end (with a fixture workflow, so it does not depend on squadflow's workflows).
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleWorkflowCode, DefaultLogger } from "@temporalio/worker";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { SEARCH_ATTRIBUTES } from "../../src/temporal/search-attributes.js";
import type { echoWorkflow as EchoWorkflow } from "../fixtures/echo-workflow.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "../helpers/temporal.js";

const here = dirname(fileURLToPath(import.meta.url));

describe("test harness", () => {
  let dir: string;
  let fixtureBundle: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "squadflow-harness-"));
    const { code } = await bundleWorkflowCode({
      workflowsPath: resolve(here, "../fixtures/echo-workflow.ts"),
      logger: new DefaultLogger("WARN"),
    });
    fixtureBundle = join(dir, "echo-bundle.js");
    await writeFile(fixtureBundle, code);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("connects to a dev server on a random port, never the user-facing 7233", async () => {
    const env = await testEnv();
    expect(env.address).toBe(inject("temporalAddress"));
    expect(env.address).not.toMatch(/:7233$/);
    expect(env.namespace).toBe("default");
    expect(await testEnv()).toBe(env);
    const info = await env.client.connection.workflowService.getSystemInfo({});
    expect(info.serverVersion).toBeTruthy();
  });

  it("registers every squadflow search attribute on the shared server", async () => {
    const { client, namespace } = await testEnv();
    const { customAttributes } = await client.connection.operatorService.listSearchAttributes({ namespace });
    expect(Object.keys(customAttributes ?? {})).toEqual(
      expect.arrayContaining(SEARCH_ATTRIBUTES.map((key) => key.name)),
    );
  });

  it("gives each caller its own task queue", () => {
    const a = uniqueTaskQueue("card");
    expect(a).toMatch(/^card-[0-9a-f-]{36}$/);
    expect(uniqueTaskQueue("card")).not.toBe(a);
  });

  it("runs a bundled workflow and its activity on a test worker, visible by search attribute", async () => {
    const { client } = await testEnv();
    const taskQueue = uniqueTaskQueue("harness");
    const worker = await createTestWorker({
      taskQueue,
      activities: { shout: async (text: string) => text.toUpperCase() },
      workflowBundlePath: fixtureBundle,
    });
    const cardId = `HARNESS-${Date.now()}`;
    const result = await worker.runUntil(
      client.workflow.execute<typeof EchoWorkflow>("echoWorkflow", {
        taskQueue,
        workflowId: `harness-${cardId}`,
        args: [cardId, "hello"],
      }),
    );
    expect(result).toBe("HELLO");

    // Visibility is eventually consistent, even on the dev server.
    let count = 0;
    for (let i = 0; i < 50 && count === 0; i++) {
      count = (await client.workflow.count(`CardId = "${cardId}" AND CardStatus = "DONE"`)).count;
      if (count === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(count).toBe(1);
  });

  it("bundles squadflow's workflows once per run (or says why not)", () => {
    const path = inject("workflowBundlePath");
    const error = inject("workflowBundleError");
    if (path === "") {
      expect(error).not.toBe("");
    } else {
      expect(existsSync(path)).toBe(true);
      expect(error).toBe("");
    }
  });

  it("creates an activity-only worker without any bundle", async () => {
    const worker = await createTestWorker({
      taskQueue: uniqueTaskQueue("activities-only"),
      activities: { noop: async () => undefined },
      workflowBundlePath: false,
    });
    await worker.runUntil(Promise.resolve());
    expect(worker.getState()).toBe("STOPPED");
  });
});
