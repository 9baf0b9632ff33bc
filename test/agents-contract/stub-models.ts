/**
 * Local stub model servers for the agent contract tests: one HTTP server on 127.0.0.1 (random port) per
 * test, speaking one provider's wire protocol with server-sent events, scripted turn by turn:
 *
 * - `anthropic` — Anthropic Messages, `POST /v1/messages` with `stream: true` (Claude Code);
 * - `openai` — OpenAI Responses, `POST /v1/responses` with `stream: true` (Codex);
 * - `gemini` — Gemini `POST /v1beta/models/<model>:streamGenerateContent?alt=sse` (Gemini CLI).
 *
 * A "turn" is one request of the agent's main loop (a request that offers tools); the script answers the
 * n-th turn with its n-th step (the last step repeats). Helper requests without tools (titles, summaries,
 * token counts) get a short text answer and do not use up a step. Every request is recorded (path,
 * headers, parsed body, which step answered it), so tests can assert prompts, tools and resumed history.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** Tokens a scripted turn reports (a realistic split: most input is served from the prompt cache). */
export interface StubUsage {
  input: number;
  output: number;
  /** Input tokens read from the prompt cache (included in `input` for OpenAI and Gemini, apart for Anthropic). */
  cacheRead?: number;
}

/** One scripted answer of the stub. */
export type StubStep =
  /** A tool call that writes `content` to `path` (relative to the agent's workspace; made absolute for tools that want it). */
  | { kind: "write"; path: string; content: string; usage?: StubUsage }
  /** A final text answer. */
  | { kind: "answer"; text: string; usage?: StubUsage }
  /** An HTTP error in the provider's error shape. */
  | { kind: "error"; status: number; type?: string; message?: string }
  /** Accepts the request and never answers (the connection stays open until the server closes). */
  | { kind: "hang" };

/** The wire protocols the stubs speak. */
export type StubProtocol = "anthropic" | "openai" | "gemini";

/** A request the stub received. */
export interface StubRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: any;
  /** Index of the script step that answered it (a main-loop turn); undefined for helper requests. */
  step?: number;
}

/** A running stub: `url` to point the CLI at, `requests` received so far, `turns` (main-loop requests only). */
export interface StubModel {
  url: string;
  requests: StubRequest[];
  turns(): StubRequest[];
  /** Resolves once `n` main-loop turns have arrived (tests wait on this instead of sleeping). */
  waitForTurns(n: number): Promise<void>;
  close(): Promise<void>;
}

/** Usage of a step when the script names none. */
export const DEFAULT_USAGE: StubUsage = { input: 12_000, output: 400, cacheRead: 8_000 };

/**
 * Starts a stub for `protocol` answering main-loop turns with `steps` in order.
 * @param workspace the agent's absolute working directory (`write` steps give tools that want absolute paths `<workspace>/<path>`)
 */
