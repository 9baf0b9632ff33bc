/**
 * What every non-`command` agent kind shares: the run context (prepared workspace, hooks, the worker's
 * secrets), the CLI process run (explicit environment, heartbeats, soft and hard timeouts, process-group
 * kill, typed failures), and settling a run's cost and artifacts (tokens priced by the squad's table,
 * compared with what the agent reported, logged — never with a secret in it).
 */
import type { AgentSession, OwnerInput, OwnerResult } from "../../domain/attempt.js";
import { settleCost, type ModelUsage } from "../../domain/pricing.js";
import { addCosts, costSince, type Cost } from "../../domain/cost.js";
import type { AgentConfig, CliAgentConfig } from "../../domain/squad.js";
import {
  allowListedEnv,
  cancellationError,
  commandLine,
  resolveProjectPath,
  temporalHooks,
  type ActivityDeps,
  type ActivityHooks,
} from "../context.js";
import { ActivityErrorType, agentConfigError, agentFailure } from "../errors.js";
import type { ApplicationFailure } from "@temporalio/common";
import { DEFAULT_TICK_MS, runProcess, SpawnError, tail, type ProcessResult } from "../process.js";
import { redact, secretsOf, type Secret } from "../secrets.js";
import { openAttemptWorkspace } from "../workspace.js";
import { assistantText, EventScanner } from "./events.js";
export { jsonLine } from "./events.js";
import { listWorkspaceFiles, redactSecretsInFiles } from "./files.js";
import type { AttemptWorktree } from "../repository/types.js";

/** Lines of stderr/stdout quoted in error messages. */
export const MESSAGE_TAIL_LINES = 20;
/** Characters of stderr/stdout quoted in error messages. */
export const MESSAGE_TAIL_CHARS = 2_000;
/** Characters of an agent's final message kept as the owner summary (it goes into workflow history). */
export const MAX_SUMMARY_CHARS = 4_000;

/** An owner implementation for one agent kind (the entries of `OWNER_KINDS`, owner.ts). */
export type OwnerRunner<K extends AgentConfig["kind"]> = (
  deps: ActivityDeps,
  input: OwnerInput,
  agent: Extract<AgentConfig, { kind: K }>,
  /** With a repository (`input.repository`): the attempt worktree owner.ts prepared, the run's working directory. */
  worktree?: AttemptWorktree,
  /** A peer review (src/activities/peer-review.ts) or a plan (src/cli/planner.ts) instead of owner work: its prompt and label. */
  review?: ReviewRun,
) => Promise<OwnerResult>;

/**
 * A CLI agent run as a peer reviewer (issue 12): `prompt` replaces the owner prompt (no session is resumed:
 * the review input has no feedback), `label` names the reviewer in messages (`peer reviewer "x" of card Y`).
 * The caller passes a read-only config and a workspace of the review's own.
 */
export interface ReviewRun {
  prompt: string;
  label: string;
  /** Characters of the final message kept (default `MAX_SUMMARY_CHARS`): a planner's answer is a whole plan (src/cli/planner.ts). */
  maxSummaryChars?: number;
}

/** One run of an agent: everything its implementation needs besides the config. */
export interface AgentRun {
  deps: ActivityDeps;
  input: OwnerInput;
  hooks: ActivityHooks;
  /** The absolute attempt workspace, prepared (emptied, or a copy of the previous attempt; with a repository, the attempt worktree). */
  workspace: string;
  /** The worker's environment (`deps.workerEnv`, else `process.env`). */
  workerEnv: Record<string, string | undefined>;
  /** Secret values of the worker's environment, redacted from every text leaving the run. */
  secrets: Secret[];
  /** Names the agent in messages: `claude-code agent of card SPEC-001`. */
  label: string;
  /** The events read from the agent's assistant messages so far (agents/events.ts), heard by `deps.onOwnerEvent`. */
  events: EventScanner;
  /** Characters of the final message kept as the summary (default `MAX_SUMMARY_CHARS`; see `ReviewRun`). */
  maxSummaryChars?: number;
}

