/**
 * The repository activities (issue 9), created from the activities' deps (`createRepositoryActivities`) and
 * added to `createActivities` (../index.ts): merge an approved attempt into the integration branch, remove
 * an attempt worktree, clean up at a backlog's end, push the integration branch. The owner side (worktree
 * per attempt, squadflow's commit of leftovers) is in owner.ts via ./attempt.ts; the client's validation
 * before a start is ./inspect.ts; the CLI's diff is ./diff.ts `attemptDiff`.
 */
import { rm } from "node:fs/promises";
import type {
  FinishRepositoryInput,
  MergeInput,
  MergeResult,
  PushResult,
  RemoveWorktreeInput,
  RepositoryActivities,
  RepositoryTarget,
} from "../../domain/repository.js";
import { temporalHooks, worktreesRootOf, type ActivityDeps } from "../context.js";
import { resolveWorkspace } from "../workspace.js";
import { asActivityFailure } from "./errors.js";
import { finishBacklogRepository, type FinishedRepository } from "./finish.js";
import { mergeIntoIntegration } from "./merge.js";
import { pushIntegration } from "./push.js";
import { existingRepositoryDir, heartbeating, repositoryDir } from "./repo.js";
import { removeWorktreeDir } from "./worktree.js";

export { attemptDiff, boundedAttemptDiff, MAX_JUDGE_DIFF_CHARS } from "./diff.js";
export { inspectRepository, type InspectRepositoryInput } from "./inspect.js";
export { RepositoryError, type RepositoryField } from "./errors.js";
export { repositoryPathOf } from "./repo.js";
export { GitError } from "./git.js";
export type { FinishedRepository } from "./finish.js";
export type { FinishRepositoryInput, PushResult, RemoveWorktreeInput } from "../../domain/repository.js";

/**
 * Creates the repository activities:
 * - `mergeAttempt(MergeInput): MergeResult` — the attempt branch merged into `squadflow/<backlogId>` as a
 *   `--no-ff` merge commit with the trailers, without a checkout, serialized by compare-and-swap, exactly
 *   once (merge.ts); a conflict is a result naming the files and the cards whose merges they came from.
 * - `removeWorktree(RemoveWorktreeInput): { removed }` — an attempt's worktree removed (`git worktree remove
 *   --force` + prune; missing is fine). Its branch stays.
 * - `finishRepository(FinishRepositoryInput): FinishedRepository` — every worktree of the backlog removed,
 *   pruned, its attempt branches and snapshot refs deleted unless `repository.keepBranches` (finish.ts).
 * - `pushIntegrationBranch(FinishRepositoryInput): PushResult` — `git push <remote> squadflow/<id>:<branch>` (push.ts).
 *
 * Input and result types are those of src/domain/repository.ts (`RepositoryActivities`, which the
 * workflows proxy); the object returned satisfies that interface.
 *
 * Errors: `RepositoryError` (non-retryable: not a repository, unknown base branch or commit),
 * `PushRefusedError` (retryable), `GitError` (retryable: any other git failure, message naming the command).
 */
export function createRepositoryActivities(deps: ActivityDeps) {
  const workerEnv = deps.workerEnv;
  /** The repository of a target, cloned on first use (with heartbeats: a clone may take minutes). */
  const repoOf = (target: RepositoryTarget, backlogId: string): Promise<string> =>
    heartbeating((deps.hooks ?? temporalHooks)(), "repository", deps.heartbeatIntervalMs, () =>
      repositoryDir(deps, target, backlogId),
    );
  async function mergeAttempt(input: MergeInput): Promise<MergeResult> {
    try {
      return await mergeIntoIntegration(await repoOf(input.repository, input.backlogId), input);
    } catch (err) {
      throw asActivityFailure(err, `merge of card ${input.cardId} attempt ${input.attempt}`);
    }
  }
  async function removeWorktree(input: RemoveWorktreeInput): Promise<{ removed: boolean }> {
    try {
      const dir = resolveWorkspace(worktreesRootOf(deps), input.workspace);
      const repoDir = await existingRepositoryDir(deps, input.repository, input.backlogId);
      if (repoDir === undefined) {
        const existed = await rm(dir, { recursive: true }).then(
          () => true,
          () => false,
        );
        return { removed: existed };
      }
      return { removed: await removeWorktreeDir(repoDir, dir) };
    } catch (err) {
      throw asActivityFailure(err, `removal of worktree ${input.workspace}`);
    }
  }
  async function finishRepository(input: FinishRepositoryInput): Promise<FinishedRepository> {
    try {
      const repoDir = await existingRepositoryDir(deps, input.repository, input.backlogId);
      if (repoDir === undefined) return { worktrees: [], branches: [], snapshots: [] };
      return await finishBacklogRepository(
        repoDir,
        input.backlogId,
        worktreesRootOf(deps),
        input.repository.keepBranches === true,
      );
    } catch (err) {
      throw asActivityFailure(err, `clean-up of backlog ${input.backlogId}'s repository`);
    }
  }
  async function pushIntegrationBranch(input: FinishRepositoryInput): Promise<PushResult> {
    try {
      const hooks = (deps.hooks ?? temporalHooks)();
      const repoDir = await repoOf(input.repository, input.backlogId);
      return await heartbeating(hooks, "push", deps.heartbeatIntervalMs, () =>
        pushIntegration(repoDir, input.repository, workerEnv),
      );
    } catch (err) {
      throw asActivityFailure(err, `push of backlog ${input.backlogId}'s integration branch`);
    }
  }
  return { mergeAttempt, removeWorktree, finishRepository, pushIntegrationBranch } satisfies RepositoryActivities;
}
