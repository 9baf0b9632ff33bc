/**
 * The end of a backlog in its repository (issue 9 "Clean up"): no worktree of the backlog is left in
 * `git worktree list`, and its attempt branches and private snapshot refs go unless `--keep-branches`. The integration branch stays:
 * it is what the squad delivered.
 */
import { resolve, sep } from "node:path";
import { attemptBranchPrefix, snapshotRefPrefix } from "../../domain/repository.js";
import { git } from "./git.js";
import { listWorktrees, removeWorktreeDirHeld } from "./worktree.js";
import { withRepositoryLock } from "./lock.js";

/** What `finishBacklogRepository` removed. */
export interface FinishedRepository {
  /** Absolute paths of the worktrees removed. */
  worktrees: string[];
  /** Attempt branches deleted (`squadflow-attempts/<backlogId>/…`, without `refs/heads/`). */
  branches: string[];
  /** Snapshot refs deleted (`refs/squadflow/snapshots/<backlogId>/…`: the work peer reviews saw at events). */
  snapshots: string[];
}

/**
 * Removes every worktree of the backlog still listed (under `<worktreesRoot>/<backlogId>/`, or on one of its
 * attempt branches), prunes, and deletes the attempt branches `squadflow-attempts/<backlogId>/*` and the
 * snapshot refs `refs/squadflow/snapshots/<backlogId>/*` unless `keepBranches`. Idempotent.
 * @throws GitError
 */
export async function finishBacklogRepository(
  repoDir: string,
  backlogId: string,
  worktreesRoot: string,
  keepBranches: boolean,
): Promise<FinishedRepository> {
  const prefix = `refs/heads/${attemptBranchPrefix(backlogId)}`;
  const under = resolve(worktreesRoot, backlogId) + sep;
  const worktrees: string[] = [];
  await withRepositoryLock(repoDir, async () => {
    for (const w of (await listWorktrees(repoDir)).slice(1)) {
      if (resolve(w.path).startsWith(under) || w.branch?.startsWith(prefix)) {
        await removeWorktreeDirHeld(repoDir, w.path);
        worktrees.push(w.path);
      }
    }
    await git(repoDir, ["worktree", "prune"]);
  });
  if (keepBranches) return { worktrees, branches: [], snapshots: [] };
  const branches = (await deleteRefs(repoDir, prefix)).map((ref) => ref.slice("refs/heads/".length));
  const snapshots = await deleteRefs(repoDir, snapshotRefPrefix(backlogId));
  return { worktrees, branches, snapshots };
}

/**
 * Deletes every ref under `prefix` (a full ref name prefix ending in `/`) in one `git update-ref --stdin`
 * (one process however many attempts and snapshots there were); returns their names.
 */
async function deleteRefs(repoDir: string, prefix: string): Promise<string[]> {
  const refs = (await git(repoDir, ["for-each-ref", "--format=%(refname)", prefix])).stdout.split("\n").filter(Boolean);
  if (refs.length > 0)
    await git(repoDir, ["update-ref", "--stdin"], { input: refs.map((r) => `delete ${r}\n`).join("") });
  return refs;
}
