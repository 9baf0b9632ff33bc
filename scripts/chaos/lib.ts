/**
 * Building blocks of the FAULTS harness (`npm run chaos`): a seeded PRNG, the chaos backlog (a layered
 * DAG of cards run by examples/chaos/agent.mjs), the agents' invocation logs, and the processes the
 * harness kills — a squadflow worker (scripts/chaos/worker.ts) and a `temporal server start-dev`.
 * Node-only; nothing here is imported by workflows.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Client } from "@temporalio/client";
import { WorkflowNotFoundError } from "@temporalio/client";
import { isIdle, readBacklogView, type BacklogView } from "../../src/cli/backlogs.js";
import { cardWorkflowId } from "../../src/domain/index.js";
import { PROJECT_ROOT } from "../../src/temporal/cli-path.js";
import { probeAddress, searchAttributeArgs } from "../../src/temporal/dev-server.js";
import { SEARCH_ATTRIBUTES } from "../../src/temporal/search-attributes.js";
import { READY_LINE } from "./worker.js";

// ---- Randomness ----------------------------------------------------------------------------------

/** mulberry32: a tiny seeded PRNG; returns a function yielding floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded random source with the few helpers the harness needs. */
export class Rng {
  private readonly next: () => number;
  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }
  /** A float in [0, 1). */
  float(): number {
    return this.next();
  }
  /** An integer in [min, max] (both included). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  /** `count` distinct elements of `items` (fewer when there are not that many). */
  sample<T>(items: readonly T[], count: number): T[] {
    const pool = [...items];
    const out: T[] = [];
    while (out.length < count && pool.length > 0) out.push(pool.splice(this.int(0, pool.length - 1), 1)[0]!);
    return out;
  }
}

// ---- The chaos backlog ---------------------------------------------------------------------------

/** What the chaos agent does for a card (a `chaos: <mode>` line of its description; see examples/chaos/agent.mjs). */
export type ChaosMode = "ok" | "fail-first" | "always-fail" | "hang" | "crash";

/** One card of a chaos backlog. */
export interface ChaosCard {
  id: string;
  dependencies: string[];
  mode: ChaosMode;
  /** Owner agent overriding the card type's (a key of the squad's `agents`). */
  owner?: string;
}

/** Shape of {@link layeredCards}' DAG. */
export interface LayeredOptions {
  layers: number;
  width: number;
  /** Share of cards whose first attempt the judge rejects (a correction fixes it). */
  failFirstRate: number;
  /** One card of the last-but-one layer never passes (→ escalation, AWAITING_HUMAN; its dependents wait). */
  alwaysFail: boolean;
}

/**
 * A layered DAG: `layers` × `width` cards `L<l>-C<nn>`, each card of layer l > 0 depending on 1–2 cards
 * of layer l − 1, modes drawn from `rng` (same seed → same backlog).
 */
export function layeredCards(rng: Rng, opts: LayeredOptions): ChaosCard[] {
  const cards: ChaosCard[] = [];
  const id = (l: number, c: number) => `L${l}-C${String(c).padStart(2, "0")}`;
  const previous = (l: number) => Array.from({ length: opts.width }, (_, c) => id(l - 1, c));
  for (let l = 0; l < opts.layers; l++) {
    for (let c = 0; c < opts.width; c++) {
      const dependencies = l === 0 ? [] : rng.sample(previous(l), rng.int(1, Math.min(2, opts.width))).sort();
      cards.push({ id: id(l, c), dependencies, mode: rng.float() < opts.failFirstRate ? "fail-first" : "ok" });
    }
  }
  if (opts.alwaysFail && opts.layers >= 2) {
    const never = id(opts.layers - 2, rng.int(0, opts.width - 1));
    cards.find((c) => c.id === never)!.mode = "always-fail";
  }
  return cards;
}

/** The squad config a chaos backlog runs with. */
export interface ChaosSquadOptions {
  /** Absolute directory of the agents' invocation logs (passed to the agent as CHAOS_LOG_DIR). */
  logDir: string;
  /** Agent run time range, ms. */
  minMs: number;
  maxMs: number;
  /** Hard limit of the normal agent, ms. */
  agentTimeoutMs: number;
  /** Adds a `chaos-hang` agent with this (small) hard limit, for `owner: "chaos-hang"` cards. */
  hangTimeoutMs?: number;
  /** A webhook for every notification (e.g. one that is down). */
  webhookUrl?: string;
  /**
   * Holds the agents of these cards, once their work is made, until `hold.file` exists: the harness keeps
   * the backlog from coming to rest before its faults are done, however fast the agents are.
   */
  hold?: { file: string; cardIds: readonly string[] };
}

