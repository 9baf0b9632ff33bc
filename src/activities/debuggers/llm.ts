/**
 * The `llm` debugging agent (squad.ts `DebuggerSchema`, kind `llm`): a model reads the card and its
 * validation history (every attempt's failed verdicts — reasons and details — its artifacts, the feedback
 * it got, the reasons that repeat) and answers with structured output `{ root_cause, suggestions[] }`,
 * validated by zod. `repeatedReasons` stays the deterministic list (attempt.ts), so the trigger and the
 * report agree.
 *
 * It never takes a card down: the card workflow runs the debugger on the way to a correction, so when the
 * model cannot answer (API key unset, API down, invalid answers) the rule-based analysis answers instead,
 * its root cause prefixed with why — and a warning is logged. Cancellation is still rethrown.
 */
import { z } from "zod";
import type { AttemptRecord, DebugInput, DebugReport } from "../../domain/attempt.js";
import { failureReasons, repeatedReasons } from "../../domain/attempt.js";
import { addCosts } from "../../domain/cost.js";
import { settleCost } from "../../domain/pricing.js";
import { apiKeyEnvOf, type LlmDebuggerConfig } from "../../domain/squad.js";
import { CancelledFailure } from "@temporalio/common";
import { temporalHooks, type ActivityDeps } from "../context.js";
import { ActivityErrorType } from "../errors.js";
import { callStructured, StructuredOutputError } from "../llm/client.js";
import { redact, secretsOf } from "../secrets.js";

/** The model's answer, as validated. */
export const LlmDebugAnswerSchema = z.object({
  root_cause: z.string().trim().min(1, "must name the root cause"),
  suggestions: z.array(z.string().trim().min(1)).min(1, "must give at least one fix suggestion"),
});
/** A validated debugger answer. */
export type LlmDebugAnswer = z.infer<typeof LlmDebugAnswerSchema>;

/** The answer's JSON schema as sent (closed objects, every property required). */
export const LLM_DEBUG_JSON_SCHEMA: Record<string, unknown> = {
  type: "object",
  properties: {
    root_cause: { type: "string", description: "Why the card keeps failing: the underlying cause, not the symptoms." },
    suggestions: {
      type: "array",
      items: { type: "string" },
      description: "Concrete fixes for the next correction, most important first.",
    },
  },
  required: ["root_cause", "suggestions"],
  additionalProperties: false,
};

/** Characters of one verdict's details shown to the model. */
const MAX_DETAILS_CHARS = 3_000;

function attemptText(r: AttemptRecord): string {
  const lines = [
    `### Attempt ${r.attempt} (${r.passed ? "passed" : "failed"})`,
    `Artifacts: ${r.artifacts.join(", ") || "(none)"}`,
  ];
  if (r.feedback) lines.push(`Feedback it was given (round ${r.feedback.round}): ${r.feedback.reasons.join(" | ")}`);
  for (const v of r.verdicts.filter((x) => !x.passed)) {
    lines.push(
      `- ${v.validator} failed${v.score !== undefined ? ` (score ${v.score})` : ""}: ${v.reasons.join(" | ")}`,
    );
    if (v.details)
      lines.push(
        `  details: ${v.details.length > MAX_DETAILS_CHARS ? v.details.slice(0, MAX_DETAILS_CHARS) + "… (cut)" : v.details}`,
      );
  }
  return lines.join("\n");
}

/** The debugger prompt: card, history, repeated reasons, how to answer. */
export function debugPrompt(input: DebugInput, repeated: readonly string[]): string {
  const { card, history } = input;
  return [
    `Card ${card.id} (type ${card.type}): "${card.title}" keeps failing validation. Find the root cause and how to fix it.`,
    "",
    "## Card",
    card.description.trim() || "(no description)",
    ...(card.acceptanceCriteria.length > 0
      ? ["", "## Acceptance criteria", ...card.acceptanceCriteria.map((c, i) => `${i + 1}. ${c}`)]
      : []),
    "",
    "## Validation history (oldest first)",
    ...history.map(attemptText),
    "",
    "## Reasons that repeat between the last two attempts",
    ...(repeated.length > 0 ? repeated.map((r) => `- ${r}`) : ["(none)"]),
    "",
    "## How to answer",
    "- root_cause: the underlying reason the corrections did not fix the problems (one paragraph).",
    "- suggestions: concrete, actionable changes for the next correction (which file, what to change), most important first.",
  ].join("\n");
}

const SYSTEM =
  "You are the debugging agent of a software-delivery squad: you find why a card keeps failing its validators and say exactly how to fix it.";

/**
 * The `llm` debugger (see the module docstring).
 *
 * @param fallback the rule-based debugger answering when the model cannot
 * @throws only the cancellation when the activity was cancelled
 */
export async function llmDebug(
  deps: ActivityDeps | undefined,
  input: DebugInput,
  config: LlmDebuggerConfig,
  fallback: (input: DebugInput) => Promise<DebugReport>,
): Promise<DebugReport> {
  const hooks = (deps?.hooks ?? temporalHooks)();
  const workerEnv = deps?.workerEnv ?? process.env;
  const keyEnv = apiKeyEnvOf(config);
  const secrets = secretsOf(workerEnv, keyEnv ? [keyEnv] : []);
  const repeated = repeatedReasons(input.history);
  const label = `llm debugger of card ${input.card.id}`;
  try {
    const res = await callStructured(
      {
        label,
        workerEnv,
        secrets,
        hooks,
        heartbeatIntervalMs: deps?.heartbeatIntervalMs,
        configErrorType: ActivityErrorType.AgentConfigError,
        timeoutErrorType: ActivityErrorType.LlmApiError,
      },
      {
        endpoint: config,
        maxTokens: config.max_tokens,
        system: SYSTEM,
        prompt: debugPrompt(input, repeated),
        name: "debug_report",
        description: "Root cause and fix suggestions for the failing card.",
        jsonSchema: LLM_DEBUG_JSON_SCHEMA,
        schema: LlmDebugAnswerSchema,
        maxOutputRetries: config.max_output_retries,
        timeoutMs: config.timeout_ms,
      },
      input.pricing,
    );
    const settled = settleCost(res.usage, input.pricing);
    return {
      rootCause: redact(res.value.root_cause, secrets),
      suggestions: res.value.suggestions.map((s) => redact(s, secrets)),
      repeatedReasons: repeated,
      cost: settled.cost,
    };
  } catch (err) {
    if (err instanceof CancelledFailure || hooks.cancellationSignal?.aborted) throw err;
    const why = redact(err instanceof Error ? err.message : String(err), secrets);
    hooks.log?.warn(`${label}: the model could not answer; the rule-based analysis answers instead`, {
      cardId: input.card.id,
      error: why,
    });
    const report = await fallback(input);
    const spent = err instanceof StructuredOutputError ? settleCost(err.usage, input.pricing).cost : undefined;
    const lastReasons =
      input.history.length > 0 ? failureReasons(input.history[input.history.length - 1]!.verdicts).length : 0;
    return {
      ...report,
      rootCause: `(LLM debugger unavailable: ${why}; rule-based analysis of ${lastReasons} failure reason(s) follows.) ${report.rootCause}`,
      ...(spent && { cost: report.cost ? addCosts(report.cost, spent) : spent }),
    };
  }
}
