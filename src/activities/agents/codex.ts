/**
 * The `codex` agent kind: the OpenAI Codex CLI in non-interactive mode.
 *
 * **Command.** `<binary> exec --json [--skip-git-repo-check] --sandbox <sandbox> [--model <model>]
 * <extra_args…> -` in the attempt workspace (`--skip-git-repo-check` only in an isolated workspace, which is
 * no git repository; a repository's worktree is one — issue 9), the owner prompt
 * on stdin (`-`), its own process group, the explicit environment of run.ts `cliEnv` (Codex authenticates
 * with `OPENAI_API_KEY` only when the config lists it in `env`, else with the login under HOME/CODEX_HOME).
 *
 * **Events.** JSONL on stdout, one event per line: `thread.started` (`thread_id`), `turn.started`,
 * `turn.completed` (`usage`: `input_tokens` — cached ones included —, `cached_input_tokens`,
 * `output_tokens`), `turn.failed` (`error.message`), `item.started|updated|completed` with `item.type`
 * `agent_message` (`text`), `command_execution` (`command`, `exit_code`, `status`), `file_change`
 * (`changes[].path`, `kind`), `reasoning`, `error` (`message`) …, and top-level `error` (`message`).
 * Lines that are not JSON objects are ignored; unknown events and items too. The stream is read as it
 * arrives (`codexProgress`: turns, tokens, last tool — carried by every heartbeat). The run succeeded when the
 * process exited 0 and the last turn event is `turn.completed`.
 *
 * **Cost.** Codex reports tokens, no USD and no model: the tokens of every turn are summed and priced as
 * the configured `model` (squad.pricing).
 *
 * **Artifacts.** Every regular file in the workspace after the run.
 *
 * **Session.** `thread_id` and the turns completed are kept as `session: { id, turns }`. A correction with
 * `input.previousSession` continues that thread (`codex exec resume <id>`, prompt: only the feedback),
 * recorded as `session.resumedFrom`; a thread Codex no longer has ("no rollout found") falls back to a fresh
 * one with the full prompt and a warning.
 *
 * **Failures.** An API error by the status its message names (`codexApiStatus`, typed by run.ts
 * `apiStatusFailure`: 401/403 and a 400 about the key → `AgentConfigError`, 429/5xx → retryable
 * `LlmApiError`); a patch or command the sandbox refused (stderr `tools::router: error=patch rejected…`) →
 * non-retryable `AgentPermissionError`, even on exit 0. Codex has no turn or budget limit of its own.
 */
import type { ModelUsage } from "../../domain/pricing.js";
import type { CodexAgentConfig } from "../../domain/squad.js";
import type { AgentSession } from "../../domain/attempt.js";
import { ActivityErrorType, agentConfigError, agentFailure, agentPermissionError } from "../errors.js";
import { redact } from "../secrets.js";
import { ownerPrompt, resumePrompt } from "./prompt.js";
import { resumableSession } from "./claude-code.js";
import {
  apiStatusFailure,
  AUTH_FAILURE,
  cliResult,
  jsonLine,
  exitDescription,
  messageTail,
  ownRunCost,
  runCliProcess,
  settleRunCost,
  startRun,
  type AgentProgress,
  type OwnerRunner,
} from "./run.js";

/** Install hint for a missing binary. */
export const CODEX_INSTALL_HINT = "npm install -g @openai/codex";

/**
 * The CLI arguments squadflow builds (before `extra_args`; the prompt marker `-` goes last).
 * @param inWorktree true when the run's working directory is a git worktree (no `--skip-git-repo-check`)
 * @param resume a thread id to continue (`exec resume <id>`, sandbox as `-c sandbox_mode=…`)
 * @param allowDirs absolute directories the sandbox also lets it write (`OwnerInput.allowDirs`): `--add-dir`,
 *   or `-c sandbox_workspace_write.writable_roots=[…]` for `exec resume`
 */
