/**
 * Peer review (issue 12, seed 003's review engine): other agents of the squad review an attempt and each
 * answers `{ verdict: approve | concern | blocker, comments[] }`. This module holds the answers' shape and
 * the seed's decision tree, exactly:
 * - any **blocker** → stop and escalate (AWAITING_HUMAN, the blocker named);
 * - **≥ 2 concerns** → pause and clarify (AWAITING_HUMAN with the concerns as the question; the human's
 *   `clarify` answer goes to the owner);
 * - **1 concern** → log a warning, continue;
 * - **all approve** → continue.
 * Pure: no Node, no zod (the workflow bundle imports it); the activity validates answers with zod.
 */
import type { Cost } from "./cost.js";

/** What one reviewer can answer. */
export const PEER_VERDICTS = ["approve", "concern", "blocker"] as const;
/** One reviewer's verdict. */
export type PeerVerdict = (typeof PEER_VERDICTS)[number];

/** Most words a reviewer's comments may hold, all comments together (issue 12: "≤ 200 words"). */
export const MAX_PEER_REVIEW_WORDS = 200;

/** Words in `comments`, all together: runs of non-whitespace characters. */
export function wordCount(comments: readonly string[]): number {
  return comments.reduce((n, c) => n + (c.match(/\S+/g)?.length ?? 0), 0);
}

/** One reviewer's validated answer on one attempt, with what the review cost (tokens, USD). */
export interface PeerReview {
  /** The reviewer: a key of `squad.agents`. */
  reviewer: string;
  verdict: PeerVerdict;
  /** At most `MAX_PEER_REVIEW_WORDS` words in total. */
  comments: string[];
  cost?: Cost;
}

/**
 * When an attempt was reviewed: `always` (the trigger `always`), `milestone` (`on_milestone`, the owner
 * emitted a milestone or request-review event), `end` (`on_milestone`, no such event came: reviewed at the
 * attempt's end instead).
 */
export type PeerReviewMoment = "always" | "milestone" | "end";

/** What the decision tree makes of the reviews; `escalate` and `clarify` send the card to a human at once. */
export type PeerReviewDecision =
  | { action: "escalate"; blockers: PeerReview[]; question: string }
  | { action: "clarify"; concerns: PeerReview[]; question: string }
  | { action: "warn"; concern: PeerReview; warning: string }
  | { action: "continue" };

function said(r: PeerReview): string {
  return r.comments.length > 0 ? r.comments.join(" / ") : "(no comment)";
}

/**
 * The seed's decision tree over every reviewer's answer (see the module docstring); blockers win over
 * concerns. The texts name the reviewers and quote their comments: `question` is the escalation reason a
 * human reads, `warning` goes into the attempt record.
 */
export function decidePeerReview(reviews: readonly PeerReview[]): PeerReviewDecision {
  const blockers = reviews.filter((r) => r.verdict === "blocker");
  if (blockers.length > 0) {
    return {
      action: "escalate",
      blockers,
      question:
        `peer review blocker: ${blockers.map((r) => `reviewer "${r.reviewer}": ${said(r)}`).join("; ")}` +
        " — approve to accept the work anyway, reject, or clarify (your answer goes to the owner)",
    };
  }
  const concerns = reviews.filter((r) => r.verdict === "concern");
  if (concerns.length >= 2) {
    return {
      action: "clarify",
      concerns,
      question:
        `peer review concerns (${concerns.length} reviewers): ${concerns.map((r) => `reviewer "${r.reviewer}": ${said(r)}`).join("; ")}` +
        " — clarify to answer them (your answer goes to the owner), approve, or reject",
    };
  }
  if (concerns.length === 1) {
    const concern = concerns[0]!;
    return {
      action: "warn",
      concern,
      warning: `peer review concern of reviewer "${concern.reviewer}": ${said(concern)}`,
    };
  }
  return { action: "continue" };
}

/**
 * The `peer_review` verdict's fields for the reviews: it fails on a blocker or ≥ 2 concerns (one reason per
 * such reviewer, actionable for the owner's correction), passes otherwise; `details` lists every answer.
 */
export function peerReviewOutcome(reviews: readonly PeerReview[]): {
  passed: boolean;
  reasons: string[];
  details: string;
} {
  const decision = decidePeerReview(reviews);
  const details = reviews
    .map((r) => `${r.reviewer}: ${r.verdict}${r.comments.length ? ` — ${r.comments.join(" / ")}` : ""}`)
    .join("\n");
  if (decision.action === "escalate") {
    return {
      passed: false,
      reasons: decision.blockers.map((r) => `reviewer "${r.reviewer}" found a blocker: ${said(r)}`),
      details,
    };
  }
  if (decision.action === "clarify") {
    return {
      passed: false,
      reasons: decision.concerns.map((r) => `reviewer "${r.reviewer}" has a concern: ${said(r)}`),
      details,
    };
  }
  return { passed: true, reasons: [], details };
}
