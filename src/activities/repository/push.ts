/**
 * Pushing the integration branch when a backlog finishes (issue 9 "Optional push", `metadata.push`).
 */
import { ApplicationFailure } from "@temporalio/common";
import type { PushResult, RepositoryTarget } from "../../domain/repository.js";
import { ActivityErrorType, repositoryError } from "../errors.js";
import { commitOf, git, GitError, NETWORK_GIT_TIMEOUT_MS } from "./git.js";

/**
 * `git push <remote> refs/heads/squadflow/<id>:refs/heads/<push.branch ?? same>` (no force: the remote's
 * branch must be behind ours).
 *
 * @throws ApplicationFailure `RepositoryError` when the target has no `push` or the integration branch does
 *   not exist; `PushRefusedError` (retryable) quoting git when the remote refused or could not be reached.
 */
export async function pushIntegration(
  repoDir: string,
  target: RepositoryTarget,
  workerEnv?: Record<string, string | undefined>,
): Promise<PushResult> {
  if (!target.push) throw repositoryError(`the repository target has no push remote (metadata.push)`);
  const { remote } = target.push;
  const branch = target.push.branch ?? target.integrationBranch;
  const commit = await commitOf(repoDir, `refs/heads/${target.integrationBranch}`);
  if (!commit) throw repositoryError(`the integration branch ${target.integrationBranch} does not exist in ${repoDir}`);
  try {
    await git(repoDir, ["push", "--quiet", "--porcelain", "--", remote, `${commit}:refs/heads/${branch}`], {
      timeoutMs: NETWORK_GIT_TIMEOUT_MS,
      workerEnv,
    });
  } catch (err) {
    if (!(err instanceof GitError)) throw err;
    const said = [err.stdout.trim(), err.stderr].filter(Boolean).join("\n");
    throw ApplicationFailure.retryable(
      `push of ${target.integrationBranch} to ${remote} as ${branch} was refused: ${said.length > 2_000 ? `…${said.slice(-1_999)}` : said}`,
      ActivityErrorType.PushRefusedError,
    );
  }
  return { remote, branch, commit };
}
