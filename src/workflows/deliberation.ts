/**
 * The council of a deliberating attempt (issue 12, seed 004's Deliberate), a child workflow of the attempt
 * (`<backlogId>/<cardId>-DELIB-<attempt>`, started by `runAttempt` in place of the owner run):
 *
 *   every agent proposes (in parallel, each in its own worktree and branch)
 *   → `rounds` × (each critiques the next one's proposal ‖, then each revises its own with what it got ‖)
 *   → each proposal's QA checks, then the scorer (‖ over proposals)
 *   → the architect picks among the top k (or `top-score`)
 *
 * Each step is an activity with its own retries and heartbeats; the workflow's history holds what is done,
 * so a council whose worker died resumes at the step it was in, and a step's activity returns its recorded
 * result when its agent had finished (owner.ts): no proposal is made twice. Every agent run passes the
 * budget gate first. An agent whose proposal fails (after its retries) leaves the council; a failed critique
 * or revision leaves the proposal as it was. Workflow code: deterministic, no Node APIs.
 */
import { ActivityFailure, isCancellation, log, patched, workflowInfo } from "@temporalio/workflow";
import { estimateRunUsd, runBudgetCheck, type BudgetCheck } from "../domain/budget.js";
import { addCosts, type Cost } from "../domain/cost.js";
import {
  TOP_SCORE,
  candidatesOf,
  councilStepSummary,
  councilCost,
  councilScratchWorkspace,
  critiquePairs,
  parallelRunBudget,
  proposalBranch,
  proposalScore,
  proposalWorkspace,
  rankProposals,
  topProposals,
  type CouncilMember,
  type CouncilRecord,
  type CouncilRun,
  type CouncilStepKind,
  type DeliberationInput,
  type DeliberationResult,
  type Proposal,
} from "../domain/deliberation.js";
import type { OwnerInput, OwnerResult, Verdict } from "../domain/attempt.js";
import { councilActivities, repositoryActivities, squadActivities, summarized } from "./activities.js";
import { MAX_WORKER_LOSSES, backlogSpentUsd, failureCost, failureMessage, lostItsWorker } from "./attempt.js";

const ZERO: Cost = { inputTokens: 0, outputTokens: 0, usd: 0 };

/** The `patched` id of parallel council runs sharing the budget left (`parallelRunBudget`). */
export const COUNCIL_BUDGET_SHARES = "council-budget-shares";

function now(): string {
  return new Date().toISOString();
}

/**
 * Runs a card's council and returns the winner as the attempt's owner result (its cost: the whole
 * council's), with the council's record; no winner when no proposal was left (the attempt then fails as
 * an owner failure), or `budgetStop` when not one proposal could start within the budget.
 */
export async function deliberationWorkflow(input: DeliberationInput): Promise<DeliberationResult> {
  const council = new Council(input);
  await council.propose();
  for (let round = 1; round <= input.plan.deliberation.rounds; round++) await council.critiqueAndRevise(round);
  await council.checkAndScore();
  await council.chooseWinner();
  await council.removeLosingWorktrees();
  return council.result();
}

/** The council's state and steps; `deliberationWorkflow` reads as the list of its steps. */
class Council {
  private readonly acts: ReturnType<typeof squadActivities>;
  private readonly council: ReturnType<typeof councilActivities>;
  private proposals: Proposal[];
  private readonly runs: CouncilRun[] = [];
  /** Worktrees of superseded proposal versions and of proposals that lost, to remove at the end. */
  private readonly oldWorkspaces: string[] = [];
  private winner?: string;
  private rationale?: string;
  /**
   * Parallel runs share what the budget leaves (`parallelRunBudget`); councils started before that replay
   * with each run capped at all of it (`patched`).
   */
  private readonly shareBudget: boolean;

  constructor(private readonly input: DeliberationInput) {
    this.shareBudget = patched(COUNCIL_BUDGET_SHARES);
    this.acts = squadActivities(input.queues);
    this.council = councilActivities(input.queues);
    const { plan } = input;
    this.proposals = plan.deliberation.members.map((m) => ({
      agent: m.name,
      workspace: proposalWorkspace(plan.backlogId, plan.card.id, input.attempt, m.name),
      ...(plan.repository ? { workspaceRoot: "worktrees" as const } : {}),
      summary: "",
      artifacts: [],
      critiques: [],
      revisions: [],
      cost: { ...ZERO },
    }));
  }