/**
 * Starts a run: prepares the attempt workspace (idempotent, see workspace.ts `openAttemptWorkspace`; with a
 * repository the worktree owner.ts prepared), resolves the hooks, and collects the secrets to redact
 * (`secretNames` plus every secret-looking variable of the worker).
 */
export async function startRun(
  deps: ActivityDeps,
  input: OwnerInput,
  kind: string,
  secretNames: readonly string[] = [],
): Promise<AgentRun> {
  const workerEnv = deps.workerEnv ?? process.env;
  const workspace = await openAttemptWorkspace(deps, input);
  const secrets = secretsOf(workerEnv, secretNames);
  return {
    deps,
    input,
    hooks: (deps.hooks ?? temporalHooks)(),
    workspace,
    workerEnv,
    secrets,
    label: `${kind} agent of card ${input.card.id}`,
    events: new EventScanner(
      deps.onOwnerEvent && ((e) => deps.onOwnerEvent!({ kind: e.kind, name: redact(e.name, secrets) })),
    ),
  };
}

/** `text` redacted and cut to its last lines, for an error message. */
export function messageTail(run: AgentRun, text: string): string {
  return tail(redact(text, run.secrets), MESSAGE_TAIL_LINES, MESSAGE_TAIL_CHARS);
}

/**
 * The environment of a CLI agent, explicitly: the worker's allow-listed basics (PATH, HOME, LANG, LC_ALL,
 * TMPDIR, TZ), the variables the config passes through by name (`env`), the kind's own settings (`kindEnv`,
 * e.g. Gemini's workspace trust; `set_env` may override them), the config's fixed values (`set_env`), and
 * `SQUADFLOW_*`. Nothing else of the worker reaches the agent — an `llm` API key only when listed in `env`.
 *
 * @throws ApplicationFailure `AgentConfigError` naming a variable listed in `env` but unset on the worker.
 */
export function cliEnv(
  run: AgentRun,
  agent: CliAgentConfig,
  kindEnv: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = { ...allowListedEnv(run.workerEnv) };
  for (const name of agent.env) {
    const value = run.workerEnv[name];
    if (value === undefined || value === "") {
      throw agentConfigError(
        `${run.label}: set ${name} in the worker's environment (the agent's config passes it through in "env"), or remove it from "env"`,
      );
    }
    env[name] = value;
  }
  return {
    ...env,
    ...kindEnv,
    ...agent.set_env,
    SQUADFLOW_WORKSPACE: run.workspace,
    SQUADFLOW_CARD_ID: run.input.card.id,
    SQUADFLOW_ATTEMPT: String(run.input.attempt),
    SQUADFLOW_BACKLOG_ID: run.input.backlogId,
  };
}

/**
 * A wall-clock watcher for one run: heartbeats are the caller's; this logs one warning through the activity
 * logger once `softMs` has passed (the old Celery 50-minute soft limit; the run goes on until the hard limit).
 */
export function softTimeoutWatcher(run: AgentRun, softMs: number, hardMs: number): (elapsedMs: number) => void {
  let warned = false;
  return (elapsedMs) => {
    if (warned || elapsedMs < softMs) return;
    warned = true;
    run.hooks.log?.warn(`${run.label} passed its soft time limit`, {
      cardId: run.input.card.id,
      attempt: run.input.attempt,
      elapsedMs,
      softTimeoutMs: softMs,
      hardTimeoutMs: hardMs,
    });
  };
}

/** How to run one CLI agent. */
export interface CliInvocation {
  agent: CliAgentConfig;
  /** Arguments squadflow builds, before `extra_args`. */
  args: string[];
  /** Arguments after `extra_args` (e.g. Codex's `-` = prompt on stdin). */
  trailingArgs?: string[];
  /** The prompt, written to stdin. */
  prompt: string;
  /** What to install when the binary is missing: `npm install -g @anthropic-ai/claude-code`. */
  installHint: string;
  /** Variables the kind itself sets for every run (see `cliEnv`). */
  env?: Record<string, string>;
  /**
   * Reads one line of the agent's stdout stream as it arrives (Claude Code stream-json, Codex JSONL) into
   * `progress`, which every heartbeat carries: what a long run is doing, in the Temporal UI's pending
   * activity view. Must not throw (errors are ignored).
   */
  onLine?: (line: string, progress: AgentProgress) => void;
}

