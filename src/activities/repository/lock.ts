/**
 * One worktree-administration operation at a time per repository, in this worker process. `git worktree
 * add`, `remove` and `prune` read and write `.git/worktrees/` without a lock of their own: a prune (or a
 * listing) that runs while another attempt's worktree is being added can find that entry half-written
 * ("failed to read .git/worktrees/<name>/commondir") or delete it. Attempts of one backlog start at the
 * same moment, so their worktree work is queued here. Commits, merges and diffs need no such lock (git
 * locks refs itself; merges are compare-and-swap).
 */
import { resolve } from "node:path";

const tails = new Map<string, Promise<unknown>>();

/**
 * Runs `fn` once every earlier `withRepositoryLock` call for the same repository (by absolute path) has
 * settled; calls for other repositories run alongside. Not re-entrant: `fn` must not call it for the same
 * repository again.
 * @returns what `fn` returns; rethrows what it throws (the queue goes on either way)
 */
export async function withRepositoryLock<T>(repoDir: string, fn: () => Promise<T>): Promise<T> {
  const key = resolve(repoDir);
  const before = tails.get(key) ?? Promise.resolve();
  const run = before.then(fn, fn);
  const tail = run.then(
    () => undefined,
    () => undefined,
  );
  tails.set(key, tail);
  try {
    return await run;
  } finally {
    if (tails.get(key) === tail) tails.delete(key);
  }
}
