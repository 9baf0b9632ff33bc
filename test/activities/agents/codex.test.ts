import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createRunOwner } from "../../../src/activities/owner.js";
import { parseCodexEvents } from "../../../src/activities/agents/codex.js";
import { CodexAgentSchema, type Pricing } from "../../../src/domain/squad.js";
import { rejectionOf, sandbox, waitForFile, waitGone, type Sandbox } from "../helpers.js";
import { fakeCli, ownerInput, recordingHooks } from "./helpers.js";

const PRICING: Pricing = { "gpt-5-codex": { input_per_mtok: 1.25, output_per_mtok: 10, cache_read_per_mtok: 0.125 } };

let sb: Sandbox;
let codex: string;
let recordFile: string;
beforeEach(async () => {
  sb = await sandbox({ workerEnv: { ...process.env, OPENAI_API_KEY: "sk-proj-codex-test-key-000111" } });
  codex = await fakeCli(sb, "codex");
  recordFile = join(sb.dir, "record.json");
});
afterEach(async () => {
  await sb.cleanup();
});

function agent(scenario: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: "codex",
    binary: codex,
    model: "gpt-5-codex",
    extra_args: ["--scenario", scenario],
    set_env: { FAKE_RECORD: recordFile },
    ...extra,
  };
}

describe("codex agent", () => {
  it('runs codex exec --json in the workspace with the prompt on stdin ("-" last)', async () => {
    const runOwner = createRunOwner(sb.deps);
    await runOwner(
      ownerInput(agent("success"), {
        attempt: 2,
        workspace: "shop/SPEC-001/attempt-2",
        feedback: { round: 1, reasons: ['qa: check "unit" failed: exit 1'], suggestions: ["Fix the rounding"] },
      }),
    );
    const rec = JSON.parse(await readFile(recordFile, "utf8"));
    expect(rec.argv).toEqual([
      "exec",
      "--json",
      "--skip-git-repo-check",
      "--sandbox",
      "workspace-write",
      "--model",
      "gpt-5-codex",
      "--scenario",
      "success",
      "-",
    ]);
    expect(rec.cwd).toBe(join(sb.root, "shop/SPEC-001/attempt-2"));
    expect(rec.stdin).toContain("## Correction round 1");
    expect(rec.stdin).toContain('- qa: check "unit" failed: exit 1');
    expect(rec.stdin).toContain("- Fix the rounding");
    expect(rec.env.OPENAI_API_KEY).toBeUndefined();
  });

  it("returns the last agent message, the workspace files, and USD computed from the turn usage (Codex reports none)", async () => {
    const runOwner = createRunOwner(sb.deps);
    const result = await runOwner(ownerInput(agent("success"), { pricing: PRICING }));
    expect(result.summary).toBe("Wrote docs/spec.md.");
    expect(result.artifacts).toEqual(["docs/spec.md"]);
    // input 24763 of which 24448 cached: 315 × 1.25 + 24448 × 0.125 + 122 × 10 = 4669.75 → $0.00467
    expect(result.cost).toEqual({ inputTokens: 315, outputTokens: 122, cacheReadTokens: 24448, usd: 0.00467 });
  });

  it("sums the usage of every completed turn", async () => {
    const runOwner = createRunOwner(sb.deps);
    const result = await runOwner(ownerInput(agent("two-turns"), { pricing: PRICING }));
    // (1000 − 0) + (3000 − 1000) = 3000 uncached, 1000 cached, 300 out → 3750 + 125 + 3000 = 6875 → $0.006875
    expect(result.cost).toEqual({ inputTokens: 3000, outputTokens: 300, cacheReadTokens: 1000, usd: 0.006875 });
  });

  it("ignores lines that are not JSON events", async () => {
    const runOwner = createRunOwner(sb.deps);
    const result = await runOwner(ownerInput(agent("noise")));
    expect(result.summary).toBe("ok");
  });

  it("counts zero USD and warns when the model has no price", async () => {
    const { hooks, logs } = recordingHooks();
    const runOwner = createRunOwner({ ...sb.deps, hooks });
    const result = await runOwner(ownerInput(agent("success")));
    expect(result.cost.usd).toBe(0);
    expect(logs.some((l) => l.level === "warn" && l.message.includes("no price for gpt-5-codex"))).toBe(true);
  });

  it("fails a turn.failed run whose API gave up with a 500 with a retryable LlmApiError quoting the failure", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(runOwner(ownerInput(agent("turn-failed"))));
    expect(err).toMatchObject({ type: "LlmApiError", nonRetryable: false });
    expect(err.message).toContain("HTTP 500");
    expect(err.message).toContain("exceeded retry limit, last status: 500");
  });

  it("carries the cost of the tokens spent before a turn failed", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(runOwner(ownerInput(agent("turn-failed-usage"), { pricing: PRICING })));
    expect(err.details[0].cost).toEqual({ inputTokens: 2000, outputTokens: 500, usd: 0.0075 });
  });

  it("charges a resumed thread whose turn failed only what it added to the thread, as a successful one", async () => {
    const runOwner = createRunOwner(sb.deps);
    // What the thread had cost when attempt 1 ended: 1500 in, 300 out at $1.25 / $10 per Mtok.
    const sessionCost = { inputTokens: 1500, outputTokens: 300, usd: 0.004875 };
    const err = await rejectionOf(
      runOwner(
        ownerInput(agent("turn-failed-usage"), {
          pricing: PRICING,
          attempt: 2,
          workspace: "shop/SPEC-001/attempt-2",
          feedback: { round: 1, reasons: ['qa: check "unit" failed: exit 1'] },
          previousSession: { id: "0199a213-81c0-7800-8aa1-bbab2a035a53", sessionCost },
        }),
      ),
    );
    expect(JSON.parse(await readFile(recordFile, "utf8")).argv.slice(0, 3)).toEqual([
      "exec",
      "resume",
      "0199a213-81c0-7800-8aa1-bbab2a035a53",
    ]);
    // Reported for the whole thread: 2000 in, 500 out ($0.0075); this run added 500 in, 200 out.
    expect(err.details[0].cost).toEqual({ inputTokens: 500, outputTokens: 200, usd: 0.002625 });
  });

  it("reports a 401 as a non-retryable AgentConfigError", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(runOwner(ownerInput(agent("auth"))));
    expect(err).toMatchObject({ type: "AgentConfigError", nonRetryable: true });
    expect(err.message).toContain("401 Unauthorized");
  });

  it("fails output without a single JSON event with an AgentOutputError", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(runOwner(ownerInput(agent("malformed"))));
    expect(err).toMatchObject({ type: "AgentOutputError", nonRetryable: false });
    expect(err.message).toContain("Codex finished. Files written.");
  });

  it("fails a crash with an AgentExitError quoting stderr", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(runOwner(ownerInput(agent("crash"))));
    expect(err).toMatchObject({ type: "AgentExitError", nonRetryable: false });
    expect(err.message).toContain("exited 101: thread panicked at sandbox");
  });

  it("kills a hanging run's process group at the hard limit, leaving no orphan", async () => {
    const pids = join(sb.dir, "pids.json");
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(
      runOwner(ownerInput(agent("hang", { timeout_ms: 400, set_env: { FAKE_RECORD: recordFile, FAKE_PIDS: pids } }))),
    );
    expect(err).toMatchObject({ type: "AgentTimeoutError" });
    const { child, grandchild } = JSON.parse(await waitForFile(pids));
    expect(await waitGone(child, 1_000)).toBe(true);
    expect(await waitGone(grandchild, 1_000)).toBe(true);
  });

  it("refuses more than 10 MiB on stdout", async () => {
    const runOwner = createRunOwner(sb.deps);
    expect(await rejectionOf(runOwner(ownerInput(agent("huge"))))).toMatchObject({ type: "AgentOutputError" });
  });

  it("names what to install when the binary is missing", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(runOwner(ownerInput({ kind: "codex", binary: "squadflow-no-such-codex" })));
    expect(err).toMatchObject({ type: "AgentConfigError", nonRetryable: true });
    expect(err.message).toContain("npm install -g @openai/codex");
  });
});