/** What a running agent has done so far, from its event stream: the `progress` of its heartbeat details. */
export interface AgentProgress {
  /** Model turns (assistant messages / completed turns) seen so far. */
  turns: number;
  /** Tokens reported so far (input including cache reads, output). */
  inputTokens: number;
  outputTokens: number;
  /** The last tool the agent called: `Write`, `apply_patch`, `exec_command: npm test`. */
  lastTool?: string;
  /** Type of the last event read. */
  lastEvent?: string;
}

/**
 * Runs a CLI agent in the workspace: its own process group, explicit environment (`cliEnv`), the prompt on
 * stdin, a heartbeat every `heartbeatIntervalMs`, the soft-limit warning, the hard limit (`timeout_ms`:
 * the group is killed), cancellation (the group is killed, the cancellation rethrown).
 *
 * @returns the finished process (any exit code; the kind interprets it)
 * @throws ApplicationFailure `AgentConfigError` (binary missing or not executable — naming what to
 *   install — or a passed-through variable unset), `AgentTimeoutError` (hard limit), `AgentOutputError`
 *   (more than 10 MiB on stdout); the cancellation when the activity was cancelled.
 */
export async function runCliProcess(run: AgentRun, inv: CliInvocation): Promise<ProcessResult> {
  const { agent } = inv;
  const args = [...inv.args, ...agent.extra_args, ...(inv.trailingArgs ?? [])];
  const cmd = commandLine(agent.binary, args);
  const env = cliEnv(run, agent, inv.env);
  const soft = softTimeoutWatcher(run, agent.soft_timeout_ms, agent.timeout_ms);
  run.hooks.heartbeat({ phase: "owner", elapsedMs: 0 });
  const progress: AgentProgress = { turns: 0, inputTokens: 0, outputTokens: 0 };
  let seen = false;
  let partial = "";
  // Every line is read for the agent's events (in its assistant messages), and by `onLine` for progress.
  const onStdout = (chunk: string): void => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop()!;
    for (const line of lines) {
      const text = assistantText(agent.kind, line);
      if (text !== undefined) run.events.push(text);
      if (!inv.onLine) continue;
      try {
        inv.onLine(line, progress);
        seen = true;
      } catch {
        // progress is best effort
      }
    }
  };
  let result: ProcessResult;
  try {
    result = await runProcess({
      command: resolveProjectPath(run.deps.baseDir, agent.binary),
      args,
      cwd: run.workspace,
      env,
      stdin: inv.prompt,
      timeoutMs: agent.timeout_ms,
      signal: run.hooks.cancellationSignal,
      onStdout,
      onTick: (elapsedMs) => {
        run.hooks.heartbeat({ phase: "owner", elapsedMs, ...(seen && { progress: { ...progress } }) });
        soft(elapsedMs);
      },
      tickMs: run.deps.heartbeatIntervalMs ?? DEFAULT_TICK_MS,
      killGraceMs: run.deps.killGraceMs,
      ...(agent.limits && {
        limits: {
          ...(agent.limits.cpu_seconds !== undefined && { cpuSeconds: agent.limits.cpu_seconds }),
          ...(agent.limits.memory_mb !== undefined && { memoryMb: agent.limits.memory_mb }),
        },
      }),
    });
  } catch (err) {
    if (err instanceof SpawnError) {
      const hint =
        err.code === "ENOENT"
          ? `: install it (${inv.installHint}) or set "binary" in the squad config`
          : err.code === "EACCES"
            ? ': make it executable or set "binary" in the squad config'
            : "";
      throw agentConfigError(`${run.label} cannot start: "${err.command}" ${err.why}${hint}`);
    }
    throw err;
  }
  const last = assistantText(agent.kind, partial);
  if (last !== undefined) run.events.push(last);
  run.events.end();
  if (result.cancelled) throw cancellationError(run.hooks.cancellationSignal, `${run.label} ("${cmd}")`);
  if (result.limitExceeded) {
    const { limit, used, max } = result.limitExceeded;
    throw agentFailure(
      ActivityErrorType.AgentResourceLimitError,
      `${run.label} passed its ${limit} limit (${used} > ${max}${limit === "memory_mb" ? " MB resident" : " CPU seconds"}): its process group was killed; raise "limits.${limit}" or split the card`,
      { nonRetryable: true },
    );
  }
  if (result.timedOut) {
    const err = messageTail(run, result.stderr);
    throw agentFailure(
      ActivityErrorType.AgentTimeoutError,
      `${run.label} timed out: its process group was killed after ${agent.timeout_ms} ms${err ? `: ${err}` : ""}`,
      { nonRetryable: false },
    );
  }
  if (result.stdoutTruncated) {
    throw agentFailure(ActivityErrorType.AgentOutputError, `${run.label} wrote more than 10 MiB on stdout ("${cmd}")`, {
      nonRetryable: false,
    });
  }
  return result;
}

