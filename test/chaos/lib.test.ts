/**
 * The FAULTS harness's own bookkeeping (scripts/chaos/lib.ts, scenarios.ts): the seeded backlog, what the
 * lifecycle predicts for it, the invocation logs, and which kill interrupted which agent run. Pure and
 * fast; the scenarios themselves run in chaos.test.ts.
 */
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { planBacklog } from "../../src/domain/index.js";
import {
  Rng,
  chaosBacklogFile,
  killOf,
  layeredCards,
  readInvocations,
  runsHitByKills,
  type AgentRun,
} from "../../scripts/chaos/lib.js";
import { holdCards, predictedResults } from "../../scripts/chaos/scenarios.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("the chaos backlog", () => {
  it("is a layered DAG, the same for the same seed", () => {
    const opts = { layers: 5, width: 10, failFirstRate: 0.15, alwaysFail: true };
    const cards = layeredCards(new Rng(42), opts);
    expect(cards).toHaveLength(50);
    expect(layeredCards(new Rng(42), opts)).toEqual(cards);
    expect(layeredCards(new Rng(43), opts)).not.toEqual(cards);
    for (const c of cards) {
      const layer = Number(c.id.slice(1, c.id.indexOf("-")));
      if (layer === 0) expect(c.dependencies).toEqual([]);
      else expect(c.dependencies.length === 1 || c.dependencies.length === 2).toBe(true);
      for (const d of c.dependencies) expect(d.startsWith(`L${layer - 1}-`)).toBe(true);
    }
    expect(cards.filter((c) => c.mode === "always-fail").map((c) => c.id)).toEqual([expect.stringMatching(/^L3-/)]);
  });

  it("has exactly one card that never passes, in the last-but-one layer, whatever the seed and width", () => {
    for (let seed = 0; seed < 200; seed++) {
      const cards = layeredCards(new Rng(seed), { layers: 10, width: 20, failFirstRate: 0.15, alwaysFail: true });
      expect(cards.filter((c) => c.mode === "always-fail").map((c) => c.id)).toEqual([expect.stringMatching(/^L8-/)]);
    }
  });

  it("is a valid backlog file for planBacklog", () => {
    const cards = layeredCards(new Rng(1), { layers: 3, width: 4, failFirstRate: 0.2, alwaysFail: false });
    const file = chaosBacklogFile("chaos-x", cards, {
      logDir: "/tmp/logs",
      minMs: 100,
      maxMs: 200,
      agentTimeoutMs: 60_000,
      hangTimeoutMs: 1_000,
      webhookUrl: "http://127.0.0.1:9/x",
    });
    const plan = planBacklog(JSON.stringify(file), { file: "chaos.json" });
    expect(plan.backlogId).toBe("chaos-x");
    expect(plan.cards).toHaveLength(12);
    expect(plan.cards[0]!.webhooks).toHaveLength(1);
  });

  it("predicts each card from its mode and its dependencies", () => {
    const predicted = predictedResults([
      { id: "A", dependencies: [], mode: "ok" },
      { id: "B", dependencies: ["A"], mode: "fail-first" },
      { id: "C", dependencies: ["A"], mode: "always-fail" },
      { id: "D", dependencies: ["B", "C"], mode: "ok" },
    ]);
    expect(Object.fromEntries(predicted)).toEqual({
      A: { status: "DONE", attempt: 1 },
      B: { status: "DONE", attempt: 2 },
      C: { status: "AWAITING_HUMAN", attempt: 4 },
      D: { status: "TODO", attempt: 0 },
    });
  });

  it("holds the last cards that run: those ending DONE that no other DONE card waits for", () => {
    const cards = [
      { id: "A", dependencies: [], mode: "ok" as const },
      { id: "B", dependencies: ["A"], mode: "ok" as const },
      { id: "C", dependencies: ["A"], mode: "always-fail" as const },
      { id: "D", dependencies: ["C"], mode: "ok" as const },
      { id: "E", dependencies: [], mode: "ok" as const },
    ];
    // D never runs (behind C), so holding it would hold nothing; C rests AWAITING_HUMAN.
    expect(holdCards(cards, predictedResults(cards))).toEqual(["B", "E"]);
  });

  it("passes the hold to the agent in its environment", () => {
    const cards = layeredCards(new Rng(2), { layers: 2, width: 2, failFirstRate: 0, alwaysFail: false });
    const file = chaosBacklogFile("chaos-h", cards, {
      logDir: "/tmp/logs",
      minMs: 1,
      maxMs: 2,
      agentTimeoutMs: 60_000,
      hold: { file: "/tmp/release", cardIds: ["L1-C00", "L1-C01"] },
    });
    const plan = planBacklog(JSON.stringify(file), { file: "chaos.json" });
    expect(plan.cards[0]!.agent).toMatchObject({
      env: { CHAOS_HOLD_FILE: "/tmp/release", CHAOS_HOLD_CARDS: "L1-C00,L1-C01" },
    });
  });
});

describe("invocation logs and kills", () => {
  it("reads runs per attempt: started, completed, orphaned", async () => {
    const dir = await mkdtemp(join(tmpdir(), "chaos-lib-"));
    dirs.push(dir);
    await mkdir(join(dir, "b", "X"), { recursive: true });
    await writeFile(
      join(dir, "b", "X", "attempt-1.log"),
      "start 10 100 1000\ndone 10 1 1500\nstart 11 1 1600\nstart 12 200 70000\ndone 12 200 70400\n",
    );
    const [runs] = await readInvocations(dir, "b");
    expect(runs).toMatchObject({ cardId: "X", attempt: 1, started: 3, completed: 2, orphanCompleted: 1 });
    expect(runs!.runs.map((r) => [r.pid, r.orphaned, r.doneAt])).toEqual([
      [10, true, 1500],
      [11, false, undefined],
      [12, false, 70400],
    ]);
  });

  it("attributes each interrupted run to the kill that interrupted it", () => {
    const workers = new Set([100, 200]);
    const kills = [1200, 1550, 5000];
    const run = (r: Partial<AgentRun>): AgentRun => ({
      pid: 1,
      parentAtStart: 100,
      startedAt: 1000,
      orphaned: false,
      ...r,
    });
    expect(killOf(run({ doneAt: 1500, orphaned: true }), kills, workers)).toBe(0); // orphaned by the kill at 1200
    expect(killOf(run({ doneAt: 1100 }), kills, workers)).toBe(-1); // done before any kill
    expect(killOf(run({ parentAtStart: 1, startedAt: 1560 }), kills, workers)).toBe(1); // started after the kill at 1550
    expect(killOf(run({ startedAt: 1580 }), kills, workers)).toBe(1); // never done, logged 30 ms after the kill
    expect(killOf(run({ startedAt: 3000 }), kills, workers)).toBe(2);
    const attempts = [
      {
        cardId: "X",
        attempt: 1,
        runs: [run({ doneAt: 1500, orphaned: true }), run({ startedAt: 3000 })],
        started: 2,
        completed: 1,
        orphanCompleted: 1,
      },
    ];
    expect(runsHitByKills(attempts, kills, workers)).toEqual([["X#1"], [], ["X#1"]]);
    // Server kills: the runs in flight at each kill.
    expect(runsHitByKills(attempts, [1200, 2000], undefined)).toEqual([["X#1"], []]);
  });
});
