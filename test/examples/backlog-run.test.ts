/**
 * The example backlog run card by card through the real activities (src/activities: owner, verification,
 * LLM-judge, QA, debugging, merge) — the steps of the card workflow (src/workflows/card.ts) without a
 * Temporal server, delivering into an example repository of its own (made from the seed in a temp folder):
 * attempt 1 in a worktree, up to three corrections with the aggregated feedback (the debugging agent first
 * when reasons repeat) continuing the attempt branch, then escalation and a human decision; an approved
 * card's branch merged into the integration branch, where its dependents find its work. It shows that each
 * scenario of the example comes from what the agents really write and what the validators really find:
 *   - most cards pass first time (OPS-001 approved by the example peer reviewer too);
 *   - ARQ-001 is rejected by the judge (no "Rollback plan") and fixed by correction 1;
 *   - BE-002 fails QA (ledger rounding FIN-7) on every attempt, is escalated, and passes after `clarify`;
 *   - the legacy DONE brief is a resolved dependency; QA-001 passes once BE-002 is resolved either way.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createActivities } from "../../src/activities/index.js";
import { inspectRepository } from "../../src/activities/repository/index.js";
import { ensureExampleRepository } from "../../scripts/example-repo.js";
import { mergesOf, projectTestsOn, worktreePaths } from "../helpers/example-repo.js";
import {
  MAX_CORRECTIONS,
  addCosts,
  attemptWorkspace,
  failureReasons,
  planBacklog,
  repeatedReasons,
  type AttemptRecord,
  type CardPlan,
  type CorrectionFeedback,
  type Cost,
  type DebugReport,
  type DependencyArtifacts,
  type RepositoryTarget,
  type Verdict,
  withRepository,
} from "../../src/domain/index.js";
import { BACKLOG_REL, ROOT, loadBacklog } from "./helpers.js";

/** A human's decision on an escalated card. */
type Review = { decision: "approve" } | { decision: "clarify"; context: string };

/** How a card's run ended, with everything the assertions look at. */
interface CardRun {
  status: "DONE" | "REJECTED";
  attempts: AttemptRecord[];
  debugReports: DebugReport[];
  escalated: boolean;
  cost: Cost;
}

const FIXED_AT = new Date("2025-03-04T10:00:00.000Z");