/** What a kind extracted from a successful run. */
export interface RunOutcome {
  /** The agent's final message. */
  summary: string;
  /** Tokens per model (the model names the price). */
  usage: ModelUsage[];
  /** USD the agent reported itself, if any. */
  reportedUsd?: number;
  /** Extra facts for the log line (session id, turns, …); never secrets. */
  meta?: Record<string, unknown>;
  /** The agent session, kept on the owner result (and so on the attempt record). */
  session?: AgentSession;
  /** What `usage` covers when the run resumed a session (see `UsageScope`); default `session`. */
  usageScope?: UsageScope;
}

/**
 * What a resumed run's reported usage covers: `session` — every run of the session so far (observed with
 * Claude Code 2.1.332 and Codex 0.171.0); `run` — only this process's own model calls (Gemini CLI 0.61.0,
 * whose `--session-file` import starts a new session with fresh statistics).
 */
export type UsageScope = "session" | "run";

/**
 * The cost a run is charged, from the cost settled from its report (`reported`): for a run that resumed
 * session `resumedFrom` with a session-wide report (`scope` `session`), what it added since the previous
 * run's report (`costSince` of `input.previousSession.sessionCost`); otherwise `reported`. Used on success
 * and on failure alike: a resumed run is never charged its earlier runs again.
 */
export function ownRunCost(
  run: AgentRun,
  reported: Cost,
  resumedFrom: string | undefined,
  scope: UsageScope = "session",
): Cost {
  const before = resumedFrom !== undefined && scope === "session" ? run.input.previousSession?.sessionCost : undefined;
  return before ? costSince(reported, before) : reported;
}

/**
 * The session's cumulative cost after a run (`AgentSession.sessionCost`): the report itself when it covers
 * the session (or the run started it); for a resumed run reporting only itself (`scope` `run`), the
 * previous session cost plus this run's.
 */
export function sessionCostAfter(
  run: AgentRun,
  reported: Cost,
  resumedFrom: string | undefined,
  scope: UsageScope = "session",
): Cost {
  const before = resumedFrom !== undefined && scope === "run" ? run.input.previousSession?.sessionCost : undefined;
  return before ? addCosts(before, reported) : reported;
}

/**
 * Settles a run's cost from its usage (src/domain/pricing.ts `settleCost`, with `input.pricing`) and logs:
 * a warning when computed and reported USD differ by more than 20 % (both logged — agent-reported costs
 * are known to be wrong), a warning naming the models without a price, an info line with the cost.
 */
export function settleRunCost(
  run: AgentRun,
  usage: readonly ModelUsage[],
  reportedUsd?: number,
  meta: Record<string, unknown> = {},
): Cost {
  const settled = settleCost(usage, run.input.pricing, reportedUsd);
  const where = { cardId: run.input.card.id, attempt: run.input.attempt, ...meta };
  if (settled.comparison?.warn) {
    run.hooks.log?.warn(`${run.label}: reported cost differs from the cost computed from tokens by more than 20%`, {
      ...where,
      computedUsd: settled.comparison.computedUsd,
      reportedUsd: settled.comparison.reportedUsd,
      differsBy: Number.isFinite(settled.comparison.differsBy)
        ? Math.round(settled.comparison.differsBy * 1000) / 1000
        : "infinite",
    });
  }
  if (!settled.priced) {
    run.hooks.log?.warn(
      `${run.label}: no price for ${settled.unpriced.join(", ")} in squad.pricing; USD is ${reportedUsd !== undefined ? "what the agent reported" : "not counted"}`,
      where,
    );
  }
  run.hooks.log?.info(`${run.label} finished`, { ...where, cost: settled.cost });
  if (run.input.budgetUsd !== undefined && settled.cost.usd > run.input.budgetUsd) {
    run.hooks.log?.warn(`${run.label} spent more than its budget`, {
      ...where,
      budgetUsd: run.input.budgetUsd,
      usd: settled.cost.usd,
    });
  }
  return settled.cost;
}

