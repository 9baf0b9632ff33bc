/**
 * The `claude-code` agent kind: Claude Code in headless mode.
 *
 * **Command.** `<binary> -p --output-format stream-json --verbose --permission-mode <permission_mode> [--model <model>]
 * [--max-turns <card max_turns, else agent max_turns>] [--max-budget-usd <OwnerInput.budgetUsd>]
 * <extra_args…>`, in the attempt
 * workspace, with the owner prompt (prompt.ts) on stdin, in its own process group, with the explicit
 * environment of run.ts `cliEnv` (Claude Code authenticates with `ANTHROPIC_API_KEY` only when the config
 * lists it in `env`, else with the login stored under HOME).
 *
 * **Stream.** One JSON event per line, read as it arrives (`claudeProgress`: turns, tokens, last tool —
 * carried by every heartbeat); the last line is the result message.
 *
 * **Result.** The last JSON object on stdout (Claude Code's result message): `type: "result"`, `subtype`
 * (`success`, `error_max_turns`, `error_max_budget_usd`, `error_during_execution`, …), `is_error`, `result`
 * (the final message), `session_id`, `num_turns`, `usage` (`input_tokens`, `output_tokens`,
 * `cache_creation_input_tokens`, `cache_read_input_tokens`), `total_cost_usd`, and `modelUsage` (per model:
 * `inputTokens`, `outputTokens`, `cacheReadInputTokens`, `cacheCreationInputTokens`, `costUSD`),
 * `api_error_status` / `api_error_type` (the HTTP status and provider error type that ended the run), and
 * `permission_denials` (`tool_name` of every call the permission mode denied). Any `error_*` subtype is a
 * failure even when `is_error` is false; so is any permission denial, even with subtype `success`.
 *
 * **Failures.** An API error by its status (run.ts `apiStatusFailure`: 401/403 and a 400 about the key →
 * `AgentConfigError`, 429/5xx/529 → retryable `LlmApiError`); permission denials → non-retryable
 * `AgentPermissionError` naming the tools; `bypassPermissions` refused to root → `AgentConfigError`;
 * `error_max_turns` → `AgentTurnLimitError`; `error_max_budget_usd` → `AgentBudgetExceededError`.
 *
 * **Cost.** Tokens per model from `modelUsage` (Claude Code also runs small helper models), else `usage`
 * priced as the configured `model`; USD computed from `squad.pricing`, compared with `total_cost_usd`.
 *
 * **Artifacts.** Every regular file in the workspace after the run (files.ts `listWorkspaceFiles`).
 *
 * **Session.** `session_id` and `num_turns` are kept on the owner result as `session: { id, turns }`. A
 * correction with `input.previousSession` continues it (`--resume <id>`, prompt: `resumePrompt`, only the
 * feedback), recorded as `session.resumedFrom`; when Claude Code no longer has it ("No conversation found"),
 * the run starts a fresh session with the full prompt and a warning.
 */
import { z } from "zod";
import { roundUsd } from "../../domain/cost.js";
import type { AgentSession, OwnerInput } from "../../domain/attempt.js";
import type { ModelUsage } from "../../domain/pricing.js";
import type { ClaudeCodeAgentConfig } from "../../domain/squad.js";
import { ActivityErrorType, agentConfigError, agentFailure, agentPermissionError } from "../errors.js";
import { ownerPrompt, resumePrompt } from "./prompt.js";
import {
  apiStatusFailure,
  AUTH_FAILURE,
  cliResult,
  exitDescription,
  ownRunCost,
  jsonLine,
  lastJsonObject,
  messageTail,
  runCliProcess,
  settleRunCost,
  startRun,
  type AgentProgress,
  type OwnerRunner,
  type RunOutcome,
} from "./run.js";

const Tokens = z.number().int().nonnegative();

