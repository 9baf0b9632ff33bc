/**
 * The code-writer's library: the ES modules it knows how to write, keyed by slug. Each entry renders a
 * module (`source`), its `node:test` unit tests (`unitTest`) and a usage snippet, from the card and the
 * chosen `variant`. An entry may name modules it `uses` (imported as `./<used>.mjs`: from the project's src/,
 * where the dependency's card put it) and may `choose` a variant from the card, the previous attempt and the
 * correction feedback.
 *
 * Every generated file is self-contained plain JavaScript for Node 20+ with no dependencies.
 */

/** Rounding strategies of discount-pricing, in the order the agent tries them when QA keeps failing. */
const ROUNDING_TRIES = ["half-up", "half-up-integer", "half-down", "truncate"];

/** Every rounding strategy the agent can write: its doc line, its body, and what it believes about 12.5 cents. */
const ROUNDING = {
  "half-up": {
    doc: "Commercial rounding: a half cent goes up (12.5 → 13).",
    why: "the usual commercial rounding",
    body: ["  return Math.round(numerator / denominator);"],
    tie: 13,
  },
  "half-up-integer": {
    doc: "Commercial rounding in exact integer arithmetic, so binary floating point cannot shift a half cent (12.5 → 13).",
    why: "a floating-point error at the half cent looked like the cause, so the ratio is now rounded in integers",
    body: ["  return Math.floor((2 * numerator + denominator) / (2 * denominator));"],
    tie: 13,
  },
  "half-down": {
    doc: "A half cent goes down, in the shopper’s disfavour only by less than a cent (12.5 → 12).",
    why: "the same check kept failing at the half cent, so halves now round down instead of up",
    body: ["  return Math.ceil((2 * numerator - denominator) / (2 * denominator));"],
    tie: 12,
  },
  truncate: {
    doc: "Fractions of a cent are dropped, so a discount is never more than its exact value (12.5 → 12).",
    why: "rounding halves either way kept failing, so fractions of a cent are now dropped, as some payment providers do",
    body: ["  return Math.floor(numerator / denominator);"],
    tie: 12,
  },
  "half-even": {
    doc: "Banker's rounding (round half to even), the ledger's rule FIN-7: 12.5 → 12, 13.5 → 14.",
    why: "the reviewer explained that FIN-7 is banker's rounding (round half to even)",
    body: [
      "  const quotient = Math.floor(numerator / denominator);",
      "  const twiceRemainder = 2 * (numerator - quotient * denominator);",
      "  if (twiceRemainder > denominator) return quotient + 1;",
      "  if (twiceRemainder < denominator) return quotient;",
      "  return quotient % 2 === 0 ? quotient : quotient + 1;",
    ],
    tie: 12,
  },
};

/** True when a reviewer's words name banker's rounding (round half to even). */
function saysHalfEven(text) {
  return /banker'?s?\s*rounding|half[\s-]+(?:to[\s-]+)?even|ties?[\s-]+to[\s-]+even|roundTiesToEven/i.test(text ?? "");
}

function header(ctx, what) {
  return `/**\n * ${what}\n * Card ${ctx.card.id} (${ctx.card.title}) of backlog ${ctx.backlogId}.\n */`;
}

