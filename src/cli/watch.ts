/**
 * Live progress: polls the backlog and prints every status change of every card (from the card's own
 * status history, so quick transitions between two polls are not missed) until the backlog is idle,
 * optionally for ever.
 */
import type { Client } from "@temporalio/client";
import { failureReasons, type CardState } from "../domain/index.js";
import { isIdle, readBacklogView, type BacklogView, type CardView } from "./backlogs.js";
import { renderCounts } from "./render.js";

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

const clock = (iso: string) => iso.slice(11, 19);

/** Lines for the status changes of `state` from index `from` of its status history on. */
function changeLines(c: CardView, state: CardState, from: number): string[] {
  const lines: string[] = [];
  const failed = state.attempts.filter((a) => !a.passed);
  let rejections = state.statusHistory.slice(0, from).filter((s) => s.status === "REJECTED").length;
  for (const change of state.statusHistory.slice(from)) {
    const parts = [`${c.cardId} ${change.status}`];
    if (change.status === "REJECTED") {
      const attempt = failed[rejections++];
      if (attempt) parts.push(`attempt ${attempt.attempt}: ${failureReasons(attempt.verdicts).slice(0, 2).join("; ")}`);
      if (state.completedAt && change === state.statusHistory[state.statusHistory.length - 1]) parts.push("final");
    }
    if (change.status === "CORRECTING") parts.push(`correction round ${Math.max(1, rejections)}`);
    if (change.status === "DONE")
      parts.push(
        `attempt ${state.attempt}${c.score !== undefined ? `, score ${c.score.toFixed(1)}` : ""}, $${state.cost.usd.toFixed(4)}`,
      );
    if (change.status === "BLOCKED" && state.blockedBy)
      parts.push(`by ${state.blockedBy.cardId} (${state.blockedBy.status})`);
    if (change.status === "TODO" && state.waitingFor.length > 0)
      parts.push(`waiting for ${state.waitingFor.join(", ")}`);
    lines.push(`${clock(change.at)}  ${parts.join(" — ")}`);
  }
  return lines;
}

/** Waits `ms`, or less when `signal` aborts; never rejects. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Prints progress lines until idle (twice in a row, to skip transient states) or aborted; returns the last view. */
export async function watchBacklog(client: Client, backlogId: string, opts: WatchOptions = {}): Promise<BacklogView> {
  const print = opts.print ?? ((l: string) => console.log(l));
  const printed = new Map<string, number>();
  const hinted = new Set<string>();
  let idlePolls = 0;
  let announced = false;
  let view: BacklogView;
  for (;;) {
    view = await readBacklogView(client, backlogId);
    for (const c of view.cards) {
      if (!c.state) {
        if (!printed.has(c.cardId))
          print(`${clock(new Date().toISOString())}  ${c.cardId} ${c.status}${c.note ? ` — ${c.note}` : ""}`);
        printed.set(c.cardId, 0);
        continue;
      }
      for (const line of changeLines(c, c.state, printed.get(c.cardId) ?? 0)) print(line);
      printed.set(c.cardId, c.state.statusHistory.length);
      if (c.status === "AWAITING_HUMAN" && !hinted.has(c.cardId)) {
        hinted.add(c.cardId);
        print(
          `          ↳ waiting for a human: npx squadflow review ${backlogId} ${c.cardId} --approve --reviewer <name> --reason "<why>"` +
            `\n            (or --reject, or --clarify "<context>")`,
        );
      }
    }
    if (!view.running && !announced) {
      announced = true;
      print(`${clock(new Date().toISOString())}  backlog ${backlogId} finished: ${renderCounts(view)}`);
    }
    idlePolls = isIdle(view) ? idlePolls + 1 : 0;
    if ((idlePolls >= 2 && opts.untilIdle !== false) || opts.signal?.aborted) break;
    await sleep(opts.intervalMs ?? 1000, opts.signal);
    if (opts.signal?.aborted) break;
  }
  print(
    `${clock(new Date().toISOString())}  ${renderCounts(view)}${isIdle(view) ? " — idle: every card has ended or waits for a human" : ""}`,
  );
  return view;
}
