/**
 * Live progress: polls the backlog view and prints each card's status changes until the backlog is idle
 * (every card ended or waiting for a human), optionally for ever.
 */
import type { Client } from '@temporalio/client';
import { failureReasons } from '../domain/index.js';
import { isIdle, readBacklogView, type BacklogView, type CardView } from './backlogs.js';
import { renderCounts } from './render.js';

/** Options of `watchBacklog`. */
export interface WatchOptions {
  /** Poll interval, ms (default 1000). */
  intervalMs?: number;
  /** Return once idle (default true); false keeps watching until `signal` aborts. */
  untilIdle?: boolean;
  signal?: AbortSignal;
  /** Where lines go (default console.log). */
  print?: (line: string) => void;
}

function describe(c: CardView): string {
  const parts = [`${c.cardId} ${c.status}`];
  if (c.attempt > 0) parts.push(`attempt ${c.attempt}`);
  const last = c.state?.attempts[c.state.attempts.length - 1];
  if (c.status === 'REJECTED' && last) parts.push(failureReasons(last.verdicts).slice(0, 2).join('; '));
  if (c.score !== undefined && (c.status === 'APPROVED' || c.status === 'DONE')) parts.push(`score ${c.score.toFixed(1)}`);
  if (c.status === 'DONE') parts.push(`$${c.costUsd.toFixed(4)}`);
  if (c.note && (c.status === 'BLOCKED' || c.status === 'TODO')) parts.push(c.note);
  return parts.join(' — ');
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

/** Prints progress lines until idle (or aborted); returns the last view. */
export async function watchBacklog(client: Client, backlogId: string, opts: WatchOptions = {}): Promise<BacklogView> {
  const print = opts.print ?? ((l: string) => console.log(l));
  const seen = new Map<string, string>();
  const hinted = new Set<string>();
  let view: BacklogView;
  for (;;) {
    view = await readBacklogView(client, backlogId);
    for (const c of view.cards) {
      const key = `${c.status}/${c.attempt}`;
      if (seen.get(c.cardId) === key) continue;
      seen.set(c.cardId, key);
      print(`${new Date().toISOString().slice(11, 19)}  ${describe(c)}`);
      if (c.status === 'AWAITING_HUMAN' && !hinted.has(c.cardId)) {
        hinted.add(c.cardId);
        print(
          `          ↳ waiting for a human: npx squadflow review ${backlogId} ${c.cardId} --approve --reviewer <name> --reason "<why>"` +
            `\n            (or --reject, or --clarify "<context>")`,
        );
      }
    }
    const idle = isIdle(view);
    if ((idle && opts.untilIdle !== false) || opts.signal?.aborted) break;
    await sleep(opts.intervalMs ?? 1000, opts.signal);
    if (opts.signal?.aborted) break;
  }
  print(`${new Date().toISOString().slice(11, 19)}  ${renderCounts(view)}${isIdle(view) ? ' (idle)' : ''}`);
  return view;
}
