/**
 * The example's git repository for tests: each test makes its own from the seed project
 * (scripts/example-repo.ts `ensureExampleRepository`) in a temp folder — never the real state/repos/ — and
 * reads back what the squad delivered into it: the merges on the integration branch with their trailers,
 * the worktrees, and the project's own tests run on a checkout of the branch.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { git, gitOut } from "../../src/activities/repository/git.js";
import { ensureExampleRepository } from "../../scripts/example-repo.js";

/** A fresh example repository in a temp folder; `remove()` deletes the folder. */
export interface TempExampleRepository {
  /** The repository directory (`--repo`). */
  dir: string;
  remove(): Promise<void>;
}

/** Makes the example repository from the seed in a new temp folder (`<tmp>/<prefix>-…/shop`). */
export async function tempExampleRepository(prefix: string): Promise<TempExampleRepository> {
  const parent = await mkdtemp(join(tmpdir(), `squadflow-${prefix}-`));
  const repo = await ensureExampleRepository(join(parent, "shop"));
  return { dir: repo.dir, remove: () => rm(parent, { recursive: true, force: true }) };
}

/** A merge commit on the integration branch: its subject and git trailers (key → value). */
export interface MergeCommit {
  commit: string;
  subject: string;
  parents: number;
  trailers: Record<string, string>;
}

/** The merge commits of `branch` (first parent line, oldest first), with their trailers. */
export async function mergesOf(repoDir: string, branch: string): Promise<MergeCommit[]> {
  const out = await gitOut(repoDir, [
    "log",
    "--merges",
    "--first-parent",
    "--reverse",
    "--format=%H%x1f%P%x1f%s%x1f%(trailers:only,unfold)%x1e",
    `refs/heads/${branch}`,
  ]);
  return out
    .split("\x1e")
    .map((r) => r.trim())
    .filter(Boolean)
    .map((record) => {
      const [commit = "", parents = "", subject = "", trailerText = ""] = record.split("\x1f");
      const trailers = Object.fromEntries(
        trailerText
          .split("\n")
          .map((l) => /^([\w-]+):\s*(.*)$/.exec(l.trim()))
          .filter((m): m is RegExpExecArray => m !== null)
          .map((m) => [m[1]!, m[2]!]),
      );
      return { commit, subject, parents: parents.split(" ").filter(Boolean).length, trailers };
    });
}

/** Paths of `git worktree list --porcelain`: the main worktree first. */
export async function worktreePaths(repoDir: string): Promise<string[]> {
  const out = await gitOut(repoDir, ["worktree", "list", "--porcelain"]);
  return out
    .split("\n")
    .filter((l) => l.startsWith("worktree "))
    .map((l) => l.slice("worktree ".length));
}

/** Files of a branch's tree. */
export async function filesOf(repoDir: string, branch: string): Promise<string[]> {
  return (await gitOut(repoDir, ["ls-tree", "-r", "--name-only", `refs/heads/${branch}`])).split("\n").filter(Boolean);
}

/**
 * The project's own tests on `branch`, as a reviewer runs them: a detached worktree of the branch in a
 * temp folder, `npm test` there (`node --test`), then the worktree removed again.
 * @returns the exit code and the test output (stdout and stderr)
 */
export async function projectTestsOn(
  repoDir: string,
  branch: string,
): Promise<{ code: number | null; output: string }> {
  const parent = await mkdtemp(join(tmpdir(), "squadflow-review-"));
  const checkout = join(parent, "checkout");
  await git(repoDir, ["worktree", "add", "--detach", checkout, `refs/heads/${branch}`]);
  try {
    return await new Promise((resolve, reject) => {
      const child = spawn("npm", ["test"], {
        cwd: checkout,
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.on("data", (c: Buffer) => (output += c.toString("utf8")));
      child.stderr.on("data", (c: Buffer) => (output += c.toString("utf8")));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, output }));
    });
  } finally {
    await git(repoDir, ["worktree", "remove", "--force", checkout]);
    await rm(parent, { recursive: true, force: true });
  }
}
