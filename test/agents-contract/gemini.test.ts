/**
 * Contract of the `gemini` owner kind with the real Gemini CLI (pinned in scripts/install-agent-clis.sh)
 * against a local Gemini `streamGenerateContent` SSE stub.
 */
import { CancelledFailure } from "@temporalio/common";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { findGeminiSessionFile } from "../../src/activities/agents/gemini.js";
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

const usd = usdOf("gemini");

describe("gemini owner against the real Gemini CLI", () => {
  it("trusts the fresh attempt folder, runs write_file and reports the artifact, tokens, USD and session id", async () => {
    c = await contract("gemini", WRITE_THEN_ANSWER);
    const result = await c.run();
    await expectWroteTheSpec(c, result);
    // Gemini's prompt count includes the cached part: (12 000 + 12 500) − (8 000 + 12 000) uncached.
    expect(result.cost).toMatchObject({
      inputTokens: 4_500,
      cacheReadTokens: 20_000,
      outputTokens: 550,
      usd: usd(4_500, 20_000, 550),
    });
    expect(result.session?.id).toMatch(/^[0-9a-f-]{36}$/);
    const [first, second] = c.stub.turns();
    expect(first!.headers["x-goog-api-key"]).toBe("contract-test-gemini-key");
    expect(first!.path).toContain("/models/gemini-2.5-pro:streamGenerateContent");
    expect(JSON.stringify(first!.body.contents)).toContain("## Card: Write the spec");
    expect(JSON.stringify(second!.body.contents)).toContain("functionResponse");
  });

  it("fails an untrusted workspace (exit 55) as a non-retryable AgentConfigError instead of retrying it", async () => {
    c = await contract("gemini", WRITE_THEN_ANSWER);
    c.agent.set_env = { ...(c.agent.set_env as Record<string, string>), GEMINI_CLI_TRUST_WORKSPACE: "false" };
    const err = await rejectionOf(c.run());
    expect(err).toMatchObject({ type: "AgentConfigError", nonRetryable: true });
    expect(err.message).toContain("exited 55");
    expect(err.message).toContain("not trusted");
    expect(c.stub.turns()).toEqual([]);
  });

  it('fails a write_file left out by approval_mode "default" as a non-retryable AgentPermissionError naming the tool', async () => {
    c = await contract("gemini", WRITE_THEN_ANSWER, { approval_mode: "default" });
    const err = await rejectionOf(c.run());
    expect(err).toMatchObject({ type: "AgentPermissionError", nonRetryable: true });
    expect(err.message).toContain("write_file");
    expect(err.details[0].deniedTools).toEqual(["write_file"]);
  });

  it.each([
    [401, "AgentConfigError", true],
    [400, "AgentConfigError", true],
    [429, "LlmApiError", false],
    [500, "LlmApiError", false],
  ])(
    "maps an API %i (its exit code is the status truncated to a byte) to a typed %s (non-retryable: %s)",
    async (status, type, nonRetryable) => {
      c = await contract("gemini", [{ kind: "error", status }]);
      const err = await rejectionOf(c.run());
      expect(err).toMatchObject({ type, nonRetryable });
      expect(err.message).toContain(`HTTP ${status}`);
      expect(err.message).not.toMatch(/\bat \S+ \(file:/); // the JSON error, not a stack-trace line
    },
  );

  it("stops at maxSessionTurns with a non-retryable AgentTurnLimitError (exit 53)", async () => {
    c = await contract("gemini", [WRITE_THEN_ANSWER[0]!], {}, { geminiSettings: { model: { maxSessionTurns: 1 } } });
    const err = await rejectionOf(c.run());
    expect(err).toMatchObject({ type: "AgentTurnLimitError", nonRetryable: true });
    expect(err.message).toContain("exited 53");
  });

  it("heartbeats the live progress of its stream-json (turns, last tool) while the run goes on", async () => {
    const abort = new AbortController();
    // The tool call, then a turn that never answers: the run is mid-way while the test reads its heartbeats.
    c = await contract("gemini", [WRITE_THEN_ANSWER[0]!, { kind: "hang" }], {}, { signal: abort.signal });
    const running = rejectionOf(c.run());
    await c.stub.waitForTurns(2);
    const beat = await heartbeatWhere(c, (d) => d?.progress?.lastTool === "write_file");
    expect(beat).toMatchObject({ phase: "owner", progress: { lastTool: "write_file", turns: 1 } });
    abort.abort(new CancelledFailure("CANCELLED"));
    expect(await running).toBeInstanceOf(CancelledFailure);
  });

  it("kills a run hanging on the API when the activity is cancelled", async () => {
    const abort = new AbortController();
    c = await contract("gemini", [{ kind: "hang" }], {}, { signal: abort.signal });
    const running = rejectionOf(c.run());
    await c.stub.waitForTurns(1);
    const pids = await processesIn(c.workspace);
    expect(pids.length).toBeGreaterThan(0);
    abort.abort(new CancelledFailure("CANCELLED"));
    expect(await running).toBeInstanceOf(CancelledFailure);
    for (const pid of pids) expect(await waitGone(pid, 10_000)).toBe(true);
  });

  it("keeps its session in the attempt folder's project store, and a correction starts afresh when Gemini cannot import that file (exit 42)", async () => {
    c = await contract("gemini", [...WRITE_THEN_ANSWER, { kind: "answer", text: "Reworked from scratch." }]);
    const first = await c.run();
    const file = await findGeminiSessionFile(join(c.sb.dir, "home", ".gemini", "tmp"), first.session!.id!);
    expect(file).toMatch(new RegExp(`/chats/session-[^/]*-${first.session!.id!.slice(0, 8)}\\.jsonl$`));
    // A half-written file: its head still names the session, but Gemini cannot read it.
    await writeFile(file!, `{"sessionId":"${first.session!.id!}","projectHash":`);
    const again = await c.run({
      attempt: 2,
      workspace: "shop/SPEC-001/attempt-2",
      previousWorkspace: "shop/SPEC-001/attempt-1",
      feedback: { round: 1, reasons: ['llm_judge: criterion "Rollback plan" not met: no owner named'] },
      previousSession: first.session,
    });
    expect(again.summary).toBe("Reworked from scratch.");
    expect(again.session?.resumedFrom).toBeUndefined();
    expect(c.recorder.logs.map((l) => l.message)).toEqual(
      expect.arrayContaining([expect.stringContaining(`session ${first.session!.id!} is gone; starting a fresh one`)]),
    );
    const text = JSON.stringify(c.stub.turns()[2]!.body.contents);
    expect(text).toContain("## Correction round 1: the previous attempt was rejected");
    expect(text).not.toContain("functionResponse"); // none of attempt 1's conversation
  });
});
