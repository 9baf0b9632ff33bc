/**
 * The order of the messages a card's dependents hear about it (`dependencyResolved`, `dependencyReopened`).
 * A card tells its dependents itself when it comes to rest and when it is retried; its backlog (or shard)
 * tells them only what the card could not say (its run FAILED, was terminated, or was cancelled before it
 * started) and that a new run of it follows. Signals of different senders, or a signal still in flight
 * from a run that was terminated, can arrive late; every message therefore carries its place in the card's
 * story, and a dependent applies a message only when it is newer than the last one it applied about that
 * card. Pure: no Temporal imports.
 */

/**
 * Where a message stands in its card's story: `epoch` counts the card's workflow runs in its backlog (0
 * for the first; +1 for each new run after a FAILED one), `seq` the messages of that run (from 1). The
 * backlog's FAILED message closes an epoch ({@link EPOCH_END}); the reopen before a new run opens the
 * next one at seq 0.
 */
export interface MessageOrder {
  epoch: number;
  seq: number;
}

/** The `seq` of the backlog's last word on a run (it FAILED): after anything that run said itself. */
export const EPOCH_END = Number.MAX_SAFE_INTEGER;

/**
 * True when `next` should be applied after `last`: it is newer (`epoch`, then `seq`), or either carries no
 * order (messages of card and backlog workflows started before messages were ordered apply as they come).
 */
export function isNewerMessage(last: Partial<MessageOrder> | undefined, next: Partial<MessageOrder>): boolean {
  if (last?.epoch === undefined || last.seq === undefined || next.epoch === undefined || next.seq === undefined)
    return true;
  return next.epoch > last.epoch || (next.epoch === last.epoch && next.seq > last.seq);
}

/**
 * What a card workflow needs to tell its dependents itself (the `relay` of its input): their card ids (in
 * any page of the backlog; their workflow IDs are derived) and its run's `epoch`.
 */
export interface CardRelay {
  dependents: string[];
  epoch: number;
}
