/**
 * The ops commands through the CLI itself (`main()` in-process, against the run's dev server), on one small
 * backlog run by scripted activities:
 *   A (DOC, HIGH)            passes first time
 *   B (DOC, after A)         rejected once by the judge, fixed by one correction
 *   C (BACKEND, CRITICAL)    fails QA every time → 3 corrections → escalated, waits for a human
 *   D (BACKEND, after C)     waits for C
 * Owner runs cost $0.01 each; the cost alert threshold is $0.03, so C (4 attempts, $0.04) is over it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBacklogView } from "../../src/cli/backlogs.js";
import { watchBoard } from "../../src/cli/board.js";
import type { CardHistory } from "../../src/cli/history.js";
import type { ListedCard } from "../../src/cli/list.js";
import type { MetricsReport } from "../../src/cli/metrics.js";
import { testEnv } from "../helpers/temporal.js";
import { cli, startScenario, until, type Scenario } from "./helpers.js";

const QA_FAIL = ["unit tests exited 1"];

let s: Scenario;
let backlogId: string;

beforeAll(async () => {
  s = await startScenario(
    "ops-cli",
    [
      { id: "A", type: "DOC", priority: "HIGH" },
      { id: "B", type: "DOC", dependencies: ["A"] },
      { id: "C", type: "BACKEND", priority: "CRITICAL" },
      { id: "D", type: "BACKEND", dependencies: ["C"] },
    ],
    { B: { judge: [['criterion "has intro" not met'], "pass"] }, C: { qa: [QA_FAIL] } },
    0.03,
  );
  backlogId = s.backlogId;
});

afterAll(async () => {
  await s?.stop();
});

async function listJson(...args: string[]): Promise<{ query: string; count: number; cards: ListedCard[] }> {
  const r = await cli("list", "--json", ...args);
  expect(r.err).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.out);
}

describe("status --watch", () => {
  it("prints a new board only when it changes (not a TTY) and returns once the backlog is idle", async () => {
    const r = await cli("status", backlogId, "--watch", "--interval", "100");
    expect(r.code).toBe(0);
    expect(r.out).not.toContain("\x1b[2J");
    const boards = r.out.split(/\n(?=backlog )/);
    expect(new Set(boards).size).toBe(boards.length); // never the same board twice in a row
    const last = boards[boards.length - 1]!;
    expect(last).toContain(`backlog ${backlogId} — idle`);
    expect(last).toMatch(/\[█+░+\] 2\/4 \(50%\) cards final/);
    expect(last).toContain("DONE 2");
    expect(last).toContain("waiting for a human (1):");
    expect(last).toContain("C (attempt 4) — qa: unit tests exited 1");
    expect(last).toContain(`npx squadflow review ${backlogId} C --approve|--reject|--clarify`);
    expect(last).toContain("cost so far $0.0700 — over the alert threshold: C");
  });

  it("prints one JSON board per line with --json", async () => {
    const r = await cli("status", backlogId, "--watch", "--json", "--interval", "100");
    expect(r.code).toBe(0);
    const boards = r.out.split("\n").map((l) => JSON.parse(l));
    expect(boards.at(-1)).toMatchObject({
      backlogId,
      idle: true,
      running: true,
      total: 4,
      final: 2,
      costAlerts: ["C"],
      awaitingHuman: [{ cardId: "C", attempt: 4 }],
    });
  });

  it("redraws in place with an ANSI clear on a terminal", async () => {
    const { client } = await testEnv();
    const out: string[] = [];
    await watchBoard(client, backlogId, { tty: true, intervalMs: 50, write: (t) => out.push(t) });
    expect(out.length).toBeGreaterThanOrEqual(2); // idle twice in a row: drawn twice even though unchanged
    expect(out.every((t) => t.startsWith("\x1b[2J\x1b[H"))).toBe(true);
  });

  it("keeps `status --json` as it was", async () => {
    const r = await cli("status", backlogId, "--json");
    const json = JSON.parse(r.out);
    expect(Object.keys(json)).toEqual(["backlogId", "running", "cards"]);
    expect(json.cards.find((c: { cardId: string }) => c.cardId === "C")).toMatchObject({
      status: "AWAITING_HUMAN",
      attempt: 4,
    });
  });
});

describe("list", () => {
  it("lists the cards of a backlog from visibility, highest priority first, without corrections", async () => {
    const json = await until("visibility to show every card in its status", async () => {
      const j = await listJson("--backlog", backlogId);
      const st = Object.fromEntries(j.cards.map((c) => [c.cardId, c.status]));
      return st.A === "DONE" && st.B === "DONE" && st.C === "AWAITING_HUMAN" && st.D === "TODO" ? j : undefined;
    });
    expect(json.query).toBe(`WorkflowType="cardWorkflow" AND BacklogId="${backlogId}"`);
    expect(json.cards.map((c) => c.cardId).slice(0, 2)).toEqual(["C", "A"]); // CRITICAL, HIGH, then the MEDIUM ones
    expect(
      json.cards
        .map((c) => c.cardId)
        .slice(2)
        .sort(),
    ).toEqual(["B", "D"]);
    expect(json.cards[0]).toMatchObject({
      backlogId,
      workflowId: `${backlogId}/C`,
      type: "BACKEND",
      priority: "CRITICAL",
      attempt: 4,
      execution: "RUNNING",
    });
    expect(json.cards[0]!.costUsd).toBeCloseTo(0.04, 6);
  });

  it("is the human-review queue with --status AWAITING_HUMAN, and shows the review command", async () => {
    expect((await listJson("--backlog", backlogId, "--status", "awaiting_human")).cards.map((c) => c.cardId)).toEqual([
      "C",
    ]);
    const text = await cli("list", "--backlog", backlogId, "--status", "AWAITING_HUMAN");
    expect(text.code).toBe(0);
    expect(text.out).toContain(`↳ npx squadflow review ${backlogId} C --approve`);
    expect(text.out).toContain("1 card");
  });

  it("filters by card type and includes correction workflows only with --corrections", async () => {
    expect((await listJson("--backlog", backlogId, "--type", "BACKEND")).cards.map((c) => c.cardId).sort()).toEqual([
      "C",
      "D",
    ]);
    const all = await until("the corrections to be visible", async () => {
      const j = await listJson("--backlog", backlogId, "--corrections");
      return j.count === 8 ? j : undefined;
    });
    expect(all.cards.map((c) => c.cardId).sort()).toEqual([
      "A",
      "B",
      "B-CORR-1",
      "C",
      "C-CORR-1",
      "C-CORR-2",
      "C-CORR-3",
      "D",
    ]);
    expect(all.cards.find((c) => c.cardId === "C-CORR-1")!.workflowType).toBe("correctionWorkflow");
  });

  it("quotes values safely: quotes and backslashes in a value cannot change the query", async () => {
    const json = await listJson("--backlog", `${backlogId}" OR BacklogId!="x`, "--type", 'a\\"b');
    expect(json.count).toBe(0);
    expect(json.query).toBe(
      `WorkflowType="cardWorkflow" AND BacklogId="${backlogId}\\" OR BacklogId!=\\"x" AND CardType="a\\\\\\"b"`,
    );
  });

  it("refuses an unknown status with exit code 2, naming the valid ones", async () => {
    const r = await cli("list", "--status", "STUCK");
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown status "STUCK" (statuses: TODO, IN_PROGRESS');
  });
});

describe("history", () => {
  it("shows a card's attempts, verdicts, feedback, debug reports, audit log and timeline", async () => {
    const r = await cli("history", backlogId, "C");
    expect(r.code).toBe(0);
    for (const part of [
      "C — Card C",
      "status AWAITING_HUMAN · attempt 4 · 3 corrections",
      "COST ALERT",
      "Timeline",
      "AWAITING_HUMAN",
      "Attempts (4)",
      "#1 FAILED",
      "✓ verification",
      "✓ llm_judge score 9.0",
      "✗ qa",
      "- unit tests exited 1",
      "feedback of correction round 3:",
      "- qa: unit tests exited 1",
      `root cause: root cause for C`,
      "Debug reports (2)",
      "Audit log (2)",
      "cost_alert by squadflow",
      "escalated by squadflow — still failing after 3 corrections",
    ]) {
      expect(r.out, part).toContain(part);
    }
  });

  it("has a --json form with the card state and a timeline with durations", async () => {
    const r = await cli("history", backlogId, "B", "--json");
    const h = JSON.parse(r.out) as CardHistory;
    expect(h).toMatchObject({ backlogId, cardId: "B", workflowId: `${backlogId}/B`, final: true });
    expect(h.timeline.map((t) => t.status)).toEqual([
      "TODO",
      "IN_PROGRESS",
      "VALIDATING",
      "REJECTED",
      "CORRECTING",
      "APPROVED",
      "DONE",
    ]);
    expect(h.timeline.slice(0, -1).every((t) => typeof t.durationMs === "number" && t.durationMs >= 0)).toBe(true);
    expect(h.timeline.at(-1)!.durationMs).toBeNull();
    expect(h.state.attempts[0]!.verdicts.find((v) => v.validator === "llm_judge")).toMatchObject({
      passed: false,
      score: 5,
      reasons: ['criterion "has intro" not met'],
    });
    expect(h.state.attempts[1]!.feedback).toMatchObject({
      round: 1,
      reasons: ['llm_judge: criterion "has intro" not met'],
    });
  });

  it("exits 2 for an unknown card or backlog, and points a correction id to its card", async () => {
    const unknown = await cli("history", backlogId, "Z");
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain(`unknown card "Z" in backlog "${backlogId}" (cards: A, B, C, D)`);
    const correction = await cli("history", backlogId, "C-CORR-2");
    expect(correction.code).toBe(2);
    expect(correction.err).toContain(`squadflow history ${backlogId} C`);
    const noBacklog = await cli("history", "no-such-backlog", "A", "--json");
    expect(noBacklog.code).toBe(2);
    expect(JSON.parse(noBacklog.err)).toEqual({
      error: { message: expect.stringContaining('unknown backlog "no-such-backlog"'), exitCode: 2 },
    });
  });
});

describe("metrics, review --json and the end of the run", () => {
  it("computes the success metrics while C waits for a human", async () => {
    const r = await cli("metrics", backlogId, "--json");
    expect(r.code).toBe(0);
    const { metrics: m, running } = JSON.parse(r.out) as MetricsReport;
    expect(running).toBe(true);
    // A 1 attempt, B 2 (1 failed), C 4 (4 failed), D none yet.
    expect(m).toMatchObject({
      cards: 4,
      cardsRun: 3,
      attempts: 7,
      failedAttempts: 5,
      escalatedCards: 1,
      firstTimeRightCards: 1,
    });
    expect(m.rejectionRate).toBeCloseTo(5 / 7, 10);
    expect(m.escalationRate).toBeCloseTo(1 / 3, 10);
    expect(m.timeToApproval.count).toBe(2); // A and B
    expect(m.correctionLoop.count).toBe(4); // B's one, C's three
    expect(m.cost).toMatchObject({ totalUsd: 0.07, overThreshold: 1, overThresholdCards: ["C"] });
    expect(m.topRejectionReasons[0]).toEqual({ reason: "qa: unit tests exited 1", count: 4 });
    const text = await cli("metrics", backlogId);
    expect(text.out).toContain("rejection rate       71.4% (5 failed of 7 attempts)");
    expect(text.out).toContain("4×  qa: unit tests exited 1");
  });

  it("approves C with review --json, and every card ends DONE", async () => {
    const r = await cli(
      "review",
      backlogId,
      "C",
      "--approve",
      "--reviewer",
      "ana",
      "--reason",
      "verified by hand",
      "--json",
    );
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({
      backlogId,
      cardId: "C",
      decision: "approve",
      entry: { actor: "ana", action: "approve", reason: "verified by hand" },
    });
    const { client } = await testEnv();
    await until("the backlog to finish", async () =>
      (await readBacklogView(client, backlogId)).running ? undefined : true,
    );

    const board = await cli("status", backlogId, "--watch", "--interval", "100");
    expect(board.out).toContain(`backlog ${backlogId} — finished`);
    expect(board.out).toMatch(/\[█{30}\] 4\/4 \(100%\)/);

    const { metrics: m } = JSON.parse((await cli("metrics", backlogId, "--json")).out) as MetricsReport;
    expect(m).toMatchObject({
      cards: 4,
      cardsRun: 4,
      attempts: 8,
      failedAttempts: 5,
      firstTimeRightCards: 2,
      cardsByStatus: { DONE: 4 },
    });
    expect(m.timeToApproval.count).toBe(4);
    expect(m.throughput.doneCards).toBe(4);
    expect(m.throughput.doneCardsPerHour).toBeGreaterThan(0);
  });
});