/** The card type every chaos card has. */
export const CHAOS_CARD_TYPE = "CHAOS";

/**
 * A backlog file (the `backlog_master.json` shape with a `squad` section) for `cards`: one card type
 * whose owner is the chaos agent, verified (an `out/*.md` artifact) and judged by a rubric (a `Result`
 * section), no QA checks.
 */
export function chaosBacklogFile(
  backlogId: string,
  cards: readonly ChaosCard[],
  squad: ChaosSquadOptions,
): Record<string, unknown> {
  const agentArgs = ["./examples/chaos/agent.mjs", "--min-ms", String(squad.minMs), "--max-ms", String(squad.maxMs)];
  const env: Record<string, string> = { CHAOS_LOG_DIR: squad.logDir };
  if (squad.hold)
    Object.assign(env, { CHAOS_HOLD_FILE: squad.hold.file, CHAOS_HOLD_CARDS: squad.hold.cardIds.join(",") });
  const agents: Record<string, unknown> = {
    chaos: { kind: "command", command: "node", args: agentArgs, timeout_ms: squad.agentTimeoutMs, env },
  };
  if (squad.hangTimeoutMs !== undefined) {
    agents["chaos-hang"] = { kind: "command", command: "node", args: agentArgs, timeout_ms: squad.hangTimeoutMs, env };
  }
  return {
    metadata: { backlog_id: backlogId, project: "squadflow FAULTS harness" },
    cards: cards.map((c) => ({
      id: c.id,
      type: CHAOS_CARD_TYPE,
      title: `Chaos card ${c.id}`,
      description: `A card of the FAULTS harness.\nchaos: ${c.mode}`,
      priority: "MEDIUM",
      dependencies: c.dependencies,
      ...(c.owner ? { owner: c.owner } : {}),
    })),
    squad: {
      agents,
      card_types: {
        [CHAOS_CARD_TYPE]: {
          owner: "chaos",
          verification: { required_evidence: ["out/*.md"] },
          judge: { kind: "rubric", criteria: [{ name: "Result", check: { type: "section", heading: "Result" } }] },
        },
      },
      ...(squad.webhookUrl ? { notifications: { webhooks: [{ url: squad.webhookUrl, timeout_ms: 1000 }] } } : {}),
    },
  };
}

// ---- Invocation logs -----------------------------------------------------------------------------

/** One run of the chaos agent, from its invocation log. */
export interface AgentRun {
  pid: number;
  /** Parent process id when it started (1, or a subreaper, when its worker had died already). */
  parentAtStart: number;
  /** Start time, epoch ms. */
  startedAt: number;
  /** When it completed its side effect (epoch ms); absent when it never did (killed, hung, crashed). */
  doneAt?: number;
  /** True when its parent at completion was not the one at start: its worker died while it ran. */
  orphaned: boolean;
}

/** How often the chaos agent ran for one attempt of one card, from its invocation log. */
export interface AttemptRuns {
  cardId: string;
  attempt: number;
  /** Every run, in start order. */
  runs: AgentRun[];
  /** Runs that started. */
  started: number;
  /** Runs that finished their side effect (the artifact) — more than one is a duplicated side effect. */
  completed: number;
  /** Completed runs whose worker had died meanwhile (the agent was re-parented: an orphan). */
  orphanCompleted: number;
}

/** Reads every invocation log of a backlog (`<logDir>/<backlogId>/<card>/attempt-<n>.log`). */
export async function readInvocations(logDir: string, backlogId: string): Promise<AttemptRuns[]> {
  const root = join(logDir, backlogId);
  const cards = await readdir(root).catch(() => [] as string[]);
  const out: AttemptRuns[] = [];
  for (const cardId of cards.sort()) {
    const files = await readdir(join(root, cardId)).catch(() => [] as string[]);
    for (const file of files) {
      const m = /^attempt-(\d+)\.log$/.exec(file);
      if (!m) continue;
      const byPid = new Map<number, AgentRun>();
      for (const line of (await readFile(join(root, cardId, file), "utf8")).split("\n")) {
        const [event, pid, ppid, at] = line
          .trim()
          .split(" ")
          .map((x, i) => (i === 0 ? x : Number(x))) as [string, number, number, number];
        if (at === undefined || Number.isNaN(at)) continue;
        if (event === "start") byPid.set(pid, { pid, parentAtStart: ppid, startedAt: at, orphaned: false });
        const run = byPid.get(pid);
        if (event === "done" && run) {
          run.doneAt = at;
          run.orphaned = ppid !== run.parentAtStart;
        }
      }
      const runs = [...byPid.values()].sort((a, b) => a.startedAt - b.startedAt);
      const done = runs.filter((r) => r.doneAt !== undefined);
      out.push({
        cardId,
        attempt: Number(m[1]),
        runs,
        started: runs.length,
        completed: done.length,
        orphanCompleted: done.filter((r) => r.orphaned).length,
      });
    }
  }
  return out.sort((a, b) => a.cardId.localeCompare(b.cardId) || a.attempt - b.attempt);
}

