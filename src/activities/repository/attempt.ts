/**
 * The owner's side of the repository model (issue 9): the attempt worktree made before the agent runs,
 * and the attempt's commit and changed files after it. owner.ts calls these when `OwnerInput.repository`
 * is set.
 */
import { lstat, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { OwnerInput, OwnerResult } from "../../domain/attempt.js";
import { attemptBranchName, MERGE_TRAILERS, type AttemptGit, type RepositoryTarget } from "../../domain/repository.js";
import { agentResultFile } from "../agents/command.js";
import { redactSecretsInFiles } from "../agents/files.js";
import { worktreesRootOf, type ActivityDeps, type ActivityHooks } from "../context.js";
import type { Secret } from "../secrets.js";
import { readBesideWorkspace, resolveWorkspace, writeBesideWorkspace } from "../workspace.js";
import { changedFiles, commitStaged, stageAll, stagedSince } from "./changes.js";
import { commitOf } from "./git.js";
import { ensureIntegrationBranch, repositoryDir } from "./repo.js";
import type { AttemptWorktree } from "./types.js";
import { prepareAttemptWorktree } from "./worktree.js";

export type { AttemptWorktree } from "./types.js";

const WORKTREE_RECORD = "worktree";
const WorktreeRecordSchema = z.object({ branch: z.string(), baseCommit: z.string(), integrationBranch: z.string() });

/**
 * Makes the attempt worktree for an owner run (worktree.ts `prepareAttemptWorktree`: a stale one is removed
 * and recreated clean, from the integration tip or — a correction — the previous head rebased on it) and
 * records its base beside it (`<workspace>.worktree.json`). One exception keeps the worktree as it is: a
 * `command` agent whose result file says it finished (its worker died before hearing it) — its work is in
 * the worktree, and the command runner returns that answer without running the agent again.
 *
 * @throws ApplicationFailure `RepositoryError` / `WorkspaceError`; GitError on git failures.
 */
export async function openOwnerWorktree(
  deps: ActivityDeps,
  input: OwnerInput & { repository: RepositoryTarget },
  hooks: ActivityHooks,
): Promise<AttemptWorktree> {
  const root = worktreesRootOf(deps);
  const dir = resolveWorkspace(root, input.workspace);
  const repoDir = await repositoryDir(deps, input.repository, input.backlogId);
  // A council proposal or revision (issue 12) has a branch of its own under the attempt's.
  const branch = input.council?.branch ?? attemptBranchName(input.backlogId, input.card.id, input.attempt);
  const resultFile = agentResultFile(root, input.workspace);
  if (input.agent.kind === "command" && (await stat(resultFile).catch(() => undefined))?.isFile()) {
    const saved = await readBesideWorkspace(root, input.workspace, WORKTREE_RECORD, (t) =>
      WorktreeRecordSchema.parse(JSON.parse(t)),
    );
    if (saved && saved.branch === branch && (await commitOf(dir, "HEAD").catch(() => undefined)))
      return { repoDir, dir, ...saved };
  }
  // A fresh start: an answer of a run whose worktree is about to go must not be taken for this run's.
  await rm(resultFile, { force: true });
  const tip = await ensureIntegrationBranch(repoDir, input.repository);
  const made = await prepareAttemptWorktree({
    repoDir,
    dir,
    branch,
    integrationTip: tip,
    ...(input.previousGit && { previous: input.previousGit }),
  });
  if (made.rebaseConflict)
    hooks.log?.warn(`card ${input.card.id} attempt ${input.attempt}: ${made.rebaseConflict}`, {
      cardId: input.card.id,
      attempt: input.attempt,
    });
  const worktree = {
    repoDir,
    dir,
    branch,
    baseCommit: made.baseCommit,
    integrationBranch: input.repository.integrationBranch,
  };
  await writeBesideWorkspace(
    root,
    input.workspace,
    WORKTREE_RECORD,
    JSON.stringify({ branch, baseCommit: made.baseCommit, integrationBranch: worktree.integrationBranch }),
  );
  return worktree;
}

/** The message of squadflow's commit of what an owner left uncommitted. */
export function leftoverCommitMessage(input: Pick<OwnerInput, "backlogId" | "card" | "attempt">): string {
  return [
    `squadflow: ${input.card.id} attempt ${input.attempt}: ${input.card.title}`.slice(0, 100),
    "",
    "What the owner agent left uncommitted in its worktree, committed by squadflow.",
    "",
    `${MERGE_TRAILERS.backlog}: ${input.backlogId}`,
    `${MERGE_TRAILERS.card}: ${input.card.id}`,
    `${MERGE_TRAILERS.attempt}: ${input.attempt}`,
    "",
  ].join("\n");
}

/**
 * After the owner agent: commits what it left uncommitted (`git add -A`, see changes.ts for what is left
 * out), with the worker's secret values redacted from the changed files first (the commit would otherwise
 * carry them onto the integration branch); its own commits count too. Returns the owner result with
 * `artifacts` = the files the attempt changed (`git diff --name-status base..head`) and `git` set.
 *
 * @throws GitError
 */
export async function settleOwnerCommit(
  input: OwnerInput,
  worktree: AttemptWorktree,
  result: OwnerResult,
  secrets: readonly Secret[],
  hooks: ActivityHooks,
): Promise<OwnerResult> {
  const { dir, baseCommit, branch } = worktree;
  await stageAll(dir);
  if (secrets.length > 0) {
    // Regular files only: a symlink may point out of the worktree, and what it points at is not ours to edit.
    const files: string[] = [];
    for (const f of await stagedSince(dir, baseCommit))
      if ((await lstat(join(dir, f)).catch(() => undefined))?.isFile()) files.push(f);
    const hits = await redactSecretsInFiles(dir, files, secrets);
    for (const hit of hits) {
      hooks.log?.warn(
        `owner of card ${input.card.id} wrote a secret into ${hit.file}; it was redacted before the commit`,
        { cardId: input.card.id, file: hit.file, variables: hit.names },
      );
    }
    if (hits.length > 0) await stageAll(dir);
  }
  const headCommit = await commitStaged(dir, branch, leftoverCommitMessage(input));
  const { artifacts, deleted } = await changedFiles(dir, baseCommit, headCommit);
  const git: AttemptGit = { branch, baseCommit, headCommit, ...(deleted.length > 0 && { deleted }) };
  return { ...result, artifacts, git };
}
