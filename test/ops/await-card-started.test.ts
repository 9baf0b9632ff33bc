/**
 * Ops commands name cards that the backlog lists at once but starts in the background (in pages for big
 * backlogs): they wait for the card's workflow instead of failing with "not found" (a CI failure seen
 * when `cancel` raced a card's start).
 */
import { describe, expect, it } from "vitest";
import { awaitCardStarted } from "../../src/cli/backlogs.js";
import { CliError, EXIT } from "../../src/cli/errors.js";
import { testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import { uniqueBacklogId } from "../workflows/fakes.js";

describe("awaitCardStarted", () => {
  it("waits for a card workflow that starts later", async () => {
    const { client } = await testEnv();
    const workflowId = `${uniqueBacklogId("late")}/A`;
    const startedAt = Date.now();
    const starting = new Promise((r) => setTimeout(r, 600)).then(() =>
      client.workflow.start("cardWorkflow", { workflowId, taskQueue: uniqueTaskQueue("no-worker"), args: [] }),
    );
    await awaitCardStarted(client, workflowId, 10_000);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(500);
    await (await starting).terminate("test done");
  });

  it("gives up with exit 3 (no worker answering) when the card never starts", async () => {
    const { client } = await testEnv();
    const err = await awaitCardStarted(client, `${uniqueBacklogId("never")}/A`, 500).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(EXIT.unavailable);
    expect((err as CliError).message).toMatch(/has not started after 0.5 s; is a squadflow worker running\?/);
  });
});
