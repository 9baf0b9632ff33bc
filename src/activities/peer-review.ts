/**
 * The peer-review validator (validator `peer_review`, issue 12, seed 003): every reviewer of the card type
 * (`peer_review.reviewers`, agents of the squad other than the owner) reviews the attempt, in parallel, and
 * answers `{ verdict: "approve" | "concern" | "blocker", comments: string[] }` — at most 200 words of
 * comments in total, validated here. The verdict is the decision tree's (src/domain/peer-review.ts): it
 * fails on a blocker or ≥ 2 concerns, and carries every reviewer's answer in `Verdict.reviews`.
 *
 * **What is reviewed.** With a repository the attempt's diff `baseCommit..headCommit` (at most 100 KB, cut
 * with a note beyond), else the artifacts' text (at most 200 000 characters in total).
 *
 * **`command` reviewers** run `command args…` in the attempt workspace (read it, do not change it) with one
 * JSON object on stdin:
 * `{ reviewer, card: { id, type, title, description, acceptance_criteria }, workspace, moment, milestones,
 * diff: { range, text, cut } | null, artifacts: [{ path, text, cut }] }` (`moment`: `always`, `milestone`
 * or `end` — `PeerReviewMoment`), and write one JSON object on stdout:
 * `{ "verdict": "concern", "comments": ["…"], "usage": { "input_tokens", "output_tokens", "cost_usd" } }`
 * (`usage` optional; `cost_usd` is what the review counts). Exit non-zero or a timeout is a retryable
 * `AgentExitError` / `AgentTimeoutError`; an answer that is not valid is a non-retryable
 * `PeerReviewOutputError` naming the reviewer and the problem.
 *
 * **`claude-code`, `codex` and `gemini` reviewers** run the real CLI through the kind's owner runner
 * (agents/*.ts: launch, stream, cost, typed failures) read-only (`readOnlyReviewer`), in a copy of the attempt
 * workspace beside it (removed afterwards), with `cliReviewPrompt` (the card, the diff or the artifacts, and
 * the answer's shape) on stdin; the final message is the answer (`parseFinalAnswer`: a bad one is a
 * non-retryable `PeerReviewOutputError` with the run's cost). A write the read-only settings refuse is the
 * owner path's non-retryable `AgentPermissionError`, named for the reviewer. Cost from the stream's usage.
 *
 * **`llm` reviewers** make one structured call through the official SDK (llm/client.ts, the judge's path):
 * the same answer as structured output, re-asked twice when invalid, then `PeerReviewOutputError`; priced
 * by `squad.pricing`. Their time limit is their `timeout_ms`, at most the judge's 10 min.
 */
import { rm } from "node:fs/promises";
import { z } from "zod";
import { ApplicationFailure } from "@temporalio/common";
import type { CardSpec, OwnerInput, Verdict, WorkspaceRoot } from "../domain/attempt.js";
import { addCosts, roundUsd, ZERO_COST, type Cost } from "../domain/cost.js";
import {
  MAX_PEER_REVIEW_WORDS,
  PEER_VERDICTS,
  peerReviewOutcome,
  wordCount,
  type PeerReview,
  type PeerReviewMoment,
} from "../domain/peer-review.js";
import { settleCost } from "../domain/pricing.js";
import type { AttemptGit } from "../domain/repository.js";
import {
  apiKeyEnvOf,
  type AgentConfig,
  type CliAgentConfig,
  type CommandAgentConfig,
  type LlmAgentConfig,
  type Pricing,
} from "../domain/squad.js";
import { MAX_JUDGE_TIMEOUT_MS } from "../domain/timeouts.js";
import { runClaudeCode } from "./agents/claude-code.js";
import { runCodex } from "./agents/codex.js";
import { readForPrompt, type TextFile } from "./agents/files.js";
import { runGemini } from "./agents/gemini.js";
import type { OwnerRunner } from "./agents/run.js";
import {
  allowListedEnv,
  cancellationError,
  commandLine,
  nowIso,
  resolveProjectPath,
  temporalHooks,
  type ActivityDeps,
  type ActivityHooks,
} from "./context.js";
import { ActivityErrorType, agentFailure, validatorConfigError } from "./errors.js";
import { callStructured, StructuredOutputError } from "./llm/client.js";
import { DEFAULT_TICK_MS, runProcess, SpawnError, tail } from "./process.js";
import { boundedAttemptDiff } from "./repository/diff.js";
import { asActivityFailure } from "./repository/errors.js";
import { redact, secretsOf, type Secret } from "./secrets.js";
import { checkArtifact, realWorkspace, resolveWorkspace, workspaceRootDir } from "./workspace.js";

