/**
 * The chaos scenarios on the cluster (issue 14), with the invariants and the report table of `npm run
 * chaos` (scripts/chaos/scenarios.ts): a layered chaos backlog run by the cluster's worker processes
 * (src/worker.ts, as compose runs them) while
 *
 * - `worker-kill`: random worker processes of every queue kind are SIGKILLed (their whole process group)
 *   at seeded random moments, each replaced by a new process of its kind, as an orchestrator would;
 * - `server-kill`: the Temporal server is SIGKILLed and started again at the same address;
 * - `postgres-restart`: PostgreSQL stops `immediate` (a crash, as its clients see it) and starts again;
 *
 * each compared with a `baseline` run of the same cards without faults: every card in the baseline's
 * status and attempt, none lost (no workflow), none stuck (not at rest `stuckAfterMs` after the last
 * fault), no attempt whose agent completed its side effect twice (the agents' invocation logs).
 *
 * The activities keep the workflows' own heartbeat timeout (20 s, src/workflows/activities.ts): the
 * compose workers have no setting for it, so an activity whose worker was killed is retried ~20 s later;
 * the table's "retry gap" column shows that wait. Node-only; run by scripts/cluster/run.ts.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { QUEUE_KINDS, type QueueKind } from "../../src/temporal/queues.js";
import {
  Rng,
  delay,
  inFlight,
  killOf,
  layeredCards,
  median,
  readInvocations,
  resultsOf,
  type AgentRun,
  type AttemptRuns,
  type CardResult,
  type ChaosCard,
} from "../chaos/lib.js";
import {
  countRuns,
  holdCards,
  newReport,
  predictedResults,
  reportOk,
  settle,
  type ScenarioReport,
} from "../chaos/scenarios.js";
import { seconds, type Cluster, type ClusterWorker } from "./cluster.js";
import { clusterSquad, openHarness, printReports, startClusterBacklog, type ClusterHarness } from "./layered.js";

/** How big and how violent a fault run on the cluster is. */
export interface FaultsProfile {
  /** `full` (the `faults` phase) or `short` (the `kills` phase, CI's short form). */
  name: string;
  /** The layered backlog (`layeredCards` of the chaos harness). */
  layers: number;
  width: number;
  failFirstRate: number;
  alwaysFail: boolean;
  /** Agent run time range, ms (seeded per card and attempt). */
  agentMs: [number, number];
  /** Worker SIGKILLs (at least one per queue kind, so at least 4). */
  workerKills: number;
  /** Random time between a replacement being ready and the next kill, ms. */
  killDelayMs: [number, number];
  /** How long an owner kill waits for one of the victim's agents to be running, ms (then kills anyway). */
  aimMs: number;
  /** Random pause between a kill and the start of the replacement, ms. */
  restartPauseMs: [number, number];
  /** Random time from the start of a backlog to the server kill or the PostgreSQL restart, ms. */
  faultDelayMs: [number, number];
  /** Whether to run the server-kill and postgres-restart scenarios. */
  serverFaults: boolean;
  /** A card not at rest this long after the last fault is stuck, ms. */
  stuckAfterMs: number;
}

/** The `faults` phase: the chaos harness's full backlog (50 cards), 20 worker kills, server and PostgreSQL faults. */
export const FULL_FAULTS: FaultsProfile = {
  name: "full",
  layers: 5,
  width: 10,
  failFirstRate: 0.15,
  alwaysFail: true,
  agentMs: [200, 2_000],
  workerKills: 20,
  killDelayMs: [500, 3_000],
  aimMs: 30_000,
  restartPauseMs: [0, 1_000],
  faultDelayMs: [3_000, 8_000],
  serverFaults: true,
  stuckAfterMs: 240_000,
};

/** The `kills` phase (CI's short form): 12 cards, one worker kill per queue kind, server and PostgreSQL faults. */
export const SHORT_FAULTS: FaultsProfile = {
  name: "short",
  layers: 3,
  width: 4,
  failFirstRate: 0.2,
  alwaysFail: false,
  agentMs: [100, 600],
  workerKills: QUEUE_KINDS.length,
  killDelayMs: [500, 2_000],
  aimMs: 30_000,
  restartPauseMs: [0, 300],
  faultDelayMs: [1_500, 3_000],
  serverFaults: true,
  stuckAfterMs: 120_000,
};

