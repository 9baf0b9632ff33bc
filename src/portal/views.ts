/**
 * The portal's pages, server-rendered with Hono's `html` template tag: every interpolated value is
 * HTML-escaped unless it is itself a rendered fragment, so agent output, reasons, diffs and artifact names
 * are shown as text (an artifact containing `<script>` is shown, not run). The only script is
 * /assets/portal.js (forms → JSON API, live fragments over Server-Sent Events).
 */
import hljs from "highlight.js/lib/core";
import diffLanguage from "highlight.js/lib/languages/diff";
import { html, raw } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
import type { CardHistory } from "../cli/history.js";
import { renderOwnerProgress } from "../cli/progress.js";
import type { AttemptDiff } from "../cli/diff.js";
import type { BacklogSummary, BoardCard, PortalBoard, ReviewItem } from "./data.js";
import type { PortalIdentity } from "./auth.js";

hljs.registerLanguage("diff", diffLanguage);

/** A rendered fragment (already escaped). */
export type Fragment = HtmlEscapedString;

/** `html` with synchronous children only (all of ours) is synchronous; this says so to the type checker. */
function h(strings: TemplateStringsArray, ...values: unknown[]): Fragment {
  return html(strings, ...values) as Fragment;
}

/** What every page needs: who is logged in, the CSRF token the forms echo, the mode. */
export interface PageContext {
  identity?: PortalIdentity;
  csrf: string;
  readOnly: boolean;
  /** Base URL of the Temporal UI (for links to workflows), and its namespace. */
  temporalUi?: string;
  namespace: string;
}

const CSS = `
:root{--bg:#f6f7f9;--fg:#1d2330;--mut:#6b7280;--card:#fff;--line:#e3e6eb;--acc:#3056d3;--bad:#c62828;--ok:#2e7d32;--warn:#b26a00}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;gap:16px;align-items:center;padding:10px 20px;background:#1d2330;color:#fff}
header a{color:#cfd8ff;text-decoration:none}header .who{margin-left:auto;color:#aab}
main{padding:16px 20px}h1{font-size:20px;margin:4px 0 12px}h2{font-size:16px;margin:18px 0 8px}
a{color:var(--acc)}.mut{color:var(--mut)}.bad{color:var(--bad)}.ok{color:var(--ok)}
table{border-collapse:collapse;background:var(--card)}td,th{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
.columns{display:flex;gap:8px;overflow-x:auto;align-items:flex-start}
.col{min-width:170px;flex:1;background:#eceff3;border-radius:6px;padding:6px}
.col h3{font-size:12px;margin:2px 4px 6px;color:#394150;letter-spacing:.03em}
.card{background:var(--card);border:1px solid var(--line);border-radius:5px;padding:6px 8px;margin-bottom:6px}
.card .id{font-weight:600}.card .meta{font-size:12px;color:var(--mut)}.card .why{font-size:12px;color:var(--warn)}
.bar{height:10px;background:#dde2ea;border-radius:5px;overflow:hidden;width:320px;display:inline-block;vertical-align:middle}
.bar>span{display:block;height:100%;background:var(--ok)}
.stats{display:flex;gap:18px;flex-wrap:wrap;margin-bottom:10px}
form.inline{display:inline-flex;gap:6px;align-items:center;margin:4px 8px 4px 0}
input[type=text],textarea{font:inherit;padding:3px 6px;border:1px solid #c4c9d2;border-radius:4px}
button{font:inherit;padding:3px 10px;border:1px solid #9aa3b2;border-radius:4px;background:#fff;cursor:pointer}
button.primary{background:var(--acc);color:#fff;border-color:var(--acc)}button.danger{color:var(--bad)}
output.result{display:block;font-size:13px;margin:4px 0;white-space:pre-wrap}
.review{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:10px 12px;margin-bottom:12px}
pre{background:#0f1420;color:#dfe6f3;padding:8px;border-radius:5px;overflow-x:auto;white-space:pre-wrap;font-size:12px}
`;