/** The fields of Claude Code's result object that squadflow reads (others are ignored). */
export const ClaudeResultSchema = z.looseObject({
  type: z.literal("result"),
  subtype: z.string().min(1),
  is_error: z.boolean(),
  result: z.string().optional(),
  session_id: z.string().optional(),
  num_turns: z.number().int().nonnegative().optional(),
  total_cost_usd: z.number().nonnegative().optional(),
  /** HTTP status of the API error that ended the run (null when none). */
  api_error_status: z.number().int().nullish(),
  /** The provider's error type (`authentication_error`, `rate_limit_error`, `overloaded_error`, …). */
  api_error_type: z.string().nullish(),
  /** Tool calls the permission mode denied (headless: nobody to ask), one entry per call. */
  permission_denials: z.array(z.looseObject({ tool_name: z.string() })).optional(),
  usage: z
    .looseObject({
      input_tokens: Tokens,
      output_tokens: Tokens,
      cache_creation_input_tokens: Tokens.nullish(),
      cache_read_input_tokens: Tokens.nullish(),
    })
    .optional(),
  modelUsage: z
    .record(
      z.string(),
      z.looseObject({
        inputTokens: Tokens,
        outputTokens: Tokens,
        cacheReadInputTokens: Tokens.nullish(),
        cacheCreationInputTokens: Tokens.nullish(),
        costUSD: z.number().nonnegative().nullish(),
      }),
    )
    .optional(),
});
/** Claude Code's result object, validated. */
export type ClaudeResult = z.infer<typeof ClaudeResultSchema>;

/** What to set when the API refuses the key. */
const CLAUDE_KEY_HINT =
  "list ANTHROPIC_API_KEY in the agent's \"env\" and set it on the worker, or log in as the worker's user";

/** Claude Code refuses `bypassPermissions` (`--dangerously-skip-permissions`) to root: its stderr says so. */
const ROOT_BYPASS_REFUSED = /cannot be used with root\/sudo privileges/i;

/** Claude Code's answer to `--resume` with a session it does not have. */
const SESSION_GONE = /No conversation found with session ID/i;

/**
 * The session a run continues: for a correction (`input.feedback`) the previous attempt's session id
 * (`input.previousSession`), when there is one; undefined otherwise (a fresh session).
 */
export function resumableSession(input: Pick<OwnerInput, "feedback" | "previousSession">): string | undefined {
  return input.feedback !== undefined && input.previousSession?.id !== undefined ? input.previousSession.id : undefined;
}

/** Install hint for a missing binary. */
export const CLAUDE_INSTALL_HINT = "npm install -g @anthropic-ai/claude-code";

/** The turn limit of a run: the card's own `max_turns` (`CardSpec.maxTurns`), else the agent's; absent = none. */
export function maxTurnsOf(agent: ClaudeCodeAgentConfig, input: Pick<OwnerInput, "card">): number | undefined {
  return input.card.maxTurns ?? agent.max_turns;
}

/**
 * The CLI arguments squadflow builds (before `extra_args`): `--max-turns` from `maxTurnsOf` (card, else
 * agent), `--max-budget-usd` from `input.budgetUsd` (USD, rounded to 6 decimals), one `--add-dir <dir>` per
 * `input.allowDirs` (the card type's `permissions.allow_dirs`).
 */
export function claudeArgs(
  agent: ClaudeCodeAgentConfig,
  input: Pick<OwnerInput, "card" | "budgetUsd" | "allowDirs">,
): string[] {
  const args = ["-p", "--output-format", "stream-json", "--verbose", "--permission-mode", agent.permission_mode];
  if (agent.model !== undefined) args.push("--model", agent.model);
  const maxTurns = maxTurnsOf(agent, input);
  if (maxTurns !== undefined) args.push("--max-turns", String(maxTurns));
  if (input.budgetUsd !== undefined) args.push("--max-budget-usd", String(roundUsd(input.budgetUsd)));
  for (const dir of input.allowDirs ?? []) args.push("--add-dir", dir);
  return args;
}

/**
 * Reads one stream-json event into the run's progress: an `assistant` message is a turn (counted once per
 * message id), its `usage` tokens and its last `tool_use` name.
 */
export function claudeProgress(line: string, p: AgentProgress, ids = new Set<string>()): void {
  const ev = jsonLine(line);
  if (!ev || typeof ev.type !== "string") return;
  p.lastEvent = ev.type;
  if (ev.type !== "assistant") return;
  const msg = ev.message as
    { id?: string; content?: { type?: string; name?: string }[]; usage?: Record<string, number> } | undefined;
  if (msg?.id !== undefined && !ids.has(msg.id)) {
    ids.add(msg.id);
    p.turns++;
    const u = msg.usage ?? {};
    p.inputTokens += (u.input_tokens ?? 0) + (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0);
    p.outputTokens += u.output_tokens ?? 0;
  }
  for (const block of msg?.content ?? []) if (block.type === "tool_use" && block.name) p.lastTool = block.name;
}

