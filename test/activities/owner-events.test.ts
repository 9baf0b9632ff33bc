/**
 * The activity side of reviews at the owner's events (issue 12): snapshots with the real git binary (a
 * commit through a private index that leaves the agent's index and files alone) and of a plain workspace,
 * and the notifier that numbers, snapshots and sends each milestone in order.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { ownerEventNotifier, snapshotOwnerWork, snapshotRef } from "../../src/activities/owner-events.js";
import type { OwnerEventSignal, OwnerInput } from "../../src/domain/attempt.js";
import { recordingHooks } from "./agents/helpers.js";
import { card, sandbox } from "./helpers.js";

const run = promisify(execFile);
const git = async (cwd: string, ...args: string[]) =>
  (await run("git", args, { cwd, env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1" } })).stdout.trim();

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const input = (workspace: string): OwnerInput => ({
  backlogId: "shop",
  card: card({ id: "API-001" }),
  attempt: 2,
  agent: { kind: "command", command: "node", args: [], timeout_ms: 1000, env: {} },
  workspace,
  dependencies: [],
});

async function repoWithWork() {
  const dir = await mkdtemp(join(tmpdir(), "squadflow-snapshot-test-"));
  dirs.push(dir);
  await git(dir, "init", "-q", "-b", "attempt");
  await writeFile(join(dir, "README.md"), "# Project\n");
  await git(dir, "add", ".");
  await git(dir, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base");
  const base = await git(dir, "rev-parse", "HEAD");
  // The agent's work in progress: a staged change, an unstaged one on top, an untracked file.
  await writeFile(join(dir, "README.md"), "# Project\nstaged\n");
  await git(dir, "add", "README.md");
  await writeFile(join(dir, "README.md"), "# Project\nstaged\nunstaged\n");
  await writeFile(join(dir, "schema.sql"), "CREATE TABLE orders (id int);\n");
  return {
    dir,
    base,
    worktree: { repoDir: dir, dir, branch: "attempt", baseCommit: base, integrationBranch: "squadflow/shop" },
  };
}

describe("snapshotOwnerWork", () => {
  it("commits the worktree as it is on a private ref, untracked files too, leaving the agent's index, files and branch alone", async () => {
    const { dir, base, worktree } = await repoWithWork();
    const statusBefore = await git(dir, "status", "--porcelain");
    const sb = await sandbox();
    dirs.push(sb.dir);
    const snap = await snapshotOwnerWork(sb.deps, input("shop/API-001/attempt-2"), worktree, 3);
    expect(snap.git).toMatchObject({ branch: "attempt", baseCommit: base });
    expect(snap.artifacts.sort()).toEqual(["README.md", "schema.sql"]);
    const ref = snapshotRef(input(""), 3);
    expect(ref).toBe("refs/squadflow/snapshots/shop/API-001/attempt-2/3");
    expect(await git(dir, "rev-parse", ref)).toBe(snap.git!.headCommit);
    expect(await git(dir, "rev-parse", `${ref}^`)).toBe(base);
    expect(await git(dir, "show", `${ref}:README.md`)).toBe("# Project\nstaged\nunstaged");
    expect(await git(dir, "show", `${ref}:schema.sql`)).toBe("CREATE TABLE orders (id int);");
    // Nothing of the agent's changed: same status (staged, unstaged, untracked), same HEAD.
    expect(await git(dir, "status", "--porcelain")).toBe(statusBefore);
    expect(await git(dir, "rev-parse", "HEAD")).toBe(base);
  });

  it("without a repository copies the workspace beside it, with the worker's secrets redacted in the copy", async () => {
    const sb = await sandbox({ workerEnv: { STRIPE_SECRET_KEY: "sk_live_abcdefghijklmnop" } });
    dirs.push(sb.dir);
    await sb.writeIn("shop/API-001/attempt-2", "docs/api.md", "# API\nkey sk_live_abcdefghijklmnop\n");
    const snap = await snapshotOwnerWork(sb.deps, input("shop/API-001/attempt-2"), undefined, 1);
    expect(snap).toEqual({ workspace: "shop/API-001/attempt-2.at-event-1", artifacts: ["docs/api.md"] });
    const copied = await readFile(join(sb.root, "shop/API-001/attempt-2.at-event-1/docs/api.md"), "utf8");
    expect(copied).not.toContain("sk_live_abcdefghijklmnop");
    // The agent's own file is not touched (owner.ts redacts it after the run).
    expect(await readFile(join(sb.root, "shop/API-001/attempt-2/docs/api.md"), "utf8")).toContain("sk_live_");
  });
});

describe("ownerEventNotifier", () => {
  it("numbers, snapshots and sends milestones and review requests in order; blockers are not sent; a failed send is a warning", async () => {
    const sb = await sandbox();
    dirs.push(sb.dir);
    await sb.writeIn("shop/API-001/attempt-2", "a.md", "# A\n");
    const sent: OwnerEventSignal[] = [];
    const recorder = recordingHooks();
    const n = ownerEventNotifier(sb.deps, input("shop/API-001/attempt-2"), undefined, recorder.hooks(), async (p) => {
      if (p.event.name === "refused") throw new Error("server unreachable");
      sent.push(p);
    });
    n.sink({ kind: "milestone", name: "one" });
    n.sink({ kind: "blocker", name: "stuck" });
    n.sink({ kind: "request_review", name: "refused" });
    n.sink({ kind: "request_review", name: "two" });
    await n.settled();
    expect(sent.map((s) => [s.seq, s.event.name, s.snapshot.workspace])).toEqual([
      [1, "one", "shop/API-001/attempt-2.at-event-1"],
      [3, "two", "shop/API-001/attempt-2.at-event-3"],
    ]);
    expect(sent[0]!.attempt).toBe(2);
    expect(recorder.logs.filter((l) => l.level === "warn").map((l) => l.message)).toEqual([
      'card API-001: owner request_review "refused" could not be sent for review (the attempt is reviewed at its end): server unreachable',
    ]);
  });
});
