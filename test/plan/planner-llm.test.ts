/**
 * `squadflow plan --planner` with an `llm` planner: one structured-output call through the official SDK
 * (Anthropic's forced tool, OpenAI's strict json_schema) against a local server speaking the provider's
 * wire protocol; the answer passes the plan's schema and derivation, a bad one is asked again once with
 * the problems, then refused; the call's tokens are priced by squad.pricing.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { cli } from "../helpers/cli.js";
import { anthropicToolUse, llmServer, openAiCompletion } from "../activities/agents/helpers.js";
import { planSquad, scratch } from "./helpers.js";

const DOCUMENT = `# Notes from the planning meeting

We agreed to let customers export their orders: a CSV endpoint first, then a button on the orders page.
`;

const PLAN = {
  title: "Order export",
  tasks: [
    {
      id: "EXP-1",
      role: "BACKEND",
      title: "CSV export endpoint",
      description: "GET /orders/export returns the orders as CSV.",
      dependencies: [],
      priority: "high",
      constraints: ["no new runtime dependencies"],
      acceptance_criteria: ["the CSV has one line per order"],
    },
    {
      id: "EXP-2",
      role: "ui",
      title: "Export button",
      description: "A button on the orders page that downloads the CSV.",
      dependencies: ["EXP-1"],
      priority: "medium",
      constraints: [],
      acceptance_criteria: [],
    },
  ],
};

const PRICING = {
  "claude-sonnet-4-6": { input_per_mtok: 3, output_per_mtok: 15 },
  "gpt-4.1-mini": { input_per_mtok: 0.4, output_per_mtok: 1.6, cache_read_per_mtok: 0.1 },
};

let tmp: Awaited<ReturnType<typeof scratch>>;
let doc: string;
let server: Awaited<ReturnType<typeof llmServer>> | undefined;

beforeAll(async () => {
  tmp = await scratch("plan-llm");
  doc = await tmp.write("notes.md", DOCUMENT);
});
afterAll(async () => {
  await tmp?.remove();
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await server?.close();
  server = undefined;
});

/** A squad file whose planner is an `llm` agent of `provider` at the test server. */
async function squadWithLlmPlanner(provider: "anthropic" | "openai", model: string): Promise<string> {
  const squad = planSquad({ planner: "planner", pricing: PRICING });
  (squad.agents as Record<string, unknown>).planner = { kind: "llm", provider, model, base_url: server!.url };
  return tmp.write(`squad-llm-${provider}.json`, JSON.stringify(squad));
}

/** The `user` prompt of the n-th request (Anthropic's messages and OpenAI's last message alike). */
function promptOf(n: number): string {
  const messages = (server!.requests[n]!.body as { messages: { role: string; content: string }[] }).messages;
  return messages.filter((m) => m.role === "user").at(-1)!.content;
}