/** The page frame: header with navigation and the logged-in reviewer, then `body`. */
export function layout(ctx: PageContext, title: string, body: Fragment): Fragment {
  const who = ctx.identity
    ? h`<span class="who">${ctx.identity.reviewer} (${ctx.readOnly || ctx.identity.role === "viewer" ? "read-only" : ctx.identity.role})</span>${
        ctx.identity.via === "session"
          ? h`<form method="post" action="/logout" class="inline" style="margin:0"><input type="hidden" name="_csrf" value="${ctx.csrf}"><button>Log out</button></form>`
          : ""
      }`
    : h`<span class="who">not logged in</span>`;
  return h`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="csrf-token" content="${ctx.csrf}">
<title>${title} · squadflow</title><style>${CSS}</style><link rel="stylesheet" href="/assets/highlight.css">
<script src="/assets/portal.js" defer></script></head>
<body><header><strong>squadflow</strong><a href="/">Backlogs</a><a href="/review">Human review</a>
${ctx.temporalUi ? h`<a href="${ctx.temporalUi}/namespaces/${ctx.namespace}/workflows" target="_blank" rel="noopener">Temporal UI</a>` : ""}${who}</header>
<main>${body}</main></body></html>`;
}

/** The login page (a token from SQUADFLOW_PORTAL_TOKENS, the tokens file, or the one `dev` printed). */
export function loginPage(ctx: PageContext, error?: string): Fragment {
  return layout(
    ctx,
    "Log in",
    h`<h1>Log in</h1>${error ? h`<p class="bad">${error}</p>` : ""}
<form method="post" action="/login" class="inline"><input type="hidden" name="_csrf" value="${ctx.csrf}">
<input type="password" name="token" placeholder="access token" size="40" autofocus><button class="primary">Log in</button></form>
<p class="mut">Tokens come from SQUADFLOW_PORTAL_TOKENS, the tokens file, or the login URL <code>squadflow dev</code> / <code>squadflow portal</code> printed (docs/portal.md).</p>`,
  );
}

function canDecide(ctx: PageContext): boolean {
  return !ctx.readOnly && ctx.identity?.role === "reviewer";
}

/**
 * A form posting JSON to an API route (portal.js): `fields` are its inputs, `buttons` its submit buttons
 * (name/value pairs sent with the fields); the answer, or the refusal, appears in its `<output>`.
 */
function apiForm(ctx: PageContext, action: string, fields: Fragment, buttons: Fragment, cls = "inline"): Fragment {
  if (!canDecide(ctx)) return h``;
  return h`<form class="${cls}" data-api="${action}">${fields}${buttons}<output class="result"></output></form>`;
}

const reasonField = (placeholder = "reason (audited)") =>
  h`<input type="text" name="reason" placeholder="${placeholder}" required size="28">`;

/** The list of backlogs (home page), with the start form below. */
export function backlogsPage(
  ctx: PageContext,
  backlogs: BacklogSummary[],
  queue: number,
  startForm: Fragment,
): Fragment {
  return layout(
    ctx,
    "Backlogs",
    h`<h1>Backlogs</h1>
<p><a href="/review">Human review queue</a>: ${queue} card${queue === 1 ? "" : "s"} waiting for a decision.</p>
${
  backlogs.length === 0
    ? h`<p class="mut">No backlog yet.</p>`
    : h`<table><tr><th>backlog</th><th>workflow</th><th>started</th><th></th></tr>${backlogs.map(
        (b) =>
          h`<tr><td><a href="/backlogs/${encodeURIComponent(b.backlogId)}">${b.backlogId}</a></td><td>${b.execution}</td><td>${b.startTime.slice(0, 19).replace("T", " ")}</td><td><a href="/backlogs/${encodeURIComponent(b.backlogId)}/metrics">metrics</a></td></tr>`,
      )}</table>`
}
${startForm}`,
  );
}

function cardTile(backlogId: string, c: BoardCard): Fragment {
  // A legacy card was not run: it has no history to show.
  const id = c.legacy
    ? h`<span class="id">${c.cardId}</span>`
    : h`<a class="id" href="/backlogs/${encodeURIComponent(backlogId)}/cards/${encodeURIComponent(c.cardId)}">${c.cardId}</a>`;
  return h`<div class="card" data-card="${c.cardId}">${id}
<div>${c.title}</div>
<div class="meta">${c.type || "—"} · ${c.priority || "—"} · attempt ${c.attempt}${c.score !== undefined ? h` · score ${c.score.toFixed(1)}` : ""} · $${c.costUsd.toFixed(4)}</div>
${c.why ? h`<div class="why">${c.why}</div>` : ""}${c.progress ? h`<div class="meta progress">owner: ${c.progress}</div>` : ""}</div>`;
}

