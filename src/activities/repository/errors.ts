/**
 * Errors of the repository side (issue 9): `RepositoryError` for the client's validation before a backlog
 * starts (a plain Error the CLI turns into exit 2), and the mapping of git failures to the activities'
 * typed `ApplicationFailure`s (errors.ts: `RepositoryError` non-retryable, `GitError` retryable).
 */
import { ApplicationFailure } from "@temporalio/common";
import { gitCommandError } from "../errors.js";
import { GitError } from "./git.js";

/** The backlog fields a repository problem is reported against. */
export type RepositoryField =
  "metadata.repository" | "metadata.base_branch" | "metadata.push.remote" | "metadata.backlog_id" | "cards[].id";

/**
 * A repository setting that cannot work, found before anything starts (`inspectRepository`). The message
 * names the field (`metadata.repository`, `metadata.base_branch`, `metadata.push.remote`, `metadata.backlog_id`, …) and the path
 * or URL; `type` is stable (STYLE.md "Errors").
 */
export class RepositoryError extends Error {
  readonly type = "RepositoryError";
  constructor(
    /** The backlog field at fault. */
    readonly field: RepositoryField,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = "RepositoryError";
  }
}

/**
 * What an activity throws for an error: `ApplicationFailure`s as they are, a `GitError` as a retryable
 * `GitError` failure (its message names the command and quotes git), anything else unchanged.
 */
export function asActivityFailure(err: unknown, what: string): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof GitError) return gitCommandError(`${what}: ${err.message}`);
  return err;
}
