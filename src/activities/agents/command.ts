/**
 * The `command` agent kind (src/domain/squad.ts `CommandAgentSchema`): any program speaking squadflow's
 * stdin/stdout JSON protocol.
 *
 * ## The `command` agent protocol (version 1)
 *
 * **Process.** `command args…` runs without a shell, in its own process group. `command` and args that
 * start with `./` or `../` are resolved against the worker's project root (`ActivityDeps.baseDir`); other
 * values are passed unchanged (`node` is looked up on PATH).
 *
 * **Working directory.** The absolute attempt workspace, `<workspacesRoot>/<backlogId>/<cardId>/attempt-<n>`.
 * It is emptied on every run (a retry starts clean); for a correction (attempt ≥ 2) it starts as a copy of
 * the previous attempt's workspace, so the agent reworks its earlier files.
 *
 * **In a repository** (the backlog has `metadata.repository` — issue 9) the working directory is instead
 * the attempt's git worktree, `<worktreesRoot>/<backlogId>/<cardId>/attempt-<n>`, checked out on the
 * attempt branch: a checkout of the project with every DONE dependency's work merged in (a correction:
 * the previous attempt's branch, rebased on the integration branch). A retry starts from a clean worktree.
 * The agent may commit (its commits count) or leave its changes uncommitted (squadflow commits them with
 * `git add -A`, leaving out node_modules, virtualenvs, caches and agent state dirs). The card's artifacts
 * are then the files the attempt changed (`git diff --name-status <base_commit>..<head>`), whatever the
 * agent reports in `artifacts`. The agent must not move other branches (least of all the integration branch).
 *
 * **Environment.** Only PATH, HOME, LANG, LC_ALL, TMPDIR, TZ of the worker (when set), then the agent's
 * configured `env`, then `SQUADFLOW_WORKSPACE` (absolute workspace), `SQUADFLOW_CARD_ID`,
 * `SQUADFLOW_ATTEMPT` (1-based), `SQUADFLOW_BACKLOG_ID`, `SQUADFLOW_RESULT_FILE` (see below). Nothing else
 * of the worker leaks in.
 *
 * **stdin.** One JSON object (UTF-8), then EOF:
 * ```json
 * {
 *   "backlog_id": "shop",
 *   "card": { "id": "SPEC-001", "type": "SPEC", "title": "…", "description": "…", "priority": "HIGH",
 *             "dependencies": ["ARQ-001"], "acceptance_criteria": ["…"] },
 *   "attempt": 2,
 *   "workspace": "/abs/state/workspaces/shop/SPEC-001/attempt-2",
 *   "dependencies": [ { "card_id": "ARQ-001", "artifacts": ["/abs/state/workspaces/shop/ARQ-001/attempt-1/docs/arch.md"] } ],
 *   "feedback": null | { "round": 1, "reasons": ["llm_judge: criterion \"Risks\" not met: …"],
 *                        "root_cause": "…", "suggestions": ["…"], "human_context": "…" }
 * }
 * ```
 * `root_cause`, `suggestions` and `human_context` are present only when known. Dependency artifact paths
 * are absolute (relative ones are resolved against the workspaces root; in a repository against the
 * worktree, where they already are).
 *
 * In a repository the object has one more field, `repository` (absent otherwise):
 * ```json
 * "repository": { "worktree": "/abs/state/worktrees/shop/SPEC-001/attempt-2",
 *                 "branch": "squadflow-attempts/shop/SPEC-001/attempt-2",
 *                 "base_commit": "<40-hex: the commit the attempt's changes are measured against>",
 *                 "integration_branch": "squadflow/shop" }
 * ```
 *
 * In a council (issue 12, src/domain/deliberation.ts) the object has one more field, `council` (absent
 * otherwise): `{ "step": "propose" | "critique" | "revise" | "choose", "agent": "<its squad name>",
 * "round": 1, "of": "<the agent whose proposal it critiques>" }`. A critique's and the architect's work
 * is their `summary` (the architect's: the JSON `{ "winner": "<agent>", "rationale": "…" }`); their
 * working directory is a scratch folder, the card's description holds what to read.
 *
 * With a budget the object has `budget_usd` (absent otherwise): what the run may spend, USD — what the card
 * and backlog budgets leave, or a council run's share of it. The agent should stop within it (as Claude
 * Code does with `--max-budget-usd`); what it reports beyond it is still counted.
 *
 * **stdout.** Exactly one JSON object (whitespace around it allowed; log to stderr, never stdout):
 * ```json
 * { "artifacts": ["docs/spec.md"], "summary": "Wrote the spec",
 *   "usage": { "input_tokens": 1200, "output_tokens": 800, "cost_usd": 0.0123 } }
 * ```
 * `artifacts` are paths relative to the workspace (absolute paths are refused; the verification gate
 * checks the rest). `summary` may be omitted (empty). `usage` may be omitted (cost zero); tokens are
 * non-negative integers, `cost_usd` a non-negative number in US dollars. Unknown fields are ignored.
 *
 * **Events (optional).** Before that object the agent may write event lines, one JSON object per line:
 * `{"squadflow":"milestone","name":"schema written"}` — `squadflow` one of `milestone`, `request_review`,
 * `blocker`, `name` a short text. They are taken out of stdout before the answer is parsed and come back in
 * `OwnerResult.events`, in order; a card type with `peer_review.trigger: "on_milestone"` is reviewed on
 * a milestone or request_review (issue 12).
 *
 * **Result file (optional, recommended for agents with side effects).** `SQUADFLOW_RESULT_FILE` names a
 * file beside the workspace (`<workspace>.agent-result.json`; in a repository beside the worktree, whose
 * work is then kept for the retry). An agent may write its stdout answer there
 * too — atomically (a temporary file, then rename) — as soon as its work is done. If its worker dies before
 * hearing the answer, Temporal retries the activity, and the retry takes the answer from that file instead
 * of running the agent a second time for the same attempt. A run that fails (non-zero exit, timeout) has
 * its result file deleted.
 *
 * **Secrets.** The worker's secret values (see secrets.ts `secretsOf`) are redacted from the summary, from
 * every quoted output tail, and — in place, with a warning in the activity log — from the reported
 * artifacts that are regular files inside the workspace, before any validator reads (and may quote) them.
 *
 * **Exit status.** 0 on success. Anything else fails the run (retryable `AgentExitError`, message
 * `agent "<command line>" exited <code>: <stderr tail>`).
 *
 * **Limits.** `timeout_ms` wall clock (default 10 min): then the process group gets SIGTERM, and SIGKILL
 * after a grace period (retryable `AgentTimeoutError`). stdout and stderr are capped at 10 MiB each.
 */