const discountCodes = {
  title: "Discount code validation",
  uses: [],
  source: (
    ctx,
  ) => `${header(ctx, "Discount code validation for checkout-api: normalizes what a shopper typed, reads a stored code record, and\n * decides whether the code applies to a cart, with the refusal reasons of the spec.")}

/** Why a code does not apply, as the spec names the cases. */
export const REFUSAL_REASONS = Object.freeze(['unknown', 'expired', 'not_started', 'used_up', 'below_minimum']);

const CODE_PATTERN = /^[A-Z0-9-]{4,16}$/;

/**
 * Normalizes a code as typed by a shopper: trimmed and upper-cased.
 * @param {unknown} input
 * @returns {string | null} the code, or null unless it is 4–16 letters, digits or dashes
 */
export function normalizeCode(input) {
  if (typeof input !== 'string') return null;
  const code = input.trim().toUpperCase();
  return CODE_PATTERN.test(code) ? code : null;
}

function optionalTime(value, field) {
  if (value === null || value === undefined || value === '') return null;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new TypeError(field + ': "' + value + '" is not an ISO-8601 time');
  return new Date(ms).toISOString();
}

function integerAtLeast(value, min, field) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new TypeError(field + ': ' + value + ' is not an integer of at least ' + min);
  return n;
}

/**
 * Reads a discount_codes row (snake_case columns) into a frozen code record.
 * @param {Record<string, unknown>} row
 * @returns {{ code: string, kind: 'percent' | 'fixed', value: number, minSubtotalCents: number,
 *   startsAt: string | null, endsAt: string | null, maxRedemptions: number | null, redemptions: number }}
 * @throws {TypeError} naming the column, for a malformed code, an unknown kind, a percentage outside 1–100,
 *   a non-positive fixed amount or an unreadable time
 */
export function parseDiscountCode(row) {
  const code = normalizeCode(row?.code);
  if (!code) throw new TypeError('code: "' + row?.code + '" is not 4–16 letters, digits or dashes');
  const kind = row.kind;
  if (kind !== 'percent' && kind !== 'fixed') throw new TypeError('kind: "' + kind + '" is neither percent nor fixed');
  const value = integerAtLeast(row.value, 1, 'value');
  if (kind === 'percent' && value > 100) throw new TypeError('value: ' + value + ' % is more than 100 %');
  return Object.freeze({
    code,
    kind,
    value,
    minSubtotalCents: row.min_subtotal_cents == null ? 0 : integerAtLeast(row.min_subtotal_cents, 0, 'min_subtotal_cents'),
    startsAt: optionalTime(row.starts_at, 'starts_at'),
    endsAt: optionalTime(row.ends_at, 'ends_at'),
    maxRedemptions: row.max_redemptions == null ? null : integerAtLeast(row.max_redemptions, 1, 'max_redemptions'),
    redemptions: row.redemptions == null ? 0 : integerAtLeast(row.redemptions, 0, 'redemptions'),
  });
}

/**
 * Decides whether a code applies to a cart at a given time (the caller passes the time: no hidden clock).
 * @param {ReturnType<typeof parseDiscountCode>} discount
 * @param {{ subtotalCents: number, now: Date | string | number }} cart
 * @returns {{ ok: true } | { ok: false, reason: 'expired' | 'not_started' | 'used_up' | 'below_minimum' }}
 */
export function checkEligibility(discount, { subtotalCents, now }) {
  const t = now instanceof Date ? now.getTime() : typeof now === 'number' ? now : Date.parse(now);
  if (Number.isNaN(t)) throw new TypeError('now: "' + now + '" is not a time');
  if (discount.startsAt && t < Date.parse(discount.startsAt)) return { ok: false, reason: 'not_started' };
  if (discount.endsAt && t >= Date.parse(discount.endsAt)) return { ok: false, reason: 'expired' };
  if (discount.maxRedemptions !== null && discount.redemptions >= discount.maxRedemptions) {
    return { ok: false, reason: 'used_up' };
  }
  if (subtotalCents < discount.minSubtotalCents) return { ok: false, reason: 'below_minimum' };
  return { ok: true };
}

/**
 * Validates what a shopper typed against the stored codes: normalize, look up, parse, check eligibility.
 * @param {unknown} input the shopper's text
 * @param {(code: string) => Record<string, unknown> | undefined} findRow looks a normalized code up
 * @param {{ subtotalCents: number, now: Date | string | number }} cart
 * @returns {{ ok: true, discount: ReturnType<typeof parseDiscountCode> } | { ok: false, reason: string }}
 */
export function validateCode(input, findRow, cart) {
  const code = normalizeCode(input);
  const row = code ? findRow(code) : undefined;
  if (!row) return { ok: false, reason: 'unknown' };
  const discount = parseDiscountCode(row);
  const verdict = checkEligibility(discount, cart);
  return verdict.ok ? { ok: true, discount } : verdict;
}
`,
  unitTest: (ctx) => `// Unit tests of discount-codes (card ${ctx.card.id}).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkEligibility, normalizeCode, parseDiscountCode, validateCode } from '../src/discount-codes.mjs';

const row = {
  code: 'spring-10',
  kind: 'percent',
  value: 10,
  min_subtotal_cents: 2000,
  starts_at: '2025-03-01T00:00:00Z',
  ends_at: '2025-04-01T00:00:00Z',
  max_redemptions: 500,
  redemptions: 12,
};
const now = '2025-03-15T12:00:00Z';

test('normalizeCode trims and upper-cases', () => {
  assert.equal(normalizeCode('  spring-10 '), 'SPRING-10');
});

test('normalizeCode refuses codes that are too short, too long or have other characters', () => {
  for (const bad of ['abc', 'A'.repeat(17), 'SPRING 10', 'SPRÍNG', '', 42, null]) assert.equal(normalizeCode(bad), null);
});

test('parseDiscountCode reads a row into a record', () => {
  const d = parseDiscountCode(row);
  assert.equal(d.code, 'SPRING-10');
  assert.equal(d.minSubtotalCents, 2000);
  assert.equal(d.endsAt, '2025-04-01T00:00:00.000Z');
  assert.ok(Object.isFrozen(d));
});

test('parseDiscountCode refuses bad kinds and values, naming the column', () => {
  assert.throws(() => parseDiscountCode({ ...row, kind: 'bogo' }), /kind/);
  assert.throws(() => parseDiscountCode({ ...row, value: 101 }), /value/);
  assert.throws(() => parseDiscountCode({ ...row, kind: 'fixed', value: 0 }), /value/);
  assert.throws(() => parseDiscountCode({ ...row, ends_at: 'next week' }), /ends_at/);
});

test('checkEligibility accepts a valid code and refuses each case with its reason', () => {
  const d = parseDiscountCode(row);
  assert.deepEqual(checkEligibility(d, { subtotalCents: 5000, now }), { ok: true });
  assert.equal(checkEligibility(d, { subtotalCents: 5000, now: '2025-02-01T00:00:00Z' }).reason, 'not_started');
  assert.equal(checkEligibility(d, { subtotalCents: 5000, now: '2025-04-01T00:00:00Z' }).reason, 'expired');
  assert.equal(checkEligibility(d, { subtotalCents: 1999, now }).reason, 'below_minimum');
  const usedUp = parseDiscountCode({ ...row, redemptions: 500 });
  assert.equal(checkEligibility(usedUp, { subtotalCents: 5000, now }).reason, 'used_up');
});

test('validateCode looks the normalized code up and reports unknown codes', () => {
  const find = (code) => (code === 'SPRING-10' ? row : undefined);
  assert.equal(validateCode(' Spring-10', find, { subtotalCents: 5000, now }).ok, true);
  assert.deepEqual(validateCode('WINTER-5', find, { subtotalCents: 5000, now }), { ok: false, reason: 'unknown' });
  assert.deepEqual(validateCode('??', find, { subtotalCents: 5000, now }), { ok: false, reason: 'unknown' });
});
`,
  usage: `import { validateCode } from './src/discount-codes.mjs';

const verdict = validateCode(' spring-10 ', (code) => db.findDiscountCode(code), {
  subtotalCents: 4990,
  now: new Date(),
});
if (!verdict.ok) showRefusal(verdict.reason); // 'unknown', 'expired', 'not_started', 'used_up' or 'below_minimum'`,
};

