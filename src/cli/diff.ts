/**
 * `squadflow diff BACKLOG CARD [--attempt N]`: the change an attempt made in the backlog's repository —
 * `git diff <base>..<head>` of its attempt branch (issue 9, "Ops and export"). Default attempt: the one
 * merged into the integration branch, else the latest that made a branch.
 */
import { resolve } from "node:path";
import type { Client } from "@temporalio/client";
import type { AttemptRecord } from "../domain/index.js";
import { attemptDiff, repositoryPathOf } from "../activities/repository/index.js";
import { readCardHistory } from "./history.js";
import { CliError, EXIT } from "./errors.js";

/** What `diff` shows: which attempt, its branch and commits, and the diff text (unified format). */
export interface AttemptDiff {
  backlogId: string;
  cardId: string;
  attempt: number;
  branch: string;
  baseCommit: string;
  headCommit: string;
  /** True when this attempt is the one merged into the integration branch. */
  merged: boolean;
  diff: string;
}

/**
 * Reads the diff of one attempt of a card.
 * @param reposRoot where the worker clones URL repositories (default `state/repos` in the working directory,
 *   or `SQUADFLOW_REPOS`), to find the clone of a backlog whose repository is a URL
 * @throws CliError exit 2 for an unknown backlog/card, a backlog without repository, an attempt without a
 *   branch (not run yet, its owner failed) or an unknown attempt number; exit 1 when git fails.
 */
export async function readAttemptDiff(
  client: Client,
  backlogId: string,
  cardId: string,
  opts: { attempt?: number; reposRoot?: string } = {},
): Promise<AttemptDiff> {
  const h = await readCardHistory(client, backlogId, cardId);
  if (!h.repository)
    throw new CliError(
      `backlog "${backlogId}" does not deliver into a repository (no metadata.repository): its attempts have no diff`,
    );
  const attempts = h.state.attempts;
  let chosen: AttemptRecord | undefined;
  if (opts.attempt !== undefined) {
    chosen = attempts.find((a) => a.attempt === opts.attempt);
    if (!chosen)
      throw new CliError(
        `card ${cardId} has no attempt ${opts.attempt} (attempts: ${attempts.map((a) => a.attempt).join(", ") || "none"})`,
      );
  } else {
    const merged = h.state.merge?.attempt;
    chosen = attempts.find((a) => a.attempt === merged) ?? [...attempts].reverse().find((a) => a.git);
  }
  if (!chosen?.git)
    throw new CliError(
      `card ${cardId}${chosen ? ` attempt ${chosen.attempt}` : ""} has no attempt branch yet (not run, or its owner failed)`,
    );
  const reposRoot = opts.reposRoot ?? resolve(process.env.SQUADFLOW_REPOS?.trim() || "state/repos");
  const repoDir = repositoryPathOf(h.repository, backlogId, reposRoot);
  let diff: string;
  try {
    diff = await attemptDiff(repoDir, chosen.git);
  } catch (err) {
    throw new CliError(
      `git diff of ${chosen.git.branch} in ${repoDir} failed: ${(err as Error).message}`,
      EXIT.failure,
    );
  }
  return {
    backlogId,
    cardId,
    attempt: chosen.attempt,
    branch: chosen.git.branch,
    baseCommit: chosen.git.baseCommit,
    headCommit: chosen.git.headCommit,
    merged: h.state.merge?.attempt === chosen.attempt,
    diff,
  };
}
