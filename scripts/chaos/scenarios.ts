/**
 * The scenarios of the FAULTS harness (`npm run chaos`, test/chaos/chaos.test.ts):
 *
 * - `baseline` — the layered chaos backlog without faults: every card's final status and attempt;
 * - `worker-kill` — the same backlog while the worker process is SIGKILLed at random moments (seeded) and
 *   restarted, at least `workerKills` times: every card must end as in the baseline, none lost or stuck,
 *   and no owner side effect twice for the same attempt (the agents' invocation logs);
 * - `server-kill` — the same backlog on a `temporal server start-dev` process (persisted SQLite) that is
 *   killed with SIGKILL mid-run and restarted on the same port and file: the run completes as in the
 *   baseline;
 * - `agent-faults` — an agent that hangs, one that crashes and a webhook that is down: the two cards end
 *   AWAITING_HUMAN after their corrections (the lifecycle), everything else DONE (or waiting for the
 *   hung card), and approving the hung card lets its dependent run.
 *
 * Every scenario returns a {@link ScenarioReport}; {@link runScenarios} runs them and {@link formatReport}
 * prints the figures. Workers always run in processes of their own (scripts/chaos/worker.ts).
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client, Connection } from "@temporalio/client";
import { bundleWorkflowCode } from "@temporalio/worker";
import { isIdle, reviewCard, startBacklog, type BacklogView } from "../../src/cli/backlogs.js";
import { cardWorkflowId, planBacklog } from "../../src/domain/index.js";
import { findTemporalCli } from "../../src/temporal/cli-path.js";
import { startDevServer, type DevServerHandle } from "../../src/temporal/dev-server.js";
import { WORKFLOWS_PATH } from "../../src/worker.js";
import {
  ChaosWorkerProcess,
  Rng,
  TemporalServerProcess,
  chaosBacklogFile,
  delay,
  freePort,
  inFlight,
  layeredCards,
  lostCards,
  median,
  readInvocations,
  resultsOf,
  table,
  viewWithin,
  waitIdle,
  killOf,
  runsHitByKills,
  type AttemptRuns,
  type CardResult,
  type ChaosCard,
  type ChaosSquadOptions,
} from "./lib.js";
import { chaosTaskQueues } from "./worker.js";

// ---- Profiles ------------------------------------------------------------------------------------

/** How big and how violent a chaos run is. */
export interface ChaosProfile {
  name: "full" | "ci";
  /** The layered backlog: layers × width cards. */
  layers: number;
  width: number;
  /** Agent run time range, ms (seeded per card and attempt). */
  minMs: number;
  maxMs: number;
  /** Share of cards the judge rejects once (a correction fixes them). */
  failFirstRate: number;
  /** One card that never passes (→ AWAITING_HUMAN, its dependents wait). */
  alwaysFail: boolean;
  /** Worker SIGKILLs of the worker-kill scenario (at least). */
  workerKills: number;
  /** Random time between a worker being ready and its next kill, ms. */
  killDelayMs: [number, number];
  /** Pause between a kill and the restart, ms. */
  restartPauseMs: [number, number];
  /** Server SIGKILLs of the server-kill scenario, and how long the server stays down each time, ms. */
  serverKills: number;
  serverDownMs: number;
  /** Random time before each server kill, ms (counted from the start, then from the restart). */
  serverKillDelayMs: [number, number];
  /** Hard limit of the hanging agent, ms. */
  hangTimeoutMs: number;
  /** A card not at rest this long after the last fault is stuck, ms. */
  stuckAfterMs: number;
  /** Run the baseline, server-kill and agent-faults scenarios alongside the worker kills (faster, noisier). */
  parallel: boolean;
  /**
   * Heartbeat timeout given to every activity that has one, instead of the workflows' own (20 s), via a
   * workflow interceptor bundled into the chaos workers' workflow bundle (src/workflows is not changed).
   * A worker killed mid-activity leaves that activity to be retried only after this timeout. Undefined:
   * the workflows' own timeouts.
   */
  heartbeatTimeout?: string;
}

/** `npm run chaos`: 50 cards, at least 20 worker kills, agents of 0.2–2 s. */
export const FULL_PROFILE: ChaosProfile = {
  name: "full",
  layers: 5,
  width: 10,
  minMs: 200,
  maxMs: 2_000,
  failFirstRate: 0.15,
  alwaysFail: true,
  workerKills: 20,
  killDelayMs: [500, 3_000],
  restartPauseMs: [0, 1_000],
  serverKills: 2,
  serverDownMs: 3_000,
  serverKillDelayMs: [3_000, 8_000],
  hangTimeoutMs: 1_500,
  stuckAfterMs: 240_000,
  parallel: false,
};

