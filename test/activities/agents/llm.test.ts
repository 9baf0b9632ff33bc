import { mkdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CancelledFailure } from "@temporalio/common";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createRunOwner } from "../../../src/activities/owner.js";
import type { Pricing } from "../../../src/domain/squad.js";
import { rejectionOf, sandbox, type Sandbox } from "../helpers.js";
import {
  anthropicError,
  anthropicToolUse,
  llmServer,
  openAiCompletion,
  ownerInput,
  recordingHooks,
} from "./helpers.js";

const ANTHROPIC_KEY = "fake-anthropic-llm-owner-key-5555";
const OPENAI_KEY = "sk-proj-llm-owner-key-6666";
const PRICING: Pricing = {
  "claude-sonnet-4-6": { input_per_mtok: 3, output_per_mtok: 15, cache_write_per_mtok: 3.75, cache_read_per_mtok: 0.3 },
  "gpt-4.1-mini": { input_per_mtok: 0.4, output_per_mtok: 1.6, cache_read_per_mtok: 0.1 },
};
const FILES = {
  files: [
    { path: "docs/spec.md", content: "# Spec\n\n## Rollback plan\nRevert.\n" },
    { path: "src/rate.js", content: "export const rate = 0.1;\n" },
  ],
  summary: "Wrote the spec and the rate.",
};

let sb: Sandbox;
let server: Awaited<ReturnType<typeof llmServer>> | undefined;
beforeEach(async () => {
  sb = await sandbox({
    workerEnv: { PATH: process.env.PATH, ANTHROPIC_API_KEY: ANTHROPIC_KEY, OPENAI_API_KEY: OPENAI_KEY },
  });
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await sb.cleanup();
});

const ws = (rel = "") => join(sb.root, "shop/SPEC-001/attempt-1", rel);

