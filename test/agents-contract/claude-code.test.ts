/**
 * Contract of the `claude-code` owner kind with the real Claude Code CLI (pinned in
 * scripts/install-agent-clis.sh) against a local Anthropic Messages stub.
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

const usd = usdOf("claude-code");

describe("claude-code owner against the real Claude Code CLI", () => {
  it("runs the Write tool in the workspace and reports the artifact, tokens, USD and session", async () => {
    c = await contract("claude-code", WRITE_THEN_ANSWER);
    const result = await c.run();
    await expectWroteTheSpec(c, result);
    // Anthropic reports uncached input and cache reads apart: 12 000 + 12 500 input, 8 000 + 12 000 read, 400 + 150 out.
    expect(result.cost).toMatchObject({
      inputTokens: 24_500,
      cacheReadTokens: 20_000,
      outputTokens: 550,
      usd: usd(24_500, 20_000, 550),
    });
    expect(result.session?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.session?.turns).toBe(2);
    // What the stub received: the owner prompt, the key, the model, Claude Code's own Write tool.
    const [first, second] = c.stub.turns();
    expect(first!.headers["x-api-key"]).toBe("contract-test-anthropic-key");
    expect(first!.body.model).toBe("claude-sonnet-4-6");
    expect(JSON.stringify(first!.body.messages)).toContain("## Card: Write the spec");
    expect(first!.body.tools.map((t: { name: string }) => t.name)).toContain("Write");
    expect(JSON.stringify(second!.body.messages)).toContain("tool_result");
    expect(first!.headers["x-claude-code-session-id"]).toBe(result.session?.id);
  });

  it('fails a Write denied by permission_mode "default" as a non-retryable AgentPermissionError naming the tool, never a silent success', async () => {
    c = await contract("claude-code", WRITE_THEN_ANSWER, { permission_mode: "default" });
    const err = await rejectionOf(c.run());
    expect(err).toMatchObject({ type: "AgentPermissionError", nonRetryable: true });
    expect(err.message).toContain("Write");
    expect(err.details[0].deniedTools).toEqual(["Write"]);
    expect(err.details[0].cost.outputTokens).toBe(550);
  });

  it("refuses bypassPermissions as root as a non-retryable AgentConfigError (and runs it for any other user)", async () => {
    c = await contract("claude-code", WRITE_THEN_ANSWER, { permission_mode: "bypassPermissions" });
    if (process.getuid?.() !== 0) {
      // Claude Code refuses the mode only to root: for anyone else it is an ordinary run.
      await expect(c.run()).resolves.toMatchObject({ artifacts: expect.arrayContaining([expect.any(String)]) });
      return;
    }
    const err = await rejectionOf(c.run());
    expect(err).toMatchObject({ type: "AgentConfigError", nonRetryable: true });
    expect(err.message).toMatch(/root/);
    expect(c.stub.requests).toEqual([]);
  });

  it.each([
    [401, "AgentConfigError", true],
    [400, "AgentConfigError", true],
    [429, "LlmApiError", false],
    [500, "LlmApiError", false],
    [529, "LlmApiError", false],
  ])("maps an API %i to a typed %s (non-retryable: %s) by its status code", async (status, type, nonRetryable) => {
    c = await contract("claude-code", [{ kind: "error", status }]);
    const err = await rejectionOf(c.run());
    expect(err).toMatchObject({ type, nonRetryable });
    expect(err.message).toContain(`HTTP ${status}`);
  });

  it("stops at --max-turns with a non-retryable AgentTurnLimitError carrying the cost", async () => {
    c = await contract("claude-code", [WRITE_THEN_ANSWER[0]!], { max_turns: 1 });
    const err = await rejectionOf(c.run());
    expect(err).toMatchObject({ type: "AgentTurnLimitError", nonRetryable: true });
    expect(err.message).toContain("--max-turns 1");
    expect(err.details[0].cost.usd).toBeGreaterThan(0);
  });

  it("stops at --max-budget-usd with a non-retryable AgentBudgetExceededError", async () => {
    c = await contract("claude-code", [WRITE_THEN_ANSWER[0]!, WRITE_THEN_ANSWER[0]!, WRITE_THEN_ANSWER[1]!]);
    const err = await rejectionOf(c.run({ budgetUsd: 0.01 }));
    expect(err).toMatchObject({ type: "AgentBudgetExceededError", nonRetryable: true });
    expect(err.message).toContain("--max-budget-usd 0.01");
  });

  it("refuses a run past limits.max_output_tokens with a non-retryable AgentResourceLimitError carrying the cost", async () => {
    c = await contract("claude-code", WRITE_THEN_ANSWER, { limits: { max_output_tokens: 500 } });
    const err = await rejectionOf(c.run());
    expect(err).toMatchObject({ type: "AgentResourceLimitError", nonRetryable: true });
    expect(err.message).toContain("550 output tokens reported > 500");
    expect(err.details[0].cost.outputTokens).toBe(550);
  });

  it("heartbeats the live progress of its stream (turns, tokens, last tool) while the run goes on", async () => {
    const abort = new AbortController();
    // The tool call, then a turn that never answers: the run is mid-way while the test reads its heartbeats.
    c = await contract("claude-code", [WRITE_THEN_ANSWER[0]!, { kind: "hang" }], {}, { signal: abort.signal });
    const running = rejectionOf(c.run());
    await c.stub.waitForTurns(2);
    const beat = await heartbeatWhere(c, (d) => d?.progress?.lastTool === "Write");
    expect(beat).toMatchObject({ phase: "owner", progress: { lastTool: "Write" } });
    expect(beat.progress.turns).toBeGreaterThanOrEqual(1);
    expect(beat.progress.inputTokens).toBeGreaterThanOrEqual(20_000); // 12 000 input + 8 000 cache reads of the first turn
    abort.abort(new CancelledFailure("CANCELLED"));
    expect(await running).toBeInstanceOf(CancelledFailure);
  });

  it("kills a run hanging on the API when the activity is cancelled", async () => {
    const abort = new AbortController();
    c = await contract("claude-code", [{ kind: "hang" }], {}, { signal: abort.signal });
    const running = rejectionOf(c.run());
    await c.stub.waitForTurns(1);
    const pids = await processesIn(c.workspace);
    expect(pids.length).toBeGreaterThan(0);
    abort.abort(new CancelledFailure("CANCELLED"));
    expect(await running).toBeInstanceOf(CancelledFailure);
    for (const pid of pids) expect(await waitGone(pid, 10_000)).toBe(true);
  });
});
