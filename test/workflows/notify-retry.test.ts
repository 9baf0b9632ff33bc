/**
 * A webhook that fails and then recovers, end to end: the card workflow sends its notification through
 * the real `notify` activity (HTTP to a local server, 127.0.0.1), the server answers 500 first, and
 * Temporal's retry policy for notifications (src/workflows/activities.ts) delivers it on the next attempt —
 * while the card goes on to DONE without waiting for it. Owner and validators are scripted.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { temporal } from "@temporalio/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNotify } from "../../src/activities/notify.js";
import type { CardState } from "../../src/domain/index.js";
import { cardStateQuery, cardWorkflow } from "../../src/workflows/card.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import { fakeActivities, testPlan, uniqueBacklogId } from "./fakes.js";
import { until } from "../helpers/until.js";

/** One request the webhook server received. */
interface Hit {
  delivery: string;
  event: string;
  body: Record<string, unknown>;
  answered: number;
}

let server: Server;
let url: string;
const hits: Hit[] = [];
/** The 2nd request's answer waits for this (so the test can look at the card while delivery is still open). */
let release: () => void = () => undefined;
const released = new Promise<void>((r) => (release = r));

beforeAll(async () => {
  // 500 to the first request, 200 to every later one (once released).
  server = createServer((req, res) => {
    let data = "";
    req.on("data", (c) => (data += c));
    req.on("end", () => {
      const hit: Hit = {
        delivery: String(req.headers["x-squadflow-delivery"]),
        event: String(req.headers["x-squadflow-event"]),
        body: JSON.parse(data),
        answered: 0,
      };
      hits.push(hit);
      const answer = (status: number) => {
        hit.answered = status;
        res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "ok" : "internal error");
      };
      if (hits.length === 1) answer(500);
      else void released.then(() => answer(200));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});

afterAll(async () => {
  release();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

describe("a webhook answering 500, then 200", () => {
  it("gets the notification on a Temporal retry of the notify activity, and the card reaches DONE without waiting for it", async () => {
    const { client } = await testEnv();
    const taskQueue = uniqueTaskQueue("notify-retry");
    const outcomes: string[] = [];
    const worker = await createTestWorker({
      taskQueue,
      activities: {
        ...fakeActivities({}).activities,
        notify: createNotify({ onDelivery: (d) => outcomes.push(d.outcome) }),
      },
    });
    const backlogId = uniqueBacklogId("notify");
    // The owner's first run costs $0.01, over the $0.005 alert threshold: one card.cost_alert notification.
    const plan = testPlan(backlogId, [{ id: "C" }], 0.005, {
      notifications: { webhooks: [{ url, format: "json", events: ["card.cost_alert"] }] },
    });
    const queues = { owners: taskQueue, validation: taskQueue, debugging: taskQueue };
    const handle = await client.workflow.start(cardWorkflow, {
      taskQueue,
      workflowId: `${backlogId}/C`,
      args: [{ plan: plan.cards[0]!, queues }],
    });

    const outcome = await worker.runUntil(async () => {
      // The card is DONE while its notification has been refused once and not yet delivered (the 2nd answer
      // waits for `release`). The first delivery may come before or after DONE: wait for both states.
      const done = await until("the card to be DONE and the webhook to have refused once", async () => {
        const state: CardState = await handle.query(cardStateQuery);
        return state.status === "DONE" && hits[0]?.answered === 500 ? state : undefined;
      });
      expect(done.costAlert).toBe(true);
      expect(hits.filter((h) => h.answered === 200)).toHaveLength(0);
      expect(hits[0]).toMatchObject({ answered: 500, event: "card.cost_alert" });
      release();
      // The workflow closes once the notification is delivered (it drains notifications, at most a minute).
      return handle.result();
    });

    expect(outcome.status).toBe("DONE");
    expect(hits.map((h) => h.answered)).toEqual([500, 200]);
    expect(hits[1]!.delivery).toBe(hits[0]!.delivery); // same event id across retries: receivers can de-duplicate
    expect(hits[1]!.body).toMatchObject({ event: "card.cost_alert", backlogId, cardId: "C", thresholdUsd: 0.005 });
    expect(outcomes).toEqual(["retryable", "ok"]);

    // Temporal retried the activity (its 2nd attempt completed); the workflow never saw a failure.
    const { events } = await handle.fetchHistory();
    const EventType = temporal.api.enums.v1.EventType;
    const scheduled = events!.find(
      (e) =>
        e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED &&
        e.activityTaskScheduledEventAttributes?.activityType?.name === "notify",
    )!;
    const started = events!.find(
      (e) => Number(e.activityTaskStartedEventAttributes?.scheduledEventId) === Number(scheduled.eventId),
    )!;
    expect(started.activityTaskStartedEventAttributes!.attempt).toBe(2);
    expect(started.activityTaskStartedEventAttributes!.lastFailure?.message).toContain("HTTP 500");
    expect(
      events!.some(
        (e) => Number(e.activityTaskCompletedEventAttributes?.scheduledEventId) === Number(scheduled.eventId),
      ),
    ).toBe(true);
    expect(events!.some((e) => e.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED)).toBe(false);
  });
});
