import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  needsPages,
  planPages,
  reverseDependencyOrder,
  startRounds,
  startWaves,
  type CardPlan,
} from "../../src/domain/index.js";
import { testPlan, type TestCard } from "../workflows/fakes.js";

function plans(cards: TestCard[]): CardPlan[] {
  return testPlan("pages", cards).cards;
}

/** A random DAG: card i may depend on any card j < i. */
const dag = fc
  .integer({ min: 1, max: 60 })
  .chain((n) =>
    fc
      .tuple(
        ...Array.from({ length: n }, (_, i) =>
          fc.uniqueArray(fc.integer({ min: 0, max: Math.max(0, i - 1) }), { maxLength: i === 0 ? 0 : 3 }),
        ),
      )
      .map((deps) =>
        deps.map((d, i): TestCard => ({ id: `C${i}`, dependencies: i === 0 ? [] : d.map((j) => `C${j}`) })),
      ),
  );

describe("paged start (src/domain/pages.ts)", () => {
  it("orders every card after all of its dependents, higher priority first within a round", () => {
    const order = reverseDependencyOrder(
      plans([
        { id: "A" },
        { id: "B", dependencies: ["A"] },
        { id: "C", dependencies: ["A"], priority: "HIGH" },
        { id: "D", dependencies: ["B"] },
      ]),
    );
    expect(order.map((p) => p.card.id)).toEqual(["C", "D", "B", "A"]);
  });

  it("starts every card in a later round than each of its dependents, each card once", () => {
    fc.assert(
      fc.property(dag, (cards) => {
        const rounds = startRounds(plans(cards));
        const roundOf = new Map(rounds.flatMap((r, i) => r.map((c) => [c.card.id, i] as const)));
        expect(rounds.flat()).toHaveLength(cards.length);
        expect(roundOf.size).toBe(cards.length);
        for (const c of cards)
          for (const d of c.dependencies ?? []) expect(roundOf.get(c.id)!).toBeLessThan(roundOf.get(d)!);
      }),
    );
  });

  it("starts the cards that wait for a dependency first, in reverse dependency order, then those that can run at once", () => {
    const { waiting, ready } = startWaves(
      plans([
        { id: "OLD", status: "DONE" },
        { id: "A" },
        { id: "L", dependencies: ["OLD"] },
        { id: "B", dependencies: ["A"] },
        { id: "C", dependencies: ["A", "L"], priority: "HIGH" },
      ]),
    );
    expect(waiting.map((p) => p.card.id)).toEqual(["C", "B"]);
    expect(ready.map((p) => p.card.id)).toEqual(["L", "A"]);
    fc.assert(
      fc.property(dag, (cards) => {
        const waves = startWaves(plans(cards));
        expect([...waves.waiting, ...waves.ready].map((p) => p.card.id).sort()).toEqual(cards.map((c) => c.id).sort());
        expect(waves.ready.every((p) => p.card.dependencies.length === 0)).toBe(true);
        expect(waves.waiting.every((p) => p.card.dependencies.length > 0)).toBe(true);
      }),
    );
  });

  it("pages every card once, within the limits, each after its dependents, with dependents across pages", () => {
    fc.assert(
      fc.property(dag, fc.integer({ min: 1, max: 7 }), (cards, maxCards) => {
        const pages = planPages(plans(cards), { maxCards });
        const pageOf = new Map(pages.flatMap((p) => p.cards.map((c) => [c.card.id, p.index] as const)));
        expect([...pageOf.keys()].sort()).toEqual(cards.map((c) => c.id).sort());
        expect(pages.every((p, i) => p.index === i && p.cards.length >= 1 && p.cards.length <= maxCards)).toBe(true);
        for (const c of cards) {
          for (const d of c.dependencies ?? []) {
            expect(pageOf.get(c.id)!).toBeLessThanOrEqual(pageOf.get(d)!);
            expect(pages[pageOf.get(d)!]!.dependents[d]).toContain(c.id);
          }
        }
      }),
    );
  });

  it("cuts pages by bytes too, and says when a backlog needs pages", () => {
    const cards = plans(Array.from({ length: 10 }, (_, i) => ({ id: `C${i}` })));
    const size = JSON.stringify(cards[0]).length;
    expect(needsPages(cards)).toBe(false);
    expect(needsPages(cards, { maxCards: 9 })).toBe(true);
    expect(needsPages(cards, { maxBytes: size * 5 })).toBe(true);
    expect(planPages(cards, { maxBytes: size * 3 + 2 }).map((p) => p.cards.length)).toEqual([3, 3, 3, 1]);
    expect(planPages(cards, { maxBytes: 1 }).map((p) => p.cards.length)).toEqual(Array(10).fill(1));
  });
});