const discountPricing = {
  title: "Discount pricing",
  uses: [],
  /**
   * The rounding strategy: the one a reviewer named, else — when QA failed — the next one after the
   * previous attempt's, else the previous attempt's (or the default on attempt 1).
   */
  choose(ctx, previousSource) {
    const previous = /export const ROUNDING = '([\w-]+)'/.exec(previousSource ?? "")?.[1];
    const fb = ctx.feedback;
    const heard = [fb?.humanContext].filter(Boolean).join(" ");
    if (saysHalfEven(heard)) return { rounding: "half-even", previous };
    if (!previous)
      return { rounding: ROUNDING_TRIES[Math.min(fb ? fb.round : 0, ROUNDING_TRIES.length - 1)], previous };
    const qaFailed = !!fb && fb.reasons.some((r) => /^\s*qa:/i.test(r));
    if (!qaFailed || previous === "half-even") return { rounding: previous, previous };
    const i = ROUNDING_TRIES.indexOf(previous);
    return { rounding: ROUNDING_TRIES[Math.min(i + 1, ROUNDING_TRIES.length - 1)], previous };
  },
  source: (ctx, { rounding }) => {
    const r = ROUNDING[rounding];
    return `${header(ctx, "Discount pricing for checkout-api: the discount of an eligible code in integer cents, and the new total.")}

/** How a fraction of a cent is rounded. ${r.doc} */
export const ROUNDING = '${rounding}';

/**
 * Rounds numerator ÷ denominator (non-negative integers, denominator > 0) to an integer number of cents.
 * ${r.doc}
 */
function roundRatio(numerator, denominator) {
${r.body.join("\n")}
}

/**
 * The discount of a code on a subtotal, in integer cents, never more than the subtotal.
 * @param {number} subtotalCents non-negative integer
 * @param {{ kind: 'percent' | 'fixed', value: number }} code a percent code takes value % of the subtotal,
 *   a fixed code value cents
 * @returns {number}
 * @throws {RangeError} for a subtotal that is not a non-negative integer
 */
export function discountCents(subtotalCents, code) {
  if (!Number.isInteger(subtotalCents) || subtotalCents < 0) {
    throw new RangeError('subtotalCents: ' + subtotalCents + ' is not a non-negative integer');
  }
  const raw = code.kind === 'percent' ? roundRatio(subtotalCents * code.value, 100) : code.value;
  return Math.min(subtotalCents, raw);
}

/**
 * Prices a cart with a code.
 * @param {number} subtotalCents
 * @param {{ kind: 'percent' | 'fixed', value: number }} code
 * @returns {{ subtotalCents: number, discountCents: number, totalCents: number }}
 */
export function applyDiscount(subtotalCents, code) {
  const discount = discountCents(subtotalCents, code);
  return { subtotalCents, discountCents: discount, totalCents: subtotalCents - discount };
}
`;
  },
  unitTest: (ctx, { rounding }) => `// Unit tests of discount-pricing (card ${ctx.card.id}), rounding '${rounding}'.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ROUNDING, applyDiscount, discountCents } from '../src/discount-pricing.mjs';

const percent = (value) => ({ kind: 'percent', value });
const fixed = (value) => ({ kind: 'fixed', value });

test('a percent code takes value % of the subtotal', () => {
  assert.equal(discountCents(4990, percent(10)), 499);
  assert.equal(discountCents(2000, percent(25)), 500);
  assert.equal(discountCents(3000, percent(100)), 3000);
});

test('a fixed code takes its value, never more than the subtotal', () => {
  assert.equal(discountCents(1200, fixed(500)), 500);
  assert.equal(discountCents(300, fixed(500)), 300);
});

test('applyDiscount returns subtotal, discount and total', () => {
  assert.deepEqual(applyDiscount(4990, percent(10)), { subtotalCents: 4990, discountCents: 499, totalCents: 4491 });
  assert.deepEqual(applyDiscount(300, fixed(500)), { subtotalCents: 300, discountCents: 300, totalCents: 0 });
});

test('a half cent is rounded with ${rounding} rounding', () => {
  assert.equal(ROUNDING, '${rounding}');
  assert.equal(discountCents(125, percent(10)), ${ROUNDING[rounding].tie});
});

test('a subtotal that is not a non-negative integer is refused', () => {
  assert.throws(() => discountCents(-1, percent(10)), RangeError);
  assert.throws(() => discountCents(12.5, percent(10)), RangeError);
});
`,
  usage: `import { applyDiscount } from './src/discount-pricing.mjs';

const priced = applyDiscount(4990, { kind: 'percent', value: 10 });
// { subtotalCents: 4990, discountCents: 499, totalCents: 4491 }`,
  /** Extra documentation: the rounding rule, and why it changed. */
  notes: (ctx, { rounding, previous }) => {
    const r = ROUNDING[rounding];
    const lines = [`## Rounding`, "", `\`ROUNDING = '${rounding}'\`: ${r.doc}`];
    if (previous && previous !== rounding) lines.push("", `Changed from \`${previous}\` in this attempt: ${r.why}.`);
    return lines.join("\n");
  },
};