/** One worker SIGKILL: when (epoch ms), which process, of which kind. */
export interface WorkerKill {
  at: number;
  pid: number;
  kind: QueueKind;
  name: string;
}

/**
 * Which kill interrupted each agent run, for a fleet of several owner workers each killed at most once
 * (a killed worker is replaced by a new process): a run started by a worker that was killed is judged
 * against that worker's kill alone (`killOf` of the chaos harness); a run started by none of the known
 * workers (its worker died between spawning it and its first line) by the last owner kill before it.
 * @returns per kill (in `kills` order) the runs it interrupted (`card#attempt`), and the time from each
 *   interrupting kill to the next run of the same attempt, ms.
 */
export function ownerKillHits(
  attempts: readonly AttemptRuns[],
  kills: readonly WorkerKill[],
  workerPids: ReadonlySet<number>,
): { hits: string[][]; retryGapsMs: number[] } {
  const hits: string[][] = kills.map(() => []);
  const retryGapsMs: number[] = [];
  const owners = kills.map((k, i) => ({ ...k, i })).filter((k) => k.kind === "owners");
  const killIndex = (run: AgentRun): number => {
    const own = owners.find((k) => k.pid === run.parentAtStart);
    if (own) return killOf(run, [own.at], new Set([own.pid])) === 0 ? own.i : -1;
    if (workerPids.has(run.parentAtStart)) return -1;
    const k = killOf(
      run,
      owners.map((o) => o.at),
      workerPids,
    );
    return k >= 0 ? owners[k]!.i : -1;
  };
  for (const a of attempts) {
    a.runs.forEach((run, i) => {
      const k = killIndex(run);
      if (k < 0) return;
      hits[k]!.push(`${a.cardId}#${a.attempt}`);
      const next = a.runs[i + 1];
      if (next) retryGapsMs.push(next.startedAt - kills[k]!.at);
    });
  }
  return { hits, retryGapsMs };
}

/** The pid of a worker's process (the node process running src/worker.ts: the agents' parent). */
const pidOf = (w: ClusterWorker): number => w.service.child.pid!;

/**
 * The agent runs in flight on `worker` (`card#attempt`). For an owner worker, waits up to `aimMs` (ms) for
 * one to be running, so that its kill lands mid-run (the held last cards keep agents running until the
 * kills are done); other kinds run no agents and are killed at once.
 */
async function agentsOn(h: ClusterHarness, backlogId: string, worker: ClusterWorker, aimMs: number): Promise<string[]> {
  const pids = new Set([pidOf(worker)]);
  const deadline = Date.now() + (worker.kind === "owners" ? aimMs : 0);
  for (;;) {
    const running = inFlight(await readInvocations(h.logDir, backlogId), pids);
    if (running.length > 0 || Date.now() >= deadline) return running;
    await delay(100);
  }
}

/** What one fault scenario needs: the harness, the profile, the cards and the baseline's results. */
interface FaultRun {
  h: ClusterHarness;
  profile: FaultsProfile;
  cards: ChaosCard[];
  expected: Map<string, CardResult>;
}

/** Starts the backlog of a fault scenario with its last cards held until `releaseFile` exists (`holdCards`). */
async function startHeld(run: FaultRun, backlogId: string, releaseFile: string): Promise<void> {
  const squad = clusterSquad(run.h, run.profile.agentMs, {
    hold: { file: releaseFile, cardIds: holdCards(run.cards, run.expected) },
  });
  await startClusterBacklog(run.h, backlogId, run.cards, squad);
}

