/**
 * Attempt worktrees (issue 9): `<worktreesRoot>/<backlogId>/<cardId>/attempt-<n>` on the attempt branch
 * `squadflow-attempts/<backlogId>/<cardId>/attempt-<n>`. Preparing one is idempotent — whatever a killed worker left
 * at that path is removed and the worktree made again from the same start — and removing one is too.
 */
import { mkdir, rm } from "node:fs/promises";
import { withRepositoryLock } from "./lock.js";
import { dirname, resolve } from "node:path";
import type { AttemptGit } from "../../domain/repository.js";
import { repositoryError } from "../errors.js";
import { isInside } from "../workspace.js";
import { commitOf, git, GitError } from "./git.js";

/** One entry of `git worktree list --porcelain`. */
export interface WorktreeEntry {
  /** Absolute path of the worktree. */
  path: string;
  /** HEAD commit (absent for a bare main entry). */
  head?: string;
  /** `refs/heads/…` checked out there, absent when detached (or bare). */
  branch?: string;
  bare: boolean;
  /** Listed, but its directory is gone (`prunable`). */
  prunable: boolean;
}

/** The worktrees of a repository, the main one first (`git worktree list --porcelain`). @throws GitError */
export async function listWorktrees(repoDir: string): Promise<WorktreeEntry[]> {
  const out = (await git(repoDir, ["worktree", "list", "--porcelain"])).stdout;
  const entries: WorktreeEntry[] = [];
  for (const block of out.split(/\n\n+/)) {
    let entry: WorktreeEntry | undefined;
    for (const line of block.split("\n")) {
      if (line.startsWith("worktree ")) entry = { path: line.slice("worktree ".length), bare: false, prunable: false };
      else if (!entry) continue;
      else if (line.startsWith("HEAD ")) entry.head = line.slice(5);
      else if (line.startsWith("branch ")) entry.branch = line.slice(7);
      else if (line === "bare") entry.bare = true;
      else if (line.startsWith("prunable")) entry.prunable = true;
    }
    if (entry) entries.push(entry);
  }
  return entries;
}

/**
 * Removes the worktree at `dir` (registered or not: a directory a killed worker left half-made goes too)
 * and prunes the repository's stale worktree entries. Idempotent: nothing there is fine.
 *
 * @returns true when something was removed (a registered worktree or a directory)
 * @throws GitError when `git worktree prune` fails
 */
export function removeWorktreeDir(repoDir: string, dir: string): Promise<boolean> {
  return withRepositoryLock(repoDir, () => removeWorktreeDirHeld(repoDir, dir));
}

/** `removeWorktreeDir` for a caller that already holds the repository's lock (lock.ts). */
export async function removeWorktreeDirHeld(repoDir: string, dir: string): Promise<boolean> {
  const abs = resolve(dir);
  const worktrees = await listWorktrees(repoDir);
  if (worktrees[0] && isInside(abs, resolve(worktrees[0].path))) {
    throw repositoryError(`refusing to remove ${abs}: it holds the repository's main worktree ${worktrees[0].path}`);
  }
  const listed = worktrees.some((w) => resolve(w.path) === abs);
  let removed = false;
  if (listed) {
    // --force twice: also when the worktree is dirty or locked (a killed worker's leftovers are both).
    const r = await git(repoDir, ["worktree", "remove", "--force", "--force", abs], { okExitCodes: [128] });
    removed = r.exitCode === 0;
  }
  const existed = await rm(abs, { recursive: true, force: false }).then(
    () => true,
    () => false,
  );
  await git(repoDir, ["worktree", "prune"]);
  return removed || existed;
}

/** What preparing an attempt worktree made. */
export interface PreparedWorktree {
  /** The commit the attempt's changes are measured against (`AttemptGit.baseCommit`). */
  baseCommit: string;
  /** The commit the worktree's HEAD started at (= baseCommit, or the previous head when a rebase failed). */
  startCommit: string;
  /** Set when a correction's rebase onto the integration tip conflicted and was given up (for the log). */
  rebaseConflict?: string;
}

