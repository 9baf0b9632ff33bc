/**
 * What one attempt of a card is made of, and the contracts between workflows and activities:
 * owner run → verification (gate) → LLM-judge ‖ QA → verdicts. Pure types and helpers.
 */
import type { Cost } from "./cost.js";
import type { AgentConfig, DebuggerConfig, JudgeConfig, Pricing, QaCheck, VerificationConfig } from "./squad.js";
import type { Priority } from "./backlog.js";
import type { AttemptGit, RepositoryTarget } from "./repository.js";
import type { CouncilRecord } from "./deliberation.js";
import type { PeerReview, PeerReviewMoment } from "./peer-review.js";

/**
 * Which root an attempt's `workspace` path is relative to: `workspaces` (default; an isolated folder under the
 * worker's workspaces root, `state/workspaces`) or `worktrees` (a git worktree of the backlog's repository
 * under the worker's worktrees root, `state/worktrees` — a backlog with a `repository`, issue 9).
 */
export type WorkspaceRoot = "workspaces" | "worktrees";

/**
 * The validators of the validation pipeline, plus `owner` for an owner that failed to run and `merge` for
 * an approved attempt whose merge into the integration branch conflicted (a rejection — PRODUCT.md).
 */
export type ValidatorName = "owner" | "verification" | "llm_judge" | "qa" | "merge" | "peer_review";

/** One validator's verdict on one attempt. */
export interface Verdict {
  validator: ValidatorName;
  passed: boolean;
  /** LLM-judge score 0–10; absent for other validators. */
  score?: number;
  /** Why it failed, each reason actionable (names the file, criterion or command); empty on a pass. */
  reasons: string[];
  /** Longer detail, e.g. a failing command's output tail. */
  details?: string;
  /** When the verdict was reached, ISO-8601. */
  at: string;
  /** What reaching it cost (tokens, USD) — set by validators that call an LLM (the `llm` judge). */
  cost?: Cost;
  /** `peer_review` only: every reviewer's verdict and comments, in the configured order (src/domain/peer-review.ts). */
  reviews?: PeerReview[];
}

/** A card as the workflows and agents see it (camelCase, normalized from the backlog file). */
export interface CardSpec {
  id: string;
  type: string;
  title: string;
  description: string;
  priority: Priority;
  dependencies: string[];
  acceptanceCriteria: string[];
  /**
   * The card's own turn limit (its `max_turns`), overriding the owner agent's; absent = the agent's. Only
   * for `claude-code` owners (`--max-turns`): `planBacklog` refuses it for other kinds.
   */
  maxTurns?: number;
}

/** Artifacts of a finished dependency, handed to the dependent's owner. */
export interface DependencyArtifacts {
  cardId: string;
  /** Paths relative to the workspaces root, e.g. `shop/SPEC-001/attempt-1/docs/spec.md`. */
  artifacts: string[];
}

/** The aggregated, actionable feedback a correction round gives the owner. */
export interface CorrectionFeedback {
  /** Correction round, 1-based. */
  round: number;
  /** Every failed validator's reasons, prefixed with the validator name. */
  reasons: string[];
  /** Root cause from the debugging agent, when it ran (attempt ≥ 2 with repeating reasons). */
  rootCause?: string;
  /** Fix suggestions from the debugging agent. */
  suggestions?: string[];
  /** Context a human added with `clarify`. */
  humanContext?: string;
}

