/**
 * `squadflow history BACKLOG CARD`: everything one card went through — status timeline, every attempt
 * with every validator verdict (score, reasons, details), the feedback each correction got, the debugging
 * agent's reports and the audit log — read from the card workflow (query while it runs, its result once
 * it ended).
 */
import { WorkflowNotFoundError, type Client } from "@temporalio/client";
import type { CardState, CouncilRecord } from "../domain/index.js";
import { cardStateQuery } from "../workflows/card.js";
import { endedCardState, readBacklog } from "./backlogs.js";
import { CliError, EXIT } from "./errors.js";
import { formatDuration } from "./render.js";
import { readOwnerProgress, renderOwnerProgress, type OwnerProgress } from "./progress.js";

export { formatDuration };

/** One status of the timeline with how long the card stayed in it. */
export interface TimelineEntry {
  status: string;
  at: string;
  /** Time until the next status, ms; for the current status of a card still running, until `now`; null once ended. */
  durationMs: number | null;
}

/** A card's history (the `--json` form). */
export interface CardHistory {
  backlogId: string;
  cardId: string;
  workflowId: string;
  /** True once the card workflow ended. */
  final: boolean;
  timeline: TimelineEntry[];
  state: CardState;
  /** The backlog's repository and integration branch, when it delivers into one (issue 9). */
  repository?: { path?: string; url?: string; branch: string };
  /** While its owner runs: what it is doing, from the owner activity's last heartbeat (src/cli/progress.ts). */
  ownerProgress?: OwnerProgress;
}

/** The status timeline of a state with durations (see {@link TimelineEntry}). Pure. */
export function timelineOf(state: CardState, final: boolean, now: Date): TimelineEntry[] {
  return state.statusHistory.map((s, i) => {
    const next = state.statusHistory[i + 1];
    const end = next ? Date.parse(next.at) : final ? undefined : now.getTime();
    return { status: s.status, at: s.at, durationMs: end === undefined ? null : end - Date.parse(s.at) };
  });
}

/**
 * Reads a card's history.
 * @throws CliError exit 2 for an unknown backlog or card (or a legacy card, which has none); exit 3 when no
 *   worker answers the query of a running card.
 */
export async function readCardHistory(
  client: Client,
  backlogId: string,
  cardId: string,
  now = new Date(),
): Promise<CardHistory> {
  const { state: backlog } = await readBacklog(client, backlogId);
  const entry = backlog.cards.find((c) => c.cardId === cardId);
  if (!entry) {
    const legacy = backlog.source.legacyCards.find((c) => c.id === cardId);
    const parent = /^(.+)-CORR-\d+$/.exec(cardId)?.[1];
    throw new CliError(
      legacy
        ? `card "${cardId}" of backlog "${backlogId}" is a legacy card that was not run; see its record with: squadflow export ${backlogId}`
        : parent && backlog.cards.some((c) => c.cardId === parent)
          ? `"${cardId}" is a correction round of ${parent}; its attempt is in: squadflow history ${backlogId} ${parent}`
          : `unknown card "${cardId}" in backlog "${backlogId}" (cards: ${backlog.cards.map((c) => c.cardId).join(", ")})`,
    );
  }
  let state: CardState | undefined = await endedCardState(client, entry);
  const final = entry.outcome !== undefined;
  if (!state && !final) {
    try {
      state = await client.workflow.getHandle(entry.workflowId).query(cardStateQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError)
        throw new CliError(`card "${cardId}" has not started yet; try again in a moment`);
      throw new CliError(
        `could not query card ${cardId}: ${(err as Error).message}. Is a squadflow worker running (squadflow dev / squadflow worker)?`,
        EXIT.unavailable,
      );
    }
  }
  if (!state) {
    throw new CliError(
      `card "${cardId}" ended ${entry.outcome!.status} without a recorded state: ${entry.outcome!.message ?? ""}; see: temporal workflow show -w ${entry.workflowId}`,
      EXIT.failure,
    );
  }
  const repo = backlog.repository;
  const repository = repo
    ? { ...(repo.path ? { path: repo.path } : { url: repo.url }), branch: repo.branch }
    : undefined;
  // Best effort: the history stands without it (the owner may have finished between the query and describe).
  const ownerProgress = final ? undefined : await readOwnerProgress(client, entry.workflowId).catch(() => undefined);
  return {
    backlogId,
    cardId,
    workflowId: entry.workflowId,
    final,
    timeline: timelineOf(state, final, now),
    state,
    ...(repository ? { repository } : {}),
    ...(ownerProgress ? { ownerProgress } : {}),
  };
}

