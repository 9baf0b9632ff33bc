/**
 * CLI peer reviewers (issue 12, "Codex reviews Claude's diff"): the real Claude Code, Codex and Gemini CLIs
 * review an attempt's git diff through the peer-review activity (`reviewPeers`, the one the workflow calls),
 * read-only, each answering through its stub model: the verdict and comments come from the final message,
 * the cost from the stream's usage; a final message that is no JSON answer and a write the read-only
 * settings refuse are typed failures naming the reviewer.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { createReviewPeers } from "../../src/activities/peer-review.js";
import { AgentSchema } from "../../src/domain/squad.js";
import { card, rejectionOf } from "../activities/helpers.js";
import { contract, PRICING, usdOf, type Contract, type ContractKind } from "./harness.js";

let c: Contract | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

const KINDS: ContractKind[] = ["claude-code", "codex", "gemini"];
const SPEC = "# Checkout spec\n";
const CHANGE = "Rollback plan: revert the release.";
const USAGE = { input: 3_000, output: 120, cacheRead: 1_000 };
const answer = (verdict: string, comments: string[]) => ({
  kind: "answer" as const,
  text: JSON.stringify({ verdict, comments }),
  usage: USAGE,
});

/** The attempt: a git repository in the contract's workspace whose head commit adds the rollback plan. */
async function attemptWithDiff(c: Contract): Promise<{ branch: string; baseCommit: string; headCommit: string }> {
  const git = async (...args: string[]) =>
    (
      await promisify(execFile)("git", ["-c", "user.name=t", "-c", "user.email=t@x", ...args], { cwd: c.workspace })
    ).stdout.trim();
  await c.sb.writeIn("shop/SPEC-001/attempt-1", "docs/spec.md", SPEC);
  await git("init", "-q", "-b", "main");
  await git("add", "-A");
  await git("commit", "-qm", "base");
  const baseCommit = await git("rev-parse", "HEAD");
  await c.sb.writeIn("shop/SPEC-001/attempt-1", "docs/spec.md", `${SPEC}\n${CHANGE}\n`);
  await git("commit", "-qam", "head");
  return { branch: "main", baseCommit, headCommit: await git("rev-parse", "HEAD") };
}

function review(c: Contract, git: { branch: string; baseCommit: string; headCommit: string }) {
  return createReviewPeers(c.sb.deps)({
    card: card({ id: "SPEC-001", dependencies: [] }),
    workspace: "shop/SPEC-001/attempt-1",
    git,
    artifacts: ["docs/spec.md"],
    reviewers: [{ name: "rev", agent: AgentSchema.parse(c.agent) }],
    moment: "always",
    pricing: PRICING,
  });
}

/** The attempt workspace's folder holds only the attempt (each review's copy is removed), and the spec is unchanged. */
async function expectAttemptUntouched(c: Contract): Promise<void> {
  expect(await readdir(dirname(c.workspace))).toEqual(["attempt-1"]);
  expect(await readFile(join(c.workspace, "docs/spec.md"), "utf8")).toBe(`${SPEC}\n${CHANGE}\n`);
  expect(existsSync(join(c.workspace, "docs/hack.md"))).toBe(false);
}

describe.each(KINDS)("%s as a peer reviewer", (kind) => {
  const usd = usdOf(kind);
  // Anthropic reports cache reads apart from input; OpenAI and Gemini include them in input.
  const cost =
    kind === "claude-code"
      ? { inputTokens: 3_000, cacheReadTokens: 1_000, outputTokens: 120, usd: usd(3_000, 1_000, 120) }
      : { inputTokens: 2_000, cacheReadTokens: 1_000, outputTokens: 120, usd: usd(2_000, 1_000, 120) };

  it("answers approve, concern and blocker from its final message, costed from its usage, with the diff in its prompt", async () => {
    c = await contract(kind, [
      answer("approve", ["The rollback plan is clear."]),
      answer("concern", ["docs/spec.md: name who runs the rollback."]),
      answer("blocker", ["docs/spec.md: the rollback has no trigger."]),
    ]);
    const git = await attemptWithDiff(c);

    const approve = await review(c, git);
    expect(approve).toMatchObject({
      validator: "peer_review",
      passed: true,
      reviews: [
        {
          reviewer: "rev",
          verdict: "approve",
          comments: ["The rollback plan is clear."],
          cost: expect.objectContaining(cost),
        },
      ],
    });
    expect(approve.cost).toMatchObject(cost);
    const prompt = JSON.stringify(c.stub.turns()[0]!.body);
    expect(prompt).toContain(`+${CHANGE}`);
    expect(prompt).toContain(`git diff ${git.baseCommit.slice(0, 12)}..${git.headCommit.slice(0, 12)}`);
    expect(prompt).toContain('{\\"verdict\\": \\"approve\\" | \\"concern\\" | \\"blocker\\"');

    const concern = await review(c, git);
    expect(concern).toMatchObject({
      passed: true,
      reviews: [{ verdict: "concern", comments: ["docs/spec.md: name who runs the rollback."] }],
    });

    const blocker = await review(c, git);
    expect(blocker).toMatchObject({
      passed: false,
      reviews: [{ verdict: "blocker", comments: ["docs/spec.md: the rollback has no trigger."] }],
    });
    expect(blocker.reasons).toEqual(['reviewer "rev" found a blocker: docs/spec.md: the rollback has no trigger.']);
    expect(c.stub.turns()).toHaveLength(3);
    await expectAttemptUntouched(c);
  });

  it("fails a final message that is not a JSON answer with a non-retryable PeerReviewOutputError naming the reviewer, with its cost", async () => {
    c = await contract(kind, [{ kind: "answer", text: "Looks good to me, ship it.", usage: USAGE }]);
    const err = await rejectionOf(review(c, await attemptWithDiff(c)));
    expect(err).toMatchObject({ type: "PeerReviewOutputError", nonRetryable: true });
    expect(err.message).toContain(
      'peer reviewer "rev" of card SPEC-001 did not end with one JSON object as its final message',
    );
    expect(err.message).toContain("Looks good to me, ship it.");
    expect(err.details[0].cost).toMatchObject(cost);
    await expectAttemptUntouched(c);
  });

  it("cannot write: a write tool call is refused, a non-retryable AgentPermissionError naming the reviewer, and no file is written", async () => {
    // Claude Code's Write wants an absolute path, which the stub makes below the attempt workspace: aim it at
    // the reviewer's own folder (its working directory, which acceptEdits would let it write).
    const path = kind === "claude-code" ? "../attempt-1.review-rev/docs/hack.md" : "docs/hack.md";
    c = await contract(kind, [
      { kind: "write", path, content: "written by a reviewer\n", usage: USAGE },
      answer("approve", ["fine"]),
    ]);
    const err = await rejectionOf(review(c, await attemptWithDiff(c)));
    expect(err).toMatchObject({ type: "AgentPermissionError", nonRetryable: true });
    expect(err.message).toContain('peer reviewer "rev" of card SPEC-001');
    expect(err.message).toContain({ "claude-code": "Write", codex: "apply_patch", gemini: "write_file" }[kind]);
    await expectAttemptUntouched(c);
  });
});
