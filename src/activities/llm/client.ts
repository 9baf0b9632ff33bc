/**
 * One structured-output call to an LLM API through the official SDKs — shared by the `llm` owner, judge
 * and debugger. Anthropic (`@anthropic-ai/sdk` 1.11, Messages API `POST /v1/messages`): the answer is the
 * input of a tool with the answer's JSON schema, forced with `tool_choice`. OpenAI and OpenAI-compatible
 * servers (`openai` 6.49, Chat Completions `POST /v1/chat/completions`): a `json_schema` response format
 * (strict). Either way the answer is validated with zod; an invalid answer is asked again (with the
 * problem named) up to `maxOutputRetries` times.
 *
 * Secrets: the API key is read from the worker's environment variable the config names, passed to the SDK
 * in-process, and never written anywhere — the base URL and key are always given explicitly, so the SDKs
 * never pick up `*_BASE_URL`/`*_API_KEY` variables of the worker on their own. Every error message is
 * redacted before it leaves.
 */
import Anthropic, {
  APIConnectionError as AnthropicConnectionError,
  APIError as AnthropicApiError,
} from "@anthropic-ai/sdk";
import OpenAI, { APIConnectionError as OpenAiConnectionError, APIError as OpenAiApiError } from "openai";
import { ApplicationFailure } from "@temporalio/common";
import type { z } from "zod";
import { settleCost, type ModelUsage } from "../../domain/pricing.js";
import type { Cost } from "../../domain/cost.js";
import { apiKeyEnvOf, type LlmProvider, type Pricing } from "../../domain/squad.js";
import { cancellationError, type ActivityHooks } from "../context.js";
import { ActivityErrorType, agentFailure } from "../errors.js";
import { DEFAULT_TICK_MS } from "../process.js";
import { redact, type Secret } from "../secrets.js";

/** Default API base URLs (used when the config gives none, so that worker variables never redirect calls). */
export const DEFAULT_BASE_URLS: Record<Exclude<LlmProvider, "openai-compatible">, string> = {
  anthropic: "https://api.anthropic.com",
  openai: "https://api.openai.com/v1",
};

/** How much later than squadflow's own time limit the SDK's request timeout fires, ms (so ours always wins, typed). */
const SDK_TIMEOUT_MARGIN_MS = 5_000;

/** Where and how to call: the LLM endpoint fields of squad.ts (agent, judge, panel member, debugger). */
export interface LlmEndpoint {
  provider: LlmProvider;
  model: string;
  base_url?: string;
  api_key_env?: string;
  temperature?: number;
  /** SDK retries (connection errors, 408/409/429/5xx); default 2. */
  max_retries?: number;
}

/** What the call needs from the activity running it. */
export interface LlmCallContext {
  /** Names the caller in messages: `llm agent of card SPEC-001`, `llm judge of card SPEC-001`. */
  label: string;
  workerEnv: Record<string, string | undefined>;
  /** Redacted from every message. */
  secrets: readonly Secret[];
  hooks: ActivityHooks;
  /** Heartbeat interval while waiting, ms (default 2 000). */
  heartbeatIntervalMs?: number;
  /** The `type` of non-retryable configuration failures: `AgentConfigError` (owner) or `ValidatorConfigError` (judge). */
  configErrorType: string;
  /** The `type` of a call that ran past its time limit: `AgentTimeoutError` (owner) or `LlmApiError`. */
  timeoutErrorType: string;
  /** Called with the elapsed time on every heartbeat (the soft-limit warning). */
  onTick?: (elapsedMs: number) => void;
}

/** One structured call. */
export interface StructuredRequest<T> {
  endpoint: LlmEndpoint;
  /** Maximum output tokens. */
  maxTokens: number;
  system: string;
  prompt: string;
  /** Tool / schema name, `[a-zA-Z0-9_-]{1,64}`. */
  name: string;
  /** What the answer is, for the model. */
  description: string;
  /** The answer's JSON schema as sent (objects closed, every property required — OpenAI strict mode). */
  jsonSchema: Record<string, unknown>;
  /** The answer's zod schema, checked on receipt (may be stricter than `jsonSchema`). */
  schema: z.ZodType<T>;
  /** Extra checks after the schema; returns the problem, or `undefined` when the answer is fine. */
  check?: (value: T) => string | undefined;
  /** Re-asks after an invalid answer (0 = one call only). */
  maxOutputRetries: number;
  /** Wall-clock limit of the whole call (all tries), ms. */
  timeoutMs: number;
}

