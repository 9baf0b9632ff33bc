/**
 * The owner activity: runs the card's owner agent in a fresh attempt workspace and returns the artifacts
 * it produced. Pluggable by `agent.kind` (src/domain/squad.ts `AgentSchema`) through `OWNER_KINDS`, one
 * file per kind in ./agents/:
 * - `command` — any program speaking squadflow's stdin/stdout JSON protocol (agents/command.ts, protocol there);
 * - `claude-code` — Claude Code headless, `claude -p --output-format json` (agents/claude-code.ts);
 * - `codex` — OpenAI Codex CLI, `codex exec --json` (agents/codex.ts);
 * - `gemini` — Gemini CLI headless, `gemini --output-format json` (agents/gemini.ts);
 * - `llm` — one LLM API call with structured output, files written by squadflow (agents/llm.ts).
 *
 * With a repository (`OwnerInput.repository`, issue 9) the attempt runs in its own git worktree on the
 * attempt branch (repository/attempt.ts): made before the agent runs, and after it whatever the agent left
 * uncommitted is committed by squadflow; the artifacts are then the files the attempt changed.
 *
 * Every kind: idempotent workspace preparation (a retry starts clean), heartbeats while the agent runs,
 * a hard wall-clock limit (the process group is killed / the call aborted) and a soft one (a logged
 * warning), cancellation, an explicit environment (ENV_ALLOW_LIST + what the config passes), typed
 * failures (errors.ts), secrets redacted from everything that leaves, tokens priced by the squad's table.
 */
import { z } from "zod";
import type { OwnerInput, OwnerResult } from "../domain/attempt.js";
import { roundUsd } from "../domain/cost.js";
import { CostSchema } from "../domain/cost-schema.js";
import { AgentSchema, type AgentConfig } from "../domain/squad.js";
import { runClaudeCode } from "./agents/claude-code.js";
import { runCodex } from "./agents/codex.js";
import { runCommandAgent } from "./agents/command.js";
import { runGemini } from "./agents/gemini.js";
import { runLlmAgent } from "./agents/llm.js";
import type { OwnerRunner } from "./agents/run.js";
import { assertAbsolute, temporalHooks, type ActivityDeps, type ActivityHooks } from "./context.js";
import { agentUnavailable } from "./agents/availability.js";
import { ActivityErrorType, agentConfigError, agentFailure, type AgentFailureDetails } from "./errors.js";
import { ApplicationFailure } from "@temporalio/common";
import { openOwnerWorktree, settleOwnerCommit, type AttemptWorktree } from "./repository/attempt.js";
import { asActivityFailure } from "./repository/errors.js";
import { ownerEventNotifier } from "./owner-events.js";
import { heartbeating } from "./repository/repo.js";
import { secretsOf } from "./secrets.js";
import { besideWorkspace, ownerRootDir, readBesideWorkspace, writeBesideWorkspace } from "./workspace.js";

export {
  agentRequest,
  AgentResponseSchema,
  parseAgentResponse,
  type AgentRequest,
  type AgentResponse,
} from "./agents/command.js";

/** Owner implementations by agent kind (squad.ts `AgentSchema`); a new kind adds an entry here and a file in ./agents/. */
export const OWNER_KINDS: { [K in AgentConfig["kind"]]: OwnerRunner<K> } = {
  command: runCommandAgent,
  "claude-code": runClaudeCode,
  codex: runCodex,
  gemini: runGemini,
  llm: runLlmAgent,
};

function formatIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues.map((i) => `${i.path.length ? i.path.map(String).join(".") : "(root)"}: ${i.message}`).join("; ");
}

