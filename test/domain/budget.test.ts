/** The budget gate's pure helpers: a run that would start over budget escalates the card instead. */
import { describe, expect, it } from "vitest";
import {
  budgetCheck,
  cardBudgetUsd,
  estimateRunUsd,
  isCostAlert,
  previousRuns,
  runBudgetCheck,
  type AttemptRecord,
} from "../../src/domain/index.js";

describe("budgetCheck", () => {
  it("lets any run start without a budget", () => {
    expect(budgetCheck(1_000, undefined, 50)).toEqual({ ok: true });
  });

  it("reports what is left when the run may start", () => {
    expect(budgetCheck(0.25, 1)).toEqual({ ok: true, remainingUsd: 0.75 });
    expect(budgetCheck(0.5, 1, 0.5)).toEqual({ ok: true, remainingUsd: 0.5 }); // exactly reaching it is allowed
  });

  it("refuses once the budget is spent, naming what was spent", () => {
    expect(budgetCheck(1, 1)).toEqual({
      ok: false,
      reason: "card budget exhausted: spent $1.00 of $1.00",
      remainingUsd: 0,
    });
    expect(budgetCheck(1.3, 1)).toMatchObject({ ok: false, remainingUsd: -0.3 });
  });

  it("refuses a run whose estimate would pass the budget", () => {
    expect(budgetCheck(0.8, 1, 0.25)).toEqual({
      ok: false,
      reason: "card budget would be exceeded: spent $0.80 of $1.00, the next run is estimated at $0.25",
      remainingUsd: 0.2,
    });
  });

  it("does not let floating-point noise refuse a run that exactly fits", () => {
    expect(budgetCheck(0.1 + 0.2, 0.6, 0.3).ok).toBe(true);
  });
});

describe("runBudgetCheck", () => {
  it("checks the card budget, then the backlog budget, and hands the smaller remainder to the run", () => {
    expect(runBudgetCheck({ cardSpentUsd: 0.2, cardBudgetUsd: 1, backlogSpentUsd: 9.5, backlogBudgetUsd: 10 })).toEqual(
      { ok: true, remainingUsd: 0.5 },
    );
    expect(runBudgetCheck({ cardSpentUsd: 0.2, cardBudgetUsd: 1 })).toEqual({ ok: true, remainingUsd: 0.8 });
    expect(runBudgetCheck({ cardSpentUsd: 0.2 })).toEqual({ ok: true });
  });

  it("names the scope that refused", () => {
    expect(
      runBudgetCheck({ cardSpentUsd: 1, cardBudgetUsd: 1, backlogSpentUsd: 0, backlogBudgetUsd: 10 }),
    ).toMatchObject({ ok: false, scope: "card" });
    const backlog = runBudgetCheck({ cardSpentUsd: 0, cardBudgetUsd: 1, backlogSpentUsd: 10, backlogBudgetUsd: 10 });
    expect(backlog).toMatchObject({
      ok: false,
      scope: "backlog",
      reason: "backlog budget exhausted: spent $10.00 of $10.00",
    });
  });
});

describe("budget helpers", () => {
  it("takes the card's own budget before the squad's per-card budget", () => {
    expect(cardBudgetUsd(2, { per_card_usd: 1 })).toBe(2);
    expect(cardBudgetUsd(undefined, { per_card_usd: 1 })).toBe(1);
    expect(cardBudgetUsd(undefined, undefined)).toBeUndefined();
  });

  it("estimates the next run as the most expensive previous one", () => {
    expect(estimateRunUsd([])).toBe(0);
    expect(
      estimateRunUsd([
        { inputTokens: 0, outputTokens: 0, usd: 0.2 },
        { inputTokens: 0, outputTokens: 0, usd: 0.5 },
      ]),
    ).toBe(0.5);
  });

  it("alerts strictly above the threshold", () => {
    expect(isCostAlert(1, 1)).toBe(false);
    expect(isCostAlert(1.000001, 1)).toBe(true);
  });
});

describe("previousRuns", () => {
  const cost = (usd: number) => ({ inputTokens: 10, outputTokens: 5, usd });
  const attempt = (total: number, judgeUsd?: number): AttemptRecord => ({
    attempt: 1,
    workflowId: "b/C",
    workspace: "b/C/attempt-1",
    artifacts: [],
    summary: "",
    verdicts: [
      { validator: "verification", passed: true, reasons: [], at: "" },
      {
        validator: "llm_judge",
        passed: false,
        reasons: ["x"],
        at: "",
        ...(judgeUsd !== undefined ? { cost: cost(judgeUsd) } : {}),
      },
      { validator: "qa", passed: true, reasons: [], at: "" },
    ],
    passed: false,
    cost: cost(total),
    startedAt: "",
    finishedAt: "",
  });

  it("splits each attempt into its owner run (the attempt minus its verdicts) and its judge run", () => {
    const runs = previousRuns([attempt(0.5, 0.2), attempt(0.3)]);
    expect(runs.ownerRuns.map((c) => c.usd)).toEqual([0.3, 0.3]);
    expect(runs.judgeRuns.map((c) => c.usd)).toEqual([0.2]); // a rubric judge costs nothing: no run to estimate from
    expect(estimateRunUsd(runs.judgeRuns)).toBe(0.2);
  });

  it("counts an attempt's peer review with its judge: one gate covers both, and the owner run excludes it", () => {
    const reviewed = attempt(0.6, 0.2);
    reviewed.verdicts.push({ validator: "peer_review", passed: true, reasons: [], at: "", cost: cost(0.15) });
    const runs = previousRuns([reviewed]);
    expect(runs.ownerRuns.map((c) => c.usd)).toEqual([0.25]);
    expect(runs.judgeRuns).toEqual([{ inputTokens: 20, outputTokens: 10, usd: 0.35 }]);
  });
});
