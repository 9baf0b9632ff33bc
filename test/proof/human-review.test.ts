/**
 * Bad input, part 3: malformed and misplaced human reviews against a real card workflow on the run's dev server.
 * Every one is refused by the `humanReview` update validator with a message naming the card and the problem,
 * and none leaves a trace: the history length and the `cardState` answer are the same after all of them.
 */
import { WorkflowUpdateFailedError, type WorkflowHandle } from "@temporalio/client";
import { ApplicationFailure } from "@temporalio/common";
import { describe, expect, it } from "vitest";
import { MAX_REVIEW_TEXT, type CardState } from "../../src/domain/index.js";
import { cardStateQuery, humanReviewSignal, humanReviewUpdate } from "../../src/workflows/card.js";
import { historyLength, startTestCard, waitForStatus } from "./review-helpers.js";

const ok = { decision: "approve", reviewer: "ana", reason: "verified by hand" };

/** [what, payload (undefined = no argument at all), message the refusal must match]. */
const BAD_REVIEWS: [string, unknown, RegExp][] = [
  [
    "an unknown decision",
    { ...ok, decision: "maybe" },
    /decision: Invalid option: expected one of "approve"\|"reject"\|"clarify"/,
  ],
  ["an upper-case decision", { ...ok, decision: "APPROVE" }, /decision: Invalid option/],
  ["an empty decision", { ...ok, decision: "" }, /decision: Invalid option/],
  ["a null decision", { ...ok, decision: null }, /decision: Invalid option/],
  ["a numeric decision", { ...ok, decision: 1 }, /decision: Invalid option/],
  ["no decision", { reviewer: "ana", reason: "r" }, /decision: Invalid option/],
  ["no reviewer", { decision: "approve", reason: "r" }, /reviewer: Invalid input: expected string, received undefined/],
  ["an empty reviewer", { ...ok, reviewer: "" }, /reviewer: reviewer is required/],
  ["a blank reviewer", { ...ok, reviewer: " \t " }, /reviewer: reviewer is required/],
  ["a numeric reviewer", { ...ok, reviewer: 42 }, /reviewer: Invalid input: expected string, received number/],
  ["a null reviewer", { ...ok, reviewer: null }, /reviewer: Invalid input: expected string, received null/],
  ["a reviewer list", { ...ok, reviewer: ["ana", "bo"] }, /reviewer: Invalid input: expected string, received array/],
  [
    "a reviewer object",
    { ...ok, reviewer: { name: "ana" } },
    /reviewer: Invalid input: expected string, received object/,
  ],
  ["a 201-character reviewer", { ...ok, reviewer: "a".repeat(201) }, /reviewer: Too big/],
  ["no reason", { decision: "approve", reviewer: "ana" }, /reason: Invalid input: expected string, received undefined/],
  ["an empty reason", { ...ok, reason: "" }, /reason: reason is required/],
  ["a blank reason", { ...ok, reason: " \n\t " }, /reason: reason is required/],
  [
    `a reason of ${MAX_REVIEW_TEXT + 1} characters`,
    { ...ok, reason: "r".repeat(MAX_REVIEW_TEXT + 1) },
    /reason: Too big: expected string to have <=4000 characters/,
  ],
  ["a reason of 200,000 characters", { ...ok, reason: "r".repeat(200_000) }, /reason: Too big/],
  ["a numeric reason", { ...ok, reason: 7 }, /reason: Invalid input: expected string, received number/],
  ["a reason list", { ...ok, reason: ["a", "b"] }, /reason: Invalid input: expected string, received array/],
  [
    "a nested reason object",
    { ...ok, reason: { text: { why: "x" } } },
    /reason: Invalid input: expected string, received object/,
  ],
  ["clarify without context", { ...ok, decision: "clarify" }, /context: clarify needs the context to add/],
  ["clarify with an empty context", { ...ok, decision: "clarify", context: "" }, /context: Too small/],
  ["clarify with a blank context", { ...ok, decision: "clarify", context: "   " }, /context: Too small/],
  [
    `clarify with ${MAX_REVIEW_TEXT + 1} characters of context`,
    { ...ok, decision: "clarify", context: "c".repeat(MAX_REVIEW_TEXT + 1) },
    /context: Too big/,
  ],
  [
    "a numeric context",
    { ...ok, decision: "clarify", context: 3 },
    /context: Invalid input: expected string, received number/,
  ],
  ["an extra field", { ...ok, extra: 1 }, /Unrecognized key: "extra"/],
  ['a forged "approved" flag', { ...ok, approved: true }, /Unrecognized key: "approved"/],
  ["a forged audit timestamp", { ...ok, at: "2020-01-01T00:00:00Z" }, /Unrecognized key: "at"/],
  [
    'a "__proto__" field',
    JSON.parse('{"decision":"approve","reviewer":"ana","reason":"r","__proto__":{"admin":true}}'),
    /Unrecognized key: "__proto__"/,
  ],
  ["wrong types everywhere", { decision: 0, reviewer: false, reason: [] }, /decision: .*reviewer: .*reason: /],
  ["a bare string", "approve", /invalid human review: payload: Invalid input: expected object, received string/],
  ["null", null, /invalid human review: payload: Invalid input: expected object, received null/],
  ["a number", 42, /invalid human review: payload: Invalid input: expected object, received number/],
  ["true", true, /invalid human review: payload: Invalid input: expected object, received boolean/],
  ["an empty array", [], /invalid human review: payload: Invalid input: expected object, received array/],
  [
    "a valid review wrapped in an array",
    [ok],
    /invalid human review: payload: Invalid input: expected object, received array/,
  ],
  ["an empty object", {}, /decision: .*reviewer: .*reason: /],
  [
    "no argument at all",
    undefined,
    /invalid human review: payload: Invalid input: expected object, received undefined/,
  ],
];

