import { WorkflowUpdateFailedError, type Client } from "@temporalio/client";
import { describe, expect, it } from "vitest";
import type { CardOutcome, OwnerInput } from "../../src/domain/index.js";
import {
  cardStateQuery,
  cardWorkflow,
  dependencyReopenedSignal,
  dependencyResolvedSignal,
  humanReviewSignal,
  humanReviewUpdate,
  retryCardUpdate,
  skipCardUpdate,
} from "../../src/workflows/card.js";
import { CardStatusKey } from "../../src/temporal/search-attributes.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import { until } from "../helpers/until.js";
import { fakeActivities, waitForStatus, testPlan, uniqueBacklogId, type CardScript, type TestCard } from "./fakes.js";

/** Starts one card workflow (the first card of a one-card backlog unless `cards` says otherwise). */
async function startCard(
  client: Client,
  taskQueue: string,
  cards: TestCard[],
  cardId = cards[0]!.id,
  costAlertUsd = 1,
) {
  const backlogId = uniqueBacklogId();
  const plan = testPlan(backlogId, cards, costAlertUsd);
  const cardPlan = plan.cards.find((c) => c.card.id === cardId)!;
  const queues = { owners: taskQueue, validation: taskQueue, debugging: taskQueue };
  const handle = await client.workflow.start(cardWorkflow, {
    taskQueue,
    workflowId: `${backlogId}/${cardId}`,
    args: [{ plan: cardPlan, queues }],
  });
  return { handle, backlogId };
}

/** Runs a single-card scenario to its end. */
async function runCard(script: CardScript, cards: TestCard[] = [{ id: "C1" }]) {
  const { client } = await testEnv();
  const taskQueue = uniqueTaskQueue("card");
  const fake = fakeActivities({ [cards[0]!.id]: script });
  const worker = await createTestWorker({ taskQueue, activities: fake.activities });
  const { handle, backlogId } = await startCard(client, taskQueue, cards);
  const outcome = await worker.runUntil(handle.result());
  return { outcome, calls: fake.calls, handle, backlogId, client };
}

function statuses(outcome: CardOutcome): string[] {
  return outcome.state!.statusHistory.map((s) => s.status);
}

