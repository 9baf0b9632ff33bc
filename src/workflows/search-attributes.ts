/**
 * Keeps a card's search attributes current (PRODUCT.md "Contracts"), so that
 * `temporal workflow list --query 'CardStatus="AWAITING_HUMAN"'` is the review queue.
 */
import type { SearchAttributePair } from "@temporalio/common";
import { condition, upsertSearchAttributes } from "@temporalio/workflow";
import { PRIORITY_KEYS } from "../domain/priority.js";
import type { CardSpec, CardStatus } from "../domain/index.js";
import {
  BacklogIdKey,
  CardAttemptKey,
  CardCostAlertKey,
  CardCostUsdKey,
  CardIdKey,
  CardPriorityKey,
  CardStatusKey,
  CardTypeKey,
} from "../temporal/search-attributes.js";

/** The search attributes a card (or correction) workflow starts with: identity plus status TODO. */
export function initialCardAttributes(backlogId: string, card: CardSpec, cardId = card.id): SearchAttributePair[] {
  return [
    { key: BacklogIdKey, value: backlogId },
    { key: CardIdKey, value: cardId },
    { key: CardTypeKey, value: card.type },
    { key: CardPriorityKey, value: PRIORITY_KEYS[card.priority] },
    { key: CardStatusKey, value: "TODO" },
    { key: CardAttemptKey, value: 0 },
    { key: CardCostUsdKey, value: 0 },
  ];
}

/** Upserts the mutable card attributes: status, attempt, cost (USD). */
export function upsertCardProgress(status: CardStatus, attempt: number, costUsd: number): void {
  upsertSearchAttributes([
    { key: CardStatusKey, value: status },
    { key: CardAttemptKey, value: attempt },
    { key: CardCostUsdKey, value: costUsd },
  ]);
}

/** The mutable search attributes of a card: status, attempt, cost (USD), cost alert. */
export interface CardProgress {
  status: CardStatus;
  attempt: number;
  costUsd: number;
  costAlert: boolean;
}

/**
 * Keeps a card's mutable search attributes current with the fewest upserts: each is a history event and a
 * visibility write, so values are collected during a workflow task and upserted once, when its code has
 * run (conditions are checked only once every microtask has settled), and only those that differ from
 * what the workflow already shows. What `startChild` set (identity, TODO, attempt 0, $0) is not upserted
 * again.
 */
export class CardAttributes {
  private wanted: CardProgress;
  private pending = false;

  /** @param shown what the workflow shows now (the start's search attributes). */
  constructor(private shown: CardProgress) {
    this.wanted = { ...shown };
  }

  /** Asks for these values; they are upserted, if changed, once the current workflow task's code has run. */
  show(progress: Partial<CardProgress>): void {
    Object.assign(this.wanted, progress);
    if (this.pending) return;
    this.pending = true;
    const flush = () => this.flush();
    // Two passes of the condition loop: the code that a condition unblocked in the first (a pause lifted,
    // a decision taken) has run by the second.
    condition(() => true)
      .then(() => condition(() => true))
      .then(flush, flush);
  }

  /** Upserts what changed now (call before the workflow completes: nothing may follow its completion). */
  flush(): void {
    this.pending = false;
    const { wanted, shown } = this;
    const changes: SearchAttributePair[] = [];
    if (wanted.status !== shown.status) changes.push({ key: CardStatusKey, value: wanted.status });
    if (wanted.attempt !== shown.attempt) changes.push({ key: CardAttemptKey, value: wanted.attempt });
    if (wanted.costUsd !== shown.costUsd) changes.push({ key: CardCostUsdKey, value: wanted.costUsd });
    if (wanted.costAlert !== shown.costAlert) changes.push({ key: CardCostAlertKey, value: wanted.costAlert });
    if (changes.length > 0) upsertSearchAttributes(changes);
    this.shown = { ...wanted };
  }
}
