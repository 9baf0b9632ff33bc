/**
 * The CLI side of a backlog that delivers into a git repository (issue 9): bad repository settings are
 * refused before anything starts (exit 2, naming the file and the field), `--repo` overrides the file,
 * and `status --json`, `history`, `export` and `diff` show the repository, the integration branch and
 * each card's merge commit. Real git repositories, the CLI in-process against the run's dev server.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { WorkflowNotFoundError } from "@temporalio/client";
import { beforeAll, describe, expect, it } from "vitest";
import { loadBacklog } from "../../src/cli/load.js";
import { git, repoWorker, sandbox, startBacklog, type Box } from "../helpers/repository.js";
import { testEnv } from "../helpers/temporal.js";
import { uniqueBacklogId } from "../workflows/fakes.js";
import { cli } from "./helpers.js";

/** A backlog file of two cards (B after A) with the test agent, delivering into `repository` (as written). */
async function backlogFile(box: Box, backlogId: string, metadata: Record<string, unknown>): Promise<string> {
  const file = join(box.dir, `${backlogId}.json`);
  await writeFile(
    file,
    JSON.stringify({
      metadata: { backlog_id: backlogId, ...metadata },
      cards: [
        { id: "A", type: "DOC", title: "Card A" },
        { id: "B", type: "DOC", title: "Card B", dependencies: ["A"] },
      ],
      squad: {
        agents: {
          writer: {
            kind: "command",
            command: "node",
            args: [join(box.base, "agent.mjs")],
            env: { PLAN_FILE: box.planFile },
          },
        },
        card_types: {
          DOC: {
            owner: "writer",
            judge: { kind: "rubric", criteria: [{ name: "has intro", check: { type: "section", heading: "Intro" } }] },
          },
        },
      },
    }),
  );
  return file;
}

async function notStarted(backlogId: string): Promise<boolean> {
  const { client } = await testEnv();
  return client.workflow
    .getHandle(backlogId)
    .describe()
    .then(
      () => false,
      (err: unknown) => err instanceof WorkflowNotFoundError,
    );
}

beforeAll(async () => {
  process.env.TEMPORAL_ADDRESS = (await testEnv()).address;
});

describe("repository settings", () => {
  it("refuses a repository path that is not a git repository, naming the file and metadata.repository; nothing starts", async () => {
    const box = await sandbox();
    const id = uniqueBacklogId("notrepo");
    const file = await backlogFile(box, id, { repository: "project" }); // a folder, not a repository
    const v = await cli("validate", file, "--json");
    expect(v.code).toBe(2);
    const issues = JSON.parse(v.out).issues;
    expect(issues).toEqual([
      expect.objectContaining({
        file,
        field: "metadata.repository",
        message: expect.stringMatching(/not a git repository/),
      }),
    ]);
    const s = await cli("start", file);
    expect(s.code).toBe(2);
    expect(s.err).toContain(file);
    expect(s.err).toContain("metadata.repository");
    expect(await notStarted(id)).toBe(true);
  });

  it("refuses an unknown base branch and a dirty working tree on the base branch (commit or stash), before anything starts", async () => {
    const box = await sandbox();
    const id = uniqueBacklogId("badbase");
    const unknown = await backlogFile(box, id, { repository: "repo", base_branch: "develop" });
    const r1 = await cli("start", unknown);
    expect(r1.code).toBe(2);
    expect(r1.err).toMatch(/metadata\.base_branch.*develop/s);
    await writeFile(join(box.repo, "README.md"), "# changed, not committed\n");
    const dirty = await backlogFile(box, id, { repository: "repo" });
    const r2 = await cli("start", dirty);
    expect(r2.code).toBe(2);
    expect(r2.err).toMatch(/commit or stash/);
    expect(await notStarted(id)).toBe(true);
  });

  it("takes --repo over metadata.repository (relative to the working directory) and reports the branches it will use", async () => {
    const box = await sandbox();
    const id = uniqueBacklogId("override");
    const file = await backlogFile(box, id, { repository: "project" });
    const v = await cli("validate", file, "--repo", box.repo, "--json");
    expect(v.code, v.err).toBe(0);
    expect(JSON.parse(v.out).repository).toEqual({ path: box.repo, baseBranch: "main", branch: `squadflow/${id}` });
  });
});

describe("a finished backlog in a repository, through the CLI", () => {
  it("shows the repository and merge commits in status --json, history and export, and prints a card’s diff", async () => {
    const box = await sandbox();
    await writeFile(box.planFile, JSON.stringify({}));
    const id = uniqueBacklogId("shown");
    const file = await backlogFile(box, id, { repository: "repo" });
    const plan = await loadBacklog(file);
    const { worker, taskQueue } = await repoWorker(box);
    const handle = await startBacklog(taskQueue, plan);
    await worker.runUntil(handle.result());
    const branch = `squadflow/${id}`;
    const tipMerges = (await git(box.repo, "log", "--merges", "--first-parent", "--format=%H", branch))
      .split("\n")
      .reverse();

    const status = await cli("status", id, "--json");
    expect(status.code, status.err).toBe(0);
    const s = JSON.parse(status.out);
    expect(s.repository).toMatchObject({ path: box.repo, branch, baseBranch: "main" });
    expect(s.cards.map((c: { cardId: string; mergeCommit?: string }) => [c.cardId, c.mergeCommit])).toEqual([
      ["A", tipMerges[0]],
      ["B", tipMerges[1]],
    ]);
    expect((await cli("status", id)).out).toContain(`repository ${box.repo} · branch ${branch} (from main)`);

    const history = await cli("history", id, "B");
    expect(history.out).toContain(`integration branch ${branch}`);
    expect(history.out).toContain(`into ${branch} as ${tipMerges[1]}`);
    expect(history.out).toMatch(/branch squadflow-attempts\/.*\/B\/attempt-1 · [0-9a-f]{10}\.\.[0-9a-f]{10}/);

    const exported = await cli("export", id, "--json");
    const doc = JSON.parse(exported.out);
    expect(doc.metadata.integration_branch).toBe(branch);
    expect(doc.cards.find((c: { id: string }) => c.id === "B").merge_commit).toBe(tipMerges[1]);

    const diff = await cli("diff", id, "B");
    expect(diff.code, diff.err).toBe(0);
    expect(diff.out).toContain("+++ b/B.txt");
    expect(diff.out).toContain("+B attempt 1");
    expect(diff.out).not.toContain("A.txt"); // A's work came from the integration branch: not B's change
    const none = await cli("diff", id, "B", "--attempt", "7");
    expect(none.code).toBe(2);
    expect(none.err).toMatch(/no attempt 7/);
  });
});