describe("llm agent, provider anthropic", () => {
  it("calls POST /v1/messages with a forced write_files tool, writes the files, returns them with the cost", async () => {
    server = await llmServer([
      {
        body: anthropicToolUse("write_files", FILES, {
          input_tokens: 1000,
          output_tokens: 500,
          cache_read_input_tokens: 2000,
        }),
      },
    ]);
    const runOwner = createRunOwner(sb.deps);
    const result = await runOwner(
      ownerInput(
        { kind: "llm", provider: "anthropic", model: "claude-sonnet-4-6", base_url: server.url, max_tokens: 4000 },
        { pricing: PRICING },
      ),
    );
    expect(result.artifacts).toEqual(["docs/spec.md", "src/rate.js"]);
    expect(result.summary).toBe("Wrote the spec and the rate.");
    expect(await readFile(ws("docs/spec.md"), "utf8")).toContain("## Rollback plan");
    // 1000 × 3 + 500 × 15 + 2000 × 0.3 = 11100 → $0.0111 (priced by the model the API reported, by prefix)
    expect(result.cost).toEqual({ inputTokens: 1000, outputTokens: 500, cacheReadTokens: 2000, usd: 0.0111 });

    expect(server.requests).toHaveLength(1);
    const req = server.requests[0]!;
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/v1/messages");
    expect(req.body).toMatchObject({
      model: "claude-sonnet-4-6",
      max_tokens: 4000,
      tool_choice: { type: "tool", name: "write_files" },
      tools: [{ name: "write_files", input_schema: { type: "object", required: ["files", "summary"] } }],
    });
    expect(req.body.messages[0].content).toContain("## Card: Write the spec");
    expect(req.body.temperature).toBeUndefined();
    // The key goes to the API in-process, from the variable the config names (default ANTHROPIC_API_KEY).
    expect(JSON.stringify(req.headers)).toContain(ANTHROPIC_KEY);
  });

  it("fails with a non-retryable AgentConfigError naming the variable when the API key is not set, without calling", async () => {
    server = await llmServer([{ body: anthropicToolUse("write_files", FILES) }]);
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(
      runOwner(
        ownerInput({
          kind: "llm",
          provider: "anthropic",
          model: "claude-sonnet-4-6",
          base_url: server.url,
          api_key_env: "SQUAD_CLAUDE_KEY",
        }),
      ),
    );
    expect(err).toMatchObject({ type: "AgentConfigError", nonRetryable: true });
    expect(err.message).toContain("set SQUAD_CLAUDE_KEY in the worker's environment");
    expect(server.requests).toHaveLength(0);
  });

  it("reports a refused key (401) as a non-retryable AgentConfigError with the key redacted", async () => {
    server = await llmServer([
      { status: 401, body: anthropicError("authentication_error", `invalid x-api-key ${ANTHROPIC_KEY}`) },
    ]);
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(
      runOwner(
        ownerInput({
          kind: "llm",
          provider: "anthropic",
          model: "claude-sonnet-4-6",
          base_url: server.url,
          max_retries: 0,
        }),
      ),
    );
    expect(err).toMatchObject({ type: "AgentConfigError", nonRetryable: true });
    expect(err.message).toContain("refused the credentials (401)");
    expect(err.message).toContain("[REDACTED:ANTHROPIC_API_KEY]");
    expect(err.message).not.toContain(ANTHROPIC_KEY);
  });

  it("retries a 5xx through Temporal (retryable LlmApiError) and refuses a 400 for good (LlmRequestError)", async () => {
    server = await llmServer([{ status: 529, body: anthropicError("overloaded_error", "Overloaded") }]);
    const runOwner = createRunOwner(sb.deps);
    const cfg = {
      kind: "llm",
      provider: "anthropic",
      model: "claude-sonnet-4-6",
      base_url: server.url,
      max_retries: 0,
    };
    expect(await rejectionOf(runOwner(ownerInput(cfg)))).toMatchObject({ type: "LlmApiError", nonRetryable: false });
    await server.close();
    server = await llmServer([
      {
        status: 400,
        body: anthropicError("invalid_request_error", "prompt is too long: 250000 tokens > 200000 maximum"),
      },
    ]);
    const err = await rejectionOf(runOwner(ownerInput({ ...cfg, base_url: server.url })));
    expect(err).toMatchObject({ type: "LlmRequestError", nonRetryable: true });
    expect(err.message).toContain("prompt is too long");
  });

  it("asks again once after an invalid answer, naming the problem, then fails with a retryable AgentOutputError carrying the cost", async () => {
    server = await llmServer([{ body: anthropicToolUse("write_files", { files: [], summary: "nothing" }) }]);
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(
      runOwner(
        ownerInput(
          { kind: "llm", provider: "anthropic", model: "claude-sonnet-4-6", base_url: server.url },
          { pricing: PRICING },
        ),
      ),
    );
    expect(err).toMatchObject({ type: "AgentOutputError", nonRetryable: false });
    expect(err.message).toContain("files: must write at least one file");
    expect(server.requests).toHaveLength(2);
    expect(server.requests[1]!.body.messages[0].content).toContain("Your previous answer was invalid");
    expect(err.details[0].cost).toEqual({ inputTokens: 2000, outputTokens: 1000, usd: 0.021 });
  });

  it("accepts the second answer when the first was invalid", async () => {
    server = await llmServer([
      { body: anthropicToolUse("write_files", { files: "docs/spec.md" }) },
      { body: anthropicToolUse("write_files", FILES) },
    ]);
    const runOwner = createRunOwner(sb.deps);
    const result = await runOwner(
      ownerInput({ kind: "llm", provider: "anthropic", model: "claude-sonnet-4-6", base_url: server.url }),
    );
    expect(result.artifacts).toEqual(["docs/spec.md", "src/rate.js"]);
    expect(result.cost.inputTokens).toBe(2000);
  });

  it.each([
    ["../outside.md", "leaves the workspace"],
    ["/etc/cron.d/evil", "is absolute"],
    ["docs/../../x.md", "leaves the workspace"],
  ])("refuses to write %s and writes nothing at all", async (path, why) => {
    server = await llmServer([
      {
        body: anthropicToolUse("write_files", {
          files: [
            { path: "ok.md", content: "fine" },
            { path, content: "pwned" },
          ],
          summary: "",
        }),
      },
    ]);
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(
      runOwner(ownerInput({ kind: "llm", provider: "anthropic", model: "claude-sonnet-4-6", base_url: server.url })),
    );
    expect(err).toMatchObject({ type: "AgentOutputError", nonRetryable: false });
    expect(err.message).toContain(why);
    await expect(stat(ws("ok.md"))).rejects.toThrow(/ENOENT/);
    await expect(stat(join(sb.root, "shop/SPEC-001/outside.md"))).rejects.toThrow(/ENOENT/);
  });

  it("refuses to write through a symlinked directory that points outside the workspace", async () => {
    const outside = join(sb.dir, "outside");
    await mkdir(outside);
    const prev = join(sb.root, "shop/SPEC-001/attempt-1");
    await mkdir(prev, { recursive: true });
    await writeFile(join(prev, "spec.md"), "# old");
    await symlink(outside, join(prev, "out"));
    server = await llmServer([
      { body: anthropicToolUse("write_files", { files: [{ path: "out/x.md", content: "escaped" }], summary: "" }) },
    ]);
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(
      runOwner(
        ownerInput(
          { kind: "llm", provider: "anthropic", model: "claude-sonnet-4-6", base_url: server.url },
          {
            attempt: 2,
            workspace: "shop/SPEC-001/attempt-2",
            previousWorkspace: "shop/SPEC-001/attempt-1",
          },
        ),
      ),
    );
    expect(err).toMatchObject({ type: "AgentOutputError" });
    expect(err.message).toContain("resolves outside the workspace");
    await expect(stat(join(outside, "x.md"))).rejects.toThrow(/ENOENT/);
  });

  it("shows a correction the previous files and feedback, and keeps the files it does not rewrite as artifacts", async () => {
    const prev = join(sb.root, "shop/SPEC-001/attempt-1");
    await mkdir(join(prev, "docs"), { recursive: true });
    await writeFile(join(prev, "docs/spec.md"), "# Old spec without rollback");
    await writeFile(join(prev, "README.md"), "# Readme\n");
    server = await llmServer([
      {
        body: anthropicToolUse("write_files", {
          files: [{ path: "docs/spec.md", content: "# Spec\n## Rollback plan\nx\n" }],
          summary: "Added the rollback plan.",
        }),
      },
    ]);
    const runOwner = createRunOwner(sb.deps);
    const result = await runOwner(
      ownerInput(
        { kind: "llm", provider: "anthropic", model: "claude-sonnet-4-6", base_url: server.url },
        {
          attempt: 2,
          workspace: "shop/SPEC-001/attempt-2",
          previousWorkspace: "shop/SPEC-001/attempt-1",
          feedback: { round: 1, reasons: ['llm_judge: criterion "Rollback plan" not met: no rollback section'] },
        },
      ),
    );
    expect(result.artifacts).toEqual(["docs/spec.md", "README.md"]);
    const prompt: string = server.requests[0]!.body.messages[0].content;
    expect(prompt).toContain("### docs/spec.md");
    expect(prompt).toContain("# Old spec without rollback");
    expect(prompt).toContain('- llm_judge: criterion "Rollback plan" not met: no rollback section');
  });

  it("inlines the dependencies' artifacts (the model cannot read files)", async () => {
    await sb.writeIn("shop/ARQ-001/attempt-1", "docs/arch.md", "# Architecture\nPOST /discounts\n");
    server = await llmServer([{ body: anthropicToolUse("write_files", FILES) }]);
    const runOwner = createRunOwner(sb.deps);
    await runOwner(
      ownerInput(
        { kind: "llm", provider: "anthropic", model: "claude-sonnet-4-6", base_url: server.url },
        {
          dependencies: [{ cardId: "ARQ-001", artifacts: ["shop/ARQ-001/attempt-1/docs/arch.md"] }],
        },
      ),
    );
    expect(server.requests[0]!.body.messages[0].content).toContain("POST /discounts");
  });

  it("aborts the call at the hard limit (AgentTimeoutError) after heartbeating while it waited", async () => {
    server = await llmServer([{ body: anthropicToolUse("write_files", FILES), delayMs: 3_000 }]);
    const { hooks, beats } = recordingHooks();
    const runOwner = createRunOwner({ ...sb.deps, hooks });
    const err = await rejectionOf(
      runOwner(
        ownerInput({
          kind: "llm",
          provider: "anthropic",
          model: "claude-sonnet-4-6",
          base_url: server.url,
          timeout_ms: 400,
          max_retries: 0,
        }),
      ),
    );
    expect(err).toMatchObject({ type: "AgentTimeoutError", nonRetryable: false });
    expect(err.message).toContain("timed out after 400 ms");
    expect(beats.length).toBeGreaterThanOrEqual(4);
  });

  it("logs the soft-limit warning while waiting", async () => {
    server = await llmServer([{ body: anthropicToolUse("write_files", FILES), delayMs: 300 }]);
    const { hooks, logs } = recordingHooks();
    const runOwner = createRunOwner({ ...sb.deps, hooks });
    await runOwner(
      ownerInput({
        kind: "llm",
        provider: "anthropic",
        model: "claude-sonnet-4-6",
        base_url: server.url,
        soft_timeout_ms: 100,
      }),
    );
    expect(logs.filter((l) => l.level === "warn" && l.message.includes("soft time limit"))).toHaveLength(1);
  });

  it("aborts the call and rethrows the cancellation", async () => {
    server = await llmServer([{ body: anthropicToolUse("write_files", FILES), delayMs: 3_000 }]);
    const ac = new AbortController();
    const { hooks } = recordingHooks(ac.signal);
    const runOwner = createRunOwner({ ...sb.deps, hooks });
    const running = runOwner(
      ownerInput({
        kind: "llm",
        provider: "anthropic",
        model: "claude-sonnet-4-6",
        base_url: server.url,
        max_retries: 0,
      }),
    );
    setTimeout(() => ac.abort(new CancelledFailure("CANCELLED")), 150);
    expect(await rejectionOf(running)).toBeInstanceOf(CancelledFailure);
  });
});

