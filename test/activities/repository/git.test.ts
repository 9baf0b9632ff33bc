/** The git runner (repository/git.ts): clean environment, squadflow's identity, typed errors. */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { commitOf, git, GitError, gitEnv, gitOut } from "../../../src/activities/repository/git.js";
import { gitSandbox, type GitSandbox } from "./helpers.js";

let sb: GitSandbox;
beforeEach(async () => {
  sb = await gitSandbox();
});
afterEach(async () => {
  await sb.cleanup();
});

describe("git runner", () => {
  it("passes only the allow-listed environment, never the caller's GIT_DIR or secrets, and no terminal prompt", () => {
    // Made-up values: only which names pass matters.
    const worker = {
      PATH: "path-of-test",
      HOME: "home-of-test",
      GIT_DIR: "other-git-dir",
      ANTHROPIC_API_KEY: "planted-value",
      SSH_AUTH_SOCK: "agent-socket",
    };
    expect(gitEnv(worker)).toEqual({
      PATH: "path-of-test",
      HOME: "home-of-test",
      SSH_AUTH_SOCK: "agent-socket",
      GIT_TERMINAL_PROMPT: "0",
      GIT_CONFIG_NOSYSTEM: "1",
      LC_ALL: "C",
      GIT_ADVICE: "0",
    });
  });

  it("commits as squadflow without signing or hooks when asked for its identity", async () => {
    await writeFile(join(sb.repo, ".git/hooks/pre-commit"), "#!/bin/sh\nexit 1\n", { mode: 0o755 });
    await sh("config", "commit.gpgsign", "true");
    await writeFile(join(sb.repo, "x.txt"), "x\n");
    await git(sb.repo, ["add", "x.txt"]);
    await git(sb.repo, ["commit", "-q", "-m", "by squadflow"], { identity: true });
    expect(await gitOut(sb.repo, ["log", "-1", "--format=%an <%ae> %G?"])).toBe("squadflow <squadflow@localhost> N");
  });

  it("throws a GitError naming the command, the directory and git's stderr; a held ref lock is recognized as contention", async () => {
    await writeFile(join(sb.repo, ".git/refs/heads/main.lock"), "");
    const head = (await commitOf(sb.repo, "HEAD"))!;
    const err = await git(sb.repo, ["update-ref", "refs/heads/main", head]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GitError);
    const g = err as GitError;
    expect(g.isLockContention).toBe(true);
    expect(g.message).toMatch(
      new RegExp(
        `^"git update-ref refs/heads/main ${head}" in ${sb.repo} exited 128: fatal: .*Unable to create '.*main\\.lock': File exists`,
      ),
    );
    const other = (await git(sb.repo, ["rev-parse", "--verify", "nope"]).catch((e: unknown) => e)) as GitError;
    expect(other.isLockContention).toBe(false);
    expect(other.exitCode).toBe(128);
  });

  it("says when the directory is missing", async () => {
    const err = (await git(join(sb.dir, "missing"), ["status"]).catch((e: unknown) => e)) as GitError;
    expect(err).toBeInstanceOf(GitError);
    expect(err.message).toMatch(/could not start \(ENOENT/);
  });
});

function sh(...args: string[]): Promise<string> {
  return gitOut(sb.repo, args);
}
