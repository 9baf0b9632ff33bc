/**
 * The repository model through the activities (issue 9), with real git repositories and a real `command`
 * owner agent: a worktree per attempt made from the integration tip, squadflow's commit of leftovers, the
 * attempt's changed files as artifacts, and `--no-ff` merges into `squadflow/<backlogId>` exactly once.
 */
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createRunOwner } from "../../../src/activities/owner.js";
import { createRepositoryActivities } from "../../../src/activities/repository/index.js";
import { git } from "../../../src/activities/repository/git.js";
import { parseTrailers, type AttemptGit } from "../../../src/domain/repository.js";
import {
  agentRuns,
  agentView,
  attemptBranchName,
  gitSandbox,
  mergeInput,
  ownerInput,
  planCard,
  sh,
  worktreeOf,
  type GitSandbox,
} from "./helpers.js";

let sb: GitSandbox;
beforeEach(async () => {
  sb = await gitSandbox({ "README.md": "# Shop\n", "src/shared.txt": "line one\nline two\n" });
});
afterEach(async () => {
  await sb.cleanup();
});

const integration = "squadflow/shop";

describe("a chain of cards in one repository", () => {
  it("gives every card a worktree with the earlier cards merged in, and merges each as a --no-ff merge commit with its trailers", async () => {
    const runOwner = createRunOwner(sb.deps);
    const { mergeAttempt } = createRepositoryActivities(sb.deps);
    const a = planCard("BE-001", { write: { "src/api.ts": "export const api = 1;\n" } });
    const b = planCard(
      "BE-002",
      { write: { "src/service.ts": 'import { api } from "./api";\n' } },
      { dependencies: ["BE-001"] },
    );
    const c = planCard(
      "FE-001",
      { write: { "web/app.ts": "app\n" }, commit: true },
      { dependencies: ["BE-001", "BE-002"] },
    );

    const ra = await runOwner(ownerInput(sb, a));
    expect(ra.artifacts).toEqual(["src/api.ts"]);
    expect(ra.git?.branch).toBe(attemptBranchName("shop", "BE-001", 1));
    const main = await sh(sb.repo, "rev-parse", "main");
    expect(ra.git?.baseCommit).toBe(main);
    const ma = await mergeAttempt(mergeInput(sb, a, 1, ra.git!));
    expect(ma).toMatchObject({ status: "merged", alreadyMerged: false });

    const rb = await runOwner(ownerInput(sb, b, 1, { dependencies: [{ cardId: "BE-001", artifacts: ra.artifacts }] }));
    const viewB = await agentView(sb, "BE-002", 1);
    expect(viewB.files).toContain("src/api.ts");
    expect(viewB.cwd).toBe(worktreeOf(sb, "BE-002"));
    // Dependency artifacts are repository-relative paths already in the worktree.
    expect(viewB.request.dependencies).toEqual([
      { card_id: "BE-001", artifacts: [join(worktreeOf(sb, "BE-002"), "src/api.ts")] },
    ]);
    expect(viewB.request.repository).toEqual({
      worktree: worktreeOf(sb, "BE-002"),
      branch: "squadflow-attempts/shop/BE-002/attempt-1",
      base_commit: ma.status === "merged" ? ma.commit : "",
      integration_branch: integration,
    });
    expect(rb.artifacts).toEqual(["src/service.ts"]);
    await mergeAttempt(mergeInput(sb, b, 1, rb.git!));

    const rc = await runOwner(ownerInput(sb, c));
    expect((await agentView(sb, "FE-001", 1)).files).toEqual(expect.arrayContaining(["src/api.ts", "src/service.ts"]));
    expect(rc.artifacts).toEqual(["web/app.ts"]);
    const mc = await mergeAttempt(mergeInput(sb, c, 1, rc.git!, { human: { reviewer: "ana", decision: "approve" } }));
    expect(mc.status).toBe("merged");

    const bodies = (await sh(sb.repo, "log", "--merges", "--format=%B%x00", integration))
      .split("\0")
      .map((s) => s.trim())
      .filter(Boolean);
    expect(bodies).toHaveLength(3);
    const trailers = bodies.map(parseTrailers);
    expect(trailers.map((t) => t["Squadflow-Card"])).toEqual(["FE-001", "BE-002", "BE-001"]);
    expect(trailers[2]).toEqual({
      "Squadflow-Backlog": "shop",
      "Squadflow-Card": "BE-001",
      "Squadflow-Attempt": "1",
      "Squadflow-Cost-Usd": "0.250000",
    });
    expect(trailers[0]).toMatchObject({ "Squadflow-Reviewer": "ana", "Squadflow-Decision": "approve" });
    expect(bodies[2]).toMatch(/^squadflow: merge BE-001 \(attempt 1\): Card BE-001/);
    // One merge per card on the first-parent line, each a real two-parent merge of the attempt branch.
    const firstParent = (await sh(sb.repo, "rev-list", "--first-parent", `main..${integration}`)).split("\n");
    expect(firstParent).toHaveLength(3);
    expect(await sh(sb.repo, "rev-parse", `${integration}^2`)).toBe(rc.git!.headCommit);
    expect(await sh(sb.repo, "show", `${integration}:web/app.ts`)).toBe("app");
    // The base branch never moves.
    expect(await sh(sb.repo, "rev-parse", "main")).toBe(main);
  });
});

