/**
 * The repository of a backlog's target (issue 9): a local path is used as it is; a clone URL is cloned
 * once into `<reposRoot>/<backlogId>` (bare: the clone is only a store of branches to make worktrees from
 * and to merge in). And the integration branch `squadflow/<backlogId>`, created from the base branch when
 * missing and never reset.
 */
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { RepositoryTarget } from "../../domain/repository.js";
import { reposRootOf, type ActivityDeps, type ActivityHooks } from "../context.js";
import { repositoryError } from "../errors.js";
import { commitOf, git, GitError, NETWORK_GIT_TIMEOUT_MS, ZERO_OID } from "./git.js";

/** True when `dir` is a git repository (a work tree or a bare one). */
export async function isRepository(dir: string): Promise<boolean> {
  if (!(await stat(dir).catch(() => undefined))?.isDirectory()) return false;
  const r = await git(dir, ["rev-parse", "--git-dir"], { okExitCodes: [128] }).catch(() => undefined);
  return r?.exitCode === 0;
}

/**
 * The directory of the backlog's repository on this worker: `target.path`, or the clone of `target.url`
 * at `<reposRoot>/<backlogId>`, made on first use. Two activities cloning at once both succeed: each clones
 * into its own temporary directory and renames it into place; the loser drops its copy and uses the
 * winner's.
 *
 * @returns the absolute repository directory
 * @throws ApplicationFailure `RepositoryError` when the path is not a git repository or the target has
 *   neither path nor URL; `GitError` (thrown by git, retryable) when the clone fails.
 */
export async function repositoryDir(
  deps: Pick<ActivityDeps, "reposRoot" | "baseDir" | "workerEnv">,
  target: RepositoryTarget,
  backlogId: string,
): Promise<string> {
  if (target.path !== undefined) {
    if (!(await isRepository(target.path))) {
      throw repositoryError(
        `backlog ${backlogId}: repository ${target.path} does not exist or is not a git repository on this worker`,
      );
    }
    return target.path;
  }
  if (target.url === undefined)
    throw repositoryError(`backlog ${backlogId}: the repository target has neither a path nor a url`);
  const root = reposRootOf(deps);
  const dir = join(root, backlogId);
  if (await isRepository(dir)) return dir;
  await mkdir(root, { recursive: true });
  const tmp = join(root, `.${backlogId}.clone-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  try {
    await git(root, ["clone", "--bare", "--quiet", "--", target.url, tmp], {
      timeoutMs: NETWORK_GIT_TIMEOUT_MS,
      workerEnv: deps.workerEnv,
    });
    try {
      await rename(tmp, dir);
    } catch (err) {
      // Another activity's clone is in place already (rename onto a non-empty directory fails): use it.
      if (!(await isRepository(dir))) throw err;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return dir;
}

/**
 * Where a target's repository is on a worker with clones under `reposRoot`: `target.path`, else
 * `<reposRoot>/<backlogId>` (whether or not it has been cloned yet) — for the CLI (`squadflow diff`).
 */
export function repositoryPathOf(target: Pick<RepositoryTarget, "path">, backlogId: string, reposRoot: string): string {
  return target.path ?? join(reposRoot, backlogId);
}

/**
 * Runs `fn` with a heartbeat every `intervalMs` (default 2 000): a clone of a large repository, or git on a
 * slow disk, must not look like a dead worker to Temporal's heartbeat timeout.
 */
export async function heartbeating<T>(
  hooks: Pick<ActivityHooks, "heartbeat">,
  phase: string,
  intervalMs: number | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  hooks.heartbeat({ phase });
  const timer = setInterval(() => {
    try {
      hooks.heartbeat({ phase });
    } catch {
      // A failing heartbeat must not take the git work down; Temporal reports missed heartbeats itself.
    }
  }, intervalMs ?? 2_000);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

/**
 * The repository directory when it is already on this worker (the path, or an existing clone of the URL),
 * else undefined — for clean-ups, which must not clone a repository just to find nothing to remove.
 * @throws ApplicationFailure `RepositoryError` when a path target is not a git repository.
 */
export async function existingRepositoryDir(
  deps: Pick<ActivityDeps, "reposRoot" | "baseDir" | "workerEnv">,
  target: RepositoryTarget,
  backlogId: string,
): Promise<string | undefined> {
  if (target.path !== undefined) return repositoryDir(deps, target, backlogId);
  const dir = join(reposRootOf(deps), backlogId);
  return (await isRepository(dir)) ? dir : undefined;
}

/**
 * The commit of a base branch: `refs/heads/<branch>`, else `refs/remotes/origin/<branch>` (a clone that
 * is not bare has only the default branch as a local one), or undefined.
 */
export async function baseCommitOf(repoDir: string, baseBranch: string): Promise<string | undefined> {
  return (
    (await commitOf(repoDir, `refs/heads/${baseBranch}`)) ??
    (await commitOf(repoDir, `refs/remotes/origin/${baseBranch}`))
  );
}

/**
 * Makes sure the integration branch exists and returns its tip. When missing it is created at the base
 * branch's commit with a compare-and-swap (`git update-ref <ref> <base> <zero>`: only if it still does not
 * exist), so two activities creating it at once agree; an existing branch is never moved here.
 *
 * @throws ApplicationFailure `RepositoryError` when the base branch does not exist or the branch name is
 *   taken by another ref (`squadflow` as a branch of its own); `GitError` (retryable) on other git failures.
 */
export async function ensureIntegrationBranch(
  repoDir: string,
  target: Pick<RepositoryTarget, "integrationBranch" | "baseBranch">,
): Promise<string> {
  const ref = `refs/heads/${target.integrationBranch}`;
  const tip = await commitOf(repoDir, ref);
  if (tip) return tip;
  const base = await baseCommitOf(repoDir, target.baseBranch);
  if (!base) throw repositoryError(`base branch "${target.baseBranch}" does not exist in ${repoDir}`);
  try {
    await git(repoDir, [
      "update-ref",
      "-m",
      `squadflow: create ${target.integrationBranch} from ${target.baseBranch}`,
      ref,
      base,
      ZERO_OID,
    ]);
    return base;
  } catch (err) {
    const now = await commitOf(repoDir, ref);
    if (now) return now; // created by a concurrent activity
    if (err instanceof GitError && /exists; cannot create|cannot lock ref/.test(err.stderr)) {
      throw repositoryError(
        `cannot create the integration branch ${target.integrationBranch} in ${repoDir}: ${err.stderr}`,
      );
    }
    throw err;
  }
}