/** Sends a review update and returns why it was refused; fails the test if it was accepted. */
async function refusal(handle: WorkflowHandle, payload: unknown): Promise<ApplicationFailure> {
  const args = (payload === undefined ? [] : [payload]) as never;
  const err = await handle.executeUpdate(humanReviewUpdate, { args }).then(
    (entry) => new Error(`accepted: ${JSON.stringify(entry)}`),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (err as WorkflowUpdateFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

describe("bad human reviews of a card AWAITING_HUMAN", () => {
  it(`refuses ${BAD_REVIEWS.length} malformed reviews in the update validator, naming the card, without touching history or state`, async () => {
    expect(BAD_REVIEWS.length).toBeGreaterThanOrEqual(30);
    const { worker, handle } = await startTestCard();
    const outcome = await worker.runUntil(async () => {
      await waitForStatus(handle, "AWAITING_HUMAN");
      const events = await historyLength(handle);
      const state: CardState = await handle.query(cardStateQuery);

      for (const [what, payload, message] of BAD_REVIEWS) {
        const cause = await refusal(handle, payload);
        expect(cause.message, what).toMatch(/^card C1: invalid human review: /);
        expect(cause.message, what).toMatch(message);
        expect(cause.type, what).toBe("InvalidHumanReview");
      }

      expect(await historyLength(handle)).toBe(events);
      expect(await handle.query(cardStateQuery)).toEqual(state);
      // Still waiting, and a valid decision still works.
      const entry = await handle.executeUpdate(humanReviewUpdate, {
        args: [{ decision: "approve", reviewer: "ana", reason: "verified by hand" }],
      });
      expect(entry).toMatchObject({ actor: "ana", action: "approve", reason: "verified by hand" });
      return handle.result();
    });
    expect(outcome.status).toBe("DONE");
    expect(outcome.state!.auditLog.map((e) => e.action)).toEqual(["escalated", "approve"]);
  });

  it("ignores the same malformed reviews sent as signals: the card keeps waiting, its state unchanged", async () => {
    const { worker, handle } = await startTestCard();
    await worker.runUntil(async () => {
      await waitForStatus(handle, "AWAITING_HUMAN");
      const state: CardState = await handle.query(cardStateQuery);
      let sent = 0;
      for (const [, payload] of BAD_REVIEWS) {
        if (payload === undefined) continue;
        await handle.signal(humanReviewSignal, payload as never);
        sent++;
      }
      // Wait until the worker has processed every signal: all are in history and a workflow task completed after them.
      for (let i = 0; ; i++) {
        const events = (await handle.fetchHistory()).events ?? [];
        let lastSignal = -1;
        events.forEach((e, k) => void (e.workflowExecutionSignaledEventAttributes && (lastSignal = k)));
        const signals = events.filter((e) => e.workflowExecutionSignaledEventAttributes).length;
        if (signals === sent && events.slice(lastSignal).some((e) => e.workflowTaskCompletedEventAttributes)) break;
        if (i > 100) throw new Error("the signals were never processed");
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await handle.query(cardStateQuery)).toEqual(state);
      await handle.terminate("test done");
    });
  });
});

describe("human reviews of a card that is not awaiting one", () => {
  it("refuses a valid approval of a TODO card (waiting for a dependency), without touching history or state", async () => {
    const { worker, handle } = await startTestCard({
      cards: [{ id: "A" }, { id: "B", dependencies: ["A"] }],
      cardId: "B",
    });
    await worker.runUntil(async () => {
      await waitForStatus(handle, "TODO");
      const events = await historyLength(handle);
      const state: CardState = await handle.query(cardStateQuery);
      for (const decision of [ok, { ...ok, decision: "reject" }, { ...ok, decision: "clarify", context: "x" }]) {
        const cause = await refusal(handle, decision);
        expect(cause.message).toBe("card B is not awaiting human review (status TODO)");
        expect(cause.type).toBe("CardNotAwaitingReview");
      }
      // A malformed review of a card in the wrong state is refused for its content first.
      expect((await refusal(handle, { decision: "approve" })).message).toMatch(
        /^card B: invalid human review: reviewer: /,
      );
      expect(await historyLength(handle)).toBe(events);
      expect(await handle.query(cardStateQuery)).toEqual(state);
      await handle.terminate("test done");
    });
  });

  it("refuses an approval of a card that is DONE, leaving its history and final state as they were", async () => {
    const { worker, handle } = await startTestCard({ script: {} });
    await worker.runUntil(async () => {
      const outcome = await handle.result();
      expect(outcome.status).toBe("DONE");
      const events = await historyLength(handle);
      // (A closed workflow still answers queries, replayed by a worker.)
      const state: CardState = await handle.query(cardStateQuery);
      const err = await handle.executeUpdate(humanReviewUpdate, { args: [ok as never] }).then(
        () => new Error("accepted"),
        (e: unknown) => e as Error,
      );
      // A closed workflow takes no update at all: the server refuses it before any validator runs.
      expect(err.message).toMatch(/workflow execution already completed|not found/i);
      expect(await historyLength(handle)).toBe(events);
      expect(await handle.query(cardStateQuery)).toEqual(state);
      expect(state.status).toBe("DONE");
    });
  });
});