/** A valid answer and what it cost. */
export interface StructuredResult<T> {
  value: T;
  /** Tokens per call, under the model the API reported (else the configured one). */
  usage: ModelUsage[];
  /** Calls made (1 + re-asks). */
  calls: number;
}

/**
 * Thrown by `callStructured` when every answer was invalid: the last problem, and the tokens spent (the
 * caller decides: retryable owner failure, judge failure, debugger fallback).
 */
export class StructuredOutputError extends Error {
  constructor(
    message: string,
    readonly problems: string[],
    readonly usage: ModelUsage[],
  ) {
    super(message);
    this.name = "StructuredOutputError";
  }
}

/** What one raw call returned: the answer (or why there is none) and its usage. */
interface RawAnswer {
  value?: unknown;
  problem?: string;
  usage: ModelUsage;
}

/** The API key for an endpoint from the worker's environment; `undefined` for a keyless openai-compatible server. */
export function resolveApiKey(ctx: LlmCallContext, endpoint: LlmEndpoint): string | undefined {
  const name = apiKeyEnvOf(endpoint);
  if (name === undefined) return undefined;
  const value = ctx.workerEnv[name];
  if (value === undefined || value.trim() === "") {
    throw ApplicationFailure.nonRetryable(
      `${ctx.label}: set ${name} in the worker's environment (the API key of provider "${endpoint.provider}"${endpoint.api_key_env ? ", named by api_key_env" : ""})`,
      ctx.configErrorType,
    );
  }
  return value;
}

function stripFences(text: string): string {
  const m = /^\s*```(?:json)?\s*\n([\s\S]*?)\n\s*```\s*$/.exec(text);
  return m ? m[1]! : text;
}

async function callAnthropic(
  req: StructuredRequest<unknown>,
  apiKey: string | undefined,
  prompt: string,
  signal: AbortSignal,
): Promise<RawAnswer> {
  const e = req.endpoint;
  const client = new Anthropic({
    apiKey: apiKey ?? "unused",
    baseURL: e.base_url ?? DEFAULT_BASE_URLS.anthropic,
    maxRetries: e.max_retries ?? 2,
    // Our own timer (callStructured) ends the call; the SDK's per-request timeout is only a backstop.
    timeout: req.timeoutMs + SDK_TIMEOUT_MARGIN_MS,
  });
  const msg = await client.messages.create(
    {
      model: e.model,
      max_tokens: req.maxTokens,
      system: req.system,
      messages: [{ role: "user", content: prompt }],
      tools: [
        { name: req.name, description: req.description, input_schema: req.jsonSchema as Anthropic.Tool.InputSchema },
      ],
      tool_choice: { type: "tool", name: req.name },
    },
    { signal },
  );
  const u = msg.usage;
  const usage: ModelUsage = {
    model: typeof msg.model === "string" && msg.model ? msg.model : e.model,
    usage: {
      inputTokens: u?.input_tokens ?? 0,
      outputTokens: u?.output_tokens ?? 0,
      cacheCreationTokens: u?.cache_creation_input_tokens ?? 0,
      cacheReadTokens: u?.cache_read_input_tokens ?? 0,
    },
  };
  if (msg.stop_reason === "max_tokens")
    return { usage, problem: `the answer was cut at max_tokens (${req.maxTokens})` };
  const block = msg.content.find((b) => b.type === "tool_use" && b.name === req.name);
  if (!block || block.type !== "tool_use") return { usage, problem: `the answer did not call the "${req.name}" tool` };
  return { usage, value: block.input };
}

