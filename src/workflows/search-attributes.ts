/**
 * Keeps a card's search attributes current (PRODUCT.md "Contracts"), so that
 * `temporal workflow list --query 'CardStatus="AWAITING_HUMAN"'` is the review queue.
 */
import type { SearchAttributePair } from '@temporalio/common';
import { upsertSearchAttributes } from '@temporalio/workflow';
import { PRIORITY_KEYS, type CardSpec, type CardStatus } from '../domain/index.js';
import {
  BacklogIdKey,
  CardAttemptKey,
  CardCostUsdKey,
  CardIdKey,
  CardPriorityKey,
  CardStatusKey,
  CardTypeKey,
} from '../temporal/search-attributes.js';

/** The search attributes a card (or correction) workflow starts with: identity plus status TODO. */
export function initialCardAttributes(backlogId: string, card: CardSpec, cardId = card.id): SearchAttributePair[] {
  return [
    { key: BacklogIdKey, value: backlogId },
    { key: CardIdKey, value: cardId },
    { key: CardTypeKey, value: card.type },
    { key: CardPriorityKey, value: PRIORITY_KEYS[card.priority] },
    { key: CardStatusKey, value: 'TODO' },
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