/** `CHAOS_PROFILE=ci` / `--ci` and the vitest test: 12 cards, 5 kills, faster agents, scenarios side by side. */
export const CI_PROFILE: ChaosProfile = {
  name: "ci",
  layers: 3,
  width: 4,
  minMs: 100,
  maxMs: 600,
  failFirstRate: 0.2,
  alwaysFail: false,
  workerKills: 5,
  killDelayMs: [500, 2_000],
  restartPauseMs: [0, 300],
  serverKills: 1,
  serverDownMs: 2_000,
  serverKillDelayMs: [1_500, 3_000],
  hangTimeoutMs: 1_000,
  stuckAfterMs: 90_000,
  parallel: true,
  heartbeatTimeout: "10 seconds",
};

/** The scenarios, in the order they run. */
export const SCENARIOS = ["baseline", "worker-kill", "server-kill", "agent-faults"] as const;
/** A scenario name. */
export type ScenarioName = (typeof SCENARIOS)[number];

// ---- Reports -------------------------------------------------------------------------------------

/** A named check of a scenario and what was seen. */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

/** The figures of one scenario. */
export interface ScenarioReport {
  /** A {@link ScenarioName}, or the name of a scenario run elsewhere (e.g. on the cluster: `postgres-restart`). */
  scenario: ScenarioName | (string & {});
  backlogId: string;
  cards: number;
  /** Worker or server kills. */
  kills: number;
  /** Worker kills that interrupted at least one agent run; server kills with at least one agent run in flight. */
  killsHittingAgents: number;
  /** Cards without a workflow on the server. */
  lost: string[];
  /** Cards not at rest `stuckAfterMs` after the last fault. */
  stuck: string[];
  /** Cards that ended otherwise than in the baseline (`id: expected → got`). */
  mismatched: string[];
  /** Attempts whose agent completed its side effect more than once (`id#attempt: n completed (k orphaned)`). */
  duplicated: string[];
  /** Agent runs started / completed, over all cards and attempts. */
  agentStarted: number;
  agentCompleted: number;
  /** Attempts whose agent was started more than once (the activity was retried). */
  rerunAttempts: number;
  /** Time from a kill to the re-run of an agent it interrupted, ms (the activity's heartbeat timeout shows here). */
  retryGapsMs: number[];
  /** From the first start to the end of the checks, ms. */
  wallMs: number;
  /** Time from the last fault until every card was at rest, ms. */
  settleMs?: number;
  checks: Check[];
  notes: string[];
}

/** True when a scenario kept every invariant. */
export function reportOk(r: ScenarioReport): boolean {
  return (
    r.lost.length === 0 &&
    r.stuck.length === 0 &&
    r.mismatched.length === 0 &&
    r.duplicated.length === 0 &&
    r.checks.every((c) => c.ok)
  );
}

/** An empty report of `scenario` for a backlog of `cards` cards (figures filled by the scenario). */
export function newReport(scenario: ScenarioReport["scenario"], backlogId: string, cards: number): ScenarioReport {
  return {
    scenario,
    backlogId,
    cards,
    kills: 0,
    killsHittingAgents: 0,
    lost: [],
    stuck: [],
    mismatched: [],
    duplicated: [],
    agentStarted: 0,
    agentCompleted: 0,
    rerunAttempts: 0,
    retryGapsMs: [],
    wallMs: 0,
    checks: [],
    notes: [],
  };
}

// ---- The harness context -------------------------------------------------------------------------

/** Everything the scenarios share: the seed, the profile, the run directory, the dev server, the bundle. */
export interface ChaosContext {
  seed: number;
  profile: ChaosProfile;
  /** Temp directory of the run: invocation logs, workspaces, process logs, SQLite files. */
  runDir: string;
  /** Invocation logs of the agents (CHAOS_LOG_DIR). */
  logDir: string;
  /** The prebuilt workflow bundle every worker loads. */
  bundlePath: string;
  /** The Temporal CLI binary (for the server-kill scenario). */
  cliPath: string;
  /** The in-process dev server (SQLite file in `runDir`) of every scenario but server-kill. */
  server: DevServerHandle;
  client: Client;
  /** The cards of the layered backlog (the same for baseline, worker-kill and server-kill). */
  cards: ChaosCard[];
  log: (line: string) => void;
}

