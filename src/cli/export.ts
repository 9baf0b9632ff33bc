/**
 * `export`: writes a backlog back in the seed's `backlog_master.json` shape (snake_case), read from
 * Temporal — PRODUCT.md: the file is "an input and an export; Temporal is the source of truth".
 * Correction rounds appear as `type: CORRECTION` cards with `parent_card`, as the seed wrote them.
 */
import { CORRECTION_TYPE, correctionCardId, type AttemptRecord, type CardState } from "../domain/index.js";
import type { BacklogView } from "./backlogs.js";

type Json = Record<string, unknown>;

function validationHistory(attempts: AttemptRecord[]): Json[] {
  return attempts.flatMap((a) =>
    a.verdicts.map((v) => ({
      attempt: a.attempt,
      validator: v.validator,
      passed: v.passed,
      ...(v.score !== undefined ? { score: v.score } : {}),
      reasons: v.reasons,
      ...(v.reviews
        ? { reviews: v.reviews.map((r) => ({ reviewer: r.reviewer, verdict: r.verdict, comments: r.comments })) }
        : {}),
      ...(v.validator === "peer_review" && a.peerReview
        ? {
            decision: a.peerReview.action,
            reviewed: a.peerReview.moment,
            ...(a.peerReview.message ? { message: a.peerReview.message } : {}),
          }
        : {}),
      timestamp: v.at,
    })),
  );
}

/**
 * The councils of a card's attempts (issue 12), snake_case: per attempt its workflow, winner, rationale,
 * every proposal (branch, score, rank, checks, critiques received, revisions, cost) and the candidates.
 */
function councils(attempts: AttemptRecord[]): Json[] {
  return attempts.flatMap((a) => {
    const c = a.council;
    if (!c) return [];
    return [
      {
        attempt: a.attempt,
        workflow_id: c.workflowId,
        agents: c.agents,
        rounds: c.rounds,
        architect: c.architect,
        top_k: c.topK,
        winner: c.winner ?? null,
        rationale: c.rationale ?? null,
        proposals: c.proposals.map((p) => ({
          agent: p.agent,
          ...(p.git ? { branch: p.git.branch, head_commit: p.git.headCommit } : { workspace: p.workspace }),
          summary: p.summary,
          score: p.score ?? null,
          rank: p.rank ?? null,
          checks: p.checks ? { passed: p.checks.passed, reasons: p.checks.reasons } : null,
          critiques: p.critiques,
          revisions: p.revisions,
          ...(p.failed !== undefined ? { failed: p.failed } : {}),
          cost_tracking: costTracking(p.cost),
        })),
        candidates: c.candidates,
        steps: c.runs.map((r) => ({
          step: r.step,
          agent: r.agent,
          ...(r.round !== undefined ? { round: r.round } : {}),
          ok: r.ok,
          ...(r.error ? { error: r.error } : {}),
          cost_usd: r.cost.usd,
          at: r.at,
        })),
        cost_tracking: costTracking(c.cost),
      },
    ];
  });
}

function costTracking(c: { inputTokens: number; outputTokens: number; usd: number }): Json {
  return {
    tokens_input: c.inputTokens,
    tokens_output: c.outputTokens,
    total_tokens: c.inputTokens + c.outputTokens,
    cost_usd: c.usd,
  };
}

function cardJson(s: CardState): Json {
  return {
    id: s.card.id,
    type: s.card.type,
    title: s.card.title,
    description: s.card.description,
    status: s.status,
    priority: s.card.priority,
    dependencies: s.card.dependencies,
    attempt: s.attempt,
    artifacts: s.artifacts,
    acceptance_criteria: s.card.acceptanceCriteria,
    validation_history: validationHistory(s.attempts),
    cost_tracking: costTracking(s.cost),
    audit_log: s.auditLog,
    ...(s.merge
      ? { merge_commit: s.merge.commit, merged_branch: s.merge.branch, integration_branch: s.merge.integrationBranch }
      : {}),
    ...(s.attempts.some((a) => a.council) ? { councils: councils(s.attempts) } : {}),
    created_at: s.createdAt,
    updated_at: s.updatedAt,
    // As the seed wrote it: null until the card is complete.
    completed_at: s.completedAt ?? null,
  };
}

function correctionCards(s: CardState): Json[] {
  return s.attempts
    .filter((a) => a.attempt > 1)
    .map((a) => ({
      id: correctionCardId(s.card.id, a.attempt - 1),
      type: CORRECTION_TYPE,
      title: `Correction ${a.attempt - 1} of ${s.card.id}`,
      status: a.passed ? "DONE" : "REJECTED",
      priority: s.card.priority,
      dependencies: [],
      parent_card: s.card.id,
      attempt: a.attempt,
      artifacts: a.git ? a.artifacts : a.artifacts.map((p) => `${a.workspace}/${p}`),
      ...(a.git ? { branch: a.git.branch, base_commit: a.git.baseCommit, head_commit: a.git.headCommit } : {}),
      validation_history: validationHistory([a]),
      cost_tracking: costTracking(a.cost),
      created_at: a.startedAt,
      updated_at: a.finishedAt,
    }));
}

/**
 * The repository fields of the export: the integration branch, and the repository itself when it came from
 * `--repo` rather than the file (an absolute path or URL, so the export runs against the same repository).
 */
function repositoryMetadata(view: BacklogView): Json {
  const repo = view.backlog.repository;
  if (!repo) return {};
  const fromFile = view.backlog.source.metadata.repository !== undefined;
  return {
    ...(fromFile ? {} : { repository: repo.path ?? repo.url, base_branch: repo.baseBranch }),
    integration_branch: repo.branch,
  };
}

/** The backlog as a `backlog_master.json` document. */
export function exportBacklog(view: BacklogView): Json {
  const legacy = view.backlog.source.legacyCards;
  const run = view.cards.filter((c) => !c.legacy && c.state).map((c) => c.state!);
  return {
    metadata: {
      ...view.backlog.source.metadata,
      backlog_id: view.backlog.backlogId,
      source_file: view.backlog.source.file,
      exported_at: new Date().toISOString(),
      started_at: view.backlog.startedAt,
      finished: !view.running,
      ...repositoryMetadata(view),
    },
    cards: [...legacy, ...run.flatMap((s) => [cardJson(s), ...correctionCards(s)])],
  };
}
