/**
 * The `llm` judge against a local HTTP server speaking the Anthropic Messages and OpenAI Chat Completions
 * protocols: score, threshold, median of a panel, per-criterion reasons, retries of bad output, and a
 * judge failure — never a silent pass — when the output stays bad.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createJudgeArtifacts } from "../../src/activities/judge.js";
import { median, verdictOf } from "../../src/activities/judges/llm.js";
import type { JudgeInput } from "../../src/domain/attempt.js";
import { LlmJudgeSchema, type Pricing } from "../../src/domain/squad.js";
import { card, rejectionOf, sandbox, type Sandbox } from "./helpers.js";
import { anthropicToolUse, llmServer, openAiCompletion } from "./agents/helpers.js";

const WS = "shop/ARQ-001/attempt-1";
const KEY = "fake-anthropic-judge-key-424242";
const PRICING: Pricing = {
  "claude-opus-4-7": { input_per_mtok: 5, output_per_mtok: 25 },
  "gpt-4.1": { input_per_mtok: 2, output_per_mtok: 8, cache_read_per_mtok: 0.5 },
};
const CRITERIA = [
  { name: "Rollback plan", description: "A section explains how to roll the change back." },
  { name: "Names the API", description: "The document names POST /discounts." },
];

let sb: Sandbox;
let server: Awaited<ReturnType<typeof llmServer>> | undefined;
beforeEach(async () => {
  sb = await sandbox({
    workerEnv: { PATH: process.env.PATH, ANTHROPIC_API_KEY: KEY, OPENAI_API_KEY: "sk-proj-judge-openai-1111" },
  });
  await sb.writeIn(WS, "docs/architecture.md", "# Architecture\n\nPOST /discounts validates codes.\n");
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await sb.cleanup();
});

function answer(
  score: number,
  met: Record<string, boolean>,
  extra: Partial<{ pass: boolean; reasons: string[] }> = {},
) {
  return {
    score,
    pass: extra.pass ?? score >= 8,
    reasons:
      extra.reasons ??
      Object.entries(met)
        .filter(([, m]) => !m)
        .map(([n]) => `${n} is missing`),
    feedback: Object.entries(met).map(([criterion, m]) => ({
      criterion,
      met: m,
      comment: m ? "fine" : `add a "${criterion}" section to docs/architecture.md`,
    })),
  };
}

function input(config: Record<string, unknown>, extra: Partial<JudgeInput> = {}): JudgeInput {
  return {
    card: card({ id: "ARQ-001", type: "ARCHITECTURE" }),
    workspace: WS,
    artifacts: ["docs/architecture.md"],
    config: LlmJudgeSchema.parse({
      kind: "llm",
      provider: "anthropic",
      model: "claude-opus-4-7",
      base_url: server!.url,
      criteria: CRITERIA,
      max_retries: 0,
      ...config,
    }),
    ...extra,
  };
}

describe("llm judge", () => {
  it("passes at score ≥ 8.0 with no reasons, the score and its cost; the prompt carries the artifacts and criteria", async () => {
    server = await llmServer([
      {
        body: anthropicToolUse("judge_verdict", answer(8.5, { "Rollback plan": true, "Names the API": true }), {
          input_tokens: 3000,
          output_tokens: 400,
        }),
      },
    ]);
    const judge = createJudgeArtifacts(sb.deps);
    const v = await judge(input({}, { pricing: PRICING }));
    expect(v).toMatchObject({
      validator: "llm_judge",
      passed: true,
      score: 8.5,
      reasons: [],
      at: "2025-01-02T03:04:05.000Z",
    });
    expect(v.details).toContain("score 8.5/10 (pass at 8.0)");
    // The API reported model claude-sonnet-4-6, which has no price: tokens counted, USD not.
    expect(v.cost).toEqual({ inputTokens: 3000, outputTokens: 400, usd: 0 });
    const req = server.requests[0]!;
    expect(req.path).toBe("/v1/messages");
    expect(req.body.tool_choice).toEqual({ type: "tool", name: "judge_verdict" });
    const prompt: string = req.body.messages[0].content;
    expect(prompt).toContain("### docs/architecture.md");
    expect(prompt).toContain("POST /discounts validates codes.");
    expect(prompt).toContain('- "Rollback plan" (weight 1): A section explains how to roll the change back.');
    expect(prompt).toContain("The card passes at 8.0 or more");
  });

  it("prices the judge's tokens with the squad's table", async () => {
    server = await llmServer([
      {
        body: anthropicToolUse(
          "judge_verdict",
          answer(9, { "Rollback plan": true, "Names the API": true }),
          { input_tokens: 3000, output_tokens: 400 },
          { model: "claude-opus-4-7" },
        ),
      },
    ]);
    const v = await createJudgeArtifacts(sb.deps)(input({}, { pricing: PRICING }));
    expect(v.cost).toEqual({ inputTokens: 3000, outputTokens: 400, usd: 0.025 });
  });

  it("fails below the threshold with one actionable reason per unmet criterion", async () => {
    server = await llmServer([
      { body: anthropicToolUse("judge_verdict", answer(5, { "Rollback plan": false, "Names the API": true })) },
    ]);
    const v = await createJudgeArtifacts(sb.deps)(input({}));
    expect(v.passed).toBe(false);
    expect(v.score).toBe(5);
    expect(v.reasons).toEqual([
      'criterion "Rollback plan" not met: add a "Rollback plan" section to docs/architecture.md',
    ]);
  });

  it("applies the configured threshold, not the model's own pass opinion", async () => {
    server = await llmServer([
      {
        body: anthropicToolUse(
          "judge_verdict",
          answer(8.5, { "Rollback plan": true, "Names the API": true }, { pass: true, reasons: ["minor wording"] }),
        ),
      },
    ]);
    const v = await createJudgeArtifacts(sb.deps)(input({ pass_score: 9 }));
    expect(v.passed).toBe(false);
    expect(v.reasons).toEqual(["score 8.5 is below the pass score 9.0", "minor wording"]);
  });

  it("takes the median score of a panel and a criterion as unmet when at least half the panel says so", async () => {
    const scores: Record<string, ReturnType<typeof answer>> = {
      "gpt-4.1": answer(6, { "Rollback plan": false, "Names the API": true }),
      "gpt-4.1-mini": answer(9, { "Rollback plan": true, "Names the API": true }),
      "o4-mini": answer(7.5, { "Rollback plan": false, "Names the API": true }),
    };
    server = await llmServer((req) => ({ body: openAiCompletion(JSON.stringify(scores[req.body.model])) }));
    const v = await createJudgeArtifacts(sb.deps)(
      input({
        provider: "openai",
        model: "gpt-4.1",
        base_url: `${server.url}/v1`,
        panel: { models: ["gpt-4.1-mini", "o4-mini"] },
      }),
    );
    expect(server.requests.map((r) => r.body.model).sort()).toEqual(["gpt-4.1", "gpt-4.1-mini", "o4-mini"]);
    expect(v.score).toBe(7.5);
    expect(v.passed).toBe(false);
    expect(v.reasons).toEqual([
      'criterion "Rollback plan" not met: add a "Rollback plan" section to docs/architecture.md',
    ]);
    expect(v.details).toContain("median of 3");
    expect(v.cost?.inputTokens).toBe(3 * 1500);
  });

  it("asks again after unparsable or out-of-range output, naming the problem, and uses the valid answer", async () => {
    server = await llmServer([
      { body: openAiCompletion("The artifacts look great, 9/10!") },
      { body: openAiCompletion(JSON.stringify(answer(11, { "Rollback plan": true, "Names the API": true }))) },
      { body: openAiCompletion(JSON.stringify(answer(9, { "Rollback plan": true, "Names the API": true }))) },
    ]);
    const v = await createJudgeArtifacts(sb.deps)(
      input({ provider: "openai", model: "gpt-4.1", base_url: `${server.url}/v1` }),
    );
    expect(v).toMatchObject({ passed: true, score: 9 });
    expect(server.requests).toHaveLength(3);
    expect(server.requests[1]!.body.messages[1].content).toContain("the answer is not JSON");
    expect(server.requests[2]!.body.messages[1].content).toContain("score: must be 0–10");
  });

  it("asks again when the feedback misses a configured criterion", async () => {
    server = await llmServer([
      { body: anthropicToolUse("judge_verdict", answer(9, { "Rollback plan": true })) },
      { body: anthropicToolUse("judge_verdict", answer(9, { "Rollback plan": true, "Names the API": true })) },
    ]);
    const v = await createJudgeArtifacts(sb.deps)(input({}));
    expect(v.passed).toBe(true);
    expect(server.requests[1]!.body.messages[0].content).toContain('feedback is missing criteria: "Names the API"');
  });

  it("reports a judge failure (non-retryable JudgeOutputError) when the output stays bad — never a pass", async () => {
    server = await llmServer([{ body: anthropicToolUse("judge_verdict", { score: "ten", pass: true }) }]);
    const err = await rejectionOf(
      createJudgeArtifacts(sb.deps)(input({ max_output_retries: 1 }, { pricing: PRICING })),
    );
    expect(err).toMatchObject({ type: "JudgeOutputError", nonRetryable: true });
    expect(err.message).toContain("judge failure");
    expect(server.requests).toHaveLength(2);
    expect(err.details[0].cost).toMatchObject({ inputTokens: 2000, outputTokens: 1000 });
  });

  it("refuses to grade with the owner's model unless allowed", async () => {
    server = await llmServer([
      { body: anthropicToolUse("judge_verdict", answer(9, { "Rollback plan": true, "Names the API": true })) },
    ]);
    const judge = createJudgeArtifacts(sb.deps);
    const err = await rejectionOf(judge(input({}, { ownerModel: "claude-opus-4-7" })));
    expect(err).toMatchObject({ type: "ValidatorConfigError", nonRetryable: true });
    expect(err.message).toContain("is the owner's model");
    expect(server.requests).toHaveLength(0);
    expect((await judge(input({ allow_owner_model: true }, { ownerModel: "claude-opus-4-7" }))).passed).toBe(true);
  });

  it("names the variable to set when the judge's API key is missing (ValidatorConfigError)", async () => {
    server = await llmServer([{ body: {} }]);
    const judge = createJudgeArtifacts({ ...sb.deps, workerEnv: {} });
    const err = await rejectionOf(judge(input({})));
    expect(err).toMatchObject({ type: "ValidatorConfigError", nonRetryable: true });
    expect(err.message).toContain("set ANTHROPIC_API_KEY in the worker's environment");
  });

  it("judges from a rubric text alone", async () => {
    server = await llmServer([
      {
        body: anthropicToolUse("judge_verdict", { score: 4, pass: false, reasons: ["no rollback plan"], feedback: [] }),
      },
    ]);
    const v = await createJudgeArtifacts(sb.deps)(input({ criteria: [], rubric: "Must explain rollback." }));
    expect(v).toMatchObject({
      passed: false,
      score: 4,
      reasons: ["score 4.0 is below the pass score 8.0", "no rollback plan"],
    });
    expect(server.requests[0]!.body.messages[0].content).toContain("## Rubric\nMust explain rollback.");
  });
});

describe("llm judge arithmetic", () => {
  it("takes the median, the mean of the middle two for an even count", () => {
    expect(median([9, 6, 7.5])).toBe(7.5);
    expect(median([6, 9])).toBe(7.5);
    expect(median([8])).toBe(8);
  });

  it("rounds the median to one decimal and compares it with the pass score", () => {
    const a = (score: number) => ({ model: "m", answer: { score, pass: false, reasons: [], feedback: [] } });
    const zero = { inputTokens: 0, outputTokens: 0, usd: 0 };
    expect(verdictOf({ pass_score: 8, criteria: [] }, [a(7.94), a(8.0)], zero)).toMatchObject({
      score: 8,
      passed: true,
    });
    expect(verdictOf({ pass_score: 8, criteria: [] }, [a(7.9), a(7.96)], zero)).toMatchObject({
      score: 7.9,
      passed: false,
    });
  });

  it("requires criteria or a rubric in the config", () => {
    const r = LlmJudgeSchema.safeParse({ kind: "llm", provider: "anthropic", model: "claude-opus-4-7" });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.message).toContain('give "criteria"');
  });
});