async function callOpenAi(
  req: StructuredRequest<unknown>,
  apiKey: string | undefined,
  prompt: string,
  signal: AbortSignal,
): Promise<RawAnswer> {
  const e = req.endpoint;
  const client = new OpenAI({
    apiKey: apiKey ?? "unused",
    baseURL: e.base_url ?? DEFAULT_BASE_URLS.openai,
    maxRetries: e.max_retries ?? 2,
    // Our own timer (callStructured) ends the call; the SDK's per-request timeout is only a backstop.
    timeout: req.timeoutMs + SDK_TIMEOUT_MARGIN_MS,
  });
  const completion = await client.chat.completions.create(
    {
      model: e.model,
      messages: [
        { role: "system", content: req.system },
        { role: "user", content: prompt },
      ],
      response_format: {
        type: "json_schema",
        json_schema: { name: req.name, description: req.description, schema: req.jsonSchema, strict: true },
      },
      // OpenAI's current parameter; OpenAI-compatible servers (Ollama, vLLM) know the classic one.
      ...(e.provider === "openai" ? { max_completion_tokens: req.maxTokens } : { max_tokens: req.maxTokens }),
      ...(e.temperature !== undefined && { temperature: e.temperature }),
    },
    { signal },
  );
  const u = completion.usage;
  const prompted = u?.prompt_tokens ?? 0;
  const cached = Math.min(u?.prompt_tokens_details?.cached_tokens ?? 0, prompted);
  const usage: ModelUsage = {
    model: typeof completion.model === "string" && completion.model ? completion.model : e.model,
    usage: { inputTokens: prompted - cached, outputTokens: u?.completion_tokens ?? 0, cacheReadTokens: cached },
  };
  const choice = completion.choices?.[0];
  if (!choice) return { usage, problem: "the answer had no choices" };
  if (choice.message.refusal) return { usage, problem: `the model refused: ${choice.message.refusal}` };
  if (choice.finish_reason === "length")
    return { usage, problem: `the answer was cut at max_tokens (${req.maxTokens})` };
  const content = choice.message.content;
  if (!content) return { usage, problem: "the answer was empty" };
  try {
    return { usage, value: JSON.parse(stripFences(content)) };
  } catch (err) {
    return { usage, problem: `the answer is not JSON: ${(err as Error).message}` };
  }
}

/** The HTTP status of an SDK error, `undefined` for connection errors and non-SDK errors. */
function statusOf(err: unknown): number | undefined {
  if (err instanceof AnthropicApiError || err instanceof OpenAiApiError)
    return typeof err.status === "number" ? err.status : undefined;
  return undefined;
}

/** Maps an SDK error to a typed failure (see errors.ts); `cost` is what the call spent so far. */
function apiFailure(
  ctx: LlmCallContext,
  endpoint: LlmEndpoint,
  err: unknown,
  cost: Cost | undefined,
): ApplicationFailure {
  const msg = redact(err instanceof Error ? err.message : String(err), ctx.secrets);
  const where = `${endpoint.provider} API${endpoint.base_url ? ` at ${endpoint.base_url}` : ""}, model "${endpoint.model}"`;
  const status = statusOf(err);
  const details = cost ? { cost } : {};
  if (status === 401 || status === 403) {
    const name = apiKeyEnvOf(endpoint);
    return ApplicationFailure.create({
      message: `${ctx.label}: the ${where} refused the credentials (${status})${name ? `: check ${name} on the worker` : ""}: ${msg}`,
      type: ctx.configErrorType,
      nonRetryable: true,
    });
  }
  if (status === 404) {
    return ApplicationFailure.create({
      message: `${ctx.label}: not found at the ${where} (404): check "model" and "base_url": ${msg}`,
      type: ctx.configErrorType,
      nonRetryable: true,
    });
  }
  if (status !== undefined && status >= 400 && status < 500 && ![408, 409, 429].includes(status)) {
    return agentFailure(
      ActivityErrorType.LlmRequestError,
      `${ctx.label}: the ${where} refused the request (${status}): ${msg}`,
      { nonRetryable: true, ...details },
    );
  }
  const kind =
    err instanceof AnthropicConnectionError || err instanceof OpenAiConnectionError
      ? "could not be reached"
      : `failed${status !== undefined ? ` (${status})` : ""}`;
  return agentFailure(ActivityErrorType.LlmApiError, `${ctx.label}: the ${where} ${kind}: ${msg}`, {
    nonRetryable: false,
    ...details,
  });
}

