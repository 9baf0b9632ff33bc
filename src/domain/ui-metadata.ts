/**
 * What the Temporal UI shows of squadflow's workflows and activities (Temporal "user metadata"): the static
 * summary and details a workflow is started with, the summary of each scheduled activity, and a card's
 * current details (markdown the UI reads through the built-in `__temporal_workflow_metadata` query) — issue
 * 13 "Where the Temporal UI fits": the Temporal UI reads like the portal. A backlog's current details
 * summarize its cards. Pure functions, no Temporal API:
 * the workflows and the client pass the strings on.
 *
 * Summaries are single-line Temporal markdown; the server refuses a summary over 400 bytes (details:
 * 20 KB by default), so free text (titles, reasons) is cut short here.
 */
import type { CardSpec, Verdict } from "./attempt.js";
import type { CardState } from "./card-state.js";
import type { RepositoryTarget } from "./repository.js";
import type { JudgeConfig, QaCheck } from "./squad.js";

/** Longest title or reason kept in a summary line, characters. */
const MAX_TEXT = 120;

/** `text` on one line (newlines folded), at most `max` characters (an ellipsis marks a cut). */
function oneLine(text: string, max = MAX_TEXT): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** A card workflow's static summary: `BE-002 · Ledger rounding · BACKEND`. */
export function cardSummary(card: Pick<CardSpec, "id" | "title" | "type">): string {
  return `${card.id} · ${oneLine(card.title)} · ${card.type}`;
}

/** A correction workflow's static summary: `BE-002 · Ledger rounding · BACKEND · correction 2`. */
export function correctionSummary(card: Pick<CardSpec, "id" | "title" | "type">, round: number): string {
  return `${cardSummary(card)} · correction ${round}`;
}

/**
 * A card workflow's static details (markdown): priority, owner agent, budget (USD), dependencies — what
 * does not change while the card runs. The description and acceptance criteria are not repeated: they are
 * in the workflow's input already, and these details are stored in the backlog's history once per card.
 */
export function cardDetails(
  card: Pick<CardSpec, "priority" | "dependencies">,
  owner: { agentName: string; budgetUsd?: number },
): string {
  return [
    `**Priority:** ${card.priority} · **Owner:** ${owner.agentName}${owner.budgetUsd !== undefined ? ` · **Budget:** $${owner.budgetUsd}` : ""}`,
    `**Dependencies:** ${card.dependencies.length > 0 ? card.dependencies.join(", ") : "none"}`,
  ].join("\n");
}

/** Where a backlog delivers: the repository and its integration branch, or isolated workspaces. */
function deliversInto(repository: RepositoryTarget | undefined): string {
  if (!repository) return "isolated workspaces";
  return `${oneLine(repository.path ?? repository.url ?? "repository")} → ${repository.integrationBranch}`;
}

/** A backlog workflow's static summary: `shop · 12 cards · /srv/shop → squadflow/shop`. */
export function backlogSummary(backlogId: string, cardCount: number, repository: RepositoryTarget | undefined): string {
  return `${backlogId} · ${cardCount} ${cardCount === 1 ? "card" : "cards"} · ${deliversInto(repository)}`;
}

/** A backlog shard workflow's static summary: `shop · page 2 · 500 cards` (pages numbered from 1). */
export function shardSummary(backlogId: string, pageIndex: number, cardCount: number): string {
  return `${backlogId} · page ${pageIndex + 1} · ${cardCount} ${cardCount === 1 ? "card" : "cards"}`;
}

/** The owner activity's summary: `owner claude-code, attempt 2`. */
export function ownerActivitySummary(agentName: string, attempt: number): string {
  return `owner ${agentName}, attempt ${attempt}`;
}

/** The verification activity's summary. */
export const VERIFY_ACTIVITY_SUMMARY = "verify artifacts";

/** The QA activity's summary: `QA: unit tests, lint` (the check names), or `QA: no checks`. */
export function qaActivitySummary(checks: readonly Pick<QaCheck, "name">[]): string {
  return `QA: ${checks.length > 0 ? oneLine(checks.map((c) => c.name).join(", ")) : "no checks"}`;
}

/** The LLM-judge activity's summary: `judge rubric`, `judge llm claude-sonnet-4-5`, `… + panel of 2`. */
export function judgeActivitySummary(judge: JudgeConfig): string {
  if (judge.kind === "rubric") return `judge rubric (${judge.criteria.length} criteria)`;
  const panel = judge.panel ? ` + panel of ${judge.panel.models.length}` : "";
  return `judge llm ${oneLine(judge.model)}${panel}`;
}

/** The peer-review activity's summary: `peer review by codex, gemini` (issue 12). */
export function peerReviewActivitySummary(reviewers: readonly string[]): string {
  return `peer review by ${oneLine(reviewers.join(", "))}`;
}