/** Sets up a chaos run: temp directory, dev server, workflow bundle, the seeded backlog. */
export async function createContext(opts: {
  seed: number;
  profile: ChaosProfile;
  log?: (line: string) => void;
}): Promise<ChaosContext> {
  const runDir = await mkdtemp(join(tmpdir(), "squadflow-chaos-"));
  const logDir = join(runDir, "invocations");
  await mkdir(logDir, { recursive: true });
  const found = findTemporalCli();
  if (!found.path)
    throw new Error("the chaos harness needs a local Temporal CLI (npm run setup:temporal, or TEMPORAL_CLI_PATH)");
  const [server, bundle] = await Promise.all([
    startDevServer({
      port: 0,
      ui: false,
      dbFilename: join(runDir, "dev-server.db"),
      reuseExisting: false,
      // Queries to a card while its worker is dead are slow by nature: no "Slow gRPC call" warnings.
      logLevel: "error",
      executable: { type: "existing-path", path: found.path },
    }),
    bundleWorkflowCode({
      workflowsPath: WORKFLOWS_PATH,
      logger: silentLogger,
      ...(opts.profile.heartbeatTimeout
        ? { workflowInterceptorModules: [await heartbeatInterceptorModule(runDir, opts.profile.heartbeatTimeout)] }
        : {}),
    }),
  ]);
  const bundlePath = join(runDir, "workflow-bundle.js");
  await writeFile(bundlePath, bundle.code);
  const cards = layeredCards(new Rng(opts.seed), {
    layers: opts.profile.layers,
    width: opts.profile.width,
    failFirstRate: opts.profile.failFirstRate,
    alwaysFail: opts.profile.alwaysFail,
  });
  return {
    seed: opts.seed,
    profile: opts.profile,
    runDir,
    logDir,
    bundlePath,
    cliPath: found.path,
    server,
    client: new Client({ connection: server.connection, namespace: server.namespace }),
    cards,
    log: opts.log ?? (() => undefined),
  };
}

/** Stops the dev server; removes the run directory unless `keep`. */
export async function closeContext(ctx: ChaosContext, keep: boolean): Promise<void> {
  await ctx.server.stop();
  if (!keep) await rm(ctx.runDir, { recursive: true, force: true });
}

/**
 * Writes a workflow interceptor module that schedules every activity having a heartbeat timeout with
 * `timeout` instead; returns its path (for `workflowInterceptorModules`).
 */
async function heartbeatInterceptorModule(runDir: string, timeout: string): Promise<string> {
  const path = join(runDir, "heartbeat-interceptor.mjs");
  await writeFile(
    path,
    `// Generated by scripts/chaos/scenarios.ts: activities with a heartbeat timeout get ${JSON.stringify(timeout)}.
export const interceptors = () => ({
  outbound: [
    {
      scheduleActivity(input, next) {
        if (input.options.heartbeatTimeout === undefined) return next(input);
        return next({ ...input, options: { ...input.options, heartbeatTimeout: ${JSON.stringify(timeout)} } });
      },
    },
  ],
});
`,
  );
  return path;
}

const silentLogger = {
  log() {},
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error(message: string) {
    console.error(message);
  },
};

// ---- Shared steps --------------------------------------------------------------------------------

/** The squad options of the context's profile (agent run times, invocation logs), with `extra` over them. */
export function squadOptions(ctx: ChaosContext, extra: Partial<ChaosSquadOptions> = {}): ChaosSquadOptions {
  return { logDir: ctx.logDir, minMs: ctx.profile.minMs, maxMs: ctx.profile.maxMs, agentTimeoutMs: 120_000, ...extra };
}

/** Validates and starts a chaos backlog on `client`, its workflows on the `prefix` task queues. */
export async function startChaosBacklog(
  client: Client,
  backlogId: string,
  cards: readonly ChaosCard[],
  squad: ChaosSquadOptions,
  prefix: string,
): Promise<void> {
  const file = `chaos/${backlogId}.json`;
  const plan = planBacklog(JSON.stringify(chaosBacklogFile(backlogId, cards, squad)), { file, backlogId });
  const started = await startBacklog(client, plan, file, chaosTaskQueues(prefix));
  if (!started.started) throw new Error(`backlog ${backlogId} exists already (${started.existingStatus})`);
}

/** A chaos worker process for scenario `name` (its own task queues `chaos-<name>-*`, log `worker-<name>.log`). */
export function newWorker(ctx: ChaosContext, name: string, address: string): ChaosWorkerProcess {
  return new ChaosWorkerProcess({
    address,
    namespace: ctx.server.namespace,
    queuePrefix: `chaos-${name}`,
    workspacesRoot: join(ctx.runDir, "workspaces"),
    bundlePath: ctx.bundlePath,
    logFile: join(ctx.runDir, `worker-${name}.log`),
  });
}

