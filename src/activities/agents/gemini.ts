/**
 * The `gemini` agent kind: the Gemini CLI in headless mode.
 *
 * **Command.** `<binary> --output-format stream-json --approval-mode <approval_mode> [--model <model>]
 * [--include-directories <dir>…] [--session-file <file>] <extra_args…>` in the attempt workspace, with `GEMINI_CLI_TRUST_WORKSPACE=true` (a fresh attempt folder is
 * untrusted: Gemini CLI would force approval mode "default" and exit 55), the owner prompt on stdin (a non-TTY stdin runs it headless),
 * its own process group, the explicit environment of run.ts `cliEnv` (Gemini authenticates with
 * `GEMINI_API_KEY` only when the config lists it in `env`).
 *
 * **Stream.** One JSON event per line on stdout, read as it arrives (`geminiProgress`, carried by every
 * heartbeat): `init` (`session_id`, `model`), `message` (`role`, `content`; the assistant's text comes as
 * `delta` chunks), `tool_use` (`tool_name`), `tool_result`, `error` (`severity`, `message`: a warning or a
 * non-fatal error), and last `result` (`status` `success`/`error`, `error: { type, message }`, `stats`:
 * `input_tokens` — cached ones included —, `output_tokens`, `cached`, `total_tokens`, and the same per model
 * under `models`). The stream reports no tokens before `result`, so a Gemini heartbeat's `progress` has turns
 * (model replies: each run of assistant events after the prompt or a tool result) and the last tool, with
 * tokens 0 until the end.
 *
 * **Session resume.** A correction with `input.previousSession` continues that session: Gemini CLI keeps
 * sessions per project folder (`~/.gemini/tmp/<project>/chats/session-<time>-<id8>.jsonl`, `GEMINI_CLI_HOME`
 * replacing the home) and every attempt runs in a folder of its own, where `--resume <id>` finds nothing; so
 * squadflow looks the session file up in every project folder (`findGeminiSessionFile`) and passes
 * `--session-file <file>`, which imports the conversation into the new folder under a new session id
 * (recorded, with `session.resumedFrom` the previous one); the prompt is then `resumePrompt`, only the
 * feedback. A session file that is gone, or that Gemini cannot import (exit 42 "Error importing session
 * from file"), falls back to a fresh session with the full prompt (a warning says so). The resumed run's
 * stats cover only its own calls (`usageScope` `run`).
 *
 * **Result.** `parseGeminiStream`: the answer is the assistant `message` deltas joined, the session id the
 * `init` event's, tokens and the error the `result` event's. Without stream events (Gemini failed before
 * its run started, e.g. on an untrusted folder or an API error of its first call), the JSON error object
 * Gemini writes on stderr (pretty-printed after a stack trace: `error: { type, message, code }`) is read
 * instead (`parseGeminiOutput`, which also reads the `--output-format json` object).
 *
 * **API errors.** `error.code` is the HTTP status (the exit code is that status truncated to a byte:
 * 401 → 145, 400 → 144, 500 → 244): typed by run.ts `apiStatusFailure` (401/403 and a 400 about the key →
 * `AgentConfigError`, 429/5xx → retryable `LlmApiError`).
 *
 * **Permissions.** A tool the approval mode leaves out (stderr `Error executing tool write_file: Tool
 * "write_file" not found`) or a policy denies → non-retryable `AgentPermissionError` naming it, even on exit 0.
 *
 * **Exit codes** (Gemini CLI's fatal errors) → typed failures: 41 authentication → `AgentConfigError`;
 * 42 input (prompt or arguments) → `AgentInputError`; 44 sandbox, 52 configuration and 55 untrusted
 * workspace → `AgentConfigError`;
 * 53 turn limit → `AgentTurnLimitError` (all non-retryable); 54 tool execution → `AgentToolError`;
 * 130 cancelled (interrupted by someone other than squadflow) → `AgentCancelledError`; any other non-zero
 * exit → `AgentExitError` (retryable).
 *
 * **Cost.** Per model: uncached input = `input_tokens − cached`, cache reads = `cached`, output =
 * `total_tokens − input_tokens` (candidates and thoughts: the stream's `output_tokens` leaves the thoughts
 * out, which are billed as output); priced by `squad.pricing` (Gemini reports no USD).
 */