  // ---- steps ------------------------------------------------------------------------------------------

  /** (1) Every council agent proposes, in parallel, each in its own worktree / branch. */
  async propose(): Promise<void> {
    const members = this.input.plan.deliberation.members;
    await Promise.all(
      members.map(async (m) => {
        const result = await this.agentRun("proposal", m.name, undefined, members.length, (budgetUsd) =>
          summarized(this.acts.runOwner, councilStepSummary("proposal", m.name))(this.ownerInput(m, 0, budgetUsd)),
        );
        if (result.ok) this.update(m.name, (p) => this.withVersion(p, result.value));
        else this.update(m.name, (p) => ({ ...p, failed: result.error }));
      }),
    );
  }

  /** (2) One round: each live agent critiques the next one's proposal, then each revises its own with the critiques it got. */
  async critiqueAndRevise(round: number): Promise<void> {
    const { plan, attempt } = this.input;
    const pairs = critiquePairs(this.live().map((p) => p.agent));
    await Promise.all(
      pairs.map(async ({ critic, target }) => {
        const t = this.proposal(target);
        const result = await this.agentRun("critique", critic, round, pairs.length, (budgetUsd) =>
          summarized(
            this.council.critiqueProposal,
            councilStepSummary("critique", critic, round, target),
          )({
            backlogId: plan.backlogId,
            card: plan.card,
            attempt,
            workspace: councilScratchWorkspace(plan.backlogId, plan.card.id, attempt, `critique-r${round}-${critic}`),
            critic: this.member(critic),
            round,
            target: {
              agent: t.agent,
              workspace: t.workspace,
              ...(t.workspaceRoot ? { workspaceRoot: t.workspaceRoot } : {}),
              artifacts: t.artifacts,
              ...(t.git ? { git: t.git } : {}),
            },
            ...(plan.repository ? { repository: plan.repository } : {}),
            ...(budgetUsd !== undefined ? { budgetUsd } : {}),
            ...(plan.pricing ? { pricing: plan.pricing } : {}),
          }),
        );
        if (result.ok)
          this.update(target, (p) => ({
            ...p,
            critiques: [...p.critiques, { round, by: critic, text: result.value.text }],
          }));
      }),
    );
    const revising = this.live().filter((p) => p.critiques.some((c) => c.round === round));
    await Promise.all(
      revising.map(async (p) => {
        const m = this.member(p.agent);
        const result = await this.agentRun("revision", p.agent, round, revising.length, (budgetUsd) =>
          summarized(
            this.acts.runOwner,
            councilStepSummary("revision", p.agent, round),
          )(this.ownerInput(m, round, budgetUsd, p)),
        );
        if (!result.ok) return;
        this.oldWorkspaces.push(p.workspace);
        this.update(p.agent, (q) => ({
          ...this.withVersion(
            q,
            result.value,
            proposalWorkspace(plan.backlogId, plan.card.id, attempt, p.agent, round),
          ),
          revisions: [
            ...q.revisions,
            {
              round,
              summary: result.value.summary,
              ...(result.value.git ? { branch: result.value.git.branch } : {}),
            },
          ],
        }));
      }),
    );
  }

