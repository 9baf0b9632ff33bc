/**
 * The workflow sinks squadflow's workers inject, and the workflow-side helpers that call them: a workflow
 * reports a card's end (and each time a card comes to rest) to the worker's Prometheus metrics without an
 * activity and without any event in history.
 *
 * ```ts
 * // in a workflow
 * import { reportCardFinished } from '../observability/sinks.js';
 * reportCardFinished({ status: 'DONE', cardType: 'BACKEND', attempts: 2, costUsd: 0.04 });
 * ```
 *
 * Who reports what (each card once per final status it reaches):
 * - the card workflow: DONE (src/workflows/card.ts, when it ends DONE) and CANCELLED (its cancellation
 *   path); every REJECTED / BLOCKED rest through {@link reportCardRested} — a rest is not final, the card
 *   waits for an ops `retry` or `skip`;
 * - the backlog (src/workflows/card-children.ts): FAILED, for a card workflow that failed, was terminated
 *   or timed out — the card itself cannot say so.
 *
 * The worker side is `metricsSinks()` in src/observability/metrics.ts (registered by `createWorkers`); it
 * is not called during replay, so a report is counted once (at most twice if the workflow task that made
 * it fails and is retried — Temporal's sink semantics). Importing this module from Node code is harmless;
 * the helpers themselves only work inside a workflow.
 */
import { proxySinks, type Sinks } from "@temporalio/workflow";

/** Final statuses of a card workflow, as counted by `squadflow_cards_finished_total`. */
export type CardFinalStatus = "DONE" | "CANCELLED" | "FAILED";

/** Statuses a card rests in while it waits for an ops decision (`squadflow_card_rests_total`). */
export type CardRestStatus = "REJECTED" | "BLOCKED";

/** How a card ended, as reported to the metrics sink. */
export interface CardFinishedEvent {
  /** Final status: DONE, CANCELLED or FAILED. */
  status: CardFinalStatus;
  /** The card type, e.g. `BACKEND` (label `card_type`). */
  cardType?: string;
  /** Attempts the card made in this run (absent when unknown, e.g. FAILED seen by the backlog). */
  attempts?: number;
  /** What the card cost, USD (absent when unknown). */
  costUsd?: number;
}

/** A card that came to rest REJECTED (by a human) or BLOCKED (by a dependency). */
export interface CardRestedEvent {
  status: CardRestStatus;
  /** The card type, e.g. `BACKEND` (label `card_type`). */
  cardType?: string;
}

/** The sinks of squadflow's orchestration workers. */
export interface SquadflowSinks extends Sinks {
  squadflowMetrics: {
    /** A card workflow reached a final status (once per card and status). */
    cardFinished(event: CardFinishedEvent): void;
    /** A card came to rest REJECTED or BLOCKED (each rest counts; not final). */
    cardRested(event: CardRestedEvent): void;
  };
}

/** Workflow code: reports a card's final status to the worker's metrics (no history event). */
export function reportCardFinished(event: CardFinishedEvent): void {
  proxySinks<SquadflowSinks>().squadflowMetrics.cardFinished(event);
}

/** Workflow code: reports a REJECTED / BLOCKED rest to the worker's metrics (no history event). */
export function reportCardRested(event: CardRestedEvent): void {
  proxySinks<SquadflowSinks>().squadflowMetrics.cardRested(event);
}