export function codexArgs(
  agent: CodexAgentConfig,
  inWorktree = false,
  resume?: string,
  allowDirs: readonly string[] = [],
): string[] {
  // `exec resume` has no --sandbox or --add-dir flag: the same settings go in as config overrides.
  const sandbox = resume !== undefined ? ["-c", `sandbox_mode="${agent.sandbox}"`] : ["--sandbox", agent.sandbox];
  const args = [
    "exec",
    ...(resume !== undefined ? ["resume", resume] : []),
    "--json",
    ...(inWorktree ? [] : ["--skip-git-repo-check"]),
    ...sandbox,
  ];
  if (allowDirs.length > 0) {
    if (resume !== undefined) args.push("-c", `sandbox_workspace_write.writable_roots=${JSON.stringify(allowDirs)}`);
    else for (const dir of allowDirs) args.push("--add-dir", dir);
  }
  if (agent.model !== undefined) args.push("--model", agent.model);
  return args;
}

/** Codex's answer to `exec resume` with a thread it does not have. */
const THREAD_GONE = /no rollout found for thread id/i;

/** What squadflow reads from a Codex event stream. */
export interface CodexStream {
  /** Parsed events (JSON objects with a string `type`). */
  events: number;
  /** Lines that were not JSON events. */
  skippedLines: number;
  threadId?: string;
  turnsCompleted: number;
  /** Tokens summed over every `turn.completed` (uncached input, cache reads, output). */
  usage: { inputTokens: number; cacheReadTokens: number; outputTokens: number };
  /** The last turn event: `completed`, `failed`, or none seen. */
  lastTurn?: "completed" | "failed";
  /** Text of the last `agent_message` item. */
  lastMessage: string;
  /** Messages of `turn.failed`, top-level `error` events and `error` items, in order. */
  errors: string[];
  /** Commands the agent ran that failed (`exit_code` ≠ 0 or status `failed`). */
  failedCommands: string[];
  /** Paths of `file_change` items. */
  changedFiles: string[];
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : 0;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** Reads a Codex JSONL event stream (see the module docstring); never throws. */
export function parseCodexEvents(stdout: string): CodexStream {
  const s: CodexStream = {
    events: 0,
    skippedLines: 0,
    turnsCompleted: 0,
    usage: { inputTokens: 0, cacheReadTokens: 0, outputTokens: 0 },
    lastMessage: "",
    errors: [],
    failedCommands: [],
    changedFiles: [],
  };
  for (const raw of stdout.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "") continue;
    let ev: Record<string, unknown> | undefined;
    try {
      ev = obj(JSON.parse(line));
    } catch {
      ev = undefined;
    }
    const type = str(ev?.type);
    if (!ev || type === undefined) {
      s.skippedLines++;
      continue;
    }
    s.events++;
    switch (type) {
      case "thread.started":
        s.threadId = str(ev.thread_id) ?? s.threadId;
        break;
      case "turn.completed": {
        const u = obj(ev.usage);
        const input = num(u?.input_tokens);
        const cached = Math.min(num(u?.cached_input_tokens), input);
        s.usage.inputTokens += input - cached;
        s.usage.cacheReadTokens += cached;
        s.usage.outputTokens += num(u?.output_tokens);
        s.turnsCompleted++;
        s.lastTurn = "completed";
        break;
      }
      case "turn.failed":
        s.lastTurn = "failed";
        s.errors.push(str(obj(ev.error)?.message) ?? "turn failed");
        break;
      case "error":
        s.errors.push(str(ev.message) ?? "error");
        break;
      case "item.completed": {
        const item = obj(ev.item);
        const itemType = str(item?.type) ?? str(item?.item_type);
        if (itemType === "agent_message") s.lastMessage = str(item?.text) ?? s.lastMessage;
        else if (itemType === "command_execution") {
          const code = item?.exit_code;
          if (item?.status === "failed" || (typeof code === "number" && code !== 0)) {
            s.failedCommands.push(
              `${str(item?.command) ?? "(command)"}${typeof code === "number" ? ` (exit ${code})` : ""}`,
            );
          }
        } else if (itemType === "file_change") {
          const changes = Array.isArray(item?.changes) ? item.changes : [];
          for (const c of changes) {
            const p = str(obj(c)?.path);
            if (p !== undefined) s.changedFiles.push(p);
          }
        } else if (itemType === "error") {
          s.errors.push(str(item?.message) ?? "error item");
        }
        break;
      }
      default:
        break;
    }
  }
  return s;
}

