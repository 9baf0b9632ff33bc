/**
 * Helpers of the repository tests: real git repositories in temp folders, real `git` processes, and a real
 * `command` owner agent (a Node script) that writes, deletes and optionally commits the files its card's
 * description asks for.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { ActivityDeps } from "../../../src/activities/context.js";
import { git, gitOut } from "../../../src/activities/repository/git.js";
import type { CardSpec, OwnerInput } from "../../../src/domain/attempt.js";
import {
  attemptBranchName,
  integrationBranchName,
  type AttemptGit,
  type MergeInput,
  type RepositoryTarget,
} from "../../../src/domain/repository.js";
import type { CommandAgentConfig } from "../../../src/domain/squad.js";

/** What the test agent does, given as its card's description (JSON). */
export interface AgentPlan {
  /** Files to write (repository-relative path → content). */
  write?: Record<string, string>;
  /** Files to delete. */
  delete?: string[];
  /** Commit with the agent's own identity (`git add -A && git commit`) before answering. */
  commit?: boolean;
}

/**
 * The test owner agent: follows the card's `AgentPlan`, appends `<card> <attempt>` to `$LOG_DIR/runs.log`,
 * saves its stdin request and a listing of its cwd to `$LOG_DIR/<card>-<attempt>.json`.
 */
const AGENT = `
import { appendFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
let input = '';
process.stdin.on('data', (d) => (input += d)).on('end', () => {
  const req = JSON.parse(input);
  const plan = JSON.parse(req.card.description || '{}');
  const log = process.env.LOG_DIR;
  const list = (dir, rel = '') => readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.name === '.git' ? [] : e.isDirectory() ? list(join(dir, e.name), rel + e.name + '/') : [rel + e.name]);
  writeFileSync(join(log, req.card.id + '-' + req.attempt + '.json'), JSON.stringify({ request: req, cwd: process.cwd(), files: list('.').sort() }));
  for (const [p, c] of Object.entries(plan.write ?? {})) {
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, c);
  }
  for (const p of plan.delete ?? []) rmSync(p);
  if (plan.commit) {
    const id = ['-c', 'user.name=agent', '-c', 'user.email=agent@localhost', '-c', 'commit.gpgsign=false'];
    execFileSync('git', ['add', '-A']);
    execFileSync('git', [...id, 'commit', '-q', '-m', 'agent: ' + req.card.id]);
  }
  appendFileSync(join(log, 'runs.log'), req.card.id + ' ' + req.attempt + '\\n');
  console.log(JSON.stringify({ artifacts: Object.keys(plan.write ?? {}), summary: 'did ' + req.card.id }));
});
`;

/** A temp world: a repository with one commit on `main`, roots for worktrees/clones/workspaces, the agent. */
export interface GitSandbox {
  dir: string;
  /** The repository (a normal one, `main` checked out, README.md committed). */
  repo: string;
  logDir: string;
  deps: ActivityDeps;
  target: RepositoryTarget;
  agent: CommandAgentConfig;
  backlogId: string;
  cleanup(): Promise<void>;
}

/** Runs git in `cwd` with a test identity; returns stdout without its trailing newline. */
export function sh(cwd: string, ...args: string[]): Promise<string> {
  return gitOut(cwd, args, { identity: true });
}

/** Makes a repository at `dir` with `files` committed on `main`. */
export async function makeRepo(
  dir: string,
  files: Record<string, string> = { "README.md": "# Project\n" },
): Promise<void> {
  await mkdir(dir, { recursive: true });
  await git(dir, ["init", "--quiet", "-b", "main"]);
  for (const [p, c] of Object.entries(files)) {
    await mkdir(dirname(join(dir, p)), { recursive: true });
    await writeFile(join(dir, p), c);
  }
  await git(dir, ["add", "-A"]);
  await git(dir, ["commit", "--quiet", "-m", "initial"], { identity: true });
}

/** Creates a git sandbox. */
export async function gitSandbox(files?: Record<string, string>): Promise<GitSandbox> {
  const dir = await mkdtemp(join(tmpdir(), "squadflow-git-"));
  const repo = join(dir, "repo");
  const logDir = join(dir, "log");
  await mkdir(logDir);
  await mkdir(join(dir, "project"));
  await makeRepo(repo, files);
  const script = join(dir, "agent.mjs");
  await writeFile(script, AGENT);
  const backlogId = "shop";
  return {
    dir,
    repo,
    logDir,
    backlogId,
    deps: {
      workspacesRoot: join(dir, "workspaces"),
      worktreesRoot: join(dir, "worktrees"),
      reposRoot: join(dir, "repos"),
      baseDir: join(dir, "project"),
      now: () => new Date("2025-01-02T03:04:05.000Z"),
      heartbeatIntervalMs: 50,
      killGraceMs: 300,
    },
    target: { path: repo, baseBranch: "main", integrationBranch: integrationBranchName(backlogId) },
    agent: { kind: "command", command: process.execPath, args: [script], timeout_ms: 20_000, env: { LOG_DIR: logDir } },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A card whose test agent follows `plan`. */
export function planCard(id: string, plan: AgentPlan, overrides: Partial<CardSpec> = {}): CardSpec {
  return {
    id,
    type: "CODE",
    title: `Card ${id}`,
    description: JSON.stringify(plan),
    priority: "HIGH",
    dependencies: [],
    acceptanceCriteria: [],
    ...overrides,
  };
}

/** The owner input of attempt `attempt` of `card` in the sandbox's repository. */
export function ownerInput(sb: GitSandbox, card: CardSpec, attempt = 1, extra: Partial<OwnerInput> = {}): OwnerInput {
  return {
    backlogId: sb.backlogId,
    card,
    attempt,
    agent: sb.agent,
    workspace: `${sb.backlogId}/${card.id}/attempt-${attempt}`,
    workspaceRoot: "worktrees",
    repository: sb.target,
    dependencies: [],
    ...extra,
  };
}

/** The merge input of an attempt. */
export function mergeInput(
  sb: GitSandbox,
  card: CardSpec,
  attempt: number,
  g: AttemptGit,
  extra: Partial<MergeInput> = {},
): MergeInput {
  return {
    backlogId: sb.backlogId,
    cardId: card.id,
    title: card.title,
    attempt,
    repository: sb.target,
    git: g,
    costUsd: 0.25,
    ...extra,
  };
}

/** The agent's saved view of one run: its stdin request, cwd and the files it saw there. */
export async function agentView(
  sb: GitSandbox,
  cardId: string,
  attempt: number,
): Promise<{ request: any; cwd: string; files: string[] }> {
  return JSON.parse(await readFile(join(sb.logDir, `${cardId}-${attempt}.json`), "utf8"));
}

/** Lines of the agent's runs log (`<card> <attempt>`). */
export async function agentRuns(sb: GitSandbox): Promise<string[]> {
  return (await readFile(join(sb.logDir, "runs.log"), "utf8").catch(() => "")).split("\n").filter(Boolean);
}

/** The absolute worktree of an attempt. */
export function worktreeOf(sb: GitSandbox, cardId: string, attempt = 1): string {
  return join(sb.deps.worktreesRoot!, sb.backlogId, cardId, `attempt-${attempt}`);
}

export { attemptBranchName, integrationBranchName };
