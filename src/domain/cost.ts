/**
 * Cost tracking arithmetic: tokens are counted as integers, USD as numbers rounded to 1e-6 (a
 * micro-dollar) so that sums of many attempts do not drift.
 */

/** Tokens and USD spent by one run or summed over several. */
export interface Cost {
  /** Input (prompt) tokens. */
  inputTokens: number;
  /** Output (completion) tokens. */
  outputTokens: number;
  /** US dollars. */
  usd: number;
}

/** A cost of zero. */
export const ZERO_COST: Cost = Object.freeze({ inputTokens: 0, outputTokens: 0, usd: 0 });

/** Rounds USD to the micro-dollar. */
export function roundUsd(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}

/** Sum of costs. */
export function addCosts(...costs: Cost[]): Cost {
  return costs.reduce<Cost>(
    (sum, c) => ({
      inputTokens: sum.inputTokens + c.inputTokens,
      outputTokens: sum.outputTokens + c.outputTokens,
      usd: roundUsd(sum.usd + c.usd),
    }),
    ZERO_COST,
  );
}