const checkoutDiscountField = {
  title: "Checkout discount code field",
  uses: ["discount-codes"],
  source: (
    ctx,
  ) => `${header(ctx, "The checkout page's discount code field, framework-free: a reducer for its states and a renderer to\n * accessible HTML. Input is normalized with the server's own normalizeCode.")}
import { normalizeCode } from './discount-codes.mjs';

/** Plain-language message shown to the shopper for each refusal reason. */
export const REFUSAL_MESSAGES = Object.freeze({
  malformed: 'Discount codes are 4 to 16 letters, digits or dashes.',
  unknown: 'We do not know this code. Please check it for typing mistakes.',
  expired: 'This code has expired.',
  not_started: 'This code is not active yet.',
  used_up: 'This code has been used up.',
  below_minimum: 'Your order is below the minimum amount for this code.',
});

/**
 * The field's initial state.
 * @returns {{ status: 'idle', input: string, code: null, reason: null, discountCents: 0 }}
 */
export function initialFieldState() {
  return { status: 'idle', input: '', code: null, reason: null, discountCents: 0 };
}

/**
 * The field's state machine: idle → editing → checking → applied | refused.
 * A malformed code is refused on submit without a server call (the state never becomes checking); the
 * page calls the server when the state becomes checking, and dispatches applied or refused with the answer.
 * @param {ReturnType<typeof initialFieldState>} state
 * @param {{ type: 'input', value: string } | { type: 'submit' } | { type: 'applied', discountCents: number }
 *   | { type: 'refused', reason: string } | { type: 'remove' }} action
 * @returns {ReturnType<typeof initialFieldState>} the next state (a new object)
 */
export function reduceField(state, action) {
  switch (action.type) {
    case 'input':
      return { ...state, status: action.value ? 'editing' : 'idle', input: action.value, code: null, reason: null };
    case 'submit': {
      if (state.status === 'checking') return state;
      const code = normalizeCode(state.input);
      if (!code) return { ...state, status: 'refused', code: null, reason: 'malformed' };
      return { ...state, status: 'checking', input: code, code, reason: null };
    }
    case 'applied':
      return state.status === 'checking' ? { ...state, status: 'applied', discountCents: action.discountCents } : state;
    case 'refused':
      return state.status === 'checking' ? { ...state, status: 'refused', reason: action.reason, discountCents: 0 } : state;
    case 'remove':
      return initialFieldState();
    default:
      throw new TypeError('unknown action type "' + action.type + '"');
  }
}

/**
 * HTML-escapes text for element content and attribute values.
 * @param {unknown} text
 * @returns {string}
 */
export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]);
}

/**
 * Formats integer cents as an amount, e.g. 499 → "4.99".
 * @param {number} cents
 * @returns {string}
 */
export function formatCents(cents) {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return sign + Math.floor(abs / 100) + '.' + String(abs % 100).padStart(2, '0');
}

/**
 * Renders the field as accessible HTML: a label tied to the input, aria-invalid and aria-describedby on a
 * refusal, and a polite live region announcing the result.
 * @param {ReturnType<typeof initialFieldState>} state
 * @returns {string}
 */
export function renderField(state) {
  const refused = state.status === 'refused';
  let message = '';
  if (refused) message = REFUSAL_MESSAGES[state.reason] ?? REFUSAL_MESSAGES.unknown;
  else if (state.status === 'applied') message = 'Code ' + state.code + ' applied: ' + formatCents(state.discountCents) + ' off.';
  else if (state.status === 'checking') message = 'Checking the code…';
  const invalid = refused ? ' aria-invalid="true" aria-describedby="discount-code-message"' : '';
  return [
    '<form class="discount-field" data-status="' + state.status + '" novalidate>',
    '  <label for="discount-code">Discount code</label>',
    '  <input id="discount-code" name="discount-code" autocomplete="off" value="' + escapeHtml(state.input) + '"' + invalid + '>',
    '  <button type="submit"' + (state.status === 'checking' ? ' disabled' : '') + '>Apply</button>',
    '  <p id="discount-code-message" role="status" aria-live="polite">' + escapeHtml(message) + '</p>',
    '</form>',
  ].join('\\n');
}
`,
  unitTest: (ctx) => `// Unit tests of checkout-discount-field (card ${ctx.card.id}).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { REFUSAL_MESSAGES, escapeHtml, formatCents, initialFieldState, reduceField, renderField } from '../src/checkout-discount-field.mjs';

const typed = (value) => reduceField(initialFieldState(), { type: 'input', value });

test('typing moves the field from idle to editing, clearing it back to idle', () => {
  assert.equal(typed('spr').status, 'editing');
  assert.equal(reduceField(typed('spr'), { type: 'input', value: '' }).status, 'idle');
});

test('submitting normalizes the code like the server and starts checking', () => {
  const s = reduceField(typed('  spring-10 '), { type: 'submit' });
  assert.equal(s.status, 'checking');
  assert.equal(s.code, 'SPRING-10');
});

test('a malformed code is refused without a server call', () => {
  const s = reduceField(typed('no way!'), { type: 'submit' });
  assert.equal(s.status, 'refused');
  assert.equal(s.reason, 'malformed');
});

test('the server answer moves checking to applied or refused', () => {
  const checking = reduceField(typed('SPRING-10'), { type: 'submit' });
  assert.equal(reduceField(checking, { type: 'applied', discountCents: 499 }).status, 'applied');
  const refused = reduceField(checking, { type: 'refused', reason: 'expired' });
  assert.equal(refused.status, 'refused');
  assert.equal(refused.reason, 'expired');
});

test('every refusal reason of the spec has a message', () => {
  for (const reason of ['unknown', 'expired', 'not_started', 'used_up', 'below_minimum', 'malformed']) {
    assert.ok(REFUSAL_MESSAGES[reason].length > 10, reason);
  }
});

test('a refusal renders aria-invalid, aria-describedby and the message in a live region', () => {
  const checking = reduceField(typed('SPRING-10'), { type: 'submit' });
  const html = renderField(reduceField(checking, { type: 'refused', reason: 'expired' }));
  assert.match(html, /<label for="discount-code">/);
  assert.match(html, /aria-invalid="true" aria-describedby="discount-code-message"/);
  assert.match(html, /aria-live="polite">This code has expired.<\\/p>/);
});

test('an applied code shows the discount', () => {
  const checking = reduceField(typed('SPRING-10'), { type: 'submit' });
  assert.match(renderField(reduceField(checking, { type: 'applied', discountCents: 499 })), /Code SPRING-10 applied: 4.99 off./);
  assert.equal(formatCents(5), '0.05');
});

test("the shopper's text is escaped", () => {
  assert.equal(escapeHtml('<b>"x" & \\'y\\'</b>'), '&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;');
  assert.doesNotMatch(renderField(typed('"><script>')), /<script>/);
});
`,
  usage: `import { initialFieldState, reduceField, renderField } from './src/checkout-discount-field.mjs';

let state = reduceField(initialFieldState(), { type: 'input', value: ' spring-10 ' });
state = reduceField(state, { type: 'submit' }); // status 'checking': call POST /api/checkout/discount
state = reduceField(state, { type: 'applied', discountCents: 499 });
container.innerHTML = renderField(state);`,
};

/** The library, by slug. */
export const MODULES = {
  "discount-codes": discountCodes,
  "discount-pricing": discountPricing,
  "checkout-discount-field": checkoutDiscountField,
};
