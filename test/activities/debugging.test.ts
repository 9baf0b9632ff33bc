import { describe, expect, it } from "vitest";
import { createDebugFailures, suggestionFor } from "../../src/activities/debugging.js";
import type { AttemptRecord, Verdict } from "../../src/domain/attempt.js";
import { card } from "./helpers.js";

const at = "2025-01-01T00:00:00.000Z";

function attempt(n: number, artifacts: string[], verdicts: Verdict[]): AttemptRecord {
  return {
    attempt: n,
    workflowId: n === 1 ? "shop/ARQ-001" : `shop/ARQ-001-CORR-${n - 1}`,
    workspace: `shop/ARQ-001/attempt-${n}`,
    artifacts,
    summary: "",
    verdicts,
    passed: verdicts.every((v) => v.passed),
    cost: { inputTokens: 0, outputTokens: 0, usd: 0 },
    startedAt: at,
    finishedAt: at,
  };
}

const pass = (validator: Verdict["validator"]): Verdict => ({ validator, passed: true, reasons: [], at });
const judge = (score: number, reasons: string[]): Verdict => ({
  validator: "llm_judge",
  passed: reasons.length === 0,
  score,
  reasons,
  at,
});
const qa = (reasons: string[], details?: string): Verdict => ({
  validator: "qa",
  passed: reasons.length === 0,
  reasons,
  at,
  ...(details && { details }),
});

const ROLLBACK = 'criterion "Rollback plan" not met: no section "Rollback plan" in docs/architecture.md';
const RISKS = 'criterion "Risks" not met: no section "Risks" in docs/architecture.md';
const UNIT = 'check "unit" failed: exit 1';

describe("debugFailures", () => {
  const debugFailures = createDebugFailures();

  it("names the validator and criteria that keep failing, what changed, and suggests one fix per repeated reason", async () => {
    const history = [
      attempt(
        1,
        ["docs/architecture.md"],
        [pass("verification"), judge(5, [ROLLBACK, RISKS]), qa([UNIT], 'check "unit":\n$ npm test\nFAIL')],
      ),
      attempt(
        2,
        ["docs/architecture.md", "docs/risks.md"],
        [pass("verification"), judge(6, [ROLLBACK]), qa([UNIT], 'check "unit":\n$ npm test\nFAIL')],
      ),
      attempt(
        3,
        ["docs/architecture.md", "docs/risks.md"],
        [pass("verification"), judge(6, [ROLLBACK]), qa([UNIT], 'check "unit":\n$ npm test\nFAIL')],
      ),
    ];
    const report = await debugFailures({ card: card({ id: "ARQ-001" }), history });
    expect(report.repeatedReasons).toEqual([`llm_judge: ${ROLLBACK}`, `qa: ${UNIT}`]);
    expect(report.rootCause).toContain(
      'Card ARQ-001 keeps failing the same way in attempts 1–3: llm_judge on criterion "Rollback plan"; qa on check "unit"',
    );
    expect(report.rootCause).toContain(
      "Between attempts 2 and 3: the list of artifacts did not change; the judge score went 6.0 → 6.0 (+0.0).",
    );
    expect(report.rootCause).toContain(
      "Failed validators by attempt: attempt 1: llm_judge, qa; attempt 2: llm_judge, qa; attempt 3: llm_judge, qa.",
    );
    expect(report.suggestions).toEqual([
      'Add a markdown heading "Rollback plan" (any level) to docs/architecture.md, with real content under it — rubric criterion "Rollback plan".',
      'Make QA check "unit" pass (`npm test`): it failed with exit 1; run it in the workspace and fix the errors its output tail shows.',
    ]);
  });

  it("reports artifacts added and removed and the score delta between the last two attempts", async () => {
    const history = [
      attempt(1, ["a.md", "b.md"], [pass("verification"), judge(4, [ROLLBACK]), pass("qa")]),
      attempt(2, ["b.md", "c.md"], [pass("verification"), judge(7, [ROLLBACK]), pass("qa")]),
    ];
    const report = await debugFailures({ card: card({ id: "ARQ-001" }), history });
    expect(report.rootCause).toContain(
      "Between attempts 1 and 2: added c.md; removed a.md; the judge score went 4.0 → 7.0 (+3.0).",
    );
  });

  it("gives suggestions for the last failures when nothing repeats", async () => {
    const history = [
      attempt(
        1,
        ["a.md"],
        [{ validator: "verification", passed: false, reasons: ['artifact "a.md" contains red flag "TODO"'], at }],
      ),
      attempt(2, ["a.md"], [pass("verification"), judge(6, [RISKS]), pass("qa")]),
    ];
    const report = await debugFailures({ card: card({ id: "ARQ-001" }), history });
    expect(report.repeatedReasons).toEqual([]);
    expect(report.rootCause).toContain(
      "Card ARQ-001 failed attempt 2 on llm_judge; no reason repeated from attempt 1.",
    );
    expect(report.suggestions).toEqual([
      'Add a markdown heading "Risks" (any level) to docs/architecture.md, with real content under it — rubric criterion "Risks".',
    ]);
  });

  it("is deterministic: the same history gives the same report", async () => {
    const history = [attempt(1, ["a.md"], [qa([UNIT])]), attempt(2, ["a.md"], [qa([UNIT])])];
    const input = { card: card(), history };
    expect(await debugFailures(input)).toEqual(await debugFailures(input));
  });

  it("has nothing to debug without attempts or after a pass", async () => {
    expect(await debugFailures({ card: card(), history: [] })).toMatchObject({ suggestions: [], repeatedReasons: [] });
    const passed = await debugFailures({ card: card(), history: [attempt(1, ["a.md"], [pass("verification")])] });
    expect(passed.rootCause).toContain("passed; nothing to debug");
  });
});

describe("suggestionFor", () => {
  it.each([
    ['verification: artifact "docs/spec.md" contains red flag "TODO"', 'Remove every "TODO" from docs/spec.md'],
    ['verification: artifact "docs/spec.md" is empty', "Write the actual content of docs/spec.md"],
    ['verification: artifact "docs/spec.md" does not exist', "Create docs/spec.md in the attempt workspace"],
    [
      'verification: artifact "link.md" resolves outside the workspace',
      "Write link.md as a regular file inside the attempt workspace",
    ],
    ['verification: artifact "docs" is not a regular file', "List files, not directories"],
    [
      'verification: required evidence "tests/**" is missing: no artifact matches it',
      'Produce a file matching "tests/**"',
    ],
    [
      'llm_judge: criterion "DB" not met: no match for /Postgres \\d+/ in any artifact',
      "Make any artifact contain text matching /Postgres \\d+/",
    ],
    [
      'llm_judge: criterion "Owner" not met: text "Owner:" not found in docs/a.md',
      'Include the exact text "Owner:" in docs/a.md',
    ],
    [
      'llm_judge: criterion "Lint" not met: command "npm run lint" exited 2',
      'Make "npm run lint" succeed when run in the workspace (it exited 2)',
    ],
    ['qa: check "e2e" timed out after 300000 ms', 'Make QA check "e2e" finish within 300000 ms'],
    [
      'owner: Owner execution failed: agent "x" exited 1: boom',
      "Fix the owner run itself first: Owner execution failed",
    ],
  ])("turns %j into a concrete fix", (reason, expected) => {
    expect(suggestionFor(reason)).toContain(expected);
  });
});
