/** The card lifecycle table of PRODUCT.md "Card lifecycle". */
import { describe, expect, it } from "vitest";
import {
  CARD_STATUSES,
  FINAL_STATUSES,
  IllegalTransitionError,
  MAX_CORRECTIONS,
  SETTLED_STATUSES,
  SKIPPABLE_STATUSES,
  acceptsDecision,
  afterFailedAttempt,
  isCardIdle,
  canTransition,
  transition,
  type CardStatus,
} from "../../src/domain/index.js";

const ALLOWED: [CardStatus, CardStatus][] = [
  ["TODO", "IN_PROGRESS"],
  ["IN_PROGRESS", "VALIDATING"],
  ["IN_PROGRESS", "REJECTED"], // owner execution failed
  ["VALIDATING", "APPROVED"],
  ["VALIDATING", "REJECTED"],
  ["APPROVED", "DONE"],
  ["APPROVED", "REJECTED"], // its merge into the integration branch conflicted
  ["REJECTED", "CORRECTING"],
  ["REJECTED", "ESCALATED"],
  ["CORRECTING", "APPROVED"],
  ["CORRECTING", "REJECTED"],
  ["ESCALATED", "AWAITING_HUMAN"],
  ["AWAITING_HUMAN", "APPROVED"],
  ["AWAITING_HUMAN", "REJECTED"],
  ["AWAITING_HUMAN", "CORRECTING"],
  ["TODO", "BLOCKED"], // a dependency ended other than DONE
  ["BLOCKED", "TODO"], // the dependency was retried, or the card itself
  ["REJECTED", "IN_PROGRESS"], // retry: a fresh attempt
  ["TODO", "DONE"], // skip
  ["BLOCKED", "DONE"], // skip
  ["REJECTED", "DONE"], // skip
  ["AWAITING_HUMAN", "DONE"], // skip
  ["TODO", "ESCALATED"], // budget gate before the first owner run
  ["VALIDATING", "ESCALATED"], // budget gate before the judge
  ["FAILED", "TODO"], // retry of a card whose run failed: a new run of its workflow
  ["FAILED", "DONE"], // skip of it
];

const FORBIDDEN: [CardStatus, CardStatus][] = [
  ["TODO", "VALIDATING"],
  ["TODO", "APPROVED"],
  ["TODO", "TODO"],
  ["IN_PROGRESS", "APPROVED"],
  ["IN_PROGRESS", "DONE"],
  ["VALIDATING", "DONE"],
  ["VALIDATING", "CORRECTING"],
  ["APPROVED", "TODO"],
  ["REJECTED", "APPROVED"],
  ["REJECTED", "AWAITING_HUMAN"],
  ["CORRECTING", "ESCALATED"],
  ["CORRECTING", "DONE"],
  ["ESCALATED", "APPROVED"],
  ["ESCALATED", "CORRECTING"],
  ["AWAITING_HUMAN", "ESCALATED"],
  ["IN_PROGRESS", "TODO"],
  ["IN_PROGRESS", "BLOCKED"],
  ["CORRECTING", "DONE"],
  ["BLOCKED", "IN_PROGRESS"],
  ["ESCALATED", "DONE"],
];

/** Statuses a card can still leave: every status but DONE, FAILED and CANCELLED. */
const NON_FINAL: CardStatus[] = [
  "TODO",
  "IN_PROGRESS",
  "VALIDATING",
  "APPROVED",
  "REJECTED",
  "CORRECTING",
  "ESCALATED",
  "AWAITING_HUMAN",
  "BLOCKED",
];