/** Characters of artifact text shown to a reviewer, in total (workspace-only backlogs). */
export const MAX_REVIEW_ARTIFACT_CHARS = 200_000;

/** Input of the peer-review activity. */
export interface PeerReviewInput {
  /**
   * The backlog and the 1-based attempt under review (for a CLI reviewer's run: its environment and logs).
   * Absent in reviews scheduled by workflows of an earlier version: read from `workspace`
   * (`<backlogId>/<cardId>/attempt-<n>`, `attemptWorkspace`).
   */
  backlogId?: string;
  attempt?: number;
  card: CardSpec;
  workspace: string;
  /** Root of `workspace` (default `workspaces`). */
  workspaceRoot?: WorkspaceRoot;
  /** With a repository: the attempt's commits; reviewers get the diff `baseCommit..headCommit`. */
  git?: AttemptGit;
  artifacts: string[];
  /** The reviewers (`CardPlan.peerReviewers`), in the configured order. */
  reviewers: { name: string; agent: AgentConfig }[];
  /** When the review happens (`PeerReviewMoment`), and the milestones the owner emitted, if any. */
  moment: PeerReviewMoment;
  milestones?: string[];
  /** The squad's price table, for `llm` reviewers. */
  pricing?: Pricing;
}

/** A reviewer's answer, as validated (comments at most `MAX_PEER_REVIEW_WORDS` words in total). */
export const PeerReviewAnswerSchema = z.object({
  verdict: z.enum(PEER_VERDICTS),
  comments: z.array(z.string().min(1, "must be non-empty")).refine((c) => wordCount(c) <= MAX_PEER_REVIEW_WORDS, {
    error: (i) => `must hold at most ${MAX_PEER_REVIEW_WORDS} words in total (got ${wordCount(i.input as string[])})`,
  }),
});

/** A `command` reviewer's stdout: the answer plus optional usage. */
const CommandAnswerSchema = PeerReviewAnswerSchema.extend({
  usage: z
    .object({
      input_tokens: z.number().int().nonnegative(),
      output_tokens: z.number().int().nonnegative(),
      cost_usd: z.number().nonnegative(),
    })
    .optional(),
}).strict();

/** The answer's JSON schema as sent to an `llm` reviewer (closed object, every property required). */
const PEER_REVIEW_JSON_SCHEMA: Record<string, unknown> = {
  type: "object",
  properties: {
    verdict: {
      type: "string",
      enum: [...PEER_VERDICTS],
      description: "approve: ship it; concern: a problem worth a human look; blocker: must not ship.",
    },
    comments: {
      type: "array",
      items: { type: "string" },
      description: `Actionable comments naming files and lines; ${MAX_PEER_REVIEW_WORDS} words at most in total.`,
    },
  },
  required: ["verdict", "comments"],
  additionalProperties: false,
};

const SYSTEM =
  "You are a peer reviewer in a software delivery squad. Review another agent's change for correctness, " +
  "safety and fit with the card. Answer with a verdict (approve, concern or blocker) and short, actionable comments.";

/** What every reviewer sees. */
interface ReviewMaterial {
  card: CardSpec;
  workspace: string;
  moment: PeerReviewMoment;
  milestones: string[];
  diff: { range: string; text: string; cut: boolean } | undefined;
  artifacts: TextFile[];
}