import { rm } from "node:fs/promises";
import { resolve } from "node:path";
import { relative } from "node:path";
import { z } from "zod";
import { ApplicationFailure } from "@temporalio/common";
import type {
  CorrectionFeedback,
  DependencyArtifacts,
  OwnerEvent,
  OwnerInput,
  OwnerResult,
} from "../../domain/attempt.js";
import { roundUsd, ZERO_COST, type Cost } from "../../domain/cost.js";
import { CommandAgentSchema, type CommandAgentConfig } from "../../domain/squad.js";
import {
  allowListedEnv,
  cancellationError,
  commandLine,
  resolveProjectPath,
  temporalHooks,
  type ActivityDeps,
  type ActivityHooks,
} from "../context.js";
import { ActivityErrorType, agentConfigError } from "../errors.js";
import { DEFAULT_TICK_MS, runProcess, SpawnError, tail, type ProcessResult } from "../process.js";
import { redact, secretsOf, type Secret } from "../secrets.js";
import {
  besideWorkspace,
  checkArtifact,
  looksAbsolute,
  openAttemptWorkspace,
  ownerRootDir,
  readBesideWorkspace,
  realWorkspace,
} from "../workspace.js";
import type { AttemptWorktree } from "../repository/types.js";
import { redactSecretsInFiles } from "./files.js";

/** Lines of stderr/stdout quoted in error messages. */
const MESSAGE_TAIL_LINES = 20;
/** Characters of stderr/stdout quoted in error messages. */
const MESSAGE_TAIL_CHARS = 2_000;

/** The stdin object of the protocol (snake_case), see the module docstring. */
export interface AgentRequest {
  backlog_id: string;
  card: {
    id: string;
    type: string;
    title: string;
    description: string;
    priority: string;
    dependencies: string[];
    acceptance_criteria: string[];
  };
  /** 1-based. */
  attempt: number;
  /** Absolute attempt workspace. */
  workspace: string;
  dependencies: { card_id: string; artifacts: string[] }[];
  /** In a repository (issue 9): the attempt worktree (= `workspace`), its branch, base commit and the integration branch. */
  repository?: { worktree: string; branch: string; base_commit: string; integration_branch: string };
  feedback: null | {
    round: number;
    reasons: string[];
    root_cause?: string;
    suggestions?: string[];
    human_context?: string;
  };
  /**
   * A council run (issue 12): what the agent is asked (`propose`, `critique` the proposal of `of`, `revise`
   * its own with the critiques in `feedback`, `choose` a winner as the architect), its round and its name.
   */
  council?: { step: string; agent: string; round?: number; of?: string };
  /** The run's budget, USD (`OwnerInput.budgetUsd`; absent = unlimited): the agent should stop within it. */
  budget_usd?: number;
}

