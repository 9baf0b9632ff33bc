import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ApplicationFailure, CancelledFailure } from "@temporalio/common";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createRunOwner } from "../../../src/activities/owner.js";
import { claudeArgs, claudeSession, parseClaudeResult } from "../../../src/activities/agents/claude-code.js";
import { ClaudeCodeAgentSchema, type Pricing } from "../../../src/domain/squad.js";
import { card, rejectionOf, sandbox, waitForFile, waitGone, type Sandbox } from "../helpers.js";
import { fakeCli, ownerInput, recordingHooks } from "./helpers.js";

const KEY = "fake-anthropic-TESTKEY-0123456789abcdef";
const OTHER_SECRET = "ghp_worker_only_token_987654321";

const PRICING: Pricing = {
  "claude-sonnet-4-5": { input_per_mtok: 3, output_per_mtok: 15, cache_write_per_mtok: 3.75, cache_read_per_mtok: 0.3 },
  "claude-haiku-4-5": { input_per_mtok: 1, output_per_mtok: 5, cache_write_per_mtok: 1.25, cache_read_per_mtok: 0.1 },
};

let sb: Sandbox;
let claude: string;
let recordFile: string;
beforeEach(async () => {
  sb = await sandbox({ workerEnv: { ...process.env, ANTHROPIC_API_KEY: KEY, GITHUB_TOKEN: OTHER_SECRET } });
  claude = await fakeCli(sb, "claude");
  recordFile = join(sb.dir, "record.json");
});
afterEach(async () => {
  await sb.cleanup();
});

/** A claude-code agent config as written in a squad file, running a scenario of the stand-in. */
function agent(scenario: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: "claude-code",
    binary: claude,
    extra_args: ["--scenario", scenario],
    set_env: { FAKE_RECORD: recordFile },
    ...extra,
  };
}

async function recorded(): Promise<{ argv: string[]; env: Record<string, string>; stdin: string; cwd: string }> {
  return JSON.parse(await readFile(recordFile, "utf8"));
}

