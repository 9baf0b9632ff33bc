/**
 * The backlog workflow (`<backlogId>`): starts every card as a child workflow at once (each visible as
 * TODO from the first second) and relays how each card comes to rest to its dependents. Every child is
 * started before any signal is relayed, so a dependency that finishes first can never lose its signal —
 * PRODUCT.md "Card lifecycle". The backlog ends when every card has ended (DONE, or cancelled); cards at
 * rest (REJECTED, BLOCKED) keep it open until someone retries or skips them.
 */
import {
  CancellationScope,
  CancelledFailure,
  ParentClosePolicy,
  defineQuery,
  defineUpdate,
  isCancellation,
  log,
  setHandler,
  sleep,
  startChild,
  type ChildWorkflowHandle,
} from '@temporalio/workflow';
import {
  PRIORITY_KEYS,
  cardWorkflowId,
  dependentsOf,
  parseOpsDecision,
  roundUsd,
  type AuditEntry,
  type CardOutcome,
  type CardPlan,
  type DependencyArtifacts,
  type OpsDecision,
  type SettledStatus,
} from '../domain/index.js';
import { squadActivities, type ActivityQueues } from './activities.js';
import { cardWorkflow } from './card.js';
import {
  backlogBudgetExhaustedSignal,
  cardCostSignal,
  cardReopenedSignal,
  cardSettledSignal,
  dependencyReopenedSignal,
  dependencyResolvedSignal,
  setPausedSignal,
  type CardSettled,
} from './messages.js';
import { initialCardAttributes } from './search-attributes.js';

/** Input of the backlog workflow: a validated plan (see `planBacklog`). */
export interface BacklogWorkflowInput {
  backlogId: string;
  /** Cards to run. */
  cards: CardPlan[];
  /** Cards already DONE in the file (legacy), not run again. */
  done: DependencyArtifacts[];
  queues: ActivityQueues;
  /** The file's `metadata` and its legacy cards (DONE and CORRECTION), kept for `export`. */
  source: { file: string; metadata: Record<string, unknown>; legacyCards: Record<string, unknown>[] };
}

/** One card as the backlog sees it. */
export interface BacklogCardEntry {
  cardId: string;
  workflowId: string;
  type: string;
  dependencies: string[];
  /** How the card last came to rest (absent while it works or waits). */
  settled?: SettledStatus;
  /** Set once the card workflow ended. */
  outcome?: CardOutcome;
}

/** The `backlogState` query's answer. */
export interface BacklogState {
  backlogId: string;
  startedAt: string;
  cards: BacklogCardEntry[];
  done: DependencyArtifacts[];
  source: BacklogWorkflowInput['source'];
  /** True while paused: no new owner or validator run starts. */
  paused: boolean;
  /** Backlog-level decisions (pause, resume): who, when, why. */
  auditLog: AuditEntry[];
  /** USD spent by its cards, as reported (kept only when the backlog has a budget). */
  spentUsd: number;
  /** True once `squad.budget.per_backlog_usd` is used up. */
  budgetExhausted: boolean;
  finished: boolean;
}

/** Query: the backlog's cards, how each came to rest or ended. */
export const backlogStateQuery = defineQuery<BacklogState>('backlogState');

/** Update: pause the backlog — no new owner or validator run starts; running ones finish. Audited. */
export const pauseBacklogUpdate = defineUpdate<AuditEntry, [OpsDecision]>('pause');

/** Update: resume a paused backlog. Audited. */
export const resumeBacklogUpdate = defineUpdate<AuditEntry, [OpsDecision]>('resume');

/** Result of the backlog workflow: its final state, every card with its outcome. */
export type BacklogResult = BacklogState;

/** Coordinates a backlog: runs every card as a child workflow and relays dependency outcomes. */
export async function backlogWorkflow(input: BacklogWorkflowInput): Promise<BacklogResult> {
  const book = new BacklogBook(input);
  setHandler(backlogStateQuery, () => book.state);
  setHandler(cardSettledSignal, (s) => book.relay(() => book.cardSettled(s)));
  setHandler(cardReopenedSignal, ({ cardId }) => book.relay(() => book.cardReopened(cardId)));
  setHandler(cardCostSignal, ({ usd }) => book.spend(usd));
  setHandler(pauseBacklogUpdate, (d) => book.setPaused(true, d), { validator: (d) => book.assertPause(true, d) });
  setHandler(resumeBacklogUpdate, (d) => book.setPaused(false, d), { validator: (d) => book.assertPause(false, d) });

  await book.startAll();

  // Wait for every card workflow to end; a failed or cancelled one blocks its dependents.
  await Promise.all(input.cards.map((plan) => book.awaitEnd(plan)));
  book.state.finished = true;
  await book.notifyFinished();
  // A cancelled backlog (its cards were cancelled with it and have ended CANCELLED) ends cancelled too.
  if (CancellationScope.current().consideredCancelled) throw new CancelledFailure(`backlog ${input.backlogId} cancelled`);
  return book.state;
}

/** The backlog's state, its children and the relay of card outcomes to dependents. */
class BacklogBook {
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

