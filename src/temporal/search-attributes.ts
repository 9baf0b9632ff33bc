/**
 * squadflow's custom search attributes — PRODUCT.md "Contracts": registered on the embedded dev server
 * and by the compose setup, kept current by the card workflow, queried by ops
 * (`temporal workflow list --query 'CardStatus="AWAITING_HUMAN"'`). Only imports `@temporalio/common`,
 * so workflows can use it.
 */
import { defineSearchAttributeKey, SearchAttributeType } from "@temporalio/common";

/** The backlog a workflow belongs to (Keyword). */
export const BacklogIdKey = defineSearchAttributeKey("BacklogId", SearchAttributeType.KEYWORD);
/** The card id (Keyword). */
export const CardIdKey = defineSearchAttributeKey("CardId", SearchAttributeType.KEYWORD);
/** The card type, e.g. `BACKEND` (Keyword). */
export const CardTypeKey = defineSearchAttributeKey("CardType", SearchAttributeType.KEYWORD);
/** The card's lifecycle status (Keyword). */
export const CardStatusKey = defineSearchAttributeKey("CardStatus", SearchAttributeType.KEYWORD);
/** The card's current attempt, 1-based (Int). */
export const CardAttemptKey = defineSearchAttributeKey("CardAttempt", SearchAttributeType.INT);
/** The card's Temporal priority key, 1 = CRITICAL … 4 = LOW (Int). */
export const CardPriorityKey = defineSearchAttributeKey("CardPriority", SearchAttributeType.INT);
/** The card's accumulated cost, USD (Double). */
export const CardCostUsdKey = defineSearchAttributeKey("CardCostUsd", SearchAttributeType.DOUBLE);

/** True once the card's cost passed its alert threshold (Bool) — the agent-kinds issue's "visible alert". */
export const CardCostAlertKey = defineSearchAttributeKey("CardCostAlert", SearchAttributeType.BOOL);

/** Every squadflow search attribute, for registration. */
export const SEARCH_ATTRIBUTES = [
  BacklogIdKey,
  CardIdKey,
  CardTypeKey,
  CardStatusKey,
  CardAttemptKey,
  CardPriorityKey,
  CardCostUsdKey,
  CardCostAlertKey,
] as const;
