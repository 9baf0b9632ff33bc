/** The `notifications` config schema and the two payload shapes (src/domain/notifications.ts). */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  NotificationsSchema,
  WebhookSchema,
  jsonPayload,
  slackPayload,
  webhookWants,
} from "../../src/domain/notifications.js";

describe("NotificationsSchema", () => {
  it("accepts webhooks by url or url_env and applies defaults", () => {
    const cfg = NotificationsSchema.parse({
      webhooks: [
        { url: "https://hooks.example.com/a", events: ["card.escalated"] },
        { url_env: "SLACK_WEBHOOK_URL", format: "slack" },
      ],
    });
    expect(cfg.webhooks).toEqual([
      { url: "https://hooks.example.com/a", events: ["card.escalated"], format: "json", timeout_ms: 10_000 },
      { url_env: "SLACK_WEBHOOK_URL", format: "slack", timeout_ms: 10_000 },
    ]);
    expect(NotificationsSchema.parse({})).toEqual({ webhooks: [] });
  });

  it("refuses a webhook with neither or both of url and url_env, a non-http URL, a bad env name, an unknown event or field", () => {
    const bad = [
      { format: "json" },
      { url: "https://x.example.com", url_env: "X" },
      { url: "ftp://x.example.com/hook" },
      { url: "not a url" },
      { url_env: "NOT-A-NAME" },
      { url: "https://x.example.com", events: ["card.exploded"] },
      { url: "https://x.example.com", secret: "x" },
      { url: "https://x.example.com", format: "teams" },
    ];
    for (const w of bad) expect(WebhookSchema.safeParse(w).success, JSON.stringify(w)).toBe(false);
  });
});

describe("payloads", () => {
  const event = {
    event: "card.awaiting_human" as const,
    backlogId: "shop",
    cardId: "BE-002",
    attempt: 4,
    reason: "qa: tests <failed> & more",
    at: "2025-01-01T00:00:00.000Z",
  };

  it("sends the event as generic JSON, with the review command for a card awaiting a human", () => {
    expect(jsonPayload({ ...event, costUsd: undefined })).toEqual({
      ...event,
      reviewCommand:
        'npx squadflow review shop BE-002 --approve|--reject|--clarify "<context>" --reviewer <name> --reason "<why>"',
    });
  });

  it("sends Slack text and blocks, escaping &, < and >", () => {
    const slack = slackPayload(event);
    expect(slack.text).toContain(
      "*BE-002* (backlog shop) waits for a human review: qa: tests &lt;failed&gt; &amp; more",
    );
    expect(slack.text).toContain("npx squadflow review shop BE-002");
    expect(slack.blocks[0]).toEqual({ type: "section", text: { type: "mrkdwn", text: slack.text } });
    expect(slack.blocks[1]).toMatchObject({ type: "context" });
    expect(
      slackPayload({
        event: "backlog.finished",
        backlogId: "shop",
        counts: { DONE: 9, REJECTED: 1 },
        costUsd: 1.5,
        at: event.at,
      }).text,
    ).toBe(":checkered_flag: backlog *shop* finished: DONE 9 · REJECTED 1 — $1.50");
  });

  it("filters events per webhook", () => {
    expect(webhookWants({}, "card.cost_alert")).toBe(true);
    expect(webhookWants({ events: ["card.escalated"] }, "card.cost_alert")).toBe(false);
  });
});

describe('docs/operations.md "Notifications" example', () => {
  it("is a valid notifications section", () => {
    const doc = readFileSync(new URL("../../docs/operations.md", import.meta.url), "utf8");
    const at = doc.indexOf("## Notifications");
    expect(at, 'a section "Notifications" in docs/operations.md').toBeGreaterThanOrEqual(0);
    const m = /```jsonc\n([\s\S]*?)\n```/.exec(doc.slice(at));
    expect(m, 'a jsonc example in docs/operations.md "Notifications"').not.toBeNull();
    const { notifications } = JSON.parse(`{${m![1]}}`) as { notifications: unknown };
    expect(NotificationsSchema.parse(notifications).webhooks).toHaveLength(2);
  });
});
