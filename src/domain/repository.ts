/**
 * The repository model (issue 9, PRODUCT.md "Repository"): a backlog may target a git repository; every
 * attempt then works in its own worktree and branch made from the integration branch tip, and an approved
 * card's attempt branch is merged into the integration branch exactly once. Pure names, shapes and rules,
 * shared by the client (validation before start), workflows and activities (which run `git`).
 *
 *   integration branch   `squadflow/<backlogId>`
 *   attempt branch       `squadflow-attempts/<backlogId>/<cardId>/attempt-<n>`
 *
 * (Attempt branches cannot live under `squadflow/<backlogId>/`: git stores refs as paths, so a branch
 * `squadflow/shop` and a branch `squadflow/shop/BE-001/attempt-1` cannot both exist — `'refs/heads/
 * squadflow/shop' exists; cannot create …`. A namespace of their own also keeps any backlog id's
 * integration branch from colliding with another backlog's attempts.)
 *   attempt worktree     `<worktreesRoot>/<backlogId>/<cardId>/attempt-<n>` (worktrees root: `state/worktrees`)
 *   clone of a URL       `<reposRoot>/<backlogId>` (repos root: `state/repos`)
 */

/** Where a backlog's repository comes from and how its work is delivered (`CardPlan.repository`). */
export interface RepositoryTarget {
  /**
   * A local repository: its absolute path (the client resolves `metadata.repository` / `--repo` against the
   * backlog file's directory, resp. the working directory). Exactly one of `path` and `url` is set.
   */
  path?: string;
  /** A clone URL: the worker clones it once into `<reposRoot>/<backlogId>` and works in that clone. */
  url?: string;
  /** The branch the integration branch is created from (`metadata.base_branch`, default: the current branch). */
  baseBranch: string;
  /** `squadflow/<backlogId>` (see `integrationBranchName`). */
  integrationBranch: string;
  /** `metadata.push`: push the integration branch to `remote` (as `branch`, default the same name) at the end. */
  push?: { remote: string; branch?: string };
  /** `--keep-branches`: attempt branches stay after the backlog ends (default: deleted; worktrees always go). */
  keepBranches?: boolean;
}

/** What one attempt did in the repository (`OwnerResult.git`, `AttemptRecord.git`). */
export interface AttemptGit {
  /** The attempt branch, `squadflow-attempts/<backlogId>/<cardId>/attempt-<n>`. */
  branch: string;
  /** Commit the attempt's changes are measured against: the integration tip it started from (40-hex SHA-1). */
  baseCommit: string;
  /** The attempt branch's head once the owner finished (the owner's commit or squadflow's), 40-hex. */
  headCommit: string;
  /** Files the attempt deleted (`git diff --name-status` D lines): part of the change, not artifacts. */
  deleted?: string[];
}

/** Input of the `mergeAttempt` activity. */
export interface MergeInput {
  backlogId: string;
  cardId: string;
  /** The card's title (the merge commit's subject names the card by id and title). */
  title: string;
  attempt: number;
  repository: RepositoryTarget;
  /** The approved attempt's branch and commits. */
  git: AttemptGit;
  /** The card's cost so far, USD (the `Squadflow-Cost-Usd` trailer). */
  costUsd: number;
  /** Set when a human approved or skipped the card: the `Squadflow-Reviewer` / `Squadflow-Decision` trailers. */
  human?: { reviewer: string; decision: string };
}

/** What a merge did: the merge commit on the integration branch, or the conflict that stopped it. */
export type MergeResult =
  | {
      status: "merged";
      /** The merge commit on the integration branch (40-hex). */
      commit: string;
      /** True when the merge had already been made by an earlier try (found by its trailers); nothing was merged again. */
      alreadyMerged: boolean;
    }
  | {
      status: "conflict";
      /** Paths (repository-relative) that conflict. */
      files: string[];
      /** Cards whose merges since the attempt's base brought the conflicting changes (their `Squadflow-Card` trailers). */
      cards: string[];
    };

/** The merge of a DONE card, kept on its state (`CardState.merge`) and shown by status/history/export and the Temporal UI. */
export interface MergeRecord {
  /** The merge commit on the integration branch (40-hex). */
  commit: string;
  integrationBranch: string;
  /** The attempt whose branch was merged. */
  attempt: number;
  branch: string;
  /** When it was merged, ISO-8601. */
  at: string;
}

/** Git trailer keys of a squadflow merge commit (issue 9). */
export const MERGE_TRAILERS = {
  backlog: "Squadflow-Backlog",
  card: "Squadflow-Card",
  attempt: "Squadflow-Attempt",
  costUsd: "Squadflow-Cost-Usd",
  reviewer: "Squadflow-Reviewer",
  decision: "Squadflow-Decision",
} as const;

/** The integration branch of a backlog: `squadflow/<backlogId>`. */
export function integrationBranchName(backlogId: string): string {
  return `squadflow/${backlogId}`;
}

/**
 * The branch of one attempt: `squadflow-attempts/<backlogId>/<cardId>/attempt-<n>` (n 1-based) — not under
 * the integration branch's name, which git cannot store beside it (see the module docstring).
 */
export function attemptBranchName(backlogId: string, cardId: string, attempt: number): string {
  return `${attemptBranchPrefix(backlogId)}${cardId}/attempt-${attempt}`;
}