/** What the lifecycle predicts for the layered backlog: ok → DONE/1, fail-first → DONE/2, always-fail → AWAITING_HUMAN/4, behind it → TODO/0. */
export function predictedResults(cards: readonly ChaosCard[]): Map<string, CardResult> {
  const out = new Map<string, CardResult>();
  for (const c of cards) {
    const waits = c.dependencies.some((d) => out.get(d)?.status !== "DONE");
    if (waits) out.set(c.id, { status: "TODO", attempt: 0 });
    else if (c.mode === "always-fail") out.set(c.id, { status: "AWAITING_HUMAN", attempt: 4 });
    else out.set(c.id, { status: "DONE", attempt: c.mode === "fail-first" ? 2 : 1 });
  }
  return out;
}

const fmt = (r: CardResult | undefined) => (r ? `${r.status}/${r.attempt}` : "missing");

/** Cards of `view` that ended otherwise than `expected`, each with the reasons its failed attempts were rejected. */
function compare(expected: Map<string, CardResult>, view: BacklogView): string[] {
  const got = resultsOf(view);
  const out: string[] = [];
  for (const [id, want] of expected) {
    const have = got.get(id);
    if (have && have.status === want.status && have.attempt === want.attempt) continue;
    const attempts = view.cards.find((c) => c.cardId === id)?.state?.attempts ?? [];
    const why = attempts
      .filter((a) => !a.passed)
      .map(
        (a) =>
          `attempt ${a.attempt}: ${a.verdicts
            .filter((v) => !v.passed)
            .flatMap((v) => v.reasons)
            .join(" / ")
            .slice(0, 300)}`,
      );
    out.push(`${id}: ${fmt(want)} expected, got ${fmt(have)}${why.length ? ` — ${why.join("; ")}` : ""}`);
  }
  return out;
}

/**
 * Kill times (epoch ms, ascending) and, for worker kills, the pids of the worker processes agents may have
 * as parent (undefined for server kills: the worker lives on).
 */
export interface Kills {
  times: number[];
  workerPids?: ReadonlySet<number>;
}

/**
 * Fills the agent-run figures of a report from the invocation logs: runs started and completed, re-run
 * and duplicated attempts, and — given the kills — how many kills interrupted agent runs and how long
 * each interrupted run took to be run again.
 */
export async function countRuns(
  ctx: Pick<ChaosContext, "logDir">,
  report: ScenarioReport,
  kills?: Kills,
): Promise<AttemptRuns[]> {
  const attempts = await readInvocations(ctx.logDir, report.backlogId);
  for (const a of attempts) {
    report.agentStarted += a.started;
    report.agentCompleted += a.completed;
    if (a.started > 1) report.rerunAttempts++;
    if (a.completed > 1) {
      // One completion is the one Temporal recorded; every other was an orphan (its worker died while it
      // ran, or before it even started) or finished under a live worker killed before it reported the result.
      const pids = kills?.workerPids;
      const orphans = a.runs.filter(
        (r) => r.doneAt !== undefined && (r.orphaned || (pids !== undefined && !pids.has(r.parentAtStart))),
      ).length;
      const unreported = Math.max(0, a.completed - 1 - orphans);
      report.duplicated.push(
        `${a.cardId}#${a.attempt}: completed ${a.completed}× (${orphans} by an agent whose worker died while it ran` +
          `${unreported ? `, ${unreported} finished but its worker was killed before reporting it` : ""})`,
      );
    }
    if (!kills) continue;
    if (!kills.workerPids) continue;
    for (let i = 1; i < a.runs.length; i++) {
      const k = killOf(a.runs[i - 1]!, kills.times, kills.workerPids);
      if (k >= 0) report.retryGapsMs.push(a.runs[i]!.startedAt - kills.times[k]!);
    }
  }
  if (kills) {
    const hits = runsHitByKills(attempts, kills.times, kills.workerPids);
    report.killsHittingAgents = hits.filter((h) => h.length > 0).length;
    report.notes.push(
      `agent runs ${kills.workerPids ? "interrupted" : "in flight"} per kill: ${hits.map((h) => h.length).join(", ") || "none"}`,
    );
    const t0 = Math.min(...attempts.flatMap((a) => a.runs.map((r) => r.startedAt)), ...kills.times);
    report.notes.push(
      `kill times, s after the first agent run: ${kills.times.map((t) => ((t - t0) / 1000).toFixed(2)).join(", ") || "none"}`,
    );
  }
  return attempts;
}

/** Waits for the backlog to be at rest; fills `stuck`, `mismatched`, `lost`, `settleMs`. */
export async function settle(
  ctx: { profile: Pick<ChaosProfile, "stuckAfterMs"> },
  client: Client,
  report: ScenarioReport,
  expected: Map<string, CardResult>,
  lastFault: number,
): Promise<BacklogView | undefined> {
  const { view, idle } = await waitIdle(client, report.backlogId, lastFault + ctx.profile.stuckAfterMs);
  if (idle) report.settleMs = Date.now() - lastFault;
  const ids = [...expected.keys()];
  if (!view) {
    report.stuck.push(...ids);
    report.notes.push("the backlog could not be read");
  } else if (!idle) {
    const got = resultsOf(view);
    // A card is at rest by the rule of `isIdle` (src/cli/backlogs.ts), applied to it alone.
    report.stuck.push(
      ...view.cards
        .filter((c) => !isIdle({ ...view, cards: [c] }))
        .map((c) => `${c.cardId} (${fmt(got.get(c.cardId))})`),
    );
  }
  if (view) report.mismatched.push(...compare(expected, view));
  report.lost.push(...(await lostCards(client, report.backlogId, ids)));
  return view;
}

