/**
 * The example's git repository (issue 9): `npm start` delivers state/backlog_master.example.json into
 * `state/repos/shop-discounts` (its `metadata.repository`, `repos/shop-discounts` relative to the backlog
 * file), and `npm start`'s `prestart` runs this script first so that the repository is there:
 *
 * - missing → made from the seed project `examples/shop-seed/` (a tiny Node project: package.json whose
 *   `npm test` is `node --test`, a README, a cart module and its test): `git init`, one commit by the
 *   checkout team on `main` — the base branch the backlog names;
 * - present → used as it is, so a second `npm start` continues where the first one left off: the backlog
 *   already exists on the dev server (state/temporal.db) and `dev` shows it, its integration branch
 *   `squadflow/shop-discounts` unchanged;
 * - present with an integration branch but no dev server state (`state/temporal.db` deleted to start
 *   afresh) → that branch is the record of a run the server no longer knows; the new run would redo every
 *   card on top of its own merged work. It is renamed to `squadflow-archive/shop-discounts/<UTC time>`
 *   (kept for reading, out of the way), and the new run builds a fresh integration branch from `main`.
 *
 * Run: `tsx scripts/example-repo.ts` (prints one line saying what it did). Tests call
 * `ensureExampleRepository` with a directory of their own, never the real state/repos/.
 */
