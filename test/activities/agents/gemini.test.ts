import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createRunOwner } from "../../../src/activities/owner.js";
import {
  findGeminiSessionFile,
  geminiTempDir,
  parseGeminiOutput,
  parseGeminiStream,
} from "../../../src/activities/agents/gemini.js";
import { GeminiAgentSchema, type Pricing } from "../../../src/domain/squad.js";
import { rejectionOf, sandbox, waitForFile, waitGone, type Sandbox } from "../helpers.js";
import { fakeCli, ownerInput, recordingHooks } from "./helpers.js";

const PRICING: Pricing = {
  "gemini-2.5-pro": { input_per_mtok: 1.25, output_per_mtok: 10, cache_read_per_mtok: 0.31 },
  "gemini-2.5-flash": { input_per_mtok: 0.3, output_per_mtok: 2.5, cache_read_per_mtok: 0.075 },
};

let sb: Sandbox;
let gemini: string;
let recordFile: string;
beforeEach(async () => {
  sb = await sandbox({ workerEnv: { ...process.env, GEMINI_API_KEY: "AIzaSy-test-gemini-key-42" } });
  gemini = await fakeCli(sb, "gemini");
  recordFile = join(sb.dir, "record.json");
});
afterEach(async () => {
  await sb.cleanup();
});

function agent(scenario: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: "gemini",
    binary: gemini,
    extra_args: ["--scenario", scenario],
    set_env: { FAKE_RECORD: recordFile },
    ...extra,
  };
}

describe("gemini agent", () => {
  it("runs gemini --output-format stream-json with the approval mode and model, the prompt on stdin, the key only when listed", async () => {
    const runOwner = createRunOwner(sb.deps);
    await runOwner(ownerInput(agent("success", { model: "gemini-2.5-pro", env: ["GEMINI_API_KEY"] })));
    const rec = JSON.parse(await readFile(recordFile, "utf8"));
    expect(rec.argv).toEqual([
      "--output-format",
      "stream-json",
      "--approval-mode",
      "auto_edit",
      "--model",
      "gemini-2.5-pro",
      "--scenario",
      "success",
    ]);
    expect(rec.stdin).toContain("## Card: Write the spec");
    expect(rec.env.GEMINI_API_KEY).toBe("AIzaSy-test-gemini-key-42");
  });

  it("returns the response as summary and USD computed per model from stats.models.*.tokens", async () => {
    const runOwner = createRunOwner(sb.deps);
    const result = await runOwner(ownerInput(agent("success"), { pricing: PRICING }));
    expect(result.summary).toBe("Created docs/spec.md with the spec.");
    expect(result.artifacts).toEqual(["docs/spec.md"]);
    // pro: (24939 − 21263) × 1.25 + 21263 × 0.31 + (20 + 154) × 10 = 12926.53; flash: 1000 × 0.3 + 300 × 2.5 = 1050
    expect(result.cost).toEqual({ inputTokens: 4676, outputTokens: 474, cacheReadTokens: 21263, usd: 0.013977 });
  });

  it.each([
    ["auth", 41, "AgentConfigError", true, "GEMINI_API_KEY"],
    ["input", 42, "AgentInputError", true, "Unknown argument: --frobnicate"],
    ["sandbox", 44, "AgentConfigError", true, "sandbox image not found"],
    ["config", 52, "AgentConfigError", true, "Invalid settings.json"],
    ["turn-limit", 53, "AgentTurnLimitError", true, "turn limit"],
    ["tool", 54, "AgentToolError", false, "write_file: EACCES"],
    ["cancelled", 130, "AgentCancelledError", false, "cancelled (SIGINT) by something other than squadflow"],
  ])(
    "maps scenario %s (exit %i) to a typed %s (non-retryable: %s)",
    async (scenario, code, type, nonRetryable, text) => {
      const runOwner = createRunOwner(sb.deps);
      const err = await rejectionOf(runOwner(ownerInput(agent(scenario))));
      expect(err).toMatchObject({ type, nonRetryable });
      expect(err.message).toContain(`exited ${code}`);
      expect(err.message).toContain(text);
    },
  );

  it("carries the cost of a run stopped at the turn limit", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(runOwner(ownerInput(agent("turn-limit"), { pricing: PRICING })));
    expect(err.details[0].cost.usd).toBe(0.013977);
  });

  it("reads the error object from stderr on a general failure (retryable AgentExitError)", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(runOwner(ownerInput(agent("api-error"))));
    expect(err).toMatchObject({ type: "AgentExitError", nonRetryable: false });
    expect(err.message).toContain("exited 1: Error: [API Error: You have exhausted your capacity on this model.]");
  });

  it("fails an error in the output even with exit 0", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(runOwner(ownerInput(agent("error-exit-0"))));
    expect(err).toMatchObject({ type: "AgentExitError", nonRetryable: false });
    expect(err.message).toContain("reported an error: ApiError: quota exceeded");
  });

  it("fails output that is not its JSON result with an AgentOutputError", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(runOwner(ownerInput(agent("malformed"))));
    expect(err).toMatchObject({ type: "AgentOutputError", nonRetryable: false });
    expect(err.message).toContain("Loaded cached credentials.");
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
    const err = await rejectionOf(runOwner(ownerInput({ kind: "gemini", binary: "squadflow-no-such-gemini" })));
    expect(err).toMatchObject({ type: "AgentConfigError", nonRetryable: true });
    expect(err.message).toContain("npm install -g @google/gemini-cli");
  });
});

