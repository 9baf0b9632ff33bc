/** Cost tracking arithmetic. */
import { describe, expect, it } from "vitest";
import { ZERO_COST, addCosts, roundUsd, type Cost } from "../../src/domain/index.js";

const cost = (inputTokens: number, outputTokens: number, usd: number): Cost => ({ inputTokens, outputTokens, usd });

describe("addCosts", () => {
  it("sums input tokens, output tokens and USD", () => {
    expect(addCosts(cost(100, 20, 0.5), cost(50, 5, 0.25), cost(1, 2, 1))).toEqual(cost(151, 27, 1.75));
  });

  it("rounds USD to the micro-dollar, so 0.1 + 0.2 is exactly 0.3", () => {
    expect(0.1 + 0.2).not.toBe(0.3);
    expect(addCosts(cost(0, 0, 0.1), cost(0, 0, 0.2)).usd).toBe(0.3);
  });

  it("does not drift over many attempts", () => {
    const costs = Array.from({ length: 1000 }, () => cost(1, 1, 0.001));
    expect(addCosts(...costs)).toEqual(cost(1000, 1000, 1));
  });

  it("returns zero for no costs", () => {
    expect(addCosts()).toEqual(cost(0, 0, 0));
  });

  it("returns a single cost unchanged apart from rounding", () => {
    expect(addCosts(cost(3, 4, 0.1234567))).toEqual(cost(3, 4, 0.123457));
  });

  it("does not modify its arguments", () => {
    const a = cost(1, 2, 0.1);
    addCosts(a, cost(5, 5, 0.2));
    expect(a).toEqual(cost(1, 2, 0.1));
  });
});

describe("roundUsd", () => {
  it("rounds to six decimals", () => {
    expect(roundUsd(1.23456789)).toBe(1.234568);
    expect(roundUsd(0.0000004)).toBe(0);
    expect(roundUsd(2)).toBe(2);
  });
});

describe("ZERO_COST", () => {
  it("is zero and cannot be modified", () => {
    expect(ZERO_COST).toEqual(cost(0, 0, 0));
    expect(Object.isFrozen(ZERO_COST)).toBe(true);
  });
});
