/**
 * The `gemini` agent kind: the Gemini CLI in headless mode.
 *
 * **Command.** `<binary> --output-format json --approval-mode <approval_mode> [--model <model>]
 * <extra_args…>` in the attempt workspace, the owner prompt on stdin (a non-TTY stdin runs it headless),
 * its own process group, the explicit environment of run.ts `cliEnv` (Gemini authenticates with
 * `GEMINI_API_KEY` only when the config lists it in `env`).
 *
 * **Result.** One JSON object: `response` (the final answer), `stats.models.<model>.tokens` (`prompt` —
 * cached ones included —, `candidates`, `cached`, `thoughts`, `tool`, `total`), and `error` (`type`,
 * `message`, `code`) when the run failed. Looked for on stdout, then on stderr.
 *
 * **Exit codes** (Gemini CLI's fatal errors) → typed failures: 41 authentication → `AgentConfigError`;
 * 42 input (prompt or arguments) → `AgentInputError`; 44 sandbox and 52 configuration → `AgentConfigError`;
 * 53 turn limit → `AgentTurnLimitError` (all non-retryable); 54 tool execution → `AgentToolError`;
 * 130 cancelled (interrupted by someone other than squadflow) → `AgentCancelledError`; any other non-zero
 * exit → `AgentExitError` (retryable).
 *
 * **Cost.** Per model: uncached input = `prompt − cached`, cache reads = `cached`, output = `candidates +
 * thoughts`; priced by `squad.pricing` (Gemini reports no USD).
 */
import type { ModelUsage } from '../../domain/pricing.js';
import type { GeminiAgentConfig } from '../../domain/squad.js';
import { ActivityErrorType, agentConfigError, agentFailure, type ActivityErrorType as ErrorType } from '../errors.js';
import { redact } from '../secrets.js';
import { ownerPrompt } from './prompt.js';
import { cliResult, exitDescription, lastJsonObject, messageTail, runCliProcess, settleRunCost, startRun, type OwnerRunner } from './run.js';

/** Install hint for a missing binary. */
export const GEMINI_INSTALL_HINT = 'npm install -g @google/gemini-cli';

/** The CLI arguments squadflow builds (before `extra_args`). */
export function geminiArgs(agent: GeminiAgentConfig): string[] {
  const args = ['--output-format', 'json', '--approval-mode', agent.approval_mode];
  if (agent.model !== undefined) args.push('--model', agent.model);
  return args;
}

/** What a Gemini exit code means, and how squadflow fails on it. */
export interface GeminiExit {
  type: ErrorType;
  nonRetryable: boolean;
  /** What happened and what to do, for the message. */
  meaning: string;
}

/** Gemini CLI's documented fatal exit codes → typed failures (see the module docstring). */
export const GEMINI_EXIT_CODES: Readonly<Record<number, GeminiExit>> = {
  41: { type: ActivityErrorType.AgentConfigError, nonRetryable: true, meaning: 'authentication failed: list GEMINI_API_KEY in the agent\'s "env" and set it on the worker, or log in as the worker\'s user' },
  42: { type: ActivityErrorType.AgentInputError, nonRetryable: true, meaning: 'the prompt or the arguments were refused: check "extra_args"' },
  44: { type: ActivityErrorType.AgentConfigError, nonRetryable: true, meaning: 'the sandbox could not start: check the Gemini CLI sandbox settings' },
  52: { type: ActivityErrorType.AgentConfigError, nonRetryable: true, meaning: 'its configuration is invalid: check the Gemini CLI settings and "extra_args"' },
  53: { type: ActivityErrorType.AgentTurnLimitError, nonRetryable: true, meaning: 'it reached its turn limit (maxSessionTurns): raise it or split the card' },
  54: { type: ActivityErrorType.AgentToolError, nonRetryable: false, meaning: 'a tool it ran failed fatally' },
  130: { type: ActivityErrorType.AgentCancelledError, nonRetryable: false, meaning: 'it was cancelled (SIGINT) by something other than squadflow' },
};

/** The fields of Gemini's JSON output squadflow reads. */
export interface GeminiOutput {
  response: string;
  usage: ModelUsage[];
  /** `error.message` (with `type`), when present. */
  error?: string;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** Reads Gemini's JSON output object; `undefined` when neither text holds one. */
export function parseGeminiOutput(stdout: string, stderr = ''): GeminiOutput | undefined {
  const json = lastJsonObject(stdout) ?? lastJsonObject(stderr);
  if (!json || !('response' in json || 'stats' in json || 'error' in json)) return undefined;
  const models = obj(obj(json.stats)?.models) ?? {};
  const usage: ModelUsage[] = Object.entries(models).map(([model, m]) => {
    const t = obj(obj(m)?.tokens);
    const prompt = num(t?.prompt);
    const cached = Math.min(num(t?.cached), prompt);
    return {
      model,
      usage: { inputTokens: prompt - cached, cacheReadTokens: cached, outputTokens: num(t?.candidates) + num(t?.thoughts) },
    };
  });
  const err = obj(json.error);
  const message = typeof err?.message === 'string' ? err.message : err ? JSON.stringify(err) : undefined;
  const type = typeof err?.type === 'string' ? err.type : undefined;
  return {
    response: typeof json.response === 'string' ? json.response : '',
    usage,
    ...(message !== undefined && { error: type ? `${type}: ${message}` : message }),
  };
}

/**
 * Runs a `gemini` owner (see the module docstring).
 *
 * @throws ApplicationFailure per `GEMINI_EXIT_CODES`; `AgentExitError` (other exits, an `error` in the
 *   output), `AgentOutputError` (exit 0 without a JSON result), `AgentConfigError` (binary missing,
 *   variable unset), `AgentTimeoutError`; the cancellation when cancelled. Failures carry the cost.
 */
export const runGemini: OwnerRunner<'gemini'> = async (deps, input, agent) => {
  const run = await startRun(deps, input, 'gemini', agent.env);
  const result = await runCliProcess(run, {
    agent,
    args: geminiArgs(agent),
    prompt: ownerPrompt(input, run.workspace, deps.workspacesRoot),
    installHint: GEMINI_INSTALL_HINT,
  });
  const out = parseGeminiOutput(result.stdout, result.stderr);
  if (result.exitCode === 0 && out && out.error === undefined) {
    return cliResult(run, { summary: out.response, usage: out.usage });
  }
  if (result.exitCode === 0 && !out) {
    const tailOut = messageTail(run, result.stdout);
    throw agentFailure(ActivityErrorType.AgentOutputError, `${run.label} did not write its JSON result (expected --output-format json output)${tailOut ? `; stdout tail:\n${tailOut}` : ''}`, { nonRetryable: false });
  }
  const cost = out && out.usage.length > 0 ? settleRunCost(run, out.usage) : undefined;
  const detail = out?.error !== undefined ? redact(out.error, run.secrets) : messageTail(run, result.stderr);
  const suffix = detail ? `: ${detail}` : '';
  const known = result.exitCode !== null ? GEMINI_EXIT_CODES[result.exitCode] : undefined;
  if (known) {
    const message = `${run.label} ${exitDescription(result)}: ${known.meaning}${suffix}`;
    if (known.type === ActivityErrorType.AgentConfigError) throw agentConfigError(message);
    throw agentFailure(known.type, message, { nonRetryable: known.nonRetryable, ...(cost && { cost }) });
  }
  throw agentFailure(ActivityErrorType.AgentExitError, `${run.label} ${result.exitCode === 0 ? 'reported an error' : exitDescription(result)}${suffix}`, {
    nonRetryable: false,
    ...(cost && { cost }),
  });
};
