/**
 * The `llm` debugging agent against a local OpenAI-compatible server: structured root cause and
 * suggestions from the validation history, and the rule-based fallback when the model cannot answer.
 */
import { CancelledFailure } from "@temporalio/common";
import { afterEach, describe, expect, it } from "vitest";
import { createActivities } from "../../src/activities/index.js";
import { createDebugFailures } from "../../src/activities/debugging.js";
import type { AttemptRecord, DebugInput, Verdict } from "../../src/domain/attempt.js";
import { DebuggerSchema } from "../../src/domain/squad.js";
import { card, rejectionOf } from "./helpers.js";
import { llmServer, openAiCompletion, recordingHooks } from "./agents/helpers.js";

const at = "2025-01-01T00:00:00.000Z";
const ROLLBACK = 'criterion "Rollback plan" not met: no section "Rollback plan" in docs/architecture.md';

function attempt(n: number, verdicts: Verdict[]): AttemptRecord {
  return {
    attempt: n,
    workflowId: `shop/ARQ-001${n > 1 ? `-CORR-${n - 1}` : ""}`,
    workspace: `shop/ARQ-001/attempt-${n}`,
    artifacts: ["docs/architecture.md"],
    summary: "",
    verdicts,
    passed: false,
    cost: { inputTokens: 0, outputTokens: 0, usd: 0 },
    startedAt: at,
    finishedAt: at,
    ...(n > 1 && { feedback: { round: n - 1, reasons: [`llm_judge: ${ROLLBACK}`] } }),
  };
}

const judge = (score: number, reasons: string[], details?: string): Verdict => ({
  validator: "llm_judge",
  passed: false,
  score,
  reasons,
  at,
  ...(details && { details }),
});
const history = [
  attempt(1, [judge(5, [ROLLBACK], "looked in docs/architecture.md")]),
  attempt(2, [judge(6, [ROLLBACK])]),
];

let server: Awaited<ReturnType<typeof llmServer>> | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function input(extra: Record<string, unknown> = {}): DebugInput {
  return {
    card: card({ id: "ARQ-001" }),
    history,
    config: DebuggerSchema.parse({
      kind: "llm",
      provider: "openai-compatible",
      model: "qwen2.5-coder:32b",
      base_url: `${server!.url}/v1`,
      max_retries: 0,
      ...extra,
    }),
    pricing: { "qwen2.5-coder": { input_per_mtok: 0.1, output_per_mtok: 0.2 } },
  };
}

describe("llm debugger", () => {
  it("returns the model's root cause and suggestions, the deterministic repeated reasons, and the cost", async () => {
    server = await llmServer([
      {
        body: openAiCompletion(
          JSON.stringify({
            root_cause: "The owner rewrites the intro but never adds a rollback section.",
            suggestions: ['Add "## Rollback plan" to docs/architecture.md'],
          }),
          { prompt_tokens_details: { cached_tokens: 0 } },
          { model: "qwen2.5-coder:32b" },
        ),
      },
    ]);
    const debugFailures = createDebugFailures("rules", { workspacesRoot: "/tmp", baseDir: "/tmp", workerEnv: {} });
    const report = await debugFailures(input());
    expect(report).toEqual({
      rootCause: "The owner rewrites the intro but never adds a rollback section.",
      suggestions: ['Add "## Rollback plan" to docs/architecture.md'],
      repeatedReasons: [`llm_judge: ${ROLLBACK}`],
      // 2000 × 0.1 + 300 × 0.2 = 260 → $0.00026
      cost: { inputTokens: 2000, outputTokens: 300, usd: 0.00026 },
    });
    const prompt: string = server.requests[0]!.body.messages[1].content;
    expect(prompt).toContain("### Attempt 1 (failed)");
    expect(prompt).toContain(`- llm_judge failed (score 5): ${ROLLBACK}`);
    expect(prompt).toContain("details: looked in docs/architecture.md");
    expect(prompt).toContain("## Reasons that repeat between the last two attempts");
    expect(server.requests[0]!.body.response_format.json_schema.name).toBe("debug_report");
  });

  it("falls back to the rule-based analysis, saying why, when the model cannot answer", async () => {
    server = await llmServer([{ status: 500, body: { error: { message: "model not loaded" } } }]);
    const { hooks, logs } = recordingHooks();
    const debugFailures = createDebugFailures("rules", {
      workspacesRoot: "/tmp",
      baseDir: "/tmp",
      workerEnv: {},
      hooks,
    });
    const report = await debugFailures(input());
    expect(report.rootCause).toMatch(/^\(LLM debugger unavailable: .*model not loaded.*\) /);
    expect(report.rootCause).toContain("Rollback plan");
    expect(report.suggestions.length).toBeGreaterThan(0);
    expect(report.repeatedReasons).toEqual([`llm_judge: ${ROLLBACK}`]);
    expect(logs.some((l) => l.level === "warn" && l.message.includes("rule-based analysis answers instead"))).toBe(
      true,
    );
  });

  it("falls back after invalid answers, counting their tokens", async () => {
    server = await llmServer([{ body: openAiCompletion(JSON.stringify({ root_cause: "", suggestions: [] })) }]);
    const debugFailures = createDebugFailures("rules", { workspacesRoot: "/tmp", baseDir: "/tmp", workerEnv: {} });
    const report = await debugFailures(input({ max_output_retries: 1 }));
    expect(report.rootCause).toContain("LLM debugger unavailable");
    expect(server.requests).toHaveLength(2);
    expect(report.cost).toMatchObject({ inputTokens: 3000, outputTokens: 600 });
  });

  it("heartbeats while it waits for the model (its activity has a heartbeat timeout)", async () => {
    server = await llmServer([
      { body: openAiCompletion(JSON.stringify({ root_cause: "rc", suggestions: ["s"] })), delayMs: 400 },
    ]);
    const { hooks, beats } = recordingHooks();
    const debugFailures = createDebugFailures("rules", {
      workspacesRoot: "/tmp",
      baseDir: "/tmp",
      workerEnv: {},
      hooks,
      heartbeatIntervalMs: 50,
    });
    expect((await debugFailures(input())).rootCause).toBe("rc");
    expect(beats.length).toBeGreaterThanOrEqual(4);
  });

  it("rethrows a cancellation instead of falling back", async () => {
    server = await llmServer([{ body: openAiCompletion("{}"), delayMs: 3_000 }]);
    const ac = new AbortController();
    const { hooks } = recordingHooks(ac.signal);
    const debugFailures = createDebugFailures("rules", {
      workspacesRoot: "/tmp",
      baseDir: "/tmp",
      workerEnv: {},
      hooks,
    });
    const running = debugFailures(input());
    setTimeout(() => ac.abort(new CancelledFailure("CANCELLED")), 100);
    expect(await rejectionOf(running)).toBeInstanceOf(CancelledFailure);
  });

  it("is what createActivities' debugFailures runs when the input names kind llm", async () => {
    server = await llmServer([{ body: openAiCompletion(JSON.stringify({ root_cause: "rc", suggestions: ["s"] })) }]);
    const { debugFailures } = createActivities({ workspacesRoot: "/tmp", baseDir: "/tmp", workerEnv: {} });
    expect((await debugFailures(input())).rootCause).toBe("rc");
    // Without a config, the rules debugger answers (no call).
    const rules = await debugFailures({ card: card({ id: "ARQ-001" }), history });
    expect(rules.cost).toBeUndefined();
    expect(server.requests).toHaveLength(1);
  });
});