describe("gemini config and output", () => {
  it("defaults the binary and approval mode, and refuses max_turns", () => {
    expect(GeminiAgentSchema.parse({ kind: "gemini" })).toMatchObject({ binary: "gemini", approval_mode: "auto_edit" });
    expect(GeminiAgentSchema.safeParse({ kind: "gemini", max_turns: 2 }).success).toBe(false);
  });

  it("returns undefined for text without a result object", () => {
    expect(parseGeminiOutput("hello", "")).toBeUndefined();
    expect(parseGeminiOutput('{"unrelated":1}', "")).toBeUndefined();
  });

  it("reads a stream-json run: the init session id, the assistant deltas joined, thoughts counted as output", () => {
    const lines = [
      { type: "init", session_id: "s-1", model: "gemini-2.5-pro" },
      { type: "message", role: "user", content: "do it" },
      { type: "message", role: "assistant", content: "Do", delta: true },
      { type: "message", role: "assistant", content: "ne.", delta: true },
      {
        type: "result",
        status: "success",
        stats: {
          models: { "gemini-2.5-pro": { input_tokens: 1_000, cached: 400, output_tokens: 50, total_tokens: 1_080 } },
        },
      },
    ].map((e) => JSON.stringify(e));
    expect(parseGeminiStream(lines.join("\n"))).toEqual({
      response: "Done.",
      sessionId: "s-1",
      usage: [{ model: "gemini-2.5-pro", usage: { inputTokens: 600, cacheReadTokens: 400, outputTokens: 80 } }],
    });
  });

  it("reads a stream cut short or ending in an error result as an error", () => {
    expect(parseGeminiStream(JSON.stringify({ type: "init", session_id: "s-2" }))?.error).toBe(
      "ended without a result event",
    );
    const failed = JSON.stringify({
      type: "result",
      status: "error",
      error: { type: "FatalToolExecutionError", message: "boom" },
      stats: {},
    });
    expect(parseGeminiStream(failed)?.error).toBe("FatalToolExecutionError: boom");
    expect(parseGeminiStream('{"session_id":"x","response":"hi"}')).toBeUndefined();
  });
});

describe("gemini session files", () => {
  const ID = "5b3e9d4a-7c21-4f10-8e6b-0a9c2d4e6f80";
  /** Writes a session file the way Gemini CLI 0.61 does: a metadata line, then one line per message. */
  async function sessionFile(project: string, id: string, time = "2026-12-06T01-00"): Promise<string> {
    const dir = join(sb.dir, "home/.gemini/tmp", project, "chats");
    await mkdir(dir, { recursive: true });
    const path = join(dir, `session-${time}-${id.slice(0, 8)}.jsonl`);
    await writeFile(
      path,
      `${JSON.stringify({ sessionId: id, projectHash: "x", startTime: "2026-12-06T01:00:00Z" })}\n{"id":"m1","type":"user","content":"hi"}\n`,
    );
    return path;
  }

  it("finds a session by id in any project folder, not another session sharing its first 8 characters", async () => {
    const tmp = join(sb.dir, "home/.gemini/tmp");
    await sessionFile("attempt-1", `${ID.slice(0, 8)}-0000-4000-8000-000000000000`, "2026-12-06T00-59");
    const path = await sessionFile("attempt-1-2", ID);
    expect(await findGeminiSessionFile(tmp, ID)).toBe(path);
    expect(await findGeminiSessionFile(tmp, "aaaaaaaa-0000-4000-8000-000000000000")).toBeUndefined();
    expect(await findGeminiSessionFile(join(sb.dir, "no-such-home"), ID)).toBeUndefined();
    expect(geminiTempDir({ HOME: "/home/w", GEMINI_CLI_HOME: "/srv/g" })).toBe("/srv/g/.gemini/tmp");
    expect(geminiTempDir({ HOME: "/home/w" })).toBe("/home/w/.gemini/tmp");
  });

  it("resumes a correction from the previous session file (--session-file, feedback-only prompt), fresh when Gemini cannot import it", async () => {
    const path = await sessionFile("attempt-1", ID);
    const { hooks, logs } = recordingHooks();
    const runOwner = createRunOwner({
      ...sb.deps,
      workerEnv: { ...sb.deps.workerEnv, HOME: join(sb.dir, "home") },
      hooks,
    });
    const correction = {
      attempt: 2,
      workspace: "shop/SPEC-001/attempt-2",
      feedback: { round: 1, reasons: ['qa: check "unit" failed: exit 1'] },
      previousSession: { id: ID },
    };
    const resumed = await runOwner(ownerInput(agent("session-import-fails"), correction));
    // The import failed (exit 42): the run started afresh with the full prompt, and says so.
    expect(resumed.summary).toBe("Created docs/spec.md afresh.");
    expect(resumed.session).toMatchObject({ id: "c0ffee00-1111-4222-8333-444455556666" });
    expect(resumed.session?.resumedFrom).toBeUndefined();
    const rec = JSON.parse(await readFile(recordFile, "utf8"));
    expect(rec.argv).not.toContain("--session-file");
    expect(rec.stdin).toContain("## Card: Write the spec");
    expect(logs.map((l) => l.message)).toEqual(
      expect.arrayContaining([expect.stringContaining(`session ${ID} is gone; starting a fresh one`)]),
    );
    // The first launch was handed the session file found in attempt 1's project folder, with only the feedback.
    const first = JSON.parse(await readFile(`${recordFile}.import.json`, "utf8"));
    expect(first.argv).toEqual([
      "--output-format",
      "stream-json",
      "--approval-mode",
      "auto_edit",
      "--session-file",
      path,
      "--scenario",
      "session-import-fails",
    ]);
    expect(first.stdin).toContain("Correction round 1 of card SPEC-001");
    expect(first.stdin).not.toContain("## Card: Write the spec");
  });
});
