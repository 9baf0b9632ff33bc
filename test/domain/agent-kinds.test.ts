/**
 * The squad config of the agent kinds (claude-code, codex, gemini, llm; llm judge and debugger; price
 * table; budgets) and what `planBacklog` makes of it: defaults, the secrets rule, cross-field checks.
 */
import { describe, expect, it } from "vitest";
import {
  AgentSchema,
  DebuggerSchema,
  JudgeSchema,
  SquadSchema,
  apiKeyEnvOf,
  reasonKey,
  repeatedReasons,
  type AttemptRecord,
  type Verdict,
} from "../../src/domain/index.js";
import { FILE, issuesOf, plan, validBacklog, type RawBacklog } from "./fixtures.js";

const LLM_JUDGE = {
  kind: "llm",
  provider: "anthropic",
  model: "claude-opus-4-7",
  criteria: [{ name: "Rollback plan", description: "explains rollback" }],
};

describe("agent kinds in the squad schema", () => {
  it("defaults every CLI kind: binary, 60 min hard and 50 min soft limits, no extra args or variables", () => {
    for (const [kind, binary] of [
      ["claude-code", "claude"],
      ["codex", "codex"],
      ["gemini", "gemini"],
    ] as const) {
      expect(AgentSchema.parse({ kind })).toMatchObject({
        kind,
        binary,
        extra_args: [],
        env: [],
        set_env: {},
        timeout_ms: 3_600_000,
        soft_timeout_ms: 3_000_000,
      });
    }
  });

  it("defaults the llm kind and the API key variable per provider", () => {
    const a = AgentSchema.parse({ kind: "llm", provider: "openai", model: "gpt-5" });
    expect(a).toMatchObject({ max_tokens: 8192, max_retries: 2, timeout_ms: 3_600_000, soft_timeout_ms: 3_000_000 });
    expect(apiKeyEnvOf({ provider: "anthropic" })).toBe("ANTHROPIC_API_KEY");
    expect(apiKeyEnvOf({ provider: "openai" })).toBe("OPENAI_API_KEY");
    expect(apiKeyEnvOf({ provider: "openai-compatible" })).toBeUndefined();
    expect(apiKeyEnvOf({ provider: "openai", api_key_env: "TEAM_KEY" })).toBe("TEAM_KEY");
  });

  it("refuses an API key value anywhere in the config, pointing to api_key_env", () => {
    const cases = [
      () => AgentSchema.safeParse({ kind: "llm", provider: "openai", model: "gpt-5", api_key: "sk-123" }),
      () => AgentSchema.safeParse({ kind: "claude-code", api_key: "sk-123" }),
      () => JudgeSchema.safeParse({ ...LLM_JUDGE, api_key: "sk-123" }),
      () =>
        JudgeSchema.safeParse({
          ...LLM_JUDGE,
          panel: { models: [{ model: "gpt-5", provider: "openai", api_key: "sk-1" }] },
        }),
      () => DebuggerSchema.safeParse({ kind: "llm", provider: "openai", model: "gpt-5", api_key: "sk-123" }),
    ];
    for (const parse of cases) {
      const r = parse();
      expect(r.success).toBe(false);
      expect(r.error!.issues.map((i) => i.message).join()).toContain("api_key_env");
    }
  });

  it("refuses secret-looking variables as fixed values in set_env (pass them through by name in env)", () => {
    const r = AgentSchema.safeParse({ kind: "codex", set_env: { OPENAI_API_KEY: "sk-1" } });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toContain('pass them through from the worker by name in "env"');
    expect(
      AgentSchema.safeParse({ kind: "codex", set_env: { CODEX_HOME: "/srv/codex" }, env: ["OPENAI_API_KEY"] }).success,
    ).toBe(true);
    expect(AgentSchema.safeParse({ kind: "codex", env: ["not a name"] }).success).toBe(false);
  });

  it("requires base_url for openai-compatible and refuses temperature for anthropic", () => {
    expect(
      AgentSchema.safeParse({ kind: "llm", provider: "openai-compatible", model: "llama3.1" }).error!.issues[0]!.path,
    ).toEqual(["base_url"]);
    expect(
      AgentSchema.safeParse({ kind: "llm", provider: "anthropic", model: "claude-sonnet-4-6", temperature: 0.2 }).error!
        .issues[0]!.path,
    ).toEqual(["temperature"]);
    expect(
      AgentSchema.safeParse({
        kind: "llm",
        provider: "openai-compatible",
        model: "llama3.1",
        base_url: "http://127.0.0.1:11434/v1",
        temperature: 0,
      }).success,
    ).toBe(true);
  });

  it("defaults the llm judge like the rubric one (pass at 8.0) and its debugger kinds", () => {
    expect(JudgeSchema.parse(LLM_JUDGE)).toMatchObject({
      pass_score: 8,
      max_output_retries: 2,
      allow_owner_model: false,
    });
    expect(DebuggerSchema.parse({ kind: "rules" })).toEqual({ kind: "rules" });
  });

  it("parses a price table and budgets", () => {
    const squad = SquadSchema.parse({
      agents: {},
      card_types: {},
      pricing: { "gpt-5": { input_per_mtok: 1.25, output_per_mtok: 10 } },
      budget: { per_card_usd: 2, per_backlog_usd: 50 },
    });
    expect(squad.pricing!["gpt-5"]).toEqual({ input_per_mtok: 1.25, output_per_mtok: 10 });
    expect(SquadSchema.safeParse({ agents: {}, card_types: {}, budget: { per_card_usd: 0 } }).success).toBe(false);
  });
});

