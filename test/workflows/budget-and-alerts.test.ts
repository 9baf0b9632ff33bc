/**
 * The budget gate, the cost alert and notifications, on the real dev server: owner/validators scripted,
 * the notify activity real (HTTP to a local server).
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createReadBacklogBudget } from "../../src/activities/workflow-queries.js";
import { createNotify } from "../../src/activities/notify.js";
import type { CardState } from "../../src/domain/index.js";
import { CardCostAlertKey } from "../../src/temporal/search-attributes.js";
import { cardStateQuery, cardWorkflow, humanReviewUpdate } from "../../src/workflows/card.js";
import { readBacklog, startBacklog } from "../../src/cli/backlogs.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import { until } from "../helpers/until.js";
import {
  fakeActivities,
  startBacklogWorkflow,
  testPlan,
  uniqueBacklogId,
  type CardScript,
  type TestCard,
} from "./fakes.js";

let server: Server;
let url: string;
const received: { event: string; body: Record<string, unknown> }[] = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const json = JSON.parse(body) as Record<string, unknown>;
      received.push({ event: String(json.event), body: json });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

async function run(
  cards: TestCard[],
  scripts: Record<string, CardScript>,
  opts: { alert?: number; squad?: Record<string, unknown>; cardId?: string } = {},
) {
  const { client } = await testEnv();
  const taskQueue = uniqueTaskQueue("budget");
  const fake = fakeActivities(scripts);
  const worker = await createTestWorker({
    taskQueue,
    activities: { ...fake.activities, notify: createNotify(), readBacklogBudget: createReadBacklogBudget() },
  });
  const backlogId = uniqueBacklogId("budget");
  const plan = testPlan(backlogId, cards, opts.alert ?? 1, opts.squad ?? {});
  const queues = { owners: taskQueue, validation: taskQueue, debugging: taskQueue };
  return { client, worker, backlogId, plan, queues, taskQueue, calls: fake.calls };
}

describe("budget gate", () => {
  it("escalates instead of starting an owner run that would go over the card budget", async () => {
    // Each owner run costs $0.01; after two the next one (estimated at $0.01) would pass $0.025.
    const { client, worker, backlogId, plan, queues, taskQueue, calls } = await run([{ id: "C", budget_usd: 0.025 }], {
      C: { judge: [["x"]] },
    });
    const handle = await client.workflow.start(cardWorkflow, {
      taskQueue,
      workflowId: `${backlogId}/C`,
      args: [{ plan: plan.cards[0]!, queues }],
    });
    const state = await worker.runUntil(async () => {
      const s = await until("AWAITING_HUMAN", async () => {
        const st: CardState = await handle.query(cardStateQuery);
        return st.status === "AWAITING_HUMAN" ? st : undefined;
      });
      await handle.terminate("test done");
      return s;
    });
    expect(calls.filter((c) => c.activity === "runOwner")).toHaveLength(2);
    expect(state.attempts.at(-1)!.budgetStop).toMatch(
      /card budget would be exceeded: spent \$0\.02 of \$0\.03|card budget would be exceeded/,
    );
    expect(state.auditLog.find((e) => e.action === "escalated")!.reason).toMatch(/^over budget: card budget/);
    expect(state.cost.usd).toBeCloseTo(0.02, 6);
  });

  it("stops new runs of every card once the backlog budget is used up", async () => {
    // A's owner run (allowed the whole $0.005) costs $0.01: the budget is used up, so A's judge does not
    // run (A escalates) and, once a human approves A, B escalates without running.
    const { client, worker, backlogId, plan, taskQueue, calls } = await run(
      [{ id: "A" }, { id: "B", dependencies: ["A"] }],
      {},
      { squad: { budget: { per_backlog_usd: 0.005 } } },
    );
    const handle = await startBacklogWorkflow(client, taskQueue, plan, "b.json");
    const [a, b] = await worker.runUntil(async () => {
      const waiting = (id: string) =>
        until(`${id} to await a human`, async () => {
          const st: CardState = await client.workflow.getHandle(`${backlogId}/${id}`).query(cardStateQuery);
          return st.status === "AWAITING_HUMAN" ? st : undefined;
        });
      const a = await waiting("A");
      await client.workflow
        .getHandle(`${backlogId}/A`)
        .executeUpdate(humanReviewUpdate, { args: [{ decision: "approve", reviewer: "ana", reason: "ok" }] });
      const b = await waiting("B");
      await handle.terminate("test done");
      return [a, b];
    });
    expect(a.attempts[0]!.budgetStop).toBe("backlog budget exhausted: spent $0.01 of $0.005000");
    expect(calls.filter((c) => c.cardId === "A").map((c) => c.activity)).toEqual(["runOwner", "verifyArtifacts"]);
    expect(b.backlogBudgetExhausted).toBe(true);
    expect(b.auditLog.find((e) => e.action === "escalated")!.reason).toBe(
      "over budget: backlog budget exhausted: spent $0.01 of $0.005000",
    );
    expect(calls.filter((c) => c.cardId === "B")).toHaveLength(0);
  });

  it("reads the backlog spend before each run: the owner gets what is left, and a run that would pass the backlog budget escalates", async () => {
    // A spends $0.01; B's first owner run may use the $0.015 left; its correction (estimated at $0.01 more)
    // would take the backlog to $0.03 of $0.025: it escalates before the budget is used up.
    const { client, worker, backlogId, plan, taskQueue, calls } = await run(
      [{ id: "A" }, { id: "B", dependencies: ["A"] }],
      { B: { judge: [["x"], "pass"] } },
      { squad: { budget: { per_backlog_usd: 0.025 } } },
    );
    const handle = await startBacklogWorkflow(client, taskQueue, plan, "b.json");
    const b = await worker.runUntil(async () => {
      const h = client.workflow.getHandle(`${backlogId}/B`);
      const s = await until("B to await a human", async () => {
        const st: CardState = await h.query(cardStateQuery);
        return st.status === "AWAITING_HUMAN" ? st : undefined;
      });
      await handle.terminate("test done");
      return s;
    });
    const owners = calls.filter((c) => c.activity === "runOwner");
    expect(owners.map((c) => [c.cardId, (c.input as { budgetUsd?: number }).budgetUsd])).toEqual([
      ["A", 0.025],
      ["B", 0.015],
    ]);
    expect(b.backlogBudgetExhausted).toBe(false);
    expect(b.auditLog.find((e) => e.action === "escalated")!.reason).toMatch(
      /^over budget: backlog budget would be exceeded: spent \$0\.02 of \$0\.0\d, the next run is estimated at \$0\.01$/,
    );
  });

  it("keeps one backlog budget across the shards of a paged backlog, and sends backlog.finished once", async () => {
    // Pages of one card: every card runs in a shard of its own. A's owner run costs $0.01 of the $0.005
    // budget: A escalates before its judge; once A is approved, B and C (other shards) escalate without
    // running. (Costs travel card → shard → backlog; each gate reads the backlog.)
    const { client, worker, backlogId, plan, taskQueue, calls } = await run(
      [{ id: "A" }, { id: "B", dependencies: ["A"] }, { id: "C", dependencies: ["A"] }],
      {},
      {
        squad: {
          budget: { per_backlog_usd: 0.005 },
          notifications: { webhooks: [{ url, events: ["backlog.finished"] }] },
        },
      },
    );
    const queues = { orchestration: taskQueue, owners: taskQueue, validation: taskQueue, debugging: taskQueue };
    const approve = (id: string) =>
      client.workflow
        .getHandle(`${backlogId}/${id}`)
        .executeUpdate(humanReviewUpdate, { args: [{ decision: "approve", reviewer: "ana", reason: "ok" }] });
    const waiting = (id: string) =>
      until(`${id} to await a human`, async () => {
        const st: CardState = await client.workflow.getHandle(`${backlogId}/${id}`).query(cardStateQuery);
        return st.status === "AWAITING_HUMAN" ? st : undefined;
      });
    const states = await worker.runUntil(async () => {
      await startBacklog(client, plan, "b.json", queues, { pages: { maxCards: 1 } });
      await waiting("A");
      await approve("A");
      const states = await Promise.all(["B", "C"].map(waiting));
      const backlog = await readBacklog(client, backlogId);
      expect(backlog.state.spentUsd).toBeCloseTo(0.01, 6);
      expect(backlog.state.budgetExhausted).toBe(true);
      for (const id of ["B", "C"]) await approve(id);
      await client.workflow.getHandle(backlogId).result();
      return states;
    });
    for (const b of states) {
      expect(b.backlogBudgetExhausted).toBe(true);
      expect(b.auditLog.find((e) => e.action === "escalated")!.reason).toMatch(
        /^over budget: backlog budget exhausted/,
      );
    }
    expect(calls.filter((c) => c.cardId === "B" || c.cardId === "C")).toHaveLength(0);
    const finished = await until("backlog.finished", async () =>
      received.filter((r) => r.event === "backlog.finished" && r.body.backlogId === backlogId).at(0),
    );
    expect(finished.body.counts).toEqual({ DONE: 3 });
    expect(received.filter((r) => r.event === "backlog.finished" && r.body.backlogId === backlogId)).toHaveLength(1);
  });
});

describe("cost alert and notifications", () => {
  it("raises the cost alert once: audit, CardCostAlert, and a card.cost_alert webhook", async () => {
    const { client, worker, backlogId, plan, queues, taskQueue } = await run(
      [{ id: "C" }],
      { C: { judge: [["x"], "pass"] } },
      {
        alert: 0.015,
        squad: { notifications: { webhooks: [{ url, format: "json" }] } },
      },
    );
    const handle = await client.workflow.start(cardWorkflow, {
      taskQueue,
      workflowId: `${backlogId}/C`,
      args: [{ plan: plan.cards[0]!, queues }],
    });
    const outcome = await worker.runUntil(handle.result());
    expect(outcome.status).toBe("DONE");
    expect(outcome.state!.auditLog.filter((e) => e.action === "cost_alert")).toHaveLength(1);
    expect((await handle.describe()).typedSearchAttributes.get(CardCostAlertKey)).toBe(true);
    const sent = received.filter((r) => r.body.backlogId === backlogId);
    expect(sent.map((r) => r.event)).toEqual(["card.cost_alert"]);
    expect(sent[0]!.body).toMatchObject({ cardId: "C", thresholdUsd: 0.015 });
  });

  it("never lets a webhook that is down block the card", async () => {
    const { client, worker, backlogId, plan, queues, taskQueue } = await run(
      [{ id: "C" }],
      { C: { judge: [["x"], "pass"] } },
      {
        alert: 0.015,
        squad: { notifications: { webhooks: [{ url: "http://127.0.0.1:9/down", format: "json" }] } },
      },
    );
    const handle = await client.workflow.start(cardWorkflow, {
      taskQueue,
      workflowId: `${backlogId}/C`,
      args: [{ plan: plan.cards[0]!, queues }],
    });
    await worker.runUntil(async () => {
      const done = await until("DONE", async () => {
        const st: CardState = await handle.query(cardStateQuery);
        return st.status === "DONE" ? st : undefined;
      });
      expect(done.costAlert).toBe(true);
      await handle.terminate("test done");
    });
  });

  it("notifies card.escalated and card.awaiting_human when a card escalates", async () => {
    const { client, worker, backlogId, plan, queues, taskQueue } = await run(
      [{ id: "E" }],
      { E: { qa: [["x"]] } },
      {
        squad: {
          notifications: { webhooks: [{ url, format: "json", events: ["card.escalated", "card.awaiting_human"] }] },
        },
      },
    );
    const handle = await client.workflow.start(cardWorkflow, {
      taskQueue,
      workflowId: `${backlogId}/E`,
      args: [{ plan: plan.cards[0]!, queues }],
    });
    await worker.runUntil(async () => {
      await until("two notifications", async () =>
        received.filter((r) => r.body.backlogId === backlogId).length >= 2 ? true : undefined,
      );
      await handle.terminate("test done");
    });
    const events = received
      .filter((r) => r.body.backlogId === backlogId)
      .map((r) => r.event)
      .sort();
    expect(events).toEqual(["card.awaiting_human", "card.escalated"]);
  });
});