describe("card lifecycle transitions", () => {
  it.each(ALLOWED)("allows %s → %s", (from, to) => {
    expect(canTransition(from, to)).toBe(true);
    expect(transition("ARQ-001", from, to)).toBe(to);
  });

  it.each(FORBIDDEN)("forbids %s → %s with an IllegalTransitionError", (from, to) => {
    expect(canTransition(from, to)).toBe(false);
    expect(() => transition("ARQ-001", from, to)).toThrow(IllegalTransitionError);
  });

  it("names the card and both statuses in the IllegalTransitionError", () => {
    let thrown: unknown;
    try {
      transition("ARQ-007", "TODO", "APPROVED");
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(IllegalTransitionError);
    expect(thrown).toBeInstanceOf(Error);
    const err = thrown as IllegalTransitionError;
    expect(err).toMatchObject({
      type: "IllegalTransitionError",
      name: "IllegalTransitionError",
      cardId: "ARQ-007",
      from: "TODO",
      to: "APPROVED",
    });
    expect(err.message).toBe(
      'Card ARQ-007: illegal status transition TODO → APPROVED (see PRODUCT.md "Card lifecycle")',
    );
  });

  it.each(CARD_STATUSES)("forbids leaving DONE, even for %s", (to) => {
    expect(() => transition("ARQ-001", "DONE", to)).toThrow(IllegalTransitionError);
  });

  it("forbids leaving CANCELLED", () => {
    for (const to of CARD_STATUSES) expect(canTransition("CANCELLED", to)).toBe(false);
  });

  it("leaves FAILED only for a retry (TODO) or a skip (DONE) in a new run", () => {
    expect(CARD_STATUSES.filter((to) => canTransition("FAILED", to)).sort()).toEqual(["DONE", "TODO"]);
  });

  it.each(NON_FINAL)("allows %s → FAILED and CANCELLED", (from) => {
    expect(transition("ARQ-001", from, "FAILED")).toBe("FAILED");
    expect(transition("ARQ-001", from, "CANCELLED")).toBe("CANCELLED");
  });

  it("allows no other transition than the table lists (every pair checked)", () => {
    const allowed = new Set(ALLOWED.map(([f, t]) => `${f}>${t}`));
    for (const from of NON_FINAL) for (const to of ["FAILED", "CANCELLED"]) allowed.add(`${from}>${to}`);
    for (const from of CARD_STATUSES) {
      for (const to of CARD_STATUSES) {
        expect(canTransition(from, to), `${from} → ${to}`).toBe(allowed.has(`${from}>${to}`));
      }
    }
  });

  it("lets the happy path of PRODUCT.md run from TODO to DONE", () => {
    const path: CardStatus[] = ["TODO", "IN_PROGRESS", "VALIDATING", "APPROVED", "DONE"];
    let status = path[0]!;
    for (const next of path.slice(1)) status = transition("ARQ-001", status, next);
    expect(status).toBe("DONE");
  });

  it("lets the escalation path run from a rejection through a human approval to DONE", () => {
    const path: CardStatus[] = ["VALIDATING", "REJECTED", "ESCALATED", "AWAITING_HUMAN", "APPROVED", "DONE"];
    let status = path[0]!;
    for (const next of path.slice(1)) status = transition("ARQ-001", status, next);
    expect(status).toBe("DONE");
  });
});

describe("lifecycle constants", () => {
  it("lists the final statuses a card workflow can end in", () => {
    expect([...FINAL_STATUSES].sort()).toEqual(["CANCELLED", "DONE", "FAILED"]);
  });

  it("lists the statuses a card comes to rest in, as its dependents see it", () => {
    expect([...SETTLED_STATUSES].sort()).toEqual(["BLOCKED", "CANCELLED", "DONE", "FAILED", "REJECTED"]);
  });

  it("allows at most 3 correction rounds", () => {
    expect(MAX_CORRECTIONS).toBe(3);
  });
});

describe("decisions and idleness (src/domain/lifecycle.ts)", () => {
  it("accepts a review only while AWAITING_HUMAN, retry only at rest, skip while the card waits, nothing while a decision is pending", () => {
    const card = (status: CardStatus, settled = false, decisionPending = false) => ({
      status,
      settled,
      decisionPending,
    });
    expect(acceptsDecision("review", card("AWAITING_HUMAN"))).toBe(true);
    expect(acceptsDecision("review", card("REJECTED", true))).toBe(false);
    expect(acceptsDecision("retry", card("BLOCKED", true))).toBe(true);
    expect(acceptsDecision("retry", card("REJECTED", false))).toBe(false);
    for (const s of CARD_STATUSES) expect(acceptsDecision("skip", card(s)), s).toBe(SKIPPABLE_STATUSES.includes(s));
    expect(acceptsDecision("skip", card("TODO", false, true))).toBe(false);
  });

  it("calls a TODO card idle only while one of its dependencies is not DONE", () => {
    const done = new Set(["A"]);
    expect(isCardIdle({ final: false, status: "TODO", waitingFor: ["A", "B"] }, done)).toBe(true);
    expect(isCardIdle({ final: false, status: "TODO", waitingFor: ["A"] }, done)).toBe(false);
    expect(isCardIdle({ final: false, status: "IN_PROGRESS" }, done)).toBe(false);
    expect(isCardIdle({ final: false, status: "BLOCKED", settled: true }, done)).toBe(true);
    expect(isCardIdle({ final: true, status: "DONE" }, done)).toBe(true);
  });
});

describe("afterFailedAttempt: correct or escalate (PRODUCT.md lifecycle)", () => {
  const base = {
    cardType: "BACKEND",
    corrections: 0,
    correctionLimit: MAX_CORRECTIONS,
    reasons: ["qa: 2 tests failed"],
  };

  it("corrects while rounds are left, then escalates naming the rounds and reasons", () => {
    expect(afterFailedAttempt({ ...base, corrections: MAX_CORRECTIONS - 1 })).toEqual({ step: "correct" });
    expect(afterFailedAttempt({ ...base, corrections: MAX_CORRECTIONS })).toEqual({
      step: "escalate",
      atOnce: false,
      reason: `still failing after ${MAX_CORRECTIONS} corrections: qa: 2 tests failed`,
    });
  });

  it("escalates at once on a budget stop, a permission blocker or a peer-review question, in that order", () => {
    const all = {
      ...base,
      budgetStop: "card budget $0.10 used",
      permissionBlocker: { deniedTools: ["Bash"] },
      peerQuestion: "two concerns",
    };
    expect(afterFailedAttempt(all)).toEqual({
      step: "escalate",
      atOnce: true,
      reason: "over budget: card budget $0.10 used",
    });
    const { budgetStop: _b, ...noBudget } = all;
    const blocker = afterFailedAttempt(noBudget);
    expect(blocker).toMatchObject({ step: "escalate", atOnce: true });
    expect(blocker.step === "escalate" && blocker.reason).toMatch(
      /^permission blocker: the owner was denied Bash, outside card type BACKEND's permissions.allow_tools/,
    );
    const { permissionBlocker: _p, ...peerOnly } = noBudget;
    expect(afterFailedAttempt(peerOnly)).toEqual({ step: "escalate", atOnce: true, reason: "two concerns" });
  });

  it("escalates at once, before a peer-review question, when the owner agent reported a blocker, quoting it", () => {
    const step = afterFailedAttempt({
      ...base,
      corrections: 0,
      ownerBlocker: "STRIPE_KEY is not set",
      peerQuestion: "two concerns",
    });
    expect(step).toEqual({
      step: "escalate",
      atOnce: true,
      reason:
        'owner blocker: the agent reported "STRIPE_KEY is not set" — clarify to answer it (your answer goes to the owner), approve to accept the work as it is, or reject',
    });
    // A permission blocker (squadflow's own finding) still comes first.
    expect(
      afterFailedAttempt({ ...base, ownerBlocker: "stuck", permissionBlocker: { deniedTools: ["Bash"] } }),
    ).toMatchObject({ reason: expect.stringMatching(/^permission blocker/) });
  });

  it('names "a tool" when the agent did not say which one it was denied', () => {
    const step = afterFailedAttempt({ ...base, permissionBlocker: { deniedTools: [] } });
    expect(step.step === "escalate" && step.reason).toMatch(/denied a tool,/);
  });
});
