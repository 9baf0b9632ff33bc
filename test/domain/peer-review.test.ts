/**
 * Peer review's decision tree (seed 003, issue 12) and its squad config: reviewers are known agents of a
 * reviewing kind, never the owner.
 */
import { describe, expect, it } from "vitest";
import { decidePeerReview, peerReviewOutcome, wordCount, type PeerReview } from "../../src/domain/index.js";
import { FILE, issuesOf, plan, validBacklog, type RawBacklog } from "./fixtures.js";

const approve = (reviewer: string): PeerReview => ({ reviewer, verdict: "approve", comments: [] });
const concern = (reviewer: string, ...comments: string[]): PeerReview => ({ reviewer, verdict: "concern", comments });
const blocker = (reviewer: string, ...comments: string[]): PeerReview => ({ reviewer, verdict: "blocker", comments });

describe("the peer-review decision tree", () => {
  it("escalates at once on any blocker, naming it, even beside approvals and concerns", () => {
    const d = decidePeerReview([
      approve("a"),
      blocker("b", "drops the users table"),
      concern("c", "naming"),
      concern("d", "tests"),
    ]);
    expect(d.action).toBe("escalate");
    if (d.action !== "escalate") return;
    expect(d.blockers.map((r) => r.reviewer)).toEqual(["b"]);
    expect(d.question).toContain('peer review blocker: reviewer "b": drops the users table');
  });

  it("asks the human to clarify on two or more concerns, with the concerns as the question", () => {
    const d = decidePeerReview([
      concern("a", "no rollback section"),
      approve("b"),
      concern("c", "unclear limits", "no metrics"),
    ]);
    expect(d.action).toBe("clarify");
    if (d.action !== "clarify") return;
    expect(d.concerns.map((r) => r.reviewer)).toEqual(["a", "c"]);
    expect(d.question).toContain("2 reviewers");
    expect(d.question).toContain('reviewer "a": no rollback section');
    expect(d.question).toContain('reviewer "c": unclear limits / no metrics');
  });

  it("logs a warning and goes on with exactly one concern", () => {
    const d = decidePeerReview([approve("a"), concern("b", "consider a cache")]);
    expect(d).toMatchObject({ action: "warn", warning: 'peer review concern of reviewer "b": consider a cache' });
  });

  it("goes on when every reviewer approves", () => {
    expect(decidePeerReview([approve("a"), approve("b")])).toEqual({ action: "continue" });
  });

  it("makes a failing verdict with one actionable reason per blocker or concern, and a passing one otherwise", () => {
    expect(peerReviewOutcome([blocker("b", "x"), concern("c", "y")])).toMatchObject({
      passed: false,
      reasons: ['reviewer "b" found a blocker: x'],
    });
    expect(peerReviewOutcome([concern("a", "x"), concern("c", "y")])).toMatchObject({
      passed: false,
      reasons: ['reviewer "a" has a concern: x', 'reviewer "c" has a concern: y'],
    });
    const warned = peerReviewOutcome([concern("a", "x"), approve("b")]);
    expect(warned).toMatchObject({ passed: true, reasons: [] });
    expect(warned.details).toBe("a: concern — x\nb: approve");
  });

  it("counts the words of all comments together", () => {
    expect(wordCount(["two words", "  three   more words "])).toBe(5);
    expect(wordCount([])).toBe(0);
  });
});

/** The valid backlog with agents `writer` (owner of SPEC) and `reviewer`, and SPEC peer-reviewed by `reviewers`. */
function withPeerReview(reviewers: unknown, more: Record<string, unknown> = {}): RawBacklog {
  const b = validBacklog();
  b.squad!.agents.reviewer = { kind: "command", command: "node", args: ["./examples/agents/review.mjs"] };
  b.squad!.card_types.SPEC!.peer_review = { reviewers, ...more };
  return b;
}

describe("peer_review in the squad config", () => {
  it('resolves the reviewers into the card plan, trigger "always" by default', () => {
    const p = plan(withPeerReview(["reviewer"]));
    expect(p.cards[0]!.typeConfig.peer_review).toEqual({ reviewers: ["reviewer"], trigger: "always" });
    expect(p.cards[0]!.peerReviewers).toEqual([
      { name: "reviewer", agent: expect.objectContaining({ kind: "command", command: "node" }) },
    ]);
    expect(
      plan(withPeerReview(["reviewer"], { trigger: "on_milestone" })).cards[0]!.typeConfig.peer_review!.trigger,
    ).toBe("on_milestone");
  });

  it("refuses a reviewer that is the owner of the card type, naming file, type and field", () => {
    const issues = issuesOf(withPeerReview(["reviewer", "writer"]));
    expect(issues).toEqual([
      {
        file: FILE,
        field: "squad.card_types.SPEC.peer_review.reviewers[1]",
        message:
          'reviewer "writer" is an owner of card type SPEC: a peer reviewer must be another agent than the owner',
      },
    ]);
  });

  it("refuses a reviewer that owns one card of the type, naming the card", () => {
    const b = withPeerReview(["reviewer"]);
    b.cards[1] = { ...b.cards[1], owner: "reviewer" };
    const issues = issuesOf(b);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ cardId: "SPEC-002", field: "squad.card_types.SPEC.peer_review.reviewers[0]" });
    expect(issues[0]!.message).toContain("another agent than the owner");
  });

  it("accepts CLI agents as reviewers (they review read-only)", () => {
    for (const kind of ["claude-code", "codex", "gemini"]) {
      const b = withPeerReview(["cli"]);
      b.squad!.agents.cli = { kind };
      expect(
        plan(b)
          .cards.find((c) => c.card.type === "SPEC")!
          .peerReviewers!.map((r) => [r.name, r.agent.kind]),
      ).toEqual([["cli", kind]]);
    }
  });

  it("refuses unknown reviewers, duplicates, unknown triggers and fields", () => {
    expect(issuesOf(withPeerReview(["ghost"]))[0]!.message).toBe(
      'unknown reviewer agent "ghost" (agents: writer, reviewer)',
    );
    expect(issuesOf(withPeerReview(["reviewer", "reviewer"]))[0]!.message).toContain("a reviewer is listed twice");
    expect(issuesOf(withPeerReview([]))[0]!.field).toBe("squad.card_types.SPEC.peer_review.reviewers");
    expect(issuesOf(withPeerReview(["reviewer"], { trigger: "sometimes" }))[0]!.field).toBe(
      "squad.card_types.SPEC.peer_review.trigger",
    );
    expect(issuesOf(withPeerReview(["reviewer"], { reviewer: "x" }))[0]!.field).toContain(
      "squad.card_types.SPEC.peer_review",
    );
  });
});
