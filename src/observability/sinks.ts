/**
 * The workflow sinks squadflow's workers inject (type only, so workflow code may import it): a workflow
 * reports a card's end to the worker's Prometheus metrics without an activity and without any event in
 * history.
 *
 * ```ts
 * // in a workflow
 * import { proxySinks } from '@temporalio/workflow';
 * import type { SquadflowSinks } from '../observability/sinks.js';
 * const { squadflowMetrics } = proxySinks<SquadflowSinks>();
 * squadflowMetrics.cardFinished({ status: 'DONE', cardType: 'BACKEND', attempts: 2, costUsd: 0.04 });
 * ```
 *
 * The worker side is `metricsSinks()` in src/observability/metrics.ts (registered by `createWorkers`); it
 * is not called during replay, so a card is counted once (at most twice if its last workflow task fails
 * and is retried — Temporal's sink semantics).
 */
import type { Sinks } from '@temporalio/workflow';

/** How a card ended, as reported to the metrics sink. */
export interface CardFinishedEvent {
  /** Final status: DONE, REJECTED, BLOCKED, FAILED, CANCELLED. */
  status: string;
  /** The card type, e.g. `BACKEND` (label `card_type`). */
  cardType?: string;
  /** Attempts the card made in this run. */
  attempts?: number;
  /** What the card cost, USD. */
  costUsd?: number;
}

/** The sinks of squadflow's orchestration workers. */
export interface SquadflowSinks extends Sinks {
  squadflowMetrics: {
    /** A card workflow reached a final status. */
    cardFinished(event: CardFinishedEvent): void;
  };
}
