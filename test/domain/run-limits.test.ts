/**
 * Run limits (`timeout_ms`, `soft_timeout_ms`) against the activities' start-to-close timeouts: a limit the
 * activity would cut off first is refused up front, naming the file and the field.
 */
import { describe, expect, it } from "vitest";
import { AgentSchema, DebuggerSchema, JudgeSchema } from "../../src/domain/index.js";
import {
  MAX_AGENT_TIMEOUT_MS,
  MAX_DEBUGGER_TIMEOUT_MS,
  MAX_JUDGE_TIMEOUT_MS,
  OWNER_ACTIVITY_TIMEOUT_MS,
  VALIDATION_ACTIVITY_TIMEOUT_MS,
} from "../../src/domain/timeouts.js";
import { FILE, issuesOf, plan, validBacklog } from "./fixtures.js";

const LLM_JUDGE = {
  kind: "llm",
  provider: "openai",
  model: "gpt-5",
  criteria: [{ name: "Tests", description: "has tests" }],
};
const LLM_DEBUGGER = { kind: "llm", provider: "openai", model: "gpt-5" };
const HOUR = 3_600_000;

describe("run limits of the squad config", () => {
  it("derives the largest limits from the activity timeouts, each leaving the activity time to finish", () => {
    expect(MAX_AGENT_TIMEOUT_MS).toBe(HOUR);
    expect(MAX_AGENT_TIMEOUT_MS).toBeLessThan(OWNER_ACTIVITY_TIMEOUT_MS);
    expect(MAX_JUDGE_TIMEOUT_MS).toBe(600_000);
    expect(MAX_JUDGE_TIMEOUT_MS).toBeLessThan(VALIDATION_ACTIVITY_TIMEOUT_MS);
    expect(MAX_DEBUGGER_TIMEOUT_MS).toBe(300_000);
  });

  it("refuses an agent timeout_ms over 60 min for every kind, and accepts exactly 60 min", () => {
    const kinds = [
      { kind: "command", command: "node" },
      { kind: "claude-code" },
      { kind: "codex" },
      { kind: "gemini" },
      { kind: "llm", provider: "openai", model: "gpt-5" },
    ];
    for (const agent of kinds) {
      const r = AgentSchema.safeParse({ ...agent, timeout_ms: HOUR + 1 });
      expect(r.success, agent.kind).toBe(false);
      expect(r.error!.issues.map((i) => [i.path, i.message])).toEqual([
        [
          ["timeout_ms"],
          "must be at most 3600000 (60 min): the owner activity times out after 65 min and this limit must fire first",
        ],
      ]);
      expect(AgentSchema.safeParse({ ...agent, timeout_ms: HOUR }).success, agent.kind).toBe(true);
    }
  });

  it("refuses an llm judge timeout_ms over 10 min and an llm debugger timeout_ms over 5 min", () => {
    const judge = JudgeSchema.safeParse({ ...LLM_JUDGE, timeout_ms: 900_000 });
    expect(judge.error!.issues.map((i) => [i.path, i.message])).toEqual([
      [
        ["timeout_ms"],
        "must be at most 600000 (10 min): the judge (validation) activity times out after 15 min and this limit must fire first",
      ],
    ]);
    expect(JudgeSchema.safeParse({ ...LLM_JUDGE, timeout_ms: 600_000 }).success).toBe(true);
    const debuggerConfig = DebuggerSchema.safeParse({ ...LLM_DEBUGGER, timeout_ms: 300_001 });
    expect(debuggerConfig.error!.issues[0]).toMatchObject({
      path: ["timeout_ms"],
      message: expect.stringContaining("the debugging activity times out after 10 min"),
    });
  });

  it("refuses a soft_timeout_ms that is not below timeout_ms", () => {
    for (const agent of [
      { kind: "claude-code" },
      { kind: "gemini" },
      { kind: "llm", provider: "openai", model: "gpt-5" },
    ]) {
      for (const soft of [600_000, 700_000]) {
        const r = AgentSchema.safeParse({ ...agent, timeout_ms: 600_000, soft_timeout_ms: soft });
        expect(
          r.error!.issues.map((i) => [i.path, i.message]),
          `${agent.kind} ${soft}`,
        ).toEqual([
          [
            ["soft_timeout_ms"],
            "must be below timeout_ms (600000): the soft limit warns before the hard limit kills the run",
          ],
        ]);
      }
      expect(AgentSchema.parse({ ...agent, timeout_ms: 600_000, soft_timeout_ms: 599_999 })).toMatchObject({
        soft_timeout_ms: 599_999,
      });
    }
  });

  it("defaults the soft limit to 50 min, or to 5/6 of a shorter hard limit, so a short timeout_ms alone is valid", () => {
    expect(AgentSchema.parse({ kind: "codex" })).toMatchObject({ timeout_ms: HOUR, soft_timeout_ms: 3_000_000 });
    expect(AgentSchema.parse({ kind: "codex", timeout_ms: 600_000 })).toMatchObject({
      timeout_ms: 600_000,
      soft_timeout_ms: 500_000,
    });
    expect(AgentSchema.parse({ kind: "llm", provider: "openai", model: "gpt-5", timeout_ms: 1_200 })).toMatchObject({
      soft_timeout_ms: 1_000,
    });
    // A parsed config parses again to itself (the owner activity re-parses the config it is given).
    const parsed = AgentSchema.parse({ kind: "claude-code", timeout_ms: 600_000 });
    expect(AgentSchema.parse(parsed)).toEqual(parsed);
  });

  it("reports the limits through planBacklog with the file and the full field path", () => {
    const b = validBacklog();
    b.squad!.agents.claude = { kind: "claude-code", timeout_ms: 2 * HOUR, soft_timeout_ms: 2 * HOUR };
    b.squad!.card_types.SPEC!.judge = { ...LLM_JUDGE, timeout_ms: HOUR } as never;
    expect(issuesOf(b).map((i) => [i.file, i.field])).toEqual([
      [FILE, "squad.agents.claude.timeout_ms"],
      [FILE, "squad.card_types.SPEC.judge.timeout_ms"],
    ]);
    const ok = validBacklog();
    ok.squad!.agents.claude = { kind: "claude-code", timeout_ms: 1_800_000 };
    expect(plan(ok).source.squad!.agents.claude).toMatchObject({ timeout_ms: 1_800_000, soft_timeout_ms: 1_500_000 });
  });
});