describe("claude-code agent", () => {
  it("runs claude -p --output-format stream-json --verbose in the workspace with turns, budget, model and extra args, the prompt on stdin", async () => {
    const runOwner = createRunOwner(sb.deps);
    await runOwner(
      ownerInput(agent("success", { model: "claude-sonnet-4-5", max_turns: 12 }), {
        budgetUsd: 0.4567891,
        dependencies: [{ cardId: "ARQ-001", artifacts: ["shop/ARQ-001/attempt-1/docs/arch.md"] }],
      }),
    );
    const rec = await recorded();
    expect(rec.argv).toEqual([
      "-p",
      "--output-format",
      "stream-json",
      "--verbose",
      "--permission-mode",
      "acceptEdits",
      "--model",
      "claude-sonnet-4-5",
      "--max-turns",
      "12",
      "--max-budget-usd",
      "0.456789",
      "--scenario",
      "success",
    ]);
    expect(rec.cwd).toBe(join(sb.root, "shop/SPEC-001/attempt-1"));
    expect(rec.stdin).toContain('card SPEC-001 of backlog "shop"');
    expect(rec.stdin).toContain("## Card: Write the spec");
    expect(rec.stdin).toContain("1. Has a rollback plan");
    expect(rec.stdin).toContain(`- ARQ-001: ${join(sb.root, "shop/ARQ-001/attempt-1/docs/arch.md")}`);
    expect(rec.stdin).not.toContain("Correction round");
  });

  it("returns the workspace files as artifacts, the result as summary, and USD computed from modelUsage tokens", async () => {
    const { hooks, logs } = recordingHooks();
    const runOwner = createRunOwner({ ...sb.deps, hooks });
    const result = await runOwner(ownerInput(agent("success"), { pricing: PRICING }));
    expect(result.artifacts).toEqual(["docs/spec.md", "src/discount.js"]); // .claude/ is the CLI's own state
    expect(result.summary).toBe("Wrote docs/spec.md and src/discount.js.");
    // sonnet: 1000×3 + 3000×15 + 20000×3.75 + 150000×0.3 = 168000; haiku: 200×1 + 400×5 = 2200 → $0.1702
    expect(result.cost).toEqual({
      inputTokens: 1200,
      outputTokens: 3400,
      cacheCreationTokens: 20000,
      cacheReadTokens: 150000,
      usd: 0.1702,
      reportedUsd: 0.1722,
    });
    expect(result.session).toEqual({ id: "8f0c2c1e-5a8d-4f0e-9a51-1c1f1d0b7e11", turns: 7, sessionCost: result.cost }); // session_id, num_turns; a fresh session's cumulative cost is this run's
    expect(logs.filter((l) => l.level === "warn")).toEqual([]); // 1.2 % apart: no warning
    // A retry of the same attempt returns the recorded result, cache tokens, reported USD and session included.
    const retried = await runOwner(ownerInput(agent("success"), { pricing: PRICING }));
    expect(retried).toEqual(result);
    expect(retried.session).toEqual({ id: "8f0c2c1e-5a8d-4f0e-9a51-1c1f1d0b7e11", turns: 7, sessionCost: result.cost });
  });

  it("prices usage by the configured model without modelUsage, and logs both costs when the reported one is off by more than 20%", async () => {
    const { hooks, logs } = recordingHooks();
    const runOwner = createRunOwner({ ...sb.deps, hooks });
    const result = await runOwner(
      ownerInput(agent("usage-only", { model: "claude-sonnet-4-5-20250929" }), { pricing: PRICING }),
    );
    // 1000×3 + 1000×15 = 18000 → $0.018 computed; the agent said $0.05
    expect(result.cost).toEqual({ inputTokens: 1000, outputTokens: 1000, usd: 0.018, reportedUsd: 0.05 });
    const warn = logs.find((l) => l.level === "warn" && l.message.includes("differs"));
    expect(warn?.meta).toMatchObject({ computedUsd: 0.018, reportedUsd: 0.05, cardId: "SPEC-001" });
  });

  it("falls back to the reported USD, with a warning, when the price table lacks the model", async () => {
    const { hooks, logs } = recordingHooks();
    const runOwner = createRunOwner({ ...sb.deps, hooks });
    const result = await runOwner(ownerInput(agent("usage-only", { model: "claude-opus-4-1" }), { pricing: PRICING }));
    expect(result.cost.usd).toBe(0.05);
    expect(logs.some((l) => l.level === "warn" && l.message.includes("no price for claude-opus-4-1"))).toBe(true);
  });

  it("passes the card's own max_turns as --max-turns instead of the agent's, and names it when the run stops there", async () => {
    const runOwner = createRunOwner(sb.deps);
    await runOwner(ownerInput(agent("success", { max_turns: 40 }), { card: card({ maxTurns: 6 }) }));
    const rec = await recorded();
    expect(rec.argv).toEqual([
      "-p",
      "--output-format",
      "stream-json",
      "--verbose",
      "--permission-mode",
      "acceptEdits",
      "--max-turns",
      "6",
      "--scenario",
      "success",
    ]);

    const err = await rejectionOf(
      runOwner(
        ownerInput(agent("error_max_turns", { max_turns: 40 }), {
          card: card({ maxTurns: 6 }),
          workspace: "shop/SPEC-001/attempt-2",
        }),
      ),
    );
    expect(err).toMatchObject({ type: "AgentTurnLimitError", nonRetryable: true });
    expect(err.message).toContain("--max-turns 6");
  });

  it("treats error_max_turns as a non-retryable AgentTurnLimitError even though is_error is false, carrying the cost", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(
      runOwner(ownerInput(agent("error_max_turns", { max_turns: 3 }), { pricing: PRICING })),
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: "AgentTurnLimitError", nonRetryable: true });
    expect(err.message).toContain("--max-turns 3");
    expect(err.message).toContain("after 3 turns");
    // usage only (no modelUsage), no model configured → unpriced → the reported $0.05
    expect(err.details[0].cost).toMatchObject({ inputTokens: 1200, outputTokens: 3400, usd: 0.05 });
  });

  it("charges a resumed run that fails only what it added to the session, as a successful one", async () => {
    const runOwner = createRunOwner(sb.deps);
    // What the session had cost when attempt 1 ended; the stand-in then reports the whole session's usage.
    const sessionCost = {
      inputTokens: 1000,
      outputTokens: 3000,
      cacheCreationTokens: 20000,
      cacheReadTokens: 100000,
      usd: 0.04,
      reportedUsd: 0.04,
    };
    const err = await rejectionOf(
      runOwner(
        ownerInput(agent("error_max_turns", { max_turns: 3 }), {
          pricing: PRICING,
          attempt: 2,
          workspace: "shop/SPEC-001/attempt-2",
          feedback: { round: 1, reasons: ['qa: check "unit" failed: exit 1'] },
          previousSession: { id: "8f0c2c1e-5a8d-4f0e-9a51-1c1f1d0b7e11", sessionCost },
        }),
      ),
    );
    expect(err).toMatchObject({ type: "AgentTurnLimitError", nonRetryable: true });
    expect((await recorded()).argv).toEqual(
      expect.arrayContaining(["--resume", "8f0c2c1e-5a8d-4f0e-9a51-1c1f1d0b7e11"]),
    );
    // Reported: 1200 in, 3400 out, 20000 cache writes, 150000 cache reads, $0.05 (unpriced) — less the session's earlier cost.
    expect(err.details[0].cost).toEqual({
      inputTokens: 200,
      outputTokens: 400,
      cacheCreationTokens: 0,
      cacheReadTokens: 50000,
      usd: 0.01,
      reportedUsd: 0.01,
    });
  });

  it("treats error_max_budget_usd as a non-retryable AgentBudgetExceededError", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(runOwner(ownerInput(agent("error_max_budget_usd"), { budgetUsd: 0.5 })));
    expect(err).toMatchObject({ type: "AgentBudgetExceededError", nonRetryable: true });
    expect(err.message).toContain("--max-budget-usd 0.5");
  });

  it("retries error_during_execution (AgentExitError)", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(runOwner(ownerInput(agent("error_during_execution"))));
    expect(err).toMatchObject({ type: "AgentExitError", nonRetryable: false });
    expect(err.message).toContain("failed (error_during_execution, is_error)");
    expect(err.message).toContain("529 overloaded");
  });

  it("reports refused credentials as a non-retryable AgentConfigError", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(runOwner(ownerInput(agent("auth"))));
    expect(err).toMatchObject({ type: "AgentConfigError", nonRetryable: true });
    expect(err.message).toContain("Invalid API key");
    expect(err.message).toContain("ANTHROPIC_API_KEY");
  });

  it("fails with a retryable AgentOutputError quoting stdout when the output is not a result object", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(runOwner(ownerInput(agent("malformed"))));
    expect(err).toMatchObject({ type: "AgentOutputError", nonRetryable: false });
    expect(err.message).toContain("did not write a JSON result object");
    expect(err.message).toContain("I have written the spec");

    const shape = await rejectionOf(runOwner(ownerInput(agent("wrong-shape"))));
    expect(shape).toMatchObject({ type: "AgentOutputError" });
    expect(shape.message).toContain("is_error:");
    expect(shape.message).toContain("usage.input_tokens:");
  });

  it("fails a crash with a retryable AgentExitError whose stderr tail has the API key redacted", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(runOwner(ownerInput(agent("crash", { env: ["ANTHROPIC_API_KEY"] }))));
    expect(err).toMatchObject({ type: "AgentExitError", nonRetryable: false });
    expect(err.message).toContain("exited 3");
    expect(err.message).toContain("cannot reach api.anthropic.com with key [REDACTED:ANTHROPIC_API_KEY]");
    expect(err.message).not.toContain(KEY);
  });

  it("redacts secrets from the summary", async () => {
    const runOwner = createRunOwner(sb.deps);
    const result = await runOwner(ownerInput(agent("echo-secret", { env: ["ANTHROPIC_API_KEY"] })));
    expect(result.summary).toBe("My key is [REDACTED:ANTHROPIC_API_KEY]");
  });

  it("redacts a secret the agent wrote into an artifact, in place, with a warning", async () => {
    const { hooks, logs } = recordingHooks();
    const runOwner = createRunOwner({ ...sb.deps, hooks });
    const result = await runOwner(ownerInput(agent("secret-file", { env: ["ANTHROPIC_API_KEY"] })));
    expect(result.artifacts).toEqual(["config/app.env"]);
    expect(await readFile(join(sb.root, "shop/SPEC-001/attempt-1/config/app.env"), "utf8")).toBe(
      "API_KEY=[REDACTED:ANTHROPIC_API_KEY]\nMODE=prod\n",
    );
    expect(logs.find((l) => l.message.includes("wrote a secret into an artifact"))?.meta).toMatchObject({
      file: "config/app.env",
      variables: ["ANTHROPIC_API_KEY"],
    });
  });

  it("kills the process group at the hard limit with an AgentTimeoutError, leaving no orphan", async () => {
    const pids = join(sb.dir, "pids.json");
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(
      runOwner(ownerInput(agent("hang", { timeout_ms: 500, set_env: { FAKE_RECORD: recordFile, FAKE_PIDS: pids } }))),
    );
    expect(err).toMatchObject({ type: "AgentTimeoutError", nonRetryable: false });
    expect(err.message).toContain("killed after 500 ms");
    const { child, grandchild } = JSON.parse(await waitForFile(pids));
    expect(await waitGone(child, 1_000)).toBe(true);
    expect(await waitGone(grandchild, 1_000)).toBe(true);
  });

  it("logs a warning through the activity logger past the soft limit and lets the run finish", async () => {
    const { hooks, logs, beats } = recordingHooks();
    const runOwner = createRunOwner({ ...sb.deps, hooks });
    const result = await runOwner(ownerInput(agent("slow", { soft_timeout_ms: 100, timeout_ms: 10_000 })));
    expect(result.artifacts).toEqual(["a.md"]);
    const warns = logs.filter((l) => l.level === "warn" && l.message.includes("soft time limit"));
    expect(warns).toHaveLength(1);
    expect(warns[0]!.meta).toMatchObject({ softTimeoutMs: 100, hardTimeoutMs: 10_000, cardId: "SPEC-001" });
    expect(beats.length).toBeGreaterThanOrEqual(3);
  });

  it("kills the agent and rethrows the cancellation when the activity is cancelled", async () => {
    const pids = join(sb.dir, "pids.json");
    const ac = new AbortController();
    const { hooks } = recordingHooks(ac.signal);
    const runOwner = createRunOwner({ ...sb.deps, hooks });
    const running = runOwner(ownerInput(agent("hang", { set_env: { FAKE_RECORD: recordFile, FAKE_PIDS: pids } })));
    const { child, grandchild } = JSON.parse(await waitForFile(pids));
    ac.abort(new CancelledFailure("CANCELLED"));
    expect(await rejectionOf(running)).toBeInstanceOf(CancelledFailure);
    expect(await waitGone(child, 1_000)).toBe(true);
    expect(await waitGone(grandchild, 1_000)).toBe(true);
  });

  it("refuses more than 10 MiB on stdout with an AgentOutputError", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(runOwner(ownerInput(agent("huge"))));
    expect(err).toMatchObject({ type: "AgentOutputError", nonRetryable: false });
    expect(err.message).toContain("more than 10 MiB");
  });

  it("names what to install when the binary is missing (non-retryable AgentConfigError)", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(runOwner(ownerInput({ kind: "claude-code", binary: "squadflow-no-such-claude" })));
    expect(err).toMatchObject({ type: "AgentConfigError", nonRetryable: true });
    expect(err.message).toContain('"squadflow-no-such-claude" not found (ENOENT)');
    expect(err.message).toContain("npm install -g @anthropic-ai/claude-code");
  });

  it("does not start when no budget is left", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(runOwner(ownerInput(agent("success"), { budgetUsd: 0 })));
    expect(err).toMatchObject({ type: "AgentBudgetExceededError", nonRetryable: true });
    await expect(readFile(recordFile, "utf8")).rejects.toThrow(/ENOENT/);
  });
});