/** The layered backlog without faults: its results are what the fault scenarios must reproduce. */
async function baseline(
  h: ClusterHarness,
  profile: FaultsProfile,
  cards: ChaosCard[],
): Promise<{ report: ScenarioReport; results: Map<string, CardResult> }> {
  const backlogId = `cluster-base-${profile.name}-${h.seed}`;
  const report = newReport("baseline", backlogId, cards.length);
  const predicted = predictedResults(cards);
  const t0 = Date.now();
  await startClusterBacklog(h, backlogId, cards, clusterSquad(h, profile.agentMs));
  const view = await settle({ profile }, h.client, report, predicted, t0);
  const rested = view !== undefined && report.stuck.length === 0;
  report.checks.push({
    name: "baseline matches the lifecycle",
    ok: rested && report.mismatched.length === 0,
    detail: report.mismatched.join("; ") || (rested ? `${cards.length} cards as predicted` : "not at rest"),
  });
  report.mismatched = [];
  if (!rested)
    report.notes.push("the baseline did not come to rest: the fault scenarios are compared with the prediction");
  await countRuns(h, report);
  report.wallMs = Date.now() - t0;
  h.log(`baseline: ${cards.length} cards at rest in ${seconds(report.wallMs)}`);
  return { report, results: rested ? resultsOf(view) : predicted };
}

/**
 * Worker SIGKILLs at seeded random moments while the backlog runs, `profile.workerKills` of them, each of
 * a random live worker — the kinds not yet hit first once the remaining kills are as many as those kinds,
 * so every queue kind loses a worker; an owner worker once one of its agents runs (`agentsOn`) — each
 * replaced by a new process of its kind before the next kill.
 */
async function workerKills(run: FaultRun): Promise<ScenarioReport> {
  const { h, profile } = run;
  const fleet = h.cluster.workers;
  const backlogId = `cluster-kill-${profile.name}-${h.seed}`;
  const report = newReport("worker-kill", backlogId, run.cards.length);
  const rng = new Rng(h.seed ^ 0x5eed);
  const releaseFile = join(h.cluster.runDir, `release-${backlogId}`);
  const kills: WorkerKill[] = [];
  const workerPids = new Set(fleet.live.map(pidOf));
  const perKind = () =>
    QUEUE_KINDS.map((k) => fleet.live.filter((w) => w.kind === k && w.service.child.exitCode === null).length);
  const fleetBefore = perKind().join(",");
  const startupMs: number[] = [];
  const t0 = Date.now();
  try {
    await startHeld(run, backlogId, releaseFile);
    while (kills.length < profile.workerKills) {
      await delay(rng.int(...profile.killDelayMs));
      const unhit = QUEUE_KINDS.filter((k) => !kills.some((x) => x.kind === k));
      const pool =
        profile.workerKills - kills.length <= unhit.length
          ? fleet.live.filter((w) => unhit.includes(w.kind))
          : fleet.live;
      const victim = rng.sample(pool, 1)[0]!;
      const onIt = await agentsOn(h, backlogId, victim, profile.aimMs);
      kills.push({ at: Date.now(), pid: pidOf(victim), kind: victim.kind, name: victim.name });
      await fleet.kill(victim);
      await delay(rng.int(...profile.restartPauseMs));
      const s0 = Date.now();
      const replacement = await fleet.start(victim.kind);
      startupMs.push(Date.now() - s0);
      workerPids.add(pidOf(replacement));
      h.log(
        `worker-kill: kill ${kills.length}/${profile.workerKills}: ${victim.name} (agent runs on it: ${onIt.join(", ") || "none"}), replaced by ${replacement.name}`,
      );
    }
  } finally {
    writeFileSync(releaseFile, `released after ${kills.length} kills\n`);
  }
  report.kills = kills.length;
  await settle({ profile }, h.client, report, run.expected, kills.at(-1)?.at ?? Date.now());
  const attempts = await countRuns(h, report);
  const { hits, retryGapsMs } = ownerKillHits(attempts, kills, workerPids);
  report.killsHittingAgents = hits.filter((x) => x.length > 0).length;
  report.retryGapsMs = retryGapsMs;
  const byKind = QUEUE_KINDS.map((k) => `${k} ${kills.filter((x) => x.kind === k).length}`).join(", ");
  report.checks.push({
    name: `at least ${profile.workerKills} kills, every queue kind hit`,
    ok: kills.length >= profile.workerKills && QUEUE_KINDS.every((k) => kills.some((x) => x.kind === k)),
    detail: `${kills.length} kills (${byKind}), ${report.killsHittingAgents} interrupting agent runs`,
  });
  report.checks.push({
    name: "every killed worker replaced, the fleet whole again",
    ok: perKind().join(",") === fleetBefore,
    detail: `${fleet.live.length} live workers: ${fleet.live.map((w) => w.name).join(", ")}`,
  });
  const t1 = Math.min(...attempts.flatMap((a) => a.runs.map((r) => r.startedAt)), ...kills.map((k) => k.at));
  report.notes.push(
    `kills: ${kills.map((k, i) => `${k.name} at ${seconds(k.at - t1)} (${hits[i]!.length} agent runs)`).join(", ")}`,
    `replacement start-up (spawn → /healthz): median ${seconds(median(startupMs))}, max ${seconds(Math.max(...startupMs))}`,
  );
  report.wallMs = Date.now() - t0;
  return report;
}