/**
 * Creates the owner activity.
 *
 * `runOwner(input)` refuses to start when `input.budgetUsd` is ≤ 0, re-parses `input.agent` (so defaults
 * apply to a config passed as written in the file), grants `input.grantedTools` from the first launch
 * (`withGrantedTools`), prepares the attempt workspace (emptied, or a copy of
 * `input.previousWorkspace`), runs the agent of `input.agent.kind` (see `OWNER_KINDS`), and returns its
 * artifacts (relative to the attempt workspace), summary and cost (tokens, USD).
 *
 * With `input.repository` (issue 9) the workspace is `<worktreesRoot>/<workspace>`, a git worktree on the
 * attempt branch made from the integration tip (a correction: `input.previousGit`'s head rebased on it);
 * after the agent squadflow commits what it left uncommitted, and the result's `artifacts` are the files the
 * attempt changed and `git` its branch, base and head commits. The owner record is read before the worktree
 * is touched: a retry after the agent finished returns it and leaves the worktree as it is.
 *
 * Throws `ApplicationFailure`s (errors.ts): `AgentConfigError` (non-retryable: unknown kind, invalid config,
 * binary missing, API key unset or refused), `AgentBudgetExceededError`, `AgentTurnLimitError`,
 * `AgentInputError`, `LlmRequestError` (non-retryable), `AgentExitError`, `AgentOutputError`,
 * `AgentTimeoutError`, `AgentToolError`, `AgentCancelledError`, `LlmApiError` (retryable), `WorkspaceError` /
 * `WorkspaceNotFoundError` (see workspace.ts), `RepositoryError` (non-retryable) / `GitError` (retryable)
 * with a repository; a `CancelledFailure` when the activity was cancelled.
 */
export function createRunOwner(deps: ActivityDeps): (input: OwnerInput) => Promise<OwnerResult> {
  assertAbsolute("workspacesRoot", deps.workspacesRoot);
  assertAbsolute("baseDir", deps.baseDir);
  return async function runOwner(input: OwnerInput): Promise<OwnerResult> {
    const kind = input.agent.kind;
    const runner = OWNER_KINDS[kind] as OwnerRunner<AgentConfig["kind"]> | undefined;
    if (!runner)
      throw agentConfigError(
        `card ${input.card.id}: unknown agent kind "${String(kind)}" (kinds: ${Object.keys(OWNER_KINDS).join(", ")})`,
      );
    if (input.budgetUsd !== undefined && input.budgetUsd <= 0) {
      throw agentFailure(
        ActivityErrorType.AgentBudgetExceededError,
        `card ${input.card.id}: no budget left for the owner run (remaining $${roundUsd(input.budgetUsd)})`,
        { nonRetryable: true },
      );
    }
    // A previous try of this attempt whose agent finished (its worker died before Temporal heard of it):
    // the agent must not run, and produce its side effects, a second time for the same attempt.
    const root = ownerRootDir(deps, input);
    const recorded = await readBesideWorkspace(root, input.workspace, OWNER_RECORD, (t) =>
      OwnerResultSchema.parse(JSON.parse(t)),
    );
    if (recorded) return recorded;
    const hooks = (deps.hooks ?? temporalHooks)();
    const routed = await routeToAvailable(deps, input, hooks);
    const runKind = routed.agent.kind;
    const chosenRunner = OWNER_KINDS[runKind] as OwnerRunner<AgentConfig["kind"]>;
    let agent: AgentConfig = routed.agent; // a command agent validates its own config (protocol messages)
    if (runKind !== "command") {
      const parsed = AgentSchema.safeParse(routed.agent);
      if (!parsed.success)
        throw agentConfigError(
          `card ${input.card.id}: invalid ${runKind} agent config: ${formatIssues(parsed.error.issues)}`,
        );
      agent = parsed.data;
    }
    let worktree: AttemptWorktree | undefined;
    if (input.repository) {
      const repository = input.repository;
      worktree = await heartbeating(hooks, "worktree", deps.heartbeatIntervalMs, () =>
        openOwnerWorktree(deps, { ...input, repository }, hooks),
      ).catch((err: unknown) => {
        throw asActivityFailure(err, `worktree of card ${input.card.id} attempt ${input.attempt}`);
      });
    }
    // A session belongs to the agent that made it: a pooled card routed to another candidate starts afresh.
    const { previousSession, ...rest } = input;
    const sameAgent = routed.name === undefined || routed.name === input.ownerCandidates?.[0]?.name;
    const runInput: OwnerInput = sameAgent && previousSession ? { ...rest, previousSession } : rest;
    // Tools a human granted after a permission blocker are allowed from the first launch: a run denied
    // them again would be wasted before the recovery granted them.
    const granted = input.grantedTools?.length ? withGrantedTools(agent, input.grantedTools) : undefined;
    if (granted)
      hooks.log?.info(
        `card ${input.card.id}: owner launched with the tools granted to the card: ${input.grantedTools!.join(", ")}`,
        { cardId: input.card.id, attempt: input.attempt },
      );
    // Reviews at the agent's events (issue 12): each milestone is snapshotted and signalled as it comes.
    const notifier = input.reviewAtEvents ? ownerEventNotifier(deps, input, worktree, hooks) : undefined;
    const runDeps: ActivityDeps = notifier ? { ...deps, onOwnerEvent: notifier.sink } : deps;
    let result: OwnerResult;
    try {
      result = await runWithPermissionRecovery(runInput, granted ?? agent, hooks, (a) =>
        chosenRunner(runDeps, { ...runInput, agent: a }, a, worktree),
      );
    } finally {
      await notifier?.settled();
    }
    if (routed.name !== undefined) result = { ...result, agentName: routed.name };
    if (worktree) {
      const secrets = secretsOf(deps.workerEnv ?? process.env);
      const wt = worktree;
      const ran = result;
      result = await heartbeating(hooks, "commit", deps.heartbeatIntervalMs, () =>
        settleOwnerCommit(input, wt, ran, secrets, hooks),
      ).catch((err: unknown) => {
        throw asActivityFailure(err, `commit of card ${input.card.id} attempt ${input.attempt}`);
      });
    }
    await writeBesideWorkspace(root, input.workspace, OWNER_RECORD, JSON.stringify(result));
    return result;
  };
}

