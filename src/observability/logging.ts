/**
 * Structured logs: one JSON object per line (`SQUADFLOW_LOG_FORMAT=json`), and the card context
 * (backlog id, card id, attempt) that squadflow adds to every activity log line.
 *
 * A line looks like
 * ```json
 * {"time":"2025-01-01T12:00:00.000Z","level":"INFO","message":"Activity completed","service":"squadflow",
 *  "backlogId":"shop","cardId":"BE-002","attempt":2,"workflowId":"shop/BE-002","runId":"…",
 *  "activityType":"debugFailures","activityAttempt":1,"taskQueue":"squadflow-debugging","durationMs":3}
 * ```
 * Field names: `attempt` is the CARD's attempt (1-based, as in the card's state); the SDK's activity retry
 * attempt is renamed `activityAttempt`; the SDK's `workflowRunId` (activities) is renamed `runId` (the name
 * workflow log lines use). Workflow log lines get `backlogId`/`cardId` from their workflow ID
 * (`<backlogId>/<cardId>`) when they do not carry them. The card workflow's own lines (status changes,
 * audit entries — src/workflows/card-lifecycle.ts) carry `backlogId`, `cardId`, `attempt` and `status`
 * themselves:
 * ```json
 * {"time":"…","level":"INFO","message":"Card status changed","service":"squadflow","sdkComponent":"workflow",
 *  "taskQueue":"squadflow-orchestration","workflowId":"shop/BE-002","runId":"…","workflowType":"cardWorkflow",
 *  "backlogId":"shop","cardId":"BE-002","attempt":2,"status":"CORRECTING","from":"REJECTED"}
 * ```
 * Node-only.
 */
import type { LogEntry } from "@temporalio/worker";

/** The card a log line is about. */
export interface CardLogContext {
  backlogId?: string;
  cardId?: string;
  /** The card's attempt, 1-based. */
  attempt?: number;
}

/** A workflow ID's backlog and card: `<backlogId>` → backlog, `<backlogId>/<cardId>[-CORR-n]` → card. */
export function cardContextFromWorkflowId(workflowId: string | undefined): CardLogContext {
  if (!workflowId) return {};
  const slash = workflowId.indexOf("/");
  if (slash < 0) return { backlogId: workflowId };
  return { backlogId: workflowId.slice(0, slash), cardId: workflowId.slice(slash + 1).replace(/-CORR-\d+$/, "") };
}

const WORKSPACE = /^([^/]+)\/([^/]+)\/attempt-(\d+)$/;

/**
 * The card context of an activity's input (its first argument), whatever the activity: `backlogId`,
 * `card.id` / `cardId`, `attempt`, an attempt `workspace` (`<backlogId>/<cardId>/attempt-<n>`), the last
 * entry of a debugging `history`, or a notification `event`. Unknown shapes give `{}`. Never throws.
 */
export function cardContextFromArgs(args: readonly unknown[]): CardLogContext {
  const a = args[0];
  if (!isObject(a)) return {};
  const out: CardLogContext = {};
  const take = (src: Record<string, unknown>) => {
    const ws = typeof src.workspace === "string" ? WORKSPACE.exec(src.workspace) : null;
    if (ws) {
      out.backlogId ??= ws[1];
      out.cardId ??= ws[2];
      out.attempt ??= Number(ws[3]);
    }
    if (typeof src.backlogId === "string") out.backlogId = src.backlogId;
    if (isObject(src.card) && typeof src.card.id === "string") out.cardId = src.card.id;
    else if (typeof src.cardId === "string") out.cardId = src.cardId;
    if (typeof src.attempt === "number") out.attempt = src.attempt;
  };
  if (Array.isArray(a.history) && a.history.length > 0) {
    const last = a.history[a.history.length - 1];
    if (isObject(last)) take(last);
  }
  if (isObject(a.event)) take(a.event);
  take(a);
  return out;
}

/**
 * Rewrites an activity's SDK log attributes for squadflow: `attempt` → `activityAttempt`,
 * `workflowRunId` → `runId`, then the card context on top.
 */
export function activityLogAttributes(sdk: Record<string, unknown>, card: CardLogContext): Record<string, unknown> {
  const { attempt, workflowRunId, ...rest } = sdk;
  const out: Record<string, unknown> = { ...rest };
  if (attempt !== undefined) out.activityAttempt = attempt;
  if (workflowRunId !== undefined) out.runId = workflowRunId;
  for (const [k, v] of Object.entries(card)) if (v !== undefined) out[k] = v;
  return out;
}

/**
 * One log entry as one line of JSON (no trailing newline): `time` (ISO-8601, from the entry's
 * nanosecond timestamp), `level`, `message`, `service: "squadflow"`, then the metadata. Errors become
 * `{ name, message, type?, stack? }`, bigints strings; `backlogId`/`cardId` are derived from a
 * `workflowId` when missing. Never throws (unserialisable values become strings).
 */
export function formatJsonLogEntry(entry: LogEntry): string {
  const meta: Record<string, unknown> = { ...(entry.meta ?? {}) };
  if (meta.workflowRunId !== undefined && meta.runId === undefined) {
    meta.runId = meta.workflowRunId;
    delete meta.workflowRunId;
  }
  if (typeof meta.workflowId === "string" && (meta.backlogId === undefined || meta.cardId === undefined)) {
    const derived =
      meta.workflowType === "backlogWorkflow"
        ? { backlogId: meta.workflowId }
        : cardContextFromWorkflowId(meta.workflowId);
    meta.backlogId ??= derived.backlogId;
    if (derived.cardId !== undefined) meta.cardId ??= derived.cardId;
  }
  const line = {
    time: new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString(),
    level: entry.level,
    message: entry.message,
    service: "squadflow",
    ...meta,
  };
  try {
    return JSON.stringify(line, replacer);
  } catch {
    return JSON.stringify({
      time: line.time,
      level: line.level,
      message: line.message,
      service: "squadflow",
      meta: String(entry.meta),
    });
  }
}

function replacer(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Error) {
    const e = value as Error & { type?: string; cause?: unknown };
    return {
      name: e.name,
      message: e.message,
      ...(e.type ? { type: e.type } : {}),
      ...(e.stack ? { stack: e.stack } : {}),
      ...(e.cause ? { cause: e.cause } : {}),
    };
  }
  return value;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
