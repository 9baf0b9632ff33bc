/**
 * A backlog's cards as child workflows, shared by the backlog workflow (backlogs of one page) and the
 * backlog shard workflow (one page of a big backlog): starts them all (those that wait for a dependency
 * first, see `startAll`), waits for each to end and
 * records its outcome, starts a FAILED one again on `retry` / `skip`, and passes pause and budget on to
 * those still running. What the cards tell each other goes through the {@link DependencyRelay}. Workflow
 * code.
 */
import {
  CancelledFailure,
  ParentClosePolicy,
  condition,
  isCancellation,
  patched,
  setCurrentDetails,
  setHandler,
  startChild,
  type ChildWorkflowHandle,
} from "@temporalio/workflow";
import { reverseDependencyOrder, startWaves } from "../domain/pages.js";
import { dependentsOf } from "../domain/graph.js";
import { cardWorkflowId } from "../domain/ids.js";
import { PRIORITY_KEYS, cardPriorityKey } from "../domain/priority.js";
import { parseFailedCardDecision } from "../domain/review.js";
import { backlogCurrentDetails, cardDetails, cardSummary } from "../domain/ui-metadata.js";
import type {
  AuditEntry,
  CardOutcome,
  CardPlan,
  DependencyArtifacts,
  FailedCardDecision,
  OpsDecision,
} from "../domain/index.js";
import type { BacklogCardEntry, BacklogSource, BacklogState } from "../domain/backlog-state.js";
import type { ActivityQueues } from "./activities.js";
import { endedWithoutOutcome, leanOutcome, newBacklogState, tallyCards, type Tally } from "./backlog-results.js";
import { cardWorkflow, type CardRestart } from "./card.js";
import { DependencyRelay } from "./dependency-relay.js";
import { reportCardFinished } from "../observability/sinks.js";
import {
  backlogBudgetExhaustedSignal,
  cardReopenedSignal,
  cardSettledSignal,
  retryFailedCardUpdate,
  setPausedSignal,
  skipFailedCardUpdate,
} from "./messages.js";
import { initialCardAttributes } from "./search-attributes.js";

/** What {@link CardChildren} runs. */
export interface CardChildrenInput {
  backlogId: string;
  cards: CardPlan[];
  done: DependencyArtifacts[];
  queues: ActivityQueues;
  source: BacklogSource;
  /** Start paused (a shard started while its backlog is paused). */
  paused?: boolean;
  /** Card id → ids of the cards that depend on it, across pages (a shard); absent: computed from `cards`. */
  dependents?: Record<string, string[]>;
  /** A shard's page number. */
  shardIndex?: number;
}

/** The card child workflows of a backlog or shard, and its state (the `backlogState` query's answer). */
export class CardChildren {
  readonly state: BacklogState;
  private readonly entries: Map<string, BacklogCardEntry>;
  private readonly handles = new Map<string, ChildWorkflowHandle<typeof cardWorkflow>>();
  private readonly relay: DependencyRelay;
  /** FAILED cards a `retry` or `skip` was accepted for, until their new run has started. */
  private readonly restarts = new Map<string, { kind: "retry" | "skip"; decision: OpsDecision }>();

  constructor(private readonly input: CardChildrenInput) {
    this.state = newBacklogState({ ...input, paused: input.paused ?? false }, { shardIndex: input.shardIndex });
    this.entries = new Map(this.state.cards.map((e) => [e.cardId, e]));
    this.relay = new DependencyRelay({
      backlogId: input.backlogId,
      entries: this.entries,
      dependents: input.dependents
        ? new Map(Object.entries(input.dependents))
        : dependentsOf(input.cards.map((p) => p.card)),
      handleOf: (cardId) => this.handles.get(cardId),
    });
    this.showProgress();
  }

  /** Shows the cards' progress in the Temporal UI's current details (worker memory only: no history event). */
  showProgress(): void {
    setCurrentDetails(backlogCurrentDetails(this.tally(), this.state));
  }

