/**
 * Budgets: pure helpers for the budget gate the card workflow runs BEFORE each owner and judge run — the
 * agent-kinds issue: "Budgets per card and per backlog: checked before each owner/judge run (a run that
 * would start over budget escalates the card instead)". Amounts are USD; a budget of `undefined` means
 * no limit. No I/O, no Temporal: workflows and activities both import it.
 */
import type { AttemptRecord } from "./attempt.js";
import { addCosts, roundUsd, type Cost } from "./cost.js";
import type { BudgetConfig } from "./squad.js";

/** The outcome of a budget check: may the run start, and with how much left (USD)? */
export type BudgetCheck =
  | {
      ok: true;
      /** USD left before the run (budget − spent); `undefined` when there is no budget. */
      remainingUsd?: number;
    }
  | {
      ok: false;
      /** Why not, for the audit log and the escalation: names the budget, what was spent, the estimate. */
      reason: string;
      /** USD left (≤ 0 when exhausted). */
      remainingUsd: number;
    };

function usd(n: number): string {
  return `$${roundUsd(n).toFixed(n !== 0 && Math.abs(n) < 0.01 ? 6 : 2)}`;
}

/**
 * May a run start? Not when `spentUsd` already reached `budgetUsd` (exhausted), nor when `spentUsd +
 * estimateUsd` would pass it ("a run that would start over budget"). No budget → always ok.
 *
 * @param spentUsd USD spent so far (≥ 0)
 * @param budgetUsd the limit, USD; `undefined` = unlimited
 * @param estimateUsd expected USD of the next run (default 0: only an exhausted budget stops it)
 * @param what names the budget in the reason (default `card budget`)
 */
export function budgetCheck(
  spentUsd: number,
  budgetUsd: number | undefined,
  estimateUsd = 0,
  what = "card budget",
): BudgetCheck {
  if (budgetUsd === undefined) return { ok: true };
  const remainingUsd = roundUsd(budgetUsd - spentUsd);
  if (remainingUsd <= 0) {
    return { ok: false, reason: `${what} exhausted: spent ${usd(spentUsd)} of ${usd(budgetUsd)}`, remainingUsd };
  }
  if (estimateUsd > 0 && roundUsd(spentUsd + estimateUsd) > budgetUsd) {
    return {
      ok: false,
      reason: `${what} would be exceeded: spent ${usd(spentUsd)} of ${usd(budgetUsd)}, the next run is estimated at ${usd(estimateUsd)}`,
      remainingUsd,
    };
  }
  return { ok: true, remainingUsd };
}

/** What the gate before one run looks at. */
export interface RunBudgetInput {
  /** USD this card spent so far (every attempt, owner and judge). */
  cardSpentUsd: number;
  /** The card's budget (see `cardBudgetUsd`); `undefined` = unlimited. */
  cardBudgetUsd?: number;
  /** USD the whole backlog spent so far, as far as known. */
  backlogSpentUsd?: number;
  /** `squad.budget.per_backlog_usd`; `undefined` = unlimited. */
  backlogBudgetUsd?: number;
  /** Expected USD of the run about to start (see `estimateRunUsd`); default 0. */
  estimateUsd?: number;
}

/**
 * The budget gate before an owner or judge run: the card budget, then the backlog budget. On success,
 * `remainingUsd` is the smaller of what both leave — pass it as `OwnerInput.budgetUsd` (claude-code turns it
 * into `--max-budget-usd`). On failure, escalate the card with `reason` instead of starting the run.
 */
export function runBudgetCheck(input: RunBudgetInput): BudgetCheck & { scope?: "card" | "backlog" } {
  const estimate = input.estimateUsd ?? 0;
  const card = budgetCheck(input.cardSpentUsd, input.cardBudgetUsd, estimate, "card budget");
  if (!card.ok) return { ...card, scope: "card" };
  const backlog = budgetCheck(input.backlogSpentUsd ?? 0, input.backlogBudgetUsd, estimate, "backlog budget");
  if (!backlog.ok) return { ...backlog, scope: "backlog" };
  const left = [card.remainingUsd, backlog.remainingUsd].filter((r): r is number => r !== undefined);
  return left.length === 0 ? { ok: true } : { ok: true, remainingUsd: Math.min(...left) };
}

/** A card's budget, USD: its own `budget_usd`, else `squad.budget.per_card_usd`, else unlimited. */
export function cardBudgetUsd(
  cardBudget: number | undefined,
  squadBudget: BudgetConfig | undefined,
): number | undefined {
  return cardBudget ?? squadBudget?.per_card_usd;
}

/**
 * A conservative estimate of the next run, USD: the most expensive of the previous runs of the same kind
 * (0 with none). Use the owner runs' costs for the owner gate, the judge verdicts' costs for the judge gate.
 */
export function estimateRunUsd(previous: readonly Cost[]): number {
  return previous.reduce((max, c) => Math.max(max, c.usd), 0);
}

/**
 * The costs of a card's earlier owner and judge runs, for `estimateRunUsd`: an attempt's owner run cost
 * what the attempt cost minus its verdicts' costs; a judge run is what an attempt's `llm_judge` and
 * `peer_review` verdicts cost together (they run side by side behind one gate), when they cost anything.
 */
export function previousRuns(attempts: readonly AttemptRecord[]): { ownerRuns: Cost[]; judgeRuns: Cost[] } {
  const verdictCosts = (a: AttemptRecord) => a.verdicts.flatMap((v) => (v.cost ? [v.cost] : []));
  return {
    ownerRuns: attempts.map((a) => ({
      ...a.cost,
      usd: roundUsd(a.cost.usd - verdictCosts(a).reduce((sum, c) => sum + c.usd, 0)),
    })),
    judgeRuns: attempts.flatMap((a) => {
      const costs = a.verdicts.flatMap((v) =>
        (v.validator === "llm_judge" || v.validator === "peer_review") && v.cost ? [v.cost] : [],
      );
      return costs.length > 0 ? [addCosts(...costs)] : [];
    }),
  };
}

/** True when a card's cost is over its alert threshold (strictly above — PRODUCT.md "a card over its alert threshold raises an alert"). */
export function isCostAlert(costUsd: number, alertUsd: number): boolean {
  return costUsd > alertUsd;
}

/**
 * What a card has spent before a run, for the budget gate (`runBudgetCheck`): its USD, the costs of its
 * earlier owner and judge runs (estimates of the next ones, `estimateRunUsd`), and what it heard of the
 * backlog budget (USD). Given to an attempt and to a council.
 */
export interface SpentBefore {
  cardUsd: number;
  ownerRuns: Cost[];
  judgeRuns?: Cost[];
  backlogExhausted?: boolean;
  backlogSpentUsd?: number;
  backlogBudgetUsd?: number;
}