describe("runOwner in a repository", () => {
  it("commits what the agent left uncommitted as squadflow, naming card and attempt; deletions go to git.deleted", async () => {
    const runOwner = createRunOwner(sb.deps);
    const card = planCard("BE-001", {
      write: { "src/new.ts": "new\n", "src/shared.txt": "line one\nchanged\n" },
      delete: ["README.md"],
    });
    const r = await runOwner(ownerInput(sb, card));
    expect(r.artifacts.sort()).toEqual(["src/new.ts", "src/shared.txt"]);
    expect(r.git?.deleted).toEqual(["README.md"]);
    const wt = worktreeOf(sb, "BE-001");
    expect(await sh(wt, "status", "--porcelain")).toBe("");
    expect(await sh(wt, "log", "-1", "--format=%an <%ae>%n%s", r.git!.headCommit)).toBe(
      "squadflow <squadflow@localhost>\nsquadflow: BE-001 attempt 1: Card BE-001",
    );
    expect(await sh(sb.repo, "rev-parse", attemptBranchName("shop", "BE-001", 1))).toBe(r.git!.headCommit);
  });

  it("counts the agent's own commits and commits only what it left on top", async () => {
    const runOwner = createRunOwner(sb.deps);
    const card = planCard("BE-001", { write: { "src/a.ts": "a\n" }, commit: true });
    const r = await runOwner(ownerInput(sb, card));
    expect(r.artifacts).toEqual(["src/a.ts"]);
    // Only the agent's commit: nothing was left over, so squadflow made none.
    expect(
      await sh(worktreeOf(sb, "BE-001"), "log", "--format=%an", `${r.git!.baseCommit}..${r.git!.headCommit}`),
    ).toBe("agent");
  });

  it("runs the agent once per attempt: a retry after the agent finished returns the record and leaves the worktree as it is", async () => {
    const runOwner = createRunOwner(sb.deps);
    const input = ownerInput(sb, planCard("BE-001", { write: { "src/a.ts": "a\n" } }));
    const first = await runOwner(input);
    const marker = join(worktreeOf(sb, "BE-001"), "touched-after.txt");
    await writeFile(marker, "x");
    const again = await runOwner(input);
    expect(again).toEqual(first);
    expect(await agentRuns(sb)).toEqual(["BE-001 1"]);
    expect(await readFile(marker, "utf8")).toBe("x");
  });

  it("recreates a stale worktree a killed worker left (registered, dirty, with junk) clean", async () => {
    const runOwner = createRunOwner(sb.deps);
    const wt = worktreeOf(sb, "BE-001");
    await mkdir(join(sb.dir, "worktrees", "shop", "BE-001"), { recursive: true });
    await git(sb.repo, ["worktree", "add", "--quiet", "-b", "squadflow-attempts/shop/BE-001/attempt-1", wt, "main"]);
    await writeFile(join(wt, "junk.txt"), "half-written\n");
    await writeFile(join(wt, "README.md"), "clobbered\n");
    await sh(wt, "add", "junk.txt");
    const r = await runOwner(ownerInput(sb, planCard("BE-001", { write: { "src/a.ts": "a\n" } })));
    expect(r.artifacts).toEqual(["src/a.ts"]);
    expect(await stat(join(wt, "junk.txt")).catch(() => undefined)).toBeUndefined();
    expect(await readFile(join(wt, "README.md"), "utf8")).toBe("# Shop\n");
    expect((await agentView(sb, "BE-001", 1)).files).not.toContain("junk.txt");
  });

  it("recreates a stale worktree directory that git no longer knows (half-made, junk inside)", async () => {
    const runOwner = createRunOwner(sb.deps);
    const wt = worktreeOf(sb, "BE-001");
    await mkdir(join(wt, "partial"), { recursive: true });
    await writeFile(join(wt, "partial", "junk.txt"), "junk\n");
    const r = await runOwner(ownerInput(sb, planCard("BE-001", { write: { "src/a.ts": "a\n" } })));
    expect(r.artifacts).toEqual(["src/a.ts"]);
    expect(await stat(join(wt, "partial")).catch(() => undefined)).toBeUndefined();
    const listed = await sh(sb.repo, "worktree", "list", "--porcelain");
    expect(listed.match(/^worktree /gm)).toHaveLength(2);
  });

  it("continues the previous attempt in a correction, rebased on an integration tip that moved", async () => {
    const runOwner = createRunOwner(sb.deps);
    const { mergeAttempt } = createRepositoryActivities(sb.deps);
    const a1 = await runOwner(ownerInput(sb, planCard("BE-001", { write: { "src/a.ts": "first try\n" } })));
    // Another card lands meanwhile.
    const other = planCard("BE-009", { write: { "src/other.ts": "other\n" } });
    const o = await runOwner(ownerInput(sb, other));
    const merged = await mergeAttempt(mergeInput(sb, other, 1, o.git!));
    const tip = merged.status === "merged" ? merged.commit : "";
    const a2 = await runOwner(
      ownerInput(sb, planCard("BE-001", { write: { "src/a2.ts": "fix\n" } }), 2, {
        previousGit: a1.git!,
        feedback: { round: 1, reasons: ["qa: fails"] },
      }),
    );
    const view = await agentView(sb, "BE-001", 2);
    expect(view.files).toEqual(expect.arrayContaining(["src/a.ts", "src/other.ts"]));
    expect(a2.git?.baseCommit).toBe(tip);
    expect(a2.git?.branch).toBe("squadflow-attempts/shop/BE-001/attempt-2");
    // The change against the new base: the first attempt's file (rebased) and the fix, not the other card's.
    expect(a2.artifacts.sort()).toEqual(["src/a.ts", "src/a2.ts"]);
    // The previous branch is left as it was.
    expect(await sh(sb.repo, "rev-parse", "squadflow-attempts/shop/BE-001/attempt-1")).toBe(a1.git!.headCommit);
  });

  it("merges the tip into the previous head when the rebase of a correction conflicts, leaving the conflict for the owner; resolved, it merges clean", async () => {
    const runOwner = createRunOwner(sb.deps);
    const { mergeAttempt } = createRepositoryActivities(sb.deps);
    const a1 = await runOwner(ownerInput(sb, planCard("BE-001", { write: { "src/shared.txt": "line one\nmine\n" } })));
    const other = planCard("BE-009", { write: { "src/shared.txt": "line one\ntheirs\n" } });
    const o = await runOwner(ownerInput(sb, other));
    const tip = await mergeAttempt(mergeInput(sb, other, 1, o.git!));
    expect(tip.status).toBe("merged");
    if (tip.status !== "merged") return;
    // The correction's owner writes the resolution (both lines) over the conflicted file.
    const a2 = await runOwner(
      ownerInput(sb, planCard("BE-001", { write: { "src/shared.txt": "line one\nmine\ntheirs\n" } }), 2, {
        previousGit: a1.git!,
      }),
    );
    // Measured against the tip now: the change is the resolution, and the tip is in the attempt's history.
    expect(a2.git?.baseCommit).toBe(tip.commit);
    expect(a2.artifacts).toEqual(["src/shared.txt"]);
    expect((await sh(sb.repo, "rev-list", "--parents", "-n", "1", a2.git!.headCommit)).split(" ")).toEqual([
      a2.git!.headCommit,
      a1.git!.headCommit,
      tip.commit,
    ]);
    expect(await sh(worktreeOf(sb, "BE-001", 2), "status", "--porcelain")).toBe("");
    expect(await mergeAttempt(mergeInput(sb, planCard("BE-001", {}), 2, a2.git!))).toMatchObject({
      status: "merged",
      alreadyMerged: false,
    });
  });

  it("leaves the conflict markers in the correction worktree for the owner to see", async () => {
    const runOwner = createRunOwner(sb.deps);
    const { mergeAttempt } = createRepositoryActivities(sb.deps);
    const a1 = await runOwner(ownerInput(sb, planCard("BE-001", { write: { "src/shared.txt": "line one\nmine\n" } })));
    const other = planCard("BE-009", { write: { "src/shared.txt": "line one\ntheirs\n" } });
    expect((await mergeAttempt(mergeInput(sb, other, 1, (await runOwner(ownerInput(sb, other))).git!))).status).toBe(
      "merged",
    );
    // An owner that changes nothing else: squadflow's commit keeps the markers, which verification flags.
    const a2 = await runOwner(
      ownerInput(sb, planCard("BE-001", { write: { "src/b.ts": "b\n" } }), 2, { previousGit: a1.git! }),
    );
    const text = await readFile(join(worktreeOf(sb, "BE-001", 2), "src/shared.txt"), "utf8");
    expect(text).toMatch(/^<<<<<<< [\s\S]*mine[\s\S]*=======[\s\S]*theirs[\s\S]*>>>>>>> /m);
    expect(a2.artifacts.sort()).toEqual(["src/b.ts", "src/shared.txt"]);
  });
});

