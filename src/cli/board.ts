/**
 * `squadflow status BACKLOG --watch`: a live board — counts per status, a progress bar of final cards
 * over all cards, the cards waiting for a human with the command that decides them, and the cost so far —
 * redrawn until the backlog is idle (src/cli/backlogs.ts `isIdle`). On a terminal the screen is cleared
 * and redrawn every poll; otherwise (a pipe, a log file, CI) a new board is printed only when it changed.
 */
import type { Client } from "@temporalio/client";
import { failureReasons } from "../domain/index.js";
import { reviewCommand } from "../domain/notifications.js";
import { isIdle, readBacklogView, type BacklogView } from "./backlogs.js";
import { sleep } from "./watch.js";
import { readOwnerProgress, renderOwnerProgress, type OwnerProgress } from "./progress.js";

/** A card waiting for a human decision. */
export interface BoardReview {
  cardId: string;
  attempt: number;
  /** The latest failure reason, if any. */
  reason?: string;
  /** The `squadflow review …` command to run. */
  command: string;
}

/** What the board shows, also its `--json` form. */
export interface Board {
  backlogId: string;
  running: boolean;
  idle: boolean;
  /** Cards, legacy ones included. */
  total: number;
  /**
   * Cards whose work is over: ended (legacy cards count as ended), or at rest waiting for an ops decision
   * (`retry`/`skip`: REJECTED by a human, BLOCKED).
   */
  final: number;
  /** Cards per status, in lifecycle order of first appearance. */
  counts: Record<string, number>;
  awaitingHuman: BoardReview[];
  /** USD spent so far (cards of this run and legacy costs). */
  costUsd: number;
  /** Cards over their cost alert threshold. */
  costAlerts: string[];
  /** A paged backlog (docs/architecture.md "Big backlogs"): pages of cards expected and received so far. */
  pages?: { expected: number; received: number };
  /**
   * Cards whose owner is at work, with what its last heartbeat reported (turns, tokens so far, last tool;
   * not the running time, so a board redrawn on change does not change every tick). Absent: none read.
   */
  working?: { cardId: string; attempt: number; progress: OwnerProgress }[];
}

/** Statuses in which a card's owner activity runs. */
export const OWNER_STATUSES: ReadonlySet<string> = new Set(["IN_PROGRESS", "CORRECTING"]);

/** At most this many running owners are described per poll (one Temporal `describe()` each). */
export const MAX_PROGRESS_READS = 20;

/**
 * The progress of the running owners of a view (cards IN_PROGRESS or CORRECTING, the first
 * `MAX_PROGRESS_READS`), keyed by card id; a card whose owner has not heartbeat yet, or whose describe
 * failed, is left out.
 */
export async function readWorkingOwners(client: Client, view: BacklogView): Promise<Record<string, OwnerProgress>> {
  const cards = view.cards.filter((c) => !c.final && OWNER_STATUSES.has(c.status)).slice(0, MAX_PROGRESS_READS);
  const read = await Promise.all(
    cards.map(async (c) => [c.cardId, await readOwnerProgress(client, c.workflowId).catch(() => undefined)] as const),
  );
  return Object.fromEntries(read.filter((r): r is readonly [string, OwnerProgress] => r[1] !== undefined));
}

/** The board of a backlog view, with the progress of its running owners (`readWorkingOwners`) when given. Pure. */
export function boardOf(view: BacklogView, progress?: Record<string, OwnerProgress>): Board {
  const counts: Record<string, number> = {};
  for (const c of view.cards) counts[c.status] = (counts[c.status] ?? 0) + 1;
  const awaitingHuman = view.cards
    .filter((c) => c.status === "AWAITING_HUMAN")
    .map((c): BoardReview => {
      const last = c.state?.attempts[c.state.attempts.length - 1];
      const reason = last ? failureReasons(last.verdicts)[0] : undefined;
      return {
        cardId: c.cardId,
        attempt: c.attempt,
        ...(reason ? { reason } : {}),
        command: reviewCommand(view.backlog.backlogId, c.cardId),
      };
    });
  return {
    backlogId: view.backlog.backlogId,
    running: view.running,
    idle: isIdle(view),
    total: view.cards.length,
    final: view.cards.filter((c) => c.final || c.state?.settled === true).length,
    counts,
    awaitingHuman,
    costUsd: Math.round(view.cards.reduce((s, c) => s + c.costUsd, 0) * 1e6) / 1e6,
    costAlerts: view.cards.filter((c) => c.state?.costAlert).map((c) => c.cardId),
    ...(view.backlog.pages ? { pages: view.backlog.pages } : {}),
    ...(progress && {
      working: view.cards
        .filter((c) => progress[c.cardId] !== undefined)
        .map((c) => {
          const { elapsedMs: _elapsed, lastHeartbeatAt: _at, ...stable } = progress[c.cardId]!;
          return { cardId: c.cardId, attempt: c.attempt, progress: stable };
        }),
    }),
  };
}

