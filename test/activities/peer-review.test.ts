/**
 * The peer-review activity with real subprocess reviewers: the example reviewer (examples/agents/
 * peer-reviewer.mjs) and small scripts that answer what a test needs, on real files and a real git diff.
 */
import { execFile } from "node:child_process";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createReviewPeers, type PeerReviewInput } from "../../src/activities/peer-review.js";
import { AgentSchema, type AgentConfig } from "../../src/domain/squad.js";
import { card, rejectionOf, sandbox, type Sandbox } from "./helpers.js";
import { anthropicToolUse, llmServer } from "./agents/helpers.js";

const WS = "shop/API-001/attempt-1";
const EXAMPLE_REVIEWER = resolve("examples/agents/peer-reviewer.mjs");
const node = process.execPath;
const API_DOC = "# API\n\nThe checkout endpoint.\n";

let sb: Sandbox;
beforeEach(async () => {
  sb = await sandbox();
  await sb.writeIn(WS, "docs/api.md", API_DOC);
});
afterEach(async () => {
  await sb.cleanup();
});

const command = (args: string[]): AgentConfig => ({
  kind: "command",
  command: node,
  args,
  timeout_ms: 20_000,
  env: {},
});
/** The example reviewer, as the example squad configures it. */
const example = command([EXAMPLE_REVIEWER]);
/** A reviewer script that always answers `answer` (JSON-encoded on stdout). */
const answering = (answer: unknown): AgentConfig =>
  command(["-e", `process.stdout.write(${JSON.stringify(JSON.stringify(answer))})`]);

function review(reviewers: Record<string, AgentConfig>, extra: Partial<PeerReviewInput> = {}, deps = sb.deps) {
  return createReviewPeers(deps)({
    card: card({ id: "API-001", type: "API" }),
    workspace: WS,
    artifacts: ["docs/api.md"],
    reviewers: Object.entries(reviewers).map(([name, agent]) => ({ name, agent })),
    moment: "always",
    ...extra,
  });
}