/** Tokens per model of a result: `modelUsage` when present, else `usage` under the configured model. */
export function claudeUsage(r: ClaudeResult, configuredModel: string | undefined): ModelUsage[] {
  if (r.modelUsage && Object.keys(r.modelUsage).length > 0) {
    return Object.entries(r.modelUsage).map(([model, u]) => ({
      model,
      usage: {
        inputTokens: u.inputTokens,
        outputTokens: u.outputTokens,
        cacheCreationTokens: u.cacheCreationInputTokens ?? 0,
        cacheReadTokens: u.cacheReadInputTokens ?? 0,
      },
    }));
  }
  const u = r.usage;
  return [
    {
      model: configuredModel,
      usage: {
        inputTokens: u?.input_tokens ?? 0,
        outputTokens: u?.output_tokens ?? 0,
        cacheCreationTokens: u?.cache_creation_input_tokens ?? 0,
        cacheReadTokens: u?.cache_read_input_tokens ?? 0,
      },
    },
  ];
}

/** The session of a result (`session_id` → `id`, `num_turns` → `turns`); undefined when it reports neither. */
export function claudeSession(r: ClaudeResult): AgentSession | undefined {
  if (r.session_id === undefined && r.num_turns === undefined) return undefined;
  return {
    ...(r.session_id !== undefined && { id: r.session_id }),
    ...(r.num_turns !== undefined && { turns: r.num_turns }),
  };
}

/** Parses Claude Code's stdout: the result object, or why there is none (empty, not JSON, wrong shape). */
export function parseClaudeResult(stdout: string): { ok: true; result: ClaudeResult } | { ok: false; why: string } {
  // stream-json: the result message is the last `"type":"result"` line; plain json: the whole text.
  const lines = stdout.split("\n");
  let json: Record<string, unknown> | undefined;
  for (let i = lines.length - 1; i >= 0 && !json; i--) {
    const ev = jsonLine(lines[i]!);
    if (ev?.type === "result") json = ev;
  }
  json ??= lastJsonObject(stdout);
  if (!json)
    return {
      ok: false,
      why: stdout.trim() === "" ? "wrote nothing on stdout" : "did not write a JSON result object on stdout",
    };
  const parsed = ClaudeResultSchema.safeParse(json);
  if (!parsed.success) {
    return {
      ok: false,
      why: `wrote a result object squadflow cannot read: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`,
    };
  }
  return { ok: true, result: parsed.data };
}

/**
 * Runs a `claude-code` owner (see the module docstring).
 *
 * @throws ApplicationFailure `AgentConfigError` (binary missing, variable unset, credentials refused, root +
 *   bypassPermissions), `AgentPermissionError` (`permission_denials`), `LlmApiError` / `AgentInputError` (API
 *   status, see `apiStatusFailure`),
 *   `AgentTurnLimitError` (`error_max_turns`), `AgentBudgetExceededError` (`error_max_budget_usd`),
 *   `AgentExitError` (other `error_*` subtypes, `is_error`, a non-zero exit without a result),
 *   `AgentOutputError` (no readable result), `AgentTimeoutError`; the cancellation when cancelled. Failures
 *   after the agent spent tokens carry the cost (errors.ts `AgentFailureDetails`).
 */
