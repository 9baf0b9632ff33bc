/**
 * The client's validation of a backlog's repository before anything starts (issue 9: "Validated before
 * anything starts … clear error, exit 2, nothing started"): a plain async function the CLI calls; it runs
 * `git` on the client's machine and returns the `RepositoryTarget` the workflows carry.
 */
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import {
  attemptBranchName,
  branchNameProblem,
  integrationBranchName,
  isCloneUrl,
  type RepositoryTarget,
} from "../../domain/repository.js";
import { commitOf, git, GitError, gitOut, NETWORK_GIT_TIMEOUT_MS } from "./git.js";
import { RepositoryError } from "./errors.js";
import { listWorktrees } from "./worktree.js";

/** Input of `inspectRepository`. */
export interface InspectRepositoryInput {
  /** `metadata.repository` / `--repo`: a local path (relative ones resolved against `baseDir`) or a clone URL. */
  source: string;
  /** `metadata.base_branch`; default: the repository's current branch (a URL: the remote's HEAD branch). */
  baseBranch?: string;
  backlogId: string;
  /** Directory a relative `source` is resolved against (the backlog file's directory, or the working directory). */
  baseDir: string;
  /** `metadata.push`. */
  push?: { remote: string; branch?: string };
  /** `--keep-branches`. */
  keepBranches?: boolean;
  /** The backlog's card ids, whose attempt branch names are checked too (when given). */
  cardIds?: readonly string[];
  /** Environment git's allow-listed variables come from (default `process.env`). */
  env?: Record<string, string | undefined>;
}

/**
 * Checks a backlog's repository settings and resolves them into a `RepositoryTarget`:
 * - a local path must exist and be a git repository (its top level is used; a bare repository is used as
 *   it is) with at least one commit; `baseBranch` defaults to the checked-out branch (a detached HEAD is
 *   refused: set `metadata.base_branch`); an unknown base branch is refused; when the base branch is the
 *   checked-out one, uncommitted changes to tracked files are refused (they would silently not be part of
 *   the base: commit or stash them); the integration branch must not be checked out in any worktree (its
 *   merges move it without a checkout); a `push.remote` must be a remote of the repository (or a URL);
 * - a URL must answer `git ls-remote`, and have the base branch (default: the remote HEAD's branch);
 * - the integration branch name (and the attempt branch names of `cardIds`) must be valid branch names.
 *
 * @returns the target: absolute `path` (or `url`), the resolved `baseBranch`, `integrationBranch`, `push`, `keepBranches`
 * @throws RepositoryError naming the field (`metadata.repository`, `metadata.base_branch`,
 *   `metadata.push.remote`, `metadata.backlog_id`, `cards[].id`) and the path or URL.
 */
export async function inspectRepository(input: InspectRepositoryInput): Promise<RepositoryTarget> {
  const integrationBranch = integrationBranchName(input.backlogId);
  const badName = branchNameProblem(integrationBranch);
  if (badName)
    throw new RepositoryError(
      "metadata.backlog_id",
      `backlog id "${input.backlogId}" makes the branch name "${integrationBranch}", which ${badName}`,
    );
  for (const id of input.cardIds ?? []) {
    const name = attemptBranchName(input.backlogId, id, 1);
    const problem = branchNameProblem(name);
    if (problem)
      throw new RepositoryError("cards[].id", `card id "${id}" makes the branch name "${name}", which ${problem}`);
  }
  if (input.baseBranch !== undefined) {
    const problem = branchNameProblem(input.baseBranch);
    if (problem)
      throw new RepositoryError("metadata.base_branch", `"${input.baseBranch}" is not a branch name: it ${problem}`);
  }
  const common = {
    integrationBranch,
    ...(input.push && { push: input.push }),
    ...(input.keepBranches !== undefined && { keepBranches: input.keepBranches }),
  };
  if (isCloneUrl(input.source)) {
    const baseBranch = await inspectUrl(input.source, input.baseBranch, input.env);
    return { url: input.source, baseBranch, ...common };
  }
  const { path, baseBranch } = await inspectPath(resolve(input.baseDir, input.source), input.baseBranch, input.env);
  if (input.push) await inspectPushRemote(path, input.push.remote, input.env);
  const worktrees = await listWorktrees(path);
  const holder = worktrees.find((w) => w.branch === `refs/heads/${integrationBranch}`);
  if (holder) {
    throw new RepositoryError(
      "metadata.repository",
      `the integration branch ${integrationBranch} is checked out in ${holder.path}; squadflow's merges move it without a checkout — switch that worktree to another branch`,
    );
  }
  return { path, baseBranch, ...common };
}