/** What to set when the API refuses the key. */
const CODEX_KEY_HINT =
  "list OPENAI_API_KEY in the agent's \"env\" and set it on the worker, or log in as the worker's user";

/**
 * The HTTP status behind a Codex error message: `unexpected status 401 Unauthorized: …`, `exceeded retry
 * limit, last status: 429 Too Many Requests`, a provider error body (`{"error":{"type":"invalid_request_error",
 * …}}` → 400), or Codex's own wording for a 5xx (`We're currently experiencing high demand…` → 500);
 * undefined when the message names none.
 */
export function codexApiStatus(message: string): number | undefined {
  const m = /\bstatus:? (\d{3})\b/i.exec(message);
  if (m) return Number(m[1]);
  try {
    const err = (JSON.parse(message) as { error?: { code?: unknown; type?: unknown } }).error;
    if (typeof err?.code === "number" && err.code >= 400 && err.code <= 599) return err.code;
    if (err?.type === "invalid_request_error") return 400;
    if (err?.type === "server_error") return 500;
  } catch {
    // not a JSON error body
  }
  if (/experiencing high demand|internal server error|server_error|overloaded/i.test(message)) return 500;
  return undefined;
}

/**
 * Tools Codex refused to run, from its stderr log lines (`codex_core::tools::router: error=patch rejected:
 * writing is blocked by read-only sandbox; …`): a rejected patch is `apply_patch`, a rejected command
 * `exec_command`. The JSON stream carries no event for them.
 */
export function codexDeniedTools(stderr: string): string[] {
  const denied: string[] = [];
  for (const m of stderr.matchAll(/tools::router: error=([^\n]*)/g)) {
    const why = m[1]!;
    if (!/rejected|blocked|denied|not permitted/i.test(why)) continue;
    if (/^patch\b/i.test(why)) denied.push("apply_patch");
    else if (/command|exec/i.test(why)) denied.push("exec_command");
    else denied.push(why.split(/[\s:]/)[0] || "tool");
  }
  return [...new Set(denied)];
}

/** The session of a run: the thread id (`codex exec resume <id>` continues it) and the turns completed. */
export function codexSession(s: CodexStream): AgentSession | undefined {
  return s.threadId !== undefined ? { id: s.threadId, turns: s.turnsCompleted } : undefined;
}

/**
 * Reads one JSONL event into the run's progress: `turn.completed` is a turn with its usage; a started
 * `command_execution` or `file_change` item is the last tool (`exec_command: <command>`, `apply_patch`).
 */
export function codexProgress(line: string, p: AgentProgress): void {
  const ev = jsonLine(line);
  const type = str(ev?.type);
  if (!ev || type === undefined) return;
  p.lastEvent = type;
  if (type === "turn.completed") {
    const u = obj(ev.usage);
    p.turns++;
    p.inputTokens += num(u?.input_tokens);
    p.outputTokens += num(u?.output_tokens);
  } else if (type === "item.started" || type === "item.completed") {
    const item = obj(ev.item);
    if (item?.type === "command_execution") p.lastTool = `exec_command: ${str(item.command) ?? ""}`.trim();
    else if (item?.type === "file_change") p.lastTool = "apply_patch";
  }
}

/** The run's tokens as one model's usage (Codex names no model: the configured one prices them). */
export function codexUsage(s: CodexStream, model: string | undefined): ModelUsage[] {
  return [
    {
      model,
      usage: {
        inputTokens: s.usage.inputTokens,
        outputTokens: s.usage.outputTokens,
        cacheReadTokens: s.usage.cacheReadTokens,
      },
    },
  ];
}

/**
 * Runs a `codex` owner (see the module docstring).
 *
 * @throws ApplicationFailure `AgentConfigError` (binary missing, variable unset, credentials refused),
 *   `AgentExitError` (`turn.failed`, a fatal `error`, a non-zero exit), `AgentOutputError` (no JSON event
 *   at all), `AgentTimeoutError`; the cancellation when cancelled. Failures carry the cost of the tokens
 *   spent (errors.ts `AgentFailureDetails`).
 */
