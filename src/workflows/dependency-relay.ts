/**
 * What a backlog (or shard) passes on between its cards about their dependencies — PRODUCT.md "Card
 * lifecycle", docs/architecture.md "Dependency signals". Cards that relay themselves (`relay` in their
 * input) tell their dependents how they came to rest; this workflow passes on only what a card could not
 * deliver (a dependent not started yet) and has the last word on a run that ended without saying so
 * (FAILED, cancelled before it started). In backlogs started before cards told their dependents
 * (`patched('cards-tell-dependents')` false on replay), it relays every rest, one after another. Workflow
 * code.
 */
import {
  condition,
  getExternalWorkflowHandle,
  isCancellation,
  log,
  patched,
  type ChildWorkflowHandle,
} from "@temporalio/workflow";
import { EPOCH_END, isNewerMessage } from "../domain/dependency-order.js";
import { cardWorkflowId } from "../domain/ids.js";
import type { CardOutcome, MessageOrder } from "../domain/index.js";
import type { BacklogCardEntry, CardReopened } from "../domain/backlog-state.js";
import type { cardWorkflow } from "./card.js";
import { dependencyReopenedSignal, dependencyResolvedSignal, type CardSettled } from "./messages.js";

/** A card workflow as far as the relay signals it: a child's handle, or an external one. */
type Signallable = { signal: ChildWorkflowHandle<typeof cardWorkflow>["signal"] };

/** What the relay needs to know of the cards this workflow runs. */
export interface RelayedCards {
  backlogId: string;
  /** This workflow's cards by id (their `settled` is kept here; `outcome` says a card's workflow has ended). */
  entries: ReadonlyMap<string, BacklogCardEntry>;
  /** Card id → ids of the cards that depend on it, across pages. */
  dependents: ReadonlyMap<string, string[]>;
  /** The handle of a card started here (absent until its workflow has started). */
  handleOf: (cardId: string) => ChildWorkflowHandle<typeof cardWorkflow> | undefined;
}

/** The dependency messages between a backlog's cards, as far as this workflow carries them. */
export class DependencyRelay {
  /**
   * True: each card tells its dependents itself; this workflow passes on only what a card could not say or
   * deliver. False: backlogs started before that, replaying — this workflow relays every rest.
   */
  readonly cardsRelay: boolean;
  /**
   * Relays run one after another, so a dependent sees "resolved" and "reopened" in the order they
   * happened — and only once every card has been started, so that no dependent can miss one.
   */
  private relays: Promise<void>;
  private markStarted!: () => void;
  /** Each card's run number here (dependency-order.ts `epoch`): +1 for every new run after a FAILED one. */
  private readonly epochs = new Map<string, number>();
  /** The newest rest/reopen message applied to each card's entry (cards that relay themselves). */
  private readonly heard = new Map<string, MessageOrder>();

  constructor(private readonly cards: RelayedCards) {
    this.relays = new Promise<void>((resolve) => (this.markStarted = resolve));
    this.cardsRelay = patched("cards-tell-dependents");
  }

  /** Every card has been started: queued relays may run. */
  allStarted(): void {
    this.markStarted();
  }

  /** What a card started now is told to relay itself (its dependents, its run number), or nothing in older backlogs. */
  relayInput(cardId: string): { relay: { dependents: string[]; epoch: number } } | Record<string, never> {
    if (!this.cardsRelay) return {};
    return { relay: { dependents: this.cards.dependents.get(cardId) ?? [], epoch: this.epochs.get(cardId) ?? 0 } };
  }

  /**
   * The `cardSettled` signal: a card that relays itself only records its rest here (and what it could
   * not deliver is passed on); otherwise the rest is relayed to its dependents behind every earlier relay.
   */
  onCardSettled(s: CardSettled): void {
    if (!this.cardsRelay) return void this.relay(() => this.cardSettled(s));
    const { undelivered, ...settled } = s;
    const entry = this.cards.entries.get(s.cardId);
    if (entry && this.hear(s)) entry.settled = s.status;
    if (undelivered) void this.passOn(s.cardId, undelivered, (h) => h.signal(dependencyResolvedSignal, settled));
  }

