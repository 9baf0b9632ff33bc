/**
 * A backlog's state and results, shared by the backlog workflow (paged or not) and the backlog shard
 * workflow: the state each starts with (the `backlogState` query's answer), what is kept of an ended card,
 * the tally of final statuses and cost for `backlog.finished`, and how a cancelled run ends. Workflow code.
 */
import { CancellationScope, CancelledFailure, isCancellation } from "@temporalio/workflow";
import { ZERO_COST, roundUsd } from "../domain/cost.js";
import { cardWorkflowId } from "../domain/ids.js";
import type { CardOutcome, CardPlan, DependencyArtifacts } from "../domain/index.js";
import type { BacklogCardEntry, BacklogSource, BacklogState } from "../domain/backlog-state.js";

/** What a backlog or shard starts its state from. */
export interface BacklogStateInit {
  backlogId: string;
  cards: CardPlan[];
  done: DependencyArtifacts[];
  source: BacklogSource;
  paused: boolean;
}

/** The state a backlog or shard starts with: every card not yet ended, nothing spent, not finished. */
export function newBacklogState(
  init: BacklogStateInit,
  extra: Pick<BacklogState, "pages" | "shards" | "shardIndex" | "repository"> = {},
): BacklogState {
  return {
    backlogId: init.backlogId,
    startedAt: new Date().toISOString(),
    cards: init.cards.map((p): BacklogCardEntry => ({
      cardId: p.card.id,
      workflowId: cardWorkflowId(init.backlogId, p.card.id),
      type: p.card.type,
      dependencies: p.card.dependencies,
    })),
    done: init.done,
    source: init.source,
    paused: init.paused,
    auditLog: [],
    spentUsd: 0,
    budgetExhausted: false,
    finished: false,
    ...extra,
  };
}

/** A card outcome without the card's full state (what a backlog keeps of an ended card; read the card workflow's result for the rest). */
export function leanOutcome(outcome: CardOutcome): CardOutcome {
  const { state: _state, ...lean } = outcome;
  return lean;
}

/**
 * The outcome of a card whose workflow did not return one: CANCELLED (cancelled, or never started because
 * the backlog was cancelled first), else FAILED (failed, terminated, timed out), with why.
 */
export function endedWithoutOutcome(cardId: string, err: unknown): CardOutcome {
  const cancelled = isCancellation(err);
  return {
    cardId,
    status: cancelled ? "CANCELLED" : "FAILED",
    attempt: 0,
    artifacts: [],
    cost: { ...ZERO_COST },
    message: cancelled ? (err as Error).message : failureText(err),
  };
}

/** The messages of a failure and its causes ("Child Workflow execution failed: Terminated: …"). */
function failureText(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error && parts.length < 5; e = (e as Error & { cause?: unknown }).cause)
    parts.push(e.message);
  return parts.join(": ") || String(err);
}

/** Cards per final status (RUNNING: not ended), and the USD they spent (for `backlog.finished`). */
export interface Tally {
  counts: Record<string, number>;
  costUsd: number;
}

/** The tally of a backlog's or shard's cards. */
export function tallyCards(cards: readonly BacklogCardEntry[]): Tally {
  const counts: Record<string, number> = {};
  for (const c of cards) counts[c.outcome?.status ?? "RUNNING"] = (counts[c.outcome?.status ?? "RUNNING"] ?? 0) + 1;
  return { counts, costUsd: roundUsd(cards.reduce((sum, c) => sum + (c.outcome?.cost.usd ?? 0), 0)) };
}

/**
 * Ends a run that was cancelled (its cards were cancelled with it and have ended CANCELLED) as cancelled:
 * @throws CancelledFailure with `message` when the current scope was cancelled; returns otherwise.
 */
export function endIfCancelled(message: string): void {
  if (CancellationScope.current().consideredCancelled) throw new CancelledFailure(message);
}