/**
 * The owner result of a CLI run (refused as a non-retryable `AgentResourceLimitError`, with its cost, when
 * the reported output tokens pass `maxOutputTokens` — the agent's `limits.max_output_tokens`): every regular file in the workspace (see files.ts `listWorkspaceFiles`)
 * as artifacts (in a repository's worktree none: owner.ts sets the attempt's changed files) — with any secret value the agent wrote into them redacted in place (and a warning) —, the
 * agent's final message as summary (redacted, at most `MAX_SUMMARY_CHARS`), the settled cost, and the
 * agent session when the kind reported one.
 */
export async function cliResult(run: AgentRun, outcome: RunOutcome, maxOutputTokens?: number): Promise<OwnerResult> {
  const reported = settleRunCost(run, outcome.usage, outcome.reportedUsd, outcome.meta);
  const resumedFrom = outcome.session?.resumedFrom;
  const cost = ownRunCost(run, reported, resumedFrom, outcome.usageScope);
  if (maxOutputTokens !== undefined && cost.outputTokens > maxOutputTokens) {
    throw agentFailure(
      ActivityErrorType.AgentResourceLimitError,
      `${run.label} passed its max_output_tokens limit (${cost.outputTokens} output tokens reported > ${maxOutputTokens}); raise "limits.max_output_tokens" or split the card`,
      { nonRetryable: true, cost },
    );
  }
  // A resumed run re-reads the previous session's conversation from the provider's prompt cache: its
  // cache reads are what the resume reused instead of sending the conversation again at full price.
  const session = outcome.session && {
    ...outcome.session,
    sessionCost: sessionCostAfter(run, reported, resumedFrom, outcome.usageScope),
    ...(outcome.session.resumedFrom !== undefined && { reusedTokens: cost.cacheReadTokens ?? 0 }),
  };
  // In a worktree the artifacts are the attempt's changed files, and owner.ts redacts and commits them.
  const events = run.events.events.map((e) => ({ kind: e.kind, name: redact(e.name, run.secrets) }));
  const withEvents = events.length > 0 ? { events } : {};
  if (run.input.repository)
    return {
      artifacts: [],
      summary: summaryOf(run, outcome.summary),
      cost,
      ...(session && { session }),
      ...withEvents,
    };
  const { files, truncated } = await listWorkspaceFiles(run.workspace);
  if (truncated)
    run.hooks.log?.warn(`${run.label} left more than ${files.length} files; only the first are artifacts`, {
      cardId: run.input.card.id,
    });
  await redactArtifacts(run, files);
  return {
    artifacts: files,
    summary: summaryOf(run, outcome.summary),
    cost,
    ...(session && { session }),
    ...withEvents,
  };
}

/** Redacts secret values the agent wrote into its artifacts (files.ts `redactSecretsInFiles`), logging which. */
export async function redactArtifacts(run: AgentRun, files: readonly string[]): Promise<void> {
  for (const hit of await redactSecretsInFiles(run.workspace, files, run.secrets)) {
    run.hooks.log?.warn(`${run.label} wrote a secret into an artifact; it was redacted`, {
      cardId: run.input.card.id,
      file: hit.file,
      variables: hit.names,
    });
  }
}

/** A final message fit for history: redacted, trimmed, at most `MAX_SUMMARY_CHARS`. */
export function summaryOf(run: AgentRun, text: string): string {
  const s = redact(text, run.secrets).trim();
  const max = run.maxSummaryChars ?? MAX_SUMMARY_CHARS;
  return s.length > max ? s.slice(0, max - 1) + "…" : s;
}