  /** The `cardReopened` signal, like {@link onCardSettled}. */
  onCardReopened(r: CardReopened): void {
    if (!this.cardsRelay) return void this.relay(() => this.cardReopened({ cardId: r.cardId }));
    const { undelivered, ...reopened } = r;
    const entry = this.cards.entries.get(r.cardId);
    if (entry && this.hear(r)) entry.settled = undefined;
    if (undelivered) void this.passOn(r.cardId, undelivered, (h) => h.signal(dependencyReopenedSignal, reopened));
  }

  /**
   * A card's workflow has ended with `outcome` (`started`: false when it never started): a run that ended
   * without saying so (FAILED, terminated, cancelled unstarted) still blocks its dependents, so this
   * workflow has the last word on it. In older backlogs, also waits for every relay queued so far.
   */
  async cardEnded(outcome: CardOutcome, started: boolean): Promise<void> {
    const { cardId, status, artifacts } = outcome;
    if (this.cardsRelay) {
      if (status === "FAILED" || !started)
        await this.cardSettled({ cardId, status, artifacts, epoch: this.epochs.get(cardId) ?? 0, seq: EPOCH_END });
      return;
    }
    if (this.cards.entries.get(cardId)!.settled !== status)
      this.relay(() => this.cardSettled({ cardId, status, artifacts }));
    await this.relays;
  }

  /**
   * A FAILED card gets a new run: its run number goes up, and on `retry` (`reopen`) its BLOCKED dependents
   * wait for it again (a skipped card's new run tells them DONE instead).
   */
  async newRun(cardId: string, reopen: boolean): Promise<void> {
    const epoch = (this.epochs.get(cardId) ?? 0) + 1;
    if (this.cardsRelay) this.epochs.set(cardId, epoch);
    if (reopen) await this.cardReopened(this.cardsRelay ? { cardId, epoch, seq: 0 } : { cardId });
  }

  /** Queues a relay after the ones before it. */
  private relay(fn: () => Promise<void>): Promise<void> {
    this.relays = this.relays.then(fn, fn);
    return this.relays;
  }

  /**
   * Passes a card's message on to each dependent it could not signal, as soon as that dependent's workflow
   * has started here (a card that comes to rest first never loses it); dependents of other pages started
   * before this one. Messages carry their order, so one passed on late never undoes a newer one.
   */
  private async passOn(cardId: string, undelivered: string[], send: (h: Signallable) => Promise<void>): Promise<void> {
    const { entries, handleOf } = this.cards;
    await Promise.all(
      undelivered.map(async (id) => {
        try {
          if (entries.has(id))
            await condition(() => handleOf(id) !== undefined || entries.get(id)!.outcome !== undefined);
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
    if (message.epoch !== undefined && message.seq !== undefined)
      this.heard.set(message.cardId, { epoch: message.epoch, seq: message.seq });
    return true;
  }

  /** Records that a card came to rest and tells its dependents (the card's own message, or this workflow's last word). */
  private async cardSettled(s: CardSettled): Promise<void> {
    const entry = this.cards.entries.get(s.cardId);
    if (!entry || entry.settled === s.status || !this.hear(s)) return;
    entry.settled = s.status;
    await this.tellDependents(s.cardId, (h) => h.signal(dependencyResolvedSignal, s));
  }

  /** Records that a resting card was retried and tells its dependents to wait for it again. */
  private async cardReopened(r: CardReopened): Promise<void> {
    const entry = this.cards.entries.get(r.cardId);
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
    send: (h: Signallable) => Promise<void>,
    only?: ReadonlySet<string>,
  ): Promise<void> {
    const { entries, dependents, handleOf, backlogId } = this.cards;
    await Promise.all(
      (dependents.get(cardId) ?? [])
        .filter((id) => !only || only.has(id))
        .map(async (id) => {
          if (entries.get(id)?.outcome) return;
          const handle = handleOf(id) ?? getExternalWorkflowHandle(cardWorkflowId(backlogId, id));
          try {
            await send(handle);
          } catch (err) {
            // The dependent ended meanwhile (e.g. cancelled): nothing to tell it.
            log.info("Dependent no longer running", { cardId: id, error: (err as Error).message });
          }
        }),
    );
  }
}