// ---- Scenarios -----------------------------------------------------------------------------------

/** The layered backlog without faults; its results are what the fault scenarios must reproduce. */
export async function runBaseline(
  ctx: ChaosContext,
): Promise<{ report: ScenarioReport; results: Map<string, CardResult> }> {
  const backlogId = `chaos-base-${ctx.seed}`;
  const report = newReport("baseline", backlogId, ctx.cards.length);
  const worker = newWorker(ctx, "baseline", ctx.server.address);
  const started = Date.now();
  let results = new Map<string, CardResult>();
  try {
    await worker.start();
    await startChaosBacklog(ctx.client, backlogId, ctx.cards, squadOptions(ctx), "chaos-baseline");
    const predicted = predictedResults(ctx.cards);
    const view = await settle(ctx, ctx.client, report, predicted, Date.now());
    if (view && report.stuck.length === 0) results = resultsOf(view);
    else {
      // Never compare the fault runs against nothing: the prediction stands in (and this report fails).
      results = predicted;
      report.notes.push(
        "the baseline did not come to rest: the fault scenarios are compared with the predicted results",
      );
    }
    // The baseline must be what the lifecycle predicts, or the harness compares against nonsense.
    report.checks.push({
      name: "baseline matches the lifecycle",
      ok: report.mismatched.length === 0 && report.stuck.length === 0,
      detail: report.mismatched.join("; ") || `${results.size} cards as predicted`,
    });
    report.mismatched = [];
    await countRuns(ctx, report);
  } finally {
    await worker.stop();
    await worker.close();
  }
  report.wallMs = Date.now() - started;
  ctx.log(
    `baseline: ${[...results.values()].filter((r) => r.status === "DONE").length}/${results.size} DONE in ${(report.wallMs / 1000).toFixed(1)} s`,
  );
  return { report, results };
}

/**
 * Cards whose agents the harness holds so that a backlog cannot come to rest before its faults are done:
 * the cards `expected` to end DONE on which no other such card depends (the last cards to run).
 */
export function holdCards(cards: readonly ChaosCard[], expected: Map<string, CardResult>): string[] {
  const done = cards.filter((c) => expected.get(c.id)?.status === "DONE");
  const needed = new Set(done.flatMap((c) => c.dependencies));
  return done.filter((c) => !needed.has(c.id)).map((c) => c.id);
}

/**
 * The layered backlog while its worker is SIGKILLed at seeded random moments and restarted, until
 * `profile.workerKills` kills happened; the last cards' agents are held until then (see
 * {@link holdCards}), so the kills never race a fast run. Then the run finishes and is compared with
 * `expected`.
 */
export async function runWorkerKills(ctx: ChaosContext, expected: Map<string, CardResult>): Promise<ScenarioReport> {
  const backlogId = `chaos-kill-${ctx.seed}`;
  const report = newReport("worker-kill", backlogId, ctx.cards.length);
  const rng = new Rng(ctx.seed ^ 0x5eed);
  const worker = newWorker(ctx, "kill", ctx.server.address);
  const started = Date.now();
  const killTimes: number[] = [];
  const releaseFile = join(ctx.runDir, `release-${backlogId}`);
  try {
    await worker.start();
    await startChaosBacklog(
      ctx.client,
      backlogId,
      ctx.cards,
      squadOptions(ctx, { hold: { file: releaseFile, cardIds: holdCards(ctx.cards, expected) } }),
      "chaos-kill",
    );
    while (killTimes.length < ctx.profile.workerKills) {
      await delay(rng.int(...ctx.profile.killDelayMs));
      const live = new Set(worker.currentPid !== undefined ? [worker.currentPid] : []);
      let running = inFlight(await readInvocations(ctx.logDir, backlogId), live);
      if (running.length === 0) {
        // Nothing in flight: stop killing once the backlog is at rest (a kill would hit nothing).
        const view = await viewWithin(ctx.client, backlogId, 5_000);
        if (view && isIdle(view)) {
          report.notes.push(`the backlog came to rest after ${killTimes.length} kills`);
          break;
        }
        running = inFlight(await readInvocations(ctx.logDir, backlogId), live);
      }
      killTimes.push(await worker.kill());
      ctx.log(
        `worker-kill: kill ${killTimes.length}/${ctx.profile.workerKills}, agent runs seen in flight: ${running.join(", ") || "none"}`,
      );
      await delay(rng.int(...ctx.profile.restartPauseMs));
      await worker.start();
    }
    await writeFile(releaseFile, `released after ${killTimes.length} kills\n`);
    report.kills = killTimes.length;
    report.notes.push(
      `worker start-up (spawn → polling): median ${secs(median(worker.startupMs))} s, max ${secs(Math.max(...worker.startupMs))} s`,
    );
    await settle(ctx, ctx.client, report, expected, killTimes.at(-1) ?? Date.now());
    await countRuns(ctx, report, { times: killTimes, workerPids: worker.workerPids });
    report.checks.push({
      name: `at least ${ctx.profile.workerKills} kills during the run`,
      ok: report.kills >= ctx.profile.workerKills,
      detail: `${report.kills} kills, ${report.killsHittingAgents} of them interrupting agent runs`,
    });
  } finally {
    await writeFile(releaseFile, "released\n");
    await worker.stop();
    await worker.close();
  }
  report.wallMs = Date.now() - started;
  return report;
}

