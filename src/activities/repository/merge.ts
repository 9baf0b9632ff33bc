/**
 * Merging an approved attempt into the integration branch, exactly once (issue 9, PRODUCT.md
 * "Repository"): a `--no-ff` merge commit made without any checkout (`git merge-tree --write-tree`, git ≥
 * 2.38, then `git commit-tree`), moved onto the branch with a compare-and-swap (`git update-ref <ref> <new>
 * <old>`). The swap serializes the merges of a backlog across activities and workers: whoever lost the race
 * recomputes on the new tip. Trailers on the merge commit make a retry find its merge instead of merging again.
 */
import {
  mergeCommitMessage,
  MERGE_TRAILERS,
  parseTrailers,
  type MergeInput,
  type MergeResult,
} from "../../domain/repository.js";
import { repositoryError } from "../errors.js";
import { commitOf, git, gitOut, GitError } from "./git.js";
import { ensureIntegrationBranch } from "./repo.js";

/** Tries of the compare-and-swap before giving up (a retryable GitError): far more merges than cards finish at once. */
export const MERGE_CAS_TRIES = 50;

/** A merge commit of the integration branch's first-parent history, with its trailers. */
export interface IntegrationMerge {
  commit: string;
  trailers: Record<string, string>;
}

/**
 * The merge commits of the integration branch's first-parent history in `since..tip` (newest first; all
 * when `since` is undefined or not an ancestor of the tip), with their trailers. @throws GitError
 */
export async function integrationMerges(repoDir: string, tip: string, since?: string): Promise<IntegrationMerge[]> {
  const range = since !== undefined && since !== tip ? [`${since}..${tip}`] : since === tip ? [] : [tip];
  if (range.length === 0) return [];
  const out = (await git(repoDir, ["log", "--first-parent", "--merges", "-z", "--format=%H%x00%B", ...range, "--"]))
    .stdout;
  const merges: IntegrationMerge[] = [];
  // -z ends each record with NUL; the format puts one more NUL between the hash and the message.
  const fields = out.split("\0");
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const commit = fields[i]!.trim();
    if (commit === "") continue;
    merges.push({ commit, trailers: parseTrailers(fields[i + 1] ?? "") });
  }
  return merges;
}

/** The merge of one card's attempt already on the branch (found by its trailers), if any. */
function findMerge(
  merges: readonly IntegrationMerge[],
  input: Pick<MergeInput, "backlogId" | "cardId" | "attempt">,
): string | undefined {
  return merges.find(
    (m) =>
      m.trailers[MERGE_TRAILERS.backlog] === input.backlogId &&
      m.trailers[MERGE_TRAILERS.card] === input.cardId &&
      m.trailers[MERGE_TRAILERS.attempt] === String(input.attempt),
  )?.commit;
}

/**
 * The cards whose merges since `base` touched any of `files` (their `Squadflow-Card` trailers, oldest
 * first, each once): who the conflict of a merge is with. @throws GitError
 */
export async function cardsTouching(
  repoDir: string,
  merges: readonly IntegrationMerge[],
  files: readonly string[],
): Promise<string[]> {
  const wanted = new Set(files);
  const cards: string[] = [];
  for (const m of [...merges].reverse()) {
    const card = m.trailers[MERGE_TRAILERS.card];
    if (card === undefined || cards.includes(card)) continue;
    const touched = (
      await git(repoDir, ["diff", "--name-only", "-z", "--no-renames", `${m.commit}^1`, m.commit])
    ).stdout.split("\0");
    if (touched.some((f) => wanted.has(f))) cards.push(card);
  }
  return cards;
}

/**
 * Merges `input.git.headCommit` into the integration branch (see the module docstring): idempotent — a merge
 * commit whose trailers name this backlog, card and attempt on the branch's first-parent history since the
 * attempt's base is returned as `alreadyMerged`; a conflict is a result (`status: 'conflict'` with the
 * files and the cards whose merges brought them), not an error.
 *
 * @param repoDir the repository (see repo.ts `repositoryDir`)
 * @throws ApplicationFailure `RepositoryError` (non-retryable) when the attempt's head commit does not exist
 *   or the base branch is unknown; GitError (callers map it to a retryable failure) on git failures,
 *   including a compare-and-swap lost `MERGE_CAS_TRIES` times.
 */
export async function mergeIntoIntegration(repoDir: string, input: MergeInput): Promise<MergeResult> {
  const branch = input.repository.integrationBranch;
  const ref = `refs/heads/${branch}`;
  const head = await commitOf(repoDir, input.git.headCommit);
  if (!head)
    throw repositoryError(
      `card ${input.cardId}: attempt ${input.attempt}'s head ${input.git.headCommit} (${input.git.branch}) does not exist in ${repoDir}`,
    );
  await ensureIntegrationBranch(repoDir, input.repository);
  const message = mergeCommitMessage({ ...input, branch: input.git.branch });
  for (let tries = 1; ; tries++) {
    const tip = (await commitOf(repoDir, ref))!;
    // The attempt started from a tip of this branch, so its merge (if made) is after its base; a base that is
    // not on the branch (a rebase that fell back) is searched over the whole first-parent history.
    const since = (await isOnBranch(repoDir, input.git.baseCommit, tip)) ? input.git.baseCommit : undefined;
    const merges = await integrationMerges(repoDir, tip, since);
    const done = findMerge(merges, input);
    if (done) return { status: "merged", commit: done, alreadyMerged: true };

    const mt = await git(repoDir, ["merge-tree", "--write-tree", "--name-only", "-z", "--no-messages", tip, head], {
      okExitCodes: [1],
    });
    const [tree = "", ...rest] = mt.stdout.split("\0");
    if (mt.exitCode === 1) {
      const files = [...new Set(rest.filter(Boolean))];
      return { status: "conflict", files, cards: await cardsTouching(repoDir, merges, files) };
    }
    const commit = await gitOut(repoDir, ["commit-tree", tree.trim(), "-p", tip, "-p", head, "-F", "-"], {
      identity: true,
      input: message,
    });
    try {
      await git(repoDir, [
        "update-ref",
        "-m",
        `squadflow: merge ${input.cardId} attempt ${input.attempt}`,
        ref,
        commit,
        tip,
      ]);
      return { status: "merged", commit, alreadyMerged: false };
    } catch (err) {
      // Lost the race: another card's merge moved the tip. Recompute on the new tip.
      if (!(err instanceof GitError) || (await commitOf(repoDir, ref)) === tip || tries >= MERGE_CAS_TRIES) throw err;
    }
  }
}

async function isOnBranch(repoDir: string, commit: string, tip: string): Promise<boolean> {
  if (!(await commitOf(repoDir, commit))) return false;
  return (await git(repoDir, ["merge-base", "--is-ancestor", commit, tip], { okExitCodes: [1] })).exitCode === 0;
}