/**
 * A fault of the cluster's server side while the backlog runs, at a seeded random moment: the Temporal
 * server SIGKILLed and started again at the same address, or PostgreSQL stopped `immediate` and started
 * again. The workers are not touched: they must ride it out.
 */
async function serverFault(run: FaultRun, kind: "server-kill" | "postgres-restart"): Promise<ScenarioReport> {
  const { h, profile } = run;
  const cluster = h.cluster;
  const backlogId = `cluster-${kind === "server-kill" ? "server" : "pg"}-${profile.name}-${h.seed}`;
  const report = newReport(kind, backlogId, run.cards.length);
  const rng = new Rng(h.seed ^ (kind === "server-kill" ? 0x5e4e : 0x9a57));
  const releaseFile = join(cluster.runDir, `release-${backlogId}`);
  const workersBefore = cluster.workers.live.map(pidOf);
  const t0 = Date.now();
  let at = 0;
  try {
    await startHeld(run, backlogId, releaseFile);
    await delay(rng.int(...profile.faultDelayMs));
    const running = inFlight(await readInvocations(h.logDir, backlogId));
    at = Date.now();
    if (kind === "server-kill") await cluster.server.restart({ kill: true });
    else await cluster.postgres.restart("immediate");
    h.log(
      `${kind}: ${kind === "server-kill" ? "server SIGKILLed" : "PostgreSQL stopped (immediate)"} with agent runs in flight (${running.join(", ") || "none"}), healthy again after ${seconds(Date.now() - at)}`,
    );
    report.notes.push(`down → healthy again: ${seconds(Date.now() - at)}`);
  } finally {
    writeFileSync(releaseFile, "released\n");
  }
  report.kills = 1;
  await settle({ profile }, h.client, report, run.expected, at || Date.now());
  await countRuns(h, report, { times: [at] });
  const survivors = cluster.workers.live.filter((w) => w.service.child.exitCode === null).map(pidOf);
  report.checks.push({
    name: "every worker process rode it out",
    ok: workersBefore.every((p) => survivors.includes(p)),
    detail: `${survivors.filter((p) => workersBefore.includes(p)).length} of ${workersBefore.length} still running`,
  });
  if (kind === "postgres-restart") {
    const server = cluster.server.process;
    report.checks.push({
      name: "the Temporal server rode it out",
      ok: server !== undefined && server.child.exitCode === null,
      detail: server
        ? `pid ${server.child.pid} ${server.child.exitCode === null ? "running" : "exited"}`
        : "not running",
    });
  }
  report.wallMs = Date.now() - t0;
  return report;
}

/**
 * Runs the fault scenarios of `profile` on the cluster, one backlog each, one after the other: baseline,
 * worker-kill, then (with `serverFaults`) server-kill and postgres-restart. Prints the chaos table.
 * @returns whether every scenario kept every invariant.
 */
export async function runFaults(cluster: Cluster, profile: FaultsProfile): Promise<boolean> {
  const h = await openHarness(cluster);
  const t0 = Date.now();
  const reports: ScenarioReport[] = [];
  try {
    const cards = layeredCards(new Rng(h.seed), profile);
    const base = await baseline(h, profile, cards);
    reports.push(base.report);
    const run: FaultRun = { h, profile, cards, expected: base.results };
    reports.push(await workerKills(run));
    if (profile.serverFaults) {
      reports.push(await serverFault(run, "server-kill"));
      reports.push(await serverFault(run, "postgres-restart"));
    }
  } finally {
    printReports(h, `cluster ${profile.name}`, reports, Date.now() - t0);
    await h.close();
  }
  return reports.every(reportOk);
}
