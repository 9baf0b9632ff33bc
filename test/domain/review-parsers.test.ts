import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { z } from "zod";
import {
  MAX_REVIEW_TEXT,
  parseFailedCardDecision,
  parseHumanReview,
  parseOpsDecision,
} from "../../src/domain/review.js";

/** The zod schemas the hand-written parsers stand in for (the client's messages must not change). */
const Ops = z
  .object({
    reviewer: z.string().trim().min(1, "reviewer is required").max(200),
    reason: z.string().trim().min(1, "reason is required").max(MAX_REVIEW_TEXT),
  })
  .strict();
const Review = z
  .object({
    decision: z.enum(["approve", "reject", "clarify"]),
    reviewer: z.string().trim().min(1, "reviewer is required").max(200),
    reason: z.string().trim().min(1, "reason is required").max(MAX_REVIEW_TEXT),
    context: z.string().trim().min(1).max(MAX_REVIEW_TEXT).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.decision === "clarify" && !r.context)
      ctx.addIssue({ code: "custom", path: ["context"], message: "clarify needs the context to add" });
  });
const Failed = z
  .object({ cardId: z.string().trim().min(1, "cardId is required").max(200) })
  .extend(Ops.shape)
  .strict();

function viaZod(schema: z.ZodType, input: unknown, what: string): unknown {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  return new Error(
    `invalid ${what}: ` + r.error.issues.map((i) => `${i.path.join(".") || "payload"}: ${i.message}`).join("; "),
  );
}

function viaParser(parse: (x: unknown) => unknown, input: unknown): unknown {
  try {
    return parse(input);
  } catch (err) {
    return err;
  }
}

/** Each problem field of a refusal with its first message (zod adds a second, e.g. "Too small" on an array). */
function firstProblems(err: unknown): Record<string, string> {
  expect(err).toBeInstanceOf(Error);
  const [, list] = /^invalid [^:]+: (.*)$/s.exec((err as Error).message)!;
  const first: Record<string, string> = {};
  for (const p of list!.split("; ")) {
    const at = p.indexOf(": ");
    first[p.slice(0, at)] ??= p.slice(at + 2);
  }
  return first;
}

const anyValue = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.constantFrom("", "  ", "approve", "clarify", "x", " ana ", "r".repeat(201), "r".repeat(MAX_REVIEW_TEXT + 1)),
  fc.string(),
  fc.array(fc.string(), { maxLength: 2 }),
);
const payload = (keys: string[]) =>
  fc.oneof(
    fc.record(Object.fromEntries(keys.map((k) => [k, anyValue])), { requiredKeys: [] }),
    anyValue,
    fc.dictionary(fc.constantFrom(...keys, "extra", "at"), anyValue),
  );

describe("hand-written review and ops-decision parsers (src/domain/review.ts)", () => {
  it.each([
    [{ decision: "clarify", reviewer: "", reason: "" }],
    [{ decision: "clarify", reviewer: "ana", reason: "r".repeat(MAX_REVIEW_TEXT + 1) }],
    [{ decision: "clarify", reviewer: "ana", reason: "r", extra: 1 }],
    [{ decision: "clarify", reviewer: "ana", reason: "r", context: " " }],
    [{ decision: "clarify", reviewer: 1, reason: "r" }],
    [{ decision: "x", reviewer: "ana", reason: "" }],
  ])("names the missing clarify context beside other problems exactly when zod did: %j", (input) => {
    expect(firstProblems(viaParser(parseHumanReview, input))).toEqual(
      firstProblems(viaZod(Review, input, "human review")),
    );
  });

  it("accept and refuse exactly what the zod schemas did, naming each problem field with the same message", () => {
    const cases: [(x: unknown) => unknown, z.ZodType, string, string[]][] = [
      [parseHumanReview, Review, "human review", ["decision", "reviewer", "reason", "context"]],
      [parseOpsDecision, Ops, "ops decision", ["reviewer", "reason"]],
      [parseFailedCardDecision, Failed, "decision on a failed card", ["cardId", "reviewer", "reason"]],
    ];
    for (const [parse, schema, what, keys] of cases) {
      fc.assert(
        fc.property(payload(keys), (input) => {
          const expected = viaZod(schema, input, what);
          const actual = viaParser(parse, input);
          if (expected instanceof Error) expect(firstProblems(actual)).toEqual(firstProblems(expected));
          else expect(actual).toEqual(expected);
        }),
        { numRuns: 2000 },
      );
    }
  });
});