import { open, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { ModelUsage } from "../../domain/pricing.js";
import type { GeminiAgentConfig } from "../../domain/squad.js";
import type { AgentSession } from "../../domain/attempt.js";
import {
  ActivityErrorType,
  agentConfigError,
  agentFailure,
  agentPermissionError,
  type ActivityErrorType as ErrorType,
} from "../errors.js";
import { redact } from "../secrets.js";
import { resumableSession } from "./claude-code.js";
import { ownerPrompt, resumePrompt } from "./prompt.js";
import {
  apiStatusFailure,
  cliEnv,
  cliResult,
  exitDescription,
  jsonLine,
  lastJsonObject,
  messageTail,
  runCliProcess,
  settleRunCost,
  startRun,
  type AgentProgress,
  type OwnerRunner,
} from "./run.js";

/** Install hint for a missing binary. */
export const GEMINI_INSTALL_HINT = "npm install -g @google/gemini-cli";

/**
 * The CLI arguments squadflow builds (before `extra_args`): one `--include-directories <dir>` per
 * `allowDirs` (the card type's `permissions.allow_dirs`, absolute), and `--session-file <file>` for a
 * correction that continues the previous session (`findGeminiSessionFile`).
 */
export function geminiArgs(
  agent: GeminiAgentConfig,
  allowDirs: readonly string[] = [],
  sessionFile?: string,
): string[] {
  const args = ["--output-format", "stream-json", "--approval-mode", agent.approval_mode];
  if (agent.model !== undefined) args.push("--model", agent.model);
  for (const dir of allowDirs) args.push("--include-directories", dir);
  if (sessionFile !== undefined) args.push("--session-file", sessionFile);
  return args;
}

/**
 * The folder under which Gemini CLI keeps its per-project state for a run's environment `env`:
 * `<GEMINI_CLI_HOME or HOME>/.gemini/tmp` (Gemini CLI 0.61 `Storage.getGlobalTempDir`).
 */
export function geminiTempDir(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const home = env.GEMINI_CLI_HOME || env.HOME;
  return home ? join(home, ".gemini", "tmp") : undefined;
}

/**
 * The file of Gemini session `id`, looked for in every project's store under `tempDir`
 * (`<tempDir>/<project>/chats/session-<time>-<first 8 characters of the id>.jsonl`, or `.json` from older
 * versions, whose first line or object names the `sessionId`); undefined when no such file exists.
 *
 * Gemini CLI keeps sessions per project folder and every attempt runs in a folder of its own, so its
 * `--resume <id>` in the next attempt's folder cannot find the session: squadflow finds the file and hands
 * it to `--session-file`, which imports it into the new folder's store.
 */
export async function findGeminiSessionFile(tempDir: string, id: string): Promise<string | undefined> {
  const suffixes = [`-${id.slice(0, 8)}.jsonl`, `-${id.slice(0, 8)}.json`];
  const projects = await readdir(tempDir, { withFileTypes: true }).catch(() => []);
  for (const project of projects) {
    if (!project.isDirectory()) continue;
    const chats = join(tempDir, project.name, "chats");
    const files = await readdir(chats).catch(() => [] as string[]);
    for (const file of files) {
      if (!file.startsWith("session-") || !suffixes.some((s) => file.endsWith(s))) continue;
      const path = join(chats, file);
      if ((await sessionIdOf(path)) === id) return path;
    }
  }
  return undefined;
}

/** The `sessionId` a session file's head names (its first 64 KiB: the metadata line or object). */
async function sessionIdOf(path: string): Promise<string | undefined> {
  const handle = await open(path, "r").catch(() => undefined);
  if (!handle) return undefined;
  try {
    const { buffer, bytesRead } = await handle.read({ buffer: Buffer.alloc(65_536), position: 0 });
    return /"sessionId"\s*:\s*"([^"]+)"/.exec(buffer.subarray(0, bytesRead).toString("utf8"))?.[1];
  } finally {
    await handle.close();
  }
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
  41: {
    type: ActivityErrorType.AgentConfigError,
    nonRetryable: true,
    meaning:
      "authentication failed: list GEMINI_API_KEY in the agent's \"env\" and set it on the worker, or log in as the worker's user",
  },
  42: {
    type: ActivityErrorType.AgentInputError,
    nonRetryable: true,
    meaning: 'the prompt or the arguments were refused: check "extra_args"',
  },
  44: {
    type: ActivityErrorType.AgentConfigError,
    nonRetryable: true,
    meaning: "the sandbox could not start: check the Gemini CLI sandbox settings",
  },
  52: {
    type: ActivityErrorType.AgentConfigError,
    nonRetryable: true,
    meaning: 'its configuration is invalid: check the Gemini CLI settings and "extra_args"',
  },
  53: {
    type: ActivityErrorType.AgentTurnLimitError,
    nonRetryable: true,
    meaning: "it reached its turn limit (maxSessionTurns): raise it or split the card",
  },
  54: { type: ActivityErrorType.AgentToolError, nonRetryable: false, meaning: "a tool it ran failed fatally" },
  55: {
    type: ActivityErrorType.AgentConfigError,
    nonRetryable: true,
    meaning:
      'the workspace is not trusted (squadflow sets GEMINI_CLI_TRUST_WORKSPACE=true: check that "set_env" does not override it)',
  },
  130: {
    type: ActivityErrorType.AgentCancelledError,
    nonRetryable: false,
    meaning: "it was cancelled (SIGINT) by something other than squadflow",
  },
};

