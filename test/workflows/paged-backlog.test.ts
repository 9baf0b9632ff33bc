/**
 * Paged backlogs (src/domain/pages.ts): cards sent in pages with the `addCards` update, each page run by a
 * backlog shard, dependencies relayed across shards. Pages are made tiny (2 cards) so a handful of cards
 * crosses several shards.
 */
import { describe, expect, it } from "vitest";
import { WorkflowUpdateFailedError } from "@temporalio/client";
import { readBacklog, readBacklogView, startBacklog } from "../../src/cli/backlogs.js";
import { planPages, shardWorkflowId, type OwnerInput } from "../../src/domain/index.js";
import { backlogShardWorkflow } from "../../src/workflows/backlog-shard.js";
import {
  addCardsUpdate,
  backlogWorkflow,
  pauseBacklogUpdate,
  resumeBacklogUpdate,
} from "../../src/workflows/backlog.js";
import { humanReviewUpdate, retryCardUpdate } from "../../src/workflows/card.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import { fakeActivities, gate, testPlan, uniqueBacklogId, type CardScript, type TestCard } from "./fakes.js";

const PAGES = { maxCards: 2 };

async function paged(cards: TestCard[], scripts: Record<string, CardScript> = {}) {
  const { client } = await testEnv();
  const q = uniqueTaskQueue("paged");
  const fake = fakeActivities(scripts);
  const worker = await createTestWorker({ taskQueue: q, activities: fake.activities });
  const backlogId = uniqueBacklogId("paged");
  const plan = testPlan(backlogId, cards);
  const queues = { orchestration: q, owners: q, validation: q, debugging: q };
  return {
    client,
    worker,
    backlogId,
    plan,
    queues,
    calls: fake.calls,
    start: () => startBacklog(client, plan, "paged.json", queues, { pages: PAGES }),
  };
}

async function until<T>(fn: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined && ok(v)) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("condition never met");
}

const chain: TestCard[] = [
  { id: "A" },
  { id: "B", dependencies: ["A"] },
  { id: "C", dependencies: ["A"] },
  { id: "D", dependencies: ["B", "C"] },
  { id: "E", dependencies: ["D"] },
];