/** Options of `prepareAttemptWorktree`. */
export interface PrepareWorktreeOptions {
  repoDir: string;
  /** Absolute worktree directory. */
  dir: string;
  /** The attempt branch (`attemptBranchName`). */
  branch: string;
  /** The integration branch's tip now. */
  integrationTip: string;
  /** A correction: the previous attempt, whose branch head is continued (rebased on `integrationTip`). */
  previous?: AttemptGit;
}

/**
 * Makes the attempt worktree afresh: removes whatever is at `dir` (and any other worktree on the attempt
 * branch), then `git worktree add -B <branch> <dir> <start>`. A fresh attempt starts at the integration
 * tip. A correction starts at the previous attempt's head rebased onto the tip (`git rebase --onto <tip>
 * <previous base>`), so the owner fixes its own work on top of everything merged since; when that rebase
 * conflicts it is aborted and the integration tip is merged into the previous head instead, the conflicts
 * left in the files for the owner to resolve (the correction's feedback names them); the change is then
 * measured against the tip, and squadflow's commit after the owner concludes that merge.
 *
 * @throws ApplicationFailure `RepositoryError` when the previous head commit does not exist;
 *   GitError on git failures.
 */
export function prepareAttemptWorktree(opts: PrepareWorktreeOptions): Promise<PreparedWorktree> {
  return withRepositoryLock(opts.repoDir, () => prepareHeld(opts));
}

async function prepareHeld(opts: PrepareWorktreeOptions): Promise<PreparedWorktree> {
  const { repoDir, dir, branch, integrationTip, previous } = opts;
  await removeWorktreeDirHeld(repoDir, dir);
  for (const w of (await listWorktrees(repoDir)).slice(1)) {
    // The branch checked out in another linked worktree (a worktrees root that moved) would make `-B` refuse.
    if (w.branch === `refs/heads/${branch}`) await removeWorktreeDirHeld(repoDir, w.path);
  }
  await mkdir(dirname(dir), { recursive: true });
  if (previous === undefined) {
    await git(repoDir, ["worktree", "add", "--quiet", "-B", branch, dir, integrationTip], { identity: true });
    return { baseCommit: integrationTip, startCommit: integrationTip };
  }
  const head = await commitOf(repoDir, previous.headCommit);
  if (!head)
    throw repositoryError(
      `the previous attempt's head ${previous.headCommit} (${previous.branch}) does not exist in ${repoDir}`,
    );
  await git(repoDir, ["worktree", "add", "--quiet", "-B", branch, dir, head], { identity: true });
  if (previous.baseCommit === integrationTip) return { baseCommit: integrationTip, startCommit: head };
  try {
    await git(dir, ["rebase", "--quiet", "--no-verify", "--onto", integrationTip, previous.baseCommit], {
      identity: true,
    });
    return { baseCommit: integrationTip, startCommit: integrationTip };
  } catch (err) {
    if (!(err instanceof GitError)) throw err;
    await git(dir, ["rebase", "--abort"], { okExitCodes: [128] });
    await git(dir, ["reset", "--quiet", "--hard", head]);
    // The owner resolves it: the tip is merged into the previous head and the conflicts are left in the
    // files (markers), so the correction can keep both sides; squadflow's commit concludes the merge.
    const merged = await git(dir, ["merge", "--no-ff", "--no-commit", "--no-verify", integrationTip], {
      identity: true,
      okExitCodes: [1],
    });
    const conflict = `rebasing ${previous.branch} onto the integration tip ${integrationTip.slice(0, 12)} conflicted; the tip is merged into ${head.slice(0, 12)}${merged.exitCode === 1 ? " with conflicts left for the owner to resolve" : ""}: ${err.stderr.split("\n").slice(0, 5).join(" ")}`;
    return { baseCommit: integrationTip, startCommit: head, rebaseConflict: conflict };
  }
}