/** The debugging agent's summary: `debug BE-002 before attempt 3`. */
export function debugActivitySummary(cardId: string, attempt: number): string {
  return `debug ${cardId} before attempt ${attempt}`;
}

/** The merge activity's summary: `merge BE-002 attempt 2 into squadflow/shop`. */
export function mergeActivitySummary(cardId: string, attempt: number, integrationBranch: string): string {
  return `merge ${cardId} attempt ${attempt} into ${integrationBranch}`;
}

/** What a card waits for now, by status (one line), or undefined when it is working or has ended. */
function waitsFor(state: Pick<CardState, "status" | "waitingFor" | "blockedBy" | "paused">): string | undefined {
  if (state.paused && !["DONE", "CANCELLED"].includes(state.status)) return "the backlog to be resumed (paused)";
  switch (state.status) {
    case "TODO":
      return state.waitingFor.length > 0 ? `dependencies ${state.waitingFor.join(", ")}` : undefined;
    case "IN_PROGRESS":
    case "CORRECTING":
      return "the owner agent";
    case "VALIDATING":
      return "the validators";
    case "AWAITING_HUMAN":
      return "a human review (approve, reject or clarify)";
    case "REJECTED":
      return "a correction, or `retry` / `skip`";
    case "BLOCKED":
      return `${state.blockedBy ? `dependency ${state.blockedBy.cardId} (${state.blockedBy.status})` : "a dependency"} — or \`retry\` / \`skip\``;
    case "APPROVED":
      return "the merge into the integration branch";
    default:
      return undefined;
  }
}

/** One verdict, short: `llm_judge 6.5 ✗ — criterion "Tests" not met`. */
function verdictLine(v: Verdict): string {
  const score = v.score !== undefined ? ` ${v.score}` : "";
  const reason = v.passed ? "" : v.reasons[0] ? ` — ${oneLine(v.reasons[0])}` : "";
  return `${v.validator}${score} ${v.passed ? "✓" : "✗"}${reason}`;
}

/**
 * A card's current details (markdown, several lines): status, attempt and corrections, the last attempt's
 * verdicts, what the card waits for, cost (USD). Built from the card's state each time it changes.
 */
export function cardCurrentDetails(
  state: Pick<
    CardState,
    "status" | "attempt" | "corrections" | "attempts" | "waitingFor" | "blockedBy" | "paused" | "cost"
  >,
): string {
  const lines = [
    `**Status:** ${state.status} · attempt ${state.attempt} · ${state.corrections} ${state.corrections === 1 ? "correction" : "corrections"}`,
  ];
  const last = state.attempts[state.attempts.length - 1];
  if (last) {
    const verdicts = last.verdicts.length > 0 ? last.verdicts.map(verdictLine).join("; ") : "none";
    lines.push(`**Last verdict (attempt ${last.attempt}):** ${last.passed ? "passed" : "failed"} — ${verdicts}`);
  }
  const waiting = waitsFor(state);
  if (waiting) lines.push(`**Waits for:** ${waiting}`);
  lines.push(`**Cost:** $${state.cost.usd}`);
  return lines.join("\n");
}

/** A correction round's current details (markdown): round, attempt, status. */
export function correctionCurrentDetails(round: number, attempt: number, status: string): string {
  return `**Status:** ${status} · correction ${round} · attempt ${attempt}`;
}

/** A backlog workflow's static details (markdown): its file, budget (USD) and pages. */
export function backlogDetails(file: string, budgetUsd: number | undefined, pages: number | undefined): string {
  return [
    `**Backlog file:** ${oneLine(file, 300)}`,
    `**Budget:** ${budgetUsd !== undefined ? `$${budgetUsd}` : "unlimited"}`,
    ...(pages !== undefined ? [`**Pages:** ${pages} (one backlog shard workflow each)`] : []),
  ].join("\n");
}

/**
 * A backlog's (or shard's) current details (markdown): its cards by final status (`counts`, as
 * `backlog.finished` tallies them: RUNNING = not ended, at rest included), what the ended ones cost (USD),
 * and whether it is paused or out of budget.
 */
export function backlogCurrentDetails(
  tally: { counts: Record<string, number>; costUsd: number },
  flags: { paused: boolean; budgetExhausted: boolean },
): string {
  const total = Object.values(tally.counts).reduce((sum, n) => sum + n, 0);
  const byStatus = Object.entries(tally.counts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, n]) => `${status} ${n}`)
    .join(", ");
  const lines = [
    `**Cards:** ${total}${byStatus ? ` — ${byStatus}` : ""}`,
    `**Cost of ended cards:** $${tally.costUsd}`,
  ];
  if (flags.paused) lines.push("**Paused:** no new owner or validator run starts until `resume`");
  if (flags.budgetExhausted) lines.push("**Budget used up:** cards escalate instead of starting new runs");
  return lines.join("\n");
}