/**
 * The agent to run: `input.agent`, or for a pooled card (`input.ownerCandidates`) the first candidate this
 * worker can run (src/activities/agents/availability.ts), each skipped one logged as a warning naming why.
 * When none is available the planned one runs, and fails with its own explanation.
 */
async function routeToAvailable(
  deps: ActivityDeps,
  input: OwnerInput,
  hooks: ActivityHooks,
): Promise<{ agent: AgentConfig; name?: string }> {
  const candidates = input.ownerCandidates;
  if (!candidates || candidates.length === 0) return { agent: input.agent };
  const workerEnv = deps.workerEnv ?? process.env;
  const skipped: string[] = [];
  for (const c of candidates) {
    const why = OWNER_KINDS[c.agent.kind]
      ? await agentUnavailable(c.agent, deps.baseDir, workerEnv)
      : `unknown agent kind "${String(c.agent.kind)}"`;
    if (why === undefined) return { agent: c.agent, name: c.name };
    skipped.push(c.name);
    hooks.log?.warn(`card ${input.card.id}: owner agent "${c.name}" skipped on this worker: ${why}`, {
      cardId: input.card.id,
      agent: c.name,
      reason: why,
    });
  }
  hooks.log?.warn(
    `card ${input.card.id}: no owner candidate is available on this worker (${skipped.join(", ")}); running "${candidates[0]!.name}" anyway`,
    {
      cardId: input.card.id,
    },
  );
  return { agent: candidates[0]!.agent, name: candidates[0]!.name };
}

/** The tools an `AgentPermissionError` names (`details[0].deniedTools`), or undefined for any other error. */
function deniedToolsOf(err: unknown): string[] | undefined {
  if (!(err instanceof ApplicationFailure) || err.type !== ActivityErrorType.AgentPermissionError) return undefined;
  const details = err.details?.[0] as AgentFailureDetails | undefined;
  return details?.deniedTools;
}

/**
 * `agent` with `tools` granted, the way its CLI takes them: Claude Code `--allowedTools a,b`, Gemini
 * `--allowed-tools a --allowed-tools b`, Codex sandbox `workspace-write` (its tools are not granted one by
 * one); undefined for kinds without such a switch.
 */