export const runClaudeCode: OwnerRunner<"claude-code"> = async (deps, input, agent, _worktree, review) => {
  const run = await startRun(deps, input, "claude-code", agent.env);
  if (review) run.label = review.label;
  if (review?.maxSummaryChars) run.maxSummaryChars = review.maxSummaryChars;
  const launch = (resume: string | undefined) =>
    runCliProcess(run, {
      agent,
      args: [...claudeArgs(agent, input), ...(resume !== undefined ? ["--resume", resume] : [])],
      prompt:
        resume !== undefined
          ? resumePrompt(input, run.workspace)
          : (review?.prompt ?? ownerPrompt(input, run.workspace, deps.workspacesRoot)),
      installHint: CLAUDE_INSTALL_HINT,
      onLine: (() => {
        const ids = new Set<string>();
        return (line: string, p: AgentProgress) => claudeProgress(line, p, ids);
      })(),
    });
  let resumed = resumableSession(input);
  let result = await launch(resumed);
  if (resumed !== undefined && result.exitCode !== 0 && SESSION_GONE.test(result.stderr + result.stdout)) {
    run.hooks.log?.warn(`${run.label}: session ${resumed} is gone; starting a fresh one`, {
      cardId: input.card.id,
      attempt: input.attempt,
    });
    resumed = undefined;
    result = await launch(undefined);
  }
  const parsed = parseClaudeResult(result.stdout);
  if (!parsed.ok) {
    if (ROOT_BYPASS_REFUSED.test(result.stderr)) {
      throw agentConfigError(
        `${run.label}: Claude Code refuses permission_mode "bypassPermissions" when the worker runs as root: ${messageTail(run, result.stderr)} (run the worker as a non-root user, or use permission_mode "acceptEdits")`,
      );
    }
    if (result.exitCode !== 0) {
      const err = messageTail(run, result.stderr || result.stdout);
      throw agentFailure(
        ActivityErrorType.AgentExitError,
        `${run.label} ${exitDescription(result)}${err ? `: ${err}` : " (no output)"}`,
        { nonRetryable: false },
      );
    }
    const out = messageTail(run, result.stdout);
    throw agentFailure(
      ActivityErrorType.AgentOutputError,
      `${run.label} ${parsed.why}${out ? `; stdout tail:\n${out}` : ""}`,
      { nonRetryable: false },
    );
  }
  const r = parsed.result;
  const reported = claudeSession(r);
  const session = reported && resumed !== undefined ? { ...reported, resumedFrom: resumed } : reported;
  const outcome: RunOutcome = {
    summary: r.result ?? "",
    usage: claudeUsage(r, agent.model),
    ...(r.total_cost_usd !== undefined && { reportedUsd: r.total_cost_usd }),
    meta: { sessionId: r.session_id, numTurns: r.num_turns, subtype: r.subtype },
    ...(session && { session }),
  };
  const denied = (r.permission_denials ?? []).map((d) => d.tool_name);
  const failed = r.is_error || r.subtype.startsWith("error") || denied.length > 0;
  if (!failed) return cliResult(run, outcome, agent.limits?.max_output_tokens);

  // A failed resumed run is charged only what it added to the session, like a successful one.
  const cost = ownRunCost(run, settleRunCost(run, outcome.usage, outcome.reportedUsd, outcome.meta), resumed);
  if (typeof r.api_error_status === "number") {
    throw apiStatusFailure(
      run,
      r.api_error_status,
      [r.api_error_type, r.result].filter(Boolean).join(": "),
      CLAUDE_KEY_HINT,
      cost,
    );
  }
  if (denied.length > 0) {
    throw agentPermissionError(
      `${run.label}: Claude Code denied ${[...new Set(denied)].join(", ")} under permission_mode "${agent.permission_mode}" (${denied.length} call${denied.length === 1 ? "" : "s"}); allow the tool${denied.length === 1 ? "" : "s"} (permission_mode "acceptEdits", or --allowedTools in "extra_args") or split the card`,
      denied,
      cost,
    );
  }
  const text = messageTail(run, r.result ?? "") || messageTail(run, result.stderr);
  const turns = r.num_turns !== undefined ? ` after ${r.num_turns} turns` : "";
  if (r.subtype === "error_max_turns") {
    const maxTurns = maxTurnsOf(agent, input);
    throw agentFailure(
      ActivityErrorType.AgentTurnLimitError,
      `${run.label} stopped at its turn limit${maxTurns !== undefined ? ` (--max-turns ${maxTurns})` : ""}${turns}: raise max_turns or split the card`,
      { nonRetryable: true, cost },
    );
  }
  if (r.subtype === "error_max_budget_usd") {
    throw agentFailure(
      ActivityErrorType.AgentBudgetExceededError,
      `${run.label} stopped at its budget${input.budgetUsd !== undefined ? ` (--max-budget-usd ${roundUsd(input.budgetUsd)})` : ""}${turns}`,
      { nonRetryable: true, cost },
    );
  }
  if (AUTH_FAILURE.test(text)) {
    throw agentConfigError(`${run.label}: Claude Code could not authenticate: ${text} (${CLAUDE_KEY_HINT})`);
  }
  throw agentFailure(
    ActivityErrorType.AgentExitError,
    `${run.label} failed (${r.subtype}${r.is_error ? ", is_error" : ""})${turns}${text ? `: ${text}` : ""}`,
    { nonRetryable: false, cost },
  );
};
