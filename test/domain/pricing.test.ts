/** USD from tokens with the squad's price table, and the comparison with agent-reported costs. */
import { describe, expect, it } from "vitest";
import {
  MissingPriceError,
  addCosts,
  compareReported,
  costFromUsage,
  findPrice,
  settleCost,
  type Pricing,
} from "../../src/domain/index.js";

const PRICING: Pricing = {
  "claude-sonnet-4-6": { input_per_mtok: 3, output_per_mtok: 15, cache_write_per_mtok: 3.75, cache_read_per_mtok: 0.3 },
  "gpt-5": { input_per_mtok: 1.25, output_per_mtok: 10 },
  "gpt-5-codex": { input_per_mtok: 2, output_per_mtok: 20, cache_read_per_mtok: 0.2 },
};

describe("findPrice", () => {
  it("prefers the exact name, else the longest key the model starts with", () => {
    expect(findPrice("gpt-5-codex", PRICING)?.key).toBe("gpt-5-codex");
    expect(findPrice("gpt-5-codex-2026", PRICING)?.key).toBe("gpt-5-codex");
    expect(findPrice("gpt-5-mini", PRICING)?.key).toBe("gpt-5");
    expect(findPrice("claude-sonnet-4-6-20260101", PRICING)?.key).toBe("claude-sonnet-4-6");
  });

  it("finds nothing for an unknown model or without a table", () => {
    expect(findPrice("llama3.1:8b", PRICING)).toBeUndefined();
    expect(findPrice("gpt-5", undefined)).toBeUndefined();
  });
});

describe("costFromUsage", () => {
  it("bills input, output, cache writes and cache reads each at its own price per million tokens", () => {
    const cost = costFromUsage(
      { inputTokens: 1_000, outputTokens: 2_000, cacheCreationTokens: 10_000, cacheReadTokens: 100_000 },
      "claude-sonnet-4-6",
      PRICING,
    );
    // 1000×3 + 2000×15 + 10000×3.75 + 100000×0.3 = 3000 + 30000 + 37500 + 30000 = 100500 → $0.1005
    expect(cost).toEqual({
      inputTokens: 1_000,
      outputTokens: 2_000,
      cacheCreationTokens: 10_000,
      cacheReadTokens: 100_000,
      usd: 0.1005,
    });
  });

  it("bills cache tokens at the input price when the table gives no cache prices", () => {
    const cost = costFromUsage(
      { inputTokens: 0, outputTokens: 0, cacheCreationTokens: 400_000, cacheReadTokens: 400_000 },
      "gpt-5",
      PRICING,
    );
    expect(cost.usd).toBe(1); // 800000 × 1.25 / 1e6
  });

  it("rounds to the micro-dollar and leaves zero cache fields out", () => {
    expect(costFromUsage({ inputTokens: 1, outputTokens: 1 }, "gpt-5", PRICING)).toEqual({
      inputTokens: 1,
      outputTokens: 1,
      usd: 0.000011,
    });
  });

  it("throws MissingPriceError naming the model", () => {
    expect(() => costFromUsage({ inputTokens: 1, outputTokens: 1 }, "mystery", PRICING)).toThrow(MissingPriceError);
    expect(() => costFromUsage({ inputTokens: 1, outputTokens: 1 }, "mystery", PRICING)).toThrow(
      'no price for model "mystery"',
    );
  });
});

describe("compareReported", () => {
  it("is the difference as a share of the computed USD; warns above 20%", () => {
    expect(compareReported(1, 1.2)).toEqual({ differsBy: expect.closeTo(0.2, 10), warn: false });
    expect(compareReported(1, 1.21)).toEqual({ differsBy: expect.closeTo(0.21, 10), warn: true });
    expect(compareReported(1, 0.75)).toEqual({ differsBy: 0.25, warn: true });
    expect(compareReported(0.5, 0.5)).toEqual({ differsBy: 0, warn: false });
  });

  it("treats any reported cost against a computed zero as infinitely off, and zero against zero as equal", () => {
    expect(compareReported(0, 0.01)).toEqual({ differsBy: Number.POSITIVE_INFINITY, warn: true });
    expect(compareReported(0, 0)).toEqual({ differsBy: 0, warn: false });
  });
});

describe("settleCost", () => {
  it("sums the models, computes USD from tokens and compares it with the reported USD", () => {
    const s = settleCost(
      [
        { model: "claude-sonnet-4-6", usage: { inputTokens: 1_000, outputTokens: 1_000 } },
        { model: "gpt-5", usage: { inputTokens: 1_000, outputTokens: 0 } },
      ],
      PRICING,
      0.03,
    );
    // 3000 + 15000 + 1250 = 19250 → $0.01925; reported $0.03 is 56 % off
    expect(s.cost).toEqual({ inputTokens: 2_000, outputTokens: 1_000, usd: 0.01925, reportedUsd: 0.03 });
    expect(s.priced).toBe(true);
    expect(s.comparison).toMatchObject({ computedUsd: 0.01925, reportedUsd: 0.03, warn: true });
  });

  it("falls back to the reported USD when a model has no price, and names it", () => {
    const s = settleCost([{ model: "mystery", usage: { inputTokens: 10, outputTokens: 10 } }], PRICING, 0.5);
    expect(s).toMatchObject({ priced: false, unpriced: ["mystery"], cost: { usd: 0.5, reportedUsd: 0.5 } });
    expect(s.comparison).toBeUndefined();
  });

  it("counts unpriced tokens as zero USD when nothing was reported", () => {
    const s = settleCost([{ model: undefined, usage: { inputTokens: 10, outputTokens: 10 } }], PRICING);
    expect(s).toMatchObject({
      priced: false,
      unpriced: ["(model not named)"],
      cost: { inputTokens: 10, outputTokens: 10, usd: 0 },
    });
  });
});

describe("addCosts with the optional fields", () => {
  it("sums cache tokens and reported USD when present, and keeps plain costs plain", () => {
    expect(
      addCosts(
        { inputTokens: 1, outputTokens: 1, usd: 0.1, cacheReadTokens: 5, reportedUsd: 0.2 },
        { inputTokens: 1, outputTokens: 1, usd: 0.2 },
      ),
    ).toEqual({
      inputTokens: 2,
      outputTokens: 2,
      usd: 0.3,
      cacheReadTokens: 5,
      reportedUsd: 0.2,
    });
    expect(Object.keys(addCosts({ inputTokens: 1, outputTokens: 1, usd: 1 }))).toEqual([
      "inputTokens",
      "outputTokens",
      "usd",
    ]);
  });
});
