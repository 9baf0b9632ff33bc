/**
 * Cost tracking arithmetic: tokens are counted as integers, USD as numbers rounded to 1e-6 (a
 * micro-dollar) so that sums of many attempts do not drift. Tokens are the truth; USD is computed from
 * them with the squad's price table (src/domain/pricing.ts) — agent-reported costs are kept beside it in
 * `reportedUsd`, for comparison only. Pure and free of libraries (workflow code imports it); the schema
 * of a cost read back from a file is in cost-schema.ts.
 */
/** Tokens and USD spent by one run or summed over several. */
export interface Cost {
  /** Input (prompt) tokens, not counting the cache tokens below. */
  inputTokens: number;
  /** Output (completion) tokens, reasoning/thinking tokens included. */
  outputTokens: number;
  /** US dollars: computed from the tokens and the price table when the model has a price, else as reported. */
  usd: number;
  /** Input tokens written to the provider's prompt cache (billed at the cache-write price). */
  cacheCreationTokens?: number;
  /** Input tokens read from the provider's prompt cache (billed at the cache-read price). */
  cacheReadTokens?: number;
  /** What the agent itself reported, USD (Claude Code `total_cost_usd`, a `command` agent's `cost_usd`). */
  reportedUsd?: number;
}

/** A cost of zero. */
export const ZERO_COST: Cost = Object.freeze({ inputTokens: 0, outputTokens: 0, usd: 0 });

/** Rounds USD to the micro-dollar. */
export function roundUsd(usd: number): number {
  return Math.round(usd * 1e6) / 1e6;
}

/**
 * Sum of costs. The optional fields (cache tokens, reported USD) appear in the sum only when at least one
 * of the costs has them, so sums of plain `{ inputTokens, outputTokens, usd }` stay plain.
 */
export function addCosts(...costs: Cost[]): Cost {
  const sum: Cost = costs.reduce<Cost>(
    (acc, c) => ({
      inputTokens: acc.inputTokens + c.inputTokens,
      outputTokens: acc.outputTokens + c.outputTokens,
      usd: roundUsd(acc.usd + c.usd),
    }),
    ZERO_COST,
  );
  const optional = (pick: (c: Cost) => number | undefined): number | undefined => {
    const present = costs.map(pick).filter((v): v is number => v !== undefined);
    return present.length === 0 ? undefined : present.reduce((a, b) => a + b, 0);
  };
  const cacheCreationTokens = optional((c) => c.cacheCreationTokens);
  const cacheReadTokens = optional((c) => c.cacheReadTokens);
  const reportedUsd = optional((c) => c.reportedUsd);
  if (cacheCreationTokens !== undefined) sum.cacheCreationTokens = cacheCreationTokens;
  if (cacheReadTokens !== undefined) sum.cacheReadTokens = cacheReadTokens;
  if (reportedUsd !== undefined) sum.reportedUsd = roundUsd(reportedUsd);
  return sum;
}

/**
 * The part of a session's cumulative cost spent after `before` (an earlier total of the same session):
 * every token count and USD amount less the earlier one, never below 0, USD rounded like `roundUsd`.
 * Used for a resumed agent session, whose CLI reports the whole session's usage (Claude Code, Codex).
 */
export function costSince(total: Cost, before: Cost): Cost {
  const less = (a: number | undefined, b: number | undefined) => Math.max(0, (a ?? 0) - (b ?? 0));
  return {
    inputTokens: less(total.inputTokens, before.inputTokens),
    outputTokens: less(total.outputTokens, before.outputTokens),
    usd: roundUsd(less(total.usd, before.usd)),
    ...(total.cacheCreationTokens !== undefined && {
      cacheCreationTokens: less(total.cacheCreationTokens, before.cacheCreationTokens),
    }),
    ...(total.cacheReadTokens !== undefined && {
      cacheReadTokens: less(total.cacheReadTokens, before.cacheReadTokens),
    }),
    ...(total.reportedUsd !== undefined && { reportedUsd: roundUsd(less(total.reportedUsd, before.reportedUsd)) }),
  };
}