describe("plan --planner with an llm planner", () => {
  it("asks Anthropic for the plan through a forced tool with the plan's schema and derives the backlog from it", async () => {
    vi.stubEnv("ANTHROPIC_API_KEY", "test-anthropic-planner-key");
    server = await llmServer([
      { body: anthropicToolUse("plan_tasks", PLAN, { input_tokens: 2_000, output_tokens: 1_000 }) },
    ]);
    const out = join(tmp.dir, "anthropic.backlog.json");
    const squad = await squadWithLlmPlanner("anthropic", "claude-sonnet-4-6");
    const r = await cli("plan", doc, "--squad", squad, "--planner", "--out", out, "--json");
    expect(r.code).toBe(0);
    // 2 000 × $3 + 1 000 × $15 per million tokens
    expect(r.err).toBe("squadflow: planner asked 1 time: 2000 input and 1000 output tokens, $0.021");
    expect(JSON.parse(r.out)).toMatchObject({ cards: ["EXP-1", "EXP-2"] });
    const backlog = JSON.parse(await readFile(out, "utf8"));
    expect(backlog.metadata.project).toBe("Order export");
    expect(backlog.cards.map((c: Record<string, unknown>) => [c.id, c.type, c.priority, c.dependencies])).toEqual([
      ["EXP-1", "BACKEND", "HIGH", []],
      ["EXP-2", "FRONTEND", "MEDIUM", ["EXP-1"]],
    ]);
    expect(backlog.cards[0].acceptance_criteria).toEqual(["the CSV has one line per order"]);

    expect(server.requests).toHaveLength(1);
    const req = server.requests[0]!;
    expect(req.path).toBe("/v1/messages");
    expect(req.headers.authorization).toBe("Bearer test-anthropic-planner-key");
    const body = req.body as { model: string; tools: { name: string; input_schema: unknown }[]; tool_choice: unknown };
    expect(body.model).toBe("claude-sonnet-4-6");
    expect(body.tool_choice).toEqual({ type: "tool", name: "plan_tasks" });
    expect(body.tools[0]!.input_schema).toMatchObject({ required: ["title", "tasks"] });
    expect(promptOf(0)).toContain("We agreed to let customers export their orders");
    expect(promptOf(0)).toContain("- ui (card type FRONTEND)");
  });

  it("asks OpenAI again once with the problems of a bad plan (an unknown dependency) and takes the second answer", async () => {
    vi.stubEnv("OPENAI_API_KEY", "sk-test-openai-planner-key");
    const bad = { ...PLAN, tasks: [{ ...PLAN.tasks[0]!, dependencies: ["EXP-9"] }, PLAN.tasks[1]!] };
    server = await llmServer([
      { body: openAiCompletion(JSON.stringify(bad)) },
      { body: openAiCompletion(JSON.stringify(PLAN)) },
    ]);
    const r = await cli("plan", doc, "--squad", await squadWithLlmPlanner("openai", "gpt-4.1-mini"), "--planner");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).cards.map((c: { id: string }) => c.id)).toEqual(["EXP-1", "EXP-2"]);
    expect(server.requests).toHaveLength(2);
    const body = server.requests[0]!.body as { response_format: { type: string; json_schema: { strict: boolean } } };
    expect(body.response_format).toMatchObject({
      type: "json_schema",
      json_schema: { name: "plan_tasks", strict: true },
    });
    expect(promptOf(1)).toContain("## Your previous answer was invalid");
    expect(promptOf(1)).toContain(`${doc}: card EXP-1, field tasks[0].dependencies[0]: unknown dependency "EXP-9"`);
    expect(r.err).toContain('squadflow: planner agent "planner": invalid answer from gpt-4.1-mini');
    // Two calls of 2 000 prompt tokens (500 cached: 1 500 × $0.4 + 500 × $0.1) and 300 completion tokens (× $1.6) each.
    expect(r.err).toContain("squadflow: planner asked 2 times: 3000 input and 600 output tokens, $0.00226");
  });

  it("refuses a second bad answer (exit 1) naming the problems, and writes nothing", async () => {
    vi.stubEnv("ANTHROPIC_API_KEY", "test-anthropic-planner-key");
    const noDescription = { title: "x", tasks: [{ ...PLAN.tasks[0]!, description: "" }] };
    server = await llmServer([{ body: anthropicToolUse("plan_tasks", noDescription) }]);
    const out = join(tmp.dir, "refused.json");
    const squad = await squadWithLlmPlanner("anthropic", "claude-sonnet-4-6");
    const r = await cli("plan", doc, "--squad", squad, "--planner", "--out", out);
    expect(r.code).toBe(1);
    expect(r.err).toContain('planner agent "planner" answered badly 2 times; its last answer was refused:');
    expect(r.err).toContain("tasks.0.description: Too small: expected string to have >=1 characters");
    expect(server.requests).toHaveLength(2);
    expect(existsSync(out)).toBe(false);
  });

  it("names the API key variable when it is unset (exit 2) and calls nothing", async () => {
    vi.stubEnv("ANTHROPIC_API_KEY", "");
    server = await llmServer([{ body: anthropicToolUse("plan_tasks", PLAN) }]);
    const r = await cli(
      "plan",
      doc,
      "--squad",
      await squadWithLlmPlanner("anthropic", "claude-sonnet-4-6"),
      "--planner",
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain('planner agent "planner": set ANTHROPIC_API_KEY in the worker\'s environment');
    expect(server.requests).toHaveLength(0);
  });
});