/**
 * Variables squadflow sets for every Gemini run: trust the attempt workspace (a fresh folder is untrusted,
 * and Gemini CLI then forces approval mode "default" and exits 55 in headless mode).
 */
export const GEMINI_ENV: Readonly<Record<string, string>> = { GEMINI_CLI_TRUST_WORKSPACE: "true" };

/** Gemini CLI's answer (exit 42) to a `--session-file` it cannot read. */
const SESSION_IMPORT_FAILED = /Error importing session from file/i;

/** What to set when the API refuses the key. */
const GEMINI_KEY_HINT = 'list GEMINI_API_KEY in the agent\'s "env" and set it on the worker';

/**
 * The HTTP status an exit code stands for: Gemini CLI exits with the API error's status, which the OS
 * truncates to a byte (401 → 145, 400 → 144, 429 → 173, 500 → 244). Only read when its error JSON is missing.
 */
export function httpStatusOfExit(code: number | null): number | undefined {
  return code !== null && code >= 144 && code <= 255 ? code + 256 : undefined;
}

/** Gemini's tools that write or run something: the ones an approval mode leaves out of a headless run. */
const GATED_TOOLS = new Set(["write_file", "replace", "edit", "run_shell_command"]);

/**
 * Tools the run was denied, from the stderr lines `Error executing tool <name>: …`: refused by a policy
 * ("denied by policy"), or left out of the tool registry by the approval mode (`Tool "<name>" not found`
 * for one of Gemini's writing or shell tools).
 */
export function geminiDeniedTools(stderr: string): string[] {
  const denied: string[] = [];
  for (const m of stderr.matchAll(/Error executing tool (\S+): ([^\n]*)/g)) {
    const [, tool, why] = m as unknown as [string, string, string];
    if (/denied by policy/i.test(why) || (GATED_TOOLS.has(tool) && /not found/i.test(why))) denied.push(tool);
  }
  return [...new Set(denied)];
}

