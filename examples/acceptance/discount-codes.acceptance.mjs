/**
 * Acceptance tests of card BE-001 (discount code validation), written by the product owner from the spec.
 *
 * They are the squad's, not the project's: the BACKEND QA check `acceptance tests` (./run.mjs) runs them
 * against `src/discount-codes.mjs` of the attempt's worktree (the working directory).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const { checkEligibility, normalizeCode, parseDiscountCode } = await import(
  pathToFileURL(resolve("src/discount-codes.mjs")).href
);

const campaign = {
  code: "NEWSLETTER-15",
  kind: "percent",
  value: 15,
  min_subtotal_cents: 3000,
  starts_at: "2025-03-10T00:00:00Z",
  ends_at: "2025-03-31T00:00:00Z",
  max_redemptions: 1000,
  redemptions: 999,
};

test("codes are trimmed and case-insensitive, 4–16 letters, digits or dashes", () => {
  assert.equal(normalizeCode("  newsletter-15\t"), "NEWSLETTER-15");
  assert.equal(normalizeCode("ab1"), null);
  assert.equal(normalizeCode("ABCD"), "ABCD");
  assert.equal(normalizeCode("A234567890123456"), "A234567890123456");
  assert.equal(normalizeCode("A2345678901234567"), null);
  assert.equal(normalizeCode("10%OFF"), null);
});

test("percentage codes take 1–100 %, fixed codes a positive amount of cents", () => {
  assert.equal(parseDiscountCode(campaign).value, 15);
  assert.equal(parseDiscountCode({ ...campaign, value: 100 }).value, 100);
  assert.throws(() => parseDiscountCode({ ...campaign, value: 0 }));
  assert.throws(() => parseDiscountCode({ ...campaign, value: 150 }));
  assert.equal(parseDiscountCode({ ...campaign, kind: "fixed", value: 1500 }).value, 1500);
  assert.throws(() => parseDiscountCode({ ...campaign, kind: "fixed", value: -500 }));
  assert.throws(() => parseDiscountCode({ ...campaign, kind: "free_shipping" }));
});

test("each refusal reason of the spec, and acceptance otherwise", () => {
  const code = parseDiscountCode(campaign);
  const at = (now, subtotalCents = 5000) => checkEligibility(code, { subtotalCents, now });
  assert.deepEqual(at("2025-03-15T08:00:00Z"), { ok: true });
  assert.deepEqual(at("2025-03-09T23:59:59Z"), { ok: false, reason: "not_started" });
  assert.deepEqual(at("2025-03-31T00:00:00Z"), { ok: false, reason: "expired" });
  assert.deepEqual(at("2025-03-15T08:00:00Z", 2999), { ok: false, reason: "below_minimum" });
  const usedUp = parseDiscountCode({ ...campaign, redemptions: 1000 });
  assert.deepEqual(checkEligibility(usedUp, { subtotalCents: 5000, now: "2025-03-15T08:00:00Z" }), {
    ok: false,
    reason: "used_up",
  });
});

test("a code without limits applies from any time on any subtotal", () => {
  const open = parseDiscountCode({ code: "WELCOME", kind: "fixed", value: 500 });
  assert.deepEqual(checkEligibility(open, { subtotalCents: 1, now: "2030-01-01T00:00:00Z" }), { ok: true });
});
