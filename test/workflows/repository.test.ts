/**
 * A backlog that delivers into a git repository (issue 9), end to end through the workflows on the dev
 * server with the real activities: real git repositories in temp folders, real `git` processes, a real
 * `command` owner agent. Each attempt works in its own worktree made from the integration branch tip;
 * approved work is merged `--no-ff` with trailers exactly once; a conflict is a rejection; nothing is left
 * in `git worktree list` once the backlog ends.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { inspectRepository } from "../../src/activities/repository/index.js";
import { MERGE_TRAILERS, attemptBranchPrefix, withRepository } from "../../src/domain/index.js";
import type { BacklogState } from "../../src/workflows/backlog.js";
import { cardStateQuery } from "../../src/workflows/card.js";
import {
  extraWorktrees,
  git,
  merges,
  repoPlan,
  repoWorker,
  run,
  sandbox,
  startBacklog,
} from "../helpers/repository.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import { until } from "../helpers/until.js";
import { cardStates, fakeActivities, fakeRepositoryActivities, testPlan, uniqueBacklogId } from "./fakes.js";
import { ApplicationFailure } from "@temporalio/common";

describe("a backlog delivering into a git repository", () => {
  it("runs a 3-card chain whose dependents see the earlier cards’ files, merges each card once with its trailers, and leaves no worktree", async () => {
    const box = await sandbox();
    await writeFile(box.planFile, JSON.stringify({ B: { needs: ["A.txt"] }, C: { needs: ["A.txt", "B.txt"] } }));
    const backlogId = uniqueBacklogId("chain");
    const plan = await repoPlan(box, backlogId, [
      { id: "A" },
      { id: "B", dependencies: ["A"] },
      { id: "C", dependencies: ["B"] },
    ]);
    const { worker, taskQueue } = await repoWorker(box);
    const handle = await startBacklog(taskQueue, plan);
    const result: BacklogState = await worker.runUntil(handle.result());

    expect(result.cards.map((c) => [c.cardId, c.outcome?.status])).toEqual([
      ["A", "DONE"],
      ["B", "DONE"],
      ["C", "DONE"],
    ]);
    const branch = `squadflow/${backlogId}`;
    const log = await merges(box.repo, branch);
    expect(log.map((m) => m.trailers[MERGE_TRAILERS.card])).toEqual(["A", "B", "C"]);
    for (const m of log) {
      expect(m.subject).toMatch(new RegExp(`^squadflow: merge ${m.trailers[MERGE_TRAILERS.card]} \\(attempt 1\\)`));
      expect(m.trailers).toMatchObject({ [MERGE_TRAILERS.backlog]: backlogId, [MERGE_TRAILERS.attempt]: "1" });
      expect(Number(m.trailers[MERGE_TRAILERS.costUsd])).toBeGreaterThanOrEqual(0);
      // --no-ff: two parents, the integration tip before and the attempt branch.
      expect((await git(box.repo, "rev-list", "--parents", "-n", "1", m.commit)).split(" ")).toHaveLength(3);
    }
    // Each card's state names its merge commit; its artifacts are the files it changed.
    const states = await cardStates((await testEnv()).client, result);
    expect(states.map((s) => s.merge?.commit)).toEqual(log.map((m) => m.commit));
    expect(states.map((s) => s.attempts[0]!.artifacts)).toEqual([["A.txt"], ["B.txt"], ["C.txt"]]);
    expect(await git(box.repo, "show", `${branch}:C.txt`)).toBe("# Intro\nC attempt 1");
    // The base branch never moved; the attempt branches and worktrees are gone.
    expect(await git(box.repo, "rev-list", "--count", "main")).toBe("1");
    expect(await extraWorktrees(box.repo)).toEqual([]);
    expect(await git(box.repo, "branch", "--list", `${attemptBranchPrefix(backlogId)}*`)).toBe("");
    expect(await git(box.repo, "branch", "--list", "squadflow*")).toBe(branch);
    expect(result.repository).toMatchObject({ path: box.repo, branch, baseBranch: "main", cleanedUp: true });
  });

  it("gives the second of two cards editing the same line a correction naming the file and the first card, then merges both", async () => {
    const box = await sandbox();
    await writeFile(box.planFile, JSON.stringify({ X: { shared: "line from X" }, Y: { shared: "line from Y" } }));
    const backlogId = uniqueBacklogId("conflict");
    const plan = await repoPlan(box, backlogId, [{ id: "X" }, { id: "Y" }]);
    // Y's first merge waits until X is merged, so the two attempts both start from the same tip and collide.
    let xMerged: () => void = () => undefined;
    const xDone = new Promise<void>((r) => (xMerged = r));
    const { worker, taskQueue } = await repoWorker(box, (merge) => async (input) => {
      if (input.cardId === "Y" && input.attempt === 1) await xDone;
      const out = await merge(input);
      if (input.cardId === "X") xMerged();
      return out;
    });
    const handle = await startBacklog(taskQueue, plan);
    const result: BacklogState = await worker.runUntil(handle.result());

    expect(result.cards.map((c) => [c.cardId, c.outcome?.status])).toEqual([
      ["X", "DONE"],
      ["Y", "DONE"],
    ]);
    const y = (await cardStates((await testEnv()).client, result))[1]!;
    const first = y.attempts[0]!;
    const mergeVerdict = first.verdicts.find((v) => v.validator === "merge");
    expect(mergeVerdict?.passed).toBe(false);
    expect(mergeVerdict?.reasons[0]).toMatch(/merge conflict with the work of X .* in shared\.txt/);
    expect(
      y.attempts[1]!.feedback?.reasons.some((r) => r.startsWith("merge: merge conflict") && r.includes("shared.txt")),
    ).toBe(true);
    expect(y.statusHistory.map((s) => s.status)).toContain("CORRECTING");
    const branch = `squadflow/${backlogId}`;
    expect(
      (await merges(box.repo, branch)).map(
        (m) => `${m.trailers[MERGE_TRAILERS.card]}#${m.trailers[MERGE_TRAILERS.attempt]}`,
      ),
    ).toEqual(["X#1", "Y#2"]);
    expect(await git(box.repo, "show", `${branch}:shared.txt`)).toMatch(
      /line from X[\s\S]*line from Y|line from Y[\s\S]*line from X/,
    );
    expect(await extraWorktrees(box.repo)).toEqual([]);
  });

  it("merges once when the merge is retried after it was made (a worker lost between merge and DONE)", async () => {
    const box = await sandbox();
    await writeFile(box.planFile, JSON.stringify({}));
    const backlogId = uniqueBacklogId("once");
    const plan = await repoPlan(box, backlogId, [{ id: "M" }]);
    let tries = 0;
    // The first try merges, then fails as a worker dying right after the merge would: Temporal retries it.
    const { worker, taskQueue } = await repoWorker(box, (merge) => async (input) => {
      const out = await merge(input);
      if (++tries === 1) throw new Error("worker lost after the merge");
      return out;
    });
    const handle = await startBacklog(taskQueue, plan);
    const result: BacklogState = await worker.runUntil(handle.result());
    expect(tries).toBe(2);
    const log = await merges(box.repo, `squadflow/${backlogId}`);
    expect(log).toHaveLength(1);
    expect((await cardStates((await testEnv()).client, result))[0]!.merge?.commit).toBe(log[0]!.commit);
  });

  it("pushes the integration branch to a bare repository when the backlog finishes", async () => {
    const box = await sandbox();
    await writeFile(box.planFile, JSON.stringify({}));
    const bare = join(box.dir, "remote.git");
    await run("git", ["init", "-q", "--bare", bare]);
    await git(box.repo, "remote", "add", "origin", bare);
    const backlogId = uniqueBacklogId("push");
    const plan = testPlan(backlogId, [{ id: "P" }], 1, {
      agents: { writer: { kind: "command", command: "node", args: ["./agent.mjs"], env: { PLAN_FILE: box.planFile } } },
    });
    const target = await inspectRepository({
      source: box.repo,
      backlogId,
      baseDir: box.dir,
      push: { remote: "origin", branch: "delivered" },
    });
    const { worker, taskQueue } = await repoWorker(box);
    const handle = await startBacklog(taskQueue, withRepository(plan, target));
    const result: BacklogState = await worker.runUntil(handle.result());
    const tip = await git(box.repo, "rev-parse", `squadflow/${backlogId}`);
    expect(await git(bare, "rev-parse", "refs/heads/delivered")).toBe(tip);
    expect(result.repository?.push).toEqual({ remote: "origin", branch: "delivered", commit: tip });
  });

  it("ends the backlog when the push is refused, with the refusal in its state", async () => {
    const backlogId = uniqueBacklogId("refused");
    const target = {
      path: "/srv/repo",
      baseBranch: "main",
      integrationBranch: `squadflow/${backlogId}`,
      push: { remote: "origin" },
    };
    const plan = withRepository(testPlan(backlogId, [{ id: "Q" }]), target);
    const repo = fakeRepositoryActivities();
    const taskQueue = uniqueTaskQueue("refused");
    const worker = await createTestWorker({
      taskQueue,
      activities: {
        ...fakeActivities({}).activities,
        ...repo.activities,
        async pushIntegrationBranch(): Promise<never> {
          throw ApplicationFailure.nonRetryable(
            "git push origin squadflow/x: ! [rejected] (non-fast-forward)",
            "PushRefusedError",
          );
        },
      },
    });
    const handle = await startBacklog(taskQueue, plan);
    const result: BacklogState = await worker.runUntil(handle.result());
    expect(result.cards[0]!.outcome?.status).toBe("DONE");
    expect(result.repository?.push).toEqual({
      remote: "origin",
      branch: `squadflow/${backlogId}`,
      error: expect.stringContaining("non-fast-forward"),
    });
    expect(result.repository?.cleanedUp).toBe(true);
  });

  it("removes the worktree of a card cancelled while its owner runs, and the backlog ends with none left", async () => {
    const box = await sandbox();
    await writeFile(box.planFile, JSON.stringify({ K: { hold: true }, L: { hold: true } }));
    const backlogId = uniqueBacklogId("cancel");
    const plan = await repoPlan(box, backlogId, [{ id: "K" }, { id: "L" }]);
    const { worker, taskQueue } = await repoWorker(box);
    const handle = await startBacklog(taskQueue, plan);
    const { client } = await testEnv();
    const worktree = (card: string) => join(box.dir, "state", "worktrees", backlogId, card, "attempt-1");
    const started = (card: string) => readFile(`${box.planFile}.${card}.started`, "utf8").catch(() => undefined);
    const result: BacklogState = await worker.runUntil(async () => {
      await until("both owners to run in their worktrees", async () =>
        (await started("K")) && (await started("L")) ? true : undefined,
      );
      expect((await extraWorktrees(box.repo)).sort()).toEqual([worktree("K"), worktree("L")]);
      await client.workflow.getHandle(`${backlogId}/K`).cancel();
      // K's own cancellation removes its worktree while L still runs.
      await until("K's worktree to be removed", async () => {
        const left = await extraWorktrees(box.repo);
        return left.length === 1 && left[0] === worktree("L") ? true : undefined;
      });
      await writeFile(`${box.planFile}.L.release`, "");
      return handle.result();
    });
    expect(result.cards.map((c) => [c.cardId, c.outcome?.status])).toEqual([
      ["K", "CANCELLED"],
      ["L", "DONE"],
    ]);
    expect(await extraWorktrees(box.repo)).toEqual([]);
  });
});
