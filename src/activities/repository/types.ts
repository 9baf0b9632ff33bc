/** Shapes shared by the owner runners (agents/) and the repository side, with no imports (no cycle between them). */

/** An attempt worktree, ready for the owner agent (repository/attempt.ts `openOwnerWorktree`, issue 9). */
export interface AttemptWorktree {
  /** The repository (its main worktree, or the bare clone of a URL). */
  repoDir: string;
  /** Absolute worktree directory: the agent's working directory. */
  dir: string;
  /** The attempt branch, `squadflow-attempts/<backlogId>/<cardId>/attempt-<n>`. */
  branch: string;
  /** What the attempt's changes are measured against (`AttemptGit.baseCommit`, 40-hex). */
  baseCommit: string;
  /** `squadflow/<backlogId>`. */
  integrationBranch: string;
}