/**
 * Agent runs in flight now (`card#attempt`): started, not completed, and their process still alive —
 * only those started by one of `parents` when given (e.g. the live worker, leaving orphans out).
 */
export function inFlight(attempts: readonly AttemptRuns[], parents?: ReadonlySet<number>): string[] {
  return attempts.flatMap((a) =>
    a.runs
      .filter((r) => r.doneAt === undefined && (!parents || parents.has(r.parentAtStart)) && isAlive(r.pid))
      .map(() => `${a.cardId}#${a.attempt}`),
  );
}

/**
 * The index in `killTimes` (ascending) of the worker kill that interrupted an agent run, or -1:
 * - a run that started under none of `workerPids` (its worker was killed between spawning it and its
 *   first line) by the last kill before its start;
 * - a run that completed under another parent than it started with was orphaned by the last kill before
 *   its completion;
 * - a run that never completed by the first kill after its start — or by a kill at most 500 ms before
 *   its start (a run spawned just before a kill may write its first line just after it);
 * - a run that completed under the worker that started it was not interrupted.
 */
export function killOf(run: AgentRun, killTimes: readonly number[], workerPids: ReadonlySet<number>): number {
  const lastBefore = (t: number) => killTimes.reduce((last, k, i) => (k <= t ? i : last), -1);
  if (!workerPids.has(run.parentAtStart)) return lastBefore(run.startedAt);
  if (run.doneAt !== undefined) return run.orphaned ? lastBefore(run.doneAt) : -1;
  const justBefore = lastBefore(run.startedAt);
  if (justBefore >= 0 && run.startedAt - killTimes[justBefore]! <= 500) return justBefore;
  return killTimes.findIndex((k) => k >= run.startedAt);
}

/**
 * The agent runs (`card#attempt`) each kill hit, in `killTimes` order: for worker kills, the runs it
 * interrupted ({@link killOf}); for server kills (`workerPids` undefined: the worker lives on), the runs
 * in flight at the kill.
 */
export function runsHitByKills(
  attempts: readonly AttemptRuns[],
  killTimes: readonly number[],
  workerPids?: ReadonlySet<number>,
): string[][] {
  const hits: string[][] = killTimes.map(() => []);
  for (const a of attempts) {
    for (const r of a.runs) {
      const ks = workerPids
        ? [killOf(r, killTimes, workerPids)]
        : killTimes.flatMap((t, i) => (r.startedAt <= t && (r.doneAt === undefined || r.doneAt >= t) ? [i] : []));
      for (const k of ks) if (k >= 0) hits[k]!.push(`${a.cardId}#${a.attempt}`);
    }
  }
  return hits;
}

/** True when a process with this id exists. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

// ---- Processes -----------------------------------------------------------------------------------

/** The tsx CLI of the project (a worker is `node <tsx cli> scripts/chaos/worker.ts`). */
const TSX_CLI = resolve(PROJECT_ROOT, "node_modules", "tsx", "dist", "cli.mjs");

/** A free TCP port on 127.0.0.1 (free when asked; a port nobody listens on, for a webhook that is down). */
export { freePort } from "../../src/temporal/dev-server.js";

/** Resolves after `ms`. */
export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Sends `signal` to a whole process group; false when it no longer exists. */
function signalGroup(pid: number | undefined, signal: NodeJS.Signals): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** A child process led by its own process group, its output appended to a log file. */
class GroupProcess {
  protected child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly log: WriteStream;

  constructor(logFile: string) {
    this.log = createWriteStream(logFile, { flags: "a" });
  }

