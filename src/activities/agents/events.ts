/**
 * Owner events (issue 12, seed 003's event-based reviews): one convention for every agent kind. An agent
 * emits an event by writing, on a line of its own, the JSON object
 * `{"squadflow":"milestone"|"request_review"|"blocker","name":"<short text>"}`:
 * - a `command` agent on stdout, before its answer (agents/command.ts);
 * - a CLI agent (Claude Code, Codex, Gemini CLI) in the text it writes to the user — its assistant
 *   messages, read from its JSON stream as they arrive (`assistantText`).
 * Events are read while the agent runs: each one goes to the run's sink as soon as its line is complete
 * (owner.ts snapshots the work and tells the workflow, which may review at that event), and all of them
 * come back in `OwnerResult.events`, in order.
 */
import { z } from "zod";
import type { OwnerEvent } from "../../domain/attempt.js";
import type { AgentConfig } from "../../domain/squad.js";

/**
 * A JSON object on one line (an agent's stream event, an event line), or undefined for anything else
 * (blank, text, an array, malformed JSON). Re-exported by run.ts for the CLI runners.
 */
export function jsonLine(line: string): Record<string, unknown> | undefined {
  const t = line.trim();
  if (!t.startsWith("{")) return undefined;
  try {
    const v: unknown = JSON.parse(t);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Where the events of a run go as they are read (set by owner.ts; absent: they are only collected). */
export type OwnerEventSink = (event: OwnerEvent) => void;

/** An event line (see the module docstring); `name` 1–200 characters. */
const EventLineSchema = z.object({
  squadflow: z.enum(["milestone", "request_review", "blocker"]),
  name: z.string().min(1).max(200),
});

/** The event a line holds (`{"squadflow": …, "name": …}`, whitespace around allowed), or undefined. */
export function parseEventLine(line: string): OwnerEvent | undefined {
  const t = line.trim();
  if (!/^\{\s*"squadflow"/.test(t)) return undefined;
  try {
    const e = EventLineSchema.safeParse(JSON.parse(t));
    return e.success ? { kind: e.data.squadflow, name: e.data.name } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads events out of text that arrives in pieces (stdout chunks, an assistant's streamed deltas): a line
 * counts once it is complete (its newline came, or `end()`). `events` holds every event read, in order;
 * `sink` hears each one as it is read (a sink that throws is ignored: events are best effort).
 */
export class EventScanner {
  readonly events: OwnerEvent[] = [];
  private partial = "";

  constructor(private readonly sink?: OwnerEventSink) {}

  /** Adds text; every line it completes is read. */
  push(text: string): void {
    const lines = (this.partial + text).split("\n");
    this.partial = lines.pop()!;
    for (const line of lines) this.read(line);
  }

  /** Reads what is left (a last line without its newline). */
  end(): void {
    const rest = this.partial;
    this.partial = "";
    if (rest !== "") this.read(rest);
  }

  private read(line: string): void {
    const e = parseEventLine(line);
    if (!e) return;
    this.events.push(e);
    try {
      this.sink?.(e);
    } catch {
      // A sink failure must not fail the agent's run.
    }
  }
}

/**
 * The assistant's text in one line of a CLI agent's JSON stream, to scan for event lines, or undefined
 * when the line carries none:
 * - `claude-code` (stream-json): an `assistant` message's `text` content blocks, each a whole text;
 * - `codex` (`exec --json`): a completed `agent_message` item's `text`, a whole text;
 * - `gemini` (stream-json): an assistant `message`'s `content` delta (lines may span deltas); any other
 *   event ends the reply in progress (a newline).
 */
export function assistantText(kind: Exclude<AgentConfig["kind"], "command" | "llm">, line: string): string | undefined {
  const ev = jsonLine(line);
  if (!ev || typeof ev.type !== "string") return undefined;
  if (kind === "claude-code") {
    if (ev.type !== "assistant") return undefined;
    const content = (ev.message as { content?: { type?: string; text?: unknown }[] } | undefined)?.content ?? [];
    const texts = content.flatMap((b) => (b.type === "text" && typeof b.text === "string" ? [b.text] : []));
    return texts.length > 0 ? texts.join("\n") + "\n" : undefined;
  }
  if (kind === "codex") {
    if (ev.type !== "item.completed") return undefined;
    const item = ev.item as { type?: string; item_type?: string; text?: unknown } | undefined;
    const type = item?.type ?? item?.item_type;
    return type === "agent_message" && typeof item?.text === "string" ? item.text + "\n" : undefined;
  }
  if (ev.type === "message" && ev.role === "assistant") return typeof ev.content === "string" ? ev.content : undefined;
  return "\n";
}

/**
 * What an owner prompt says about events when the card type reviews at them (`peer_review.trigger:
 * "on_milestone"`): how to emit one, in the agent's own messages.
 */
export const EVENTS_PROMPT = [
  "## Milestones and blockers",
  "This card is peer-reviewed at its milestones. When you finish a meaningful step (e.g. the schema is written,",
  "the API compiles), write on a line of its own in your reply, exactly:",
  '{"squadflow":"milestone","name":"<what is done, a few words>"}',
  'To ask for a review now, use "request_review" instead of "milestone". If you are stuck and need a human',
  '(a missing secret, a contradiction in the card), write {"squadflow":"blocker","name":"<what blocks you>"} and stop.',
].join("\n");