/** The live part of a board page (replaced on every `board-html` event). */
export function boardFragment(b: PortalBoard): Fragment {
  const pct = b.total > 0 ? Math.round((b.final / b.total) * 100) : 100;
  const state = !b.running
    ? "finished"
    : b.paused
      ? "paused"
      : b.idle
        ? "idle — every card has ended or waits for a human"
        : "running";
  return h`<div class="stats"><span>state: <strong data-state>${state}</strong></span>
<span><span class="bar"><span style="width:${pct}%"></span></span> ${b.final}/${b.total} final (${pct}%)</span>
<span>cost so far <strong>$${b.costUsd.toFixed(4)}</strong>${b.costAlerts.length ? h` <span class="bad">over alert: ${b.costAlerts.join(", ")}</span>` : ""}</span>
<span class="mut">${Object.entries(b.counts)
    .map(([s, n]) => `${s} ${n}`)
    .join(" · ")}</span></div>
<div class="columns">${b.columns
    .filter(
      (c) =>
        c.cards.length > 0 ||
        ["TODO", "IN_PROGRESS", "VALIDATING", "AWAITING_HUMAN", "DONE", "BLOCKED"].includes(c.status),
    )
    .map(
      (c) =>
        h`<section class="col" data-column="${c.status}"><h3>${c.status} (${c.cards.length})</h3>${c.cards.map((card) => cardTile(b.backlogId, card))}</section>`,
    )}</div>`;
}

/** A backlog's board page: live over SSE (`/api/backlogs/{id}/events`), with pause / resume / cancel. */
export function boardPage(ctx: PageContext, b: PortalBoard): Fragment {
  const id = encodeURIComponent(b.backlogId);
  return layout(
    ctx,
    b.backlogId,
    h`<h1>Backlog ${b.backlogId} <a class="mut" style="font-size:13px" href="/backlogs/${id}/metrics">metrics</a>
<a class="mut" style="font-size:13px" href="/review?backlog=${id}">human review</a>
${ctx.temporalUi ? h` <a class="mut" style="font-size:13px" target="_blank" rel="noopener" href="${ctx.temporalUi}/namespaces/${ctx.namespace}/workflows?query=${encodeURIComponent(`BacklogId="${b.backlogId}"`)}">Temporal UI</a>` : ""}</h1>
<div>${apiForm(ctx, `/api/backlogs/${id}/pause`, reasonField(), h`<button name="action" value="pause">Pause</button>`)}
${apiForm(ctx, `/api/backlogs/${id}/resume`, reasonField(), h`<button name="action" value="resume">Resume</button>`)}
${apiForm(ctx, `/api/backlogs/${id}/cancel`, reasonField("reason (logged)"), h`<button class="danger" name="action" value="cancel">Cancel backlog</button>`)}</div>
<div id="board" data-events="/api/backlogs/${id}/events">${boardFragment(b)}</div>`,
  );
}

/** The decision forms of a card awaiting a human: approve / reject / clarify, then retry / skip / cancel. */
function decisionForms(ctx: PageContext, backlogId: string, cardId: string, awaiting: boolean): Fragment {
  const base = `/api/backlogs/${encodeURIComponent(backlogId)}/cards/${encodeURIComponent(cardId)}`;
  return h`${
    awaiting
      ? apiForm(
          ctx,
          `${base}/review`,
          h`${reasonField()}<input type="text" name="context" placeholder="context (for clarify)" size="28">`,
          h`<button class="primary" name="decision" value="approve">Approve</button><button name="decision" value="reject">Reject</button><button name="decision" value="clarify">Clarify</button>`,
          "inline review-form",
        )
      : ""
  }
<div>${apiForm(ctx, `${base}/retry`, reasonField(), h`<button name="action" value="retry">Retry</button>`)}
${apiForm(ctx, `${base}/skip`, reasonField(), h`<button name="action" value="skip">Skip</button>`)}
${apiForm(ctx, `${base}/cancel`, reasonField("reason (logged)"), h`<button class="danger" name="action" value="cancel">Cancel card</button>`)}</div>`;
}

