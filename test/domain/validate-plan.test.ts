/** `planBacklog` on a valid backlog: the plan every card workflow starts from. */
import { describe, expect, it } from "vitest";
import { DEFAULT_COST_ALERT_USD, DEFAULT_PASS_SCORE, planBacklog } from "../../src/domain/index.js";
import { FILE, card, plan, validBacklog, validSquad, withCard } from "./fixtures.js";

describe("planBacklog backlog id", () => {
  it("uses metadata.backlog_id when the file has one", () => {
    expect(plan(validBacklog(), { file: "whatever.json" }).backlogId).toBe("shop");
  });

  it("derives the backlog id from the file name when metadata has no backlog_id", () => {
    const b = validBacklog();
    b.metadata = { project: "Shop" };
    expect(plan(b, { file: "state/sprint-12.json" }).backlogId).toBe("sprint-12");
  });

  it("derives the backlog id from the file name when there is no metadata at all", () => {
    const b = validBacklog();
    delete b.metadata;
    expect(plan(b, { file: "/srv/backlogs/backlog_master.JSON" }).backlogId).toBe("backlog_master");
  });

  it('turns characters a workflow id cannot hold into "-" and handles Windows paths', () => {
    const b = validBacklog();
    delete b.metadata;
    expect(plan(b, { file: "C:\\work\\Q3 backlog (v2).json" }).backlogId).toBe("Q3-backlog--v2-");
  });

  it('falls back to "backlog" when nothing usable is left of the file name', () => {
    const b = validBacklog();
    delete b.metadata;
    expect(plan(b, { file: "___.json" }).backlogId).toBe("backlog");
  });

  it("prefers the override to metadata.backlog_id", () => {
    expect(plan(validBacklog(), { backlogId: "shop-rerun" }).backlogId).toBe("shop-rerun");
  });

  it("stamps the backlog id on every card plan", () => {
    expect(plan(validBacklog()).cards.map((c) => c.backlogId)).toEqual(["shop", "shop"]);
  });
});

describe("planBacklog cards to run", () => {
  function seededBacklog() {
    const b = validBacklog();
    b.cards = [
      card("SPEC-001", {
        status: "DONE",
        artifacts: ["docs/spec.md", { path: "docs/api.yaml", sha256: "abc", size: 10 }],
      }),
      card("SPEC-002", { status: "TODO", dependencies: ["SPEC-001"] }),
      card("SPEC-002-CORR-1", { type: "CORRECTION", parent_card: "SPEC-002", status: "REJECTED", attempt: 1 }),
      card("SPEC-003", { dependencies: ["SPEC-001", "SPEC-002"] }),
      card("OLD-001", { type: "RETIRED_TYPE", status: "DONE", artifacts: [] }),
    ];
    return b;
  }

  it("runs every card except DONE cards and CORRECTION cards, in file order", () => {
    expect(plan(seededBacklog()).cards.map((c) => c.card.id)).toEqual(["SPEC-002", "SPEC-003"]);
  });

  it("lists DONE cards in plan.done with their artifacts, both string and {path} forms", () => {
    expect(plan(seededBacklog()).done).toEqual([
      { cardId: "SPEC-001", artifacts: ["docs/spec.md", "docs/api.yaml"] },
      { cardId: "OLD-001", artifacts: [] },
    ]);
  });

  it("does not check the card type of a DONE card, which is not run again", () => {
    expect(() => plan(seededBacklog())).not.toThrow();
  });

  it("gives a card its DONE dependencies, with artifacts, as resolved dependencies", () => {
    const cards = plan(seededBacklog()).cards;
    expect(cards.find((c) => c.card.id === "SPEC-002")!.resolvedDependencies).toEqual([
      { cardId: "SPEC-001", artifacts: ["docs/spec.md", "docs/api.yaml"] },
    ]);
  });

  it("does not list dependencies that still have to run as resolved", () => {
    const spec3 = plan(seededBacklog()).cards.find((c) => c.card.id === "SPEC-003")!;
    expect(spec3.resolvedDependencies.map((d) => d.cardId)).toEqual(["SPEC-001"]);
    expect(spec3.card.dependencies).toEqual(["SPEC-001", "SPEC-002"]);
  });

  it("gives a card without DONE dependencies no resolved dependencies", () => {
    expect(plan(validBacklog()).cards.map((c) => c.resolvedDependencies)).toEqual([[], []]);
  });

  it("folds legacy CORRECTION cards into their parent's legacyCorrections, in file order", () => {
    const b = seededBacklog();
    b.cards.push(
      card("SPEC-002-CORR-2", {
        type: "CORRECTION",
        parent_card: "SPEC-002",
        status: "IN_PROGRESS",
        attempt: 2,
        validation_history: [{ validator: "llm_judge", score: 6.5, passed: false, reviewer_notes: "thin" }],
      }),
    );
    const cards = plan(b).cards;
    expect(cards.find((c) => c.card.id === "SPEC-002")!.legacyCorrections).toEqual([
      { cardId: "SPEC-002-CORR-1", status: "REJECTED", attempt: 1, validationHistory: [] },
      {
        cardId: "SPEC-002-CORR-2",
        status: "IN_PROGRESS",
        attempt: 2,
        validationHistory: [{ validator: "llm_judge", score: 6.5, passed: false, reviewer_notes: "thin" }],
      },
    ]);
    expect(cards.find((c) => c.card.id === "SPEC-003")!.legacyCorrections).toEqual([]);
  });

  it("does not require CORRECTION to be a squad card type", () => {
    const p = plan(seededBacklog());
    expect(p.cards.some((c) => c.card.type === "CORRECTION")).toBe(false);
  });
});

