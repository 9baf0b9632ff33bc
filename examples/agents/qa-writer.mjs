#!/usr/bin/env node
/**
 * qa-writer — the example owner agent of QA cards: writes the project's acceptance tests, end-to-end tests
 * that put the dependencies' work together the way a shopper uses them (`test/acceptance/checkout.test.mjs`),
 * and a test plan that traces every acceptance criterion to a test (`docs/test-plan.md`). It works in the
 * attempt's git worktree, where the dependencies' modules (`src/*.mjs`) and migrations (`migrations/*.sql`)
 * are merged in: the tests import them from there, and `npm test` (`node --test`) runs them with the rest.
 *
 * Each acceptance criterion is matched to a scenario of its library by keywords (happy path, refusals, fixed
 * amounts, schema); a scenario is written only when the modules it needs are among the dependencies, and a
 * criterion no scenario covers is listed in the plan for a manual check.
 */
import { basename } from "node:path";
import { log, runAgent, sanitize } from "./lib/agent.mjs";
import { describeArtifact, mdTable } from "./lib/markdown.mjs";

const E2E = "test/acceptance/checkout.test.mjs";
const PLAN = "docs/test-plan.md";

/** Test data shared by the scenarios: stored discount_codes rows and the time of the test. */
const ROWS_FIXTURE = `const NOW = '2025-03-15T12:00:00Z';

/** discount_codes rows as the back office stores them. */
const ROWS = {
  'SPRING-10': { code: 'SPRING-10', kind: 'percent', value: 10, min_subtotal_cents: 2000, starts_at: '2025-03-01T00:00:00Z', ends_at: '2025-04-01T00:00:00Z', max_redemptions: 500, redemptions: 12, created_by: 'marketing@acme.example' },
  'WINTER-20': { code: 'WINTER-20', kind: 'percent', value: 20, min_subtotal_cents: 0, starts_at: '2024-12-01T00:00:00Z', ends_at: '2025-03-01T00:00:00Z', max_redemptions: null, redemptions: 87, created_by: 'marketing@acme.example' },
  'BIG-BASKET': { code: 'BIG-BASKET', kind: 'percent', value: 5, min_subtotal_cents: 10000, starts_at: null, ends_at: null, max_redemptions: null, redemptions: 0, created_by: 'marketing@acme.example' },
  'FLAT-15': { code: 'FLAT-15', kind: 'fixed', value: 1500, min_subtotal_cents: 0, starts_at: null, ends_at: null, max_redemptions: 100, redemptions: 3, created_by: 'marketing@acme.example' },
};
`;

/** The checkout flow, for scenarios that need every module of the flow. */
const FLOW_FIXTURE = `const findRow = (code) => ROWS[code];

/** The checkout flow as checkout-web and checkout-api run it: type, submit, validate, price, render. */
function checkout(typed, subtotalCents) {
  let field = reduceField(initialFieldState(), { type: 'input', value: typed });
  field = reduceField(field, { type: 'submit' });
  if (field.status !== 'checking') return { field, html: renderField(field), totalCents: subtotalCents };
  const verdict = validateCode(field.code, findRow, { subtotalCents, now: NOW });
  if (!verdict.ok) {
    field = reduceField(field, { type: 'refused', reason: verdict.reason });
    return { field, html: renderField(field), totalCents: subtotalCents };
  }
  const priced = applyDiscount(subtotalCents, verdict.discount);
  field = reduceField(field, { type: 'applied', discountCents: priced.discountCents });
  return { field, html: renderField(field), totalCents: priced.totalCents };
}`;

const FLOW_MODULES = ["discount-codes", "discount-pricing", "checkout-discount-field"];

