/**
 * Notifications: the events squadflow tells people about, the `notifications` section of the squad
 * config that routes them to webhooks, and the two payload shapes (generic JSON, Slack incoming webhook).
 * Pure zod schemas and functions: the HTTP side is `src/activities/notify.ts`.
 *
 * ```jsonc
 * "notifications": {
 *   "webhooks": [
 *     { "url_env": "SLACK_WEBHOOK_URL", "format": "slack", "events": ["card.awaiting_human", "card.escalated"] },
 *     { "url": "https://ops.example.com/hooks/squadflow", "format": "json", "timeout_ms": 5000 }
 *   ]
 * }
 * ```
 */
import { z } from "zod";

/** Every event a webhook can receive. */
export const NOTIFICATION_EVENTS = [
  "card.escalated",
  "card.awaiting_human",
  "card.cost_alert",
  "backlog.finished",
] as const;

/** A notification event name, e.g. `card.awaiting_human`. */
export type NotificationEventType = (typeof NOTIFICATION_EVENTS)[number];

/** Default timeout of one webhook request, ms. */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;

/** An environment variable name (`SLACK_WEBHOOK_URL`). */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * One webhook. Exactly one of `url` (http/https, written in the file — and therefore also in workflow
 * history) or `url_env` (the name of an environment variable of the worker that holds the URL, so that
 * secrets such as Slack webhook URLs stay out of the file and out of history).
 * `events` limits what is sent (default: every event); `format` is `json` (default) or `slack`;
 * `timeout_ms` bounds one request (default 10 s).
 */
export const WebhookSchema = z
  .object({
    url: z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }).optional(),
    url_env: z.string().regex(ENV_NAME, "must be an environment variable name (letters, digits, _)").optional(),
    format: z.enum(["json", "slack"]).default("json"),
    events: z.array(z.enum(NOTIFICATION_EVENTS)).min(1).optional(),
    timeout_ms: z.number().int().positive().max(120_000).default(DEFAULT_WEBHOOK_TIMEOUT_MS),
  })
  .strict()
  .superRefine((w, ctx) => {
    if ((w.url === undefined) === (w.url_env === undefined)) {
      ctx.addIssue({ code: "custom", path: ["url"], message: "set exactly one of url or url_env" });
    }
  });

/** A webhook as configured (defaults applied). */
export type WebhookConfig = z.infer<typeof WebhookSchema>;
/** A webhook as written in the file (before defaults). */
export type WebhookConfigInput = z.input<typeof WebhookSchema>;

/**
 * The `notifications` section of the squad config (snake_case like the rest of the file). The lead adds
 * it to `SquadSchema` as `notifications: NotificationsSchema.optional()` (or `.default({ webhooks: [] })`).
 */
export const NotificationsSchema = z
  .object({
    webhooks: z.array(WebhookSchema).default([]),
  })
  .strict();

/** The `notifications` section, defaults applied. */
export type NotificationsConfig = z.infer<typeof NotificationsSchema>;

/**
 * One event, as the workflow (or the CLI) reports it. `at` is the time it happened (ISO-8601, workflow
 * time when sent by a workflow). Fields other than `event`, `backlogId` and `at` depend on the event:
 * - `card.escalated`: cardId, attempt, reason (the failure reasons that led to it);
 * - `card.awaiting_human`: cardId, attempt, reason;
 * - `card.cost_alert`: cardId, costUsd, thresholdUsd;
 * - `backlog.finished`: counts (cards per final status), costUsd (total).
 */
export interface NotificationEvent {
  event: NotificationEventType;
  backlogId: string;
  cardId?: string;
  status?: string;
  attempt?: number;
  /** USD spent (card, or backlog total for `backlog.finished`). */
  costUsd?: number;
  /** The cost alert threshold, USD. */
  thresholdUsd?: number;
  reason?: string;
  /** Cards per status, for `backlog.finished`. */
  counts?: Record<string, number>;
  /** Workflow ID the event is about. */
  workflowId?: string;
  /** Stable id of this event (same across retries) for receivers to de-duplicate; set by `notify` if absent. */
  id?: string;
  at: string;
}

/** True when `webhook` wants `event` (no `events` list means every event). */
export function webhookWants(webhook: Pick<WebhookConfig, "events">, event: NotificationEventType): boolean {
  return webhook.events === undefined || webhook.events.includes(event);
}

/** The `squadflow review …` command a human runs for a card awaiting review. */
export function reviewCommand(backlogId: string, cardId: string): string {
  return `npx squadflow review ${backlogId} ${cardId} --approve|--reject|--clarify "<context>" --reviewer <name> --reason "<why>"`;
}

/**
 * The generic JSON body: the event itself (`{ event, backlogId, cardId?, status?, …, at }`) plus, for
 * `card.awaiting_human`, the `reviewCommand`. Undefined fields are left out.
 */
export function jsonPayload(e: NotificationEvent): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) if (v !== undefined) body[k] = v;
  if (e.event === "card.awaiting_human" && e.cardId) body.reviewCommand = reviewCommand(e.backlogId, e.cardId);
  return body;
}

/** A Slack incoming-webhook body: `text` (the fallback shown in notifications) and `blocks`. */
export interface SlackPayload {
  text: string;
  blocks: Record<string, unknown>[];
}

/** The Slack incoming-webhook body of an event (mrkdwn; `&`, `<`, `>` in values are escaped). */
export function slackPayload(e: NotificationEvent): SlackPayload {
  const text = slackText(e);
  const context = [`\`${e.event}\``, esc(e.backlogId), e.at];
  if (e.workflowId) context.push(`workflow \`${esc(e.workflowId)}\``);
  return {
    text,
    blocks: [
      { type: "section", text: { type: "mrkdwn", text } },
      { type: "context", elements: [{ type: "mrkdwn", text: context.join(" · ") }] },
    ],
  };
}

function slackText(e: NotificationEvent): string {
  const card = `*${esc(e.cardId ?? "?")}* (backlog ${esc(e.backlogId)})`;
  const reason = e.reason ? `: ${esc(truncate(e.reason, 500))}` : "";
  switch (e.event) {
    case "card.escalated":
      return `:rotating_light: ${card} escalated${e.attempt !== undefined ? ` after attempt ${e.attempt}` : ""}${reason}`;
    case "card.awaiting_human":
      return `:raising_hand: ${card} waits for a human review${reason}\n\`${esc(reviewCommand(e.backlogId, e.cardId ?? "<card>"))}\``;
    case "card.cost_alert":
      return `:moneybag: ${card} cost ${usd(e.costUsd)} exceeds the alert threshold ${usd(e.thresholdUsd)}`;
    case "backlog.finished": {
      const counts = Object.entries(e.counts ?? {})
        .map(([s, n]) => `${esc(s)} ${n}`)
        .join(" · ");
      return `:checkered_flag: backlog *${esc(e.backlogId)}* finished${counts ? `: ${counts}` : ""}${e.costUsd !== undefined ? ` — ${usd(e.costUsd)}` : ""}`;
    }
  }
}

function usd(v: number | undefined): string {
  return v === undefined ? "$?" : `$${v.toFixed(2)}`;
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n - 1)}…`;
}

/** Slack mrkdwn escaping: https://api.slack.com/reference/surfaces/formatting#escaping */
function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