  /**
   * Registers the messages about the cards (backlog and shard workflows alike): the `cardSettled` and
   * `cardReopened` signals (to the relay) and the `retryFailedCard` and `skipFailedCard` updates.
   */
  setHandlers(): void {
    setHandler(cardSettledSignal, (s) => this.relay.onCardSettled(s));
    setHandler(cardReopenedSignal, (r) => this.relay.onCardReopened(r));
    for (const [update, kind] of [
      [retryFailedCardUpdate, "retry"],
      [skipFailedCardUpdate, "skip"],
    ] as const) {
      setHandler(update, (d) => this.restart(kind, d), { validator: (d) => void this.assertRestart(d) });
    }
  }

  /**
   * Starts every card; each waits for its dependency signals as TODO. Cards that relay themselves are
   * started in two waves ({@link startWaves}): every card that waits for a dependency (dependents first),
   * then, once those have all started, the cards that can run at once — so no card runs while the others
   * are being started. Backlogs started before that (`patched('ready-cards-last')`) started them in one
   * workflow task, in reverse dependency order; backlogs whose cards do not relay themselves, highest
   * priority first.
   */
  async startAll(): Promise<void> {
    if (!this.relay.cardsRelay) {
      const order = [...this.input.cards].sort(
        (a, b) => PRIORITY_KEYS[a.card.priority] - PRIORITY_KEYS[b.card.priority],
      );
      await Promise.all(order.map((plan) => this.start(plan)));
    } else if (patched("ready-cards-last")) {
      const { waiting, ready } = startWaves(this.input.cards);
      await Promise.all(waiting.map((plan) => this.start(plan)));
      await Promise.all(ready.map((plan) => this.start(plan)));
    } else {
      await Promise.all(reverseDependencyOrder(this.input.cards).map((plan) => this.start(plan)));
    }
    this.relay.allStarted();
  }

  private async start(plan: CardPlan, restart?: CardRestart): Promise<void> {
    const paused = this.state.paused;
    const handle = await startChild(cardWorkflow, {
      workflowId: cardWorkflowId(this.input.backlogId, plan.card.id),
      args: [
        {
          plan,
          queues: this.input.queues,
          paused,
          attributesSetAtStart: true,
          ...(restart ? { restart } : {}),
          ...this.relay.relayInput(plan.card.id),
        },
      ],
      typedSearchAttributes: initialCardAttributes(this.input.backlogId, plan.card),
      staticSummary: cardSummary(plan.card),
      staticDetails: cardDetails(plan.card, plan),
      priority: { priorityKey: cardPriorityKey(plan.card.priority) },
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
    });
    this.handles.set(plan.card.id, handle);
    // A pause (or resume) accepted while the card was being started was broadcast without it: tell it now.
    if (this.state.paused !== paused && patched("pause-while-starting")) {
      await handle.signal(setPausedSignal, { paused: this.state.paused }).catch(() => undefined);
    }
  }

  /** Waits for every card workflow to end (a failed or cancelled one blocks its dependents). */
  async awaitAll(): Promise<void> {
    await Promise.all(this.input.cards.map((plan) => this.awaitEnd(plan)));
  }

