/**
 * Helpers of the agent-kind tests: stand-in CLI executables (small node scripts in ./fixtures that emit
 * recorded outputs in each CLI's documented format), a local HTTP server speaking the LLM providers' wire
 * protocols, and hooks that record heartbeats and log lines.
 */
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ActivityHooks } from "../../../src/activities/context.js";
import type { OwnerInput } from "../../../src/domain/attempt.js";
import type { AgentConfig } from "../../../src/domain/squad.js";
import { card, type Sandbox } from "../helpers.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));

/**
 * An executable stand-in for a CLI: `<sandbox>/bin/<name>`, a shell wrapper that execs this Node binary on
 * `fixtures/fake-<cli>.mjs` with the arguments it was given.
 */
export async function fakeCli(sb: Sandbox, cli: "claude" | "codex" | "gemini", name = cli): Promise<string> {
  const bin = join(sb.dir, "bin");
  await mkdir(bin, { recursive: true });
  const path = join(bin, name);
  await writeFile(path, `#!/bin/sh\nexec "${process.execPath}" "${join(FIXTURES, `fake-${cli}.mjs`)}" "$@"\n`);
  await chmod(path, 0o755);
  return path;
}

/** An owner input for an agent config (as written in a squad file: defaults are applied by runOwner). */
export function ownerInput(agent: unknown, extra: Partial<OwnerInput> = {}): OwnerInput {
  return {
    backlogId: "shop",
    card: card(),
    attempt: 1,
    agent: agent as AgentConfig,
    workspace: "shop/SPEC-001/attempt-1",
    dependencies: [],
    ...extra,
  };
}

/** Hooks that record heartbeats and log lines. */
export function recordingHooks(signal?: AbortSignal): {
  hooks: () => ActivityHooks;
  beats: unknown[];
  logs: { level: "info" | "warn"; message: string; meta?: Record<string, unknown> }[];
} {
  const beats: unknown[] = [];
  const logs: { level: "info" | "warn"; message: string; meta?: Record<string, unknown> }[] = [];
  const hooks: ActivityHooks = {
    heartbeat: (d) => beats.push(d),
    ...(signal && { cancellationSignal: signal }),
    log: {
      info: (message, meta) => logs.push({ level: "info", message, meta }),
      warn: (message, meta) => logs.push({ level: "warn", message, meta }),
    },
  };
  return { hooks: () => hooks, beats, logs };
}

/** A request the fake LLM server received. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: any;
}

/** A scripted answer: HTTP status, JSON body, optional delay (ms). */
export interface ScriptedResponse {
  status?: number;
  body: unknown;
  delayMs?: number;
}

/**
 * A local HTTP server on 127.0.0.1 (random port) answering POSTs with the scripted responses in order
 * (the last one repeats), recording every request.
 */
export async function llmServer(
  responses: ScriptedResponse[] | ((req: RecordedRequest, n: number) => ScriptedResponse),
): Promise<{
  url: string;
  requests: RecordedRequest[];
  close: () => Promise<void>;
}> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    let raw = "";
    req
      .on("data", (d) => (raw += d))
      .on("end", () => {
        let body: unknown = raw;
        try {
          body = JSON.parse(raw);
        } catch {
          // keep the raw text
        }
        const rec: RecordedRequest = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, body };
        requests.push(rec);
        const n = requests.length - 1;
        const scripted =
          typeof responses === "function" ? responses(rec, n) : responses[Math.min(n, responses.length - 1)]!;
        const send = (): void => {
          if (res.destroyed) return;
          res.writeHead(scripted.status ?? 200, { "content-type": "application/json" });
          res.end(JSON.stringify(scripted.body));
        };
        if (scripted.delayMs) setTimeout(send, scripted.delayMs);
        else send();
      });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** An Anthropic Messages API response whose content is one `tool_use` block. */
export function anthropicToolUse(
  name: string,
  input: unknown,
  usage: Record<string, number> = {},
  extra: Record<string, unknown> = {},
): unknown {
  return {
    id: "msg_01",
    type: "message",
    role: "assistant",
    model: "claude-sonnet-4-6",
    content: [{ type: "tool_use", id: "toolu_01", name, input }],
    stop_reason: "tool_use",
    stop_sequence: null,
    usage: {
      input_tokens: 1000,
      output_tokens: 500,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      ...usage,
    },
    ...extra,
  };
}

/** An OpenAI Chat Completions response whose message content is `content`. */
export function openAiCompletion(
  content: string | null,
  usage: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): unknown {
  return {
    id: "chatcmpl-1",
    object: "chat.completion",
    created: 1_700_000_000,
    model: "gpt-4.1-mini-2025-04-14",
    choices: [
      { index: 0, message: { role: "assistant", content, refusal: null }, finish_reason: "stop", logprobs: null },
    ],
    usage: {
      prompt_tokens: 2000,
      completion_tokens: 300,
      total_tokens: 2300,
      prompt_tokens_details: { cached_tokens: 500 },
      ...usage,
    },
    ...extra,
  };
}

/** An API error body in the Anthropic shape. */
export function anthropicError(type: string, message: string): unknown {
  return { type: "error", error: { type, message } };
}