  /** (3) Each live proposal's QA checks run, then the scorer scores it; failing checks count against it. */
  async checkAndScore(): Promise<void> {
    const { plan } = this.input;
    const checks = plan.typeConfig.qa.checks;
    await Promise.all(
      this.live().map(async (p) => {
        const at = { workspace: p.workspace, ...(p.workspaceRoot ? { workspaceRoot: p.workspaceRoot } : {}) };
        const qa = await asVerdict(
          "qa",
          summarized(this.acts.runQa, councilStepSummary("checks", p.agent))({ ...at, checks }),
        );
        this.record({
          step: "checks",
          agent: p.agent,
          cost: qa.cost ?? ZERO,
          ok: qa.passed,
          ...(qa.passed ? {} : { error: qa.reasons.join("; ") }),
          at: now(),
        });
        const scored = await this.agentRun("score", p.agent, undefined, 1, async () =>
          asVerdict(
            "llm_judge",
            summarized(
              this.acts.judgeArtifacts,
              councilStepSummary("score", p.agent),
            )({
              card: plan.card,
              ...at,
              ...(p.git ? { git: p.git } : {}),
              artifacts: p.artifacts,
              config: plan.deliberation.scorer,
              ...(plan.pricing ? { pricing: plan.pricing } : {}),
              ownerModel: modelOf(this.member(p.agent)),
            }),
          ),
        );
        const judge: Verdict = scored.ok
          ? scored.value
          : { validator: "llm_judge", passed: false, reasons: [scored.error], at: now() };
        const failedChecks = qa.passed ? 0 : Math.max(1, Math.min(checks.length, qa.reasons.length));
        this.update(p.agent, (q) => ({
          ...q,
          checks: qa,
          judge,
          score: proposalScore(judge.score ?? 0, failedChecks, checks.length),
        }));
      }),
    );
    this.proposals = rankProposals(this.proposals);
  }

  /** (4) The architect picks the winner among the top k; `top-score` (or a single candidate, or an architect that fails) takes the best. */
  async chooseWinner(): Promise<void> {
    const { plan, attempt } = this.input;
    const top = topProposals(this.proposals, plan.deliberation.topK);
    if (top.length === 0) return;
    const best = top[0]!;
    const byScore = `${best.agent} has the best score, ${best.score}/10 (of ${this.live().length} proposal${this.live().length === 1 ? "" : "s"})`;
    const architect = plan.deliberation.architect;
    if (architect === TOP_SCORE || top.length === 1) {
      this.winner = best.agent;
      this.rationale = architect === TOP_SCORE ? `top-score: ${byScore}` : `the only candidate left: ${byScore}`;
      return;
    }
    const result = await this.agentRun("architect", architect.name, undefined, 1, (budgetUsd) =>
      summarized(
        this.council.askArchitect,
        councilStepSummary("architect", architect.name),
      )({
        backlogId: plan.backlogId,
        card: plan.card,
        attempt,
        workspace: councilScratchWorkspace(plan.backlogId, plan.card.id, attempt, `architect-${architect.name}`),
        architect,
        candidates: top.map((p) => ({
          agent: p.agent,
          score: p.score ?? 0,
          rank: p.rank!,
          summary: p.summary,
          ...(p.git ? { branch: p.git.branch } : {}),
          checksPassed: p.checks?.passed ?? false,
        })),
        ...(budgetUsd !== undefined ? { budgetUsd } : {}),
        ...(plan.pricing ? { pricing: plan.pricing } : {}),
      }),
    );
    if (result.ok) {
      this.winner = result.value.winner;
      this.rationale = `${architect.name}: ${result.value.rationale}`;
    } else {
      this.winner = best.agent;
      this.rationale = `architect ${architect.name} gave no valid answer (${result.error}); ${byScore}`;
    }
  }

  /** The worktrees of every superseded version and losing proposal go (their branches stay, as candidates). */
  async removeLosingWorktrees(): Promise<void> {
    const { plan, queues } = this.input;
    if (!plan.repository) return;
    const losing = this.proposals.filter((p) => p.agent !== this.winner).map((p) => p.workspace);
    for (const workspace of [...this.oldWorkspaces, ...losing]) {
      try {
        await repositoryActivities(queues).removeWorktree({
          backlogId: plan.backlogId,
          repository: plan.repository,
          workspace,
        });
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        log.warn("Could not remove a council worktree", {
          cardId: plan.card.id,
          workspace,
          error: failureMessage(err),
        });
      }
    }
  }

