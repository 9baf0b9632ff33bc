/**
 * What a running owner is doing, for `squadflow history` and `squadflow status --watch`: the last heartbeat
 * of the card workflow's pending `runOwner` activity (Temporal `describe()` → `pendingActivities`), whose
 * details the CLI agent kinds fill with the `progress` read from their event stream
 * (src/activities/agents/run.ts `AgentProgress`).
 */
import type { Client } from "@temporalio/client";
import type { Payload } from "@temporalio/common";
import { formatDuration } from "./render.js";

/** The running owner of a card, as its last heartbeat reported it. Fields absent when not reported. */
export interface OwnerProgress {
  /** Temporal's attempt of the activity (1 = first try, higher after retries). */
  activityAttempt: number;
  /** When the activity last heartbeat (ISO 8601). */
  lastHeartbeatAt?: string;
  /** How long the agent had been running at that heartbeat, ms. */
  elapsedMs?: number;
  /** Model turns so far. */
  turns?: number;
  /** Tokens reported so far (input including cache reads, output). */
  inputTokens?: number;
  outputTokens?: number;
  /** The last tool the agent called. */
  lastTool?: string;
}

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/**
 * The progress in the heartbeat details of an owner activity (`{ phase, elapsedMs, progress? }`), or
 * undefined when they hold none. Pure.
 */
export function progressOfDetails(details: unknown, activityAttempt: number, lastHeartbeatAt?: string): OwnerProgress {
  const d = (details !== null && typeof details === "object" ? details : {}) as Record<string, unknown>;
  const p = (d.progress !== null && typeof d.progress === "object" ? d.progress : {}) as Record<string, unknown>;
  const elapsedMs = num(d.elapsedMs);
  const turns = num(p.turns);
  const inputTokens = num(p.inputTokens);
  const outputTokens = num(p.outputTokens);
  return {
    activityAttempt,
    ...(lastHeartbeatAt !== undefined && { lastHeartbeatAt }),
    ...(elapsedMs !== undefined && { elapsedMs }),
    ...(turns !== undefined && { turns }),
    ...(inputTokens !== undefined && { inputTokens }),
    ...(outputTokens !== undefined && { outputTokens }),
    ...(typeof p.lastTool === "string" && { lastTool: p.lastTool }),
  };
}

/**
 * Reads the progress of the card workflow's running owner (`runOwner` pending, with at least one heartbeat),
 * decoding the heartbeat details with the client's data converter (codecs, e.g. encryption, included).
 *
 * @returns undefined when no owner activity is pending or it has not heartbeat yet
 * @throws what `describe()` throws (WorkflowNotFoundError, connection errors)
 */
export async function readOwnerProgress(client: Client, workflowId: string): Promise<OwnerProgress | undefined> {
  const description = await client.workflow.getHandle(workflowId).describe();
  const pending = (description.raw.pendingActivities ?? []).find((a) => a.activityType?.name === "runOwner");
  const raw = pending?.heartbeatDetails?.payloads;
  if (!pending || !raw || raw.length === 0) return undefined;
  const converter = client.options.loadedDataConverter;
  let payloads = raw as Payload[];
  // Codecs encode in order, so they decode in reverse.
  for (const codec of [...converter.payloadCodecs].reverse()) payloads = await codec.decode(payloads);
  const details: unknown = converter.payloadConverter.fromPayload(payloads[0]!);
  const seconds = pending.lastHeartbeatTime?.seconds;
  const at =
    seconds !== undefined && seconds !== null
      ? new Date(Number(seconds) * 1000 + Math.floor((pending.lastHeartbeatTime?.nanos ?? 0) / 1e6)).toISOString()
      : undefined;
  return progressOfDetails(details, pending.attempt ?? 1, at);
}

/**
 * One line for people: `running 1 min 05 s · 3 turns · 20000 in / 550 out tokens so far · last tool Write`.
 * `withElapsed: false` leaves the running time out (a board redrawn only on change must not change every tick). Pure.
 */
export function renderOwnerProgress(p: OwnerProgress, withElapsed = true): string {
  const parts: string[] = [];
  if (withElapsed && p.elapsedMs !== undefined) parts.push(`running ${formatDuration(p.elapsedMs)}`);
  if (p.turns !== undefined) parts.push(`${p.turns} turn${p.turns === 1 ? "" : "s"}`);
  if (p.inputTokens !== undefined || p.outputTokens !== undefined)
    parts.push(`${p.inputTokens ?? 0} in / ${p.outputTokens ?? 0} out tokens so far`);
  if (p.lastTool !== undefined) parts.push(`last tool ${p.lastTool}`);
  if (p.activityAttempt > 1) parts.push(`try ${p.activityAttempt}`);
  return parts.length > 0 ? parts.join(" · ") : "running (no progress reported yet)";
}