function agentKindsBacklog(): RawBacklog {
  const b = validBacklog();
  b.squad!.agents.claude = { kind: "claude-code", model: "claude-sonnet-4-6", env: ["ANTHROPIC_API_KEY"] };
  b.squad!.card_types.SPEC!.owner = "claude";
  b.squad!.card_types.SPEC!.judge = structuredClone(LLM_JUDGE) as never;
  return b;
}

describe("planBacklog with agent kinds", () => {
  it("leaves the new plan fields out when a squad does not configure them", () => {
    const c = plan(validBacklog()).cards[0]!;
    expect("budgetUsd" in c || "pricing" in c || "debugger" in c).toBe(false);
    expect("budgetUsd" in plan(validBacklog())).toBe(false);
  });

  it("gives each card its budget (its own budget_usd, else per_card_usd), the price table and its debugger", () => {
    const b = agentKindsBacklog();
    const pricing = {
      "claude-sonnet-4-6": { input_per_mtok: 3, output_per_mtok: 15 },
      "claude-opus-4-7": { input_per_mtok: 5, output_per_mtok: 25 },
      qwen: { input_per_mtok: 0, output_per_mtok: 0 },
    };
    b.squad!.pricing = pricing;
    b.squad!.budget = { per_card_usd: 2, per_backlog_usd: 20 };
    b.squad!.debugger = {
      kind: "llm",
      provider: "openai-compatible",
      model: "qwen",
      base_url: "http://127.0.0.1:11434/v1",
    };
    b.cards[1]!.budget_usd = 0.5;
    const p = plan(b);
    expect(p.budgetUsd).toBe(20);
    expect(p.cards.map((c) => c.budgetUsd)).toEqual([2, 0.5]);
    expect(p.cards[0]!.pricing).toEqual(pricing);
    expect(p.cards[0]!.debugger).toMatchObject({ kind: "llm", model: "qwen" });
    expect(p.cards[0]!.agent).toMatchObject({ kind: "claude-code", binary: "claude", permission_mode: "acceptEdits" });
  });

  it("prefers the card type's debugger over the squad's", () => {
    const b = validBacklog();
    b.squad!.debugger = {
      kind: "llm",
      provider: "openai-compatible",
      model: "qwen",
      base_url: "http://127.0.0.1:11434/v1",
    };
    b.squad!.card_types.SPEC!.debugger = { kind: "rules" };
    expect(plan(b).cards[0]!.debugger).toEqual({ kind: "rules" });
  });

  it("refuses a budget_usd that is not positive, naming the card", () => {
    const b = validBacklog();
    b.cards[0]!.budget_usd = -1;
    expect(issuesOf(b)).toEqual([
      { file: FILE, cardId: "SPEC-001", field: "cards[0].budget_usd", message: expect.any(String) },
    ]);
  });

  it("gives a card its own max_turns when its owner is a claude-code agent (type owner or card override)", () => {
    const b = agentKindsBacklog();
    b.squad!.agents.claude = { kind: "claude-code", model: "claude-sonnet-4-6", max_turns: 40 };
    b.cards[0]!.max_turns = 12;
    const p = plan(b);
    expect(p.cards.map((c) => c.card.maxTurns)).toEqual([12, undefined]);
    expect("maxTurns" in p.cards[1]!.card).toBe(false); // absent, not undefined: plans without it stay as they were

    const override = validBacklog(); // SPEC's owner is the command agent "writer"
    override.squad!.agents.claude = { kind: "claude-code" };
    override.cards[1] = { ...override.cards[1]!, owner: "claude", max_turns: 5 };
    expect(plan(override).cards[1]!.card.maxTurns).toBe(5);
  });

  it("refuses a card max_turns whose owner agent has no max-turns flag, naming the file, card and field", () => {
    const b = validBacklog();
    b.squad!.agents.gem = { kind: "gemini" };
    b.squad!.agents.cx = { kind: "codex" };
    b.cards[0]!.max_turns = 10; // type owner: the command agent "writer"
    b.cards[1] = { ...b.cards[1]!, owner: "gem", max_turns: 10 };
    b.cards.push({ id: "SPEC-003", type: "SPEC", title: "Card 3", owner: "cx", max_turns: 10 });
    expect(issuesOf(b)).toEqual([
      {
        file: FILE,
        cardId: "SPEC-001",
        field: "cards[0].max_turns",
        message:
          'not supported by owner agent "writer": command agents have no max-turns flag; remove it, or give the card a claude-code owner',
      },
      {
        file: FILE,
        cardId: "SPEC-002",
        field: "cards[1].max_turns",
        message:
          'not supported by owner agent "gem": gemini has no max-turns flag (its turn limit is the maxSessionTurns setting); remove it, or give the card a claude-code owner',
      },
      {
        file: FILE,
        cardId: "SPEC-003",
        field: "cards[2].max_turns",
        message:
          'not supported by owner agent "cx": codex agents have no max-turns flag; remove it, or give the card a claude-code owner',
      },
    ]);
  });

  it("refuses a card max_turns that is not a positive integer", () => {
    for (const bad of [0, -3, 2.5, "10"]) {
      const b = agentKindsBacklog();
      b.cards[0]!.max_turns = bad;
      expect(issuesOf(b).map((i) => [i.cardId, i.field])).toEqual([["SPEC-001", "cards[0].max_turns"]]);
    }
  });

  it("refuses an llm judge with the owner's model — of the type's owner or of a card's override — unless allowed", () => {
    const b = agentKindsBacklog();
    (b.squad!.card_types.SPEC!.judge as unknown as Record<string, unknown>).model = "claude-sonnet-4-6";
    expect(issuesOf(b)).toEqual([
      {
        file: FILE,
        field: "squad.card_types.SPEC.judge.model",
        message:
          'judge model "claude-sonnet-4-6" is the model of owner agent "claude": use a different model, or set allow_owner_model: true',
      },
    ]);
    const override = agentKindsBacklog();
    override.squad!.agents.gem = { kind: "gemini", model: "claude-opus-4-7" };
    override.cards[1]!.owner = "gem";
    expect(issuesOf(override).map((i) => i.message)).toEqual([
      expect.stringContaining('is the model of owner agent "gem"'),
    ]);
    (override.squad!.card_types.SPEC!.judge as unknown as Record<string, unknown>).allow_owner_model = true;
    expect(() => plan(override)).not.toThrow();
  });

  it("checks panel members against the owner's model too", () => {
    const b = agentKindsBacklog();
    (b.squad!.card_types.SPEC!.judge as unknown as Record<string, unknown>).panel = {
      models: ["gpt-5", { provider: "anthropic", model: "claude-sonnet-4-6" }],
    };
    expect(issuesOf(b).map((i) => i.field)).toEqual(["squad.card_types.SPEC.judge.panel.models[1]"]);
  });

  it("with a price table, names every model without a price, and requires codex agents to name their model", () => {
    const b = agentKindsBacklog();
    b.squad!.agents.cx = { kind: "codex" };
    b.squad!.pricing = { "claude-sonnet-4-6": { input_per_mtok: 3, output_per_mtok: 15 } };
    expect(
      issuesOf(b)
        .map((i) => `${i.field}: ${i.message}`)
        .sort(),
    ).toEqual([
      "squad.agents.cx.model: required with squad.pricing: Codex reports tokens but no model, so this model prices them",
      'squad.card_types.SPEC.judge.model: no price for model "claude-opus-4-7" in squad.pricing (USD per million tokens)',
    ]);
  });

  it("requires a price table with a budget when an agent or judge reports no USD", () => {
    const b = agentKindsBacklog();
    b.squad!.budget = { per_card_usd: 1 };
    expect(issuesOf(b)).toEqual([
      {
        file: FILE,
        field: "squad.pricing",
        message:
          "required with a budget: squad.card_types.SPEC.judge (llm) report tokens but no USD, so budgets need prices",
      },
    ]);
    // command and claude-code agents report USD themselves: a budget alone is fine.
    const plain = validBacklog();
    plain.cards[0]!.budget_usd = 1;
    expect(plan(plain).cards[0]!.budgetUsd).toBe(1);
  });

  it('names the squad file and its fields without the "squad." prefix when the squad comes from --squad', () => {
    const b = agentKindsBacklog();
    const squad = b.squad!;
    delete b.squad;
    squad.budget = { per_backlog_usd: 5 };
    const issues = issuesOf(b, { squad: { file: "squad.json", text: JSON.stringify(squad) } });
    expect(issues).toEqual([
      { file: "squad.json", field: "pricing", message: expect.stringContaining("required with a budget") },
    ]);
  });
});