async function inspectPath(
  abs: string,
  baseBranch: string | undefined,
  env?: Record<string, string | undefined>,
): Promise<{ path: string; baseBranch: string }> {
  const field = "metadata.repository";
  if (!(await stat(abs).catch(() => undefined))?.isDirectory())
    throw new RepositoryError(field, `${abs} does not exist (or is not a directory)`);
  const opts = { workerEnv: env };
  const probe = await git(abs, ["rev-parse", "--is-bare-repository", "--show-toplevel"], {
    ...opts,
    okExitCodes: [128],
  });
  if (probe.exitCode !== 0)
    throw new RepositoryError(field, `${abs} is not a git repository (git init it, or point at one)`);
  const [bareLine = "false", topLine] = probe.stdout.split("\n");
  const bare = bareLine.trim() === "true";
  const path = bare ? await gitOut(abs, ["rev-parse", "--absolute-git-dir"], opts) : (topLine ?? abs).trim();
  if ((await gitOut(path, ["rev-list", "-n", "1", "--all"], opts)) === "")
    throw new RepositoryError(field, `${path} has no commit yet; commit something to build on first`);
  const current = await git(path, ["symbolic-ref", "--quiet", "--short", "HEAD"], { ...opts, okExitCodes: [1] });
  const checkedOut = current.exitCode === 0 ? current.stdout.trim() : undefined;
  const base = baseBranch ?? checkedOut;
  if (base === undefined) {
    throw new RepositoryError(
      "metadata.base_branch",
      `${path} has a detached HEAD, so there is no current branch to build on; set metadata.base_branch`,
    );
  }
  if (!(await commitOf(path, `refs/heads/${base}`, opts))) {
    const known = (await gitOut(path, ["for-each-ref", "--format=%(refname:short)", "--count=10", "refs/heads/"], opts))
      .split("\n")
      .filter(Boolean);
    const what =
      checkedOut === base && baseBranch === undefined
        ? `the current branch "${base}" has no commit yet`
        : `branch "${base}" does not exist in ${path}`;
    throw new RepositoryError(
      "metadata.base_branch",
      `${what}${known.length ? ` (branches: ${known.join(", ")})` : ""}`,
    );
  }
  if (!bare && checkedOut === base) {
    const dirty = (await git(path, ["status", "--porcelain", "--untracked-files=no", "-z"], opts)).stdout
      .split("\0")
      .filter(Boolean);
    if (dirty.length > 0) {
      const files = dirty.slice(0, 5).map((l) => l.slice(3));
      throw new RepositoryError(
        field,
        `${path} has uncommitted changes on the base branch "${base}" (${files.join(", ")}${dirty.length > 5 ? ", …" : ""}); they would not be part of what the squad builds on — commit or stash them`,
      );
    }
  }
  return { path, baseBranch: base };
}

async function inspectPushRemote(
  path: string,
  remote: string,
  env?: Record<string, string | undefined>,
): Promise<void> {
  if (isCloneUrl(remote)) return;
  const r = await git(path, ["remote", "get-url", "--", remote], { workerEnv: env, okExitCodes: [2, 128] });
  if (r.exitCode !== 0) {
    const remotes = (await gitOut(path, ["remote"], { workerEnv: env })).split("\n").filter(Boolean);
    throw new RepositoryError(
      "metadata.push.remote",
      `"${remote}" is not a remote of ${path} (remotes: ${remotes.length ? remotes.join(", ") : "none"})`,
    );
  }
}

async function inspectUrl(
  url: string,
  baseBranch: string | undefined,
  env?: Record<string, string | undefined>,
): Promise<string> {
  let out: string;
  try {
    out = (
      await git(process.cwd(), ["ls-remote", "--symref", "--", url], {
        workerEnv: env,
        timeoutMs: NETWORK_GIT_TIMEOUT_MS,
      })
    ).stdout;
  } catch (err) {
    if (!(err instanceof GitError)) throw err;
    throw new RepositoryError(
      "metadata.repository",
      `${url} cannot be read (git ls-remote): ${err.stderr || err.message}`,
    );
  }
  const heads = new Set<string>();
  let headBranch: string | undefined;
  for (const line of out.split("\n")) {
    const sym = /^ref: refs\/heads\/(\S+)\tHEAD$/.exec(line);
    if (sym) headBranch = sym[1];
    const ref = /^[0-9a-f]{40,64}\trefs\/heads\/(\S+)$/.exec(line);
    if (ref) heads.add(ref[1]!);
  }
  const base = baseBranch ?? headBranch;
  if (base === undefined)
    throw new RepositoryError("metadata.base_branch", `${url} has no HEAD branch; set metadata.base_branch`);
  if (!heads.has(base)) {
    throw new RepositoryError(
      "metadata.base_branch",
      `branch "${base}" does not exist in ${url}${heads.size ? ` (branches: ${[...heads].slice(0, 10).join(", ")})` : " (it has no branches)"}`,
    );
  }
  return base;
}
