/**
 * Acceptance tests of card BE-002 (discount pricing), written by the product owner with finance.
 *
 * The examples of ledger rule FIN-7 come from finance's ledger policy: the checkout must book the very same
 * discount as the ledger, or reconciliation finds one-cent gaps.
 *
 * They are the squad's, not the project's: the BACKEND QA check `acceptance tests` (./run.mjs) runs them
 * against `src/discount-pricing.mjs` of the attempt's worktree (the working directory); the owner agent
 * neither sees nor edits the check it is held to, and a human who approves the card anyway does not leave a
 * failing test in the project.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const { applyDiscount, discountCents } = await import(pathToFileURL(resolve("src/discount-pricing.mjs")).href);

const percent = (value) => ({ kind: "percent", value });
const fixed = (value) => ({ kind: "fixed", value });

test("percent codes take value % of the subtotal, fixed codes their value", () => {
  assert.equal(discountCents(10000, percent(15)), 1500);
  assert.equal(discountCents(10000, fixed(750)), 750);
});

test("the discount is never more than the subtotal", () => {
  assert.equal(discountCents(400, fixed(750)), 400);
  assert.equal(discountCents(400, percent(100)), 400);
});

test("half-cent results follow ledger rule FIN-7 (the examples of the card)", () => {
  assert.equal(discountCents(125, percent(10)), 12, "10 % of 125 cents");
  assert.equal(discountCents(135, percent(10)), 14, "10 % of 135 cents");
  assert.equal(discountCents(5, percent(50)), 2, "50 % of 5 cents");
});

test("results that are not half a cent round to the nearest cent", () => {
  assert.equal(discountCents(1999, percent(15)), 300, "299.85 cents");
  assert.equal(discountCents(1333, percent(15)), 200, "199.95 cents");
  assert.equal(discountCents(1001, percent(15)), 150, "150.15 cents");
});

test("applyDiscount gives subtotal, discount and total", () => {
  assert.deepEqual(applyDiscount(135, percent(10)), { subtotalCents: 135, discountCents: 14, totalCents: 121 });
  assert.deepEqual(applyDiscount(400, fixed(750)), { subtotalCents: 400, discountCents: 400, totalCents: 0 });
});