describe("repeated reasons of an llm judge", () => {
  const at = "2025-01-01T00:00:00.000Z";
  const judged = (n: number, reasons: string[]): AttemptRecord => ({
    attempt: n,
    workflowId: "w",
    workspace: "w",
    artifacts: [],
    summary: "",
    verdicts: [{ validator: "llm_judge", passed: false, score: 5, reasons, at } satisfies Verdict],
    passed: false,
    cost: { inputTokens: 0, outputTokens: 0, usd: 0 },
    startedAt: at,
    finishedAt: at,
  });

  it("counts the same criterion failing again as a repeat, however the model words its comment", () => {
    const history = [
      judged(1, ['criterion "Rollback plan" not met: no rollback section']),
      judged(2, ['criterion "Rollback plan" not met: the rollback steps are missing']),
    ];
    expect(repeatedReasons(history)).toEqual([
      'llm_judge: criterion "Rollback plan" not met: the rollback steps are missing',
    ]);
    expect(reasonKey('llm_judge: criterion "Rollback plan" not met: x')).toBe(
      'llm_judge: criterion "Rollback plan" not met',
    );
    expect(reasonKey('qa: check "unit" failed: exit 1')).toBe('qa: check "unit" failed: exit 1');
  });

  it("does not count different criteria as repeats", () => {
    const history = [judged(1, ['criterion "Risks" not met: x']), judged(2, ['criterion "Rollback plan" not met: x'])];
    expect(repeatedReasons(history)).toEqual([]);
  });
});