describe("card workflow", () => {
  it("goes TODO → IN_PROGRESS → VALIDATING → APPROVED → DONE when every validator passes first time", async () => {
    const { outcome, calls, handle } = await runCard({});
    expect(outcome.status).toBe("DONE");
    expect(outcome.attempt).toBe(1);
    expect(statuses(outcome)).toEqual(["TODO", "IN_PROGRESS", "VALIDATING", "APPROVED", "DONE"]);
    expect(calls.map((c) => c.activity).sort()).toEqual(["judgeArtifacts", "runOwner", "runQa", "verifyArtifacts"]);
    expect(outcome.cost).toEqual({ inputTokens: 100, outputTokens: 50, usd: 0.01 });
    expect(outcome.artifacts[0]).toMatch(/\/C1\/attempt-1\/out-1\.md$/);
    const desc = await handle.describe();
    expect(desc.typedSearchAttributes.get(CardStatusKey)).toBe("DONE");
  });

  it("continues the owner's session in a correction, and records which agent ran and what it was granted", async () => {
    const session = { id: "sess-1", turns: 3 };
    const { outcome, calls } = await runCard({
      session,
      ownerReports: { agentName: "writer", permissionRecovery: { granted: ["Write"] } },
      judge: [['criterion "Rollback plan" not met'], "pass"],
    });
    expect(outcome.status).toBe("DONE");
    const owners = calls.filter((c) => c.activity === "runOwner").map((c) => c.input as OwnerInput);
    expect(owners.map((o) => o.previousSession)).toEqual([undefined, session]);
    expect(outcome.state!.attempts[0]).toMatchObject({
      agentName: "writer",
      permissionRecovery: { granted: ["Write"] },
      session,
    });
  });

  it("starts a fresh session in a correction when another agent than the planned one ran the attempt before", async () => {
    const { outcome, calls } = await runCard({
      session: { id: "sess-1" },
      ownerReports: { agentName: "fallback-agent" },
      judge: [['criterion "Rollback plan" not met'], "pass"],
    });
    expect(outcome.status).toBe("DONE");
    const owner2 = calls.find((c) => c.activity === "runOwner" && c.attempt === 2)!.input as OwnerInput;
    expect(owner2.previousSession).toBeUndefined();
  });

  it("runs the LLM-judge and QA only after verification passes", async () => {
    const { outcome, calls } = await runCard({ verification: [['artifact "x.md" is empty'], "pass"] });
    expect(outcome.status).toBe("DONE");
    const first = calls.filter((c) => c.attempt === 1).map((c) => c.activity);
    expect(first).toEqual(["runOwner", "verifyArtifacts"]);
    expect(outcome.state!.attempts[0]!.verdicts.map((v) => v.validator)).toEqual(["verification"]);
  });

  it("fixes a judge rejection with one correction child workflow that gets the feedback", async () => {
    const { outcome, calls, client, backlogId } = await runCard({
      judge: [['criterion "Rollback plan" not met'], "pass"],
    });
    expect(outcome.status).toBe("DONE");
    expect(outcome.attempt).toBe(2);
    expect(statuses(outcome)).toEqual([
      "TODO",
      "IN_PROGRESS",
      "VALIDATING",
      "REJECTED",
      "CORRECTING",
      "APPROVED",
      "DONE",
    ]);
    const owner2 = calls.find((c) => c.activity === "runOwner" && c.attempt === 2)!.input as OwnerInput;
    expect(owner2.feedback).toMatchObject({ round: 1, reasons: ['llm_judge: criterion "Rollback plan" not met'] });
    expect(owner2.previousWorkspace).toBe(`${backlogId}/C1/attempt-1`);
    expect(owner2.workspace).toBe(`${backlogId}/C1/attempt-2`);
    expect(calls.some((c) => c.activity === "debugFailures")).toBe(false);
    const child = await client.workflow.getHandle(`${backlogId}/C1-CORR-1`).describe();
    expect(child.status.name).toBe("COMPLETED");
    expect(outcome.cost.usd).toBeCloseTo(0.02, 6);
  });

  it("runs the debugging agent before the second correction when the same reasons repeat, and passes on attempt 3", async () => {
    const { outcome, calls } = await runCard({
      qa: [['check "unit tests" failed: exit 1'], ['check "unit tests" failed: exit 1'], "pass"],
    });
    expect(outcome.status).toBe("DONE");
    expect(outcome.attempt).toBe(3);
    const debug = calls.filter((c) => c.activity === "debugFailures");
    expect(debug).toHaveLength(1);
    const owner3 = calls.find((c) => c.activity === "runOwner" && c.attempt === 3)!.input as OwnerInput;
    expect(owner3.feedback).toMatchObject({ round: 2, rootCause: "root cause for C1", suggestions: ["fix it"] });
    expect(debug[0]!.at).toBeLessThan(calls.find((c) => c.activity === "runOwner" && c.attempt === 3)!.at);
    expect(outcome.state!.debugReports).toHaveLength(1);
  });

  it("does not run the debugging agent when the reasons change between attempts", async () => {
    const { outcome, calls } = await runCard({
      qa: [['check "a" failed: exit 1'], ['check "b" failed: exit 1'], "pass"],
    });
    expect(outcome.status).toBe("DONE");
    expect(calls.some((c) => c.activity === "debugFailures")).toBe(false);
  });

  it('counts an owner that fails after its retries as a rejection "Owner execution failed: …"', async () => {
    const { outcome, calls } = await runCard({ owner: ["fail", "ok"] });
    expect(outcome.status).toBe("DONE");
    expect(calls.filter((c) => c.activity === "runOwner" && c.attempt === 1)).toHaveLength(3);
    const verdict = outcome.state!.attempts[0]!.verdicts[0]!;
    expect(verdict.validator).toBe("owner");
    expect(verdict.reasons[0]).toMatch(/^Owner execution failed: agent "node" exited 3: boom/);
    expect(statuses(outcome).slice(0, 4)).toEqual(["TODO", "IN_PROGRESS", "REJECTED", "CORRECTING"]);
  }, 30_000);

  it("raises a cost alert once the card costs more than its threshold", async () => {
    const { client } = await testEnv();
    const taskQueue = uniqueTaskQueue("card");
    const fake = fakeActivities({ C1: { judge: [["x"], "pass"] } });
    const worker = await createTestWorker({ taskQueue, activities: fake.activities });
    const { handle } = await startCard(client, taskQueue, [{ id: "C1" }], "C1", 0.015);
    const outcome = await worker.runUntil(handle.result());
    expect(outcome.state!.costAlert).toBe(true);
    expect(outcome.state!.auditLog.filter((e) => e.action === "cost_alert")).toHaveLength(1);
  });

  it("waits as TODO for its dependencies and receives their artifacts, even when the signal came with the start", async () => {
    const { client } = await testEnv();
    const taskQueue = uniqueTaskQueue("card");
    const fake = fakeActivities({});
    const worker = await createTestWorker({ taskQueue, activities: fake.activities });
    const backlogId = uniqueBacklogId();
    const plan = testPlan(backlogId, [{ id: "A" }, { id: "B" }, { id: "C", dependencies: ["A", "B"] }]);
    const cardPlan = plan.cards.find((c) => c.card.id === "C")!;
    const queues = { owners: taskQueue, validation: taskQueue, debugging: taskQueue };
    await worker.runUntil(async () => {
      // A's signal is delivered atomically with the start: it must not be lost.
      const handle = await client.workflow.signalWithStart(cardWorkflow, {
        taskQueue,
        workflowId: `${backlogId}/C`,
        args: [{ plan: cardPlan, queues }],
        signal: dependencyResolvedSignal,
        signalArgs: [{ cardId: "A", status: "DONE", artifacts: ["x/A/attempt-1/a.md"] }],
      });
      const waiting = await waitForStatus(handle, "TODO");
      expect(waiting.waitingFor).toEqual(["B"]);
      expect(fake.calls).toHaveLength(0);
      await handle.signal(dependencyResolvedSignal, { cardId: "B", status: "DONE", artifacts: ["x/B/attempt-1/b.md"] });
      const outcome = await handle.result();
      expect(outcome.status).toBe("DONE");
    });
    const owner = fake.calls.find((c) => c.activity === "runOwner")!.input as OwnerInput;
    expect(owner.dependencies).toEqual([
      { cardId: "A", artifacts: ["x/A/attempt-1/a.md"] },
      { cardId: "B", artifacts: ["x/B/attempt-1/b.md"] },
    ]);
  });

  it("rests BLOCKED, naming the dependency, when a dependency is REJECTED, and waits again when it is retried", async () => {
    const { client } = await testEnv();
    const taskQueue = uniqueTaskQueue("card");
    const fake = fakeActivities({});
    const worker = await createTestWorker({ taskQueue, activities: fake.activities });
    const { handle } = await startCard(client, taskQueue, [{ id: "A" }, { id: "B", dependencies: ["A"] }], "B");
    const outcome = await worker.runUntil(async () => {
      await handle.signal(dependencyResolvedSignal, { cardId: "A", status: "REJECTED", artifacts: [] });
      const blocked = await waitForStatus(handle, "BLOCKED");
      expect(blocked).toMatchObject({ settled: true, blockedBy: { cardId: "A", status: "REJECTED" } });
      expect(fake.calls).toHaveLength(0);
      await handle.signal(dependencyReopenedSignal, { cardId: "A" });
      const waiting = await waitForStatus(handle, "TODO");
      expect(waiting).toMatchObject({ settled: false, waitingFor: ["A"] });
      await handle.signal(dependencyResolvedSignal, { cardId: "A", status: "DONE", artifacts: ["b/A/attempt-2/a.md"] });
      return handle.result();
    });
    expect(outcome.status).toBe("DONE");
    expect(statuses(outcome)).toEqual(["TODO", "BLOCKED", "TODO", "IN_PROGRESS", "VALIDATING", "APPROVED", "DONE"]);
  });

  it("applies dependency messages in their order: a late, older reopen does not undo a newer DONE", async () => {
    const { client } = await testEnv();
    const taskQueue = uniqueTaskQueue("card");
    const fake = fakeActivities({});
    const worker = await createTestWorker({ taskQueue, activities: fake.activities });
    // D is told last, so C still waits while every late message arrives: one applied out of order would
    // block C or leave it waiting, whichever workflow tasks the signals land in.
    const { handle } = await startCard(
      client,
      taskQueue,
      [{ id: "A" }, { id: "B" }, { id: "D" }, { id: "C", dependencies: ["A", "B", "D"] }],
      "C",
    );
    const outcome = await worker.runUntil(async () => {
      await handle.signal(dependencyResolvedSignal, {
        cardId: "A",
        status: "DONE",
        artifacts: ["c/A/attempt-2/a.md"],
        epoch: 0,
        seq: 3,
      });
      await handle.signal(dependencyReopenedSignal, { cardId: "A", epoch: 0, seq: 2 });
      await handle.signal(dependencyResolvedSignal, {
        cardId: "A",
        status: "REJECTED",
        artifacts: [],
        epoch: 0,
        seq: 1,
      });
      // A newer epoch (a new run of B after a failed one) wins over the last word on the old run.
      await handle.signal(dependencyResolvedSignal, {
        cardId: "B",
        status: "DONE",
        artifacts: ["c/B/attempt-1/b.md"],
        epoch: 1,
        seq: 1,
      });
      await handle.signal(dependencyResolvedSignal, {
        cardId: "B",
        status: "FAILED",
        artifacts: [],
        epoch: 0,
        seq: Number.MAX_SAFE_INTEGER,
      });
      await until("C to wait for D alone", async () =>
        (await handle.query(cardStateQuery)).waitingFor.join() === "D" ? true : undefined,
      );
      await handle.signal(dependencyResolvedSignal, {
        cardId: "D",
        status: "DONE",
        artifacts: ["c/D/attempt-1/d.md"],
        epoch: 0,
        seq: 1,
      });
      return handle.result();
    });
    expect(outcome.status).toBe("DONE");
    expect(statuses(outcome)).toEqual(["TODO", "IN_PROGRESS", "VALIDATING", "APPROVED", "DONE"]);
    const owner = fake.calls.find((c) => c.activity === "runOwner")!.input as OwnerInput;
    expect(owner.dependencies).toEqual([
      { cardId: "A", artifacts: ["c/A/attempt-2/a.md"] },
      { cardId: "B", artifacts: ["c/B/attempt-1/b.md"] },
      { cardId: "D", artifacts: ["c/D/attempt-1/d.md"] },
    ]);
  });

  it("skips a BLOCKED card to DONE by decision, audited", async () => {
    const { client } = await testEnv();
    const taskQueue = uniqueTaskQueue("card");
    const fake = fakeActivities({});
    const worker = await createTestWorker({ taskQueue, activities: fake.activities });
    const { handle } = await startCard(client, taskQueue, [{ id: "A" }, { id: "B", dependencies: ["A"] }], "B");
    const outcome = await worker.runUntil(async () => {
      await handle.signal(dependencyResolvedSignal, { cardId: "A", status: "CANCELLED", artifacts: [] });
      await waitForStatus(handle, "BLOCKED");
      const entry = await handle.executeUpdate(skipCardUpdate, { args: [{ reviewer: "ops", reason: "done by hand" }] });
      expect(entry).toMatchObject({ actor: "ops", action: "skip", reason: "done by hand" });
      return handle.result();
    });
    expect(outcome.status).toBe("DONE");
    expect(fake.calls).toHaveLength(0);
    expect(outcome.state!.auditLog.map((e) => e.action)).toEqual(["skip"]);
  });

  it("runs at once when its only dependency is a legacy DONE card, with that card's artifacts", async () => {
    const { outcome, calls } = await runCard({}, [
      { id: "N", dependencies: ["L"] },
      { id: "L", status: "DONE", artifacts: ["docs/brief.md"] },
    ]);
    expect(outcome.status).toBe("DONE");
    expect((calls[0]!.input as OwnerInput).dependencies).toEqual([{ cardId: "L", artifacts: ["docs/brief.md"] }]);
  });

  it("folds a legacy CORRECTION card into its parent's history", async () => {
    const { outcome } = await runCard({}, [
      { id: "P" },
      { id: "P-CORR-1", type: "CORRECTION", parent_card: "P", status: "REJECTED" },
    ]);
    expect(outcome.state!.legacyCorrections).toEqual([
      { cardId: "P-CORR-1", status: "REJECTED", attempt: 0, validationHistory: [] },
    ]);
  });
});