/** The prefix of every attempt branch of a backlog, `squadflow-attempts/<backlogId>/` (what the backlog's end deletes). */
export function attemptBranchPrefix(backlogId: string): string {
  return `squadflow-attempts/${backlogId}/`;
}

/**
 * The prefix of every private snapshot ref of a backlog, `refs/squadflow/snapshots/<backlogId>/` (the owner's
 * work at the events a peer review ran on, issue 12; deleted with the attempt branches at the backlog's end).
 */
export function snapshotRefPrefix(backlogId: string): string {
  return `refs/squadflow/snapshots/${backlogId}/`;
}

/**
 * The message of the merge commit of a card: a subject naming the card, then the trailers (`git
 * interpret-trailers` format, one `Key: value` per line after a blank line) — what `mergeAttempt` writes
 * and what it reads back to find a merge already made.
 *
 * @param title the card's title (shortened to keep the subject within 100 characters)
 */
export function mergeCommitMessage(input: Omit<MergeInput, "repository" | "git"> & { branch: string }): string {
  const subject = `squadflow: merge ${input.cardId} (attempt ${input.attempt}): ${input.title}`;
  const lines = [
    subject.length > 100 ? `${subject.slice(0, 99)}…` : subject,
    "",
    `Merges ${input.branch} into ${integrationBranchName(input.backlogId)}.`,
    "",
    `${MERGE_TRAILERS.backlog}: ${input.backlogId}`,
    `${MERGE_TRAILERS.card}: ${input.cardId}`,
    `${MERGE_TRAILERS.attempt}: ${input.attempt}`,
    `${MERGE_TRAILERS.costUsd}: ${input.costUsd.toFixed(6)}`,
  ];
  if (input.human) {
    lines.push(
      `${MERGE_TRAILERS.reviewer}: ${oneLine(input.human.reviewer)}`,
      `${MERGE_TRAILERS.decision}: ${oneLine(input.human.decision)}`,
    );
  }
  return lines.join("\n") + "\n";
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, " ").trim();
}

/**
 * The trailers of a commit message: the `Key: value` lines of its last paragraph (later keys win).
 * @returns e.g. `{ 'Squadflow-Card': 'BE-001', 'Squadflow-Attempt': '2' }`; `{}` when there are none.
 */
export function parseTrailers(message: string): Record<string, string> {
  const paragraphs = message.trim().split(/\n\s*\n/);
  const last = paragraphs[paragraphs.length - 1] ?? "";
  const out: Record<string, string> = {};
  for (const line of last.split("\n")) {
    const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/**
 * Why `name` is not a valid git branch name (the rules of `git check-ref-format --branch`), or undefined.
 * Backlog and card ids become parts of branch names, so planBacklog refuses ids that would break them
 * (`a..b`, `x.lock`, a trailing `.`) when the backlog targets a repository.
 */
export function branchNameProblem(name: string): string | undefined {
  if (name === "" || name === "@") return 'is empty or "@"';
  if (name.startsWith("-")) return 'starts with "-"';
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return "contains a space, a control character or one of ~ ^ : ? * [ \\";
  if (name.includes("..")) return 'contains ".."';
  if (name.includes("@{")) return 'contains "@{"';
  if (name.includes("//") || name.startsWith("/") || name.endsWith("/")) return "has an empty path component";
  for (const part of name.split("/")) {
    if (part.startsWith(".")) return `has a component "${part}" starting with "."`;
    if (part.endsWith(".lock")) return `has a component "${part}" ending with ".lock"`;
  }
  if (name.endsWith(".")) return 'ends with "."';
  return undefined;
}

/** True when `s` looks like a clone URL (`https://…`, `ssh://…`, `git@host:path`, `file://…`), not a local path. */
export function isCloneUrl(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || /^[^/\s@]+@[^/\s:]+:/.test(s);
}

/** Input of the `removeWorktree` activity: the attempt worktree `workspace` (relative to the worktrees root). */
export interface RemoveWorktreeInput {
  backlogId: string;
  repository: RepositoryTarget;
  /** `<backlogId>/<cardId>/attempt-<n>`. */
  workspace: string;
}

/** Input of the `finishRepository` and `pushIntegrationBranch` activities. */
export interface FinishRepositoryInput {
  backlogId: string;
  repository: RepositoryTarget;
}

/** What `pushIntegrationBranch` pushed. */
export interface PushResult {
  remote: string;
  /** The remote branch name. */
  branch: string;
  /** The commit pushed (40-hex). */
  commit: string;
}

/**
 * The repository activities as workflows call them (implemented in src/activities/repository/, registered
 * by `createActivities`): workflows proxy this interface, so they need no import of activity code.
 */
export interface RepositoryActivities {
  /** Merges an approved attempt into the integration branch exactly once (idempotent by trailers). */
  mergeAttempt(input: MergeInput): Promise<MergeResult>;
  /** Removes an attempt worktree (idempotent; a missing one is fine). */
  removeWorktree(input: RemoveWorktreeInput): Promise<unknown>;
  /** At the backlog's end: removes its worktrees and (unless `keepBranches`) its attempt branches and snapshot refs. */
  finishRepository(input: FinishRepositoryInput): Promise<unknown>;
  /** Pushes the integration branch to `repository.push`. @throws a retryable failure when the push is refused. */
  pushIntegrationBranch(input: FinishRepositoryInput): Promise<PushResult>;
}
