/**
 * Reviews at the owner's events and the owner's own blocker, in the card workflow against the real
 * Temporal server (issue 12, seed 003's event-based reviews). The fake owner signals its events the way
 * the owner activity does (src/activities/owner-events.ts) and is held behind a gate until the test has
 * seen the review it needs: nothing races a fast owner.
 */
import { describe, expect, it } from "vitest";
import type { PeerReviewInput } from "../../src/activities/index.js";
import type { CardOutcome, OwnerInput } from "../../src/domain/index.js";
import { humanReviewUpdate } from "../../src/workflows/card.js";
import { until } from "../helpers/until.js";
import { gate, waitForStatus, type CardScript } from "./fakes.js";
import { say, startPeerReviewed } from "./peer-review.js";

const start = (script: CardScript, trigger: "always" | "on_milestone" = "on_milestone") =>
  startPeerReviewed(script, trigger, "peer-events");

describe("peer review at the owner's events (on_milestone)", () => {
  it("a blocker at a milestone stops the running owner and escalates naming it; nothing is validated", async () => {
    const owner = gate(); // never released: only the review's blocker ends the owner
    const { worker, handle, calls, reviewed } = await start({
      hold: owner.hold,
      signal: { before: [{ kind: "milestone", name: "schema written" }] },
      peerByCall: [[say("codex", "approve"), say("gemini", "blocker", "drops the orders table")]],
    });
    await worker.runUntil(async () => {
      const state = await waitForStatus(handle, "AWAITING_HUMAN");
      expect(state.corrections).toBe(0);
      const attempt = state.attempts[0]!;
      expect(attempt.summary).toBe('owner stopped at its milestone "schema written": peer review blocker');
      expect(attempt.verdicts.map((v) => v.validator)).toEqual(["peer_review"]);
      expect(attempt.peerReview).toMatchObject({
        moment: "milestone",
        action: "escalate",
        milestones: ["schema written"],
      });
      expect(state.auditLog.at(-1)).toMatchObject({
        action: "escalated",
        reason: expect.stringContaining('peer review blocker: reviewer "gemini": drops the orders table'),
      });
      await handle.executeUpdate(humanReviewUpdate, {
        args: [{ decision: "reject", reviewer: "ana", reason: "data loss" }],
      });
      await waitForStatus(handle, "REJECTED");
    });
    owner.release();
    // The owner activity was cancelled (its agent killed), and only the snapshot was reviewed.
    expect(calls.map((c) => c.activity)).toContain("runOwnerCancelled");
    expect(calls.map((c) => c.activity)).not.toContain("verifyArtifacts");
    const [review] = (await reviewed(1)).map((c) => c.input as PeerReviewInput);
    expect(review).toMatchObject({
      moment: "milestone",
      milestones: ["schema written"],
      workspace: expect.stringMatching(/\/C1\/attempt-1\.at-event-1$/),
      artifacts: ["snapshot-1.md"],
    });
    expect((calls.find((c) => c.activity === "runOwner")!.input as OwnerInput).reviewAtEvents).toBe(true);
  });

  it("two concerns at a milestone: the owner goes on (reviewed while it ran), then the card awaits a human with the concerns", async () => {
    const owner = gate();
    const { worker, handle, calls, reviewed } = await start({
      hold: owner.hold,
      signal: { before: [{ kind: "request_review", name: "API ready" }] },
      peerByCall: [[say("codex", "concern", "which currency?"), say("gemini", "concern", "rounding unclear")]],
    });
    await worker.runUntil(async () => {
      // The review ran while the owner was held mid-run.
      await reviewed(1);
      expect(calls.filter((c) => c.activity === "runOwnerCancelled")).toHaveLength(0);
      owner.release();
      const state = await waitForStatus(handle, "AWAITING_HUMAN");
      const attempt = state.attempts[0]!;
      expect(attempt.verdicts.map((v) => v.validator)).toEqual(["verification", "llm_judge", "qa", "peer_review"]);
      expect(attempt.peerReview).toMatchObject({ moment: "milestone", action: "clarify", milestones: ["API ready"] });
      expect(state.auditLog.at(-1)!.reason).toContain("peer review concerns (2 reviewers)");
    });
    // Reviewed at the event only: no second review at the end.
    expect(calls.filter((c) => c.activity === "reviewPeers")).toHaveLength(1);
  });

  it("one review in flight at a time: events that come meanwhile wait, and only the latest snapshot is reviewed next", async () => {
    const owner = gate();
    const review = gate();
    const { worker, handle, calls, reviewed } = await start({
      hold: owner.hold,
      peerHold: review.hold,
      signal: {
        before: [{ kind: "milestone", name: "m1" }],
        after: [
          { kind: "milestone", name: "m2" },
          { kind: "milestone", name: "m3" },
        ],
      },
      peerByCall: [
        [say("codex", "concern", "a"), say("gemini", "concern", "b")],
        [say("codex", "approve"), say("gemini", "concern", "naming")],
      ],
    });
    const outcome: CardOutcome = await worker.runUntil(async () => {
      await reviewed(1);
      owner.release(); // m2 and m3 come while the first review is still in flight
      await until("m2 and m3 signalled", async () => calls.find((c) => c.activity === "ownerSignalled"));
      review.release();
      return handle.result();
    });
    const inputs = (await reviewed(2)).map((c) => c.input as PeerReviewInput);
    expect(inputs).toHaveLength(2);
    expect(inputs[1]!.milestones).toEqual(["m1", "m3"]);
    expect(inputs[1]!.workspace).toMatch(/attempt-1\.at-event-3$/);
    // The latest review is the attempt's: one concern → a warning, and the card is DONE.
    expect(outcome.status).toBe("DONE");
    expect(outcome.state!.attempts[0]!.peerReview).toMatchObject({
      moment: "milestone",
      action: "warn",
      milestones: ["m1", "m3"],
    });
    // Both reviews count: owner 0.01 + 2 × (2 reviewers × 0.001).
    expect(outcome.cost.usd).toBeCloseTo(0.014, 6);
  });

  it("a review at an event counts in the attempt's cost even when verification then fails", async () => {
    const { worker, handle } = await start({
      signal: { before: [{ kind: "milestone", name: "m1" }] },
      verification: [["docs/api.md: no heading"], "pass"],
    });
    const outcome: CardOutcome = await worker.runUntil(handle.result());
    expect(outcome.status).toBe("DONE");
    const first = outcome.state!.attempts[0]!;
    expect(first.verdicts.map((v) => v.validator)).toEqual(["verification"]);
    // Owner 0.01 + the milestone's review by 2 reviewers × 0.001.
    expect(first.cost.usd).toBeCloseTo(0.012, 6);
  });

  it("no event came: reviewed at the attempt's end (the fallback)", async () => {
    const { worker, handle, calls } = await start({ signal: {} });
    const outcome: CardOutcome = await worker.runUntil(handle.result());
    expect(outcome.state!.attempts[0]!.peerReview).toEqual({ moment: "end", action: "continue" });
    expect((calls.find((c) => c.activity === "reviewPeers")!.input as PeerReviewInput).moment).toBe("end");
  });
});

