/**
 * A card whose workflow run FAILED (here: terminated by an operator) blocks its dependents and rests in
 * its backlog until `retry` (a new run takes over its state and makes a fresh attempt; dependents wait
 * again) or `skip` (the new run ends DONE by decision; dependents proceed) — the operations issue.
 */
import { WorkflowUpdateFailedError, type Client } from "@temporalio/client";
import { describe, expect, it } from "vitest";
import { createReadCardState } from "../../src/activities/workflow-queries.js";
import type { CardState } from "../../src/domain/index.js";
import { backlogStateQuery, retryFailedCardUpdate, skipFailedCardUpdate } from "../../src/workflows/backlog.js";
import { cardStateQuery } from "../../src/workflows/card.js";
import { cli } from "../helpers/cli.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import { until } from "../helpers/until.js";
import { cardStates, fakeActivities, gate, startBacklogWorkflow, testPlan, uniqueBacklogId } from "./fakes.js";

/** A → B; A's first owner run lasts until A's workflow was terminated (the test holds it), then ends. */
async function startAndFailA() {
  const { client } = await testEnv();
  const taskQueue = uniqueTaskQueue("failed");
  const a = gate();
  const fake = fakeActivities({ A: { hold: a.hold } });
  const worker = await createTestWorker({
    taskQueue,
    activities: { ...fake.activities, readCardState: createReadCardState() },
  });
  const backlogId = uniqueBacklogId("failed");
  const plan = testPlan(backlogId, [{ id: "A" }, { id: "B", dependencies: ["A"] }]);
  const handle = await startBacklogWorkflow(client, taskQueue, plan);
  /** Terminates A during its first owner run; resolves once B is BLOCKED by it. */
  const failA = async (): Promise<CardState> => {
    await until("A to start its owner", async () =>
      fake.calls.find((c) => c.cardId === "A" && c.activity === "runOwner"),
    );
    await client.workflow.getHandle(`${backlogId}/A`).terminate("operator stopped it");
    const blocked = await until("B to be BLOCKED", async () => {
      const b: CardState = await client.workflow.getHandle(`${backlogId}/B`).query(cardStateQuery);
      return b.status === "BLOCKED" ? b : undefined;
    });
    a.release(); // the terminated run's owner activity ends (its result goes nowhere)
    return blocked;
  };
  return { client, worker, handle, backlogId, calls: fake.calls, failA };
}

async function refusal(client: Client, backlogId: string, payload: unknown): Promise<string> {
  const err = await client.workflow
    .getHandle(backlogId)
    .executeUpdate(retryFailedCardUpdate, { args: [payload as never] })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  return ((err as WorkflowUpdateFailedError).cause as Error).message;
}