describe("planBacklog owners and squad settings", () => {
  function twoAgentBacklog() {
    const b = validBacklog();
    b.squad!.agents.reviewer = {
      kind: "command",
      command: "python3",
      args: ["review.py"],
      timeout_ms: 1000,
      env: { MODE: "strict" },
    };
    return b;
  }

  it("runs a card with the owner agent of its card type", () => {
    const c = plan(twoAgentBacklog()).cards[0]!;
    expect(c.agentName).toBe("writer");
    expect(c.agent).toEqual({
      kind: "command",
      command: "node",
      args: ["./examples/agents/x.mjs"],
      timeout_ms: 600_000,
      env: {},
    });
  });

  it("runs a card with its own owner override instead of the type's owner", () => {
    const b = twoAgentBacklog();
    b.cards[1]!.owner = "reviewer";
    const [first, second] = plan(b).cards;
    expect(first!.agentName).toBe("writer");
    expect(second!.agentName).toBe("reviewer");
    expect(second!.agent).toEqual({
      kind: "command",
      command: "python3",
      args: ["review.py"],
      timeout_ms: 1000,
      env: { MODE: "strict" },
    });
  });

  it("gives each card the config of its card type", () => {
    const b = validBacklog();
    b.squad!.card_types.QA_PLAN = {
      owner: "writer",
      judge: {
        kind: "rubric",
        pass_score: 9,
        criteria: [{ name: "lists risks", weight: 2, check: { type: "contains", text: "Risk" } }],
      },
      qa: { checks: [{ name: "lint", command: "npm", args: ["run", "lint"] }] },
      verification: { required_evidence: ["**/*.md"] },
    };
    b.cards[1]!.type = "QA_PLAN";
    const c = plan(b).cards[1]!;
    expect(c.typeConfig).toEqual({
      owner: "writer",
      verification: { required_evidence: ["**/*.md"], extra_red_flags: [] },
      judge: {
        kind: "rubric",
        pass_score: 9,
        criteria: [{ name: "lists risks", weight: 2, check: { type: "contains", text: "Risk" } }],
      },
      qa: { checks: [{ name: "lint", command: "npm", args: ["run", "lint"], timeout_ms: 300_000 }] },
    });
  });

  it("applies the squad's cost_alert_usd to every card", () => {
    const b = validBacklog();
    b.squad!.cost_alert_usd = 2.5;
    expect(plan(b).cards.map((c) => c.costAlertUsd)).toEqual([2.5, 2.5]);
  });

  it("uses a separate squad file when the backlog has no squad section", () => {
    const b = validBacklog();
    delete b.squad;
    const p = plan(b, { squad: { file: "squad.json", text: JSON.stringify(validSquad()) } });
    expect(p.cards.map((c) => c.agentName)).toEqual(["writer", "writer"]);
  });

  it("prefers the separate squad file to the backlog's squad section", () => {
    const squad = validSquad();
    squad.agents.writer = { kind: "command", command: "python3" };
    const p = plan(validBacklog(), { squad: { file: "squad.json", text: JSON.stringify(squad) } });
    expect(p.cards[0]!.agent).toMatchObject({ command: "python3", args: [] });
  });
});

