/**
 * The card-running half of a backlog, shared by the backlog workflow (backlogs of one page) and the
 * backlog shard workflow (one page of a big backlog): starts its cards as child workflows, passes on to
 * dependents what a card could not tell them (or, in backlogs started before cards told their dependents,
 * relays every rest), waits for every card to end, fans out pause and budget. Workflow code.
 */
import {
  CancelledFailure,
  ParentClosePolicy,
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  setHandler,
  startChild,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import { roundUsd } from '../domain/cost.js';
import { EPOCH_END, isNewerMessage } from '../domain/dependency-order.js';
import { reverseDependencyOrder } from '../domain/pages.js';
import { dependentsOf } from '../domain/graph.js';
import { cardWorkflowId } from '../domain/ids.js';
import { PRIORITY_KEYS, cardPriorityKey } from '../domain/priority.js';
import { parseFailedCardDecision, parseOpsDecision } from '../domain/review.js';
import type { AuditEntry, CardOutcome, CardPlan, DependencyArtifacts, FailedCardDecision, MessageOrder, OpsDecision, SettledStatus } from '../domain/index.js';
import type { ActivityQueues } from './activities.js';
import { cardWorkflow, type CardRestart } from './card.js';
import { reportCardFinished } from '../observability/sinks.js';
import {
  backlogBudgetExhaustedSignal,
  dependencyReopenedSignal,
  dependencyResolvedSignal,
  retryFailedCardUpdate,
  setPausedSignal,
  skipFailedCardUpdate,
  type CardSettled,
} from './messages.js';
import { initialCardAttributes } from './search-attributes.js';
import { cardDetails, cardSummary } from '../domain/ui-metadata.js';
import type { BacklogCardEntry, BacklogSource, BacklogState, CardReopened } from '../domain/backlog-state.js';

export type { BacklogCardEntry, BacklogRepositoryState, BacklogSource, BacklogState, ShardEntry } from '../domain/backlog-state.js';

/** What a {@link BacklogBook} runs. */
export interface BookInput {
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

/** A card outcome without the card's full state (what a backlog keeps of an ended card; read the card workflow's result for the rest). */
export function leanOutcome(outcome: CardOutcome): CardOutcome {
  const { state: _state, ...lean } = outcome;
  return lean;
}

/** The backlog's cards: their child workflows and the relay of card outcomes to dependents. */
export class BacklogBook {
  readonly state: BacklogState;
  private readonly entries: Map<string, BacklogCardEntry>;
  private readonly handles = new Map<string, ChildWorkflowHandle<typeof cardWorkflow>>();
  private readonly dependents: Map<string, string[]>;
  /**
   * Relays run one after another, so a dependent sees "resolved" and "reopened" in the order they
   * happened — and only once every card has been started, so that no dependent can miss one.
   */
  private relays: Promise<void>;
  private markStarted!: () => void;
  /**
   * True: each card tells its dependents itself (`relay` in its input); this workflow relays only what a
   * card could not say (its run FAILED) or could not deliver (a dependent not started yet: passed on once
   * every card has started). False: backlogs started before that, replaying — this workflow relays every rest.
   */
  private readonly cardsRelay: boolean;
  /** Each card's run number here (dependency-order.ts `epoch`): +1 for every new run after a FAILED one. */
  private readonly epochs = new Map<string, number>();
  /** The newest rest/reopen message applied to each card's entry (cards that relay themselves). */
  private readonly heard = new Map<string, MessageOrder>();

  constructor(private readonly input: BookInput) {
    this.state = {
      backlogId: input.backlogId,
      startedAt: new Date().toISOString(),
      cards: input.cards.map((p) => ({
        cardId: p.card.id,
        workflowId: cardWorkflowId(input.backlogId, p.card.id),
        type: p.card.type,
        dependencies: p.card.dependencies,
      })),
      done: input.done,
      source: input.source,
      paused: input.paused ?? false,
      auditLog: [],
      spentUsd: 0,
      budgetExhausted: false,
      finished: false,
      shardIndex: input.shardIndex,
    };
    this.entries = new Map(this.state.cards.map((e) => [e.cardId, e]));
    this.dependents = input.dependents
      ? new Map(Object.entries(input.dependents))
      : dependentsOf(input.cards.map((p) => p.card));
    this.relays = new Promise<void>((resolve) => (this.markStarted = resolve));
    this.cardsRelay = patched('cards-tell-dependents');
  }

  /**
   * Starts every card at once; each waits for its dependency signals as TODO. Cards that relay themselves
   * are started in reverse dependency order (dependents first: the server creates them in that order, so a
   * card rarely comes to rest before its dependents exist), others highest priority first.
   */
  async startAll(): Promise<void> {
    const order = this.cardsRelay
      ? reverseDependencyOrder(this.input.cards)
      : [...this.input.cards].sort((a, b) => PRIORITY_KEYS[a.card.priority] - PRIORITY_KEYS[b.card.priority]);
    await Promise.all(order.map((plan) => this.start(plan)));
    this.markStarted();
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
          ...(this.cardsRelay ? { relay: { dependents: this.dependents.get(plan.card.id) ?? [], epoch: this.epochs.get(plan.card.id) ?? 0 } } : {}),
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
    if (this.state.paused !== paused && patched('pause-while-starting')) {
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
        if (!handle) throw new CancelledFailure('cancelled before its workflow started');
        outcome = await handle.result();
      } catch (err) {
        outcome = {
          cardId: plan.card.id,
          status: isCancellation(err) ? 'CANCELLED' : 'FAILED',
          attempt: 0,
          artifacts: [],
          cost: { inputTokens: 0, outputTokens: 0, usd: 0 },
          message: isCancellation(err) ? (err as Error).message : failureText(err),
        };
        if (outcome.status === 'FAILED') reportCardFinished({ status: 'FAILED', cardType: entry.type }); // metrics sink, not in history
      }
      // Lean (no card state) in shards and in backlogs whose cards relay themselves: the card's own result
      // has its state, and the backlog's query answer and result stay small.
      entry.outcome = this.input.shardIndex === undefined && !this.cardsRelay ? outcome : leanOutcome(outcome);
      if (this.cardsRelay) {
        // A card that ended without saying so (failed, terminated, cancelled unstarted) still blocks its
        // dependents: this workflow has the last word on that run.
        if (outcome.status === 'FAILED' || !handle) {
          const order = { epoch: this.epochs.get(plan.card.id) ?? 0, seq: EPOCH_END };
          await this.cardSettled({ cardId: outcome.cardId, status: outcome.status, artifacts: outcome.artifacts, ...order });
        }
      } else {
        // A card that ended without saying so (failed, terminated) still blocks its dependents.
        if (entry.settled !== outcome.status) {
          this.relay(() => this.cardSettled({ cardId: outcome.cardId, status: outcome.status, artifacts: outcome.artifacts }));
        }
        await this.relays;
      }
      // Backlogs started before FAILED cards could be restarted keep ending that way (`patched`): replay.
      if (outcome.status !== 'FAILED' || !handle || !patched('failed-cards-rest')) return;
      try {
        await condition(() => this.restarts.has(plan.card.id));
      } catch (err) {
        if (isCancellation(err)) return; // the backlog was cancelled: the card stays FAILED
        throw err;
      }
      const { kind, decision } = this.restarts.get(plan.card.id)!;
      entry.outcome = undefined;
      const epoch = (this.epochs.get(plan.card.id) ?? 0) + 1;
      if (this.cardsRelay) this.epochs.set(plan.card.id, epoch);
      // Its BLOCKED dependents wait again (a skipped card's new run tells them DONE instead).
      if (kind === 'retry') await this.cardReopened(this.cardsRelay ? { cardId: plan.card.id, epoch, seq: 0 } : { cardId: plan.card.id });
      await this.start(plan, { kind, decision, previousRunId: handle.firstExecutionRunId, failure: outcome.message ?? 'failed' });
      this.restarts.delete(plan.card.id);
    }
  }

  /** Registers the `retryFailedCard` and `skipFailedCard` updates (backlog and shard workflows alike). */
  setRestartHandlers(): void {
    for (const [update, kind] of [[retryFailedCardUpdate, 'retry'], [skipFailedCardUpdate, 'skip']] as const) {
      setHandler(update, (d) => this.restart(kind, d), { validator: (d) => void this.assertRestart(d) });
    }
  }

  /** FAILED cards a `retry` or `skip` was accepted for, until their new run has started. */
  private readonly restarts = new Map<string, { kind: 'retry' | 'skip'; decision: OpsDecision }>();

  /**
   * Update validator of `retryFailedCard` / `skipFailedCard`: the card must be one of this workflow's, its
   * run must have FAILED, and no restart of it may be under way.
   * @throws Error naming the card and why (unknown card, not FAILED, already restarting, bad payload).
   */
  assertRestart(raw: unknown): FailedCardDecision {
    const d = parseFailedCardDecision(raw);
    const entry = this.entries.get(d.cardId);
    const where = this.input.shardIndex === undefined ? `backlog ${this.input.backlogId}` : `shard ${this.input.shardIndex} of backlog ${this.input.backlogId}`;
    if (!entry) throw new Error(`card "${d.cardId}" is not in ${where}`);
    if (this.restarts.has(d.cardId)) throw new Error(`card ${d.cardId} is already being started again`);
    if (entry.outcome?.status !== 'FAILED') {
      throw new Error(`card ${d.cardId} has not failed (${entry.outcome ? `it ended ${entry.outcome.status}` : 'its workflow is running'}): send retry/skip to the card's own workflow`);
    }
    return d;
  }

  /**
   * Accepts a `retry` (a fresh attempt; BLOCKED dependents wait again) or `skip` (DONE by decision;
   * dependents proceed) of a FAILED card: `awaitEnd` starts a new run of it, which takes over the failed
   * run's state and records the decision in the card's audit log. Recorded in this workflow's audit log too.
   */
  restart(kind: 'retry' | 'skip', d: FailedCardDecision): AuditEntry {
    this.restarts.set(d.cardId, { kind, decision: { reviewer: d.reviewer, reason: d.reason } });
    const entry: AuditEntry = { at: new Date().toISOString(), actor: d.reviewer, action: `${kind} ${d.cardId}`, reason: d.reason };
    this.state.auditLog.push(entry);
    return entry;
  }

  /** Queues a relay after the ones before it. */
  relay(fn: () => Promise<void>): Promise<void> {
    this.relays = this.relays.then(fn, fn);
    return this.relays;
  }

  /**
   * The `cardSettled` signal: a card that relays itself only records its rest here; otherwise the rest
   * is relayed to its dependents behind every earlier relay.
   */
  onCardSettled(s: CardSettled): void {
    if (!this.cardsRelay) return void this.relay(() => this.cardSettled(s));
    const { undelivered, ...settled } = s;
    const entry = this.entries.get(s.cardId);
    if (entry && this.hear(s)) entry.settled = s.status;
    if (undelivered) void this.passOn(s.cardId, undelivered, (h) => h.signal(dependencyResolvedSignal, settled));
  }

  /** The `cardReopened` signal, like {@link onCardSettled}. */
  onCardReopened(r: CardReopened): void {
    if (!this.cardsRelay) return void this.relay(() => this.cardReopened({ cardId: r.cardId }));
    const { undelivered, ...reopened } = r;
    const entry = this.entries.get(r.cardId);
    if (entry && this.hear(r)) entry.settled = undefined;
    if (undelivered) void this.passOn(r.cardId, undelivered, (h) => h.signal(dependencyReopenedSignal, reopened));
  }

  /**
   * Passes a card's message on to each dependent it could not signal, as soon as that dependent's workflow
   * has started here (a card that comes to rest first never loses it — PRODUCT.md "Card lifecycle");
   * dependents of other pages started before this one. Messages carry their order, so one passed on late
   * never undoes a newer one.
   */
  private async passOn(cardId: string, undelivered: string[], send: (h: { signal: ChildWorkflowHandle<typeof cardWorkflow>['signal'] }) => Promise<void>): Promise<void> {
    await Promise.all(
      undelivered.map(async (id) => {
        try {
          if (this.entries.has(id)) await condition(() => this.handles.has(id) || this.entries.get(id)!.outcome !== undefined);
        } catch (err) {
          if (isCancellation(err)) return; // the backlog was cancelled, and its cards with it
          throw err;
        }
        await this.tellDependents(cardId, send, new Set([id]));
      }),
    );
  }

  /** True when a message about a card is newer than the last one applied to its entry; remembers its order. */
  private hear(message: { cardId: string } & Partial<MessageOrder>): boolean {
    if (!isNewerMessage(this.heard.get(message.cardId), message)) return false;
    if (message.epoch !== undefined && message.seq !== undefined) this.heard.set(message.cardId, { epoch: message.epoch, seq: message.seq });
    return true;
  }

  /** Records that a card came to rest and tells its dependents (the card's own message, or this workflow's last word). */
  private async cardSettled(s: CardSettled): Promise<void> {
    const entry = this.entries.get(s.cardId);
    if (!entry || entry.settled === s.status || !this.hear(s)) return;
    entry.settled = s.status;
    await this.tellDependents(s.cardId, (h) => h.signal(dependencyResolvedSignal, s));
  }

  /** Records that a resting card was retried and tells its dependents to wait for it again. */
  private async cardReopened(r: CardReopened): Promise<void> {
    const entry = this.entries.get(r.cardId);
    if (!entry || entry.settled === undefined || !this.hear(r)) return;
    entry.settled = undefined;
    await this.tellDependents(r.cardId, (h) => h.signal(dependencyReopenedSignal, r));
  }

  /**
   * Signals every dependent of a card (or those in `only`) that has not ended: its own children through
   * their handles, dependents run by another shard through their derived workflow IDs (they started before
   * this page — pages.ts).
   */
  private async tellDependents(
    cardId: string,
    send: (h: { signal: ChildWorkflowHandle<typeof cardWorkflow>['signal'] }) => Promise<void>,
    only?: ReadonlySet<string>,
  ): Promise<void> {
    await Promise.all(
      (this.dependents.get(cardId) ?? []).filter((id) => !only || only.has(id)).map(async (id) => {
        if (this.entries.get(id)?.outcome) return;
        const handle = this.handles.get(id) ?? getExternalWorkflowHandle(cardWorkflowId(this.input.backlogId, id));
        try {
          await send(handle);
        } catch (err) {
          // The dependent ended meanwhile (e.g. cancelled): nothing to tell it.
          log.info('Dependent no longer running', { cardId: id, error: (err as Error).message });
        }
      }),
    );
  }

  /** Sends a signal to every card still running (pause, budget). */
  async broadcast(send: (h: ChildWorkflowHandle<typeof cardWorkflow>) => Promise<void>): Promise<void> {
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
    await this.broadcast((h) => h.signal(backlogBudgetExhaustedSignal, { spentUsd }));
  }

  /** Pauses or resumes every card still running. */
  async setPaused(paused: boolean): Promise<void> {
    this.state.paused = paused;
    await this.broadcast((h) => h.signal(setPausedSignal, { paused }));
  }

  /** Cards per final status, and the USD they spent (for `backlog.finished`). */
  tally(): { counts: Record<string, number>; costUsd: number } {
    const counts: Record<string, number> = {};
    for (const c of this.state.cards) counts[c.outcome?.status ?? 'RUNNING'] = (counts[c.outcome?.status ?? 'RUNNING'] ?? 0) + 1;
    return { counts, costUsd: roundUsd(this.state.cards.reduce((sum, c) => sum + (c.outcome?.cost.usd ?? 0), 0)) };
  }
}

/** The messages of a failure and its causes ("Child Workflow execution failed: Terminated: …"). */
function failureText(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error && parts.length < 5; e = (e as Error & { cause?: unknown }).cause) parts.push(e.message);
  return parts.join(': ') || String(err);
}

/**
 * Update validator for pause/resume. @throws Error naming the problem (already paused, bad payload).
 */
export function assertPause(state: BacklogState, paused: boolean, raw: unknown): void {
  parseOpsDecision(raw);
  if (state.paused === paused) throw new Error(`backlog ${state.backlogId} is already ${paused ? 'paused' : 'running (not paused)'}`);
}

/** Records a pause/resume decision in a backlog's audit log. */
export function auditPause(state: BacklogState, paused: boolean, decision: OpsDecision): AuditEntry {
  const entry: AuditEntry = { at: new Date().toISOString(), actor: decision.reviewer, action: paused ? 'pause' : 'resume', reason: decision.reason };
  state.auditLog.push(entry);
  return entry;
}