  /** Process id of the group leader while it runs. */
  get pid(): number | undefined {
    return this.child?.exitCode === null && this.child.signalCode === null ? this.child.pid : undefined;
  }

  protected spawnGroup(
    command: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    onStdout?: (text: string) => void,
  ): ChildProcess {
    this.log.write(`\n==== ${new Date().toISOString()} ${command} ${args.join(" ")}\n`);
    const child = spawn(command, args, { cwd: PROJECT_ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    this.child = child;
    child.stdout!.on("data", (c: Buffer) => {
      this.log.write(c);
      onStdout?.(c.toString("utf8"));
    });
    child.stderr!.on("data", (c: Buffer) => this.log.write(c));
    this.exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.once("error", (err) => this.log.write(`spawn error: ${err.message}\n`));
    return child;
  }

  /**
   * SIGKILL to the whole group (e.g. the tsx launcher and the node process it runs); waits for the exit.
   * @returns when the signal was sent, epoch ms.
   */
  async kill(): Promise<number> {
    const at = Date.now();
    signalGroup(this.child?.pid, "SIGKILL");
    await this.exited;
    return at;
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; waits for the exit. Idempotent. */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.child) return;
    if (signalGroup(this.child.pid, "SIGTERM")) {
      const timer = setTimeout(() => signalGroup(this.child?.pid, "SIGKILL"), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    signalGroup(this.child.pid, "SIGKILL");
  }

  /** Closes the log file. */
  async close(): Promise<void> {
    await new Promise<void>((r) => this.log.end(r));
  }
}

/** What a chaos worker process needs. */
export interface ChaosWorkerOptions {
  /** Temporal frontend, `host:port`. */
  address: string;
  namespace: string;
  /** Task queue prefix (scripts/chaos/worker.ts `chaosTaskQueues`). */
  queuePrefix: string;
  /** Absolute workspaces root. */
  workspacesRoot: string;
  /** Prebuilt workflow bundle. */
  bundlePath?: string;
  /** Where its stdout and stderr go (appended). */
  logFile: string;
}

/** A squadflow worker in a process of its own (scripts/chaos/worker.ts), killed and restarted at will. */
export class ChaosWorkerProcess extends GroupProcess {
  /** How many times it was started. */
  starts = 0;
  /** Process ids of the worker's node process, one per start that got ready (the agents' parents). */
  readonly workerPids = new Set<number>();
  /** Start-up times (spawn → ready), ms. */
  readonly startupMs: number[] = [];
  /** Process id of the worker's node process of the latest start (undefined before the first is ready). */
  currentPid: number | undefined;

  constructor(private readonly opts: ChaosWorkerOptions) {
    super(opts.logFile);
  }

  /** Environment of the worker: this process's, minus payload-encryption keys (the bundle has no codec), plus the harness's. */
  private env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith("SQUADFLOW_CODEC") || k.startsWith("TEMPORAL_")) delete env[k];
    return {
      ...env,
      TEMPORAL_ADDRESS: this.opts.address,
      TEMPORAL_NAMESPACE: this.opts.namespace,
      CHAOS_WORKSPACES_ROOT: this.opts.workspacesRoot,
      CHAOS_QUEUE_PREFIX: this.opts.queuePrefix,
      ...(this.opts.bundlePath ? { CHAOS_BUNDLE: this.opts.bundlePath } : {}),
    };
  }

  /** Spawns the worker and resolves once it polls (its ready line), or rejects after `timeoutMs`. */
  async start(timeoutMs = 60_000): Promise<void> {
    this.starts++;
    const spawnedAt = Date.now();
    let seen = "";
    let onReady!: () => void;
    const ready = new Promise<void>((r) => (onReady = r));
    const child = this.spawnGroup(process.execPath, [TSX_CLI, "scripts/chaos/worker.ts"], this.env(), (text) => {
      seen += text;
      const m = new RegExp(`${READY_LINE} pid (\\d+)`).exec(seen);
      if (m) {
        this.currentPid = Number(m[1]);
        this.workerPids.add(this.currentPid);
        onReady();
      }
    });
    const exited = new Promise<never>((_, reject) =>
      child.once("exit", (code, signal) =>
        reject(new Error(`chaos worker exited (${code ?? signal}) before it was ready; see ${this.opts.logFile}`)),
      ),
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`chaos worker not ready after ${timeoutMs} ms; see ${this.opts.logFile}`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([ready, exited, timeout]);
      this.startupMs.push(Date.now() - spawnedAt);
    } finally {
      clearTimeout(timer);
      exited.catch(() => undefined);
    }
  }
}

/** What a `temporal server start-dev` process needs. */
export interface TemporalServerOptions {
  /** The Temporal CLI binary. */
  cliPath: string;
  port: number;
  /** SQLite file persisting the server's state (kept across kills). */
  dbFile: string;
  logFile: string;
}

/**
 * A `temporal server start-dev` process on a fixed port and a persisted SQLite file (WAL, like
 * src/temporal/dev-server.ts), headless, squadflow's search attributes registered.
 */
export class TemporalServerProcess extends GroupProcess {
  constructor(private readonly opts: TemporalServerOptions) {
    super(opts.logFile);
  }