function problemsOf(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.length ? i.path.map(String).join(".") : "(root)"}: ${i.message}`).join("; ");
}

function outputError(reviewer: string, cardId: string, why: string, cost?: Cost): ApplicationFailure {
  return agentFailure(ActivityErrorType.PeerReviewOutputError, `peer reviewer "${reviewer}" of card ${cardId} ${why}`, {
    nonRetryable: true,
    ...(cost && { cost }),
  });
}

/**
 * Parses a `command` reviewer's stdout: one JSON object `{ verdict, comments, usage? }`.
 * @throws ApplicationFailure `PeerReviewOutputError` (non-retryable) naming the reviewer, card and problem.
 */
export function parseReviewAnswer(
  stdout: string,
  reviewer: string,
  cardId: string,
): { answer: z.infer<typeof PeerReviewAnswerSchema>; cost: Cost } {
  const text = stdout.trim();
  const quoted = tail(stdout, 20, 2_000);
  const fail = (why: string) => outputError(reviewer, cardId, `${why}${quoted ? `; stdout tail:\n${quoted}` : ""}`);
  if (text === "")
    throw fail(
      'wrote nothing on stdout; expected one JSON object {"verdict": "approve" | "concern" | "blocker", "comments": [...]}',
    );
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw fail(`did not write one JSON object on stdout: ${(err as Error).message}`);
  }
  const parsed = CommandAnswerSchema.safeParse(json);
  if (!parsed.success) throw fail(`gave an invalid answer: ${problemsOf(parsed.error)}`);
  const { usage, ...answer } = parsed.data;
  const cost = usage
    ? { inputTokens: usage.input_tokens, outputTokens: usage.output_tokens, usd: roundUsd(usage.cost_usd) }
    : { ...ZERO_COST };
  return { answer, cost };
}

async function reviewByCommand(
  deps: ActivityDeps,
  hooks: ActivityHooks,
  name: string,
  agent: CommandAgentConfig,
  m: ReviewMaterial,
  secrets: readonly Secret[],
): Promise<PeerReview> {
  const what = `peer reviewer "${name}" of card ${m.card.id}`;
  const timeoutMs = Math.min(agent.timeout_ms ?? MAX_JUDGE_TIMEOUT_MS, MAX_JUDGE_TIMEOUT_MS);
  const stdin = JSON.stringify({
    reviewer: name,
    card: {
      id: m.card.id,
      type: m.card.type,
      title: m.card.title,
      description: m.card.description,
      acceptance_criteria: m.card.acceptanceCriteria,
    },
    workspace: m.workspace,
    moment: m.moment,
    milestones: m.milestones,
    diff: m.diff ?? null,
    artifacts: m.artifacts,
  });
  let run;
  try {
    run = await runProcess({
      command: resolveProjectPath(deps.baseDir, agent.command),
      args: (agent.args ?? []).map((a) => resolveProjectPath(deps.baseDir, a)),
      cwd: m.workspace,
      env: { ...allowListedEnv(deps.workerEnv ?? process.env), ...(agent.env ?? {}), SQUADFLOW_WORKSPACE: m.workspace },
      stdin,
      timeoutMs,
      signal: hooks.cancellationSignal,
      onTick: (elapsedMs) => hooks.heartbeat({ phase: what, elapsedMs }),
      tickMs: deps.heartbeatIntervalMs ?? DEFAULT_TICK_MS,
      killGraceMs: deps.killGraceMs,
    });
  } catch (err) {
    if (err instanceof SpawnError)
      throw validatorConfigError(
        `${what} cannot start: "${err.command}" ${err.why} (command "${commandLine(agent.command, agent.args)}")`,
      );
    throw err;
  }
  if (run.cancelled) throw cancellationError(hooks.cancellationSignal, what);
  const stderrTail = tail(redact(run.stderr, secrets), 20, 2_000);
  if (run.timedOut) {
    throw ApplicationFailure.retryable(
      `${what} timed out: its process group was killed after ${timeoutMs} ms${stderrTail ? `: ${stderrTail}` : ""}`,
      ActivityErrorType.AgentTimeoutError,
    );
  }
  if (run.exitCode !== 0) {
    const how = run.exitCode !== null ? `exited ${run.exitCode}` : `was killed by ${run.signal ?? "a signal"}`;
    throw ApplicationFailure.retryable(
      `${what} ${how}${stderrTail ? `: ${stderrTail}` : " (no stderr)"}`,
      ActivityErrorType.AgentExitError,
    );
  }
  const { answer, cost } = parseReviewAnswer(redact(run.stdout, secrets), name, m.card.id);
  return { reviewer: name, ...answer, cost };
}

/** The prompt of an `llm` reviewer: the card, when it is reviewed, and the diff or the artifacts. */
function reviewPrompt(m: ReviewMaterial): string {
  const c = m.card;
  const out = [`# Card ${c.id} (${c.type}): ${c.title}`, "", c.description];
  if (c.acceptanceCriteria.length > 0)
    out.push("", "## Acceptance criteria", ...c.acceptanceCriteria.map((a) => `- ${a}`));
  if (m.milestones.length > 0) out.push("", `The owner reached these milestones: ${m.milestones.join("; ")}.`);
  const fence = (text: string) => "`".repeat(Math.max(3, ...[...text.matchAll(/`+/g)].map((x) => x[0].length + 1)));
  if (m.diff) {
    const f = fence(m.diff.text);
    out.push("", `## The change (git diff ${m.diff.range}${m.diff.cut ? ", cut" : ""})`, `${f}diff`, m.diff.text, f);
  } else {
    out.push("", "## The artifacts");
    for (const a of m.artifacts) {
      const f = fence(a.text);
      out.push("", `### ${a.path}${a.cut ? " (cut)" : ""}`, f, a.text, f);
    }
  }
  out.push("", `Answer with your verdict and comments (at most ${MAX_PEER_REVIEW_WORDS} words in total).`);
  return out.join("\n");
}

async function reviewByLlm(
  deps: ActivityDeps,
  hooks: ActivityHooks,
  name: string,
  agent: LlmAgentConfig,
  m: ReviewMaterial,
  secrets: readonly Secret[],
  pricing?: Pricing,
): Promise<PeerReview> {
  const label = `peer reviewer "${name}" of card ${m.card.id}`;
  const endpoint = {
    provider: agent.provider,
    model: agent.model,
    ...(agent.base_url !== undefined && { base_url: agent.base_url }),
    ...(agent.api_key_env !== undefined && { api_key_env: agent.api_key_env }),
    ...(agent.temperature !== undefined && { temperature: agent.temperature }),
    max_retries: agent.max_retries ?? 2,
  };
  try {
    const res = await callStructured(
      {
        label,
        workerEnv: deps.workerEnv ?? process.env,
        secrets,
        hooks,
        heartbeatIntervalMs: deps.heartbeatIntervalMs,
        configErrorType: ActivityErrorType.ValidatorConfigError,
        timeoutErrorType: ActivityErrorType.LlmApiError,
      },
      {
        endpoint,
        // An answer holds at most 200 words: 4096 tokens leave room for any model's preamble.
        maxTokens: Math.min(agent.max_tokens ?? 4096, 4096),
        system: SYSTEM,
        prompt: reviewPrompt(m),
        name: "peer_review",
        description: "The review of the change: verdict and comments.",
        jsonSchema: PEER_REVIEW_JSON_SCHEMA,
        schema: PeerReviewAnswerSchema,
        maxOutputRetries: 2,
        timeoutMs: Math.min(agent.timeout_ms ?? MAX_JUDGE_TIMEOUT_MS, MAX_JUDGE_TIMEOUT_MS),
      },
      pricing,
    );
    const settled = settleCost(res.usage, pricing);
    if (!settled.priced)
      hooks.log?.warn(
        `${label}: no price for ${settled.unpriced.join(", ")} in squad.pricing; its USD is not counted`,
        { cardId: m.card.id },
      );
    return { reviewer: name, ...res.value, cost: settled.cost };
  } catch (err) {
    if (err instanceof StructuredOutputError)
      throw outputError(name, m.card.id, `gave no valid answer: ${err.message}`, settleCost(err.usage, pricing).cost);
    throw err;
  }
}

/** The CLI owner runners, by kind: a CLI reviewer runs through the same launch, stream, cost and failures. */
const CLI_REVIEWERS: { [K in CliAgentConfig["kind"]]: OwnerRunner<K> } = {
  "claude-code": runClaudeCode,
  codex: runCodex,
  gemini: runGemini,
};

/** Tools a `claude-code` reviewer is allowed without asking (`--allowedTools`); every other tool is denied headless. */
export const CLAUDE_REVIEW_TOOLS = "Read,Grep,Glob";

/**
 * A CLI agent's config made read-only for a review (the time limits capped at the judge's 10 min):
 * `claude-code` permission mode `default` with only `CLAUDE_REVIEW_TOOLS` allowed (headless, any other tool —
 * Write, Edit, Bash — is denied), `codex` sandbox `read-only`, `gemini` approval mode `default` (its write
 * and shell tools are left out headless); `GIT_OPTIONAL_LOCKS=0` in its environment. The config's
 * `extra_args` still follow: do not undo these there.
 */
export function readOnlyReviewer(agent: CliAgentConfig): CliAgentConfig {
  const timeout_ms = Math.min(agent.timeout_ms, MAX_JUDGE_TIMEOUT_MS);
  // The copy of a repository's worktree shares the attempt's git index: the CLIs' own `git status` must not rewrite it.
  const limits = {
    timeout_ms,
    soft_timeout_ms: Math.min(agent.soft_timeout_ms, Math.floor((timeout_ms * 5) / 6)),
    set_env: { GIT_OPTIONAL_LOCKS: "0", ...agent.set_env },
  };
  if (agent.kind === "claude-code") {
    return {
      ...agent,
      ...limits,
      permission_mode: "default",
      extra_args: ["--allowedTools", CLAUDE_REVIEW_TOOLS, ...agent.extra_args],
    };
  }
  if (agent.kind === "codex") return { ...agent, ...limits, sandbox: "read-only" };
  return { ...agent, ...limits, approval_mode: "default" };
}

/** The prompt of a CLI reviewer: the `llm` reviewer's, plus the read-only rule and the JSON final answer. */
export function cliReviewPrompt(m: ReviewMaterial): string {
  return [
    SYSTEM,
    `You are in a copy of the attempt's workspace (read it with your read-only tools; do not change any file).`,
    "",
    reviewPrompt(m),
    "",
    "End with your answer as your final message: only one JSON object, no other text, in this shape:",
    '{"verdict": "approve" | "concern" | "blocker", "comments": ["…"]}',
  ].join("\n");
}

/**
 * Reads a CLI reviewer's final message: one JSON object `{ verdict, comments }` (a surrounding Markdown code
 * fence is tolerated), validated by `PeerReviewAnswerSchema` (no other field).
 * @throws ApplicationFailure `PeerReviewOutputError` (non-retryable) naming the reviewer and card, with `cost`.
 */
export function parseFinalAnswer(
  message: string,
  reviewer: string,
  cardId: string,
  cost: Cost,
): z.infer<typeof PeerReviewAnswerSchema> {
  const text = message
    .trim()
    .replace(/^```[a-z]*\n([\s\S]*)\n```$/i, "$1")
    .trim();
  const quoted = tail(message, 20, 2_000);
  const fail = (why: string) =>
    outputError(reviewer, cardId, `${why}${quoted ? `; final message tail:\n${quoted}` : ""}`, cost);
  if (text === "")
    throw fail(
      'ended with an empty final message; expected one JSON object {"verdict": "approve" | "concern" | "blocker", "comments": [...]}',
    );
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw fail(`did not end with one JSON object as its final message: ${(err as Error).message}`);
  }
  const parsed = PeerReviewAnswerSchema.strict().safeParse(json);
  if (!parsed.success) throw fail(`gave an invalid answer: ${problemsOf(parsed.error)}`);
  return parsed.data;
}

/**
 * A `claude-code`, `codex` or `gemini` reviewer: the kind's owner runner with `readOnlyReviewer`'s config and
 * `cliReviewPrompt`, in a workspace of its own beside the attempt's (`<workspace>.review-<reviewer>`, a copy
 * of it made by the runner's workspace preparation, removed afterwards) so the attempt is never touched.
 * The answer is its final message (`parseFinalAnswer`), the cost the run's (tokens priced by `pricing`).
 */
async function reviewByCli(
  deps: ActivityDeps,
  name: string,
  agent: CliAgentConfig,
  m: ReviewMaterial,
  input: PeerReviewInput,
): Promise<PeerReview> {
  const label = `peer reviewer "${name}" of card ${m.card.id}`;
  const workspace = `${input.workspace}.review-${name.replace(/[^A-Za-z0-9_-]/g, "-")}`;
  const attempt = input.attempt ?? Number(/attempt-(\d+)$/.exec(input.workspace)?.[1] ?? 1);
  const ownerInput: OwnerInput = {
    backlogId: input.backlogId ?? input.workspace.split("/")[0] ?? "",
    card: m.card,
    attempt,
    agent: readOnlyReviewer(agent),
    workspace,
    previousWorkspace: input.workspace,
    ...(input.workspaceRoot !== undefined && { workspaceRoot: input.workspaceRoot }),
    dependencies: [],
    ...(input.pricing !== undefined && { pricing: input.pricing }),
  };
  const runner = CLI_REVIEWERS[agent.kind] as OwnerRunner<CliAgentConfig["kind"]>;
  try {
    const result = await runner(deps, ownerInput, ownerInput.agent as CliAgentConfig, undefined, {
      prompt: cliReviewPrompt(m),
      label,
    });
    return { reviewer: name, ...parseFinalAnswer(result.summary, name, m.card.id, result.cost), cost: result.cost };
  } finally {
    await rm(resolveWorkspace(workspaceRootDir(deps, input.workspaceRoot), workspace), {
      recursive: true,
      force: true,
    });
  }
}

/** What the reviewers see: the diff (repository) or the artifacts' text, with the worker's secrets redacted. */
async function material(
  input: PeerReviewInput,
  workspace: string,
  secrets: readonly Secret[],
): Promise<ReviewMaterial> {
  const clean = (t: string) => (secrets.length > 0 ? redact(t, secrets) : t);
  const base = { card: input.card, workspace, moment: input.moment, milestones: input.milestones ?? [] };
  if (input.git) {
    const bounded = await boundedAttemptDiff(workspace, input.git).catch((err: unknown) => {
      throw asActivityFailure(err, `peer review of card ${input.card.id}: diff of the attempt`);
    });
    const range = `${input.git.baseCommit.slice(0, 12)}..${input.git.headCommit.slice(0, 12)}`;
    return { ...base, diff: { range, text: clean(bounded.text), cut: bounded.cut }, artifacts: [] };
  }
  const paths: string[] = [];
  const rels: string[] = [];
  for (const a of new Set(input.artifacts)) {
    const check = await checkArtifact(workspace, a);
    if (check.ok) {
      paths.push(check.path);
      rels.push(check.rel);
    }
  }
  const files = await readForPrompt(paths, MAX_REVIEW_ARTIFACT_CHARS, (abs) => rels[paths.indexOf(abs)] ?? abs);
  return { ...base, diff: undefined, artifacts: files.map((f) => ({ ...f, text: clean(f.text) })) };
}

/**
 * Creates the peer-review activity: `reviewPeers(PeerReviewInput): Verdict` of validator `peer_review`,
 * `reviews` holding each reviewer's answer and cost, `cost` their sum.
 *
 * @throws ApplicationFailure `PeerReviewOutputError` (an invalid answer), `AgentExitError` /
 *   `AgentTimeoutError` (a `command` reviewer failed; retryable), `ValidatorConfigError` (a reviewer that
 *   cannot start, a kind that cannot review, an `llm` reviewer's key unset), `LlmApiError`,
 *   `LlmRequestError`, `WorkspaceError` / `WorkspaceNotFoundError`; for a CLI reviewer, its kind's owner
 *   failures (`AgentPermissionError` for a refused write, `AgentConfigError`, `LlmApiError`, … — see
 *   agents/claude-code.ts, codex.ts, gemini.ts); a `CancelledFailure` when cancelled.
 */
export function createReviewPeers(deps: ActivityDeps): (input: PeerReviewInput) => Promise<Verdict> {
  return async function reviewPeers(input: PeerReviewInput): Promise<Verdict> {
    const workspace = await realWorkspace(workspaceRootDir(deps, input.workspaceRoot), input.workspace);
    const hooks = (deps.hooks ?? temporalHooks)();
    const workerEnv = deps.workerEnv ?? process.env;
    const keyNames = input.reviewers.flatMap((r) =>
      r.agent.kind === "llm" ? [apiKeyEnvOf(r.agent)].filter((n): n is string => n !== undefined) : [],
    );
    const secrets = secretsOf(workerEnv, keyNames);
    const m = await material(input, workspace, secrets);
    const reviews = await Promise.all(
      input.reviewers.map(({ name, agent }) => {
        if (agent.kind === "command") return reviewByCommand(deps, hooks, name, agent, m, secrets);
        if (agent.kind === "llm") return reviewByLlm(deps, hooks, name, agent, m, secrets, input.pricing);
        if (agent.kind === "claude-code" || agent.kind === "codex" || agent.kind === "gemini")
          return reviewByCli(deps, name, agent, m, input);
        throw validatorConfigError(
          `peer reviewer "${name}" of card ${input.card.id} is a "${(agent as AgentConfig).kind}" agent, which cannot review (reviewer kinds: command, llm, claude-code, codex, gemini)`,
        );
      }),
    );
    const outcome = peerReviewOutcome(reviews);
    const cost = addCosts(...reviews.map((r) => r.cost ?? ZERO_COST));
    return { validator: "peer_review", ...outcome, reviews, cost, at: nowIso(deps) };
  };
}
