/**
 * The portal's renderers on their own (pure functions): diffs are highlighted and escaped, chart labels are
 * escaped, the start form and decision forms are left out for viewers.
 */
import { describe, expect, it } from "vitest";
import { barChart, durationHistogram, timeToApprovalMs } from "../../src/portal/metrics-view.js";
import { startForm } from "../../src/portal/start-view.js";
import { diffFragment, reviewFragment, type PageContext } from "../../src/portal/views.js";

const ctx = (role: "reviewer" | "viewer", readOnly = false): PageContext => ({
  identity: { reviewer: "tess", role, via: "session" },
  csrf: "c".repeat(32),
  readOnly,
  namespace: "default",
});

describe("portal views", () => {
  it("highlights a diff with highlight.js and keeps HTML in it as text", () => {
    const diff = ["diff --git a/x.html b/x.html", "@@ -1 +1 @@", "-<p>old</p>", "+<script>alert(1)</script>"].join(
      "\n",
    );
    const out = diffFragment(diff).toString();
    expect(out).toContain('<span class="hljs-addition">+&lt;script&gt;alert(1)&lt;/script&gt;</span>');
    expect(out).toContain('<span class="hljs-deletion">-&lt;p&gt;old&lt;/p&gt;</span>');
    expect(out).not.toContain("<script>");
  });

  it("draws a bar chart as SVG with escaped labels, longest bar for the largest value", () => {
    const out = barChart("Top reasons", [
      { label: "qa: <img src=x>", value: 4, text: "4" },
      { label: "llm_judge: vague", value: 2, text: "2" },
    ]).toString();
    expect(out).toContain("qa: &lt;img src=x&gt;");
    expect(out).not.toContain("<img");
    const widths = [...out.matchAll(/<rect [^>]*width="(\d+)"/g)].map((m) => Number(m[1]));
    expect(widths).toEqual([320, 160]);
    expect(barChart("Empty", []).toString()).toContain("no data yet");
  });

  it("measures time to approval from the first IN_PROGRESS to the first APPROVED", () => {
    const history = [
      { status: "TODO", at: "2026-01-01T00:00:00Z" },
      { status: "IN_PROGRESS", at: "2026-01-01T00:01:00Z" },
      { status: "APPROVED", at: "2026-01-01T00:04:30Z" },
      { status: "DONE", at: "2026-01-01T00:05:00Z" },
    ];
    expect(timeToApprovalMs(history)).toBe(210_000);
    expect(timeToApprovalMs(history.slice(0, 2))).toBeUndefined();
  });

  it("bins durations into equal-width ranges from the shortest to the longest", () => {
    const bars = durationHistogram([60_000, 90_000, 120_000, 360_000], 3);
    expect(bars.map((b) => b.value)).toEqual([3, 0, 1]);
    expect(bars.map((b) => b.text)).toEqual(["3 cards", "0 cards", "1 card"]);
    expect(durationHistogram([5000, 5000]).map((b) => b.value)).toEqual([2]);
    expect(durationHistogram([])).toEqual([]);
  });

  it("offers decisions and the start form to reviewers only", () => {
    const item = {
      backlogId: "b",
      cardId: "C-1",
      title: "t",
      type: "DOC",
      priority: "HIGH",
      attempt: 4,
      waitingSince: "2026-01-01T00:00:00Z",
      reasons: ["qa: x"],
      costUsd: 0,
    };
    expect(reviewFragment(ctx("reviewer"), [item]).toString()).toContain('data-api="/api/backlogs/b/cards/C-1/review"');
    expect(reviewFragment(ctx("viewer"), [item]).toString()).not.toContain("data-api");
    expect(reviewFragment(ctx("reviewer", true), [item]).toString()).not.toContain("data-api");
    expect(startForm(ctx("reviewer")).toString()).toContain('data-api="/api/backlogs"');
    expect(startForm(ctx("viewer")).toString()).toBe("");
  });
});
