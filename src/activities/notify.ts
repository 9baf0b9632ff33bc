/**
 * The `notify` activity: POSTs one notification event to every configured webhook that wants it, as
 * generic JSON or as a Slack incoming-webhook message (src/domain/notifications.ts). Meant to be called
 * by workflows with a retry policy and without blocking the card (fire-and-forget from the card's point
 * of view, retried with backoff by Temporal).
 *
 * Delivery is at-least-once. A webhook that answered 2xx is recorded in the activity's heartbeat details,
 * so a retry (after another webhook failed) does not send to it again; receivers can also de-duplicate on
 * the `X-Squadflow-Delivery` header (the event id, the same across retries).
 *
 * Errors (ApplicationFailure types):
 * - `NotificationDeliveryError` — retryable: network error, timeout, 5xx, 408 or 429;
 * - `NotificationRejectedError` — non-retryable: any other 4xx (a revoked or wrong URL, a payload the
 *   receiver refuses — retrying cannot help), thrown only once no retryable failure is left;
 * - `NotificationConfigError` — non-retryable: a webhook's `url_env` variable is unset on the worker, or a
 *   webhook config is invalid.
 * Messages never contain a webhook URL (Slack URLs are secrets): a webhook is named by its `url_env`
 * variable or its URL's origin.
 */
import { randomUUID } from "node:crypto";
import { Context } from "@temporalio/activity";
import { ApplicationFailure } from "@temporalio/common";
import {
  DEFAULT_WEBHOOK_TIMEOUT_MS,
  WebhookSchema,
  jsonPayload,
  slackPayload,
  webhookWants,
  type NotificationEvent,
  type WebhookConfig,
  type WebhookConfigInput,
} from "../domain/notifications.js";

/** The `type`s of the ApplicationFailures `notify` throws. */
export const NotifyErrorType = {
  NotificationDeliveryError: "NotificationDeliveryError",
  NotificationRejectedError: "NotificationRejectedError",
  NotificationConfigError: "NotificationConfigError",
} as const;

/** Dependencies of {@link createNotify}. */
export interface NotifyDeps {
  /** Webhooks of this worker, used for every event (in addition to those passed in the input). */
  webhooks?: WebhookConfigInput[];
  /** The fetch implementation (default: the global `fetch`). */
  fetch?: typeof fetch;
  /** Environment `url_env` names are resolved in (default: the worker's `process.env`). */
  env?: Record<string, string | undefined>;
  /** Clock for `at` when an event has none (default `new Date()`). */
  now?: () => Date;
  /** Called once per webhook attempt: `ok` (2xx), `retryable` or `rejected` — e.g. for Prometheus counters. */
  onDelivery?: (outcome: { event: string; format: string; outcome: "ok" | "retryable" | "rejected" }) => void;
}

/** Input of the `notify` activity. */
export interface NotifyInput {
  event: NotificationEvent;
  /** Webhooks from the squad config's `notifications.webhooks` (validated again here). */
  webhooks?: WebhookConfigInput[];
}

/** What `notify` did. */
export interface NotifyResult {
  /** Event id sent as `X-Squadflow-Delivery`. */
  id: string;
  /** Webhooks (by name: `$ENV_NAME` or URL origin) that answered 2xx in this or an earlier attempt. */
  delivered: string[];
  /** Webhooks that do not want this event. */
  skipped: number;
}

/** What earlier attempts of this activity did, kept in its heartbeat details (indexes into the combined webhook list). */
interface Progress {
  delivered: number[];
  rejected: { index: number; message: string }[];
}

/**
 * Creates the `notify(input: NotifyInput): Promise<NotifyResult>` activity.
 * @throws ApplicationFailure (see the module docstring) when a webhook cannot be reached or refuses.
 */
export function createNotify(deps: NotifyDeps = {}) {
  const doFetch = deps.fetch ?? globalThis.fetch;
  const env = deps.env ?? process.env;
  const base = parseWebhooks(deps.webhooks ?? [], "worker");

  return async function notify(input: NotifyInput): Promise<NotifyResult> {
    const webhooks = [...base, ...parseWebhooks(input.webhooks ?? [], "notifications.webhooks")];
    const ctx = activityContext();
    const event: NotificationEvent = {
      ...input.event,
      id: input.event.id ?? deliveryId(ctx),
      at: input.event.at ?? (deps.now?.() ?? new Date()).toISOString(),
    };
    const progress: Progress = previousProgress(ctx);
    const delivered: string[] = [];
    const retryable: string[] = [];
    let skipped = 0;

    for (const [i, webhook] of webhooks.entries()) {
      if (!webhookWants(webhook, event.event)) {
        skipped++;
        continue;
      }
      const name = webhookName(webhook);
      if (progress.delivered.includes(i)) {
        delivered.push(name);
        continue;
      }
      if (progress.rejected.some((r) => r.index === i)) continue;
      const url = resolveUrl(webhook, env);
      const outcome = await post(doFetch, url, webhook, event, ctx?.cancellationSignal);
      deps.onDelivery?.({ event: event.event, format: webhook.format, outcome: outcome.kind });
      if (outcome.kind === "ok") {
        delivered.push(name);
        progress.delivered.push(i);
      } else if (outcome.kind === "rejected") {
        progress.rejected.push({ index: i, message: `${name}: ${outcome.message}` });
      } else {
        retryable.push(`${name}: ${outcome.message}`);
      }
      ctx?.heartbeat(progress);
    }

    if (retryable.length > 0) {
      throw ApplicationFailure.retryable(
        `${event.event} notification not delivered to ${retryable.join("; ")}`,
        NotifyErrorType.NotificationDeliveryError,
      );
    }
    if (progress.rejected.length > 0) {
      throw ApplicationFailure.nonRetryable(
        `${event.event} notification refused by ${progress.rejected.map((r) => r.message).join("; ")}`,
        NotifyErrorType.NotificationRejectedError,
      );
    }
    return { id: event.id!, delivered, skipped };
  };
}

