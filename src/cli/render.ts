/** Text rendering of backlog views for the terminal. */
import type { BacklogView, CardView } from "./backlogs.js";

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

/** One line per card: id, status, attempt, judge score, cost (USD), note. */
export function renderStatus(view: BacklogView): string {
  const lines = [`backlog ${view.backlog.backlogId} — ${view.running ? "running" : "finished"}`];
  const repo = view.backlog.repository;
  if (repo) {
    const push = repo.push
      ? ` · pushed to ${repo.push.remote}/${repo.push.branch}${repo.push.error ? ` REFUSED: ${repo.push.error}` : ""}`
      : "";
    lines.push(`  repository ${repo.path ?? repo.url} · branch ${repo.branch} (from ${repo.baseBranch})${push}`);
  }
  const width = Math.max(8, ...view.cards.map((c) => c.cardId.length));
  lines.push(`  ${pad("CARD", width)}  ${pad("STATUS", 15)} ATTEMPT  SCORE  COST USD  NOTE`);
  for (const c of view.cards) lines.push("  " + renderRow(c, width));
  const total = view.cards.reduce((s, c) => s + c.costUsd, 0);
  lines.push(`  total cost $${total.toFixed(4)}`);
  return lines.join("\n");
}

function renderRow(c: CardView, width: number): string {
  const score = c.score === undefined ? "-" : c.score.toFixed(1);
  const merge = c.state?.merge ? `merged ${c.state.merge.commit.slice(0, 10)}` : undefined;
  const note = [c.note, merge].filter(Boolean).join(" · ");
  return `${pad(c.cardId, width)}  ${pad(c.status, 15)} ${pad(String(c.attempt), 7)}  ${pad(score, 5)}  ${pad(c.costUsd.toFixed(4), 8)}  ${note}`.trimEnd();
}

/** Counts of cards per status, e.g. `DONE 7 · AWAITING_HUMAN 1`. */
export function renderCounts(view: BacklogView): string {
  const counts = new Map<string, number>();
  for (const c of view.cards) counts.set(c.status, (counts.get(c.status) ?? 0) + 1);
  return [...counts].map(([s, n]) => `${s} ${n}`).join(" · ");
}

/** A duration for people: `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`. */
export function formatDuration(ms: number | null): string {
  if (ms === null) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.round(s - m * 60)).padStart(2, "0")} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${String(m - h * 60).padStart(2, "0")} min`;
}
