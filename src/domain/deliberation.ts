/**
 * Councils (issue 12, "Deliberation"; seed 004's Deliberate): several agents propose a card's work in
 * parallel, critique each other, revise, are checked and scored, and an architect picks the winner, whose
 * branch then goes through the normal validation pipeline. Pure shapes, names and rules shared by the
 * `deliberationWorkflow` (src/workflows/deliberation.ts), its activities and the CLI. No zod here: the
 * config schema is `DeliberationSchema` in squad.ts.
 *
 *   workflow ID        `<backlogId>/<cardId>-DELIB-<attempt>`
 *   proposal worktree  `<backlogId>/<cardId>/attempt-<n>/<agent>` (revision r: `…/<agent>-r<r>`)
 *   proposal branch    `squadflow-attempts/<backlogId>/<cardId>/attempt-<n>/<agent>` (revision r: `…-r<r>`)
 */
import type { AgentSession, DependencyArtifacts, OwnerResult, Verdict, WorkspaceRoot } from "./attempt.js";
import type { CardPlan } from "./card-state.js";
import type { SpentBefore } from "./budget.js";
import { ZERO_COST, addCosts, type Cost } from "./cost.js";
import { attemptWorkspace, cardWorkflowId } from "./ids.js";
import { attemptBranchName, type AttemptGit } from "./repository.js";
import type { AgentConfig, JudgeConfig } from "./squad.js";

/** The architect value that picks the best-scored proposal without asking an agent. */
export const TOP_SCORE = "top-score";

/** A council agent: its name in `squad.agents` and its config. */
export interface CouncilMember {
  name: string;
  agent: AgentConfig;
}

/** A card's council, resolved from its type's `deliberation` (`CardPlan.deliberation`). */
export interface CouncilPlan {
  members: CouncilMember[];
  /** Critique-and-revise rounds (0 = proposals are scored as first written). */
  rounds: number;
  /** Scores every proposal, 0–10 (the same judge kinds as validation: `rubric`, `llm`). */
  scorer: JudgeConfig;
  /** The agent that picks the winner among the top `topK`, or `top-score`. */
  architect: CouncilMember | typeof TOP_SCORE;
  topK: number;
}

/** A step of a council, each an activity run of its own (retries, heartbeats). */
export type CouncilStepKind = "proposal" | "critique" | "revision" | "checks" | "score" | "architect";

/** One run of a council step: who, which round, what it cost, how it ended. */
export interface CouncilRun {
  step: CouncilStepKind;
  /** The council agent the run was for (the architect's name for `architect`). */
  agent: string;
  /** Critique/revision round, 1-based. */
  round?: number;
  /** Tokens and USD the run spent (also a failed run's, when the agent reported it). */
  cost: Cost;
  ok: boolean;
  /** Why it failed or did not start (over budget). */
  error?: string;
  /** When it ended, ISO-8601. */
  at: string;
}

/** A critique one council agent wrote of another's proposal. */
export interface Critique {
  round: number;
  /** The critic. */
  by: string;
  text: string;
}

/** One council agent's proposal as it stands (after its revisions), with its checks and score. */
export interface Proposal {
  agent: string;
  /** Workspace of its latest version (relative to `workspaceRoot`). */
  workspace: string;
  workspaceRoot?: WorkspaceRoot;
  summary: string;
  /** Files of its latest version (relative to the workspace). */
  artifacts: string[];
  /** With a repository: its branch and commits (latest version). */
  git?: AttemptGit;
  /** The agent session of its latest run, when its kind reports one. */
  session?: AgentSession;
  /** Critiques it received, by round. */
  critiques: Critique[];
  /** Its revisions: the summary of each, by round. */
  revisions: { round: number; summary: string; branch?: string }[];
  /** The card type's QA checks on its latest version (`qa` verdict). */
  checks?: Verdict;
  /** The scorer's verdict. */
  judge?: Verdict;
  /** Council score 0–10 (`proposalScore`). */
  score?: number;
  /** 1 = best; absent for a proposal that failed. */
  rank?: number;
  /** Set when the agent left the council (its proposal failed, or did not start over budget): why. */
  failed?: string;
  /** What this agent's runs cost (proposal, critiques it wrote, revisions). */
  cost: Cost;
}

