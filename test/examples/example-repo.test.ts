/**
 * The example's repository (scripts/example-repo.ts), made by `npm start`'s prestart: created from the seed
 * project when missing, reused as it is, and an earlier run's integration branch archived when the dev
 * server has no state of it. Every test makes its repository in a temp folder of its own.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { git, gitOut } from "../../src/activities/repository/git.js";
import { loadBacklog } from "../../src/cli/load.js";
import { BacklogValidationError } from "../../src/domain/index.js";
import {
  EXAMPLE_REPO_DIR,
  EXAMPLE_SEED_DIR,
  describeExampleRepository,
  ensureExampleRepository,
} from "../../scripts/example-repo.js";
import { filesOf, projectTestsOn } from "../helpers/example-repo.js";
import { BACKLOG_PATH, ROOT, listFiles } from "./helpers.js";

const temps: string[] = [];
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A path for a repository that does not exist yet, in a temp folder of its own. */
function freshPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "squadflow-example-repo-"));
  temps.push(dir);
  return join(dir, "shop");
}

describe("the example repository", () => {
  it("is where the example backlog points, and npm start makes it before it starts", () => {
    const backlog = JSON.parse(readFileSync(BACKLOG_PATH, "utf8")) as {
      metadata: { repository: string; base_branch: string };
    };
    expect(resolve(dirname(BACKLOG_PATH), backlog.metadata.repository)).toBe(EXAMPLE_REPO_DIR);
    expect(backlog.metadata.base_branch).toBe("main");
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts.prestart).toMatch(/&& tsx scripts\/example-repo\.ts$/);
    expect(readFileSync(join(ROOT, ".gitignore"), "utf8").split("\n")).toEqual(
      expect.arrayContaining(["state/repos/", "state/worktrees/"]),
    );
  });

  it("is made from the seed project: one commit on main, a clean checkout, and its tests pass", async () => {
    const dir = freshPath();
    const repo = await ensureExampleRepository(dir);
    expect(repo).toMatchObject({ dir, created: true, baseCommit: expect.stringMatching(/^[0-9a-f]{40}$/) });
    expect(repo.integrationTip).toBeUndefined();
    expect(await gitOut(dir, ["rev-list", "--count", "main"])).toBe("1");
    expect(await gitOut(dir, ["symbolic-ref", "--short", "HEAD"])).toBe("main");
    expect(await gitOut(dir, ["status", "--porcelain"])).toBe("");
    expect(await filesOf(dir, "main")).toEqual(listFiles(EXAMPLE_SEED_DIR));
    const tests = await projectTestsOn(dir, "main");
    expect(tests.code, tests.output).toBe(0);
    expect(tests.output).toMatch(/^(#|ℹ) pass 2$/m);
    expect(await describeExampleRepository(repo, dirname(dir))).toBe(
      `Example repository: created shop from ${relative(dirname(dir), EXAMPLE_SEED_DIR)} (main at ${repo.baseCommit.slice(0, 7)})`,
    );
  });

  it("validates as the example backlog’s repository: squadflow builds squadflow/shop-discounts from its main", async () => {
    const dir = freshPath();
    await ensureExampleRepository(dir);
    const plan = await loadBacklog(BACKLOG_PATH, { repo: dir });
    expect(plan.repository).toEqual({ path: dir, baseBranch: "main", integrationBranch: "squadflow/shop-discounts" });
  });

  it("is reused as it is on a second start, an integration branch of the run the server knows included", async () => {
    const dir = freshPath();
    const first = await ensureExampleRepository(dir);
    await git(dir, ["branch", "squadflow/shop-discounts", "main"]);
    const again = await ensureExampleRepository(dir, { freshServer: false });
    expect(again).toEqual({ dir, created: false, baseCommit: first.baseCommit, integrationTip: first.baseCommit });
    expect(await describeExampleRepository(again, dirname(dir))).toBe(
      `Example repository: shop (main at ${first.baseCommit.slice(0, 7)}; squadflow/shop-discounts has 0 merge(s) so far)`,
    );
  });

  it("archives an integration branch the dev server has no state of, so a fresh run starts from main", async () => {
    const dir = freshPath();
    const first = await ensureExampleRepository(dir);
    await git(dir, ["branch", "squadflow/shop-discounts", "main"]);
    const again = await ensureExampleRepository(dir, {
      freshServer: true,
      now: () => new Date("2026-12-05T22:06:07.123Z"),
    });
    expect(again).toEqual({
      dir,
      created: false,
      baseCommit: first.baseCommit,
      archivedAs: "squadflow-archive/shop-discounts/20261205T220607Z",
    });
    expect(await gitOut(dir, ["for-each-ref", "--format=%(refname:short) %(objectname)"])).toBe(
      [`main ${first.baseCommit}`, `squadflow-archive/shop-discounts/20261205T220607Z ${first.baseCommit}`].join("\n"),
    );
    // Without an integration branch there is nothing to archive.
    expect((await ensureExampleRepository(dir, { freshServer: true })).archivedAs).toBeUndefined();
  });

  it("refuses a folder that is in the way and not a git repository, and leaves it alone", async () => {
    const dir = freshPath();
    mkdirSync(dir);
    writeFileSync(join(dir, "notes.txt"), "mine");
    await expect(ensureExampleRepository(dir)).rejects.toThrow(
      `${dir} exists but is not a git repository; move it away (or delete it) and run again`,
    );
    expect(listFiles(dir)).toEqual(["notes.txt"]);
    expect(existsSync(join(dir, ".git"))).toBe(false);
  });
});

describe("a backlog whose repository is missing", () => {
  it("is refused before anything starts, naming the file and the field", async () => {
    const dir = freshPath();
    const err = await loadBacklog(BACKLOG_PATH, { repo: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BacklogValidationError);
    expect((err as BacklogValidationError).message).toContain("--repo");
    expect((err as BacklogValidationError).message).toContain(`${dir} does not exist`);
  });
});
