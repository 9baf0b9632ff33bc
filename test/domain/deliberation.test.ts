/**
 * Councils' config and rules (issue 12): which cards deliberate, the clear errors for a council that
 * cannot run, and the pure scoring, ranking and naming rules of src/domain/deliberation.ts.
 */
import { describe, expect, it } from "vitest";
import {
  candidatesOf,
  critiquePairs,
  parallelRunBudget,
  deliberationWorkflowId,
  proposalBranch,
  proposalScore,
  proposalWorkspace,
  rankProposals,
  topProposals,
  type Proposal,
} from "../../src/domain/index.js";
import { FILE, card, issuesOf, plan, validSquad, type RawBacklog } from "./fixtures.js";

const SCORER = {
  kind: "rubric",
  criteria: [{ name: "has an overview", check: { type: "section", heading: "Overview" } }],
};

function councilBacklog(
  deliberation: Record<string, unknown> | undefined,
  cards = [card("SPEC-001"), card("SPEC-002", { requires_deliberation: false })],
): RawBacklog {
  const squad = validSquad();
  squad.agents.alpha = { kind: "command", command: "node", args: ["./a.mjs"] };
  squad.agents.beta = { kind: "command", command: "node", args: ["./b.mjs"] };
  if (deliberation) squad.card_types.SPEC!.deliberation = deliberation;
  return { metadata: { backlog_id: "shop" }, cards, squad };
}

describe("planBacklog with councils", () => {
  it("gives a council to the cards of a type whose default deliberates, unless the card says requires_deliberation: false", () => {
    const p = plan(councilBacklog({ agents: ["alpha", "beta"], scorer: SCORER, default: true }));
    const [first, second] = p.cards;
    expect(first!.deliberation).toEqual({
      members: [
        { name: "alpha", agent: expect.objectContaining({ kind: "command", args: ["./a.mjs"] }) },
        { name: "beta", agent: expect.objectContaining({ kind: "command", args: ["./b.mjs"] }) },
      ],
      rounds: 1,
      scorer: expect.objectContaining({ kind: "rubric" }),
      architect: "top-score",
      topK: 2,
    });
    expect(second!.deliberation).toBeUndefined();
  });

  it("gives a council only to the cards that ask for one when the type’s default is off, with a named architect", () => {
    const p = plan(
      councilBacklog({ agents: ["alpha", "beta"], scorer: SCORER, architect: "writer", rounds: 2 }, [
        card("SPEC-001", { requires_deliberation: true }),
        card("SPEC-002"),
      ]),
    );
    expect(p.cards[0]!.deliberation).toMatchObject({ rounds: 2, architect: { name: "writer" } });
    expect(p.cards[1]!.deliberation).toBeUndefined();
  });

  it("refuses a card that requires deliberation when its type has no council, naming the card and the field", () => {
    expect(issuesOf(councilBacklog(undefined, [card("SPEC-001", { requires_deliberation: true })]))).toEqual([
      {
        file: FILE,
        cardId: "SPEC-001",
        field: "cards[0].requires_deliberation",
        message:
          'card type "SPEC" has no council: add squad.card_types.SPEC.deliberation, or remove requires_deliberation',
      },
    ]);
  });

  it("refuses unknown council agents and architects, a top_k above the council, a one-agent council and unknown fields", () => {
    const at = "squad.card_types.SPEC.deliberation";
    expect(
      issuesOf(councilBacklog({ agents: ["alpha", "ghost"], scorer: SCORER, architect: "nobody", top_k: 3 })),
    ).toEqual([
      { file: FILE, field: `${at}.agents[1]`, message: 'unknown agent "ghost" (agents: writer, alpha, beta)' },
      {
        file: FILE,
        field: `${at}.architect`,
        message: 'unknown agent "nobody": name an agent (agents: writer, alpha, beta) or "top-score"',
      },
      { file: FILE, field: `${at}.top_k`, message: "3 is more than the council's 2 agents" },
    ]);
    const fields = issuesOf(councilBacklog({ agents: ["alpha"], scorer: SCORER, judges: 2 })).map((i) => [
      i.field,
      i.message,
    ]);
    expect(fields).toContainEqual([`${at}.agents`, "a council needs at least two agents"]);
    expect(fields).toContainEqual([at, expect.stringMatching(/judges/)]);
  });
});

function proposal(agent: string, fields: Partial<Proposal> = {}): Proposal {
  return {
    agent,
    workspace: `b/C/attempt-1/${agent}`,
    summary: "",
    artifacts: [],
    critiques: [],
    revisions: [],
    cost: { inputTokens: 0, outputTokens: 0, usd: 0 },
    ...fields,
  };
}

describe("council rules", () => {
  it("scales the scorer’s score by the share of QA checks passed", () => {
    expect(proposalScore(9, 0, 2)).toBe(9);
    expect(proposalScore(9, 1, 2)).toBe(4.5);
    expect(proposalScore(9, 2, 2)).toBe(0);
    expect(proposalScore(7.333, 0, 0)).toBe(7.33);
  });

  it("ranks by score, best first, equal scores in council order, failed proposals unranked", () => {
    const ranked = rankProposals([
      proposal("a", { score: 5 }),
      proposal("b", { score: 8 }),
      proposal("c", { failed: "exited 3" }),
      proposal("d", { score: 5 }),
    ]);
    expect(ranked.map((p) => [p.agent, p.rank])).toEqual([
      ["a", 2],
      ["b", 1],
      ["c", undefined],
      ["d", 3],
    ]);
    expect(topProposals(ranked, 2).map((p) => p.agent)).toEqual(["b", "a"]);
    expect(candidatesOf(ranked, "b").map((c) => [c.agent, c.rank, c.failed])).toEqual([
      ["a", 2, undefined],
      ["c", undefined, "exited 3"],
      ["d", 3, undefined],
    ]);
  });

  it("has each agent critique the next one, the last the first", () => {
    expect(critiquePairs(["a", "b", "c"])).toEqual([
      { critic: "a", target: "b" },
      { critic: "b", target: "c" },
      { critic: "c", target: "a" },
    ]);
    expect(critiquePairs(["a"])).toEqual([]);
  });

  it("names the council workflow, worktrees and branches after the attempt", () => {
    expect(deliberationWorkflowId("shop", "ARQ-001", 2)).toBe("shop/ARQ-001-DELIB-2");
    expect(proposalWorkspace("shop", "ARQ-001", 1, "alpha")).toBe("shop/ARQ-001/attempt-1/alpha");
    expect(proposalWorkspace("shop", "ARQ-001", 1, "alpha", 1)).toBe("shop/ARQ-001/attempt-1/alpha-r1");
    expect(proposalBranch("shop", "ARQ-001", 1, "alpha", 2)).toBe("squadflow-attempts/shop/ARQ-001/attempt-1/alpha-r2");
  });
});

describe("parallelRunBudget", () => {
  it("gives each parallel run an equal share of what is left, never adding up to more", () => {
    expect(parallelRunBudget(0.5, 2)).toBe(0.25);
    expect(parallelRunBudget(0.3, 3)).toBe(0.1);
    expect(parallelRunBudget(1, 3)).toBe(0.333333);
    expect(3 * parallelRunBudget(1, 3)!).toBeLessThanOrEqual(1);
    expect(parallelRunBudget(0, 2)).toBe(0);
  });

  it("leaves an unlimited budget unlimited and counts fewer than one run as one", () => {
    expect(parallelRunBudget(undefined, 3)).toBeUndefined();
    expect(parallelRunBudget(0.4, 0)).toBe(0.4);
  });
});
