/**
 * Helpers of the example tests: the example backlog, and the example owner agents run exactly as the owner
 * activity runs a `command` agent (src/activities/owner.ts): `command args…` with `./` resolved against the
 * project root, cwd = the attempt workspace, the allow-listed environment plus SQUADFLOW_*, one JSON object
 * on stdin. A workspace is laid out like an attempt worktree of the example repository: the seed project
 * (examples/shop-seed) with the dependencies' work in it.
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The project root (where `squadflow` runs; `./` agent paths resolve against it). */
export const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
/** The example backlog, as a path relative to the root (for messages) and absolute. */
export const BACKLOG_REL = "state/backlog_master.example.json";
export const BACKLOG_PATH = join(ROOT, BACKLOG_REL);
/** The default workspaces root: legacy artifact paths of the example backlog are relative to it. */
export const DEFAULT_WORKSPACES_ROOT = join(ROOT, "state", "workspaces");
/** The seed project the example repository is made from (scripts/example-repo.ts). */
export const SEED_DIR = join(ROOT, "examples", "shop-seed");

/** A card as written in the backlog file (snake_case). */
export interface FileCard {
  id: string;
  type: string;
  title: string;
  description: string;
  priority: string;
  dependencies: string[];
  acceptance_criteria: string[];
  status: string;
  artifacts: (string | { path: string })[];
  [k: string]: unknown;
}

/** The `squad` section of the example backlog, loosely typed (planBacklog checks it for real). */
export interface FileSquad {
  cost_alert_usd: number;
  agents: Record<string, { kind: "command"; command: string; args: string[]; timeout_ms?: number }>;
  card_types: Record<
    string,
    {
      owner: string;
      verification: { required_evidence: string[] };
      judge: {
        kind: "rubric";
        pass_score?: number;
        criteria: { name: string; weight?: number; check: Record<string, string> }[];
      };
      qa?: { checks: { name: string; command: string; args: string[] }[] };
      /** A council (issue 12): its agents. */
      deliberation?: { agents: string[] };
      peer_review?: { reviewers: string[]; trigger?: "always" | "on_milestone" };
    }
  >;
}

/** The example backlog file: its text and parsed JSON. */
export function loadBacklog(): { text: string; metadata: { backlog_id: string }; cards: FileCard[]; squad: FileSquad } {
  const text = readFileSync(BACKLOG_PATH, "utf8");
  return { text, ...JSON.parse(text) };
}

/** A dependency as the protocol hands it to an agent: absolute artifact paths. */
export interface DependencyJson {
  card_id: string;
  artifacts: string[];
}

/** Correction feedback as the protocol hands it to an agent. */
export interface FeedbackJson {
  round: number;
  reasons: string[];
  root_cause?: string;
  suggestions?: string[];
  human_context?: string;
}

/** What an agent printed, parsed. */
export interface AgentResult {
  artifacts: string[];
  summary: string;
  usage: { input_tokens: number; output_tokens: number; cost_usd: number };
}

/** One finished agent run. */
export interface AgentRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** The parsed stdout object (undefined when stdout is not one JSON object). */
  result?: AgentResult;
  workspace: string;
  ms: number;
}

/** The stdin object of the protocol for a card of the backlog file. */
export function agentRequest(
  backlogId: string,
  card: FileCard,
  attempt: number,
  workspace: string,
  dependencies: DependencyJson[] = [],
  feedback: FeedbackJson | null = null,
): Record<string, unknown> {
  return {
    backlog_id: backlogId,
    card: {
      id: card.id,
      type: card.type,
      title: card.title,
      description: card.description,
      priority: card.priority,
      dependencies: card.dependencies,
      acceptance_criteria: card.acceptance_criteria,
    },
    attempt,
    workspace,
    dependencies,
    feedback,
  };
}

function resolveProjectPath(value: string): string {
  return value.startsWith("./") || value.startsWith("../") ? resolve(ROOT, value) : value;
}

