import { describe, expect, it } from "vitest";
import {
  backlogDetails,
  backlogSummary,
  cardCurrentDetails,
  cardSummary,
  judgeActivitySummary,
  peerReviewActivitySummary,
  qaActivitySummary,
  shardSummary,
} from "../../src/domain/ui-metadata.js";
import type { JudgeConfig } from "../../src/domain/squad.js";

const repository = { path: "/srv/shop", baseBranch: "main", integrationBranch: "squadflow/shop" };

describe("Temporal UI metadata texts", () => {
  it("keeps a summary on one line and cuts a long title short", () => {
    const summary = cardSummary({ id: "BE-002", title: `Ledger\nrounding ${"x".repeat(300)}`, type: "BACKEND" });
    expect(summary).not.toContain("\n");
    expect(summary.startsWith("BE-002 · Ledger rounding x")).toBe(true);
    expect(summary.endsWith("… · BACKEND")).toBe(true);
    expect(new TextEncoder().encode(summary).length).toBeLessThanOrEqual(400);
  });

  it("names a backlog, its card count and where it delivers; a shard its page (from 1)", () => {
    expect(backlogSummary("shop", 12, repository)).toBe("shop · 12 cards · /srv/shop → squadflow/shop");
    expect(backlogSummary("shop", 1, undefined)).toBe("shop · 1 card · isolated workspaces");
    expect(shardSummary("shop", 1, 500)).toBe("shop · page 2 · 500 cards");
    expect(backlogDetails("b.json", undefined, 3)).toBe(
      "**Backlog file:** b.json\n**Budget:** unlimited\n**Pages:** 3 (one backlog shard workflow each)",
    );
  });

  it("summarizes the judge by kind and the QA by its check names", () => {
    const llm = {
      kind: "llm",
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      panel: { models: [{ model: "gpt-5" }] },
    } as JudgeConfig;
    expect(judgeActivitySummary(llm)).toBe("judge llm claude-sonnet-4-5 + panel of 1");
    expect(qaActivitySummary([{ name: "unit tests" }, { name: "lint" }])).toBe("QA: unit tests, lint");
    expect(peerReviewActivitySummary(["codex", "gemini"])).toBe("peer review by codex, gemini");
  });

  it("says what a paused or blocked card waits for", () => {
    const base = {
      attempt: 0,
      corrections: 0,
      attempts: [],
      waitingFor: [],
      paused: false,
      cost: { inputTokens: 0, outputTokens: 0, usd: 0 },
    };
    expect(cardCurrentDetails({ ...base, status: "TODO", paused: true })).toContain(
      "**Waits for:** the backlog to be resumed (paused)",
    );
    expect(
      cardCurrentDetails({ ...base, status: "BLOCKED", blockedBy: { cardId: "A", status: "CANCELLED" } }),
    ).toContain("**Waits for:** dependency A (CANCELLED) — or `retry` / `skip`");
    expect(cardCurrentDetails({ ...base, status: "TODO" })).toBe(
      "**Status:** TODO · attempt 0 · 0 corrections\n**Cost:** $0",
    );
  });
});