export async function startStubModel(protocol: StubProtocol, steps: StubStep[], workspace: string): Promise<StubModel> {
  const requests: StubRequest[] = [];
  const waiters: { n: number; resolve: () => void }[] = [];
  const open = new Set<ServerResponse>();
  const turns = (): StubRequest[] => requests.filter((r) => r.step !== undefined);
  const server = createServer((req, res) => {
    let raw = "";
    req.setEncoding("utf8");
    req
      .on("data", (d: string) => (raw += d))
      .on("end", () => {
        let body: unknown = raw;
        try {
          body = raw === "" ? undefined : JSON.parse(raw);
        } catch {
          // keep the raw text
        }
        const rec: StubRequest = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, body };
        const mainLoop = isMainLoop(protocol, rec);
        if (mainLoop) rec.step = Math.min(turns().length, steps.length - 1);
        requests.push(rec);
        const n = turns().length;
        for (const w of waiters.filter((x) => x.n <= n)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
        if (!mainLoop) return helperAnswer(protocol, rec, res);
        const step = steps[rec.step!]!;
        if (step.kind === "hang") {
          open.add(res);
          res.on("close", () => open.delete(res));
          return;
        }
        if (step.kind === "error") return errorAnswer(protocol, step, res);
        const model = modelOf(protocol, rec);
        const write = (event: string | undefined, data: unknown): void => {
          res.write(`${event ? `event: ${event}\n` : ""}data: ${JSON.stringify(data)}\n\n`);
        };
        res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
        if (protocol === "anthropic") anthropicTurn(step, rec.step!, model, workspace, write);
        else if (protocol === "openai") openAiTurn(step, rec.step!, model, write);
        else geminiTurn(step, rec.step!, model, workspace, write);
        res.end();
      });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    turns,
    waitForTurns: (n) =>
      turns().length >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve })),
    close: () =>
      new Promise<void>((r) => {
        for (const res of open) res.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function isMainLoop(protocol: StubProtocol, r: StubRequest): boolean {
  if (r.method !== "POST" || r.body === null || typeof r.body !== "object") return false;
  const tools = (r.body as { tools?: unknown[] }).tools;
  if (!Array.isArray(tools) || tools.length === 0) return false;
  if (protocol === "anthropic")
    return r.path.startsWith("/v1/messages") && !r.path.startsWith("/v1/messages/count_tokens");
  if (protocol === "openai") return r.path.startsWith("/v1/responses");
  return r.path.includes(":streamGenerateContent");
}

function modelOf(protocol: StubProtocol, r: StubRequest): string {
  if (protocol === "gemini") return /models\/([^:/?]+)/.exec(r.path)?.[1] ?? "gemini-2.5-pro";
  return String((r.body as { model?: string }).model ?? "unknown");
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

/** Requests outside the main loop: a short text in the protocol's shape (or an empty model list). */
function helperAnswer(protocol: StubProtocol, r: StubRequest, res: ServerResponse): void {
  if (r.method !== "POST") return json(res, 200, { object: "list", data: [] });
  if (protocol === "anthropic") {
    if (r.path.startsWith("/v1/messages/count_tokens")) return json(res, 200, { input_tokens: 100 });
    if ((r.body as { stream?: boolean })?.stream) {
      res.writeHead(200, { "content-type": "text/event-stream" });
      anthropicTurn(
        { kind: "answer", text: "ok", usage: { input: 50, output: 5 } },
        -1,
        modelOf(protocol, r),
        "",
        (e, d) => res.write(`event: ${e}\ndata: ${JSON.stringify(d)}\n\n`),
      );
      return void res.end();
    }
    return json(res, 200, {
      id: "msg_helper",
      type: "message",
      role: "assistant",
      model: modelOf(protocol, r),
      content: [{ type: "text", text: "ok" }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 50, output_tokens: 5 },
    });
  }
  if (protocol === "gemini") {
    if (r.path.includes(":countTokens")) return json(res, 200, { totalTokens: 100 });
    const chunk = geminiChunk([{ text: "ok" }], { input: 50, output: 5 }, modelOf(protocol, r), "helper");
    if (r.path.includes("alt=sse")) {
      res.writeHead(200, { "content-type": "text/event-stream" });
      return void res.end(`data: ${JSON.stringify(chunk)}\n\n`);
    }
    return json(res, 200, chunk);
  }
  return json(res, 200, {
    id: "resp_helper",
    object: "response",
    status: "completed",
    output: [],
    usage: openAiUsage({ input: 50, output: 5 }),
  });
}

function errorAnswer(protocol: StubProtocol, step: Extract<StubStep, { kind: "error" }>, res: ServerResponse): void {
  const message = step.message ?? defaultErrorMessage(step.status);
  if (protocol === "anthropic") {
    return json(
      res,
      step.status,
      { type: "error", error: { type: step.type ?? anthropicErrorType(step.status), message } },
      { "request-id": "req_stub" },
    );
  }
  if (protocol === "openai") {
    return json(res, step.status, {
      error: { message, type: step.type ?? "invalid_request_error", param: null, code: step.type ?? null },
    });
  }
  return json(res, step.status, {
    error: { code: step.status, message, status: step.type ?? googleStatus(step.status) },
  });
}

function defaultErrorMessage(status: number): string {
  switch (status) {
    case 401:
      return "invalid x-api-key";
    case 400:
      return "API key not valid. Please pass a valid API key.";
    case 429:
      return "Rate limit reached for requests";
    case 529:
      return "Overloaded";
    default:
      return "Internal server error";
  }
}

function anthropicErrorType(status: number): string {
  return (
    {
      400: "invalid_request_error",
      401: "authentication_error",
      403: "permission_error",
      404: "not_found_error",
      429: "rate_limit_error",
      529: "overloaded_error",
    }[status] ?? "api_error"
  );
}

function googleStatus(status: number): string {
  return (
    {
      400: "INVALID_ARGUMENT",
      401: "UNAUTHENTICATED",
      403: "PERMISSION_DENIED",
      404: "NOT_FOUND",
      429: "RESOURCE_EXHAUSTED",
      503: "UNAVAILABLE",
    }[status] ?? "INTERNAL"
  );
}

type Write = (event: string | undefined, data: unknown) => void;

function anthropicTurn(
  step: Extract<StubStep, { kind: "write" | "answer" }>,
  n: number,
  model: string,
  workspace: string,
  write: Write,
): void {
  const u = step.usage ?? DEFAULT_USAGE;
  const cacheRead = u.cacheRead ?? 0;
  write("message_start", {
    type: "message_start",
    message: {
      id: `msg_stub_${n + 1}`,
      type: "message",
      role: "assistant",
      model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: u.input,
        output_tokens: 1,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: cacheRead,
      },
    },
  });
  if (step.kind === "write") {
    const input = JSON.stringify({ file_path: `${workspace}/${step.path}`, content: step.content });
    write("content_block_start", {
      type: "content_block_start",
      index: 0,
      content_block: { type: "tool_use", id: `toolu_stub_${n + 1}`, name: "Write", input: {} },
    });
    write("content_block_delta", {
      type: "content_block_delta",
      index: 0,
      delta: { type: "input_json_delta", partial_json: input },
    });
  } else {
    write("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
    write("content_block_delta", {
      type: "content_block_delta",
      index: 0,
      delta: { type: "text_delta", text: step.text },
    });
  }
  write("content_block_stop", { type: "content_block_stop", index: 0 });
  write("message_delta", {
    type: "message_delta",
    delta: { stop_reason: step.kind === "write" ? "tool_use" : "end_turn", stop_sequence: null },
    usage: { output_tokens: u.output },
  });
  write("message_stop", { type: "message_stop" });
}

function openAiUsage(u: StubUsage): Record<string, unknown> {
  return {
    input_tokens: u.input,
    input_tokens_details: { cached_tokens: u.cacheRead ?? 0 },
    output_tokens: u.output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: u.input + u.output,
  };
}

function openAiTurn(
  step: Extract<StubStep, { kind: "write" | "answer" }>,
  n: number,
  model: string,
  write: Write,
): void {
  const id = `resp_stub_${n + 1}`;
  const base = { id, object: "response", created_at: 1_765_000_000 + n, model };
  write("response.created", {
    type: "response.created",
    sequence_number: 0,
    response: { ...base, status: "in_progress", output: [], usage: null },
  });
  const item =
    step.kind === "write"
      ? {
          type: "custom_tool_call",
          id: `ctc_stub_${n + 1}`,
          call_id: `call_stub_${n + 1}`,
          name: "apply_patch",
          status: "completed",
          input: [
            "*** Begin Patch",
            `*** Add File: ${step.path}`,
            ...step.content
              .replace(/\n$/, "")
              .split("\n")
              .map((l) => `+${l}`),
            "*** End Patch",
            "",
          ].join("\n"),
        }
      : {
          type: "message",
          id: `msg_stub_${n + 1}`,
          role: "assistant",
          status: "completed",
          content: [{ type: "output_text", text: step.text, annotations: [] }],
        };
  write("response.output_item.added", {
    type: "response.output_item.added",
    sequence_number: 1,
    output_index: 0,
    item,
  });
  if (step.kind === "answer") {
    write("response.output_text.delta", {
      type: "response.output_text.delta",
      sequence_number: 2,
      item_id: item.id,
      output_index: 0,
      content_index: 0,
      delta: step.text,
    });
  }
  write("response.output_item.done", { type: "response.output_item.done", sequence_number: 3, output_index: 0, item });
  write("response.completed", {
    type: "response.completed",
    sequence_number: 4,
    response: { ...base, status: "completed", output: [item], usage: openAiUsage(step.usage ?? DEFAULT_USAGE) },
  });
}

function geminiChunk(parts: unknown[], u: StubUsage, model: string, id: string): Record<string, unknown> {
  return {
    candidates: [{ content: { role: "model", parts }, finishReason: "STOP", index: 0 }],
    usageMetadata: {
      promptTokenCount: u.input,
      candidatesTokenCount: u.output,
      totalTokenCount: u.input + u.output,
      ...(u.cacheRead !== undefined && { cachedContentTokenCount: u.cacheRead }),
    },
    modelVersion: model,
    responseId: id,
  };
}

function geminiTurn(
  step: Extract<StubStep, { kind: "write" | "answer" }>,
  n: number,
  model: string,
  workspace: string,
  write: Write,
): void {
  const part =
    step.kind === "write"
      ? {
          functionCall: { name: "write_file", args: { file_path: `${workspace}/${step.path}`, content: step.content } },
        }
      : { text: step.text };
  write(undefined, geminiChunk([part], step.usage ?? DEFAULT_USAGE, model, `stub-${n + 1}`));
}