export function withGrantedTools(agent: AgentConfig, tools: readonly string[]): AgentConfig | undefined {
  switch (agent.kind) {
    case "claude-code":
      return { ...agent, extra_args: [...agent.extra_args, "--allowedTools", tools.join(",")] };
    case "gemini":
      return { ...agent, extra_args: [...agent.extra_args, ...tools.flatMap((t) => ["--allowed-tools", t])] };
    case "codex":
      return agent.sandbox === "read-only" ? { ...agent, sandbox: "workspace-write" } : undefined;
    default:
      return undefined;
  }
}

/**
 * Runs the owner; when its CLI denied tools that the card type's policy (`input.allowTools`) all allows,
 * re-launches it once with them granted (a warning names them; the result records `permissionRecovery`).
 * A denial outside the policy, or a second denial, is rethrown as the non-retryable `AgentPermissionError`
 * it is — with what is outside the policy named — for the workflow to escalate.
 */
async function runWithPermissionRecovery(
  input: OwnerInput,
  agent: AgentConfig,
  hooks: ActivityHooks,
  run: (agent: AgentConfig) => Promise<OwnerResult>,
): Promise<OwnerResult> {
  try {
    return await run(agent);
  } catch (err) {
    const denied = deniedToolsOf(err);
    if (!denied || denied.length === 0) throw err;
    const allowed = new Set(input.allowTools ?? []);
    const outside = denied.filter((t) => !allowed.has(t));
    const granted = outside.length === 0 ? withGrantedTools(agent, denied) : undefined;
    if (!granted) {
      (err as ApplicationFailure).message +=
        outside.length > 0
          ? ` [outside the card type's permission policy: ${outside.join(", ")} — add to card_types.${input.card.type}.permissions.allow_tools to let squadflow grant it]`
          : " [no way to grant it to this agent kind]";
      throw err;
    }
    hooks.log?.warn(
      `card ${input.card.id}: owner was denied ${denied.join(", ")}; re-launching it once with them granted (card type policy)`,
      {
        cardId: input.card.id,
        attempt: input.attempt,
        granted: denied,
      },
    );
    const result = await run(granted);
    return { ...result, permissionRecovery: { granted: denied } };
  }
}

// ---- The owner record: one agent run per attempt, even when the worker dies after it --------------------

/** The recorded owner result, every field of `OwnerResult` (a retry must return a result equal to the first). */
const OwnerResultSchema = z.object({
  artifacts: z.array(z.string()),
  summary: z.string(),
  cost: CostSchema,
  session: z
    .object({
      id: z.string().optional(),
      turns: z.number().int().nonnegative().optional(),
      resumedFrom: z.string().optional(),
      reusedTokens: z.number().int().nonnegative().optional(),
      sessionCost: CostSchema.optional(),
    })
    .optional(),
  git: z
    .object({
      branch: z.string(),
      baseCommit: z.string(),
      headCommit: z.string(),
      deleted: z.array(z.string()).optional(),
    })
    .optional(),
  agentName: z.string().optional(),
  permissionRecovery: z.object({ granted: z.array(z.string()) }).optional(),
  events: z.array(z.object({ kind: z.enum(["milestone", "request_review", "blocker"]), name: z.string() })).optional(),
});

/** Compile-time guard: a field added to `OwnerResult` but not to the record's schema would be dropped by a retry. */
type FieldsMissingFromRecord = Exclude<keyof OwnerResult, keyof z.infer<typeof OwnerResultSchema>>;
const recordKeepsEveryField: FieldsMissingFromRecord extends never ? true : FieldsMissingFromRecord = true;
void recordKeepsEveryField;

const OWNER_RECORD = "owner-result";

/**
 * Where the result of an attempt's owner run is recorded: `<workspacesRoot>/<workspace>.owner-result.json`
 * (with a repository pass the worktrees root: the record lies beside the worktree).
 */
export function ownerRecordPath(workspacesRoot: string, workspace: string): string {
  return besideWorkspace(workspacesRoot, workspace, OWNER_RECORD);
}