describe("llm agent, OpenAI providers", () => {
  it("calls POST /v1/chat/completions with a strict json_schema response format and max_completion_tokens", async () => {
    server = await llmServer([{ body: openAiCompletion(JSON.stringify(FILES)) }]);
    const runOwner = createRunOwner(sb.deps);
    const result = await runOwner(
      ownerInput(
        {
          kind: "llm",
          provider: "openai",
          model: "gpt-4.1-mini",
          base_url: `${server.url}/v1`,
          max_tokens: 2000,
          temperature: 0.2,
        },
        { pricing: PRICING },
      ),
    );
    expect(result.artifacts).toEqual(["docs/spec.md", "src/rate.js"]);
    // prompt 2000 of which 500 cached: 1500 × 0.4 + 500 × 0.1 + 300 × 1.6 = 1130 → $0.00113
    expect(result.cost).toEqual({ inputTokens: 1500, outputTokens: 300, cacheReadTokens: 500, usd: 0.00113 });
    const req = server.requests[0]!;
    expect(req.path).toBe("/v1/chat/completions");
    expect(req.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
    expect(req.body).toMatchObject({
      model: "gpt-4.1-mini",
      max_completion_tokens: 2000,
      temperature: 0.2,
      response_format: {
        type: "json_schema",
        json_schema: { name: "write_files", strict: true, schema: { additionalProperties: false } },
      },
    });
    expect(req.body.messages.map((m: { role: string }) => m.role)).toEqual(["system", "user"]);
  });

  it("calls an OpenAI-compatible server (Ollama, vLLM) at its base URL without a key, with max_tokens", async () => {
    server = await llmServer([
      {
        body: openAiCompletion(
          "```json\n" + JSON.stringify(FILES) + "\n```",
          { prompt_tokens_details: undefined },
          { model: "llama3.1:8b" },
        ),
      },
    ]);
    const runOwner = createRunOwner({ ...sb.deps, workerEnv: { PATH: process.env.PATH } });
    const result = await runOwner(
      ownerInput({ kind: "llm", provider: "openai-compatible", model: "llama3.1:8b", base_url: `${server.url}/v1` }),
    );
    expect(result.artifacts).toEqual(["docs/spec.md", "src/rate.js"]);
    expect(result.cost).toMatchObject({ inputTokens: 2000, outputTokens: 300, usd: 0 });
    expect(server.requests[0]!.body.max_tokens).toBe(8192);
    expect(server.requests[0]!.body.max_completion_tokens).toBeUndefined();
    expect(JSON.stringify(server.requests[0]!.headers)).not.toContain(OPENAI_KEY);
  });

  it("treats a refusal, a cut answer or non-JSON content as invalid output", async () => {
    server = await llmServer([
      { body: openAiCompletion("I cannot write files.") },
      {
        body: openAiCompletion(
          JSON.stringify(FILES).slice(0, 20),
          {},
          {
            choices: [
              {
                index: 0,
                message: { role: "assistant", content: '{"files": [', refusal: null },
                finish_reason: "length",
              },
            ],
          },
        ),
      },
    ]);
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(
      runOwner(ownerInput({ kind: "llm", provider: "openai", model: "gpt-4.1-mini", base_url: `${server.url}/v1` })),
    );
    expect(err).toMatchObject({ type: "AgentOutputError" });
    expect(err.message).toContain("cut at max_tokens");
    expect(server.requests[1]!.body.messages[1].content).toContain("the answer is not JSON");
  });
});