/**
 * The layered backlog on a `temporal server start-dev` process (persisted SQLite, WAL) that is SIGKILLed
 * `profile.serverKills` times mid-run and restarted on the same port and file; the worker process keeps
 * running throughout (it must reconnect by itself).
 */
export async function runServerKill(ctx: ChaosContext, expected: Map<string, CardResult>): Promise<ScenarioReport> {
  const backlogId = `chaos-server-${ctx.seed}`;
  const report = newReport("server-kill", backlogId, ctx.cards.length);
  const rng = new Rng(ctx.seed ^ 0x5e4e);
  const server = new TemporalServerProcess({
    cliPath: ctx.cliPath,
    port: await freePort(),
    dbFile: join(ctx.runDir, "server-kill.db"),
    logFile: join(ctx.runDir, "temporal-server.log"),
  });
  const worker = newWorker(ctx, "server", server.address);
  let connection: Connection | undefined;
  const started = Date.now();
  const killTimes: number[] = [];
  // The last cards wait until the kills are done, so every kill lands mid-run (see holdCards).
  const releaseFile = join(ctx.runDir, `release-${backlogId}`);
  try {
    await server.start();
    connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection, namespace: ctx.server.namespace });
    await worker.start();
    await startChaosBacklog(
      client,
      backlogId,
      ctx.cards,
      squadOptions(ctx, { hold: { file: releaseFile, cardIds: holdCards(ctx.cards, expected) } }),
      "chaos-server",
    );
    for (let k = 0; k < ctx.profile.serverKills; k++) {
      await delay(rng.int(...ctx.profile.serverKillDelayMs));
      const running = inFlight(await readInvocations(ctx.logDir, backlogId));
      killTimes.push(await server.kill());
      ctx.log(
        `server-kill: server killed (agent runs seen in flight: ${running.join(", ") || "none"}), down for ${ctx.profile.serverDownMs} ms`,
      );
      await delay(ctx.profile.serverDownMs);
      await server.start();
      ctx.log(`server-kill: server back after ${Date.now() - killTimes.at(-1)!} ms`);
    }
    await writeFile(releaseFile, `released after ${killTimes.length} kills\n`);
    report.kills = killTimes.length;
    await settle(ctx, client, report, expected, killTimes.at(-1) ?? Date.now());
    report.checks.push({
      name: "the worker survived the server kills",
      ok: worker.pid !== undefined,
      detail:
        worker.pid !== undefined
          ? `worker pid ${worker.pid} still running`
          : "the worker process exited; see worker-server.log",
    });
    await countRuns(ctx, report, { times: killTimes });
  } finally {
    await writeFile(releaseFile, "released\n");
    await worker.stop();
    await worker.close();
    await connection?.close().catch(() => undefined);
    await server.stop();
    await server.close();
  }
  report.wallMs = Date.now() - started;
  return report;
}

/**
 * A small backlog with an agent that hangs (hard limit `hangTimeoutMs`), one that crashes (exit 1, then
 * SIGKILL of itself), and every notification going to a webhook that is down. Expected, per the
 * lifecycle: both cards fail their owner run after 3 activity attempts, go through 3 corrections and wait
 * AWAITING_HUMAN (attempt 4); the hung card's dependent waits TODO; the other cards are DONE at attempt 1;
 * the webhook's failures are retried in the background without holding anything up. Then the hung card
 * is approved: it ends DONE and its dependent runs to DONE.
 */