/** Input of the owner activity. */
export interface OwnerInput {
  backlogId: string;
  card: CardSpec;
  /** Attempt number, 1-based (attempt n+1 is correction round n). */
  attempt: number;
  agent: AgentConfig;
  /** Attempt workspace relative to the workspaces root (`<backlogId>/<cardId>/attempt-<n>`). */
  workspace: string;
  /** Workspace of the previous attempt, copied into this one before a correction reworks it. */
  previousWorkspace?: string;
  dependencies: DependencyArtifacts[];
  feedback?: CorrectionFeedback;
  /** Root of `workspace` and `previousWorkspace` (default `workspaces`; `worktrees` with a repository). */
  workspaceRoot?: WorkspaceRoot;
  /**
   * The backlog's repository (issue 9): the workspace is then a git worktree on the attempt branch, made
   * from the integration branch tip (a correction: from `previousGit.branch`, rebased on the tip).
   */
  repository?: RepositoryTarget;
  /** The previous attempt's branch and commits, which a correction continues (with `repository`). */
  previousGit?: AttemptGit;
  /**
   * Remaining budget for this run, USD (the smaller of what the card and backlog budgets leave — see
   * `runBudgetCheck`, src/domain/budget.ts); absent = unlimited. claude-code passes it as `--max-budget-usd`;
   * every kind refuses to start at ≤ 0 (`AgentBudgetExceededError`).
   */
  budgetUsd?: number;
  /** The squad's price table (USD per million tokens); without it USD is what the agent reports, or 0. */
  pricing?: Pricing;
  /**
   * A pooled owner's candidates (`CardPlan.ownerCandidates`, src/domain/routing.ts), `agent` first: the
   * owner activity runs the first one whose binary and API key the worker has, skipping the others with a
   * warning (`OwnerResult.agentName` names the one that ran).
   */
  ownerCandidates?: { name: string; agent: AgentConfig }[];
  /**
   * A correction's previous attempt session (`OwnerResult.session` of attempt n−1, same agent): a
   * `claude-code`, `codex` or `gemini` owner continues it (`--resume <id>`, `exec resume <id>`,
   * `--session-file <its file>`) with only the feedback as the new prompt, and starts a fresh session when
   * it is gone.
   */
  previousSession?: AgentSession;
  /**
   * The card type's permission policy (`card_types.<T>.permissions.allow_tools`): a run whose CLI denied
   * only tools listed here is re-launched once with them granted (`OwnerResult.permissionRecovery`).
   */
  allowTools?: string[];
  /**
   * Tools a human granted this card after a permission blocker (`approve`; also in `allowTools`): allowed
   * from the run's first launch (owner.ts `withGrantedTools`), so no run is spent being denied them again.
   */
  grantedTools?: string[];
  /**
   * Absolute directories outside the workspace the run may use (`card_types.<T>.permissions.allow_dirs`,
   * resolved by the client): always passed to the CLI (Claude Code and Codex `--add-dir`, Gemini
   * `--include-directories`).
   */
  allowDirs?: string[];
  /**
   * A council run (issue 12, src/domain/deliberation.ts): the branch of this proposal or revision (instead of
   * the attempt branch), and what the agent is asked — `propose`, `critique` another agent's proposal, or
   * `revise` its own with the critiques it received (in `feedback`); the architect is asked to `choose`.
   */
  /**
   * The card type reviews at the owner's events (`peer_review.trigger: "on_milestone"` with reviewers, issue
   * 12): the prompt tells the agent how to emit them, and at each milestone or request_review the activity
   * snapshots the work and signals its workflow (`OwnerEventSignal`), which reviews that snapshot while the
   * agent goes on.
   */
  reviewAtEvents?: boolean;
  council?: {
    branch?: string;
    step: "propose" | "critique" | "revise" | "choose";
    round?: number;
    agent: string;
    of?: string;
  };
}

/**
 * The agent session behind an owner run, as the agent reported it (Claude Code: `session_id`,
 * `num_turns`); each field present only when reported.
 */
export interface AgentSession {
  /** The agent's session id: inspect or resume the run with the agent's own tools (`claude --resume <id>`). */
  id?: string;
  /** Agentic turns the run took (compare with `--max-turns`). */
  turns?: number;
  /** The session this run continued (`OwnerInput.previousSession.id`), when it resumed one. */
  resumedFrom?: string;
  /**
   * With `resumedFrom`: the tokens the resumed run read from the provider's prompt cache (its
   * `cacheReadTokens`) — the previous conversation it continued instead of sending it again uncached,
   * which a fresh session would have paid in full.
   */
  reusedTokens?: number;
  /**
   * The session's cumulative cost at the end of this run: a resumed Claude Code or Codex session reports
   * the usage of every run of it, so the next run's own cost is its report less this (`costSince`); a
   * resumed Gemini run reports only itself, and this is the previous session cost plus its own.
   */
  sessionCost?: Cost;
}