const time = (iso: string) => iso.slice(0, 19).replace("T", " ");

function indent(text: string, prefix: string): string {
  return text
    .split("\n")
    .map((l) => prefix + l)
    .join("\n");
}

/**
 * An attempt's council (issue 12) as lines: its workflow and settings, each proposal (score, rank, checks,
 * branch, cost, the critiques it received and its revisions, or why it failed), the winner and the
 * architect's rationale, and what each step cost per agent. Pure.
 */
export function renderCouncil(c: CouncilRecord): string[] {
  const out: string[] = [];
  out.push(
    `    council ${c.workflowId} · ${c.agents.join(", ")} · ${c.rounds} round${c.rounds === 1 ? "" : "s"} · architect ${c.architect} (top ${c.topK}) · $${c.cost.usd.toFixed(4)}`,
  );
  for (const p of c.proposals) {
    if (p.failed !== undefined) {
      out.push(`      ✗ ${p.agent}: left the council: ${p.failed}`);
      continue;
    }
    const score = p.score !== undefined ? `score ${p.score.toFixed(2)}` : "not scored";
    const checks = p.checks
      ? ` · checks ${p.checks.passed ? "passed" : `failed (${p.checks.reasons.join("; ")})`}`
      : "";
    out.push(
      `      ${p.agent === c.winner ? "★" : "·"} ${p.agent}: ${score}${p.rank !== undefined ? ` · rank ${p.rank}` : ""}${checks}${p.git ? ` · ${p.git.branch}` : ""} · $${p.cost.usd.toFixed(4)}`,
    );
    if (p.summary) out.push(`          proposal: ${p.summary}`);
    for (const k of p.critiques) out.push(`          critique by ${k.by} (round ${k.round}): ${k.text}`);
    for (const r of p.revisions) out.push(`          revision (round ${r.round}): ${r.summary}`);
  }
  out.push(
    c.winner !== undefined
      ? `      winner ${c.winner}: ${c.rationale ?? ""}`
      : `      no winner${c.rationale ? `: ${c.rationale}` : ": no proposal left"}`,
  );
  const runs = c.runs.map(
    (r) =>
      `${r.step}${r.round !== undefined ? ` r${r.round}` : ""} ${r.agent} ${r.ok ? "✓" : "✗"} $${r.cost.usd.toFixed(4)}`,
  );
  if (runs.length) out.push(`      runs: ${runs.join(", ")}`);
  return out;
}

/** What the peer review decided on an attempt, and when it reviewed (issue 12). */
function peerReviewLine(p: NonNullable<CardState["attempts"][number]["peerReview"]>): string {
  const when =
    p.moment === "always"
      ? "after verification"
      : p.moment === "milestone"
        ? `at milestones: ${(p.milestones ?? []).join("; ")}`
        : "at the attempt's end (no milestone came)";
  const what = {
    escalate: "escalated (blocker)",
    clarify: "sent to a human to clarify",
    warn: "warning",
    continue: "passed",
  }[p.action];
  return `peer review ${when}: ${what}${p.message ? ` — ${p.message}` : ""}`;
}

