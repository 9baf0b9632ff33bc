/**
 * `inspectRepository`: the client's check of a backlog's repository settings before anything starts
 * (issue 9), against real repositories in temp folders.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { inspectRepository, RepositoryError } from "../../../src/activities/repository/index.js";
import { git } from "../../../src/activities/repository/git.js";
import { makeRepo, sh } from "./helpers.js";

let dir: string;
let repo: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "squadflow-inspect-"));
  repo = join(dir, "repo");
  await makeRepo(repo, { "README.md": "# x\n", "src/a.txt": "a\n" });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function refusal(p: Promise<unknown>): Promise<RepositoryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RepositoryError);
  return err as RepositoryError;
}

describe("inspectRepository", () => {
  it("resolves a relative path to the top level, the base branch to the current one, and names the integration branch", async () => {
    await sh(repo, "remote", "add", "backup", join(dir, "nowhere.git"));
    const target = await inspectRepository({
      source: "repo/src",
      backlogId: "shop",
      baseDir: dir,
      push: { remote: "backup" },
      keepBranches: true,
    });
    expect(target).toEqual({
      path: repo,
      baseBranch: "main",
      integrationBranch: "squadflow/shop",
      push: { remote: "backup" },
      keepBranches: true,
    });
  });

  it("accepts a named base branch other than the checked-out one even with a dirty tree", async () => {
    await sh(repo, "branch", "release");
    await writeFile(join(repo, "README.md"), "dirty\n");
    expect(
      (await inspectRepository({ source: repo, baseBranch: "release", backlogId: "shop", baseDir: dir })).baseBranch,
    ).toBe("release");
  });

  it("refuses a path that does not exist", async () => {
    const err = await refusal(inspectRepository({ source: "missing", backlogId: "shop", baseDir: dir }));
    expect(err.field).toBe("metadata.repository");
    expect(err.message).toContain(join(dir, "missing"));
  });

  it("refuses a directory that is not a git repository", async () => {
    await mkdir(join(dir, "plain"));
    const err = await refusal(inspectRepository({ source: join(dir, "plain"), backlogId: "shop", baseDir: dir }));
    expect(err.message).toMatch(/^metadata\.repository: .*plain is not a git repository/);
  });

  it("refuses a repository without any commit", async () => {
    await mkdir(join(dir, "empty"));
    await git(join(dir, "empty"), ["init", "--quiet", "-b", "main"]);
    const err = await refusal(inspectRepository({ source: join(dir, "empty"), backlogId: "shop", baseDir: dir }));
    expect(err.message).toMatch(/has no commit yet/);
  });

  it("refuses an unknown base branch, naming the branches there are", async () => {
    const err = await refusal(
      inspectRepository({ source: repo, baseBranch: "develop", backlogId: "shop", baseDir: dir }),
    );
    expect(err.field).toBe("metadata.base_branch");
    expect(err.message).toMatch(/branch "develop" does not exist in .*repo \(branches: main\)/);
  });

  it("refuses uncommitted changes when the base branch is the checked-out one (commit or stash)", async () => {
    await writeFile(join(repo, "src/a.txt"), "changed\n");
    const err = await refusal(inspectRepository({ source: repo, backlogId: "shop", baseDir: dir }));
    expect(err.field).toBe("metadata.repository");
    expect(err.message).toMatch(/uncommitted changes on the base branch "main" \(src\/a\.txt\).*commit or stash/);
  });

  it("refuses a detached HEAD without metadata.base_branch", async () => {
    await sh(repo, "checkout", "--quiet", "--detach");
    const err = await refusal(inspectRepository({ source: repo, backlogId: "shop", baseDir: dir }));
    expect(err.field).toBe("metadata.base_branch");
    expect(err.message).toMatch(/detached HEAD.*set metadata\.base_branch/);
    expect(
      (await inspectRepository({ source: repo, baseBranch: "main", backlogId: "shop", baseDir: dir })).baseBranch,
    ).toBe("main");
  });

  it("refuses a push remote the repository does not have", async () => {
    const err = await refusal(
      inspectRepository({ source: repo, backlogId: "shop", baseDir: dir, push: { remote: "origin" } }),
    );
    expect(err.field).toBe("metadata.push.remote");
    expect(err.message).toMatch(/"origin" is not a remote of .*repo \(remotes: none\)/);
  });

  it("refuses ids that make invalid branch names", async () => {
    expect((await refusal(inspectRepository({ source: repo, backlogId: "shop.lock", baseDir: dir }))).field).toBe(
      "metadata.backlog_id",
    );
    expect(
      (
        await refusal(
          inspectRepository({ source: repo, backlogId: "shop", baseDir: dir, cardIds: ["OK-1", "bad..id"] }),
        )
      ).field,
    ).toBe("cards[].id");
  });

  it("refuses a repository where the integration branch is checked out", async () => {
    await sh(repo, "checkout", "--quiet", "-b", "squadflow/shop");
    const err = await refusal(inspectRepository({ source: repo, baseBranch: "main", backlogId: "shop", baseDir: dir }));
    expect(err.message).toMatch(/integration branch squadflow\/shop is checked out/);
  });

  it("checks a clone URL with git ls-remote: default base = the remote HEAD branch; unknown branch and unreachable URL refused", async () => {
    const bare = join(dir, "remote.git");
    await git(dir, ["clone", "--quiet", "--bare", repo, bare]);
    const url = pathToFileURL(bare).href;
    expect(await inspectRepository({ source: url, backlogId: "shop", baseDir: dir })).toEqual({
      url,
      baseBranch: "main",
      integrationBranch: "squadflow/shop",
    });
    expect(
      (await refusal(inspectRepository({ source: url, baseBranch: "nope", backlogId: "shop", baseDir: dir }))).field,
    ).toBe("metadata.base_branch");
    const gone = await refusal(
      inspectRepository({ source: pathToFileURL(join(dir, "gone.git")).href, backlogId: "shop", baseDir: dir }),
    );
    expect(gone.field).toBe("metadata.repository");
    expect(gone.message).toContain("gone.git");
  });
});