/** What the owner produced. */
export interface OwnerResult {
  /** Paths relative to the attempt workspace, as the agent reported them. */
  artifacts: string[];
  summary: string;
  cost: Cost;
  /** The agent session of the run, when the agent kind reports one (claude-code, codex, gemini). */
  session?: AgentSession;
  /** With a repository: the attempt's branch and commits; `artifacts` are then the files it changed. */
  git?: AttemptGit;
  /** With `OwnerInput.ownerCandidates`: the candidate that ran (another than the planned one when that was skipped). */
  agentName?: string;
  /** The tools granted by a permission recovery (`OwnerInput.allowTools`): the first run was denied them. */
  permissionRecovery?: { granted: string[] };
  /** Events the agent emitted while it ran (`OwnerEvent`), in order; absent when none. */
  events?: OwnerEvent[];
}

/**
 * An event an owner agent emitted in its output stream (seed 003's event-based reviews; for `command`
 * agents a stdout line `{"squadflow":"milestone","name":"…"}`, see src/activities/agents/command.ts):
 * `milestone` (a step done), `request_review` (the agent asks for a review), `blocker` (the agent is stuck).
 * A card type with `peer_review.trigger: "on_milestone"` is reviewed at a milestone or request_review.
 */
export interface OwnerEvent {
  kind: "milestone" | "request_review" | "blocker";
  name: string;
}

/**
 * What the owner activity signals to its workflow at a `milestone` or `request_review` event of a run with
 * `OwnerInput.reviewAtEvents` (signal `ownerEvent`, src/contract.ts): the event, its 1-based number in the
 * run (`seq`), the attempt, and the snapshot of the work at that moment that a review reads.
 */
export interface OwnerEventSignal {
  attempt: number;
  seq: number;
  event: OwnerEvent;
  snapshot: OwnerSnapshot;
}

/**
 * The owner's work at an event, kept while the agent goes on: with a repository a commit of the worktree
 * (every file, untracked ones too, made with a private index: the agent's own index and files are not
 * touched) on the private ref `refs/squadflow/snapshots/<backlogId>/<cardId>/attempt-<n>/<seq>`, given as
 * `git` (`baseCommit..headCommit` = the work so far); without one a copy of the workspace,
 * `<workspace>.at-event-<seq>` (relative to the workspaces root), and its files as `artifacts`.
 */
export interface OwnerSnapshot {
  workspace: string;
  artifacts: string[];
  git?: AttemptGit;
}

/** Input of the verification activity. */
export interface VerificationInput {
  workspace: string;
  /** Root of `workspace` (default `workspaces`). */
  workspaceRoot?: WorkspaceRoot;
  /** With a repository: the attempt's commits; red flags are then looked for in the lines it added only. */
  git?: AttemptGit;
  artifacts: string[];
  config: VerificationConfig;
}

/** Input of the LLM-judge activity. */
export interface JudgeInput {
  card: CardSpec;
  workspace: string;
  /** Root of `workspace` (default `workspaces`). */
  workspaceRoot?: WorkspaceRoot;
  /** With a repository: the attempt's commits; the judge gets the diff `baseCommit..headCommit`. */
  git?: AttemptGit;
  artifacts: string[];
  config: JudgeConfig;
  /** The squad's price table, for the cost of an `llm` judge (`Verdict.cost`). */
  pricing?: Pricing;
  /**
   * Model of the owner agent that produced the artifacts, when known: an `llm` judge refuses to grade with
   * the same model unless `allow_owner_model` (planBacklog checks the config up front as well).
   */
  ownerModel?: string;
}

/** Input of the QA activity. */
export interface QaInput {
  workspace: string;
  /** Root of `workspace` (default `workspaces`). */
  workspaceRoot?: WorkspaceRoot;
  checks: QaCheck[];
}