import { existsSync } from "node:fs";
import { cp, mkdir, readdir } from "node:fs/promises";
import { relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { commitOf, git, gitOut } from "../src/activities/repository/git.js";
import { integrationBranchName } from "../src/domain/index.js";
import { PROJECT_ROOT } from "../src/temporal/cli-path.js";
import { DEFAULT_DEV_SERVER_DB } from "../src/temporal/dev-server.js";

/** The seed project the example repository is made from. */
export const EXAMPLE_SEED_DIR = resolve(PROJECT_ROOT, "examples", "shop-seed");
/** Where `npm start` keeps the example repository (git-ignored): the backlog's `metadata.repository`. */
export const EXAMPLE_REPO_DIR = resolve(PROJECT_ROOT, "state", "repos", "shop-discounts");
/** The example backlog's id, whose integration branch is `squadflow/shop-discounts`. */
export const EXAMPLE_BACKLOG_ID = "shop-discounts";
/** The base branch of the example repository (`metadata.base_branch` of the example backlog). */
export const EXAMPLE_BASE_BRANCH = "main";

/** Who made the seed commit: the project's own team, not squadflow. */
const SEED_IDENTITY = [
  "-c",
  "user.name=Acme checkout team",
  "-c",
  "user.email=checkout-team@acme.example",
  "-c",
  "commit.gpgsign=false",
  "-c",
  "core.hooksPath=/dev/null",
];

/** Options of `ensureExampleRepository`. */
export interface ExampleRepositoryOptions {
  /** The seed project to copy (default `examples/shop-seed/`). */
  seedDir?: string;
  /** The backlog whose integration branch may be archived (default `shop-discounts`). */
  backlogId?: string;
  /**
   * True when the dev server has no state of an earlier run (no `state/temporal.db`): an existing
   * integration branch is then archived. Default false: an existing repository is used as it is.
   */
  freshServer?: boolean;
  /** The clock of the archive branch's name (default now). */
  now?: () => Date;
}

/** What `ensureExampleRepository` found or did. */
export interface ExampleRepository {
  /** Absolute repository directory. */
  dir: string;
  /** True when it was made from the seed just now. */
  created: boolean;
  /** The commit of the base branch `main` (40 hex). */
  baseCommit: string;
  /** The integration branch's tip when it exists (after any archiving), else undefined. */
  integrationTip?: string;
  /** The branch an earlier run's integration branch was renamed to, when it was. */
  archivedAs?: string;
}

async function isRepository(dir: string): Promise<boolean> {
  return (await git(dir, ["rev-parse", "--git-dir"], { okExitCodes: [128] }).catch(() => undefined))?.exitCode === 0;
}

/** `2026-12-05T22:06:07.123Z` → `20261205T220607Z` (a valid ref name component). */
function stamp(at: Date): string {
  return at
    .toISOString()
    .replace(/\.\d+Z$/, "Z")
    .replace(/[-:]/g, "");
}

/**
 * Makes sure the example repository exists at `dir` (see the module docstring for the three cases).
 *
 * @returns where it is and what was done
 * @throws Error naming `dir` when it exists, is not a git repository and is not empty (nothing is
 *   overwritten), or when it has no branch `main`; `GitError` when git fails.
 */
export async function ensureExampleRepository(
  dir: string,
  opts: ExampleRepositoryOptions = {},
): Promise<ExampleRepository> {
  const abs = resolve(dir);
  const backlogId = opts.backlogId ?? EXAMPLE_BACKLOG_ID;
  let created = false;
  if (!existsSync(abs) || !(await isRepository(abs))) {
    if (existsSync(abs) && (await readdir(abs)).length > 0) {
      throw new Error(`${abs} exists but is not a git repository; move it away (or delete it) and run again`);
    }
    await mkdir(abs, { recursive: true });
    await cp(opts.seedDir ?? EXAMPLE_SEED_DIR, abs, { recursive: true });
    await git(abs, ["init", "--quiet", "--initial-branch", EXAMPLE_BASE_BRANCH]);
    await git(abs, ["add", "--all"]);
    await git(abs, [
      ...SEED_IDENTITY,
      "commit",
      "--quiet",
      "-m",
      "Acme Shop checkout: the project before the discount codes feature",
    ]);
    created = true;
  }
  const baseCommit = await commitOf(abs, `refs/heads/${EXAMPLE_BASE_BRANCH}`);
  if (!baseCommit)
    throw new Error(`${abs} has no branch "${EXAMPLE_BASE_BRANCH}", the example backlog's metadata.base_branch`);
  const integration = integrationBranchName(backlogId);
  let integrationTip = await commitOf(abs, `refs/heads/${integration}`);
  let archivedAs: string | undefined;
  if (integrationTip && opts.freshServer) {
    archivedAs = `squadflow-archive/${backlogId}/${stamp((opts.now ?? (() => new Date()))())}`;
    await git(abs, ["branch", "--move", integration, archivedAs]);
    integrationTip = undefined;
  }
  return {
    dir: abs,
    created,
    baseCommit,
    ...(integrationTip && { integrationTip }),
    ...(archivedAs && { archivedAs }),
  };
}

/** One line for the terminal: what `ensureExampleRepository` did. */
export async function describeExampleRepository(r: ExampleRepository, cwd = process.cwd()): Promise<string> {
  const where = relative(cwd, r.dir) || ".";
  const main = `${EXAMPLE_BASE_BRANCH} at ${r.baseCommit.slice(0, 7)}`;
  if (r.created) return `Example repository: created ${where} from ${relative(cwd, EXAMPLE_SEED_DIR)} (${main})`;
  const parts = [`Example repository: ${where} (${main}`];
  if (r.integrationTip) {
    const merges = (
      await gitOut(r.dir, ["rev-list", "--merges", "--count", `${EXAMPLE_BASE_BRANCH}..${r.integrationTip}`])
    ).trim();
    parts.push(`; ${integrationBranchName(EXAMPLE_BACKLOG_ID)} has ${merges} merge(s) so far`);
  }
  if (r.archivedAs) parts.push(`; no dev server state, so the earlier run's integration branch is now ${r.archivedAs}`);
  return `${parts.join("")})`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  try {
    const r = await ensureExampleRepository(EXAMPLE_REPO_DIR, {
      freshServer: !existsSync(resolve(PROJECT_ROOT, DEFAULT_DEV_SERVER_DB)),
    });
    console.log(await describeExampleRepository(r));
  } catch (err) {
    console.error(`example repository: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
