/**
 * Contract of the `codex` owner kind with the real Codex CLI (pinned in scripts/install-agent-clis.sh)
 * against a local OpenAI Responses SSE stub (a `model_providers` entry, see harness.ts).
 */
import { CancelledFailure } from "@temporalio/common";
import { afterEach, describe, expect, it } from "vitest";
import { rejectionOf, waitGone } from "../activities/helpers.js";
import {
  contract,
  expectWroteTheSpec,
  heartbeatWhere,
  usdOf,
  processesIn,
  WRITE_THEN_ANSWER,
  type Contract,
} from "./harness.js";

let c: Contract | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

const usd = usdOf("codex");

describe("codex owner against the real Codex CLI", () => {
  it("applies its apply_patch in the workspace and reports the artifact, tokens, USD and thread id", async () => {
    c = await contract("codex", WRITE_THEN_ANSWER);
    const result = await c.run();
    await expectWroteTheSpec(c, result);
    // OpenAI's input_tokens include the cached ones: (12 000 + 12 500) − (8 000 + 12 000) uncached.
    expect(result.cost).toMatchObject({
      inputTokens: 4_500,
      cacheReadTokens: 20_000,
      outputTokens: 550,
      usd: usd(4_500, 20_000, 550),
    });
    expect(result.session).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      turns: 1,
      sessionCost: result.cost,
    }); // a fresh session: its cumulative cost is this run's
    const [first, second] = c.stub.turns();
    expect(first!.headers.authorization).toBe("Bearer contract-test-openai-key");
    expect(first!.body.model).toBe("gpt-5.5");
    expect(JSON.stringify(first!.body.input)).toContain("## Card: Write the spec");
    expect(first!.body.tools.map((t: { name?: string }) => t.name)).toContain("apply_patch");
    expect(JSON.stringify(second!.body.input)).toContain("custom_tool_call_output");
    expect(first!.body.prompt_cache_key).toBe(result.session?.id);
  });

  it('fails a patch refused by sandbox "read-only" as a non-retryable AgentPermissionError naming apply_patch', async () => {
    c = await contract("codex", WRITE_THEN_ANSWER, { sandbox: "read-only" });
    const err = await rejectionOf(c.run());
    expect(err).toMatchObject({ type: "AgentPermissionError", nonRetryable: true });
    expect(err.details[0].deniedTools).toEqual(["apply_patch"]);
    expect(err.message).toContain("read-only");
  });

  it.each([
    [401, "AgentConfigError", true],
    [400, "AgentConfigError", true],
    [429, "LlmApiError", false],
    [500, "LlmApiError", false],
  ])("maps an API %i to a typed %s (non-retryable: %s)", async (status, type, nonRetryable) => {
    c = await contract("codex", [{ kind: "error", status }]);
    const err = await rejectionOf(c.run());
    expect(err).toMatchObject({ type, nonRetryable });
    expect(err.message).toContain(`HTTP ${status}`);
  });

  it("heartbeats the live progress of its stream (turns, tokens, last tool) while the run goes on", async () => {
    const abort = new AbortController();
    // The tool call, then a turn that never answers: the run is mid-way while the test reads its heartbeats.
    c = await contract("codex", [WRITE_THEN_ANSWER[0]!, { kind: "hang" }], {}, { signal: abort.signal });
    const running = rejectionOf(c.run());
    await c.stub.waitForTurns(2);
    const beat = await heartbeatWhere(c, (d) => d?.progress?.lastTool === "apply_patch");
    expect(beat).toMatchObject({ phase: "owner", progress: { lastTool: "apply_patch" } });
    abort.abort(new CancelledFailure("CANCELLED"));
    expect(await running).toBeInstanceOf(CancelledFailure);
  });

  it("kills a run hanging on the API when the activity is cancelled", async () => {
    const abort = new AbortController();
    c = await contract("codex", [{ kind: "hang" }], {}, { signal: abort.signal });
    const running = rejectionOf(c.run());
    await c.stub.waitForTurns(1);
    const pids = await processesIn(c.workspace);
    expect(pids.length).toBeGreaterThan(0);
    abort.abort(new CancelledFailure("CANCELLED"));
    expect(await running).toBeInstanceOf(CancelledFailure);
    for (const pid of pids) expect(await waitGone(pid, 10_000)).toBe(true);
  });
});