/** A text progress bar: `[████████░░░░░░░░░░░░] 4/10 (40%)`. */
export function progressBar(done: number, total: number, width = 30): string {
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(ratio * width);
  return `[${"█".repeat(filled)}${"░".repeat(width - filled)}] ${done}/${total} (${Math.round(ratio * 100)}%)`;
}

/** The board as text (no trailing newline). Pure: the same board always renders the same text. */
export function renderBoard(b: Board): string {
  const state = !b.running ? "finished" : b.idle ? "idle — every card has ended or waits for a human" : "running";
  const lines = [`backlog ${b.backlogId} — ${state}`, `  ${progressBar(b.final, b.total)} cards final`];
  lines.push(
    `  ${Object.entries(b.counts)
      .map(([s, n]) => `${s} ${n}`)
      .join(" · ")}`,
  );
  if (b.pages && b.pages.received < b.pages.expected) {
    lines.push(`  pages ${b.pages.received}/${b.pages.expected} received — the cards of the others are not listed yet`);
  }
  lines.push(
    `  cost so far $${b.costUsd.toFixed(4)}${b.costAlerts.length ? ` — over the alert threshold: ${b.costAlerts.join(", ")}` : ""}`,
  );
  if (b.working && b.working.length > 0) {
    lines.push(`  owners at work (${b.working.length}):`);
    for (const w of b.working)
      lines.push(`    ${w.cardId} (attempt ${w.attempt}) — ${renderOwnerProgress(w.progress, false)}`);
  }
  if (b.awaitingHuman.length > 0) {
    lines.push(`  waiting for a human (${b.awaitingHuman.length}):`);
    for (const r of b.awaitingHuman) {
      lines.push(`    ${r.cardId} (attempt ${r.attempt})${r.reason ? ` — ${r.reason}` : ""}`);
      lines.push(`      ${r.command}`);
    }
  }
  return lines.join("\n");
}

/** Options of {@link watchBoard}. */
export interface WatchBoardOptions {
  /** Poll interval, ms (default 1000). */
  intervalMs?: number;
  /** Redraw in place with ANSI clear (default: whether stdout is a TTY). */
  tty?: boolean;
  /** Print one JSON board per line (NDJSON) instead of text. */
  json?: boolean;
  /** Where output goes (default `process.stdout.write`). */
  write?: (text: string) => void;
  signal?: AbortSignal;
  /** Clock for the "updated" line on a terminal (default `new Date()`). */
  now?: () => Date;
}

const CLEAR = "\x1b[2J\x1b[H";

/**
 * Shows the board until the backlog is idle (two polls in a row, to skip transient states), or until
 * `signal` aborts; returns the last board.
 * @throws what `readBacklogView` throws (CliError exit 2 unknown backlog, exit 3 no worker).
 */
export async function watchBoard(client: Client, backlogId: string, opts: WatchBoardOptions = {}): Promise<Board> {
  const write = opts.write ?? ((t: string) => void process.stdout.write(t));
  const tty = opts.tty ?? process.stdout.isTTY === true;
  const now = opts.now ?? (() => new Date());
  let last = "";
  let idlePolls = 0;
  let board: Board;
  for (;;) {
    const view = await readBacklogView(client, backlogId);
    board = boardOf(view, await readWorkingOwners(client, view));
    const text = opts.json ? JSON.stringify(board) : renderBoard(board);
    if (tty && !opts.json) write(`${CLEAR}${text}\n  updated ${now().toISOString().slice(11, 19)} — Ctrl-C to stop\n`);
    else if (text !== last) write(`${text}\n`);
    last = text;
    idlePolls = board.idle ? idlePolls + 1 : 0;
    if (idlePolls >= 2 || opts.signal?.aborted) break;
    await sleep(opts.intervalMs ?? 1000, opts.signal);
    if (opts.signal?.aborted) break;
  }
  return board;
}