/** The history as readable text. Pure. */
export function renderHistory(h: CardHistory): string {
  const s = h.state;
  const out: string[] = [];
  out.push(`${s.card.id} — ${s.card.title}`);
  out.push(`  backlog ${h.backlogId} · type ${s.card.type} · priority ${s.card.priority} · workflow ${h.workflowId}`);
  out.push(
    `  status ${s.status}${h.final ? " (ended)" : ""} · attempt ${s.attempt} · ${s.corrections} correction${s.corrections === 1 ? "" : "s"} · ` +
      `cost $${s.cost.usd.toFixed(4)} (${s.cost.inputTokens} in / ${s.cost.outputTokens} out tokens)${s.costAlert ? " · COST ALERT" : ""}`,
  );
  if (h.ownerProgress) out.push(`  owner of attempt ${s.attempt} at work: ${renderOwnerProgress(h.ownerProgress)}`);
  if (s.card.dependencies.length)
    out.push(
      `  depends on ${s.card.dependencies.join(", ")}${s.waitingFor.length ? ` (waiting for ${s.waitingFor.join(", ")})` : ""}`,
    );
  if (s.blockedBy) out.push(`  blocked by ${s.blockedBy.cardId} (${s.blockedBy.status})`);
  if (h.repository)
    out.push(`  repository ${h.repository.path ?? h.repository.url} · integration branch ${h.repository.branch}`);
  if (s.merge)
    out.push(
      `  merged: attempt ${s.merge.attempt} (${s.merge.branch}) into ${s.merge.integrationBranch} as ${s.merge.commit} at ${time(s.merge.at)}`,
    );

  out.push("", "Timeline");
  for (const t of h.timeline) out.push(`  ${time(t.at)}  ${t.status.padEnd(15)} ${formatDuration(t.durationMs)}`);

  out.push("", `Attempts (${s.attempts.length})`);
  if (s.attempts.length === 0) out.push("  none yet");
  for (const a of s.attempts) {
    const took = formatDuration(Date.parse(a.finishedAt) - Date.parse(a.startedAt));
    out.push(
      `  #${a.attempt} ${a.passed ? "PASSED" : "FAILED"} · ${time(a.startedAt)} → ${time(a.finishedAt)} (${took}) · $${a.cost.usd.toFixed(4)} · ${a.workflowId}`,
    );
    if (a.feedback) {
      const f = a.feedback;
      out.push(`    feedback of correction round ${f.round}:`);
      for (const r of f.reasons) out.push(`      - ${r}`);
      if (f.rootCause) out.push(`      root cause: ${f.rootCause}`);
      for (const sug of f.suggestions ?? []) out.push(`      suggestion: ${sug}`);
      if (f.humanContext) out.push(`      human context: ${f.humanContext}`);
    }
    if (a.summary) out.push(`    owner: ${a.summary}`);
    if (a.session?.id !== undefined || a.session?.resumedFrom !== undefined) {
      const sess = a.session;
      const parts = [`session ${sess.id ?? "(no id)"}${a.agentName ? ` of ${a.agentName}` : ""}`];
      if (sess.turns !== undefined) parts.push(`${sess.turns} turn${sess.turns === 1 ? "" : "s"}`);
      if (sess.resumedFrom !== undefined)
        parts.push(
          `resumed ${sess.resumedFrom}${sess.reusedTokens !== undefined ? `, reusing ${sess.reusedTokens} cached tokens` : ""}`,
        );
      out.push(`    ${parts.join(" · ")}`);
    }
    if (a.git)
      out.push(
        `    branch ${a.git.branch} · ${a.git.baseCommit.slice(0, 10)}..${a.git.headCommit.slice(0, 10)}${a.git.deleted?.length ? ` · deleted ${a.git.deleted.join(", ")}` : ""}`,
      );
    if (a.artifacts.length)
      out.push(`    artifacts: ${a.artifacts.join(", ")}${a.git ? " (changed files)" : ` (in ${a.workspace})`}`);
    for (const v of a.verdicts) {
      const score = v.score !== undefined ? ` score ${v.score.toFixed(1)}` : "";
      out.push(`    ${v.passed ? "✓" : "✗"} ${v.validator}${score} (${time(v.at)})`);
      for (const r of v.reasons) out.push(`        - ${r}`);
      // A peer review's details list the reviews, shown one per reviewer instead.
      for (const r of v.reviews ?? [])
        out.push(`        ${r.reviewer}: ${r.verdict}${r.comments.length ? ` — ${r.comments.join(" / ")}` : ""}`);
      if (v.details && !v.reviews) out.push(indent(v.details.trimEnd(), "        | "));
    }
    if (a.council) out.push(...renderCouncil(a.council));
    if (a.peerReview) out.push(`    ${peerReviewLine(a.peerReview)}`);
  }

  if (s.debugReports.length) {
    out.push("", `Debug reports (${s.debugReports.length})`);
    s.debugReports.forEach((d, i) => {
      out.push(`  ${i + 1}. root cause: ${d.rootCause}`);
      for (const r of d.repeatedReasons) out.push(`     repeated: ${r}`);
      for (const sug of d.suggestions) out.push(`     suggestion: ${sug}`);
    });
  }

  if (s.legacyCorrections.length) {
    out.push("", "Legacy corrections (from the backlog file)");
    for (const c of s.legacyCorrections) out.push(`  ${c.cardId} ${c.status} attempt ${c.attempt}`);
  }

  out.push("", `Audit log (${s.auditLog.length})`);
  if (s.auditLog.length === 0) out.push("  empty");
  for (const e of s.auditLog) out.push(`  ${time(e.at)}  ${e.action} by ${e.actor} — ${e.reason}`);
  return out.join("\n");
}
