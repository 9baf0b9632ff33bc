/**
 * The metrics page: `squadflow metrics` of a backlog (src/cli/metrics.ts) with charts drawn as
 * server-rendered SVG (no chart script to ship): cost per card, attempts per card, the distribution of
 * time to approval, and the top 10 rejection reasons. Labels are escaped like every other value.
 */
import { html } from "hono/html";
import type { BacklogView } from "../cli/backlogs.js";
import type { MetricsReport } from "../cli/metrics.js";
import { formatDuration } from "../cli/render.js";
import { layout, type Fragment, type PageContext } from "./views.js";

function h(strings: TemplateStringsArray, ...values: unknown[]): Fragment {
  return html(strings, ...values) as Fragment;
}

/** One bar of a chart: its label, its value, and the value's text. */
export interface Bar {
  label: string;
  value: number;
  text: string;
}

/** A horizontal bar chart as inline SVG (`title` is its accessible name). Pure. */
export function barChart(title: string, bars: Bar[], color = "#3056d3"): Fragment {
  if (bars.length === 0) return h`<p class="mut">${title}: no data yet</p>`;
  const max = Math.max(...bars.map((b) => b.value), 0) || 1;
  const labelW = Math.min(360, Math.max(80, ...bars.map((b) => b.label.length * 7)));
  const row = 22;
  const width = labelW + 320 + 90;
  return h`<figure class="chart"><figcaption><strong>${title}</strong></figcaption>
<svg role="img" aria-label="${title}" width="${width}" height="${bars.length * row + 6}" xmlns="http://www.w3.org/2000/svg" font-size="12" font-family="system-ui,sans-serif">${bars.map(
    (
      b,
      i,
    ) => h`<g transform="translate(0,${i * row + 3})"><text x="${labelW - 6}" y="14" text-anchor="end">${b.label.length > 52 ? `${b.label.slice(0, 50)}…` : b.label}</text>
<rect x="${labelW}" y="2" height="16" width="${Math.max(1, Math.round((b.value / max) * 320))}" fill="${color}" rx="2"></rect>
<text x="${labelW + Math.max(1, Math.round((b.value / max) * 320)) + 6}" y="14" fill="#394150">${b.text}</text></g>`,
  )}</svg></figure>`;
}

/** Time from a card's first IN_PROGRESS to its first APPROVED (or DONE), ms; undefined when not approved. */
export function timeToApprovalMs(statusHistory: { status: string; at: string }[]): number | undefined {
  const start = statusHistory.find((s) => s.status === "IN_PROGRESS");
  const end = statusHistory.find((s) => s.status === "APPROVED" || s.status === "DONE");
  return start && end ? Date.parse(end.at) - Date.parse(start.at) : undefined;
}

/**
 * A histogram of durations (ms): `bins` equal-width bins from the shortest to the longest, each labelled
 * with its range and counting the values in it (the last bin includes the longest). Empty for no values.
 */
export function durationHistogram(values: number[], bins = 6): Bar[] {
  if (values.length === 0) return [];
  const min = Math.min(...values);
  const max = Math.max(...values);
  const n = max === min ? 1 : bins;
  const width = (max - min) / n || 1;
  const counts = new Array<number>(n).fill(0);
  for (const v of values) counts[Math.min(n - 1, Math.floor((v - min) / width))]! += 1;
  return counts.map((count, i) => {
    const from = min + i * width;
    const label = n === 1 ? formatDuration(min) : `${formatDuration(from)} – ${formatDuration(from + width)}`;
    return { label, value: count, text: `${count} card${count === 1 ? "" : "s"}` };
  });
}

/** The metrics page of a backlog. */
export function metricsPage(ctx: PageContext, report: MetricsReport, view: BacklogView): Fragment {
  const m = report.metrics;
  const run = view.cards.filter((c) => !c.legacy && c.state);
  const pct = (x: number | null) => (x === null ? "—" : `${(x * 100).toFixed(0)}%`);
  const dur = (x: number | null) => (x === null ? "—" : formatDuration(x));
  const approval = run.flatMap((c) => {
    const ms = timeToApprovalMs(c.state!.statusHistory);
    return ms === undefined ? [] : [ms];
  });
  const id = encodeURIComponent(report.backlogId);
  return layout(
    ctx,
    `Metrics of ${report.backlogId}`,
    h`<h1>Metrics of <a href="/backlogs/${id}">${report.backlogId}</a></h1>
<table class="metrics"><tr><th>cards run</th><td>${m.cardsRun} of ${m.cards}</td><th>rejection rate</th><td>${pct(m.rejectionRate)}</td><th>attempts per card</th><td>${m.averageAttemptsPerCard?.toFixed(2) ?? "—"}</td></tr>
<tr><th>escalation rate</th><td>${pct(m.escalationRate)}</td><th>first-time-right</th><td>${pct(m.firstTimeRightRate)}</td><th>throughput</th><td>${m.throughput.doneCardsPerHour?.toFixed(1) ?? "—"} DONE/h</td></tr>
<tr><th>time to approval p50 / p95</th><td>${dur(m.timeToApproval.p50Ms)} / ${dur(m.timeToApproval.p95Ms)}</td><th>correction loop p95</th><td>${dur(m.correctionLoop.p95Ms)}</td><th>cost</th><td>$${m.cost.totalUsd.toFixed(4)} (mean $${m.cost.meanUsdPerCard?.toFixed(4) ?? "—"}/card)</td></tr></table>
<div class="charts">
${barChart(
  "Cost per card (USD)",
  run.map((c) => ({ label: c.cardId, value: c.costUsd, text: `$${c.costUsd.toFixed(4)}` })),
)}
${barChart(
  "Attempts per card",
  run.map((c) => ({ label: c.cardId, value: c.state!.attempts.length, text: String(c.state!.attempts.length) })),
  "#8a5cd1",
)}
${barChart("Time to approval (distribution)", durationHistogram(approval), "#2e7d32")}
${barChart(
  "Top 10 rejection reasons",
  m.topRejectionReasons.map((r) => ({ label: r.reason, value: r.count, text: String(r.count) })),
  "#c62828",
)}
</div>`,
  );
}
