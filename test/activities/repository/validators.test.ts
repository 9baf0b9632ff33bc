/**
 * The validators in an attempt worktree (issue 9): verification's path-escape checks for worktrees
 * (symlinks out of the repository, `.git` internals never an artifact), QA and the rubric judge running in
 * the worktree on the changed files, and the `llm` judge getting the attempt's diff.
 */
import { symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createJudgeArtifacts } from "../../../src/activities/judge.js";
import { createRunOwner } from "../../../src/activities/owner.js";
import { createRunQa } from "../../../src/activities/qa.js";
import { createVerifyArtifacts } from "../../../src/activities/verification.js";
import { boundedAttemptDiff } from "../../../src/activities/repository/diff.js";
import type { OwnerResult } from "../../../src/domain/attempt.js";
import { LlmJudgeSchema, RubricJudgeSchema, VerificationSchema } from "../../../src/domain/squad.js";
import { anthropicToolUse, llmServer } from "../agents/helpers.js";
import { gitSandbox, ownerInput, planCard, sh, worktreeOf, type GitSandbox } from "./helpers.js";

let sb: GitSandbox;
let server: Awaited<ReturnType<typeof llmServer>> | undefined;
beforeEach(async () => {
  sb = await gitSandbox({ "README.md": "# Shop\n", "src/old.ts": "export const old = 1;\n" });
  await writeFile(join(sb.dir, "outside-secret.txt"), "not yours\n");
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  await sb.cleanup();
});

const WS = "shop/BE-001/attempt-1";

async function owned(write: Record<string, string>): Promise<OwnerResult> {
  return createRunOwner(sb.deps)(ownerInput(sb, planCard("BE-001", { write })));
}

describe("verification in a worktree", () => {
  it("looks for red flags only in the lines the attempt added: the project's own TODO in an edited file is not the card's", async () => {
    await writeFile(join(sb.repo, "src/old.ts"), "export const old = 1; // TODO: rename\n");
    await sh(sb.repo, "commit", "-qam", "a TODO of the project");
    const clean = await owned({ "src/old.ts": "export const old = 1; // TODO: rename\nexport const fresh = 2;\n" });
    const verify = createVerifyArtifacts(sb.deps);
    const config = VerificationSchema.parse({});
    expect(
      await verify({ workspace: WS, workspaceRoot: "worktrees", git: clean.git!, artifacts: clean.artifacts, config }),
    ).toMatchObject({ passed: true });
    // Without the attempt's commits the whole file is scanned (the isolated-workspace rule).
    expect(
      (await verify({ workspace: WS, workspaceRoot: "worktrees", artifacts: clean.artifacts, config })).reasons,
    ).toEqual(['artifact "src/old.ts" contains red flag "TODO"']);
    const flagged = await createRunOwner(sb.deps)(
      ownerInput(
        sb,
        planCard("BE-001", {
          write: { "src/old.ts": "export const old = 1; // TODO: rename\n// FIXME later\n<<<<<<< ours\n" },
        }),
        2,
      ),
    );
    const v = await verify({
      workspace: "shop/BE-001/attempt-2",
      workspaceRoot: "worktrees",
      git: flagged.git!,
      artifacts: flagged.artifacts,
      config,
    });
    expect(v.reasons).toEqual([
      'artifact "src/old.ts" contains red flag "FIXME"',
      'artifact "src/old.ts" contains red flag "merge conflict marker"',
    ]);
  });

  it("passes the changed files of the attempt", async () => {
    const r = await owned({ "src/discount.ts": "export const rate = 0.1;\n" });
    const v = await createVerifyArtifacts(sb.deps)({
      workspace: WS,
      workspaceRoot: "worktrees",
      artifacts: r.artifacts,
      config: VerificationSchema.parse({}),
    });
    expect(v).toMatchObject({ passed: true, reasons: [] });
  });

  it("refuses a symlink that resolves outside the repository", async () => {
    await owned({ "src/discount.ts": "x\n" });
    const wt = worktreeOf(sb, "BE-001");
    await symlink(join(sb.dir, "outside-secret.txt"), join(wt, "leak.txt"));
    await symlink(join(sb.repo, "README.md"), join(wt, "main-readme.md")); // the main worktree is outside this one too
    const v = await createVerifyArtifacts(sb.deps)({
      workspace: WS,
      workspaceRoot: "worktrees",
      artifacts: ["leak.txt", "main-readme.md"],
      config: VerificationSchema.parse({}),
    });
    expect(v.passed).toBe(false);
    expect(v.reasons).toEqual([
      'artifact "leak.txt" resolves outside the workspace',
      'artifact "main-readme.md" resolves outside the workspace',
    ]);
  });

  it("never counts .git or anything under it as an artifact, also through a symlink", async () => {
    await owned({ "src/discount.ts": "x\n" });
    const wt = worktreeOf(sb, "BE-001");
    await symlink(".git", join(wt, "gitlink"));
    const v = await createVerifyArtifacts(sb.deps)({
      workspace: WS,
      workspaceRoot: "worktrees",
      artifacts: [".git", ".git/config", "src/../.git", "sub/.GIT/HEAD", "gitlink", "src/discount.ts"],
      config: VerificationSchema.parse({}),
    });
    expect(v.reasons).toEqual([
      'artifact ".git" is git\'s own data (.git), never an artifact',
      'artifact ".git/config" is git\'s own data (.git), never an artifact',
      'artifact "src/../.git" leaves the workspace (".." segment)',
      'artifact "sub/.GIT/HEAD" is git\'s own data (.git), never an artifact',
      'artifact "gitlink" is git\'s own data (.git), never an artifact',
    ]);
  });

  it("resolves a worktree workspace against the worktrees root, not the workspaces root", async () => {
    const v = await createVerifyArtifacts(sb.deps)({
      workspace: WS,
      workspaceRoot: "worktrees",
      artifacts: ["a"],
      config: VerificationSchema.parse({}),
    }).catch((e: unknown) => e);
    expect(v).toMatchObject({ type: "WorkspaceNotFoundError" });
    expect((v as Error).message).toContain(sb.deps.worktreesRoot!);
  });
});