  /**
   * Waits for a card workflow to end and records its outcome. A card whose run FAILED (failed, was
   * terminated, timed out) rests here, its dependents BLOCKED, until `retry` or `skip` starts a new run of
   * it (see `restart`) or the backlog is cancelled.
   */
  private async awaitEnd(plan: CardPlan): Promise<void> {
    const entry = this.entries.get(plan.card.id)!;
    for (;;) {
      const handle = this.handles.get(plan.card.id);
      let outcome: CardOutcome;
      try {
        if (!handle) throw new CancelledFailure("cancelled before its workflow started");
        outcome = await handle.result();
      } catch (err) {
        outcome = endedWithoutOutcome(plan.card.id, err);
        if (outcome.status === "FAILED") reportCardFinished({ status: "FAILED", cardType: entry.type }); // metrics sink, not in history
      }
      // Lean (no card state) in shards and in backlogs whose cards relay themselves: the card's own result
      // has its state, and the backlog's query answer and result stay small.
      entry.outcome = this.input.shardIndex === undefined && !this.relay.cardsRelay ? outcome : leanOutcome(outcome);
      this.showProgress();
      await this.relay.cardEnded(outcome, handle !== undefined);
      // Backlogs started before FAILED cards could be restarted keep ending that way (`patched`): replay.
      if (outcome.status !== "FAILED" || !handle || !patched("failed-cards-rest")) return;
      try {
        await condition(() => this.restarts.has(plan.card.id));
      } catch (err) {
        if (isCancellation(err)) return; // the backlog was cancelled: the card stays FAILED
        throw err;
      }
      const { kind, decision } = this.restarts.get(plan.card.id)!;
      entry.outcome = undefined;
      this.showProgress();
      await this.relay.newRun(plan.card.id, kind === "retry");
      await this.start(plan, {
        kind,
        decision,
        previousRunId: handle.firstExecutionRunId,
        failure: outcome.message ?? "failed",
      });
      this.restarts.delete(plan.card.id);
    }
  }

  /**
   * Update validator of `retryFailedCard` / `skipFailedCard`: the card must be one of this workflow's, its
   * run must have FAILED, and no restart of it may be under way.
   * @throws Error naming the card and why (unknown card, not FAILED, already restarting, bad payload).
   */
  assertRestart(raw: unknown): FailedCardDecision {
    const d = parseFailedCardDecision(raw);
    const entry = this.entries.get(d.cardId);
    const where =
      this.input.shardIndex === undefined
        ? `backlog ${this.input.backlogId}`
        : `shard ${this.input.shardIndex} of backlog ${this.input.backlogId}`;
    if (!entry) throw new Error(`card "${d.cardId}" is not in ${where}`);
    if (this.restarts.has(d.cardId)) throw new Error(`card ${d.cardId} is already being started again`);
    if (entry.outcome?.status !== "FAILED") {
      throw new Error(
        `card ${d.cardId} has not failed (${entry.outcome ? `it ended ${entry.outcome.status}` : "its workflow is running"}): send retry/skip to the card's own workflow`,
      );
    }
    return d;
  }

  /**
   * Accepts a `retry` (a fresh attempt; BLOCKED dependents wait again) or `skip` (DONE by decision;
   * dependents proceed) of a FAILED card: `awaitEnd` starts a new run of it, which takes over the failed
   * run's state and records the decision in the card's audit log. Recorded in this workflow's audit log too.
   */
  restart(kind: "retry" | "skip", d: FailedCardDecision): AuditEntry {
    this.restarts.set(d.cardId, { kind, decision: { reviewer: d.reviewer, reason: d.reason } });
    const entry: AuditEntry = {
      at: new Date().toISOString(),
      actor: d.reviewer,
      action: `${kind} ${d.cardId}`,
      reason: d.reason,
    };
    this.state.auditLog.push(entry);
    return entry;
  }

  /** Sends a signal to every card still running (pause, budget). */
  private async broadcast(send: (h: ChildWorkflowHandle<typeof cardWorkflow>) => Promise<void>): Promise<void> {
    await Promise.all(
      [...this.handles].map(async ([id, handle]) => {
        if (this.entries.get(id)?.outcome) return;
        await send(handle).catch(() => undefined);
      }),
    );
  }

  /** The backlog budget is used up: tells every running card (once). */
  async budgetExhausted(spentUsd: number): Promise<void> {
    if (this.state.budgetExhausted) return;
    this.state.budgetExhausted = true;
    this.showProgress();
    await this.broadcast((h) => h.signal(backlogBudgetExhaustedSignal, { spentUsd }));
  }

  /** Pauses or resumes every card still running. */
  async setPaused(paused: boolean): Promise<void> {
    this.state.paused = paused;
    this.showProgress();
    await this.broadcast((h) => h.signal(setPausedSignal, { paused }));
  }

  /** Cards per final status, and the USD they spent (for `backlog.finished`). */
  tally(): Tally {
    return tallyCards(this.state.cards);
  }
}