export async function runAgentFaults(ctx: ChaosContext): Promise<ScenarioReport> {
  const backlogId = `chaos-faults-${ctx.seed}`;
  const cards: ChaosCard[] = [
    { id: "OK-1", dependencies: [], mode: "ok" },
    { id: "OK-2", dependencies: ["OK-1"], mode: "ok" },
    { id: "HANG", dependencies: [], mode: "hang", owner: "chaos-hang" },
    { id: "CRASH", dependencies: [], mode: "crash" },
    { id: "AFTER-HANG", dependencies: ["HANG"], mode: "ok" },
    { id: "OK-3", dependencies: ["OK-1"], mode: "fail-first" },
  ];
  const expected = new Map<string, CardResult>([
    ["OK-1", { status: "DONE", attempt: 1 }],
    ["OK-2", { status: "DONE", attempt: 1 }],
    ["HANG", { status: "AWAITING_HUMAN", attempt: 4 }],
    ["CRASH", { status: "AWAITING_HUMAN", attempt: 4 }],
    ["AFTER-HANG", { status: "TODO", attempt: 0 }],
    ["OK-3", { status: "DONE", attempt: 2 }],
  ]);
  const report = newReport("agent-faults", backlogId, cards.length);
  const webhookPort = await freePort(); // nobody listens there: the webhook is down
  const worker = newWorker(ctx, "faults", ctx.server.address);
  const started = Date.now();
  const check = (name: string, ok: boolean, detail: string) => report.checks.push({ name, ok, detail });
  try {
    await worker.start();
    await startChaosBacklog(
      ctx.client,
      backlogId,
      cards,
      squadOptions(ctx, {
        hangTimeoutMs: ctx.profile.hangTimeoutMs,
        webhookUrl: `http://127.0.0.1:${webhookPort}/squadflow`,
      }),
      "chaos-faults",
    );
    const view = await settle(ctx, ctx.client, report, expected, Date.now());
    if (view) {
      const card = (id: string) => view.cards.find((c) => c.cardId === id);
      for (const [id, pattern] of [
        ["HANG", /timed out/],
        ["CRASH", /exited 1|killed by SIGKILL/],
      ] as const) {
        const attempts = card(id)?.state?.attempts ?? [];
        const reasons = attempts.map((a) => a.verdicts.find((v) => v.validator === "owner")?.reasons.join(" ") ?? "");
        check(
          `${id}: every attempt is an owner failure ("${pattern.source}")`,
          attempts.length === 4 && reasons.every((r) => r.startsWith("Owner execution failed") && pattern.test(r)),
          `${attempts.length} attempts; first reason: ${(reasons[0] ?? "none").slice(0, 160)}`,
        );
      }
      const runs = await readInvocations(ctx.logDir, backlogId);
      for (const id of ["HANG", "CRASH"]) {
        const mine = runs.filter((r) => r.cardId === id);
        check(
          `${id}: 3 agent runs (activity attempts) per attempt, none completed`,
          mine.length === 4 && mine.every((r) => r.started === 3 && r.completed === 0),
          mine.map((r) => `#${r.attempt}: ${r.started} started, ${r.completed} completed`).join("; ") || "no runs",
        );
      }
      const escalated = card("HANG")?.state?.auditLog.some((e) => e.action === "escalated") ?? false;
      check(
        "HANG: escalated (audited) before awaiting a human",
        escalated,
        escalated ? 'audit log has "escalated"' : 'no "escalated" entry',
      );
      // The webhook is down: its notify activity is retried in the background, the card does not wait for it.
      const desc = await ctx.client.workflow.getHandle(cardWorkflowId(backlogId, "HANG")).describe();
      const notify = (desc.raw.pendingActivities ?? []).filter((a) => a.activityType?.name === "notify");
      const failure = notify.map((a) => a.lastFailure?.message ?? "").find(Boolean) ?? "";
      check(
        "webhook down: notifications retried in the background, the card not held up",
        notify.length > 0 && String(card("HANG")?.status) === "AWAITING_HUMAN",
        `${notify.length} notify activities pending on HANG (attempts ${notify.map((a) => a.attempt).join(", ")}; last failure: ${failure.slice(0, 120) || "none yet"})`,
      );
    }
    // A human approves the hung card: it ends DONE and its dependent runs.
    await reviewCard(ctx.client, backlogId, "HANG", {
      decision: "approve",
      reviewer: "chaos-harness",
      reason: "the agent hangs on purpose",
    });
    const after = await waitIdle(ctx.client, backlogId, Date.now() + 60_000, {
      until: (v) => v.cards.some((c) => c.cardId === "AFTER-HANG" && c.status === "DONE"),
    });
    const statusOf = (id: string) => String(after.view?.cards.find((c) => c.cardId === id)?.status ?? "unknown");
    check(
      "approving HANG: it ends DONE and AFTER-HANG runs to DONE",
      after.idle && statusOf("HANG") === "DONE",
      `HANG ${statusOf("HANG")}, AFTER-HANG ${statusOf("AFTER-HANG")}`,
    );
    await countRuns(ctx, report);
  } finally {
    await worker.stop();
    await worker.close();
  }
  report.wallMs = Date.now() - started;
  return report;
}