/** Scenario library: keywords of a criterion → steps for the plan and the test code. */
const SCENARIOS = [
  {
    key: "happy-path",
    match: /happy path|valid .*code/i,
    needs: FLOW_MODULES,
    steps: [
      "Given the code SPRING-10 (10 %, minimum 20.00) and a cart of 49.90",
      'When the shopper types " spring-10 " and applies it',
      'Then the field shows "Code SPRING-10 applied: 4.99 off." and the total is 44.91',
    ],
    test: (name) => `test(${JSON.stringify(name)}, () => {
  const { field, html, totalCents } = checkout(' spring-10 ', 4990);
  assert.equal(field.status, 'applied');
  assert.equal(totalCents, 4491);
  assert.match(html, /Code SPRING-10 applied: 4\\.99 off\\./);
  assert.match(html, /aria-live="polite"/);
});`,
  },
  {
    key: "refusals",
    match: /refus|expired|minimum/i,
    needs: FLOW_MODULES,
    steps: [
      "Given the expired code WINTER-20 and the code BIG-BASKET (minimum 100.00)",
      "When the shopper applies each on a cart of 49.90",
      "Then each is refused with its message, the input is marked invalid, and the total is unchanged",
    ],
    test: (name) => `test(${JSON.stringify(name)}, () => {
  const expired = checkout('winter-20', 4990);
  assert.equal(expired.field.reason, 'expired');
  assert.ok(expired.html.includes(REFUSAL_MESSAGES.expired));
  assert.match(expired.html, /aria-invalid="true"/);
  assert.equal(expired.totalCents, 4990);
  const small = checkout('BIG-BASKET', 4990);
  assert.equal(small.field.reason, 'below_minimum');
  assert.ok(small.html.includes(REFUSAL_MESSAGES.below_minimum));
  const unknown = checkout('NO-SUCH-CODE', 4990);
  assert.equal(unknown.field.reason, 'unknown');
});`,
  },
  {
    key: "fixed-amounts",
    match: /fixed/i,
    needs: FLOW_MODULES,
    steps: [
      "Given the fixed code FLAT-15 (15.00 off)",
      "When it is applied to carts of 0.01, 9.99, 15.00 and 80.00",
      "Then the totals are 0.00, 0.00, 0.00 and 65.00: never negative",
    ],
    test: (name) => `test(${JSON.stringify(name)}, () => {
  const totals = [1, 999, 1500, 8000].map((subtotal) => checkout('FLAT-15', subtotal).totalCents);
  assert.deepEqual(totals, [0, 0, 0, 6500]);
});`,
  },
  {
    key: "schema",
    match: /schema|migration|stores/i,
    needs: ["discount-codes", "migrations"],
    steps: [
      "Given the up migration of the schema",
      "When its discount_codes columns are compared with the fields of a stored code row (and, where node:sqlite exists, a row is stored and read back)",
      "Then every field has a column and the row read back is a valid code",
    ],
    test: (name) => `test(${JSON.stringify(name)}, async () => {
  const up = readFileSync(UP_MIGRATION, 'utf8');
  const block = /CREATE TABLE discount_codes \\(([\\s\\S]*?)\\n\\);/.exec(up);
  assert.ok(block, 'the migration creates discount_codes');
  const columns = block[1].split('\\n').map((l) => l.trim().split(/\\s+/)[0]);
  for (const field of Object.keys(ROWS['SPRING-10'])) assert.ok(columns.includes(field), 'column ' + field);
  let sqlite;
  try {
    sqlite = await import('node:sqlite');
  } catch {
    return; // node:sqlite needs Node 22.5+; the column comparison above still ran.
  }
  const db = new sqlite.DatabaseSync(':memory:');
  db.exec(up);
  const row = ROWS['SPRING-10'];
  const names = Object.keys(row);
  db.prepare('INSERT INTO discount_codes (' + names.join(', ') + ') VALUES (' + names.map(() => '?').join(', ') + ')').run(...names.map((n) => row[n]));
  const stored = { ...db.prepare('SELECT * FROM discount_codes WHERE code = ?').get('SPRING-10') };
  assert.equal(parseDiscountCode(stored).code, 'SPRING-10');
  db.close();
});`,
  },
];

/** Import lines (from test/acceptance/) for the project's modules a set of scenarios needs. */
function imports(available) {
  const lines = ["import { test } from 'node:test';", "import assert from 'node:assert/strict';"];
  if (available.has("migrations")) lines.push("import { readFileSync } from 'node:fs';");
  if (available.has("discount-codes"))
    lines.push("import { parseDiscountCode, validateCode } from '../../src/discount-codes.mjs';");
  if (available.has("discount-pricing")) lines.push("import { applyDiscount } from '../../src/discount-pricing.mjs';");
  if (available.has("checkout-discount-field")) {
    lines.push(
      "import { REFUSAL_MESSAGES, initialFieldState, reduceField, renderField } from '../../src/checkout-discount-field.mjs';",
    );
  }
  return lines.join("\n");
}