  /** The council's record and, with a winner, its proposal as the owner result. */
  result(): DeliberationResult {
    const cost = councilCost(this.runs);
    const council: CouncilRecord = {
      workflowId: workflowInfo().workflowId,
      agents: this.proposals.map((p) => p.agent),
      rounds: this.input.plan.deliberation.rounds,
      architect:
        this.input.plan.deliberation.architect === TOP_SCORE ? TOP_SCORE : this.input.plan.deliberation.architect.name,
      topK: this.input.plan.deliberation.topK,
      proposals: this.proposals,
      ...(this.winner !== undefined ? { winner: this.winner, rationale: this.rationale } : {}),
      candidates: candidatesOf(this.proposals, this.winner),
      runs: this.runs,
      cost,
    };
    const w = this.winner === undefined ? undefined : this.proposal(this.winner);
    if (!w) {
      const proposalRuns = this.runs.filter((r) => r.step === "proposal");
      const allOverBudget = proposalRuns.length > 0 && proposalRuns.every((r) => r.error?.startsWith("not started: "));
      return {
        council,
        ...(allOverBudget ? { budgetStop: proposalRuns[0]!.error!.slice("not started: ".length) } : {}),
      };
    }
    const owner: OwnerResult = {
      artifacts: w.artifacts,
      summary: w.summary,
      cost,
      ...(w.git ? { git: w.git } : {}),
      ...(w.session ? { session: w.session } : {}),
      agentName: w.agent,
    };
    return { council, owner, workspace: w.workspace };
  }

  // ---- bookkeeping ------------------------------------------------------------------------------------

  private live(): Proposal[] {
    return this.proposals.filter((p) => p.failed === undefined);
  }

  private proposal(agent: string): Proposal {
    return this.proposals.find((p) => p.agent === agent)!;
  }

  private member(name: string): CouncilMember {
    return this.input.plan.deliberation.members.find((m) => m.name === name)!;
  }

  private update(agent: string, change: (p: Proposal) => Proposal): void {
    this.proposals = this.proposals.map((p) => (p.agent === agent ? change(p) : p));
  }

  /** Records a run and adds its cost to its agent's proposal. */
  private record(run: CouncilRun): void {
    this.runs.push(run);
    if (run.step !== "architect") this.update(run.agent, (p) => ({ ...p, cost: addCosts(p.cost, run.cost) }));
  }

  /** A proposal's new version from an owner run (its workspace, files, branch, summary, session). */
  private withVersion(p: Proposal, r: OwnerResult, workspace = p.workspace): Proposal {
    return {
      ...p,
      workspace,
      summary: r.summary,
      artifacts: r.artifacts,
      ...(r.git ? { git: r.git } : {}),
      ...(r.session ? { session: r.session } : {}),
    };
  }

  /** The owner run of a proposal (`round` 0) or of its revision in `round` (continuing `previous`). */
  private ownerInput(m: CouncilMember, round: number, budgetUsd: number | undefined, previous?: Proposal): OwnerInput {
    const { plan, attempt } = this.input;
    const repository = plan.repository;
    const granted = this.input.grantedTools ?? [];
    const allowTools = [...new Set([...(plan.typeConfig.permissions?.allow_tools ?? []), ...granted])];
    const allowDirs = plan.typeConfig.permissions?.allow_dirs ?? [];
    return {
      backlogId: plan.backlogId,
      card: plan.card,
      attempt,
      agent: m.agent,
      workspace: proposalWorkspace(plan.backlogId, plan.card.id, attempt, m.name, round),
      ...(repository
        ? { workspaceRoot: "worktrees" as const, repository, ...(previous?.git ? { previousGit: previous.git } : {}) }
        : previous
          ? { previousWorkspace: previous.workspace }
          : {}),
      dependencies: this.input.dependencies,
      ...(previous
        ? {
            feedback: {
              round,
              reasons: previous.critiques.filter((c) => c.round === round).map((c) => `critique by ${c.by}: ${c.text}`),
            },
          }
        : {}),
      ...(budgetUsd !== undefined ? { budgetUsd } : {}),
      ...(plan.pricing ? { pricing: plan.pricing } : {}),
      ...(allowTools.length ? { allowTools } : {}),
      ...(allowDirs.length ? { allowDirs } : {}),
      ...(granted.length ? { grantedTools: [...granted] } : {}),
      council: {
        ...(repository ? { branch: proposalBranch(plan.backlogId, plan.card.id, attempt, m.name, round) } : {}),
        step: previous ? "revise" : "propose",
        ...(previous ? { round } : {}),
        agent: m.name,
      },
    };
  }