describe("a card whose workflow failed", () => {
  it("blocks its dependents, and a retry runs it again from its state with a fresh attempt; the dependents wait again and run", async () => {
    const { client, worker, handle, backlogId, calls, failA } = await startAndFailA();
    const result = await worker.runUntil(async () => {
      const b = await failA();
      expect(b.blockedBy).toEqual({ cardId: "A", status: "FAILED" });
      const failed = (await handle.query(backlogStateQuery)).cards.find((c) => c.cardId === "A")!.outcome!;
      expect(failed.status).toBe("FAILED");
      expect(failed.message).toMatch(/terminated/i);

      // The validator refuses what cannot be restarted, without touching history.
      expect(await refusal(client, backlogId, { cardId: "B", reviewer: "ana", reason: "x" })).toMatch(
        /card B has not failed \(its workflow is running\)/,
      );
      expect(await refusal(client, backlogId, { cardId: "Z", reviewer: "ana", reason: "x" })).toMatch(
        /card "Z" is not in backlog/,
      );
      expect(await refusal(client, backlogId, { cardId: "A", reason: "x" })).toMatch(/reviewer/);

      const entry = await handle.executeUpdate(retryFailedCardUpdate, {
        args: [{ cardId: "A", reviewer: "ana", reason: "worker was replaced" }],
      });
      expect(entry).toMatchObject({ actor: "ana", action: "retry A", reason: "worker was replaced" });
      return handle.result();
    });
    expect(result.cards.map((c) => [c.cardId, c.outcome?.status])).toEqual([
      ["A", "DONE"],
      ["B", "DONE"],
    ]);
    const a = (await cardStates(client, result))[0]!;
    // The new run took over the failed run's history: FAILED, then a fresh attempt numbered after the interrupted one.
    expect(a.statusHistory.map((s) => s.status)).toEqual([
      "TODO",
      "IN_PROGRESS",
      "FAILED",
      "TODO",
      "IN_PROGRESS",
      "VALIDATING",
      "APPROVED",
      "DONE",
    ]);
    expect(a.auditLog.map((e) => [e.actor, e.action])).toEqual([
      ["squadflow", "failed"],
      ["ana", "retry"],
    ]);
    expect(a.attempts.map((x) => x.attempt)).toEqual([2]);
    expect(calls.filter((c) => c.cardId === "A" && c.activity === "runOwner").map((c) => c.attempt)).toEqual([1, 2]);
    const bState = (await cardStates(client, result))[1]!;
    expect(bState.statusHistory.map((s) => s.status)).toEqual([
      "TODO",
      "BLOCKED",
      "TODO",
      "IN_PROGRESS",
      "VALIDATING",
      "APPROVED",
      "DONE",
    ]);
    expect(result.auditLog.map((e) => e.action)).toEqual(["retry A"]);
  });

  it("skipped, ends DONE by decision in a new run, and its dependents proceed", async () => {
    const { client, worker, handle, backlogId, calls, failA } = await startAndFailA();
    const result = await worker.runUntil(async () => {
      await failA();
      await handle.executeUpdate(skipFailedCardUpdate, {
        args: [{ cardId: "A", reviewer: "ana", reason: "done by hand" }],
      });
      // A second decision on the same card is refused (it is no longer FAILED).
      expect(await refusal(client, backlogId, { cardId: "A", reviewer: "ana", reason: "again" })).toMatch(
        /card A (has not failed|is already being started again)/,
      );
      return handle.result();
    });
    expect(result.cards.map((c) => [c.cardId, c.outcome?.status])).toEqual([
      ["A", "DONE"],
      ["B", "DONE"],
    ]);
    const a = (await cardStates(client, result))[0]!;
    expect(a.statusHistory.map((s) => s.status)).toEqual(["TODO", "IN_PROGRESS", "FAILED", "DONE"]);
    expect(a.auditLog.map((e) => [e.actor, e.action, e.reason])).toEqual([
      ["squadflow", "failed", expect.stringMatching(/terminated/i)],
      ["ana", "skip", "done by hand"],
    ]);
    expect(calls.filter((c) => c.cardId === "A" && c.activity === "runOwner")).toHaveLength(1);
    expect(calls.filter((c) => c.cardId === "B" && c.activity === "runOwner")).toHaveLength(1);
  });

  it("is retried by `squadflow retry`, which sends the decision to the backlog that runs it", async () => {
    const { address, namespace } = await testEnv();
    const { worker, handle, backlogId, failA } = await startAndFailA();
    const saved = { address: process.env.TEMPORAL_ADDRESS, namespace: process.env.TEMPORAL_NAMESPACE };
    process.env.TEMPORAL_ADDRESS = address;
    process.env.TEMPORAL_NAMESPACE = namespace;
    try {
      const result = await worker.runUntil(async () => {
        await failA();
        const r = await cli("retry", backlogId, "A", "--reviewer", "ana", "--reason", "worker was replaced", "--json");
        expect(r.code).toBe(0);
        expect(JSON.parse(r.out)).toMatchObject({ actor: "ana", action: "retry A", reason: "worker was replaced" });
        return handle.result();
      });
      expect(result.cards.map((c) => c.outcome?.status)).toEqual(["DONE", "DONE"]);
    } finally {
      for (const [k, v] of [
        ["TEMPORAL_ADDRESS", saved.address],
        ["TEMPORAL_NAMESPACE", saved.namespace],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