describe("claude-code agent environment", () => {
  it("passes only the allow-list, set_env and SQUADFLOW_* variables: the worker's API key stays out unless listed", async () => {
    const runOwner = createRunOwner(sb.deps);
    await runOwner(ownerInput(agent("success")));
    const { env } = await recorded();
    expect(env.ANTHROPIC_API_KEY).toBeUndefined();
    expect(env.GITHUB_TOKEN).toBeUndefined();
    // PWD, SHLVL and _ are set by the stand-in's /bin/sh wrapper itself.
    const allowed = new Set(["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "FAKE_RECORD", "PWD", "SHLVL", "_"]);
    expect(Object.keys(env).filter((k) => !allowed.has(k) && !k.startsWith("SQUADFLOW_"))).toEqual([]);
  });

  it("passes a worker variable through when the config lists it in env", async () => {
    const runOwner = createRunOwner(sb.deps);
    await runOwner(ownerInput(agent("success", { env: ["ANTHROPIC_API_KEY"] })));
    const { env } = await recorded();
    expect(env.ANTHROPIC_API_KEY).toBe(KEY);
    expect(env.GITHUB_TOKEN).toBeUndefined();
  });

  it("names the variable to set when a listed one is missing on the worker", async () => {
    const runOwner = createRunOwner({ ...sb.deps, workerEnv: { PATH: process.env.PATH } });
    const err = await rejectionOf(runOwner(ownerInput(agent("success", { env: ["ANTHROPIC_API_KEY"] }))));
    expect(err).toMatchObject({ type: "AgentConfigError", nonRetryable: true });
    expect(err.message).toContain("set ANTHROPIC_API_KEY in the worker's environment");
  });
});

describe("claude-code parsing", () => {
  it("builds the arguments from the config: defaults, no budget flag without a budget", () => {
    const cfg = ClaudeCodeAgentSchema.parse({ kind: "claude-code" });
    expect(cfg).toMatchObject({
      binary: "claude",
      timeout_ms: 3_600_000,
      soft_timeout_ms: 3_000_000,
      permission_mode: "acceptEdits",
    });
    expect(claudeArgs(cfg, { card: card() })).toEqual([
      "-p",
      "--output-format",
      "stream-json",
      "--verbose",
      "--permission-mode",
      "acceptEdits",
    ]);
  });

  it("takes --max-turns from the card when it sets one, else from the agent", () => {
    const cfg = ClaudeCodeAgentSchema.parse({ kind: "claude-code", max_turns: 40 });
    const turns = (args: string[]) => args[args.indexOf("--max-turns") + 1];
    expect(turns(claudeArgs(cfg, { card: card({ maxTurns: 7 }) }))).toBe("7");
    expect(turns(claudeArgs(cfg, { card: card() }))).toBe("40");
    expect(
      turns(claudeArgs(ClaudeCodeAgentSchema.parse({ kind: "claude-code" }), { card: card({ maxTurns: 3 }) })),
    ).toBe("3");
  });

  it("keeps session_id and num_turns as the session, leaving out what the result does not report", () => {
    const result = (extra: Record<string, unknown>) => {
      const parsed = parseClaudeResult(
        JSON.stringify({ type: "result", subtype: "success", is_error: false, ...extra }),
      );
      if (!parsed.ok) throw new Error(parsed.why);
      return parsed.result;
    };
    expect(claudeSession(result({ session_id: "s-1", num_turns: 4 }))).toEqual({ id: "s-1", turns: 4 });
    expect(claudeSession(result({ num_turns: 0 }))).toEqual({ turns: 0 });
    expect(claudeSession(result({}))).toBeUndefined();
  });

  it("reads the result object from the last JSON line when Claude Code printed something before it", () => {
    const parsed = parseClaudeResult(
      'warning: update available\n{"type":"result","subtype":"success","is_error":false,"result":"ok"}\n',
    );
    expect(parsed).toEqual({ ok: true, result: expect.objectContaining({ subtype: "success", result: "ok" }) });
    expect(parseClaudeResult("")).toEqual({ ok: false, why: "wrote nothing on stdout" });
  });
});