  /**
   * One council run of `agent`: the budget gate (what the card and backlog spent, this council included,
   * plus an estimate of the run), then `run` with its share of what is left (`parallel`: how many runs of
   * its step start together — `parallelRunBudget`) — run again when it only lost its worker
   * (heartbeats stopped), as the owner run of an attempt is. Records the run with its cost; a failure
   * (after the activity's retries) or a run that did not start is returned, never thrown.
   */
  private async agentRun<T extends { cost?: Cost }>(
    step: CouncilStepKind,
    agent: string,
    round: number | undefined,
    parallel: number,
    run: (budgetUsd: number | undefined) => Promise<T>,
  ): Promise<{ ok: true; value: T } | { ok: false; error: string }> {
    const base = { step, agent, ...(round !== undefined ? { round } : {}) };
    // A rubric scorer spends nothing: only runs that may cost pass the gate.
    const free = step === "score" && this.input.plan.deliberation.scorer.kind === "rubric";
    const gate: BudgetCheck = free ? { ok: true } : await this.gate(step === "score");
    if (!gate.ok) {
      const error = `not started: ${gate.reason}`;
      this.record({ ...base, cost: ZERO, ok: false, error, at: now() });
      return { ok: false, error };
    }
    for (let workerLosses = 0; ; workerLosses++) {
      try {
        const value = await run(this.shareBudget ? parallelRunBudget(gate.remainingUsd, parallel) : gate.remainingUsd);
        this.record({ ...base, cost: value.cost ?? ZERO, ok: true, at: now() });
        return { ok: true, value };
      } catch (err) {
        // A cancelled council (its card was cancelled) stops here rather than recording a failed run.
        if (!(err instanceof ActivityFailure) || isCancellation(err)) throw err;
        if (lostItsWorker(err) && workerLosses < MAX_WORKER_LOSSES) {
          log.warn("Council run lost its worker; running it again", { cardId: this.input.plan.card.id, step, agent });
          continue;
        }
        const error = failureMessage(err);
        this.record({ ...base, cost: failureCost(err) ?? ZERO, ok: false, error, at: now() });
        log.warn("Council run failed", { cardId: this.input.plan.card.id, step, agent, error });
        return { ok: false, error };
      }
    }
  }

  /** The budget gate before a council run (src/domain/budget.ts `runBudgetCheck`): the card's and backlog's spending, this council's included. */
  private async gate(judge: boolean) {
    const { plan, spent } = this.input;
    const spentNow = councilCost(this.runs).usd;
    const previous = judge
      ? (spent?.judgeRuns ?? [])
      : [...(spent?.ownerRuns ?? []), ...this.runs.filter((r) => r.step !== "score").map((r) => r.cost)];
    return runBudgetCheck({
      cardSpentUsd: (spent?.cardUsd ?? 0) + spentNow,
      cardBudgetUsd: plan.budgetUsd,
      backlogSpentUsd: (await backlogSpentUsd(this.input, this.acts)) + spentNow,
      backlogBudgetUsd: spent?.backlogBudgetUsd,
      estimateUsd: estimateRunUsd(previous),
    });
  }
}

/** The model of a council agent (an `llm` scorer must not grade its own model's work), if it names one. */
function modelOf(m: CouncilMember): string | undefined {
  return m.agent.kind !== "command" ? m.agent.model : undefined;
}

/** A validator that could not run is a failed verdict with the reason (what it spent still counts). */
async function asVerdict(validator: Verdict["validator"], run: Promise<Verdict>): Promise<Verdict> {
  try {
    return await run;
  } catch (err) {
    if (!(err instanceof ActivityFailure) || isCancellation(err)) throw err;
    const cost = failureCost(err);
    return {
      validator,
      passed: false,
      reasons: [`could not run: ${failureMessage(err)}`],
      at: now(),
      ...(cost ? { cost } : {}),
    };
  }
}
