/**
 * What an attempt changed (issue 9): squadflow commits what the owner left uncommitted, and the attempt's
 * artifacts are the files of `git diff --name-status <base>..<head>` — so verification, the rubric and the
 * LLM-judge see the change, not the whole project.
 */
import { IGNORED_DIRS } from "../agents/files.js";
import { commitOf, git, gitOut } from "./git.js";

/**
 * Pathspecs squadflow's own `git add -A` leaves out even when the project does not ignore them: installed
 * dependencies, virtualenvs, caches and the agent CLIs' state directories (agents/files.ts `IGNORED_DIRS`,
 * without `.git`). Tracked files there are left out of squadflow's commit too; an owner that means to
 * change them commits them itself.
 */
export const UNSTAGED_PATHSPECS: readonly string[] = [...IGNORED_DIRS]
  .filter((d) => d !== ".git")
  .flatMap((d) => [`:(exclude,glob)${d}/**`, `:(exclude,glob)**/${d}/**`]);

/** Stages everything in the worktree (`git add -A`) but `UNSTAGED_PATHSPECS`. @throws GitError */
export async function stageAll(dir: string): Promise<void> {
  await git(dir, ["add", "-A", "--", ".", ...UNSTAGED_PATHSPECS]);
}

/** Paths (worktree-relative) staged or committed since `base`, that exist now (`git diff --cached --name-only --diff-filter=d`). */
export async function stagedSince(dir: string, base: string): Promise<string[]> {
  const out = (await git(dir, ["diff", "--cached", "--name-only", "--no-renames", "--diff-filter=d", "-z", base]))
    .stdout;
  return out.split("\0").filter(Boolean);
}

/**
 * Commits the staged changes, if any, as squadflow (`SQUADFLOW_IDENTITY`, no hooks), and makes sure the
 * attempt branch points at the worktree's HEAD (an owner may have left HEAD detached or on a branch of its
 * own; the attempt branch is what gets merged).
 *
 * @returns the head commit (40-hex)
 * @throws GitError
 */
export async function commitStaged(dir: string, branch: string, message: string): Promise<string> {
  const staged = await git(dir, ["diff", "--cached", "--quiet"], { okExitCodes: [1] });
  // A merge of the integration tip left for the owner (worktree.ts) is concluded even if it changed nothing.
  const merging = (await git(dir, ["rev-parse", "-q", "--verify", "MERGE_HEAD"], { okExitCodes: [1] })).exitCode === 0;
  if (staged.exitCode === 1 || merging)
    await git(dir, ["commit", "--quiet", "--no-verify", "-F", "-"], { identity: true, input: message });
  const head = await gitOut(dir, ["rev-parse", "HEAD"]);
  if ((await commitOf(dir, `refs/heads/${branch}`)) !== head) {
    await git(dir, [
      "update-ref",
      "-m",
      "squadflow: the attempt branch follows its worktree",
      `refs/heads/${branch}`,
      head,
    ]);
  }
  return head;
}

/** The files a change touched: what is there afterwards (artifacts) and what it deleted. */
export interface ChangedFiles {
  /** Added, modified, type-changed, renamed (new path) or copied paths, repository-relative, in git's order. */
  artifacts: string[];
  /** Deleted paths (and the old path of a rename). */
  deleted: string[];
}

/**
 * The files changed between two commits, from `git diff --name-status -z -M <base> <head>`: A/M/T lines and
 * the new path of R/C lines are artifacts; D lines and the old path of R lines are deletions.
 * @throws GitError
 */
export async function changedFiles(dir: string, base: string, head: string): Promise<ChangedFiles> {
  const fields = (await git(dir, ["diff", "--name-status", "-z", "-M", "--no-ext-diff", base, head])).stdout.split(
    "\0",
  );
  const artifacts: string[] = [];
  const deleted: string[] = [];
  for (let i = 0; i < fields.length;) {
    const status = fields[i++] ?? "";
    if (status === "") continue;
    const kind = status[0];
    if (kind === "R" || kind === "C") {
      const from = fields[i++] ?? "";
      const to = fields[i++] ?? "";
      if (kind === "R") deleted.push(from);
      artifacts.push(to);
    } else {
      const path = fields[i++] ?? "";
      if (kind === "D") deleted.push(path);
      else if (kind === "A" || kind === "M" || kind === "T") artifacts.push(path);
    }
  }
  return { artifacts, deleted };
}