/** The fields of Gemini's JSON output squadflow reads. */
export interface GeminiOutput {
  response: string;
  usage: ModelUsage[];
  /** `error.message` (with `type`), when present. */
  error?: string;
  /** `error.code` when it is an HTTP status (400–599): the API error that ended the run. */
  httpStatus?: number;
  /** `session_id`. */
  sessionId?: string;
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** Reads Gemini's JSON output object; `undefined` when neither text holds one. */
export function parseGeminiOutput(stdout: string, stderr = ""): GeminiOutput | undefined {
  const json = lastJsonObject(stdout) ?? lastJsonObject(stderr);
  if (!json || !("response" in json || "stats" in json || "error" in json)) return undefined;
  const models = obj(obj(json.stats)?.models) ?? {};
  const usage: ModelUsage[] = Object.entries(models).map(([model, m]) => {
    const t = obj(obj(m)?.tokens);
    const prompt = num(t?.prompt);
    const cached = Math.min(num(t?.cached), prompt);
    return {
      model,
      usage: {
        inputTokens: prompt - cached,
        cacheReadTokens: cached,
        outputTokens: num(t?.candidates) + num(t?.thoughts),
      },
    };
  });
  const err = obj(json.error);
  const message = typeof err?.message === "string" ? err.message : err ? JSON.stringify(err) : undefined;
  const type = typeof err?.type === "string" ? err.type : undefined;
  const code = err?.code;
  return {
    response: typeof json.response === "string" ? json.response : "",
    usage,
    ...(message !== undefined && { error: type ? `${type}: ${message}` : message }),
    ...(typeof code === "number" && code >= 400 && code <= 599 && { httpStatus: code }),
    ...(typeof json.session_id === "string" && { sessionId: json.session_id }),
  };
}

/**
 * Reads one stream-json event into the run's progress: a model reply (the first assistant `message` or
 * `tool_use` after the prompt or a `tool_result`) is a turn, `tool_use` names the last tool, `result`
 * brings the run's tokens (input with cache reads, output). `state.replying` tracks the reply in progress.
 */
export function geminiProgress(
  line: string,
  p: AgentProgress,
  state: { replying: boolean } = { replying: false },
): void {
  const ev = jsonLine(line);
  if (!ev || typeof ev.type !== "string") return;
  p.lastEvent = ev.type;
  const fromModel = ev.type === "tool_use" || (ev.type === "message" && ev.role === "assistant");
  if (fromModel && !state.replying) p.turns++;
  if (fromModel) state.replying = true;
  if (ev.type === "tool_result" || (ev.type === "message" && ev.role === "user")) state.replying = false;
  if (ev.type === "tool_use" && typeof ev.tool_name === "string") p.lastTool = ev.tool_name;
  if (ev.type === "result") {
    const stats = obj(ev.stats);
    const input = num(stats?.input_tokens);
    p.inputTokens = input;
    p.outputTokens = Math.max(num(stats?.output_tokens), num(stats?.total_tokens) - input);
  }
}

/**
 * Reads Gemini's stream-json output (see the module docstring); `undefined` when stdout holds no stream
 * event (then `parseGeminiOutput` reads the error Gemini wrote on stderr).
 */
export function parseGeminiStream(stdout: string): GeminiOutput | undefined {
  let sessionId: string | undefined;
  let response = "";
  let result: Record<string, unknown> | undefined;
  let seen = false;
  for (const line of stdout.split("\n")) {
    const ev = jsonLine(line);
    if (!ev || typeof ev.type !== "string") continue;
    if (ev.type === "init") {
      seen = true;
      if (typeof ev.session_id === "string") sessionId = ev.session_id;
    } else if (ev.type === "message" && ev.role === "assistant" && typeof ev.content === "string") {
      seen = true;
      response += ev.content;
    } else if (ev.type === "result") {
      seen = true;
      result = ev;
    }
  }
  if (!seen) return undefined;
  const models = obj(obj(result?.stats)?.models) ?? {};
  const usage: ModelUsage[] = Object.entries(models).map(([model, m]) => {
    const t = obj(m);
    const prompt = num(t?.input_tokens);
    const cached = Math.min(num(t?.cached), prompt);
    return {
      model,
      usage: {
        inputTokens: prompt - cached,
        cacheReadTokens: cached,
        outputTokens: Math.max(num(t?.output_tokens), num(t?.total_tokens) - prompt),
      },
    };
  });
  const err = obj(result?.error);
  const message = typeof err?.message === "string" ? err.message : err ? JSON.stringify(err) : undefined;
  const type = typeof err?.type === "string" ? err.type : undefined;
  const failed =
    result === undefined
      ? "ended without a result event"
      : result.status !== "success" && message === undefined
        ? `ended with status ${JSON.stringify(result.status)}`
        : undefined;
  const error = message !== undefined ? (type ? `${type}: ${message}` : message) : failed;
  return { response, usage, ...(error !== undefined && { error }), ...(sessionId !== undefined && { sessionId }) };
}

/**
 * Runs a `gemini` owner (see the module docstring).
 *
 * @throws ApplicationFailure per `GEMINI_EXIT_CODES`; `AgentExitError` (other exits, an `error` in the
 *   output), `AgentOutputError` (exit 0 without a JSON result), `AgentConfigError` (binary missing,
 *   variable unset), `AgentTimeoutError`; the cancellation when cancelled. Failures carry the cost.
 */
export const runGemini: OwnerRunner<"gemini"> = async (deps, input, agent, _worktree, review) => {
  const run = await startRun(deps, input, "gemini", agent.env);
  if (review) run.label = review.label;
  if (review?.maxSummaryChars) run.maxSummaryChars = review.maxSummaryChars;
  const launch = (sessionFile: string | undefined) =>
    runCliProcess(run, {
      agent,
      args: geminiArgs(agent, input.allowDirs, sessionFile),
      prompt:
        sessionFile !== undefined
          ? resumePrompt(input, run.workspace)
          : (review?.prompt ?? ownerPrompt(input, run.workspace, deps.workspacesRoot)),
      installHint: GEMINI_INSTALL_HINT,
      env: { ...GEMINI_ENV },
      onLine: (() => {
        const state = { replying: false };
        return (line: string, p: AgentProgress) => geminiProgress(line, p, state);
      })(),
    });
  const gone = (id: string) =>
    run.hooks.log?.warn(`${run.label}: session ${id} is gone; starting a fresh one`, {
      cardId: input.card.id,
      attempt: input.attempt,
    });
  let resumed = resumableSession(input);
  const tempDir = resumed !== undefined ? geminiTempDir(cliEnv(run, agent, GEMINI_ENV)) : undefined;
  const sessionFile =
    resumed !== undefined && tempDir !== undefined ? await findGeminiSessionFile(tempDir, resumed) : undefined;
  if (resumed !== undefined && sessionFile === undefined) {
    gone(resumed);
    resumed = undefined;
  }
  let result = await launch(sessionFile);
  if (resumed !== undefined && result.exitCode !== 0 && SESSION_IMPORT_FAILED.test(result.stderr + result.stdout)) {
    gone(resumed);
    resumed = undefined;
    result = await launch(undefined);
  }
  const out = parseGeminiStream(result.stdout) ?? parseGeminiOutput(result.stdout, result.stderr);
  const session: AgentSession | undefined =
    out?.sessionId !== undefined
      ? { id: out.sessionId, ...(resumed !== undefined && { resumedFrom: resumed }) }
      : undefined;
  const denied = geminiDeniedTools(result.stderr);
  if (denied.length > 0) {
    throw agentPermissionError(
      `${run.label}: Gemini CLI denied ${denied.join(", ")} under approval_mode "${agent.approval_mode}"; allow ${denied.length === 1 ? "it" : "them"} (approval_mode "auto_edit" for edits, "yolo" for shell commands) or split the card`,
      denied,
      settleRunCost(run, out?.usage ?? []),
    );
  }
  if (result.exitCode === 0 && out && out.error === undefined) {
    // A resumed run's stats cover only its own calls: Gemini CLI's --session-file import starts a new session.
    return cliResult(
      run,
      {
        summary: out.response,
        usage: out.usage,
        usageScope: "run",
        ...(session && { session, meta: { sessionId: session.id } }),
      },
      agent.limits?.max_output_tokens,
    );
  }
  if (result.exitCode === 0 && !out) {
    const tailOut = messageTail(run, result.stdout);
    throw agentFailure(
      ActivityErrorType.AgentOutputError,
      `${run.label} did not write its JSON result (expected --output-format stream-json events)${tailOut ? `; stdout tail:\n${tailOut}` : ""}`,
      { nonRetryable: false },
    );
  }
  const cost = out && out.usage.length > 0 ? settleRunCost(run, out.usage) : undefined;
  // The stream's result event carries no HTTP status: the stderr error object may, else the exit code does.
  const status =
    out?.httpStatus ?? parseGeminiOutput("", result.stderr)?.httpStatus ?? httpStatusOfExit(result.exitCode);
  if (status !== undefined) {
    const text = out?.error ?? result.stderr;
    throw apiStatusFailure(
      run,
      status,
      `${text}${out?.httpStatus === undefined ? ` (${exitDescription(result)})` : ""}`,
      GEMINI_KEY_HINT,
      cost,
    );
  }
  const detail = out?.error !== undefined ? redact(out.error, run.secrets) : messageTail(run, result.stderr);
  const suffix = detail ? `: ${detail}` : "";
  const known = result.exitCode !== null ? GEMINI_EXIT_CODES[result.exitCode] : undefined;
  if (known) {
    const message = `${run.label} ${exitDescription(result)}: ${known.meaning}${suffix}`;
    if (known.type === ActivityErrorType.AgentConfigError) throw agentConfigError(message);
    throw agentFailure(known.type, message, { nonRetryable: known.nonRetryable, ...(cost && { cost }) });
  }
  throw agentFailure(
    ActivityErrorType.AgentExitError,
    `${run.label} ${result.exitCode === 0 ? "reported an error" : exitDescription(result)}${suffix}`,
    {
      nonRetryable: false,
      ...(cost && { cost }),
    },
  );
};