describe("mergeAttempt", () => {
  async function attempt(card: ReturnType<typeof planCard>): Promise<AttemptGit> {
    return (await createRunOwner(sb.deps)(ownerInput(sb, card))).git!;
  }

  it("returns a conflict naming the file and the card whose merge brought it when two cards edit the same line", async () => {
    const { mergeAttempt } = createRepositoryActivities(sb.deps);
    const a = planCard("BE-001", { write: { "src/shared.txt": "line one\nfrom A\n" } });
    const b = planCard("BE-002", { write: { "src/shared.txt": "line one\nfrom B\n", "src/b.ts": "b\n" } });
    const ga = await attempt(a);
    const gb = await attempt(b); // both from the same tip
    expect((await mergeAttempt(mergeInput(sb, a, 1, ga))).status).toBe("merged");
    const tip = await sh(sb.repo, "rev-parse", integration);
    expect(await mergeAttempt(mergeInput(sb, b, 1, gb))).toEqual({
      status: "conflict",
      files: ["src/shared.txt"],
      cards: ["BE-001"],
    });
    expect(await sh(sb.repo, "rev-parse", integration)).toBe(tip);
  });

  it("merges once: a retry finds its merge by the trailers and reports alreadyMerged", async () => {
    const { mergeAttempt } = createRepositoryActivities(sb.deps);
    const a = planCard("BE-001", { write: { "src/a.ts": "a\n" } });
    const ga = await attempt(a);
    const first = await mergeAttempt(mergeInput(sb, a, 1, ga));
    const again = await mergeAttempt(mergeInput(sb, a, 1, ga));
    expect(first).toMatchObject({ status: "merged", alreadyMerged: false });
    expect(again).toEqual({
      status: "merged",
      commit: first.status === "merged" ? first.commit : "",
      alreadyMerged: true,
    });
    expect(await sh(sb.repo, "rev-list", "--merges", "--count", integration)).toBe("1");
  });

  it("lands two merges made at once (compare-and-swap on the integration branch)", async () => {
    const deps2 = createRepositoryActivities(sb.deps);
    const deps1 = createRepositoryActivities(sb.deps);
    const cards = ["BE-001", "BE-002", "BE-003", "BE-004"].map((id) =>
      planCard(id, { write: { [`src/${id}.ts`]: `${id}\n` } }),
    );
    const gits: AttemptGit[] = [];
    for (const c of cards) gits.push(await attempt(c));
    const results = await Promise.all(
      cards.map((c, i) => (i % 2 ? deps1 : deps2).mergeAttempt(mergeInput(sb, c, 1, gits[i]!))),
    );
    expect(results.map((r) => r.status)).toEqual(["merged", "merged", "merged", "merged"]);
    expect(await sh(sb.repo, "rev-list", "--merges", "--count", integration)).toBe("4");
    const files = (await sh(sb.repo, "ls-tree", "-r", "--name-only", integration)).split("\n");
    expect(files).toEqual(expect.arrayContaining(cards.map((c) => `src/${c.id}.ts`)));
    // Every result's commit is on the first-parent line.
    const line = (await sh(sb.repo, "rev-list", "--first-parent", integration)).split("\n");
    for (const r of results) expect(line).toContain(r.status === "merged" ? r.commit : "");
  });

  it("refuses an attempt head that is not in the repository (non-retryable RepositoryError)", async () => {
    const { mergeAttempt } = createRepositoryActivities(sb.deps);
    const err = await mergeAttempt(
      mergeInput(sb, planCard("BE-001", {}), 1, {
        branch: "squadflow-attempts/shop/BE-001/attempt-1",
        baseCommit: "a".repeat(40),
        headCommit: "b".repeat(40),
      }),
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ type: "RepositoryError", nonRetryable: true });
  });
});
