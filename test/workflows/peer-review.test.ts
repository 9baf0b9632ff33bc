/**
 * Peer review in the card workflow against the real Temporal server (issue 12): each rule of seed 003's
 * decision tree drives the card where the seed says, and `on_milestone` reviews at the owner's events.
 */
import { describe, expect, it } from "vitest";
import type { PeerReviewInput } from "../../src/activities/index.js";
import type { CardOutcome, OwnerInput } from "../../src/domain/index.js";
import { humanReviewUpdate } from "../../src/workflows/card.js";
import { waitForStatus } from "./fakes.js";
import { say, startPeerReviewed } from "./peer-review.js";

describe("peer review in the card workflow", () => {
  it("all approve: runs beside the judge and QA after verification, records every verdict, and the card is DONE", async () => {
    const { worker, handle, calls } = await startPeerReviewed({});
    const outcome: CardOutcome = await worker.runUntil(handle.result());
    expect(outcome.status).toBe("DONE");
    const review = calls.find((c) => c.activity === "reviewPeers")!;
    expect(calls.findIndex((c) => c.activity === "verifyArtifacts")).toBeLessThan(calls.indexOf(review));
    expect((review.input as PeerReviewInput).reviewers.map((r) => r.name)).toEqual(["codex", "gemini"]);
    expect((review.input as PeerReviewInput).moment).toBe("always");
    const attempt = outcome.state!.attempts[0]!;
    expect(attempt.verdicts.map((v) => v.validator)).toEqual(["verification", "llm_judge", "qa", "peer_review"]);
    expect(attempt.verdicts[3]!.reviews!.map((r) => [r.reviewer, r.verdict])).toEqual([
      ["codex", "approve"],
      ["gemini", "approve"],
    ]);
    expect(attempt.peerReview).toEqual({ moment: "always", action: "continue" });
    // Each reviewer's cost counts in the card's cost (owner 0.01 + 2 reviewers × 0.001).
    expect(outcome.cost.usd).toBeCloseTo(0.012, 6);
  });

  it("one concern: logs a warning in the attempt record and the card goes on to DONE", async () => {
    const { worker, handle } = await startPeerReviewed({
      peer: [[say("codex", "concern", "no rate limit on /checkout"), say("gemini", "approve")]],
    });
    const outcome: CardOutcome = await worker.runUntil(handle.result());
    expect(outcome.status).toBe("DONE");
    expect(outcome.attempt).toBe(1);
    expect(outcome.state!.attempts[0]!.peerReview).toEqual({
      moment: "always",
      action: "warn",
      message: 'peer review concern of reviewer "codex": no rate limit on /checkout',
    });
    expect(outcome.state!.attempts[0]!.passed).toBe(true);
  });

  it("a blocker escalates at once (no correction), naming it; a human reject ends the card REJECTED", async () => {
    const { worker, handle, calls } = await startPeerReviewed({
      peer: [[say("codex", "approve"), say("gemini", "blocker", "drops the orders table")]],
    });
    await worker.runUntil(async () => {
      const state = await waitForStatus(handle, "AWAITING_HUMAN");
      expect(state.corrections).toBe(0);
      expect(state.attempts[0]!.peerReview!.action).toBe("escalate");
      expect(state.auditLog.at(-1)).toMatchObject({
        action: "escalated",
        reason: expect.stringContaining('peer review blocker: reviewer "gemini": drops the orders table'),
      });
      await handle.executeUpdate(humanReviewUpdate, {
        args: [{ decision: "reject", reviewer: "ana", reason: "data loss" }],
      });
      expect((await waitForStatus(handle, "REJECTED")).settled).toBe(true);
    });
    expect(calls.filter((c) => c.activity === "runOwner")).toHaveLength(1);
  });

  it("two concerns: AWAITING_HUMAN with the concerns as the question; the clarify answer reaches the owner's next attempt", async () => {
    const { worker, handle, calls } = await startPeerReviewed({
      peer: [
        [say("codex", "concern", "which currency?"), say("gemini", "concern", "rounding rule unclear")],
        [say("codex", "approve"), say("gemini", "approve")],
      ],
    });
    await worker.runUntil(async () => {
      const state = await waitForStatus(handle, "AWAITING_HUMAN");
      expect(state.corrections).toBe(0);
      const reason = state.auditLog.at(-1)!.reason;
      expect(reason).toContain("peer review concerns (2 reviewers)");
      expect(reason).toContain('reviewer "codex": which currency?');
      expect(reason).toContain('reviewer "gemini": rounding rule unclear');
      await handle.executeUpdate(humanReviewUpdate, {
        args: [
          { decision: "clarify", reviewer: "ana", reason: "answering", context: "EUR only; round half up to cents" },
        ],
      });
      const outcome: CardOutcome = await handle.result();
      expect(outcome.status).toBe("DONE");
      expect(outcome.attempt).toBe(2);
      expect(outcome.state!.attempts[1]!.peerReview!.action).toBe("continue");
    });
    const owner2 = calls.find((c) => c.activity === "runOwner" && c.attempt === 2)!.input as OwnerInput;
    expect(owner2.feedback!.humanContext).toBe("EUR only; round half up to cents");
    expect(owner2.feedback!.reasons).toEqual([
      'peer_review: reviewer "codex" has a concern: which currency?',
      'peer_review: reviewer "gemini" has a concern: rounding rule unclear',
    ]);
  });

  it("after clarifying peer concerns the card keeps its correction rounds: a later QA failure is corrected, not escalated", async () => {
    const { worker, handle } = await startPeerReviewed({
      peer: [
        [say("codex", "concern", "which currency?"), say("gemini", "concern", "rounding?")],
        [say("codex", "approve"), say("gemini", "approve")],
      ],
      qa: ["pass", ['check "unit tests" failed: exit 1'], "pass"],
    });
    const outcome: CardOutcome = await worker.runUntil(async () => {
      await waitForStatus(handle, "AWAITING_HUMAN");
      await handle.executeUpdate(humanReviewUpdate, {
        args: [{ decision: "clarify", reviewer: "ana", reason: "answering", context: "EUR, half up" }],
      });
      return handle.result();
    });
    expect(outcome.status).toBe("DONE");
    expect(outcome.attempt).toBe(3);
    expect(outcome.state!.auditLog.filter((e) => e.action === "escalated")).toHaveLength(1);
    // The human's context stays with every later correction round.
    expect(outcome.state!.attempts[2]!.feedback).toMatchObject({
      humanContext: "EUR, half up",
      reasons: ['qa: check "unit tests" failed: exit 1'],
    });
  });

  it("a review that cannot run (an invalid answer) is a failed peer_review verdict: the card is corrected, not escalated", async () => {
    const { worker, handle, calls } = await startPeerReviewed({
      peer: ["failure", [say("codex", "approve"), say("gemini", "approve")]],
    });
    const outcome: CardOutcome = await worker.runUntil(handle.result());
    expect(outcome.status).toBe("DONE");
    expect(outcome.attempt).toBe(2);
    const first = outcome.state!.attempts[0]!;
    expect(first.verdicts.find((v) => v.validator === "peer_review")).toMatchObject({
      passed: false,
      reasons: [
        'validator could not run: peer reviewer "codex" of card C1 gave an invalid answer: verdict: invalid option',
      ],
    });
    expect(first.peerReview).toBeUndefined();
    expect(outcome.state!.auditLog.map((e) => e.action)).not.toContain("escalated");
    expect(
      (calls.find((c) => c.activity === "runOwner" && c.attempt === 2)!.input as OwnerInput).feedback!.reasons[0],
    ).toMatch(/^peer_review: validator could not run/);
  });

  it("on_milestone: reviews at the owner's milestone events, and at the attempt's end when none came (said in the record)", async () => {
    const withEvents = await startPeerReviewed(
      {
        events: [
          { kind: "milestone", name: "schema written" },
          { kind: "request_review", name: "API ready" },
        ],
      },
      "on_milestone",
    );
    const a: CardOutcome = await withEvents.worker.runUntil(withEvents.handle.result());
    expect(a.state!.attempts[0]!.peerReview).toEqual({
      moment: "milestone",
      action: "continue",
      milestones: ["schema written", "API ready"],
    });
    expect((withEvents.calls.find((c) => c.activity === "reviewPeers")!.input as PeerReviewInput).milestones).toEqual([
      "schema written",
      "API ready",
    ]);

    const without = await startPeerReviewed({}, "on_milestone");
    const b: CardOutcome = await without.worker.runUntil(without.handle.result());
    expect(b.state!.attempts[0]!.peerReview).toEqual({ moment: "end", action: "continue" });
  });
});
