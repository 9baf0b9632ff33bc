/**
 * The pure parts of CLI peer reviewers (issue 12): the read-only config each kind runs with, and reading the
 * final message as the answer. The real CLIs are driven in test/agents-contract/peer-review.test.ts.
 */
import { describe, expect, it } from "vitest";
import { CLAUDE_REVIEW_TOOLS, parseFinalAnswer, readOnlyReviewer } from "../../src/activities/peer-review.js";
import { AgentSchema, type CliAgentConfig } from "../../src/domain/squad.js";
import { rejectionOf } from "./helpers.js";

const cli = (raw: Record<string, unknown>) => AgentSchema.parse(raw) as CliAgentConfig;
const COST = { inputTokens: 10, outputTokens: 5, usd: 0.001 };

describe("readOnlyReviewer", () => {
  it("takes write tools away per kind, keeps extra_args after its own flags, and caps the time limits at 10 min", () => {
    const claude = readOnlyReviewer(
      cli({ kind: "claude-code", permission_mode: "bypassPermissions", extra_args: ["--verbose"] }),
    );
    expect(claude).toMatchObject({
      permission_mode: "default",
      extra_args: ["--allowedTools", CLAUDE_REVIEW_TOOLS, "--verbose"],
      timeout_ms: 600_000,
      soft_timeout_ms: 500_000,
    });
    expect(readOnlyReviewer(cli({ kind: "codex", sandbox: "danger-full-access", timeout_ms: 60_000 }))).toMatchObject({
      sandbox: "read-only",
      timeout_ms: 60_000,
      soft_timeout_ms: 50_000,
    });
    expect(
      readOnlyReviewer(cli({ kind: "gemini", approval_mode: "yolo", set_env: { GEMINI_CLI_HOME: "/tmp/g" } })),
    ).toMatchObject({
      approval_mode: "default",
      set_env: { GIT_OPTIONAL_LOCKS: "0", GEMINI_CLI_HOME: "/tmp/g" },
    });
  });
});

describe("parseFinalAnswer", () => {
  it("reads the JSON answer, also inside a Markdown code fence", () => {
    expect(parseFinalAnswer('{"verdict":"concern","comments":["a.ts: no test"]}', "codex", "API-001", COST)).toEqual({
      verdict: "concern",
      comments: ["a.ts: no test"],
    });
    expect(parseFinalAnswer('```json\n{"verdict":"approve","comments":[]}\n```\n', "codex", "API-001", COST)).toEqual({
      verdict: "approve",
      comments: [],
    });
  });

  it("refuses prose, an unknown verdict, extra fields and more than 200 words as a non-retryable PeerReviewOutputError with the cost", async () => {
    const cases: [string, string][] = [
      ["LGTM", "did not end with one JSON object as its final message"],
      ["", "ended with an empty final message"],
      ['{"verdict":"maybe","comments":[]}', "gave an invalid answer: verdict:"],
      ['{"verdict":"approve","comments":[],"score":3}', 'gave an invalid answer: (root): Unrecognized key: "score"'],
      [
        JSON.stringify({ verdict: "concern", comments: ["word ".repeat(201)] }),
        "must hold at most 200 words in total (got 201)",
      ],
    ];
    for (const [message, why] of cases) {
      const err = await rejectionOf(Promise.resolve().then(() => parseFinalAnswer(message, "codex", "API-001", COST)));
      expect(err).toMatchObject({ type: "PeerReviewOutputError", nonRetryable: true });
      expect(err.message).toContain('peer reviewer "codex" of card API-001');
      expect(err.message).toContain(why);
      expect(err.details[0].cost).toEqual(COST);
    }
  });
});