/** A proposal that did not win, kept on the attempt record (agent, branch, score, rank, checks). */
export interface Candidate {
  agent: string;
  branch?: string;
  workspace: string;
  score?: number;
  rank?: number;
  checks?: { passed: boolean; reasons: string[] };
  failed?: string;
}

/** What a council did (`AttemptRecord.council`): shown by `history`, written by `export`. */
export interface CouncilRecord {
  /** `<backlogId>/<cardId>-DELIB-<attempt>`. */
  workflowId: string;
  agents: string[];
  rounds: number;
  /** The architect's name, or `top-score`. */
  architect: string;
  topK: number;
  proposals: Proposal[];
  /** The winning agent; absent when no proposal was left. */
  winner?: string;
  /** Why the winner was chosen (the architect's answer, or the score rule). */
  rationale?: string;
  /** The other proposals. */
  candidates: Candidate[];
  runs: CouncilRun[];
  /** Everything the council spent (tokens, USD). */
  cost: Cost;
}

/** Input of `deliberationWorkflow`. */
export interface DeliberationInput {
  plan: CardPlan & { deliberation: CouncilPlan };
  queues: { owners: string; validation: string; debugging: string };
  attempt: number;
  dependencies: DependencyArtifacts[];
  /** Tools a human granted the card (`AttemptInput.grantedTools`): allowed to every council agent from its first launch. */
  grantedTools?: string[];
  /** What the card (and backlog) had spent before the council, for the budget gate of every run. */
  spent?: SpentBefore;
}

/** What a council hands back to the attempt. */
export interface DeliberationResult {
  council: CouncilRecord;
  /**
   * The winner's proposal as the attempt's owner result (its branch, artifacts, summary), with `cost` = the
   * whole council's; absent when no proposal was left (an owner failure).
   */
  owner?: OwnerResult;
  /** The winner's workspace (relative to its root). */
  workspace?: string;
  /** Set when no run could start within the budget: why (the card escalates, as for an owner run). */
  budgetStop?: string;
}

/** The council workflow's static summary in the Temporal UI: `council of a, b, c for ARQ-001, attempt 1`. */
export function councilSummary(cardId: string, agents: readonly string[], attempt: number): string {
  return `council of ${agents.join(", ")} for ${cardId}, attempt ${attempt}`;
}

/**
 * A council activity's summary in the Temporal UI: `proposal by alpha`, `critique by alpha of beta, round 1`,
 * `revision by alpha, round 1`, `QA of alpha's proposal`, `score of alpha's proposal`, `architect judge chooses`.
 */
export function councilStepSummary(step: CouncilStepKind, agent: string, round?: number, of?: string): string {
  const r = round !== undefined ? `, round ${round}` : "";
  switch (step) {
    case "proposal":
      return `proposal by ${agent}`;
    case "critique":
      return `critique by ${agent}${of ? ` of ${of}` : ""}${r}`;
    case "revision":
      return `revision by ${agent}${r}`;
    case "checks":
      return `QA of ${agent}'s proposal`;
    case "score":
      return `score of ${agent}'s proposal`;
    case "architect":
      return `architect ${agent} chooses`;
  }
}

/** Workflow ID of the council of attempt `attempt`: `<backlogId>/<cardId>-DELIB-<attempt>` (issue 12). */
export function deliberationWorkflowId(backlogId: string, cardId: string, attempt: number): string {
  return `${cardWorkflowId(backlogId, cardId)}-DELIB-${attempt}`;
}

function versionSuffix(agent: string, round: number): string {
  return round === 0 ? agent : `${agent}-r${round}`;
}

/**
 * Workspace of a council agent's proposal (`round` 0) or of its revision in `round`:
 * `<backlogId>/<cardId>/attempt-<n>/<agent>[-r<round>]` — one per agent and step, so that every step's
 * owner record (owner.ts) makes it run once.
 */
export function proposalWorkspace(
  backlogId: string,
  cardId: string,
  attempt: number,
  agent: string,
  round = 0,
): string {
  return `${attemptWorkspace(backlogId, cardId, attempt)}/${versionSuffix(agent, round)}`;
}

/** Branch of a proposal (`round` 0) or revision: `squadflow-attempts/<backlogId>/<cardId>/attempt-<n>/<agent>[-r<round>]`. */
export function proposalBranch(backlogId: string, cardId: string, attempt: number, agent: string, round = 0): string {
  return `${attemptBranchName(backlogId, cardId, attempt)}/${versionSuffix(agent, round)}`;
}