type Activities = ReturnType<typeof createActivities>;
const sandboxes: string[] = [];
afterAll(() => sandboxes.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A sandbox: the real activities, and the example repository they deliver into. */
interface Sandbox {
  acts: Activities;
  repository: RepositoryTarget;
}

/**
 * The real activities over a sandbox laid out like the project: `<dir>/state/workspaces`,
 * `<dir>/state/worktrees` and the example repository `<dir>/state/repos/shop-discounts` made from the seed
 * (the legacy brief's artifact path is made absolute by the plan, against the backlog file's directory).
 */
async function sandbox(backlogId: string): Promise<Sandbox> {
  const dir = mkdtempSync(join(tmpdir(), "squadflow-example-run-"));
  sandboxes.push(dir);
  mkdirSync(join(dir, "state", "workspaces"), { recursive: true });
  const repo = await ensureExampleRepository(join(dir, "state", "repos", "shop-discounts"));
  const acts = createActivities({
    workspacesRoot: join(dir, "state", "workspaces"),
    worktreesRoot: join(dir, "state", "worktrees"),
    baseDir: ROOT,
    now: () => FIXED_AT,
    hooks: () => ({ heartbeat: () => undefined }),
  });
  return {
    acts,
    repository: await inspectRepository({ source: repo.dir, baseDir: dir, backlogId, baseBranch: "main" }),
  };
}

/**
 * One attempt in its worktree: owner → verification (gate) → LLM-judge ‖ QA, then the worktree removed, as
 * src/workflows/attempt.ts runs it; a correction continues the previous attempt's branch.
 */
async function runAttempt(
  acts: Activities,
  plan: CardPlan,
  attempt: number,
  dependencies: DependencyArtifacts[],
  previous?: AttemptRecord,
  feedback?: CorrectionFeedback,
): Promise<AttemptRecord> {
  const repository = plan.repository!;
  const workspace = attemptWorkspace(plan.backlogId, plan.card.id, attempt);
  const at = { workspace, workspaceRoot: "worktrees" as const };
  const base = {
    attempt,
    workflowId: `${plan.backlogId}/${plan.card.id}`,
    ...at,
    feedback,
    startedAt: "",
    finishedAt: "",
  };
  let owner;
  try {
    owner = await acts.runOwner({
      backlogId: plan.backlogId,
      card: plan.card,
      attempt,
      agent: plan.agent,
      ...at,
      repository,
      ...(previous?.git ? { previousGit: previous.git } : {}),
      dependencies,
      feedback,
    });
  } catch (err) {
    await acts.removeWorktree({ backlogId: plan.backlogId, repository, workspace });
    const verdict: Verdict = {
      validator: "owner",
      passed: false,
      reasons: [`Owner execution failed: ${(err as Error).message}`],
      at: "",
    };
    return {
      ...base,
      artifacts: [],
      summary: "owner failed",
      verdicts: [verdict],
      passed: false,
      cost: { inputTokens: 0, outputTokens: 0, usd: 0 },
    };
  }
  const { typeConfig, card } = plan;
  const { git } = owner;
  const verdicts: Verdict[] = [
    await acts.verifyArtifacts({ ...at, git, artifacts: owner.artifacts, config: typeConfig.verification }),
  ];
  if (verdicts[0]!.passed) {
    verdicts.push(
      ...(await Promise.all([
        acts.judgeArtifacts({ card, ...at, git, artifacts: owner.artifacts, config: typeConfig.judge }),
        acts.runQa({ ...at, checks: typeConfig.qa.checks }),
        ...(plan.peerReviewers
          ? [
              acts.reviewPeers({
                card,
                ...at,
                git,
                artifacts: owner.artifacts,
                reviewers: plan.peerReviewers,
                moment: "always",
              }),
            ]
          : []),
      ])),
    );
  }
  await acts.removeWorktree({ backlogId: plan.backlogId, repository, workspace });
  return {
    ...base,
    artifacts: owner.artifacts,
    summary: owner.summary,
    verdicts,
    passed: verdicts.every((v) => v.passed),
    cost: owner.cost,
    git,
  };
}

/**
 * A card from attempt 1 to its end, as src/workflows/card.ts drives it — `review` answers an escalation —
 * and its last attempt's branch merged into the integration branch (the human's decision in the trailers).
 */
async function runCard(
  acts: Activities,
  plan: CardPlan,
  dependencies: DependencyArtifacts[],
  review: () => Review,
): Promise<CardRun> {
  const attempts = [await runAttempt(acts, plan, 1, dependencies)];
  let human: { reviewer: string; decision: string } | undefined;
  const debugReports: DebugReport[] = [];
  let corrections = 0;
  let limit = MAX_CORRECTIONS;
  let humanContext: string | undefined;
  let escalated = false;
  while (!attempts[attempts.length - 1]!.passed) {
    if (corrections >= limit) {
      escalated = true;
      const decision = review();
      if (decision.decision === "approve") {
        // An approval merges the failing attempt with the human's name on it; a clarify passes its validators.
        human = { reviewer: "ana", decision: "approve" };
        break;
      }
      humanContext = decision.context;
      limit = corrections + 1;
    }
    const last = attempts[attempts.length - 1]!;
    const feedback: CorrectionFeedback = {
      round: corrections + 1,
      reasons: failureReasons(last.verdicts),
      humanContext,
    };
    if (repeatedReasons(attempts).length > 0) {
      const report = await acts.debugFailures({ card: plan.card, history: attempts });
      debugReports.push(report);
      feedback.rootCause = report.rootCause;
      feedback.suggestions = report.suggestions;
    }
    corrections++;
    attempts.push(await runAttempt(acts, plan, last.attempt + 1, dependencies, last, feedback));
  }
  const cost = addCosts(...attempts.map((a) => a.cost));
  const last = attempts[attempts.length - 1]!;
  const merged = await acts.mergeAttempt({
    backlogId: plan.backlogId,
    cardId: plan.card.id,
    title: plan.card.title,
    attempt: last.attempt,
    repository: plan.repository!,
    git: last.git!,
    costUsd: cost.usd,
    ...(human ? { human } : {}),
  });
  if (merged.status !== "merged") throw new Error(`${plan.card.id}: merge ${merged.status}: ${JSON.stringify(merged)}`);
  return { status: "DONE", attempts, debugReports, escalated, cost };
}

/** A backlog run: each card's run, and the repository it delivered into. */
interface BacklogRun {
  runs: Map<string, CardRun>;
  repository: RepositoryTarget;
}

/** Runs the whole backlog in dependency order, in a sandbox of its own; `review` decides escalations. */
async function runBacklog(review: (cardId: string) => Review): Promise<BacklogRun> {
  const planned = planBacklog(loadBacklog().text, { file: BACKLOG_REL, artifactBase: join(ROOT, "state") });
  const { acts, repository } = await sandbox(planned.backlogId);
  const plan = withRepository(planned, repository);
  const runs = new Map<string, CardRun>();
  const artifactsOf = new Map<string, string[]>(plan.done.map((d) => [d.cardId, d.artifacts]));
  for (const card of plan.cards) {
    const dependencies = card.card.dependencies.map((id) => {
      const artifacts = artifactsOf.get(id);
      if (!artifacts) throw new Error(`${card.card.id} runs before its dependency ${id}`);
      return { cardId: id, artifacts };
    });
    const run = await runCard(acts, card, dependencies, () => review(card.card.id));
    runs.set(card.card.id, run);
    // In a repository a dependency's artifacts are paths in the dependent's worktree, where they were merged.
    artifactsOf.set(card.card.id, run.attempts[run.attempts.length - 1]!.artifacts);
  }
  await acts.finishRepository({ backlogId: plan.backlogId, repository });
  return { runs, repository };
}

const verdict = (a: AttemptRecord, v: Verdict["validator"]) => a.verdicts.find((x) => x.validator === v);

describe("the example backlog, run through the real activities", () => {
  let clarified: Map<string, CardRun>;
  let approved: Map<string, CardRun>;
  const repositories: Record<"clarified" | "approved", RepositoryTarget> = {} as Record<
    "clarified" | "approved",
    RepositoryTarget
  >;
  const reviews: string[] = [];

  beforeAll(async () => {
    const c = await runBacklog((id) => {
      reviews.push(id);
      return {
        decision: "clarify",
        context: "FIN-7 is banker's rounding: round half to even, exactly like the ledger.",
      };
    });
    const a = await runBacklog(() => ({ decision: "approve" }));
    [clarified, approved, repositories.clarified, repositories.approved] = [c.runs, a.runs, c.repository, a.repository];
  }, 180_000);

  it("passes SPEC-001, INFRA-001, BE-001, FE-001, DOCS-001 and OPS-001 first time, with a full judge score and green QA", () => {
    for (const id of ["SPEC-001", "INFRA-001", "BE-001", "FE-001", "DOCS-001", "OPS-001"]) {
      const run = clarified.get(id)!;
      expect(
        run.attempts.map((a) => a.passed),
        id,
      ).toEqual([true]);
      expect(verdict(run.attempts[0]!, "llm_judge")!.score, id).toBe(10);
      expect(run.escalated).toBe(false);
    }
  });

  it("has OPS-001 peer-reviewed on its diff: the example reviewer approves the runbook", () => {
    const review = verdict(clarified.get("OPS-001")!.attempts[0]!, "peer_review")!;
    expect(review).toMatchObject({ passed: true, reviews: [{ reviewer: "peer-reviewer", verdict: "approve" }] });
    expect(review.reviews![0]!.comments[0]).toMatch(
      /^Reviewed the diff [0-9a-f]{12}\.\.[0-9a-f]{12} of OPS-001: no committed secret/,
    );
    expect(clarified.get("DOCS-001")!.attempts[0]!.verdicts.map((v) => v.validator)).not.toContain("peer_review");
  });

  it("rejects ARQ-001 on the judge for the missing rollback plan, and passes the correction that adds it", () => {
    const run = clarified.get("ARQ-001")!;
    expect(run.attempts.map((a) => a.passed)).toEqual([false, true]);
    const judge = verdict(run.attempts[0]!, "llm_judge")!;
    expect(judge.score).toBe(6.7);
    expect(judge.reasons).toEqual([
      'criterion "Rollback plan" not met: no section "Rollback plan" in docs/architecture.md',
    ]);
    expect(verdict(run.attempts[0]!, "qa")!.passed).toBe(true);
    expect(run.attempts[1]!.feedback!.reasons).toEqual([`llm_judge: ${judge.reasons[0]}`]);
    expect(verdict(run.attempts[1]!, "llm_judge")!.score).toBe(10);
    expect(run.debugReports).toEqual([]);
  });

  it("fails BE-002 on the FIN-7 acceptance test in every attempt, runs the debugging agent, and escalates after 3 corrections", () => {
    const run = clarified.get("BE-002")!;
    expect(reviews).toEqual(["BE-002"]);
    expect(run.escalated).toBe(true);
    const failing = run.attempts.slice(0, 1 + MAX_CORRECTIONS);
    for (const a of failing) {
      expect(a.passed, `attempt ${a.attempt}`).toBe(false);
      expect(failureReasons(a.verdicts), `attempt ${a.attempt}`).toEqual([
        'qa: check "acceptance tests" failed: exit 1',
      ]);
      expect(verdict(a, "llm_judge")!.passed).toBe(true);
    }
    expect(failing.map((a) => a.summary.match(/with ([\w-]+) rounding/)![1])).toEqual([
      "half-up",
      "half-up-integer",
      "half-down",
      "truncate",
    ]);
    // The debugging agent ran before every correction after the reasons started repeating.
    expect(run.debugReports.length).toBeGreaterThanOrEqual(2);
    expect(run.debugReports[0]!.repeatedReasons).toEqual(['qa: check "acceptance tests" failed: exit 1']);
    expect(run.attempts[2]!.feedback!.rootCause).toBe(run.debugReports[0]!.rootCause);
  });

  it("passes BE-002 in the one extra round a human's clarify grants, using the human's context", () => {
    const run = clarified.get("BE-002")!;
    expect(run.attempts).toHaveLength(5);
    const last = run.attempts[4]!;
    expect(last.feedback!.humanContext).toMatch(/banker's rounding/);
    expect(last.passed).toBe(true);
    expect(last.summary).toMatch(/with half-even rounding/);
  });

  it("ends BE-002 on the failing attempt 4 when a human approves instead", () => {
    const run = approved.get("BE-002")!;
    expect(run.escalated).toBe(true);
    expect(run.attempts.map((a) => a.passed)).toEqual([false, false, false, false]);
  });

  it("passes QA-001 end to end once BE-002 is resolved, whichever way the human decided", () => {
    for (const runs of [clarified, approved]) {
      const run = runs.get("QA-001")!;
      expect(run.attempts.map((a) => a.passed)).toEqual([true]);
      expect(verdict(run.attempts[0]!, "qa")!.passed).toBe(true);
    }
  });

  it("merges every card once into the integration branch, where the project's tests pass, whichever way BE-002 was resolved", async () => {
    for (const [how, repository] of Object.entries(repositories)) {
      const merges = await mergesOf(repository.path!, repository.integrationBranch);
      expect(
        merges.map((m) => m.trailers["Squadflow-Card"]),
        how,
      ).toEqual([
        "SPEC-001",
        "ARQ-001",
        "INFRA-001",
        "BE-001",
        "BE-002",
        "FE-001",
        "QA-001",
        "DOCS-001",
        "OPS-001",
        "ADR-001",
      ]);
      const be2 = merges.find((m) => m.trailers["Squadflow-Card"] === "BE-002")!;
      expect(be2.trailers["Squadflow-Attempt"], how).toBe(how === "approved" ? "4" : "5");
      expect(be2.trailers["Squadflow-Decision"], how).toBe(how === "approved" ? "approve" : undefined);
      expect(await worktreePaths(repository.path!), how).toEqual([repository.path!]);
      const tests = await projectTestsOn(repository.path!, repository.integrationBranch);
      expect(tests.code, `${how}: ${tests.output}`).toBe(0);
    }
  }, 60_000);

  it("keeps every card well under the cost alert, with reproducible costs", () => {
    const alert = loadBacklog().squad.cost_alert_usd;
    for (const [id, run] of clarified) {
      expect(run.cost.usd, id).toBeGreaterThan(0);
      expect(run.cost.usd, id).toBeLessThan(alert);
      const again = approved.get(id)!;
      // Same input, same usage: only BE-002 (one attempt fewer) and QA-001 (other BE-002 artifacts) differ.
      if (id !== "BE-002" && id !== "QA-001") expect(again.cost, id).toEqual(run.cost);
    }
  });
});