describe("paged backlog", () => {
  it("runs every card through shards, relaying dependencies across them, and ends with every card DONE", async () => {
    const { client, worker, backlogId, start, calls } = await paged(chain);
    await worker.runUntil(async () => {
      const started = await start();
      expect(started.started).toBe(true);
      const result = await client.workflow.getHandle<typeof backlogWorkflow>(backlogId).result();
      // 5 cards in pages of 2: 3 shards, the cards nobody depends on first.
      expect(result.pages).toEqual({ expected: 3, received: 3 });
      expect(result.shards!.map((s) => s.cardIds)).toEqual([["E", "D"], ["B", "C"], ["A"]]);
      expect(result.shards!.map((s) => s.workflowId)).toEqual([1, 2, 3].map((n) => shardWorkflowId(backlogId, n)));
      expect(result.shards!.every((s) => s.finished && s.counts?.DONE === s.cardIds.length)).toBe(true);
      const order = result.shards!.flatMap((s) => s.cardIds);
      expect(order.indexOf("E")).toBeLessThan(order.indexOf("D"));
      expect(order.indexOf("D")).toBeLessThan(order.indexOf("B"));
      expect(order.indexOf("B")).toBeLessThan(order.indexOf("A"));
      // The CLI sees one list of cards with their full states.
      const view = await readBacklogView(client, backlogId);
      expect(view.cards.map((c) => [c.cardId, c.status]).sort()).toEqual(
        ["A", "B", "C", "D", "E"].map((id) => [id, "DONE"]),
      );
      expect(view.cards.every((c) => c.state?.attempts.length === 1)).toBe(true);
    });
    const ownerStart = (id: string) => calls.find((c) => c.activity === "runOwner" && c.cardId === id)!.at;
    const done = (id: string) => Math.max(...calls.filter((c) => c.cardId === id).map((c) => c.at));
    expect(ownerStart("B")).toBeGreaterThanOrEqual(done("A"));
    expect(ownerStart("D")).toBeGreaterThanOrEqual(Math.max(done("B"), done("C")));
    expect(ownerStart("E")).toBeGreaterThanOrEqual(done("D"));
    const eOwner = calls.find((c) => c.activity === "runOwner" && c.cardId === "E")!.input as OwnerInput;
    expect(eOwner.dependencies.map((d) => d.cardId)).toEqual(["D"]);
  });

  it("starts a page's cards that can run at once only after the page's other cards have started", async () => {
    // Pages of 2 in reverse dependency order: [E, F], [D, B], [C, A]; F and A can run at once.
    const { client, worker, backlogId, start } = await paged([...chain, { id: "F" }]);
    const result = await worker.runUntil(async () => {
      await start();
      return client.workflow.getHandle<typeof backlogWorkflow>(backlogId).result();
    });
    expect(result.shards!.map((s) => s.cardIds)).toEqual([
      ["E", "F"],
      ["D", "B"],
      ["C", "A"],
    ]);
    expect(result.shards!.every((s) => s.finished && s.counts?.DONE === 2)).toBe(true);
    for (const [n, waiting, ready] of [
      [1, "E", "F"],
      [3, "C", "A"],
    ] as const) {
      const events = (await client.workflow.getHandle(shardWorkflowId(backlogId, n)).fetchHistory()).events ?? [];
      const initiated = (card: string) =>
        events.findIndex(
          (e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId === `${backlogId}/${card}`,
        );
      const started = (card: string) =>
        events.findIndex(
          (e) =>
            e.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId === `${backlogId}/${card}`,
        );
      expect(initiated(waiting)).toBeGreaterThan(-1);
      expect(started(waiting)).toBeGreaterThan(initiated(waiting));
      expect(initiated(ready)).toBeGreaterThan(started(waiting));
    }
  });

  it("blocks dependents in other shards, and a retry lets them run", async () => {
    const { client, worker, backlogId, start } = await paged(chain, {
      A: { qa: [["x"], ["x"], ["x"], ["x"], "pass"] },
    });
    await worker.runUntil(async () => {
      await start();
      const a = client.workflow.getHandle(`${backlogId}/A`);
      await until(
        () => readBacklogView(client, backlogId),
        (v) => v.cards.find((c) => c.cardId === "A")?.status === "AWAITING_HUMAN",
      );
      await a.executeUpdate(humanReviewUpdate, { args: [{ decision: "reject", reviewer: "ana", reason: "wrong" }] });
      const blocked = await until(
        () => readBacklogView(client, backlogId),
        (v) => ["B", "C", "D", "E"].every((id) => v.cards.find((c) => c.cardId === id)?.status === "BLOCKED"),
      );
      expect(blocked.cards.find((c) => c.cardId === "E")!.state!.blockedBy).toEqual({ cardId: "D", status: "BLOCKED" });
      await a.executeUpdate(retryCardUpdate, { args: [{ reviewer: "ana", reason: "fixed" }] });
      const done = await until(
        () => readBacklogView(client, backlogId),
        (v) => v.cards.every((c) => c.status === "DONE"),
      );
      expect(done.cards).toHaveLength(5);
      await client.workflow.getHandle(backlogId).result();
      expect((await readBacklog(client, backlogId)).running).toBe(false);
    });
  });

  it("pauses and resumes every shard, refuses pages out of order, and resends nothing on a repeated start", async () => {
    const a = gate();
    const { client, worker, backlogId, start, plan, queues } = await paged(chain, { A: { hold: a.hold } });
    await worker.runUntil(async () => {
      await start();
      const handle = client.workflow.getHandle<typeof backlogWorkflow>(backlogId);
      await until(
        () => readBacklogView(client, backlogId),
        (v) => v.cards.find((c) => c.cardId === "A")?.status === "IN_PROGRESS",
      );
      await handle.executeUpdate(pauseBacklogUpdate, { args: [{ reviewer: "ops", reason: "freeze" }] });
      // The shards pass the pause on to every card still running.
      await until(
        () => readBacklogView(client, backlogId),
        (v) => v.cards.filter((c) => !c.final).every((c) => c.state?.paused),
      );
      await expect(
        handle.executeUpdate(addCardsUpdate, {
          args: [{ index: 0, workflowId: shardWorkflowId(backlogId, 1), cardIds: ["A"] }],
        }),
      ).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
      const again = await startBacklog(client, plan, "paged.json", queues, { pages: PAGES });
      expect(again.started).toBe(false);
      // A's owner finishes; A then waits (VALIDATING, paused) and B, which needs A, does not start.
      a.release();
      await until(
        () => readBacklogView(client, backlogId),
        (v) => v.cards.find((c) => c.cardId === "A")?.status === "VALIDATING",
      );
      expect((await readBacklogView(client, backlogId)).cards.find((c) => c.cardId === "B")?.status).toBe("TODO");
      await handle.executeUpdate(resumeBacklogUpdate, { args: [{ reviewer: "ops", reason: "go" }] });
      const result = await handle.result();
      expect(result.shards!.reduce((n, s) => n + (s.counts?.DONE ?? 0), 0)).toBe(5);
    });
  });

  it("a start that stopped half-way is finished by running start again: only the missing pages are sent", async () => {
    const { client, worker, backlogId, start, plan, queues } = await paged(chain);
    await worker.runUntil(async () => {
      // What an interrupted `squadflow start` leaves: the backlog, and the shard of page 0 started but never registered.
      const pages = planPages(plan.cards, PAGES);
      await client.workflow.start(backlogWorkflow, {
        workflowId: backlogId,
        taskQueue: queues.orchestration,
        args: [
          {
            backlogId,
            cards: [],
            done: [],
            queues,
            source: { file: "paged.json", metadata: {}, legacyCards: [] },
            pages: pages.length,
          },
        ],
      });
      await client.workflow.start(backlogShardWorkflow, {
        workflowId: shardWorkflowId(backlogId, 1),
        taskQueue: queues.orchestration,
        args: [{ backlogId, page: pages[0]!, queues }],
      });
      await new Promise((r) => setTimeout(r, 500));
      expect((await readBacklog(client, backlogId)).state.pages).toEqual({ expected: 3, received: 0 });
      const again = await start();
      expect(again.started).toBe(true);
      const result = await client.workflow.getHandle<typeof backlogWorkflow>(backlogId).result();
      expect(result.shards!.map((s) => s.counts?.DONE)).toEqual([2, 2, 1]);
    });
  });

  it("cancelling the backlog cancels every shard and card", async () => {
    // A's owner runs until the test releases it (after the cancellation), so the cancel always finds it running.
    const a = gate();
    const { client, worker, backlogId, start } = await paged(chain, { A: { hold: a.hold } });
    await worker.runUntil(async () => {
      await start();
      await until(
        () => readBacklogView(client, backlogId),
        (v) => v.cards.find((c) => c.cardId === "A")?.status === "IN_PROGRESS",
      );
      await client.workflow.getHandle(backlogId).cancel();
      await expect(client.workflow.getHandle(backlogId).result()).rejects.toThrow();
      // Every shard told the backlog that its cards had ended before the backlog ended; each then closes cancelled.
      const statusOf = (id: string) =>
        client.workflow
          .getHandle(id)
          .describe()
          .then((d) => d.status.name);
      for (let n = 1; n <= 3; n++)
        await until(
          () => statusOf(shardWorkflowId(backlogId, n)),
          (s) => s === "CANCELLED",
        );
      for (const id of ["A", "B", "E"]) expect(await statusOf(`${backlogId}/${id}`)).toBe("CANCELLED");
      a.release();
    });
  });
});
