/**
 * The repository activities around the attempts (issue 9): removing a worktree, cleaning up at the
 * backlog's end, pushing the integration branch, cloning a URL target once, the diff for the CLI.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createRunOwner } from "../../../src/activities/owner.js";
import { attemptDiff, createRepositoryActivities } from "../../../src/activities/repository/index.js";
import { git } from "../../../src/activities/repository/git.js";
import { repositoryDir } from "../../../src/activities/repository/repo.js";
import { gitSandbox, mergeInput, ownerInput, planCard, sh, worktreeOf, type GitSandbox } from "./helpers.js";

let sb: GitSandbox;
beforeEach(async () => {
  sb = await gitSandbox();
});
afterEach(async () => {
  await sb.cleanup();
});

const gone = async (p: string): Promise<boolean> => (await stat(p).catch(() => undefined)) === undefined;

describe("removeWorktree", () => {
  it("removes an attempt worktree, keeps its branch, and is fine when called again", async () => {
    const r = await createRunOwner(sb.deps)(ownerInput(sb, planCard("BE-001", { write: { "a.txt": "a\n" } })));
    const { removeWorktree } = createRepositoryActivities(sb.deps);
    const input = { repository: sb.target, backlogId: "shop", workspace: "shop/BE-001/attempt-1" };
    expect(await removeWorktree(input)).toEqual({ removed: true });
    expect(await gone(worktreeOf(sb, "BE-001"))).toBe(true);
    expect(await removeWorktree(input)).toEqual({ removed: false });
    expect(await sh(sb.repo, "worktree", "list", "--porcelain")).not.toContain("attempt-1");
    expect(await sh(sb.repo, "rev-parse", r.git!.branch)).toBe(r.git!.headCommit);
  });

  it("refuses a workspace path that leaves the worktrees root", async () => {
    const { removeWorktree } = createRepositoryActivities(sb.deps);
    const err = await removeWorktree({ repository: sb.target, backlogId: "shop", workspace: "../repo" }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ type: "WorkspaceError" });
    expect(await sh(sb.repo, "rev-parse", "HEAD")).toMatch(/^[0-9a-f]{40}$/);
  });
});

describe("finishRepository", () => {
  it("removes every worktree of the backlog and deletes its attempt branches, leaving the integration branch", async () => {
    const runOwner = createRunOwner(sb.deps);
    const { mergeAttempt, finishRepository } = createRepositoryActivities(sb.deps);
    const a = planCard("BE-001", { write: { "a.txt": "a\n" } });
    const ra = await runOwner(ownerInput(sb, a));
    await runOwner(ownerInput(sb, planCard("BE-002", { write: { "b.txt": "b\n" } })));
    const merged = await mergeAttempt(mergeInput(sb, a, 1, ra.git!));
    const done = await finishRepository({ repository: sb.target, backlogId: "shop" });
    expect(done.worktrees.sort()).toEqual([worktreeOf(sb, "BE-001"), worktreeOf(sb, "BE-002")]);
    expect(done.branches.sort()).toEqual([
      "squadflow-attempts/shop/BE-001/attempt-1",
      "squadflow-attempts/shop/BE-002/attempt-1",
    ]);
    expect((await sh(sb.repo, "worktree", "list", "--porcelain")).match(/^worktree /gm)).toHaveLength(1);
    expect(await sh(sb.repo, "branch", "--list", "--format=%(refname:short)")).toBe("main\nsquadflow/shop");
    expect(await sh(sb.repo, "rev-parse", "squadflow/shop")).toBe(merged.status === "merged" ? merged.commit : "");
    expect(await finishRepository({ repository: sb.target, backlogId: "shop" })).toEqual({
      worktrees: [],
      branches: [],
      snapshots: [],
    });
  });

  it("deletes the backlog's snapshot refs (the work peer reviews saw at events), not another backlog's", async () => {
    const ra = await createRunOwner(sb.deps)(ownerInput(sb, planCard("BE-001", { write: { "a.txt": "a\n" } })));
    const ours = "refs/squadflow/snapshots/shop/BE-001/attempt-1/1";
    const theirs = "refs/squadflow/snapshots/shop-2/BE-001/attempt-1/1";
    await sh(sb.repo, "update-ref", ours, ra.git!.headCommit);
    await sh(sb.repo, "update-ref", theirs, ra.git!.headCommit);
    const { finishRepository } = createRepositoryActivities(sb.deps);
    const done = await finishRepository({ repository: sb.target, backlogId: "shop" });
    expect(done.snapshots).toEqual([ours]);
    expect(await sh(sb.repo, "for-each-ref", "--format=%(refname)", "refs/squadflow/")).toBe(theirs);
  });

  it("keeps the attempt branches with keepBranches", async () => {
    await createRunOwner(sb.deps)(ownerInput(sb, planCard("BE-001", { write: { "a.txt": "a\n" } })));
    const { finishRepository } = createRepositoryActivities(sb.deps);
    const done = await finishRepository({ repository: { ...sb.target, keepBranches: true }, backlogId: "shop" });
    expect(done).toEqual({ worktrees: [worktreeOf(sb, "BE-001")], branches: [], snapshots: [] });
    expect(await sh(sb.repo, "branch", "--list", "squadflow-attempts/*", "--format=%(refname:short)")).toBe(
      "squadflow-attempts/shop/BE-001/attempt-1",
    );
  });
});

describe("pushIntegrationBranch", () => {
  async function mergedOne(): Promise<string> {
    const a = planCard("BE-001", { write: { "a.txt": "a\n" } });
    const ra = await createRunOwner(sb.deps)(ownerInput(sb, a));
    const m = await createRepositoryActivities(sb.deps).mergeAttempt(mergeInput(sb, a, 1, ra.git!));
    return m.status === "merged" ? m.commit : "";
  }

  it("pushes the integration branch to a bare repository, under another name when asked", async () => {
    const bare = join(sb.dir, "backup.git");
    await git(sb.dir, ["init", "--quiet", "--bare", bare]);
    await sh(sb.repo, "remote", "add", "backup", bare);
    const commit = await mergedOne();
    const { pushIntegrationBranch } = createRepositoryActivities(sb.deps);
    const target = { ...sb.target, push: { remote: "backup", branch: "review/shop" } };
    expect(await pushIntegrationBranch({ repository: target, backlogId: "shop" })).toEqual({
      remote: "backup",
      branch: "review/shop",
      commit,
    });
    expect(await sh(bare, "rev-parse", "review/shop")).toBe(commit);
  });

  it("reports a refused (non-fast-forward) push as a retryable PushRefusedError with git's message", async () => {
    const bare = join(sb.dir, "backup.git");
    await git(sb.dir, ["clone", "--quiet", "--bare", sb.repo, bare]);
    // The remote's squadflow/shop has a commit ours does not.
    await sh(
      bare,
      "update-ref",
      "refs/heads/squadflow/shop",
      await sh(bare, "commit-tree", "HEAD^{tree}", "-m", "elsewhere"),
    );
    await sh(sb.repo, "remote", "add", "backup", bare);
    await mergedOne();
    const { pushIntegrationBranch } = createRepositoryActivities(sb.deps);
    const err = await pushIntegrationBranch({
      repository: { ...sb.target, push: { remote: "backup" } },
      backlogId: "shop",
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ type: "PushRefusedError", nonRetryable: false });
    expect((err as Error).message).toMatch(
      /push of squadflow\/shop to backup as squadflow\/shop was refused: .*(rejected|non-fast-forward)/s,
    );
  });
});

describe("a URL target", () => {
  it("is cloned once into <reposRoot>/<backlogId>, also when two activities need it at once, and works like a path", async () => {
    const bare = join(sb.dir, "origin.git");
    await git(sb.dir, ["clone", "--quiet", "--bare", sb.repo, bare]);
    const target = {
      url: pathToFileURL(bare).href,
      baseBranch: "main",
      integrationBranch: "squadflow/shop",
      push: { remote: "origin" },
    };
    const dirs = await Promise.all([repositoryDir(sb.deps, target, "shop"), repositoryDir(sb.deps, target, "shop")]);
    const clone = join(sb.deps.reposRoot!, "shop");
    expect(dirs).toEqual([clone, clone]);
    // The loser's temporary clone is gone: only the clone itself is left.
    expect(await readdir(sb.deps.reposRoot!)).toEqual(["shop"]);
    const a = planCard("BE-001", { write: { "a.txt": "a\n" } });
    const ra = await createRunOwner(sb.deps)(ownerInput(sb, a, 1, { repository: target }));
    expect(await readFile(join(worktreeOf(sb, "BE-001"), "README.md"), "utf8")).toBe("# Project\n");
    const acts = createRepositoryActivities(sb.deps);
    const m = await acts.mergeAttempt(mergeInput(sb, a, 1, ra.git!, { repository: target }));
    const pushed = await acts.pushIntegrationBranch({ repository: target, backlogId: "shop" });
    expect(pushed.commit).toBe(m.status === "merged" ? m.commit : "");
    expect(await sh(bare, "rev-parse", "squadflow/shop")).toBe(pushed.commit);
  });
});

describe("attemptDiff", () => {
  it("is the attempt's git diff base..head", async () => {
    const r = await createRunOwner(sb.deps)(ownerInput(sb, planCard("BE-001", { write: { "a.txt": "hello\n" } })));
    const diff = await attemptDiff(sb.repo, r.git!);
    expect(diff).toContain("diff --git a/a.txt b/a.txt");
    expect(diff).toContain("+hello");
  });
});