/** The live part of the review panel. */
export function reviewFragment(ctx: PageContext, items: ReviewItem[]): Fragment {
  if (items.length === 0) return h`<p class="mut" data-empty>No card waits for a human.</p>`;
  return h`${items.map(
    (r) => h`<div class="review" data-review="${r.backlogId}/${r.cardId}">
<div><a class="id" href="/backlogs/${encodeURIComponent(r.backlogId)}/cards/${encodeURIComponent(r.cardId)}"><strong>${r.cardId}</strong></a> · ${r.title}
<span class="mut">· ${r.type} · ${r.priority} · backlog <a href="/backlogs/${encodeURIComponent(r.backlogId)}">${r.backlogId}</a> · attempt ${r.attempt} · $${r.costUsd.toFixed(4)} · waiting since ${r.waitingSince.slice(0, 19).replace("T", " ")}</span></div>
${r.unavailable ? h`<p class="bad">${r.unavailable}</p>` : r.reasons.length ? h`<ul class="reasons">${r.reasons.map((x) => h`<li>${x}</li>`)}</ul>` : h`<p class="mut">no failure reason recorded</p>`}
${r.rootCause ? h`<p><strong>Root cause (debugging agent):</strong> <span class="root-cause">${r.rootCause}</span>${r.suggestions?.length ? h`<br><span class="mut">suggestions: ${r.suggestions.join("; ")}</span>` : ""}</p>` : ""}
${decisionForms(ctx, r.backlogId, r.cardId, true)}</div>`,
  )}`;
}

/** The human-review panel (live: the queue is re-read over SSE, forms keep their results); `backlogId` narrows it to one backlog. */
export function reviewPage(ctx: PageContext, items: ReviewItem[], backlogId?: string): Fragment {
  const events = `/api/review-queue/events${backlogId ? `?backlog=${encodeURIComponent(backlogId)}` : ""}`;
  return layout(
    ctx,
    "Human review",
    h`<h1>Human review${backlogId ? h` of ${backlogId} <a class="mut" style="font-size:13px" href="/review">all backlogs</a>` : ""}</h1>
<p class="mut">Cards awaiting a decision${backlogId ? "" : " across backlogs"}, oldest first. You decide as <strong>${ctx.identity?.reviewer ?? "?"}</strong>.</p>
<div id="queue" data-events="${events}">${reviewFragment(ctx, items)}</div>`,
  );
}

/**
 * A unified diff, highlighted by highlight.js (its `diff` grammar: files, hunks, additions, deletions);
 * highlight.js escapes the text it wraps, so repository content stays text.
 */
export function diffFragment(diff: string): Fragment {
  return h`<pre class="diff hljs"><code>${raw(hljs.highlight(diff, { language: "diff", ignoreIllegals: true }).value)}</code></pre>`;
}