export const runCodex: OwnerRunner<"codex"> = async (deps, input, agent, _worktree, review) => {
  const run = await startRun(deps, input, "codex", agent.env);
  if (review) run.label = review.label;
  if (review?.maxSummaryChars) run.maxSummaryChars = review.maxSummaryChars;
  const launch = (resume: string | undefined) =>
    runCliProcess(run, {
      agent,
      args: codexArgs(agent, input.repository !== undefined, resume, input.allowDirs),
      trailingArgs: ["-"],
      prompt:
        resume !== undefined
          ? resumePrompt(input, run.workspace)
          : (review?.prompt ?? ownerPrompt(input, run.workspace, deps.workspacesRoot)),
      installHint: CODEX_INSTALL_HINT,
      onLine: codexProgress,
    });
  let resumed = resumableSession(input);
  let result = await launch(resumed);
  if (resumed !== undefined && result.exitCode !== 0 && THREAD_GONE.test(result.stderr + result.stdout)) {
    run.hooks.log?.warn(`${run.label}: thread ${resumed} is gone; starting a fresh one`, {
      cardId: input.card.id,
      attempt: input.attempt,
    });
    resumed = undefined;
    result = await launch(undefined);
  }
  const stream = parseCodexEvents(result.stdout);
  const meta = {
    threadId: stream.threadId,
    turns: stream.turnsCompleted,
    failedCommands: stream.failedCommands.length,
  };
  const usage = codexUsage(stream, agent.model);
  const errors = stream.errors.map((e) => redact(e, run.secrets));
  const reported = codexSession(stream);
  const session = reported && resumed !== undefined ? { ...reported, resumedFrom: resumed } : reported;
  const denied = codexDeniedTools(result.stderr);
  if (denied.length > 0) {
    throw agentPermissionError(
      `${run.label}: Codex's sandbox "${agent.sandbox}" refused ${denied.join(", ")}; allow ${denied.length === 1 ? "it" : "them"} (sandbox "workspace-write", or "danger-full-access" for commands outside the workspace) or split the card`,
      denied,
      ownRunCost(run, settleRunCost(run, usage, undefined, meta), resumed),
    );
  }
  const ok = result.exitCode === 0 && stream.lastTurn === "completed";
  if (ok)
    return cliResult(
      run,
      { summary: stream.lastMessage, usage, meta, ...(session && { session }) },
      agent.limits?.max_output_tokens,
    );

  if (stream.events === 0) {
    if (result.exitCode !== 0) {
      const err = messageTail(run, result.stderr || result.stdout);
      if (AUTH_FAILURE.test(err))
        throw agentConfigError(`${run.label}: Codex could not authenticate: ${err} (${CODEX_KEY_HINT})`);
      throw agentFailure(
        ActivityErrorType.AgentExitError,
        `${run.label} ${exitDescription(result)}${err ? `: ${err}` : " (no output)"}`,
        { nonRetryable: false },
      );
    }
    const out = messageTail(run, result.stdout);
    throw agentFailure(
      ActivityErrorType.AgentOutputError,
      `${run.label} wrote no JSON events on stdout (expected codex exec --json output)${out ? `; stdout tail:\n${out}` : ""}`,
      { nonRetryable: false },
    );
  }
  // A failed resumed run is charged only what it added to the thread, like a successful one.
  const cost = ownRunCost(run, settleRunCost(run, usage, undefined, meta), resumed);
  const why = errors.length > 0 ? errors[errors.length - 1]! : messageTail(run, result.stderr);
  const status = codexApiStatus(why);
  if (status !== undefined) throw apiStatusFailure(run, status, why, CODEX_KEY_HINT, cost);
  if (AUTH_FAILURE.test(why)) {
    throw agentConfigError(`${run.label}: Codex could not authenticate: ${why} (${CODEX_KEY_HINT})`);
  }
  const how =
    stream.lastTurn === "failed"
      ? "turn failed"
      : stream.lastTurn === undefined
        ? "ended without completing a turn"
        : exitDescription(result);
  throw agentFailure(
    ActivityErrorType.AgentExitError,
    `${run.label} failed (${how}, ${exitDescription(result)})${why ? `: ${why}` : ""}`,
    { nonRetryable: false, cost },
  );
};