  /** `127.0.0.1:<port>`. */
  get address(): string {
    return `127.0.0.1:${this.opts.port}`;
  }

  /** Starts the server and resolves once its frontend answers, or rejects after `timeoutMs`. */
  async start(timeoutMs = 60_000): Promise<void> {
    const args = [
      "server",
      "start-dev",
      "--headless",
      "--ip",
      "127.0.0.1",
      "--port",
      String(this.opts.port),
      "--db-filename",
      this.opts.dbFile,
      "--sqlite-pragma",
      "journal_mode=wal",
      "--log-level",
      "error",
      ...searchAttributeArgs(SEARCH_ATTRIBUTES),
    ];
    const child = this.spawnGroup(this.opts.cliPath, args, process.env);
    const end = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null)
        throw new Error(`temporal server exited (${child.exitCode ?? child.signalCode}); see ${this.opts.logFile}`);
      if ((await probeAddress("127.0.0.1", this.opts.port, 1_000)) === "temporal") return;
      if (Date.now() > end)
        throw new Error(`temporal server not answering after ${timeoutMs} ms; see ${this.opts.logFile}`);
      await delay(250);
    }
  }
}

// ---- Reading the run -----------------------------------------------------------------------------

/** A card's outcome as the harness compares it. */
export interface CardResult {
  status: string;
  attempt: number;
}

/** Reads a backlog's view with a deadline (a dead worker or server must not hang the harness); undefined on failure. */
export async function viewWithin(
  client: Client,
  backlogId: string,
  timeoutMs = 10_000,
): Promise<BacklogView | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), timeoutMs)));
  try {
    return await Promise.race([
      client.connection
        .withDeadline(Date.now() + timeoutMs, () => readBacklogView(client, backlogId))
        .catch(() => undefined),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls a backlog until it is idle (every card ended, waits for a human, or waits for a dependency that
 * has not ended — `isIdle` of src/cli/backlogs.ts) or `deadline` (epoch ms) passes. Returns the last view
 * read (undefined when none could be read) and whether it was idle. `onPoll` sees every view.
 */
export async function waitIdle(
  client: Client,
  backlogId: string,
  deadline: number,
  opts: { intervalMs?: number; onPoll?: (view: BacklogView) => void; until?: (view: BacklogView) => boolean } = {},
): Promise<{ view: BacklogView | undefined; idle: boolean }> {
  let last: BacklogView | undefined;
  const done = opts.until ?? isIdle;
  for (;;) {
    const view = await viewWithin(client, backlogId);
    if (view) {
      last = view;
      opts.onPoll?.(view);
      if (done(view)) return { view, idle: true };
    }
    if (Date.now() > deadline) return { view: last, idle: false };
    await delay(opts.intervalMs ?? 1_000);
  }
}

/** Card results (status, attempt) of a view, legacy cards left out. */
export function resultsOf(view: BacklogView): Map<string, CardResult> {
  return new Map(
    view.cards.filter((c) => !c.legacy).map((c) => [c.cardId, { status: String(c.status), attempt: c.attempt }]),
  );
}

/** The card ids among `cardIds` that have no card workflow on the server (lost cards). */
export async function lostCards(client: Client, backlogId: string, cardIds: readonly string[]): Promise<string[]> {
  const lost: string[] = [];
  for (const id of cardIds) {
    try {
      await client.workflow.getHandle(cardWorkflowId(backlogId, id)).describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || (err as { name?: string }).name === "WorkflowNotFoundError")
        lost.push(id);
      else throw err;
    }
  }
  return lost;
}

/** Median of numbers (0 for none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** A plain-text table: header row, a rule, then rows; columns padded to their widest cell. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}