describe("planBacklog defaults", () => {
  it("defaults priority to MEDIUM, status to TODO, attempt to 0 and empty lists", () => {
    const p = plan(validBacklog());
    const c = p.cards[0]!;
    expect(c.card).toEqual({
      id: "SPEC-001",
      type: "SPEC",
      title: "Card SPEC-001",
      description: "",
      priority: "MEDIUM",
      dependencies: [],
      acceptanceCriteria: [],
    });
    expect(c.priorAttempts).toBe(0);
    expect(c.legacyCorrections).toEqual([]);
    expect(p.source.cards[0]).toMatchObject({
      status: "TODO",
      priority: "MEDIUM",
      attempt: 0,
      artifacts: [],
      validation_history: [],
      cost_tracking: {},
    });
  });

  it("defaults the judge pass score to 8.0 and the cost alert to $1.00", () => {
    const c = plan(validBacklog()).cards[0]!;
    expect(DEFAULT_PASS_SCORE).toBe(8);
    expect(DEFAULT_COST_ALERT_USD).toBe(1);
    expect(c.typeConfig.judge.pass_score).toBe(8);
    expect(c.costAlertUsd).toBe(1);
  });

  it("defaults verification, QA and criterion weights", () => {
    const c = plan(validBacklog()).cards[0]!;
    expect(c.typeConfig.verification).toEqual({ required_evidence: [], extra_red_flags: [] });
    expect(c.typeConfig.qa).toEqual({ checks: [] });
    expect(c.typeConfig.judge.criteria[0]!.weight).toBe(1);
  });

  it("keeps the values the file gives instead of the defaults", () => {
    const b = withCard(0, {
      priority: "CRITICAL",
      description: "The whole spec",
      acceptance_criteria: ["has an API section"],
      attempt: 2,
    });
    const c = plan(b).cards[0]!;
    expect(c.card).toMatchObject({
      priority: "CRITICAL",
      description: "The whole spec",
      acceptanceCriteria: ["has an API section"],
    });
    expect(c.priorAttempts).toBe(2);
  });

  it("does not share default arrays between cards", () => {
    const p = plan(validBacklog());
    expect(p.cards[0]!.card.acceptanceCriteria).not.toBe(p.cards[1]!.card.acceptanceCriteria);
  });
});

describe("planBacklog keeps the seed's shape", () => {
  const seed = {
    version: "2.3",
    generated_by: "autonomous_meta_orchestrator",
    metadata: { backlog_id: "arq", project: "Arquitetura", created_at: "2024-05-01T10:00:00Z", owner_team: "platform" },
    cards: [
      {
        id: "ARQ-001",
        type: "SPEC",
        title: "Architecture overview",
        description: "Describe the system",
        status: "DONE",
        priority: "HIGH",
        dependencies: [],
        attempt: 1,
        artifacts: [{ path: "docs/arch.md", type: "markdown", size_bytes: 2048 }],
        validation_history: [{ validator: "llm_judge", score: 8.7, passed: true, timestamp: "2024-05-01T11:00:00Z" }],
        cost_tracking: { tokens_input: 1200, tokens_output: 800, total_tokens: 2000, cost_usd: 0.042, model: "gpt-4o" },
        created_at: "2024-05-01T10:00:00Z",
        updated_at: "2024-05-01T11:00:00Z",
        completed_at: "2024-05-01T11:00:00Z",
        assigned_agent: "architect",
        tags: ["core"],
      },
      {
        id: "ARQ-002",
        type: "SPEC",
        title: "Data model",
        status: "TODO",
        priority: "LOW",
        dependencies: ["ARQ-001"],
        attempt: 0,
        artifacts: [],
        validation_history: [],
        cost_tracking: {},
        estimated_hours: 4,
      },
    ],
    squad: validSquad(),
  };

  it("accepts the seed's backlog_master.json shape as-is", () => {
    const p = planBacklog(JSON.stringify(seed), { file: FILE });
    expect(p.backlogId).toBe("arq");
    expect(p.cards.map((c) => c.card.id)).toEqual(["ARQ-002"]);
    expect(p.cards[0]!.card.priority).toBe("LOW");
    expect(p.done).toEqual([{ cardId: "ARQ-001", artifacts: ["docs/arch.md"] }]);
  });

  it("preserves unknown fields of the file, its metadata, cards, artifacts, history and costs in plan.source", () => {
    const { squad: _squad, ...rest } = seed;
    const p = planBacklog(JSON.stringify(seed), { file: FILE });
    expect(p.source).toMatchObject(rest);
    expect(p.source.version).toBe("2.3");
    expect(p.source.metadata.owner_team).toBe("platform");
    expect(p.source.cards[0]!.assigned_agent).toBe("architect");
    expect(p.source.cards[0]!.artifacts[0]).toEqual({ path: "docs/arch.md", type: "markdown", size_bytes: 2048 });
    expect(p.source.cards[0]!.cost_tracking.model).toBe("gpt-4o");
    expect(p.source.cards[1]!.estimated_hours).toBe(4);
  });
});
