/**
 * The `notify` activity against a real local HTTP server (127.0.0.1, random port): generic JSON and Slack
 * bodies, event filters, retryable vs non-retryable failures, timeouts, `url_env`, and retries that do not
 * re-send to webhooks that already got the event.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ApplicationFailure } from "@temporalio/common";
import { MockActivityEnvironment } from "@temporalio/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createNotify } from "../../src/activities/notify.js";
import type { NotificationEvent } from "../../src/domain/notifications.js";

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** Per-path behaviour: an HTTP status to answer, or `hang` (never answer). */
const behaviour = new Map<string, (number | "hang")[]>();
const received: Received[] = [];
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    let data = "";
    req.on("data", (c) => (data += c));
    req.on("end", () => {
      received.push({ path: req.url ?? "", headers: req.headers, body: JSON.parse(data || "null") });
      const script = behaviour.get(req.url ?? "") ?? [200];
      const next = script.length > 1 ? script.shift()! : script[0]!;
      if (next === "hang") return; // the client's timeout must fire
      res.writeHead(next, { "content-type": "text/plain" });
      res.end(next === 200 ? "ok" : "no_service");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

beforeEach(() => {
  behaviour.clear();
  received.length = 0;
});

const escalated: NotificationEvent = {
  event: "card.escalated",
  backlogId: "shop",
  cardId: "BE-002",
  attempt: 4,
  reason: "qa: unit tests exited 1",
  at: "2025-01-01T00:00:00.000Z",
};

async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

describe("notify", () => {
  it("POSTs the event as JSON with event and delivery headers", async () => {
    const notify = createNotify({ webhooks: [{ url: `${base}/json` }] });
    const result = await notify({ event: escalated });
    expect(result).toMatchObject({ delivered: [base], skipped: 0 });
    expect(received).toHaveLength(1);
    const r = received[0]!;
    expect(r.body).toEqual({ ...escalated, id: result.id });
    expect(r.headers["content-type"]).toMatch(/^application\/json/);
    expect(r.headers["x-squadflow-event"]).toBe("card.escalated");
    expect(r.headers["x-squadflow-delivery"]).toBe(result.id);
  });

  it("sends a Slack incoming-webhook body ({ text, blocks }) to a slack webhook", async () => {
    const notify = createNotify();
    await notify({
      event: { ...escalated, event: "card.awaiting_human" },
      webhooks: [{ url: `${base}/slack`, format: "slack" }],
    });
    const body = received[0]!.body as { text: string; blocks: { type: string }[] };
    expect(Object.keys(body).sort()).toEqual(["blocks", "text"]);
    expect(body.text).toContain("*BE-002* (backlog shop) waits for a human review");
    expect(body.blocks.map((b) => b.type)).toEqual(["section", "context"]);
  });

  it("sends an event only to the webhooks that want it", async () => {
    const notify = createNotify({
      webhooks: [
        { url: `${base}/escalations`, events: ["card.escalated"] },
        { url: `${base}/costs`, events: ["card.cost_alert"] },
        { url: `${base}/all` },
      ],
    });
    const result = await notify({
      event: {
        event: "card.cost_alert",
        backlogId: "shop",
        cardId: "C",
        costUsd: 1.5,
        thresholdUsd: 1,
        at: escalated.at,
      },
    });
    expect(received.map((r) => r.path).sort()).toEqual(["/all", "/costs"]);
    expect(result.skipped).toBe(1);
  });

  it("throws a retryable NotificationDeliveryError on HTTP 500, and delivers when the retry gets a 2xx", async () => {
    behaviour.set("/flaky", [500, 200]);
    const notify = createNotify({ webhooks: [{ url: `${base}/flaky` }] });
    const err = await failure(notify({ event: escalated }));
    expect(err.type).toBe("NotificationDeliveryError");
    expect(err.nonRetryable).toBe(false);
    expect(err.message).toContain("HTTP 500");
    await expect(notify({ event: escalated })).resolves.toMatchObject({ delivered: [base] });
    expect(received).toHaveLength(2);
  });

  it("times out a webhook that does not answer (retryable)", async () => {
    behaviour.set("/hang", ["hang"]);
    const notify = createNotify({ webhooks: [{ url: `${base}/hang`, timeout_ms: 200 }] });
    const err = await failure(notify({ event: escalated }));
    expect(err).toMatchObject({ type: "NotificationDeliveryError", nonRetryable: false });
    expect(err.message).toContain("timed out after 200 ms");
  });

  it("does not retry a 4xx such as a revoked webhook (non-retryable NotificationRejectedError)", async () => {
    behaviour.set("/gone", [404]);
    const err = await failure(createNotify({ webhooks: [{ url: `${base}/gone` }] })({ event: escalated }));
    expect(err).toMatchObject({ type: "NotificationRejectedError", nonRetryable: true });
  });

  it("resolves url_env in the worker environment and never puts the URL in a message", async () => {
    const env = { HOOK_URL: `${base}/secret-token-123` };
    await createNotify({ env, webhooks: [{ url_env: "HOOK_URL" }] })({ event: escalated });
    expect(received[0]!.path).toBe("/secret-token-123");

    behaviour.set("/secret-token-123", [503]);
    const down = await failure(createNotify({ env, webhooks: [{ url_env: "HOOK_URL" }] })({ event: escalated }));
    expect(down.message).toContain("$HOOK_URL: HTTP 503");
    expect(down.message).not.toContain("secret-token");

    const missing = await failure(createNotify({ env: {}, webhooks: [{ url_env: "HOOK_URL" }] })({ event: escalated }));
    expect(missing).toMatchObject({ type: "NotificationConfigError", nonRetryable: true });
  });

  it("on a retry, does not send again to a webhook that already got the event (heartbeat details)", async () => {
    behaviour.set("/b", [500, 200]);
    const notify = createNotify({ webhooks: [{ url: `${base}/a` }, { url: `${base}/b` }] });
    const info = { activityId: "7", workflowExecution: { workflowId: "shop/BE-002", runId: "r1" } };
    const first = new MockActivityEnvironment(info);
    const beats: unknown[] = [];
    first.on("heartbeat", (d: unknown) => beats.push(d));
    await failure(first.run(notify, { event: escalated }));
    expect(received.map((r) => r.path)).toEqual(["/a", "/b"]);
    expect(beats[beats.length - 1]).toEqual({ delivered: [0], rejected: [] });

    const retry = new MockActivityEnvironment({ ...info, attempt: 2, heartbeatDetails: beats[beats.length - 1] });
    const result = await retry.run(notify, { event: escalated });
    expect(received.map((r) => r.path)).toEqual(["/a", "/b", "/b"]);
    expect((result as { delivered: string[] }).delivered).toEqual([base, base]);
    // The same delivery id on both attempts, for receivers that de-duplicate.
    expect(new Set(received.map((r) => r.headers["x-squadflow-delivery"]))).toEqual(new Set(["shop/BE-002#7"]));
  });

  it("refuses an invalid webhook config without sending anything (non-retryable)", async () => {
    const err = await failure(createNotify()({ event: escalated, webhooks: [{ url: "ftp://example.com" }] }));
    expect(err).toMatchObject({ type: "NotificationConfigError", nonRetryable: true });
    expect(received).toHaveLength(0);
  });
});
