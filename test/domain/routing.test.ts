import { describe, expect, it } from "vitest";
import { routeOwner, routingFraction, type OwnerPool } from "../../src/domain/index.js";
import { card, issuesOf, plan, validBacklog, type RawBacklog } from "./fixtures.js";

const POOL: OwnerPool = {
  pool: [
    { agent: "gemini-dev", weight: 40 },
    { agent: "claude-dev", weight: 40 },
    { agent: "codex-dev", weight: 20 },
  ],
  fallback: "writer",
};

/** The valid backlog with the SPEC type owned by POOL, its members command agents, and `n` cards. */
function pooledBacklog(n: number): RawBacklog {
  const b = validBacklog();
  const agent = { kind: "command", command: "node", args: ["./agent.mjs"] };
  b.squad!.agents = { writer: agent, "gemini-dev": agent, "claude-dev": agent, "codex-dev": agent };
  b.squad!.card_types.SPEC!.owner = POOL;
  b.cards = Array.from({ length: n }, (_, i) => card(`SPEC-${String(i + 1).padStart(3, "0")}`));
  return b;
}

describe("weighted owner routing", () => {
  it("spreads 100 cards over a 40/40/20 pool within ±10 % of the weights", () => {
    const counts: Record<string, number> = {};
    for (const c of plan(pooledBacklog(100)).cards) counts[c.agentName] = (counts[c.agentName] ?? 0) + 1;
    expect(Object.keys(counts).sort()).toEqual(["claude-dev", "codex-dev", "gemini-dev"]);
    for (const { agent, weight } of POOL.pool) expect(Math.abs(counts[agent]! - weight)).toBeLessThanOrEqual(10);
  });

  it("routes a card the same way every time (a hash of backlog and card id, no randomness)", () => {
    const first = plan(pooledBacklog(30)).cards.map((c) => c.agentName);
    const again = plan(pooledBacklog(30)).cards.map((c) => c.agentName);
    expect(again).toEqual(first);
    expect(routeOwner(POOL, "shop", "SPEC-007")).toEqual(routeOwner(POOL, "shop", "SPEC-007"));
    // Another backlog id is another hash: the same card ids spread differently.
    const other = Array.from(
      { length: 30 },
      (_, i) => routeOwner(POOL, "other", `SPEC-${String(i + 1).padStart(3, "0")}`).chosen,
    );
    expect(other).not.toEqual(first);
  });

  it("records the choice and the candidates in the card plan: chosen, other members heaviest first, then the fallback", () => {
    for (const c of plan(pooledBacklog(20)).cards) {
      const names = c.ownerCandidates!.map((x) => x.name);
      expect(names[0]).toBe(c.agentName);
      expect(names.slice(1)).toEqual(
        ["gemini-dev", "claude-dev", "codex-dev", "writer"].filter((n) => n !== c.agentName),
      );
      expect(c.ownerCandidates!.every((x) => x.agent.kind === "command")).toBe(true);
    }
  });

  it("keeps a card's own owner and a plain type owner without candidates", () => {
    const b = pooledBacklog(2);
    b.cards[0]!.owner = "writer";
    const [own, pooled] = plan(b).cards;
    expect(own!.agentName).toBe("writer");
    expect(own!.ownerCandidates).toBeUndefined();
    expect(pooled!.ownerCandidates).toHaveLength(4);
    expect(plan(validBacklog()).cards[0]!.ownerCandidates).toBeUndefined();
  });

  it("refuses unknown pool members and fallbacks, naming the field", () => {
    const b = pooledBacklog(1);
    b.squad!.card_types.SPEC!.owner = {
      pool: [
        { agent: "gemini-dev", weight: 1 },
        { agent: "nobody", weight: 1 },
      ],
      fallback: "ghost",
    };
    const issues = issuesOf(b);
    expect(issues.map((i) => [i.field, i.message])).toEqual(
      expect.arrayContaining([
        ["squad.card_types.SPEC.owner.pool[1].agent", expect.stringContaining('unknown owner agent "nobody"')],
        ["squad.card_types.SPEC.owner.fallback", expect.stringContaining('unknown owner agent "ghost"')],
      ]),
    );
  });

  it("refuses a pool with a non-positive weight or an agent listed twice", () => {
    const b = pooledBacklog(1);
    b.squad!.card_types.SPEC!.owner = { pool: [{ agent: "gemini-dev", weight: 0 }] };
    expect(issuesOf(b).some((i) => i.field.includes("card_types.SPEC.owner"))).toBe(true);
    b.squad!.card_types.SPEC!.owner = {
      pool: [
        { agent: "gemini-dev", weight: 1 },
        { agent: "gemini-dev", weight: 2 },
      ],
    };
    expect(
      issuesOf(b)
        .map((i) => i.message)
        .join("\n"),
    ).toContain("listed twice");
  });

  it("hashes to a fraction in [0, 1)", () => {
    for (const key of ["", "a", "shop/SPEC-001", "x".repeat(1000)]) {
      const f = routingFraction(key);
      expect(f).toBeGreaterThanOrEqual(0);
      expect(f).toBeLessThan(1);
    }
  });
});