  constructor(private readonly input: BacklogWorkflowInput) {
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
      paused: false,
      auditLog: [],
      spentUsd: 0,
      budgetExhausted: false,
      finished: false,
    };
    this.entries = new Map(this.state.cards.map((e) => [e.cardId, e]));
    this.dependents = dependentsOf(input.cards.map((p) => p.card));
    this.relays = new Promise<void>((resolve) => (this.markStarted = resolve));
  }

  /** Starts every card at once, highest priority first; each waits for its dependency signals as TODO. */
  async startAll(): Promise<void> {
    const byPriority = [...this.input.cards].sort((a, b) => PRIORITY_KEYS[a.card.priority] - PRIORITY_KEYS[b.card.priority]);
    await Promise.all(byPriority.map((plan) => this.start(plan)));
    this.markStarted();
  }

  private async start(plan: CardPlan): Promise<void> {
    const handle = await startChild(cardWorkflow, {
      workflowId: cardWorkflowId(this.input.backlogId, plan.card.id),
      args: [{ plan, queues: this.input.queues, paused: this.state.paused }],
      typedSearchAttributes: initialCardAttributes(this.input.backlogId, plan.card),
      priority: { priorityKey: PRIORITY_KEYS[plan.card.priority] },
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
    });
    this.handles.set(plan.card.id, handle);
  }

  /** Waits for a card workflow to end and records its outcome. */
  async awaitEnd(plan: CardPlan): Promise<void> {
    const entry = this.entries.get(plan.card.id)!;
    let outcome: CardOutcome;
    try {
      outcome = await this.handles.get(plan.card.id)!.result();
    } catch (err) {
      outcome = {
        cardId: plan.card.id,
        status: isCancellation(err) ? 'CANCELLED' : 'FAILED',
        attempt: 0,
        artifacts: [],
        cost: { inputTokens: 0, outputTokens: 0, usd: 0 },
        message: (err as Error).message,
      };
    }
    entry.outcome = outcome;
    // A card that ended without saying so (failed, terminated) still blocks its dependents.
    if (entry.settled !== outcome.status) {
      this.relay(() => this.cardSettled({ cardId: outcome.cardId, status: outcome.status, artifacts: outcome.artifacts }));
    }
    await this.relays;
  }

  /** Queues a relay after the ones before it. */
  relay(fn: () => Promise<void>): Promise<void> {
    this.relays = this.relays.then(fn, fn);
    return this.relays;
  }

  async cardSettled(s: CardSettled): Promise<void> {
    const entry = this.entries.get(s.cardId);
    if (!entry || entry.settled === s.status) return;
    entry.settled = s.status;
    await this.tellDependents(s.cardId, (h) => h.signal(dependencyResolvedSignal, s));
  }

  async cardReopened(cardId: string): Promise<void> {
    const entry = this.entries.get(cardId);
    if (!entry || entry.settled === undefined) return;
    entry.settled = undefined;
    await this.tellDependents(cardId, (h) => h.signal(dependencyReopenedSignal, { cardId }));
  }

  private async tellDependents(cardId: string, send: (h: ChildWorkflowHandle<typeof cardWorkflow>) => Promise<void>): Promise<void> {
    await Promise.all(
      (this.dependents.get(cardId) ?? []).map(async (id) => {
        const handle = this.handles.get(id);
        if (!handle || this.entries.get(id)?.outcome) return;
        try {
          await send(handle);
        } catch (err) {
          // The dependent ended meanwhile (e.g. cancelled): nothing to tell it.
          log.info('Dependent no longer running', { cardId: id, error: (err as Error).message });
        }
      }),
    );
  }

  /** Adds a card's spend; once the backlog budget is used up, tells every running card (once). */
  spend(usd: number): void {
    this.state.spentUsd = roundUsd(this.state.spentUsd + usd);
    const budget = this.input.cards[0]?.backlogBudgetUsd;
    if (budget === undefined || this.state.budgetExhausted || this.state.spentUsd < budget) return;
    this.state.budgetExhausted = true;
    log.warn('Backlog budget used up', { backlogId: this.input.backlogId, spentUsd: this.state.spentUsd, budgetUsd: budget });
    for (const [id, handle] of this.handles) {
      if (!this.entries.get(id)?.outcome) void handle.signal(backlogBudgetExhaustedSignal, { spentUsd: this.state.spentUsd }).catch(() => undefined);
    }
  }

  /** The `backlog.finished` notification: waited for at most a minute, never failing the backlog. */
  async notifyFinished(): Promise<void> {
    const webhooks = this.input.cards[0]?.webhooks;
    if (!webhooks || webhooks.length === 0) return;
    const counts: Record<string, number> = {};
    for (const c of this.state.cards) counts[c.outcome?.status ?? 'RUNNING'] = (counts[c.outcome?.status ?? 'RUNNING'] ?? 0) + 1;
    const sent = squadActivities(this.input.queues)
      .notify({
        event: { event: 'backlog.finished', at: new Date().toISOString(), backlogId: this.input.backlogId, counts, costUsd: this.totalCostUsd() },
        webhooks,
      })
      .catch((err: unknown) => log.warn('Notification not delivered', { event: 'backlog.finished', error: (err as Error).message }));
    await Promise.race([sent, sleep('1 minute')]);
  }

  private totalCostUsd(): number {
    return roundUsd(this.state.cards.reduce((sum, c) => sum + (c.outcome?.cost.usd ?? 0), 0));
  }

  /** Update validator for pause/resume. @throws Error naming the problem (already paused, bad payload). */
  assertPause(paused: boolean, raw: unknown): void {
    parseOpsDecision(raw);
    if (this.state.paused === paused) throw new Error(`backlog ${this.input.backlogId} is already ${paused ? 'paused' : 'running (not paused)'}`);
  }

  /** Pauses or resumes every card still running. */
  async setPaused(paused: boolean, decision: OpsDecision): Promise<AuditEntry> {
    this.state.paused = paused;
    const entry: AuditEntry = { at: new Date().toISOString(), actor: decision.reviewer, action: paused ? 'pause' : 'resume', reason: decision.reason };
    this.state.auditLog.push(entry);
    await Promise.all(
      [...this.handles].map(async ([id, handle]) => {
        if (this.entries.get(id)?.outcome) return;
        await handle.signal(setPausedSignal, { paused }).catch(() => undefined);
      }),
    );
    return entry;
  }
}