describe("codex config and events", () => {
  it("defaults the binary and sandbox, and refuses max_turns (codex exec has no such flag)", () => {
    expect(CodexAgentSchema.parse({ kind: "codex" })).toMatchObject({
      binary: "codex",
      sandbox: "workspace-write",
      extra_args: [],
      env: [],
    });
    const r = CodexAgentSchema.safeParse({ kind: "codex", max_turns: 5 });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]).toMatchObject({
      path: ["max_turns"],
      message: expect.stringContaining("not supported by codex exec"),
    });
  });

  it("reads thread id, failed commands, changed files and errors from the stream", () => {
    const s = parseCodexEvents(
      [
        '{"type":"thread.started","thread_id":"t-1"}',
        '{"type":"item.completed","item":{"id":"a","type":"command_execution","command":"npm test","exit_code":2,"status":"failed"}}',
        '{"type":"item.completed","item":{"id":"b","type":"file_change","changes":[{"path":"src/a.ts","kind":"update"}],"status":"completed"}}',
        '{"type":"error","message":"Reconnecting... 1/5"}',
        '{"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":4,"output_tokens":3}}',
      ].join("\n"),
    );
    expect(s).toMatchObject({
      threadId: "t-1",
      failedCommands: ["npm test (exit 2)"],
      changedFiles: ["src/a.ts"],
      errors: ["Reconnecting... 1/5"],
      lastTurn: "completed",
      usage: { inputTokens: 6, cacheReadTokens: 4, outputTokens: 3 },
    });
  });
});