/** One finished attempt: what the owner made and what every validator said. */
export interface AttemptRecord {
  attempt: number;
  /** Workflow ID that ran it (the card's, or a correction's). */
  workflowId: string;
  workspace: string;
  artifacts: string[];
  summary: string;
  verdicts: Verdict[];
  passed: boolean;
  cost: Cost;
  feedback?: CorrectionFeedback;
  startedAt: string;
  finishedAt: string;
  /** Set when a run did not start because it would have gone over budget: why (the card escalates). */
  budgetStop?: string;
  /** The owner run's agent session (`OwnerResult.session`), when its kind reports one. */
  session?: AgentSession;
  /** Root of `workspace` (absent = `workspaces`). */
  workspaceRoot?: WorkspaceRoot;
  /** With a repository: the attempt's branch and commits (`OwnerResult.git`). */
  git?: AttemptGit;
  /** The squad agent that ran the owner (`OwnerResult.agentName`): for a pooled owner, the candidate that ran. */
  agentName?: string;
  /** Tools the owner was denied and then granted within the card type's policy (`OwnerResult.permissionRecovery`). */
  permissionRecovery?: { granted: string[] };
  /**
   * Set when the owner failed on a permission it could not be given (`AgentPermissionError`: outside the card
   * type's `permissions.allow_tools`): the tools it was denied. The card escalates at once — a correction
   * would be denied the same — and a human's `approve` grants them for this card (issue 11).
   */
  permissionBlocker?: { deniedTools: string[] };
  /** Set when the attempt was a council (issue 12): its proposals, critiques, scores, winner and candidates. */
  council?: CouncilRecord;
  /**
   * Set when the owner reported a `blocker` event (issue 12): the agent's text. The attempt fails without
   * validation and the card escalates to a human at once with it (lifecycle.ts `afterFailedAttempt`).
   */
  ownerBlocker?: string;
  /**
   * Set when the card type has `peer_review` and the reviewers ran (issue 12): when they reviewed
   * (`PeerReviewMoment`), and what the decision tree made of it — `escalate` (a blocker) and `clarify`
   * (≥ 2 concerns) send the card to a human at once with `message` as the question; `warn` (1 concern) is a
   * warning in `message`, and the card goes on.
   */
  peerReview?: {
    moment: PeerReviewMoment;
    action: "escalate" | "clarify" | "warn" | "continue";
    message?: string;
    milestones?: string[];
  };
}

/**
 * The session a correction's owner continues: the last attempt's (`AttemptRecord.session`), when it has an
 * id and the planned agent ran it (a pooled card that ran another candidate has no session of the planned
 * agent's to resume). Undefined otherwise: a fresh session. Rule: issue 11, "session resume".
 */
export function resumableSessionOf(history: readonly AttemptRecord[], plannedAgent: string): AgentSession | undefined {
  const last = history[history.length - 1];
  if (last?.session?.id === undefined) return undefined;
  return last.agentName === undefined || last.agentName === plannedAgent ? last.session : undefined;
}

/** Input of the debugging activity. */
export interface DebugInput {
  card: CardSpec;
  history: AttemptRecord[];
  /** The debugging agent to use (`CardPlan.debugger`); default: the worker's (`rules`). */
  config?: DebuggerConfig;
  /** The squad's price table, for the cost of an `llm` debugger (`DebugReport.cost`). */
  pricing?: Pricing;
}

/** The debugging agent's root-cause analysis. */
export interface DebugReport {
  rootCause: string;
  suggestions: string[];
  /** Reasons that failed in every one of the last two attempts. */
  repeatedReasons: string[];
  /** What the analysis cost (tokens, USD) — set by the `llm` debugger. */
  cost?: Cost;
}

/** Reasons of the failed verdicts, prefixed with their validator (`qa: unit tests exited 1`). */
export function failureReasons(verdicts: Verdict[]): string[] {
  return verdicts.filter((v) => !v.passed).flatMap((v) => v.reasons.map((r) => `${v.validator}: ${r}`));
}

/**
 * What makes two prefixed reasons "the same" for repetition: a criterion reason keeps only its
 * validator and criterion (`llm_judge: criterion "Rollback plan" not met`) — an LLM judge words its
 * feedback differently every time, yet the same criterion failing again is a repeat; every other reason
 * is compared whole.
 */
export function reasonKey(prefixed: string): string {
  const m = /^([a-z_]+: criterion "[^"]*" not met)(?::|$)/.exec(prefixed);
  return m ? m[1]! : prefixed;
}

/**
 * Reasons of the last attempt that repeat from the one before (compared by `reasonKey`) — the trigger of
 * the debugging agent "from the 2nd attempt on, when the same reasons repeat" (PRODUCT.md "Corrections").
 */
export function repeatedReasons(history: AttemptRecord[]): string[] {
  if (history.length < 2) return [];
  const last = failureReasons(history[history.length - 1]!.verdicts);
  const before = new Set(failureReasons(history[history.length - 2]!.verdicts).map(reasonKey));
  return last.filter((r) => before.has(reasonKey(r)));
}