/** The `notify` activity's type. */
export type NotifyActivity = ReturnType<typeof createNotify>;

/** A webhook's name for messages and results: `$ENV_NAME`, or the origin of its URL (never the path, which may be secret). */
export function webhookName(webhook: Pick<WebhookConfig, "url" | "url_env">): string {
  if (webhook.url_env) return `$${webhook.url_env}`;
  try {
    return new URL(webhook.url!).origin;
  } catch {
    return "(invalid url)";
  }
}

function parseWebhooks(list: WebhookConfigInput[], where: string): WebhookConfig[] {
  return list.map((raw, i) => {
    const parsed = WebhookSchema.safeParse(raw);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((is) => `${is.path.join(".") || "(root)"}: ${is.message}`).join("; ");
      throw ApplicationFailure.nonRetryable(
        `invalid webhook ${where}[${i}]: ${issues}`,
        NotifyErrorType.NotificationConfigError,
      );
    }
    return parsed.data;
  });
}

function resolveUrl(webhook: WebhookConfig, env: Record<string, string | undefined>): string {
  if (webhook.url) return webhook.url;
  const value = env[webhook.url_env!]?.trim();
  if (!value) {
    throw ApplicationFailure.nonRetryable(
      `webhook url_env ${webhook.url_env} is not set in the worker's environment`,
      NotifyErrorType.NotificationConfigError,
    );
  }
  if (!/^https?:\/\//i.test(value)) {
    throw ApplicationFailure.nonRetryable(
      `webhook url_env ${webhook.url_env} does not hold an http(s) URL`,
      NotifyErrorType.NotificationConfigError,
    );
  }
  return value;
}

type PostOutcome = { kind: "ok" } | { kind: "retryable" | "rejected"; message: string };

async function post(
  doFetch: typeof fetch,
  url: string,
  webhook: WebhookConfig,
  event: NotificationEvent,
  cancelled: AbortSignal | undefined,
): Promise<PostOutcome> {
  const timeoutMs = webhook.timeout_ms ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = cancelled ? AbortSignal.any([timeout, cancelled]) : timeout;
  const body = webhook.format === "slack" ? slackPayload(event) : jsonPayload(event);
  let res: Response;
  try {
    res = await doFetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json; charset=utf-8",
        "user-agent": "squadflow",
        "x-squadflow-event": event.event,
        "x-squadflow-delivery": event.id!,
      },
      body: JSON.stringify(body),
      signal,
      redirect: "error",
    });
  } catch (err) {
    if (cancelled?.aborted) throw cancelled.reason instanceof Error ? cancelled.reason : err;
    if (timeout.aborted) return { kind: "retryable", message: `timed out after ${timeoutMs} ms` };
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return {
      kind: "retryable",
      message: `request failed (${cause?.code ?? cause?.message ?? (err as Error).message})`,
    };
  }
  const text = await res.text().catch(() => "");
  if (res.ok) return { kind: "ok" };
  const message = `HTTP ${res.status}${text ? ` ${JSON.stringify(text.slice(0, 200))}` : ""}`;
  const retry = res.status >= 500 || res.status === 408 || res.status === 429;
  return { kind: retry ? "retryable" : "rejected", message };
}

interface NotifyContext {
  heartbeat: (details: Progress) => void;
  cancellationSignal: AbortSignal;
  heartbeatDetails: unknown;
  workflowId?: string;
  activityId: string;
}

/** The running activity's context, or undefined when `notify` is called as a plain function. */
function activityContext(): NotifyContext | undefined {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return undefined;
  }
  return {
    heartbeat: (d) => ctx.heartbeat(d),
    cancellationSignal: ctx.cancellationSignal,
    heartbeatDetails: ctx.info.heartbeatDetails,
    workflowId: ctx.info.workflowExecution?.workflowId,
    activityId: ctx.info.activityId,
  };
}

/** Same id on every retry of one activity: `<workflowId>#<activityId>`; random outside an activity. */
function deliveryId(ctx: NotifyContext | undefined): string {
  return ctx ? `${ctx.workflowId ?? "standalone"}#${ctx.activityId}` : randomUUID();
}

function previousProgress(ctx: NotifyContext | undefined): Progress {
  const d = ctx?.heartbeatDetails as Partial<Progress> | undefined;
  return {
    delivered: Array.isArray(d?.delivered) ? d.delivered.filter((n): n is number => typeof n === "number") : [],
    rejected: Array.isArray(d?.rejected)
      ? d.rejected.filter(
          (r): r is Progress["rejected"][number] => typeof r?.index === "number" && typeof r.message === "string",
        )
      : [],
  };
}
