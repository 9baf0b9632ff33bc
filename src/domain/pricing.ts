/**
 * USD from tokens: the price-table arithmetic of the agent-kinds issue ("Tokens are the truth; USD is
 * computed from a price table in the config … and compared with what the agent reports (log both when
 * they differ by > 20 %: agent-reported costs are known to be wrong)"). Pure: no I/O.
 *
 * Prices are USD per million tokens (`squad.pricing`, squad.ts `ModelPriceSchema`). A `Cost` splits input
 * into uncached input, cache writes and cache reads, each billed at its own price; cache writes default to
 * the input price, cache reads to the input price, when the table does not give them.
 */
import { roundUsd, type Cost } from "./cost.js";
import type { ModelPrice, Pricing } from "./squad.js";

/** Token counts of one model's usage, as providers report them (normalized to the `Cost` split). */
export interface TokenUsage {
  /** Uncached input tokens. */
  inputTokens: number;
  /** Output tokens (reasoning/thinking included). */
  outputTokens: number;
  /** Input tokens written to the prompt cache. */
  cacheCreationTokens?: number;
  /** Input tokens read from the prompt cache. */
  cacheReadTokens?: number;
}

/** Share of difference between computed and reported USD above which both are logged — the "> 20 %". */
export const REPORTED_COST_WARN_RATIO = 0.2;

/** Thrown by `costFromUsage` when the price table has no entry for a model. */
export class MissingPriceError extends Error {
  constructor(readonly model: string) {
    super(`no price for model "${model}" in squad.pricing`);
    this.name = "MissingPriceError";
  }
}

/**
 * The price of a model: the entry with its exact name, else the entry with the longest key that the model
 * name starts with (`claude-sonnet-4-5` prices `claude-sonnet-4-5-20250929`, `gpt-5` prices `gpt-5-codex`
 * unless `gpt-5-codex` has its own entry). `undefined` when none matches.
 */
export function findPrice(model: string, pricing: Pricing | undefined): { key: string; price: ModelPrice } | undefined {
  if (!pricing) return undefined;
  const exact = pricing[model];
  if (exact) return { key: model, price: exact };
  let best: string | undefined;
  for (const key of Object.keys(pricing)) {
    if (model.startsWith(key) && (best === undefined || key.length > best.length)) best = key;
  }
  return best === undefined ? undefined : { key: best, price: pricing[best]! };
}

/** USD of a usage at a price (not rounded): Σ tokens × price per million. */
export function usdAt(usage: TokenUsage, price: ModelPrice): number {
  const cacheWrite = price.cache_write_per_mtok ?? price.input_per_mtok;
  const cacheRead = price.cache_read_per_mtok ?? price.input_per_mtok;
  return (
    (usage.inputTokens * price.input_per_mtok +
      usage.outputTokens * price.output_per_mtok +
      (usage.cacheCreationTokens ?? 0) * cacheWrite +
      (usage.cacheReadTokens ?? 0) * cacheRead) /
    1_000_000
  );
}

/** A Cost with the tokens of `usage` and the given USD; cache fields only when non-zero. */
export function costOf(usage: TokenUsage, usd: number): Cost {
  const cost: Cost = { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, usd: roundUsd(usd) };
  if (usage.cacheCreationTokens) cost.cacheCreationTokens = usage.cacheCreationTokens;
  if (usage.cacheReadTokens) cost.cacheReadTokens = usage.cacheReadTokens;
  return cost;
}

/**
 * The cost of one model's usage from the price table (USD rounded to the micro-dollar).
 *
 * @throws MissingPriceError when `findPrice` finds no price for `model`.
 */
export function costFromUsage(usage: TokenUsage, model: string, pricing: Pricing | undefined): Cost {
  const found = findPrice(model, pricing);
  if (!found) throw new MissingPriceError(model);
  return costOf(usage, usdAt(usage, found.price));
}

/**
 * How far an agent-reported USD is from the computed one: `differsBy` = |reported − computed| ÷ computed
 * (a fraction: 0.25 = 25 %; `Infinity` when computed is 0 and reported is not), `warn` when it is above
 * `REPORTED_COST_WARN_RATIO` (20 %).
 */
export function compareReported(computedUsd: number, reportedUsd: number): { differsBy: number; warn: boolean } {
  const diff = Math.abs(reportedUsd - computedUsd);
  const differsBy = computedUsd === 0 ? (diff === 0 ? 0 : Number.POSITIVE_INFINITY) : diff / computedUsd;
  return { differsBy, warn: differsBy > REPORTED_COST_WARN_RATIO };
}

/** One model's share of a run. */
export interface ModelUsage {
  /** The model name the price is looked up by; `undefined` when neither agent nor config names one. */
  model: string | undefined;
  usage: TokenUsage;
}

/** The settled cost of a run: what to record, and what the activity should log. */
export interface SettledCost {
  cost: Cost;
  /** True when every model of the run had a price, so `cost.usd` is computed from tokens. */
  priced: boolean;
  /** Models without a price (logged as a warning: budgets cannot count them). */
  unpriced: string[];
  /** Computed vs reported, when both are known. */
  comparison?: { computedUsd: number; reportedUsd: number; differsBy: number; warn: boolean };
}

/**
 * Settles a run's cost from its per-model usage — the rule of the agent-kinds issue:
 * - tokens are summed over the models;
 * - when every model has a price, `usd` is computed from the tokens, and compared with `reportedUsd`
 *   when the agent reported one (`comparison.warn` above 20 %);
 * - otherwise `usd` is the reported USD when there is one (the best available figure), else the sum of
 *   the priced parts (unpriced parts count 0) — and `unpriced` names the models, for a warning.
 * `reportedUsd` is kept in the cost (rounded) whenever given.
 */
export function settleCost(
  parts: readonly ModelUsage[],
  pricing: Pricing | undefined,
  reportedUsd?: number,
): SettledCost {
  const total: TokenUsage = { inputTokens: 0, outputTokens: 0, cacheCreationTokens: 0, cacheReadTokens: 0 };
  let computed = 0;
  const unpriced: string[] = [];
  for (const { model, usage } of parts) {
    total.inputTokens += usage.inputTokens;
    total.outputTokens += usage.outputTokens;
    total.cacheCreationTokens! += usage.cacheCreationTokens ?? 0;
    total.cacheReadTokens! += usage.cacheReadTokens ?? 0;
    const found = model === undefined ? undefined : findPrice(model, pricing);
    if (found) computed += usdAt(usage, found.price);
    else unpriced.push(model ?? "(model not named)");
  }
  const priced = unpriced.length === 0;
  const usd = priced ? computed : (reportedUsd ?? computed);
  const cost = costOf(total, usd);
  if (reportedUsd !== undefined) cost.reportedUsd = roundUsd(reportedUsd);
  const result: SettledCost = { cost, priced, unpriced };
  if (priced && reportedUsd !== undefined) {
    const computedUsd = roundUsd(computed);
    result.comparison = {
      computedUsd,
      reportedUsd: roundUsd(reportedUsd),
      ...compareReported(computedUsd, reportedUsd),
    };
  }
  return result;
}