/** How a CLI's exit is described in messages: `exited 2` or `was killed by SIGKILL`. */
export function exitDescription(result: ProcessResult): string {
  return result.exitCode !== null ? `exited ${result.exitCode}` : `was killed by ${result.signal ?? "a signal"}`;
}

/**
 * How a provider API error that ended an agent's run fails it, by HTTP status (the CLIs report it: Claude
 * Code `api_error_status`, Gemini's error `code` and its exit code, Codex's "unexpected status 401"):
 * - 401, 403 → `AgentConfigError` (credentials refused; `keyHint` says what to set);
 * - 400 naming the API key (Gemini answers a bad key with 400 "API key not valid") → `AgentConfigError`;
 *   any other 400, 413, 422 → `AgentInputError` (the request itself is refused; the same one fails again);
 * - 404 → `AgentConfigError` (model or endpoint unknown: check "model" and the base URL);
 * - 408, 409, 429, 5xx (529 overloaded included) → `LlmApiError`, retryable — the CLI's own retries gave up;
 * - anything else → `AgentExitError`, retryable.
 * The message names the run, `HTTP <status>` and the provider's (redacted) message.
 */
export function apiStatusFailure(
  run: AgentRun,
  status: number,
  text: string,
  keyHint: string,
  cost?: Cost,
): ApplicationFailure {
  const detail = messageTail(run, text);
  const what = `${run.label}: the model API answered HTTP ${status}${detail ? `: ${detail}` : ""}`;
  const withCost = cost ? { cost } : {};
  if (status === 401 || status === 403 || (status === 400 && /api[ _-]?key/i.test(text))) {
    return agentConfigError(`${what} (the credentials were refused: ${keyHint})`);
  }
  if (status === 404)
    return agentConfigError(`${what} (model or endpoint unknown: check "model" and the base URL the agent uses)`);
  if (status === 400 || status === 413 || status === 422) {
    return agentFailure(
      ActivityErrorType.AgentInputError,
      `${what} (the request was refused; the same one would be refused again)`,
      { nonRetryable: true, ...withCost },
    );
  }
  if (status === 408 || status === 409 || status === 429 || status >= 500) {
    return agentFailure(
      ActivityErrorType.LlmApiError,
      `${what} (the agent's own retries gave up; a later try may succeed)`,
      { nonRetryable: false, ...withCost },
    );
  }
  return agentFailure(ActivityErrorType.AgentExitError, what, { nonRetryable: false, ...withCost });
}

/**
 * Messages that mean the credentials were refused (a retry cannot help): HTTP 401/403 wording, "invalid
 * API key", Claude Code's "please run /login", "not logged in".
 */
export const AUTH_FAILURE =
  /\b401\b|\b403\b|unauthori[sz]ed|invalid[ _-]?api[ _-]?key|invalid x-api-key|incorrect api key|authentication (?:failed|error)|please run \/login|not logged in|missing bearer|api key not valid/i;

/**
 * The JSON object of a CLI's output: the whole text, else its last line that parses as an object, else the
 * last pretty-printed object that ends the text (from a line starting with `{` to the end).
 */
export function lastJsonObject(text: string): Record<string, unknown> | undefined {
  const trimmed = text.trim();
  const tryParse = (t: string): Record<string, unknown> | undefined => {
    try {
      const v: unknown = JSON.parse(t);
      return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
    } catch {
      return undefined;
    }
  };
  const whole = trimmed === "" ? undefined : tryParse(trimmed);
  if (whole) return whole;
  const lines = trimmed.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim();
    if (line.startsWith("{")) {
      const v = tryParse(line);
      if (v) return v;
    }
  }
  // A pretty-printed object after other output (Gemini CLI writes its error JSON after a stack trace):
  // its opening brace is the last line that starts with "{" at column 0.
  for (let i = lines.length - 1; i >= 0; i--) {
    if (lines[i]!.startsWith("{")) {
      const v = tryParse(lines.slice(i).join("\n"));
      if (v) return v;
    }
  }
  return undefined;
}