describe("the owner's own blocker event", () => {
  it("ends the attempt escalated at once with the agent's text, unvalidated; a clarify answer reaches the next attempt", async () => {
    const { worker, handle, calls } = await start(
      { events: [{ kind: "blocker", name: "STRIPE_KEY is not set" }], owner: ["ok"] },
      "always",
    );
    await worker.runUntil(async () => {
      const state = await waitForStatus(handle, "AWAITING_HUMAN");
      expect(state.corrections).toBe(0);
      expect(state.attempts[0]!.ownerBlocker).toBe("STRIPE_KEY is not set");
      expect(state.attempts[0]!.verdicts).toMatchObject([
        { validator: "owner", passed: false, reasons: ["the owner agent reported a blocker: STRIPE_KEY is not set"] },
      ]);
      expect(state.auditLog.at(-1)!.reason).toMatch(/^owner blocker: the agent reported "STRIPE_KEY is not set"/);
      expect(calls.map((c) => c.activity)).not.toContain("verifyArtifacts");
      await handle.executeUpdate(humanReviewUpdate, {
        args: [{ decision: "clarify", reviewer: "ana", reason: "answering", context: "use the test key in .env" }],
      });
      await until("attempt 2 of C1", async () => calls.find((c) => c.activity === "runOwner" && c.attempt === 2));
    });
    const owner2 = calls.find((c) => c.activity === "runOwner" && c.attempt === 2)!.input as OwnerInput;
    expect(owner2.feedback!.humanContext).toBe("use the test key in .env");
  });
});
