import { describe, expect, it } from "vitest";
import type { Client, WorkflowHandle } from "@temporalio/client";
import type { CardState, OwnerInput } from "../../src/domain/index.js";
import { backlogStateQuery, pauseBacklogUpdate, resumeBacklogUpdate } from "../../src/workflows/backlog.js";
import { cardSettledSignal } from "../../src/contract.js";
import { cardStateQuery, humanReviewUpdate, retryCardUpdate, skipCardUpdate } from "../../src/workflows/card.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import {
  cardStates,
  fakeActivities,
  gate,
  startBacklogWorkflow,
  testPlan,
  uniqueBacklogId,
  type CardScript,
  type TestCard,
} from "./fakes.js";
import { until } from "../helpers/until.js";
import { CardAttemptKey, CardIdKey, CardStatusKey } from "../../src/temporal/search-attributes.js";

/** The card's state, once its workflow has been started by the backlog (retries "not found" for 10 s). */
async function queryWhenStarted(handle: WorkflowHandle): Promise<CardState> {
  for (let i = 0; ; i++) {
    try {
      return await handle.query(cardStateQuery);
    } catch (err) {
      if (i >= 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function startBacklog(cards: TestCard[], scripts: Record<string, CardScript>) {
  const { client } = await testEnv();
  const taskQueue = uniqueTaskQueue("backlog");
  const fake = fakeActivities(scripts);
  const worker = await createTestWorker({ taskQueue, activities: fake.activities });
  const backlogId = uniqueBacklogId("bl");
  const plan = testPlan(backlogId, cards);
  const handle = await startBacklogWorkflow(client, taskQueue, plan);
  return { client, worker, handle, backlogId, calls: fake.calls };
}

describe("backlog workflow", () => {
  it("starts every card at once and runs each owner only after its dependencies are DONE", async () => {
    const spec = gate();
    const { worker, handle, client, backlogId, calls } = await startBacklog(
      [
        { id: "SPEC" },
        { id: "ARCH", dependencies: ["SPEC"] },
        { id: "BE", dependencies: ["ARCH"] },
        { id: "FE", dependencies: ["ARCH"] },
        { id: "QA", dependencies: ["BE", "FE"], priority: "HIGH" },
      ],
      { SPEC: { hold: spec.hold } },
    );
    const result = await worker.runUntil(async () => {
      // Every card is a running workflow, visible as TODO, while SPEC's owner still works.
      const qa = await queryWhenStarted(client.workflow.getHandle(`${backlogId}/QA`));
      expect(calls.some((c) => c.cardId === "SPEC" && c.activity === "verifyArtifacts")).toBe(false);
      expect(qa.status).toBe("TODO");
      expect(qa.waitingFor).toEqual(["BE", "FE"]);
      spec.release();
      return handle.result();
    });
    expect(result.cards.map((c) => c.outcome?.status)).toEqual(["DONE", "DONE", "DONE", "DONE", "DONE"]);
    const ownerStart = (id: string) => calls.find((c) => c.activity === "runOwner" && c.cardId === id)!.at;
    const done = (id: string) => Math.max(...calls.filter((c) => c.cardId === id).map((c) => c.at));
    expect(ownerStart("ARCH")).toBeGreaterThanOrEqual(done("SPEC"));
    expect(ownerStart("BE")).toBeGreaterThanOrEqual(done("ARCH"));
    expect(ownerStart("QA")).toBeGreaterThanOrEqual(Math.max(done("BE"), done("FE")));
    // Card priorities become Temporal priority keys below the backlog's 1 (HIGH → 3).
    const desc = await client.workflow.getHandle(`${backlogId}/QA`).describe();
    expect(desc.raw.workflowExecutionInfo?.priority?.priorityKey).toBe(3);
    expect((await handle.describe()).raw.workflowExecutionInfo?.priority?.priorityKey).toBe(1);
    const qaOwner = calls.find((c) => c.activity === "runOwner" && c.cardId === "QA")!.input as OwnerInput;
    expect(qaOwner.dependencies.map((d) => d.cardId)).toEqual(["BE", "FE"]);
    expect(qaOwner.dependencies[0]!.artifacts).toEqual([`${backlogId}/BE/attempt-1/out-1.md`]);
  });

  it("lets each card tell its dependents itself: once they have all started, the backlog relays nothing", async () => {
    const a = gate();
    const { worker, handle, backlogId, client } = await startBacklog(
      [
        { id: "A" },
        { id: "B", dependencies: ["A"] },
        { id: "C", dependencies: ["A"] },
        { id: "D", dependencies: ["B", "C"] },
      ],
      { A: { hold: a.hold } },
    );
    const result = await worker.runUntil(async () => {
      for (const id of ["B", "C", "D"]) await queryWhenStarted(client.workflow.getHandle(`${backlogId}/${id}`));
      a.release();
      return handle.result();
    });
    expect(result.cards.map((c) => c.outcome?.status)).toEqual(["DONE", "DONE", "DONE", "DONE"]);
    const events = (await handle.fetchHistory()).events ?? [];
    expect(events.filter((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes)).toHaveLength(0);
    expect(events.filter((e) => e.workflowExecutionSignaledEventAttributes)).toHaveLength(0);
    const d = (await cardStates(client, result))[3]!;
    expect(d.resolvedDependencies?.map((r) => [r.cardId, r.status]).sort()).toEqual([
      ["B", "DONE"],
      ["C", "DONE"],
    ]);
  });

  it("starts the cards that can run at once only after every card that waits has started, so there is nothing to pass on", async () => {
    // No gate: A (no dependency) and L (only a legacy DONE dependency) may finish as fast as they like.
    const { worker, handle, client } = await startBacklog(
      [
        { id: "OLD", status: "DONE" },
        { id: "A" },
        { id: "L", dependencies: ["OLD"] },
        { id: "B", dependencies: ["A"] },
        { id: "C", dependencies: ["A", "L"] },
        { id: "D", dependencies: ["B", "C"] },
      ],
      {},
    );
    const result = await worker.runUntil(() => handle.result());
    expect(result.cards.map((c) => [c.cardId, c.outcome?.status])).toEqual(
      ["A", "L", "B", "C", "D"].map((id) => [id, "DONE"]),
    );
    const events = (await handle.fetchHistory()).events ?? [];
    const cardOf = (workflowId: string | null | undefined) => workflowId!.split("/").at(-1)!;
    const initiated = events.flatMap((e, i) => {
      const a = e.startChildWorkflowExecutionInitiatedEventAttributes;
      return a ? [{ card: cardOf(a.workflowId), at: i }] : [];
    });
    const started = events.flatMap((e, i) => {
      const a = e.childWorkflowExecutionStartedEventAttributes;
      return a ? [{ card: cardOf(a.workflowExecution?.workflowId), at: i }] : [];
    });
    // Dependents first (D, then B and C), then A and L, each of which only once B, C and D had started.
    expect(initiated.map((s) => s.card)).toEqual(["D", "B", "C", "A", "L"]);
    const lastWaitingStarted = Math.max(...started.filter((s) => ["B", "C", "D"].includes(s.card)).map((s) => s.at));
    for (const ready of initiated.filter((s) => ["A", "L"].includes(s.card)))
      expect(ready.at).toBeGreaterThan(lastWaitingStarted);
    // Every card could tell its dependents itself: the backlog received and passed on nothing.
    expect(events.filter((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes)).toHaveLength(0);
    expect(events.filter((e) => e.workflowExecutionSignaledEventAttributes)).toHaveLength(0);
    const c = (await cardStates(client, result))[3]!;
    expect(c.resolvedDependencies?.map((r) => [r.cardId, r.status]).sort()).toEqual([
      ["A", "DONE"],
      ["L", "DONE"],
    ]);
  });

  it("passes on what a card could not tell a dependent that had not started yet, so no dependency signal is lost", async () => {
    const a = gate();
    const { worker, handle, backlogId, client, calls } = await startBacklog(
      [{ id: "A" }, { id: "B", dependencies: ["A"] }],
      { A: { hold: a.hold } },
    );
    const result = await worker.runUntil(async () => {
      await queryWhenStarted(client.workflow.getHandle(`${backlogId}/B`));
      // What A says when B's workflow was not there yet: the backlog delivers it, and B runs.
      await handle.signal(cardSettledSignal, {
        cardId: "A",
        status: "DONE",
        artifacts: [`${backlogId}/A/attempt-1/out-1.md`],
        epoch: 0,
        seq: 1,
        undelivered: ["B"],
      });
      await until("B to be DONE", async () =>
        (await client.workflow.getHandle(`${backlogId}/B`).query(cardStateQuery)).status === "DONE" ? true : undefined,
      );
      expect(calls.some((c) => c.cardId === "A" && c.activity === "verifyArtifacts")).toBe(false);
      a.release();
      return handle.result();
    });
    expect(result.cards.map((c) => c.outcome?.status)).toEqual(["DONE", "DONE"]);
    const bOwner = calls.find((c) => c.activity === "runOwner" && c.cardId === "B")!.input as OwnerInput;
    expect(bOwner.dependencies).toEqual([{ cardId: "A", artifacts: [`${backlogId}/A/attempt-1/out-1.md`] }]);
  });

  it("shows each card's progress in its search attributes by upserting only changed values, never the identity its start set", async () => {
    const { worker, handle, client, backlogId } = await startBacklog(
      [{ id: "A" }, { id: "B", dependencies: ["A"] }],
      {},
    );
    await worker.runUntil(handle.result());
    const b = client.workflow.getHandle(`${backlogId}/B`);
    const shown = new Map<string, string>([
      ["CardStatus", '"TODO"'],
      ["CardAttempt", "0"],
      ["CardCostUsd", "0"],
    ]);
    let upserts = 0;
    for (const e of (await b.fetchHistory()).events ?? []) {
      const fields = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields;
      if (!fields) continue;
      upserts++;
      expect(Object.keys(fields)).not.toContain("CardId");
      for (const [key, payload] of Object.entries(fields)) {
        const value = new TextDecoder().decode(payload.data ?? new Uint8Array());
        expect(shown.get(key), `${key} upserted again unchanged`).not.toBe(value);
        shown.set(key, value);
      }
    }
    // One per workflow task: IN_PROGRESS with attempt 1; VALIDATING; the cost with APPROVED → DONE.
    expect(upserts).toBe(3);
    const attributes = (await b.describe()).typedSearchAttributes;
    expect(attributes.get(CardStatusKey)).toBe("DONE");
    expect(attributes.get(CardAttemptKey)).toBe(1);
    expect(attributes.get(CardIdKey)).toBe("B");
  });

  async function rejectA(client: Client, backlogId: string): Promise<void> {
    const a = client.workflow.getHandle(`${backlogId}/A`);
    while ((await queryWhenStarted(a)).status !== "AWAITING_HUMAN") await new Promise((r) => setTimeout(r, 100));
    await a.executeUpdate(humanReviewUpdate, {
      args: [{ decision: "reject", reviewer: "ana", reason: "out of scope" }],
    });
  }

  async function untilStatus(client: Client, backlogId: string, cardId: string, status: string): Promise<CardState> {
    const h = client.workflow.getHandle(`${backlogId}/${cardId}`);
    let last: CardState | undefined;
    return until(`card ${cardId} to be ${status}`, async () => {
      last = await queryWhenStarted(h);
      return last.status === status ? last : undefined;
    }).catch((err: Error) => {
      throw new Error(
        `${err.message}; last state: ${JSON.stringify({ status: last?.status, blockedBy: last?.blockedBy, waitingFor: last?.waitingFor })}`,
      );
    });
  }

  it("leaves the dependents of a rejected card BLOCKED, transitively, until it is skipped; then they run", async () => {
    const { worker, handle, client, backlogId, calls } = await startBacklog(
      [{ id: "A" }, { id: "B", dependencies: ["A"] }, { id: "C", dependencies: ["B"] }, { id: "D" }],
      { A: { qa: [['check "t" failed: exit 1']] } },
    );
    const result = await worker.runUntil(async () => {
      await rejectA(client, backlogId);
      expect(await untilStatus(client, backlogId, "B", "BLOCKED")).toMatchObject({
        blockedBy: { cardId: "A", status: "REJECTED" },
        settled: true,
      });
      expect(await untilStatus(client, backlogId, "C", "BLOCKED")).toMatchObject({
        blockedBy: { cardId: "B", status: "BLOCKED" },
      });
      await untilStatus(client, backlogId, "D", "DONE");
      expect(calls.some((c) => c.cardId === "B" || c.cardId === "C")).toBe(false);
      // The backlog stays open while cards rest; skipping A lets B and C run.
      expect((await handle.query(backlogStateQuery)).finished).toBe(false);
      await client.workflow
        .getHandle(`${backlogId}/A`)
        .executeUpdate(skipCardUpdate, { args: [{ reviewer: "ops", reason: "shipped by hand" }] });
      return handle.result();
    });
    expect(result.cards.map((c) => [c.cardId, c.outcome!.status])).toEqual([
      ["A", "DONE"],
      ["B", "DONE"],
      ["C", "DONE"],
      ["D", "DONE"],
    ]);
    expect((await cardStates(client, result))[2]!.statusHistory.map((s) => s.status)).toEqual([
      "TODO",
      "BLOCKED",
      "TODO",
      "IN_PROGRESS",
      "VALIDATING",
      "APPROVED",
      "DONE",
    ]);
  });

  it("makes the blocked dependents wait again when the rejected card is retried", async () => {
    const { worker, handle, client, backlogId } = await startBacklog(
      [{ id: "A" }, { id: "B", dependencies: ["A"] }, { id: "C", dependencies: ["B"] }],
      { A: { qa: [["x"], ["x"], ["x"], ["x"], "pass"] } },
    );
    const result = await worker.runUntil(async () => {
      await rejectA(client, backlogId);
      await untilStatus(client, backlogId, "C", "BLOCKED");
      await client.workflow
        .getHandle(`${backlogId}/A`)
        .executeUpdate(retryCardUpdate, { args: [{ reviewer: "ana", reason: "spec fixed" }] });
      return handle.result();
    });
    expect(result.cards.map((c) => c.outcome!.status)).toEqual(["DONE", "DONE", "DONE"]);
    expect(result.cards[0]!.outcome!.attempt).toBe(5);
  });

  it("starts no owner or validator run while paused, and resumes", async () => {
    const a = gate();
    const { worker, handle, client, backlogId, calls } = await startBacklog(
      [{ id: "A" }, { id: "B", dependencies: ["A"] }],
      { A: { hold: a.hold } },
    );
    const result = await worker.runUntil(async () => {
      await untilStatus(client, backlogId, "A", "IN_PROGRESS");
      const entry = await handle.executeUpdate(pauseBacklogUpdate, {
        args: [{ reviewer: "ops", reason: "deploy freeze" }],
      });
      expect(entry).toMatchObject({ action: "pause", actor: "ops" });
      const again = await handle
        .executeUpdate(pauseBacklogUpdate, { args: [{ reviewer: "ops", reason: "x" }] })
        .catch((e) => e);
      expect(String((again as Error).cause ?? again)).toMatch(/already paused/);
      const cardA = client.workflow.getHandle(`${backlogId}/A`);
      await until("A to hear of the pause", async () =>
        (await cardA.query(cardStateQuery)).paused ? true : undefined,
      );
      // A's running owner may finish; then A waits, VALIDATING, with no validator started, and B does not start.
      a.release();
      await untilStatus(client, backlogId, "A", "VALIDATING");
      expect(calls.filter((c) => c.cardId === "A").map((c) => c.activity)).toEqual(["runOwner"]);
      expect(calls.filter((c) => c.cardId === "B")).toEqual([]);
      expect((await cardA.query(cardStateQuery)).paused).toBe(true);
      await handle.executeUpdate(resumeBacklogUpdate, { args: [{ reviewer: "ops", reason: "freeze over" }] });
      return handle.result();
    });
    expect(result.cards.map((c) => c.outcome!.status)).toEqual(["DONE", "DONE"]);
    expect(result.auditLog.map((e) => e.action)).toEqual(["pause", "resume"]);
  });

  it("ends a cancelled card CANCELLED and blocks its dependents", async () => {
    // X's owner runs until released, so A is still waiting for it (TODO) when the test cancels A.
    const x = gate();
    const { worker, handle, client, backlogId } = await startBacklog(
      [{ id: "A", dependencies: ["X"] }, { id: "X" }, { id: "B", dependencies: ["A"] }],
      { X: { hold: x.hold } },
    );
    await worker.runUntil(async () => {
      try {
        await untilStatus(client, backlogId, "A", "TODO");
        await client.workflow.getHandle(`${backlogId}/A`).cancel();
        expect(await untilStatus(client, backlogId, "B", "BLOCKED")).toMatchObject({
          blockedBy: { cardId: "A", status: "CANCELLED" },
        });
        // A tells B itself; the backlog records A's end when it hears of the child's completion, maybe later.
        const outcome = await until(
          "the backlog to record A",
          async () => (await handle.query(backlogStateQuery)).cards.find((c) => c.cardId === "A")!.outcome,
        );
        expect(outcome.status).toBe("CANCELLED");
      } finally {
        // Released whatever happened: a held owner would keep the worker from shutting down.
        x.release();
      }
      await handle.cancel();
      await expect(handle.result()).rejects.toThrow();
    });
  });

  it("answers the backlogState query while cards run", async () => {
    const a = gate();
    const { worker, handle, backlogId } = await startBacklog([{ id: "A" }, { id: "B", dependencies: ["A"] }], {
      A: { hold: a.hold },
    });
    await worker.runUntil(async () => {
      const state = await handle.query(backlogStateQuery);
      expect(state.backlogId).toBe(backlogId);
      expect(state.finished).toBe(false);
      expect(state.cards.map((c) => [c.cardId, c.workflowId])).toEqual([
        ["A", `${backlogId}/A`],
        ["B", `${backlogId}/B`],
      ]);
      a.release();
      await handle.result();
      expect((await handle.query(backlogStateQuery)).finished).toBe(true);
    });
  });
});
