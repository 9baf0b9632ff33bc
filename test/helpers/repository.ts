/**
 * Helpers of the tests of backlogs that deliver into a git repository (issue 9): a real repository in a
 * temp folder, a real `command` owner agent steered by a plan file, a worker with the real activities on
 * a fresh task queue, and readers of the integration branch and `git worktree list`.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll } from "vitest";
import { createActivities } from "../../src/activities/index.js";
import { inspectRepository } from "../../src/activities/repository/index.js";
import {
  parseTrailers,
  withRepository,
  type BacklogPlan,
  type MergeInput,
  type MergeResult,
} from "../../src/domain/index.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "./temporal.js";
import { startBacklogWorkflow, testPlan, type TestCard } from "../workflows/fakes.js";

/** `execFile` as a promise. */
export const run = promisify(execFile);

export async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await run("git", args, { cwd, env: { ...process.env, GIT_CONFIG_NOSYSTEM: "1" } });
  return stdout.trim();
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/**
 * The owner agent of these tests: writes `<card>.txt` (its content names the card and the attempt) and,
 * when the plan file says so, a shared line into `shared.txt`; a card with `needs` exits 1 unless those
 * files are in its worktree (so a dependent proves it sees its dependencies' work). A correction after a
 * merge conflict resolves the conflict by keeping both sides' lines.
 */
const AGENT = `
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
const input = JSON.parse(readFileSync(0, 'utf8'));
const plan = JSON.parse(readFileSync(process.env.PLAN_FILE, 'utf8'))[input.card.id] ?? {};
if (plan.hold) {
  // Held until the test releases it: the test decides when this owner is done, never a race.
  const gate = process.env.PLAN_FILE + '.' + input.card.id;
  writeFileSync(gate + '.started', process.cwd());
  await new Promise((r) => {
    const t = setInterval(() => { if (existsSync(gate + '.release')) { clearInterval(t); r(); } }, 50);
  });
}
for (const f of plan.needs ?? []) {
  if (!existsSync(f)) { console.error('missing ' + f + ' in ' + process.cwd()); process.exit(1); }
}
writeFileSync(input.card.id + '.txt', '# Intro\\n' + input.card.id + ' attempt ' + input.attempt + '\\n');
if (plan.shared) {
  let text = existsSync('shared.txt') ? readFileSync('shared.txt', 'utf8') : '';
  if (text.includes('<<<<<<<')) {
    // keep both sides of a conflict
    text = text.split('\\n').filter((l) => !/^(<<<<<<<|=======|>>>>>>>)/.test(l)).join('\\n');
  } else {
    text = plan.shared + '\\n';
  }
  writeFileSync('shared.txt', text);
}
console.log(JSON.stringify({ artifacts: [], summary: input.card.id + ' written' }));
`;

/** A repository with one commit on `main`, a project dir with the agent, the worker's state dirs (removed after the file). */
export async function sandbox() {
  const dir = await mkdtemp(join(tmpdir(), "squadflow-repo-wf-"));
  dirs.push(dir);
  const repo = join(dir, "repo");
  const base = join(dir, "project");
  await mkdir(repo, { recursive: true });
  await mkdir(base, { recursive: true });
  await git(repo, "init", "-q", "-b", "main");
  await writeFile(join(repo, "README.md"), "# Project\n");
  await git(repo, "add", ".");
  await git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "initial");
  await writeFile(join(base, "agent.mjs"), AGENT);
  return { dir, repo, base, planFile: join(dir, "plan.json") };
}

/** What `sandbox` made: its folder, the repository, the project dir, the agent's plan file. */
export type Box = Awaited<ReturnType<typeof sandbox>>;

/** A plan of `cards` delivering into the sandbox's repository (checked like the CLI does). */
export async function repoPlan(
  box: Box,
  backlogId: string,
  cards: TestCard[],
  extra: Record<string, unknown> = {},
): Promise<BacklogPlan> {
  const plan = testPlan(backlogId, cards, 1, {
    agents: { writer: { kind: "command", command: "node", args: ["./agent.mjs"], env: { PLAN_FILE: box.planFile } } },
    ...extra,
  });
  const target = await inspectRepository({
    source: box.repo,
    backlogId,
    baseDir: box.dir,
    cardIds: plan.cards.map((c) => c.card.id),
  });
  return withRepository(plan, target);
}

/** The real activities with the sandbox's state folders (workspaces, worktrees, repos) and fast heartbeats. */
export function boxActivities(box: Box) {
  return createActivities({
    workspacesRoot: join(box.dir, "state", "workspaces"),
    worktreesRoot: join(box.dir, "state", "worktrees"),
    reposRoot: join(box.dir, "state", "repos"),
    baseDir: box.base,
    heartbeatIntervalMs: 200,
  });
}

/** A worker on a fresh task queue with the real activities; `mergeAttempt` may be wrapped by the test. */
export async function repoWorker(
  box: Box,
  wrapMerge?: (merge: (i: MergeInput) => Promise<MergeResult>) => (i: MergeInput) => Promise<MergeResult>,
) {
  const taskQueue = uniqueTaskQueue("repo");
  const activities = boxActivities(box);
  const worker = await createTestWorker({
    taskQueue,
    activities: wrapMerge ? { ...activities, mergeAttempt: wrapMerge(activities.mergeAttempt) } : activities,
  });
  return { worker, taskQueue };
}

/** Starts `plan` as a backlog workflow whose cards run every activity on `taskQueue` (fakes.ts `startBacklogWorkflow`). */
export async function startBacklog(taskQueue: string, plan: BacklogPlan) {
  return startBacklogWorkflow((await testEnv()).client, taskQueue, plan);
}

/** The integration branch's merge commits, oldest first: subject and trailers. */
export async function merges(repo: string, branch: string) {
  const out = await git(repo, "log", "--merges", "--first-parent", "--reverse", "--format=%H%x1f%B%x1e", branch);
  return out
    .split("\x1e")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const [commit, body] = s.split("\x1f");
      return { commit: commit!, subject: body!.split("\n")[0]!, trailers: parseTrailers(body!) };
    });
}

/** The paths `git worktree list` shows besides the main worktree. */
export async function extraWorktrees(repo: string): Promise<string[]> {
  const out = await git(repo, "worktree", "list", "--porcelain");
  return out
    .split("\n")
    .filter((l) => l.startsWith("worktree "))
    .map((l) => l.slice("worktree ".length))
    .slice(1);
}