/** Runs an agent of the squad config the way the owner activity does; never rejects (exit codes are data). */
export function runAgent(
  agent: { command: string; args: string[] },
  request: Record<string, unknown>,
  extraArgs: string[] = [],
): Promise<AgentRun> {
  const workspace = request.workspace as string;
  const card = request.card as { id: string };
  const started = Date.now();
  return new Promise((done, fail) => {
    const child = spawn(resolveProjectPath(agent.command), [...agent.args.map(resolveProjectPath), ...extraArgs], {
      cwd: workspace,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        SQUADFLOW_WORKSPACE: workspace,
        SQUADFLOW_CARD_ID: card.id,
        SQUADFLOW_ATTEMPT: String(request.attempt),
        SQUADFLOW_BACKLOG_ID: String(request.backlog_id),
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    child.on("error", fail);
    child.on("close", (exitCode) => {
      let result: AgentResult | undefined;
      try {
        result = JSON.parse(stdout.trim()) as AgentResult;
      } catch {
        result = undefined;
      }
      done({ exitCode, stdout, stderr, result, workspace, ms: Date.now() - started });
    });
    child.stdin.end(`${JSON.stringify(request)}\n`);
  });
}

/** Result of a command run in a workspace (a QA check). */
export interface CheckRun {
  exitCode: number | null;
  output: string;
}

/** Runs a QA check's command for real in a workspace (cwd = workspace, like the QA activity). */
export function runCheck(workspace: string, check: { command: string; args: string[] }): Promise<CheckRun> {
  return new Promise((done, fail) => {
    const child = spawn(resolveProjectPath(check.command), check.args.map(resolveProjectPath), {
      cwd: workspace,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString("utf8")));
    child.stderr.on("data", (c: Buffer) => (output += c.toString("utf8")));
    child.on("error", fail);
    child.on("close", (exitCode) => done({ exitCode, output }));
  });
}

/**
 * A temp directory for a test file's workspaces. `attempt` makes a new workspace on every call,
 * `<card>/<k>-attempt-<n>`, so runs never share one.
 */
export class Workspaces {
  readonly dir = mkdtempSync(join(tmpdir(), "squadflow-examples-"));
  private made = 0;

  /**
   * A new workspace of an attempt, as its worktree would be: for a correction a copy of the previous
   * attempt's (`previous`), else the seed project with the artifacts of the `merged` runs copied in at
   * their paths (what the integration branch holds once those cards are DONE).
   */
  attempt(cardId: string, n: number, opts: { previous?: string; merged?: readonly AgentRun[] } = {}): string {
    const ws = join(this.dir, cardId, `${++this.made}-attempt-${n}`);
    if (opts.previous) {
      cpSync(opts.previous, ws, { recursive: true });
      return ws;
    }
    cpSync(SEED_DIR, ws, { recursive: true });
    for (const run of opts.merged ?? []) {
      for (const a of run.result?.artifacts ?? []) cpSync(join(run.workspace, a), join(ws, a));
    }
    return ws;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The dependency entry of a finished run, as the protocol gives it in a repository: its artifacts as
 * absolute paths in `workspace` (the dependent's worktree, where the run's work was merged), by default
 * in the run's own workspace.
 */
export function dependencyOf(cardId: string, run: AgentRun, workspace = run.workspace): DependencyJson {
  return { card_id: cardId, artifacts: (run.result?.artifacts ?? []).map((a) => join(workspace, a)) };
}

/** Every file under a directory, as sorted relative paths. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p).split("\\").join("/"));
    }
  };
  walk(dir);
  return out.sort();
}

/** Problems of a run against the protocol: exit code, one JSON object, relative artifacts inside the workspace. */
export function protocolProblems(run: AgentRun): string[] {
  const problems: string[] = [];
  if (run.exitCode !== 0) problems.push(`exit ${run.exitCode}: ${run.stderr.slice(-500)}`);
  const r = run.result;
  if (!r) return [...problems, `stdout is not one JSON object: ${run.stdout.slice(0, 200)}`];
  if (!Array.isArray(r.artifacts) || r.artifacts.length === 0) problems.push("no artifacts");
  if (typeof r.summary !== "string" || r.summary === "") problems.push("no summary");
  const u = r.usage;
  if (!u || !Number.isInteger(u.input_tokens) || !Number.isInteger(u.output_tokens) || typeof u.cost_usd !== "number") {
    problems.push(`bad usage ${JSON.stringify(u)}`);
  }
  for (const a of r.artifacts ?? []) {
    const abs = resolve(run.workspace, a);
    if (isAbsolute(a) || relative(run.workspace, abs).startsWith(".."))
      problems.push(`artifact ${a} is not inside the workspace`);
    else if (!existsSync(abs)) problems.push(`artifact ${a} does not exist`);
    else if (readFileSync(abs, "utf8").trim() === "") problems.push(`artifact ${a} is empty`);
  }
  return problems;
}

/** Reads an artifact of a run. */
export function readArtifact(run: AgentRun, rel: string): string {
  return readFileSync(join(run.workspace, rel), "utf8");
}