describe("reviewPeers", () => {
  it("runs every reviewer on the artifacts and passes when all approve, with each answer in the verdict", async () => {
    const v = await review({
      codex: example,
      gemini: answering({
        verdict: "approve",
        comments: ["fine"],
        usage: { input_tokens: 10, output_tokens: 5, cost_usd: 0.002 },
      }),
    });
    expect(v).toMatchObject({ validator: "peer_review", passed: true, reasons: [], at: "2025-01-02T03:04:05.000Z" });
    expect(v.reviews).toEqual([
      {
        reviewer: "codex",
        verdict: "approve",
        comments: ["Reviewed 1 artifact(s) of API-001: no committed secret, 0 test file(s) with the change."],
        cost: { inputTokens: 0, outputTokens: 0, usd: 0 },
      },
      {
        reviewer: "gemini",
        verdict: "approve",
        comments: ["fine"],
        cost: { inputTokens: 10, outputTokens: 5, usd: 0.002 },
      },
    ]);
    expect(v.cost).toEqual({ inputTokens: 10, outputTokens: 5, usd: 0.002 });
  });

  it("fails on a blocker the example reviewer finds in an artifact, naming the reviewer and the file", async () => {
    await sb.writeIn(WS, "config.md", 'password = "hunter22"\n');
    const v = await review({ codex: example }, { artifacts: ["docs/api.md", "config.md"] });
    expect(v.passed).toBe(false);
    expect(v.reasons).toEqual([
      'reviewer "codex" found a blocker: config.md: a secret is written as a value (added line 1); read it from the environment instead',
    ]);
  });

  it("passes with one concern (a warning) and fails with two", async () => {
    const concern = answering({ verdict: "concern", comments: ["no rate limit"] });
    expect(await review({ a: concern, b: example })).toMatchObject({ passed: true, reasons: [] });
    const two = await review({ a: concern, b: answering({ verdict: "concern", comments: ["no audit log"] }) });
    expect(two).toMatchObject({
      passed: false,
      reasons: ['reviewer "a" has a concern: no rate limit', 'reviewer "b" has a concern: no audit log'],
    });
  });

  it("gives command reviewers the card, the moment and the artifacts on stdin, in the workspace", async () => {
    const echo = command([
      "-e",
      'const r = JSON.parse(require("fs").readFileSync(0, "utf8")); process.stdout.write(JSON.stringify({ verdict: "approve", comments: [r.reviewer, r.card.id, r.moment, r.milestones.join(","), r.artifacts.map((a) => a.path + ":" + a.text.length).join(","), String(r.diff), process.cwd() === r.workspace ? "cwd" : "elsewhere"] }))',
    ]);
    const v = await review({ echo }, { moment: "milestone", milestones: ["schema done"] });
    expect(v.reviews![0]!.comments).toEqual([
      "echo",
      "API-001",
      "milestone",
      "schema done",
      `docs/api.md:${API_DOC.length}`,
      "null",
      "cwd",
    ]);
  });

  it("reviews the attempt diff in a repository: code without a test is a concern of the example reviewer", async () => {
    const ws = join(sb.root, WS);
    const git = async (...args: string[]) => (await promisify(execFile)("git", args, { cwd: ws })).stdout.trim();
    await git("init", "-q", "-b", "main");
    await git("-c", "user.name=t", "-c", "user.email=t@x", "add", "-A");
    await git("-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "base");
    const baseCommit = await git("rev-parse", "HEAD");
    await sb.writeIn(
      WS,
      "src/checkout.js",
      "export const total = (items) => items.reduce((s, i) => s + i.price, 0);\n",
    );
    await git("add", "-A");
    await git("-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "head");
    const headCommit = await git("rev-parse", "HEAD");
    const v = await review(
      { codex: example },
      { git: { branch: "main", baseCommit, headCommit }, artifacts: ["src/checkout.js"] },
    );
    expect(v.reviews).toEqual([
      {
        reviewer: "codex",
        verdict: "concern",
        comments: ["src/checkout.js changed without a test; add one that covers the change"],
        cost: { inputTokens: 0, outputTokens: 0, usd: 0 },
      },
    ]);
    expect(v.passed).toBe(true);
  });

  it("refuses an invalid answer: a clear, non-retryable PeerReviewOutputError naming the reviewer and the problem", async () => {
    const bad = await rejectionOf(review({ codex: answering({ verdict: "maybe", comments: [] }) }));
    expect(bad).toMatchObject({ type: "PeerReviewOutputError", nonRetryable: true });
    expect(bad.message).toContain('peer reviewer "codex" of card API-001 gave an invalid answer: verdict:');
    const long = await rejectionOf(
      review({ codex: answering({ verdict: "concern", comments: ["word ".repeat(150), "more ".repeat(60)] }) }),
    );
    expect(long.message).toContain("comments: must hold at most 200 words in total (got 210)");
    const none = await rejectionOf(review({ codex: command(["-e", ""]) }));
    expect(none.message).toContain("wrote nothing on stdout");
  });

  it("reports a reviewer that exits non-zero as a retryable AgentExitError with its stderr", async () => {
    const err = await rejectionOf(
      review({ codex: command(["-e", 'console.error("no diff given"); process.exit(4)']) }),
    );
    expect(err).toMatchObject({ type: "AgentExitError", nonRetryable: false });
    expect(err.message).toBe('peer reviewer "codex" of card API-001 exited 4: no diff given');
  });
});

describe("reviewPeers with an llm reviewer", () => {
  const KEY = "fake-anthropic-reviewer-key-737373";
  let server: Awaited<ReturnType<typeof llmServer>> | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });
  const claude = (): AgentConfig =>
    AgentSchema.parse({
      kind: "llm",
      provider: "anthropic",
      model: "claude-opus-4-7",
      base_url: server!.url,
      max_retries: 0,
    });
  const deps = () => ({ ...sb.deps, workerEnv: { PATH: process.env.PATH, ANTHROPIC_API_KEY: KEY } });

  it("asks the model through the SDK with the artifacts, and prices its answer with the squad's table", async () => {
    server = await llmServer([
      {
        body: anthropicToolUse(
          "peer_review",
          { verdict: "concern", comments: ["docs/api.md: no error codes"] },
          { input_tokens: 2000, output_tokens: 100 },
          { model: "claude-opus-4-7" },
        ),
      },
    ]);
    const v = await review(
      { claude: claude(), codex: example },
      { pricing: { "claude-opus-4-7": { input_per_mtok: 5, output_per_mtok: 25 } } },
      deps(),
    );
    expect(v.reviews![0]).toEqual({
      reviewer: "claude",
      verdict: "concern",
      comments: ["docs/api.md: no error codes"],
      cost: { inputTokens: 2000, outputTokens: 100, usd: 0.0125 },
    });
    expect(v).toMatchObject({ passed: true, cost: { inputTokens: 2000, outputTokens: 100, usd: 0.0125 } });
    const req = server.requests[0]!;
    expect(req.body.tool_choice).toEqual({ type: "tool", name: "peer_review" });
    expect(req.body.messages[0].content).toContain("### docs/api.md");
    expect(req.body.messages[0].content).toContain("The checkout endpoint.");
  });

  it("re-asks on an invalid answer, then fails with PeerReviewOutputError carrying what the calls cost", async () => {
    const bad = {
      body: anthropicToolUse(
        "peer_review",
        { verdict: "looks good", comments: [] },
        { input_tokens: 100, output_tokens: 10 },
      ),
    };
    server = await llmServer([bad, bad, bad]);
    const err = await rejectionOf(review({ claude: claude() }, {}, deps()));
    expect(err).toMatchObject({ type: "PeerReviewOutputError", nonRetryable: true });
    expect(err.message).toContain('peer reviewer "claude" of card API-001 gave no valid answer');
    expect(server.requests).toHaveLength(3);
    expect(err.details[0].cost).toMatchObject({ inputTokens: 300, outputTokens: 30 });
  });
});