runAgent(async (ctx) => {
  // The modules and migrations under test: the dependencies' files in the project's src/ and migrations/.
  const available = new Set();
  const underTest = [];
  let upMigration;
  for (const f of ctx.dependencyFiles()) {
    const rel = ctx.projectPath(f.path);
    const isModule = rel !== undefined && /^src\/[^/]+\.mjs$/.test(rel);
    const isMigration = rel !== undefined && /^migrations\/[^/]+\.sql$/.test(rel);
    if ((!isModule && !isMigration) || underTest.some((u) => u.rel === rel)) continue;
    const text = ctx.readAbsolute(f.path);
    if (text === undefined) continue;
    underTest.push({ rel, cardId: f.cardId, text });
    const name = basename(rel);
    if (isModule) available.add(name.replace(/\.mjs$/, ""));
    if (isMigration) available.add("migrations");
    if (name.endsWith(".up.sql")) upMigration = rel;
  }
  log(`under test: ${underTest.map((u) => u.rel).join(", ") || "nothing"}`);

  // Match every acceptance criterion to a scenario whose modules are here.
  const rows = ctx.card.acceptanceCriteria.map((text) => {
    const scenario = SCENARIOS.find((s) => s.match.test(text) && s.needs.every((n) => available.has(n)));
    const lead = /^([A-Z][^:]{0,40}):\s*(.+)$/s.exec(text);
    const heading = lead?.[1] ?? text.split(/\s+/).slice(0, 5).join(" ");
    const testName = lead ? `${lead[1].toLowerCase()}: ${lead[2].trim()}` : text;
    return { text, heading, scenario, testName: scenario ? testName : undefined };
  });
  const automated = rows.filter((r) => r.scenario);
  if (automated.length === 0) {
    throw new Error(
      `card ${ctx.card.id}: no scenario can be automated with the dependencies' artifacts (found: ${[...available].join(", ") || "nothing"})`,
    );
  }

  const needsFlow = automated.some((r) => r.scenario.needs.includes("checkout-discount-field"));
  const code = [
    `// End-to-end tests of ${ctx.card.title} (card ${ctx.card.id}), on the work of ${ctx.card.dependencies.join(", ")}.`,
    imports(available),
    upMigration ? `\nconst UP_MIGRATION = new URL('../../${upMigration}', import.meta.url);` : "",
    `\n${ROWS_FIXTURE}`,
    needsFlow ? `\n${FLOW_FIXTURE}` : "",
    ...automated.map((r) => `\n${r.scenario.test(r.testName)}`),
  ].join("\n");
  ctx.write(E2E, `${sanitize(code)}\n`);

  const plan = [
    `# Test plan: ${ctx.card.title}`,
    `Card ${ctx.card.id} · ${ctx.card.type} · priority ${ctx.card.priority} · backlog \`${ctx.backlogId}\``,
    "## Context",
    ctx.card.description,
    "## Scope",
    `Under test, the dependencies' work in the project:\n\n${underTest.map((u) => `- **${u.cardId}** — ${describeArtifact(u.rel, u.text)}`).join("\n")}`,
    "## Scenarios",
    ...rows.flatMap((r) => [
      `### ${r.heading}`,
      r.scenario
        ? `${r.scenario.steps.map((s) => `- ${s}`).join("\n")}\n\nAutomated: \`${E2E}\`, test “${r.testName}”.`
        : `${r.text}\n\nManual check: no automated scenario covers this criterion with the artifacts at hand.`,
    ]),
    "## Traceability",
    mdTable(
      ["Acceptance criterion", "Test", "File"],
      rows.map((r) => [r.text, r.testName ?? "manual check", r.scenario ? `\`${E2E}\`` : "—"]),
    ),
    "## How to run",
    `In the project: \`npm test\` (every test), or \`node --test ${E2E}\` (Node 20+). The schema scenario also stores and reads back a row where \`node:sqlite\` exists (Node 22.5+).`,
  ];
  ctx.write(PLAN, `${sanitize(plan.join("\n\n"))}\n`);
  return `Wrote ${E2E} (${automated.length} of ${rows.length} criteria automated, on ${underTest.length} file(s) of the project) and ${PLAN}.`;
});