// ---- The whole run -------------------------------------------------------------------------------

/** Every scenario's report, in {@link SCENARIOS} order, and the wall time of the whole run. */
export interface ChaosResult {
  seed: number;
  /** The profile's name (`full`, `ci`; on the cluster, its own). */
  profile: ChaosProfile["name"] | (string & {});
  /** The activities' heartbeat timeout the workers ran with (undefined: the workflows' own, 20 s). */
  heartbeatTimeout?: string;
  reports: ScenarioReport[];
  wallMs: number;
  runDir: string;
}

/**
 * Runs the scenarios of `only` (default: all) on a context: the baseline first, then the fault
 * scenarios (side by side when `profile.parallel`, otherwise one after another).
 */
export async function runScenarios(ctx: ChaosContext, only: readonly ScenarioName[] = SCENARIOS): Promise<ChaosResult> {
  const started = Date.now();
  const reports: ScenarioReport[] = [];
  const want = (s: ScenarioName) => only.includes(s);
  if (ctx.profile.parallel) {
    // The agent-faults and server-kill scenarios do not need the baseline; the worker kills do.
    const faults = want("agent-faults") ? runAgentFaults(ctx) : undefined;
    const base = await runBaseline(ctx);
    reports.push(base.report);
    const [kill, srv] = await Promise.all([
      want("worker-kill") ? runWorkerKills(ctx, base.results) : undefined,
      want("server-kill") ? runServerKill(ctx, base.results) : undefined,
    ]);
    const f = await faults;
    for (const r of [kill, srv, f]) if (r) reports.push(r);
  } else {
    const base = await runBaseline(ctx);
    reports.push(base.report);
    if (want("worker-kill")) reports.push(await runWorkerKills(ctx, base.results));
    if (want("server-kill")) reports.push(await runServerKill(ctx, base.results));
    if (want("agent-faults")) reports.push(await runAgentFaults(ctx));
  }
  return {
    seed: ctx.seed,
    profile: ctx.profile.name,
    heartbeatTimeout: ctx.profile.heartbeatTimeout,
    reports,
    wallMs: Date.now() - started,
    runDir: ctx.runDir,
  };
}

const secs = (ms: number | undefined) => (ms === undefined ? "-" : `${(ms / 1000).toFixed(1)}`);

/** The figures of a run as text: one row per scenario, then every failed check, mismatch, duplicate and note. */
export function formatReport(result: ChaosResult): string {
  const rows = result.reports.map((r) => [
    r.scenario,
    String(r.cards),
    String(r.kills),
    String(r.killsHittingAgents),
    String(r.lost.length),
    String(r.duplicated.length),
    String(r.stuck.length),
    String(r.mismatched.length),
    `${r.agentStarted}/${r.agentCompleted}`,
    String(r.rerunAttempts),
    r.retryGapsMs.length ? `${secs(median(r.retryGapsMs))}/${secs(Math.max(...r.retryGapsMs))}` : "-",
    secs(r.settleMs),
    secs(r.wallMs),
    reportOk(r) ? "ok" : "FAIL",
  ]);
  const lines = [
    `chaos run: profile ${result.profile}, seed ${result.seed} (CHAOS_SEED=${result.seed} repeats it), wall time ${secs(result.wallMs)} s, ` +
      `activity heartbeat timeout ${result.heartbeatTimeout ?? "20 s (the workflows' own)"}`,
    "",
    table(
      [
        "scenario",
        "cards",
        "kills",
        "hit agents",
        "lost",
        "duplicated",
        "stuck",
        "mismatched",
        "agent runs started/completed",
        "re-run attempts",
        "retry gap s (median/max)",
        "settle s",
        "wall s",
        "result",
      ],
      rows,
    ),
  ];
  for (const r of result.reports) {
    const details = [
      ...r.checks.map((c) => `${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`),
      ...r.lost.map((x) => `lost: ${x}`),
      ...r.stuck.map((x) => `stuck: ${x}`),
      ...r.mismatched.map((x) => `mismatched: ${x}`),
      ...r.duplicated.map((x) => `duplicated: ${x}`),
      ...r.notes.map((x) => `note: ${x}`),
    ];
    if (details.length) lines.push("", `${r.scenario} (backlog ${r.backlogId}):`, ...details.map((d) => `  ${d}`));
  }
  return lines.join("\n");
}