/** The stdout object of the protocol, validated; see the module docstring. */
export const AgentResponseSchema = z.object({
  artifacts: z.array(
    z
      .string()
      .min(1, "must be a non-empty path")
      .refine((p) => !looksAbsolute(p), "must be relative to the workspace, not absolute"),
  ),
  summary: z.string().default(""),
  usage: z
    .object({
      input_tokens: z.number().int().nonnegative(),
      output_tokens: z.number().int().nonnegative(),
      cost_usd: z.number().nonnegative(),
    })
    .optional(),
});
/** A validated agent response, with the events the agent emitted before it. */
export type AgentResponse = z.infer<typeof AgentResponseSchema> & { events?: OwnerEvent[] };

/** An event line of the protocol (see the module docstring). */
const EventLineSchema = z.object({
  squadflow: z.enum(["milestone", "request_review", "blocker"]),
  name: z.string().min(1).max(200),
});

/**
 * Splits an agent's stdout into its event lines (`{"squadflow": "milestone", "name": "…"}`, one per line)
 * and the rest, which is the answer.
 */
export function splitEvents(stdout: string): { rest: string; events: OwnerEvent[] } {
  const events: OwnerEvent[] = [];
  const rest: string[] = [];
  for (const line of stdout.split("\n")) {
    const t = line.trim();
    if (t.startsWith('{"squadflow"') || t.startsWith('{ "squadflow"')) {
      try {
        const e = EventLineSchema.safeParse(JSON.parse(t));
        if (e.success) {
          events.push({ kind: e.data.squadflow, name: e.data.name });
          continue;
        }
      } catch {
        // Not an event line after all: it stays part of the answer (and fails its parse there).
      }
    }
    rest.push(line);
  }
  return { rest: rest.join("\n"), events };
}

function feedbackJson(f: CorrectionFeedback | undefined): AgentRequest["feedback"] {
  if (!f) return null;
  return {
    round: f.round,
    reasons: f.reasons,
    ...(f.rootCause !== undefined && { root_cause: f.rootCause }),
    ...(f.suggestions !== undefined && { suggestions: f.suggestions }),
    ...(f.humanContext !== undefined && { human_context: f.humanContext }),
  };
}

function dependencyJson(root: string, d: DependencyArtifacts): AgentRequest["dependencies"][number] {
  // Read-only hints for the agent; legacy DONE cards may carry absolute paths, kept as they are.
  return { card_id: d.cardId, artifacts: d.artifacts.map((a) => (looksAbsolute(a) ? a : resolve(root, a))) };
}

/**
 * Builds the stdin object of the protocol for an owner input; `workspace` is the absolute attempt dir;
 * `worktree` (with a repository) adds the `repository` field, and dependency paths are then resolved
 * against the worktree.
 */
export function agentRequest(
  input: OwnerInput,
  workspace: string,
  workspacesRoot: string,
  worktree?: AttemptWorktree,
): AgentRequest {
  const c = input.card;
  const depsRoot = input.repository ? workspace : workspacesRoot;
  return {
    backlog_id: input.backlogId,
    card: {
      id: c.id,
      type: c.type,
      title: c.title,
      description: c.description,
      priority: c.priority,
      dependencies: c.dependencies,
      acceptance_criteria: c.acceptanceCriteria,
    },
    attempt: input.attempt,
    workspace,
    dependencies: input.dependencies.map((d) => dependencyJson(depsRoot, d)),
    ...(worktree && {
      repository: {
        worktree: worktree.dir,
        branch: worktree.branch,
        base_commit: worktree.baseCommit,
        integration_branch: worktree.integrationBranch,
      },
    }),
    feedback: feedbackJson(input.feedback),
    ...(input.council && {
      council: {
        step: input.council.step,
        agent: input.council.agent,
        ...(input.council.round !== undefined && { round: input.council.round }),
        ...(input.council.of !== undefined && { of: input.council.of }),
      },
    }),
    ...(input.budgetUsd !== undefined && { budget_usd: input.budgetUsd }),
  };
}