/**
 * Calls the endpoint for a structured answer, heartbeating while it waits, honouring cancellation and the
 * time limit (the SDK request is aborted).
 *
 * @param pricing prices the tokens spent so far for the `cost` carried by failures
 * @throws ApplicationFailure `ctx.configErrorType` (API key variable unset; 401/403/404), `LlmRequestError`
 *   (other 4xx), `LlmApiError` (429/5xx/connection after the SDK's retries), `ctx.timeoutErrorType` (time
 *   limit); the cancellation when the activity was cancelled; `StructuredOutputError` when every answer was
 *   invalid.
 */
export async function callStructured<T>(
  ctx: LlmCallContext,
  req: StructuredRequest<T>,
  pricing?: Pricing,
): Promise<StructuredResult<T>> {
  const apiKey = resolveApiKey(ctx, req.endpoint);
  const started = performance.now();
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, req.timeoutMs);
  const onCancel = (): void => controller.abort();
  ctx.hooks.cancellationSignal?.addEventListener("abort", onCancel, { once: true });
  const beat = (): void => {
    const elapsedMs = Math.round(performance.now() - started);
    try {
      ctx.hooks.heartbeat({ phase: ctx.label, elapsedMs });
      ctx.onTick?.(elapsedMs);
    } catch {
      // A failing heartbeat must not take the call down.
    }
  };
  beat();
  const ticker = setInterval(beat, ctx.heartbeatIntervalMs ?? DEFAULT_TICK_MS);
  const usage: ModelUsage[] = [];
  const problems: string[] = [];
  try {
    for (let attempt = 0; attempt <= req.maxOutputRetries; attempt++) {
      if (ctx.hooks.cancellationSignal?.aborted) throw cancellationError(ctx.hooks.cancellationSignal, ctx.label);
      const prompt =
        problems.length === 0
          ? req.prompt
          : `${req.prompt}\n\n## Your previous answer was invalid\n${problems[problems.length - 1]}\nAnswer again, exactly in the required structure.`;
      let raw: RawAnswer;
      try {
        raw =
          req.endpoint.provider === "anthropic"
            ? await callAnthropic(req as StructuredRequest<unknown>, apiKey, prompt, controller.signal)
            : await callOpenAi(req as StructuredRequest<unknown>, apiKey, prompt, controller.signal);
      } catch (err) {
        const spent = usage.length > 0 ? settleCost(usage, pricing).cost : undefined;
        if (ctx.hooks.cancellationSignal?.aborted) throw cancellationError(ctx.hooks.cancellationSignal, ctx.label);
        if (timedOut) {
          throw agentFailure(
            ctx.timeoutErrorType as ActivityErrorType,
            `${ctx.label}: the ${req.endpoint.provider} API call timed out after ${req.timeoutMs} ms`,
            {
              nonRetryable: false,
              ...(spent && { cost: spent }),
            },
          );
        }
        throw apiFailure(ctx, req.endpoint, err, spent);
      }
      usage.push(raw.usage);
      if (raw.problem === undefined) {
        const parsed = req.schema.safeParse(raw.value);
        if (parsed.success) {
          const extra = req.check?.(parsed.data);
          if (extra === undefined) return { value: parsed.data, usage, calls: attempt + 1 };
          raw.problem = extra;
        } else {
          raw.problem = `the answer does not match the schema: ${parsed.error.issues
            .slice(0, 10)
            .map((i) => `${i.path.map(String).join(".") || "(root)"}: ${i.message}`)
            .join("; ")}`;
        }
      }
      problems.push(redact(raw.problem, ctx.secrets));
      ctx.hooks.log?.warn(`${ctx.label}: invalid answer from ${req.endpoint.model}`, {
        try: attempt + 1,
        of: req.maxOutputRetries + 1,
        problem: problems[problems.length - 1],
      });
    }
    throw new StructuredOutputError(
      `${ctx.label}: ${req.maxOutputRetries + 1} answer(s) of model "${req.endpoint.model}" were invalid; last: ${problems[problems.length - 1]}`,
      problems,
      usage,
    );
  } finally {
    clearTimeout(timer);
    clearInterval(ticker);
    ctx.hooks.cancellationSignal?.removeEventListener("abort", onCancel);
  }
}