describe("QA and the judges in a worktree", () => {
  it("runs QA checks with the worktree as working directory, where the whole project is", async () => {
    await owned({ "src/discount.ts": "export const rate = 0.1;\n" });
    const check = {
      name: "project files",
      command: process.execPath,
      args: ["-e", "require('fs').accessSync('src/old.ts'); require('fs').accessSync('src/discount.ts')"],
      timeout_ms: 30_000,
    };
    const v = await createRunQa(sb.deps)({ workspace: WS, workspaceRoot: "worktrees", checks: [check] });
    expect(v).toMatchObject({ passed: true });
  });

  it("lets the rubric judge see the changed files as the artifacts", async () => {
    const r = await owned({ "docs/design.md": "# Design\n\n## Rollback\n\nRevert the merge.\n" });
    const config = RubricJudgeSchema.parse({
      kind: "rubric",
      criteria: [
        { name: "Rollback", check: { type: "section", heading: "Rollback" } },
        { name: "Old code", check: { type: "contains", text: "old = 1" } },
      ],
    });
    const v = await createJudgeArtifacts(sb.deps)({
      card: planCard("BE-001", {}),
      workspace: WS,
      workspaceRoot: "worktrees",
      git: r.git!,
      artifacts: r.artifacts,
      config,
    });
    // The untouched src/old.ts is not an artifact of this attempt.
    expect(v.passed).toBe(false);
    expect(v.score).toBe(5);
    expect(v.reasons).toEqual([expect.stringMatching(/^criterion "Old code" not met/)]);
  });

  it("gives the llm judge the diff of the attempt", async () => {
    const r = await owned({ "src/discount.ts": "export const rate = 0.1;\n" });
    server = await llmServer([
      {
        body: anthropicToolUse("judge_verdict", {
          score: 9,
          pass: true,
          reasons: [],
          feedback: [{ criterion: "Correct", met: true, comment: "fine" }],
        }),
      },
    ]);
    const config = LlmJudgeSchema.parse({
      kind: "llm",
      provider: "anthropic",
      model: "claude-opus-4-7",
      base_url: server.url,
      criteria: [{ name: "Correct", description: "It is correct." }],
      max_retries: 0,
    });
    const deps = { ...sb.deps, workerEnv: { PATH: process.env.PATH, ANTHROPIC_API_KEY: "fake-judge-key-12345678" } };
    const v = await createJudgeArtifacts(deps)({
      card: planCard("BE-001", {}),
      workspace: WS,
      workspaceRoot: "worktrees",
      git: r.git!,
      artifacts: r.artifacts,
      config,
    });
    expect(v.passed).toBe(true);
    const prompt: string = server.requests[0]!.body.messages[0].content;
    expect(prompt).toContain(
      `## Diff of the attempt (git diff ${r.git!.baseCommit.slice(0, 12)}..${r.git!.headCommit.slice(0, 12)})`,
    );
    expect(prompt).toContain("+++ b/src/discount.ts");
    expect(prompt).toContain("+export const rate = 0.1;");
  });

  it("cuts a diff longer than the bound at a line end, with a note", async () => {
    const r = await owned({ "big.txt": "x".repeat(50) + "\n" + "y".repeat(5000) + "\n" });
    const { text, cut } = await boundedAttemptDiff(worktreeOf(sb, "BE-001"), r.git!, 400);
    expect(cut).toBe(true);
    expect(text).toMatch(/\n\[diff cut: \d+ of \d+ characters left out\]\n$/);
    expect(text.length).toBeLessThan(500);
    expect(text).not.toContain("yyy");
  });
});