function formatZodIssues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.length ? i.path.map(String).join(".") : "(root)"}: ${i.message}`).join("; ");
}

/**
 * Parses an agent's stdout per the protocol.
 *
 * @throws ApplicationFailure `AgentOutputError` (retryable) naming the command, the parse or schema error
 *   and the stdout tail.
 */
export function parseAgentResponse(stdout: string, cmd: string): AgentResponse {
  const { rest, events } = splitEvents(stdout);
  const text = rest.trim();
  const stdoutTail = tail(stdout, MESSAGE_TAIL_LINES, MESSAGE_TAIL_CHARS);
  const fail = (why: string): ApplicationFailure =>
    ApplicationFailure.retryable(
      `agent "${cmd}" ${why}${stdoutTail ? `; stdout tail:\n${stdoutTail}` : ""}`,
      ActivityErrorType.AgentOutputError,
    );
  if (text === "") {
    throw fail(
      'wrote nothing on stdout; expected one JSON object {"artifacts": [...], "summary": "...", "usage": {...}}',
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw fail(`did not write one JSON object on stdout: ${(err as Error).message}`);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw fail("did not write one JSON object on stdout: got " + (Array.isArray(json) ? "an array" : typeof json));
  }
  const parsed = AgentResponseSchema.safeParse(json);
  if (!parsed.success) throw fail(`wrote JSON that does not match the protocol: ${formatZodIssues(parsed.error)}`);
  return { ...parsed.data, ...(events.length > 0 && { events }) };
}

/**
 * The cost of a `command` run: its reported tokens and USD (a command agent names no model, so the price
 * table cannot price it; its `cost_usd` is the figure budgets count).
 */
function usageCost(r: AgentResponse): Cost {
  if (!r.usage) return { ...ZERO_COST };
  return { inputTokens: r.usage.input_tokens, outputTokens: r.usage.output_tokens, usd: roundUsd(r.usage.cost_usd) };
}

function failedRunError(
  cmd: string,
  run: ProcessResult,
  timeoutMs: number,
  secrets: readonly Secret[],
): ApplicationFailure {
  const stderrTail = tail(redact(run.stderr, secrets), MESSAGE_TAIL_LINES, MESSAGE_TAIL_CHARS);
  const suffix = stderrTail ? `: ${stderrTail}` : " (no stderr)";
  if (run.timedOut) {
    return ApplicationFailure.retryable(
      `agent "${cmd}" timed out: its process group was killed after ${timeoutMs} ms${suffix}`,
      ActivityErrorType.AgentTimeoutError,
    );
  }
  const how = run.exitCode !== null ? `exited ${run.exitCode}` : `was killed by ${run.signal ?? "a signal"}`;
  return ApplicationFailure.retryable(`agent "${cmd}" ${how}${suffix}`, ActivityErrorType.AgentExitError);
}

/**
 * Redacts, in place, the worker's secret values that the agent wrote into its reported artifacts (those that
 * are regular files inside the workspace — others are refused by verification and never read), logging
 * which files and variables. Verification and QA quote artifact lines and outputs into verdicts, which go
 * into workflow history: a secret must be gone before they run.
 */
async function redactReportedArtifacts(
  deps: ActivityDeps,
  input: OwnerInput,
  artifacts: readonly string[],
  secrets: readonly Secret[],
  hooks: ActivityHooks,
): Promise<void> {
  // In a repository owner.ts redacts the attempt's changed files before committing them.
  if (secrets.length === 0 || artifacts.length === 0 || input.repository) return;
  // No workspace (a recorded answer whose files are gone): nothing to redact, and nothing to quote either.
  const realWs = await realWorkspace(ownerRootDir(deps, input), input.workspace).catch(() => undefined);
  if (realWs === undefined) return;
  const files: string[] = [];
  for (const a of new Set(artifacts)) {
    const check = await checkArtifact(realWs, a);
    if (check.ok) files.push(relative(realWs, check.path));
  }
  for (const hit of await redactSecretsInFiles(realWs, files, secrets)) {
    hooks.log?.warn(`command agent of card ${input.card.id} wrote a secret into an artifact; it was redacted`, {
      cardId: input.card.id,
      file: hit.file,
      variables: hit.names,
    });
  }
}

const AGENT_RESULT = "agent-result";

/** The agent's result file of an attempt: `<workspacesRoot>/<workspace>.agent-result.json` (protocol above). */
export function agentResultFile(workspacesRoot: string, workspace: string): string {
  return besideWorkspace(workspacesRoot, workspace, AGENT_RESULT);
}

/**
 * Runs a `command` owner per the protocol above.
 *
 * @throws ApplicationFailure `AgentConfigError` (invalid config, binary missing / not executable),
 *   `AgentExitError`, `AgentOutputError`, `AgentTimeoutError`; the cancellation when cancelled. Worker
 *   secrets are redacted from every quoted output tail.
 */
export async function runCommandAgent(
  deps: ActivityDeps,
  input: OwnerInput,
  config: CommandAgentConfig,
  worktree?: AttemptWorktree,
): Promise<OwnerResult> {
  // Re-parsed so that defaults apply even when a caller passes the config as written in the file.
  const parsed = CommandAgentSchema.safeParse(config);
  if (!parsed.success) {
    throw agentConfigError(`card ${input.card.id}: invalid command agent config: ${formatZodIssues(parsed.error)}`);
  }
  const agent = parsed.data;
  const hooks = (deps.hooks ?? temporalHooks)();
  const cmd = commandLine(agent.command, agent.args);
  const secrets = secretsOf(deps.workerEnv ?? process.env);
  const root = ownerRootDir(deps, input);
  const resultFile = agentResultFile(root, input.workspace);
  // A previous try of this attempt whose agent finished (its worker died before hearing the answer).
  const answered = await readBesideWorkspace(root, input.workspace, AGENT_RESULT, (t) => parseAgentResponse(t, cmd));
  if (answered) {
    await redactReportedArtifacts(deps, input, answered.artifacts, secrets, hooks);
    return {
      artifacts: answered.artifacts,
      summary: redact(answered.summary, secrets),
      cost: usageCost(answered),
      ...eventsOf(answered, secrets),
    };
  }
  const workspace = await openAttemptWorkspace(deps, input);
  await rm(resultFile, { force: true });
  const env: Record<string, string> = {
    ...allowListedEnv(deps.workerEnv ?? process.env),
    ...agent.env,
    SQUADFLOW_WORKSPACE: workspace,
    SQUADFLOW_CARD_ID: input.card.id,
    SQUADFLOW_ATTEMPT: String(input.attempt),
    SQUADFLOW_BACKLOG_ID: input.backlogId,
    SQUADFLOW_RESULT_FILE: resultFile,
  };
  hooks.heartbeat({ phase: "owner", elapsedMs: 0 });
  let run: ProcessResult;
  try {
    run = await runProcess({
      command: resolveProjectPath(deps.baseDir, agent.command),
      args: agent.args.map((a) => resolveProjectPath(deps.baseDir, a)),
      cwd: workspace,
      env,
      stdin: JSON.stringify(agentRequest(input, workspace, deps.workspacesRoot, worktree)) + "\n",
      timeoutMs: agent.timeout_ms,
      signal: hooks.cancellationSignal,
      onTick: (elapsedMs) => hooks.heartbeat({ phase: "owner", elapsedMs }),
      tickMs: deps.heartbeatIntervalMs ?? DEFAULT_TICK_MS,
      killGraceMs: deps.killGraceMs,
    });
  } catch (err) {
    if (err instanceof SpawnError) {
      const hint =
        err.code === "ENOENT" || err.code === "EACCES" ? ` (check "command" in the squad config and PATH)` : "";
      throw agentConfigError(
        `agent "${cmd}" of card ${input.card.id} cannot start: "${err.command}" ${err.why}${hint}`,
      );
    }
    throw err;
  }
  if (run.cancelled) throw cancellationError(hooks.cancellationSignal, `agent "${cmd}"`);
  if (run.timedOut || run.exitCode !== 0) {
    await rm(resultFile, { force: true });
    throw failedRunError(cmd, run, agent.timeout_ms, secrets);
  }
  if (run.stdoutTruncated) {
    throw ApplicationFailure.retryable(
      `agent "${cmd}" wrote more than 10 MiB on stdout; write one JSON object there and logs to stderr`,
      ActivityErrorType.AgentOutputError,
    );
  }
  let response: AgentResponse;
  try {
    response = parseAgentResponse(run.stdout, cmd);
  } catch (err) {
    if (err instanceof ApplicationFailure) err.message = redact(err.message, secrets);
    throw err;
  }
  await redactReportedArtifacts(deps, input, response.artifacts, secrets, hooks);
  return {
    artifacts: response.artifacts,
    summary: redact(response.summary, secrets),
    cost: usageCost(response),
    ...eventsOf(response, secrets),
  };
}

/** `{ events }` of a response (names redacted), or nothing when it had none. */
function eventsOf(r: AgentResponse, secrets: readonly Secret[]): Pick<OwnerResult, "events"> {
  return r.events ? { events: r.events.map((e) => ({ kind: e.kind, name: redact(e.name, secrets) })) } : {};
}