/** Scratch workspace of a non-proposal council run (a critique, the architect): `<attempt>/<what>`. */
export function councilScratchWorkspace(backlogId: string, cardId: string, attempt: number, what: string): string {
  return `${attemptWorkspace(backlogId, cardId, attempt)}/${what}`;
}

/**
 * The council score of a proposal, 0–10, two decimals: the scorer's score scaled by the share of the
 * card type's QA checks it passed — "failing checks count against it" (issue 12). `failedChecks` is the
 * number of failing checks (one reason each, qa.ts), `totalChecks` how many ran; no checks = the score.
 */
export function proposalScore(judgeScore: number, failedChecks: number, totalChecks: number): number {
  const share = totalChecks <= 0 ? 1 : Math.max(0, totalChecks - failedChecks) / totalChecks;
  return Math.round(Math.max(0, Math.min(10, judgeScore)) * share * 100) / 100;
}

/**
 * Ranks the proposals that did not fail: by score, best first; equal scores keep the council's order.
 * Returns a copy of `proposals` with `rank` set (1 = best) on the ranked ones.
 */
export function rankProposals(proposals: readonly Proposal[]): Proposal[] {
  const ranked = proposals
    .map((p, i) => ({ p, i }))
    .filter(({ p }) => p.failed === undefined)
    .sort((a, b) => (b.p.score ?? 0) - (a.p.score ?? 0) || a.i - b.i);
  const rankOf = new Map(ranked.map(({ p }, r) => [p.agent, r + 1]));
  return proposals.map((p) => (rankOf.has(p.agent) ? { ...p, rank: rankOf.get(p.agent)! } : p));
}

/** The `k` best-ranked proposals, best first. */
export function topProposals(proposals: readonly Proposal[], k: number): Proposal[] {
  return proposals
    .filter((p) => p.rank !== undefined)
    .sort((a, b) => a.rank! - b.rank!)
    .slice(0, k);
}

/**
 * Who critiques whom in a round: each live agent (council order) critiques the next live one's proposal,
 * the last the first — "agent i critiques agent i+1's proposal" (issue 12). Fewer than two live: none.
 */
export function critiquePairs(live: readonly string[]): { critic: string; target: string }[] {
  if (live.length < 2) return [];
  return live.map((critic, i) => ({ critic, target: live[(i + 1) % live.length]! }));
}

/** The non-winning proposals as candidates. */
export function candidatesOf(proposals: readonly Proposal[], winner: string | undefined): Candidate[] {
  return proposals
    .filter((p) => p.agent !== winner)
    .map((p) => ({
      agent: p.agent,
      ...(p.git ? { branch: p.git.branch } : {}),
      workspace: p.workspace,
      ...(p.score !== undefined ? { score: p.score } : {}),
      ...(p.rank !== undefined ? { rank: p.rank } : {}),
      ...(p.checks ? { checks: { passed: p.checks.passed, reasons: p.checks.reasons } } : {}),
      ...(p.failed !== undefined ? { failed: p.failed } : {}),
    }));
}

/** The sum of the council's runs' costs. */
export function councilCost(runs: readonly CouncilRun[]): Cost {
  return runs.length === 0 ? { ...ZERO_COST } : addCosts(...runs.map((r) => r.cost));
}

/**
 * The budget cap of one of `parallel` council runs that start together (proposals, critiques, revisions),
 * USD: an equal share of what the card and backlog budgets leave (`remainingUsd`, `runBudgetCheck`),
 * rounded down to the micro-dollar so that the shares never add up to more than what is left. Each run
 * gets it as its `budgetUsd` (claude-code's `--max-budget-usd`, a command agent's `budget_usd`), so runs
 * that started before any of them reported a cost cannot overshoot the budget together — docs/councils.md
 * "Budgets". Undefined (unlimited) stays undefined; `parallel` below 1 counts as 1.
 */
export function parallelRunBudget(remainingUsd: number | undefined, parallel: number): number | undefined {
  if (remainingUsd === undefined) return undefined;
  // The tiny epsilon keeps 0.3 / 3 at 0.1 (not 0.099999) despite binary floating point.
  return Math.floor((remainingUsd / Math.max(1, parallel)) * 1e6 + 1e-6) / 1e6;
}