describe("escalation and human review", () => {
  const failing: CardScript = { qa: [['check "unit tests" failed: exit 1']] };

  async function escalated(script: CardScript = failing) {
    const { client } = await testEnv();
    const taskQueue = uniqueTaskQueue("review");
    const fake = fakeActivities({ C1: script });
    const worker = await createTestWorker({ taskQueue, activities: fake.activities });
    const { handle, backlogId } = await startCard(client, taskQueue, [{ id: "C1" }]);
    return { client, worker, handle, backlogId, calls: fake.calls };
  }

  it("escalates a permission blocker at once, naming the tool; approve grants it to the card and the owner runs again with it", async () => {
    const { worker, handle, calls } = await escalated({ owner: ["denied"] });
    await worker.runUntil(async () => {
      const state = await waitForStatus(handle, "AWAITING_HUMAN");
      expect(state.corrections).toBe(0);
      expect(state.attempts[0]!.permissionBlocker).toEqual({ deniedTools: ["Write"] });
      expect(state.auditLog.at(-1)).toMatchObject({
        action: "escalated",
        reason: expect.stringContaining("denied Write"),
      });
      await handle.executeUpdate(humanReviewUpdate, {
        args: [{ decision: "approve", reviewer: "ana", reason: "the card may write files" }],
      });
      const outcome = await handle.result();
      expect(outcome.status).toBe("DONE");
      expect(outcome.attempt).toBe(2);
      const owner2 = calls.find((c) => c.activity === "runOwner" && c.attempt === 2)!.input as OwnerInput;
      expect(owner2.allowTools).toEqual(["Write"]);
      expect(owner2.grantedTools).toEqual(["Write"]); // allowed from its first launch, not after a denied run
      const final = await handle.query(cardStateQuery);
      expect(final.grantedTools).toEqual(["Write"]);
      expect(final.auditLog.map((e) => e.action)).toEqual(["escalated", "approve", "granted"]);
    });
  });

  it("passes the card type's permissions.allow_dirs to every owner run", async () => {
    const { client } = await testEnv();
    const taskQueue = uniqueTaskQueue("dirs");
    const fake = fakeActivities({ C1: { qa: [["x"], "pass"] } });
    const worker = await createTestWorker({ taskQueue, activities: fake.activities });
    const backlogId = uniqueBacklogId();
    const cardPlan = testPlan(backlogId, [{ id: "C1" }]).cards[0]!;
    const plan = {
      ...cardPlan,
      typeConfig: { ...cardPlan.typeConfig, permissions: { allow_tools: [], allow_dirs: ["/srv/shared"] } },
    };
    const queues = { owners: taskQueue, validation: taskQueue, debugging: taskQueue };
    const handle = await client.workflow.start(cardWorkflow, {
      taskQueue,
      workflowId: `${backlogId}/C1`,
      args: [{ plan, queues }],
    });
    expect((await worker.runUntil(handle.result())).status).toBe("DONE");
    const owners = fake.calls.filter((c) => c.activity === "runOwner").map((c) => (c.input as OwnerInput).allowDirs);
    expect(owners).toEqual([["/srv/shared"], ["/srv/shared"]]);
  });

  it("escalates after the third rejected correction and waits for a human as AWAITING_HUMAN", async () => {
    const { worker, handle, client, backlogId } = await escalated();
    await worker.runUntil(async () => {
      const state = await waitForStatus(handle, "AWAITING_HUMAN");
      expect(state.attempt).toBe(4);
      expect(state.corrections).toBe(3);
      expect(state.statusHistory.map((s) => s.status).slice(-2)).toEqual(["ESCALATED", "AWAITING_HUMAN"]);
      expect(state.auditLog.map((e) => e.action)).toEqual(["escalated"]);
      const desc = await handle.describe();
      expect(desc.typedSearchAttributes.get(CardStatusKey)).toBe("AWAITING_HUMAN");
      // The review queue of PRODUCT.md, through visibility.
      let found: string[] = [];
      for (let i = 0; i < 50 && found.length === 0; i++) {
        found = [];
        for await (const wf of client.workflow.list({
          query: `BacklogId="${backlogId}" AND CardStatus="AWAITING_HUMAN"`,
        }))
          found.push(wf.workflowId);
        if (found.length === 0) await new Promise((r) => setTimeout(r, 200));
      }
      expect(found).toEqual([`${backlogId}/C1`]);
      await handle.terminate("test done");
    });
  });

  it("finishes DONE when a human approves, with the decision in the audit log", async () => {
    const { worker, handle } = await escalated();
    const outcome = await worker.runUntil(async () => {
      await waitForStatus(handle, "AWAITING_HUMAN");
      const entry = await handle.executeUpdate(humanReviewUpdate, {
        args: [{ decision: "approve", reviewer: "ana", reason: "flaky test, verified by hand" }],
      });
      expect(entry).toMatchObject({ actor: "ana", action: "approve", reason: "flaky test, verified by hand" });
      return handle.result();
    });
    expect(outcome.status).toBe("DONE");
    expect(statuses(outcome).slice(-3)).toEqual(["AWAITING_HUMAN", "APPROVED", "DONE"]);
    const approve = outcome.state!.auditLog.find((e) => e.action === "approve")!;
    expect(approve.actor).toBe("ana");
    expect(Date.parse(approve.at)).not.toBeNaN();
  });

  it("rests REJECTED when a human rejects, and a retry gives it a fresh attempt with a fresh correction budget", async () => {
    const { worker, handle, calls } = await escalated({ qa: [["x"], ["x"], ["x"], ["x"], "pass"] });
    const outcome = await worker.runUntil(async () => {
      await waitForStatus(handle, "AWAITING_HUMAN");
      await handle.executeUpdate(humanReviewUpdate, {
        args: [{ decision: "reject", reviewer: "bo", reason: "wrong approach" }],
      });
      const rejected = await waitForStatus(handle, "REJECTED");
      expect(rejected.settled).toBe(true);
      await handle.executeUpdate(retryCardUpdate, { args: [{ reviewer: "bo", reason: "spec fixed" }] });
      return handle.result();
    });
    expect(outcome.status).toBe("DONE");
    expect(outcome.attempt).toBe(5);
    expect(outcome.state!.auditLog.map((e) => e.action)).toEqual(["escalated", "reject", "retry"]);
    // The retry is a fresh attempt run by the card itself, not a correction round.
    expect(
      (calls.find((c) => c.activity === "runOwner" && c.attempt === 5)!.input as OwnerInput).feedback,
    ).toBeUndefined();
    expect(statuses(outcome).slice(-6)).toEqual([
      "AWAITING_HUMAN",
      "REJECTED",
      "IN_PROGRESS",
      "VALIDATING",
      "APPROVED",
      "DONE",
    ]);
  });

  it("answers an identical repeat of a decision with the same audit entry, changing nothing (idempotent)", async () => {
    const { worker, handle } = await escalated();
    await worker.runUntil(async () => {
      await waitForStatus(handle, "AWAITING_HUMAN");
      const review = { decision: "reject" as const, reviewer: "ana", reason: "out of scope" };
      const first = await handle.executeUpdate(humanReviewUpdate, { args: [review] });
      const rested = await waitForStatus(handle, "REJECTED");
      const second = await handle.executeUpdate(humanReviewUpdate, { args: [review] });
      expect(second).toEqual(first);
      const after = await handle.query(cardStateQuery);
      expect(after.auditLog).toEqual(rested.auditLog);
      expect(after.statusHistory).toEqual(rested.statusHistory);
      // A different decision is still refused.
      const other = await handle
        .executeUpdate(humanReviewUpdate, { args: [{ ...review, reason: "changed my mind" }] })
        .catch((e) => e);
      expect((other as WorkflowUpdateFailedError).cause?.message).toMatch(
        /not awaiting human review \(status REJECTED\)/,
      );
      await handle.terminate("test done");
    });
  });

  it("refuses a retry of a card that is not at rest, and a different second decision", async () => {
    const { worker, handle } = await escalated();
    await worker.runUntil(async () => {
      await waitForStatus(handle, "AWAITING_HUMAN");
      const retry = await handle
        .executeUpdate(retryCardUpdate, { args: [{ reviewer: "bo", reason: "r" }] })
        .catch((e) => e);
      expect((retry as WorkflowUpdateFailedError).cause?.message).toMatch(
        /card C1 cannot be retried in status AWAITING_HUMAN/,
      );
      await handle.executeUpdate(humanReviewUpdate, { args: [{ decision: "reject", reviewer: "bo", reason: "no" }] });
      const other = await handle
        .executeUpdate(humanReviewUpdate, { args: [{ decision: "approve", reviewer: "ana", reason: "yes" }] })
        .catch((e) => e);
      expect((other as WorkflowUpdateFailedError).cause?.message).toMatch(/not awaiting human review/);
      await handle.terminate("test done");
    });
  });

  it("runs one more correction with the human context on clarify, and escalates again if it still fails", async () => {
    const { worker, handle, calls } = await escalated();
    await worker.runUntil(async () => {
      await waitForStatus(handle, "AWAITING_HUMAN");
      await handle.executeUpdate(humanReviewUpdate, {
        args: [{ decision: "clarify", reviewer: "ana", reason: "missing context", context: "use banker's rounding" }],
      });
      const again = await waitForStatus(handle, "AWAITING_HUMAN");
      expect(again.attempt).toBe(5);
      expect(again.corrections).toBe(4);
      await handle.terminate("test done");
    });
    const owner5 = calls.find((c) => c.activity === "runOwner" && c.attempt === 5)!.input as OwnerInput;
    expect(owner5.feedback).toMatchObject({ round: 4, humanContext: "use banker's rounding" });
  });

  it("finishes DONE when the clarified correction passes", async () => {
    const { worker, handle } = await escalated({ qa: [["x"], ["x"], ["x"], ["x"], "pass"] });
    const outcome = await worker.runUntil(async () => {
      await waitForStatus(handle, "AWAITING_HUMAN");
      await handle.signal(humanReviewSignal, {
        decision: "clarify",
        reviewer: "ana",
        reason: "hint",
        context: "look at x",
      });
      return handle.result();
    });
    expect(outcome.status).toBe("DONE");
    expect(outcome.attempt).toBe(5);
    expect(outcome.state!.auditLog.map((e) => e.action)).toEqual(["escalated", "clarify"]);
  });

  it("refuses bad review input in the update validator without touching history", async () => {
    const { worker, handle } = await escalated();
    await worker.runUntil(async () => {
      await waitForStatus(handle, "AWAITING_HUMAN");
      const before = (await handle.fetchHistory()).events?.length;
      const bad: [unknown, RegExp][] = [
        [{ decision: "maybe", reviewer: "ana", reason: "r" }, /decision/],
        [{ decision: "approve", reason: "r" }, /reviewer/],
        [{ decision: "approve", reviewer: "ana" }, /reason/],
        [{ decision: "approve", reviewer: "  ", reason: "r" }, /reviewer is required/],
        [{ decision: "clarify", reviewer: "ana", reason: "r" }, /context/],
        [{ decision: "approve", reviewer: "ana", reason: "r", extra: 1 }, /extra/],
        ["approve", /invalid human review/],
      ];
      for (const [payload, message] of bad) {
        const err = await handle.executeUpdate(humanReviewUpdate, { args: [payload as never] }).catch((e) => e);
        expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
        expect((err as WorkflowUpdateFailedError).cause?.message).toMatch(message);
      }
      expect((await handle.fetchHistory()).events?.length).toBe(before);
      expect((await handle.query(cardStateQuery)).status).toBe("AWAITING_HUMAN");
      await handle.terminate("test done");
    });
  });

  it("refuses a review of a card that is not awaiting one", async () => {
    const { client } = await testEnv();
    const taskQueue = uniqueTaskQueue("review");
    const fake = fakeActivities({});
    const worker = await createTestWorker({ taskQueue, activities: fake.activities });
    const { handle } = await startCard(client, taskQueue, [{ id: "A" }, { id: "B", dependencies: ["A"] }], "B");
    await worker.runUntil(async () => {
      await waitForStatus(handle, "TODO");
      const err = await handle
        .executeUpdate(humanReviewUpdate, { args: [{ decision: "approve", reviewer: "ana", reason: "r" }] })
        .catch((e) => e);
      expect((err as WorkflowUpdateFailedError).cause?.message).toMatch(
        /card B is not awaiting human review \(status TODO\)/,
      );
      await handle.terminate("test done");
    });
  });
});