/** The card page: timeline, attempts with verdicts, feedback, debugging, artifacts, cost, audit log, diff. */
export function cardPage(ctx: PageContext, hist: CardHistory, diff: { value?: AttemptDiff; error?: string }): Fragment {
  const s = hist.state;
  const ui = ctx.temporalUi
    ? `${ctx.temporalUi}/namespaces/${ctx.namespace}/workflows/${encodeURIComponent(hist.workflowId)}`
    : undefined;
  return layout(
    ctx,
    `${hist.cardId}`,
    h`<h1>${hist.cardId} · ${s.card.title}</h1>
<p><span class="mut">${s.card.type} · ${s.card.priority} · backlog</span> <a href="/backlogs/${encodeURIComponent(hist.backlogId)}">${hist.backlogId}</a>
· status <strong data-status>${s.status}</strong> · attempt ${s.attempt} · $${s.cost.usd.toFixed(4)} (${s.cost.inputTokens} in / ${s.cost.outputTokens} out tokens)
${ui ? h` · <a href="${ui}" target="_blank" rel="noopener">workflow in the Temporal UI</a>` : ""}</p>
${hist.ownerProgress ? h`<p class="progress">Owner at work: ${renderOwnerProgress(hist.ownerProgress)}</p>` : ""}
${s.status === "DONE" || s.status === "CANCELLED" ? "" : decisionForms(ctx, hist.backlogId, hist.cardId, s.status === "AWAITING_HUMAN")}
<h2>Timeline</h2><table><tr><th>status</th><th>at</th><th>for</th></tr>${hist.timeline.map(
      (t) =>
        h`<tr><td>${t.status}</td><td>${t.at.slice(0, 19).replace("T", " ")}</td><td>${t.durationMs === null ? "" : `${(t.durationMs / 1000).toFixed(1)} s`}</td></tr>`,
    )}</table>
<h2>Attempts</h2>${s.attempts.length === 0 ? h`<p class="mut">none yet</p>` : ""}${s.attempts.map(
      (
        a,
      ) => h`<div class="review attempt" data-attempt="${a.attempt}"><strong>attempt ${a.attempt}</strong> <span class="${a.passed ? "ok" : "bad"}">${a.passed ? "passed" : "failed"}</span>
<span class="mut">${a.agentName ? `· ${a.agentName} ` : ""}· ${a.startedAt.slice(0, 19).replace("T", " ")} · $${a.cost.usd.toFixed(4)} (${a.cost.inputTokens}/${a.cost.outputTokens} tokens)${a.git ? ` · branch ${a.git.branch}` : ""}</span>
<p class="summary">${a.summary}</p>
<p>artifacts: ${a.artifacts.length ? a.artifacts.map((x, i) => h`${i ? ", " : ""}<code class="artifact">${x}</code>`) : h`<span class="mut">none</span>`}</p>
<table><tr><th>validator</th><th>result</th><th>score</th><th>reasons</th></tr>${a.verdicts.map(
        (v) =>
          h`<tr><td>${v.validator}</td><td class="${v.passed ? "ok" : "bad"}">${v.passed ? "pass" : "fail"}</td><td>${v.score ?? ""}</td><td>${v.reasons.map((r) => h`<div>${r}</div>`)}${v.details ? h`<pre>${v.details.split("\n").slice(-20).join("\n")}</pre>` : ""}</td></tr>`,
      )}</table>
${a.feedback ? h`<p><strong>Feedback to the correction:</strong></p><pre>${JSON.stringify(a.feedback, null, 2)}</pre>` : ""}
${candidatesOf(a)}</div>`,
    )}
${s.debugReports.length ? h`<h2>Debugging agent</h2>${s.debugReports.map((d) => h`<div class="review"><strong>Root cause:</strong> ${d.rootCause}<ul>${d.suggestions.map((x) => h`<li>${x}</li>`)}</ul></div>`)}` : ""}
<h2>Diff</h2>${diff.value ? h`<p class="mut">attempt ${diff.value.attempt} · ${diff.value.branch} · ${diff.value.baseCommit.slice(0, 10)}..${diff.value.headCommit.slice(0, 10)}${diff.value.merged ? " · merged" : ""}</p>${diffFragment(diff.value.diff)}` : h`<p class="mut">${diff.error ?? "no diff"}</p>`}
<h2>Audit log</h2>${
      s.auditLog.length === 0
        ? h`<p class="mut">empty</p>`
        : h`<table><tr><th>at</th><th>who</th><th>action</th><th>reason</th></tr>${s.auditLog.map(
            (e) =>
              h`<tr><td>${e.at.slice(0, 19).replace("T", " ")}</td><td>${e.actor}</td><td>${e.action}</td><td>${e.reason}</td></tr>`,
          )}</table>`
    }`,
  );
}

/** Council candidates of an attempt record, when it has any (a `candidates` list). */
function candidatesOf(a: object): Fragment {
  const list = (a as { candidates?: unknown }).candidates;
  if (!Array.isArray(list) || list.length === 0) return h``;
  return h`<p><strong>Council candidates:</strong></p><pre>${JSON.stringify(list, null, 2)}</pre>`;
}

/** An error page (message escaped). */
export function errorPage(ctx: PageContext, title: string, message: string): Fragment {
  return layout(
    ctx,
    title,
    h`<h1>${title}</h1><p class="bad">${message}</p><p><a href="/">Back to the backlogs</a></p>`,
  );
}
