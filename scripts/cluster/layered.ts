/**
 * The FAULTS harness's layered backlog on the cluster (issue 14): the chaos harness's cards
 * (`layeredCards`), backlog file (`chaosBacklogFile`) and agent (examples/chaos/agent.mjs), started with
 * `squadflow start` and delivered by the cluster's worker processes (src/worker.ts, as compose runs them),
 * then checked with the harness's own invariants (`settle`, `countRuns`): every card at the terminal state
 * the lifecycle predicts, none lost, no owner side effect twice. Also the shared plumbing of the fault
 * phases (scripts/cluster/faults.ts). Node-only; run by scripts/cluster/run.ts.
 *
 * The agent's settings travel in the backlog file's squad section (its `env`: CHAOS_LOG_DIR, the hold
 * file), so the workers need nothing beyond the compose environment.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client, Connection } from "@temporalio/client";
import {
  Rng,
  chaosBacklogFile,
  layeredCards,
  type ChaosCard,
  type ChaosSquadOptions,
  type LayeredOptions,
} from "../chaos/lib.js";
import {
  countRuns,
  formatReport,
  newReport,
  predictedResults,
  reportOk,
  settle,
  type ChaosResult,
  type ScenarioReport,
} from "../chaos/scenarios.js";
import { seconds, step, type Cluster } from "./cluster.js";
import { countBy, squadflowCli } from "./example.js";

/** The environment variable that repeats a run's random choices (backlog shapes, kill moments). */
export const CLUSTER_SEED_ENV = "CLUSTER_SEED";

let seed: number | undefined;

/**
 * The seed of this run: CLUSTER_SEED, else drawn once per process (printed, so a run can be repeated).
 * @throws Error naming CLUSTER_SEED when it is not a non-negative integer.
 */
export function clusterSeed(): number {
  if (seed !== undefined) return seed;
  const text = process.env[CLUSTER_SEED_ENV];
  if (text !== undefined && text !== "") {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`${CLUSTER_SEED_ENV} must be a non-negative integer, got "${text}"`);
    seed = n;
  } else seed = Math.floor(Math.random() * 2 ** 31);
  step(`seed ${seed} (${CLUSTER_SEED_ENV}=${seed} repeats the backlogs and the kill moments)`);
  return seed;
}

/** A client of the cluster for a phase, and where the chaos agents log their runs. */
export interface ClusterHarness {
  cluster: Cluster;
  client: Client;
  seed: number;
  /** `<runDir>/invocations`: the agents' invocation logs (CHAOS_LOG_DIR). */
  logDir: string;
  /** Prints one progress line, with the seconds since the harness opened. */
  log(line: string): void;
  /** Closes the client's connection. Never throws. */
  close(): Promise<void>;
}

/**
 * Connects a client to the cluster (TEMPORAL_ADDRESS / namespace of `cluster`) and prepares the invocation
 * log folder. @throws Error when the server cannot be reached.
 */
export async function openHarness(cluster: Cluster): Promise<ClusterHarness> {
  const connection = await Connection.connect({ address: cluster.address });
  const logDir = join(cluster.runDir, "invocations");
  mkdirSync(logDir, { recursive: true });
  const t0 = Date.now();
  return {
    cluster,
    client: new Client({ connection, namespace: cluster.namespace }),
    seed: clusterSeed(),
    logDir,
    log: (line) => step(`+${seconds(Date.now() - t0)} ${line}`),
    close: () => connection.close().catch(() => undefined),
  };
}

/** The squad settings of a chaos backlog on the cluster: agents of `minMs`–`maxMs`, a 2-min hard limit. */
export function clusterSquad(
  h: ClusterHarness,
  agentMs: [number, number],
  extra: Partial<ChaosSquadOptions> = {},
): ChaosSquadOptions {
  return { logDir: h.logDir, minMs: agentMs[0], maxMs: agentMs[1], agentTimeoutMs: 120_000, ...extra };
}

/**
 * Writes the chaos backlog file of `cards` into the run directory (`<backlogId>.json`) and starts it with
 * `squadflow start` on the cluster's default task queues, the ones the compose workers poll.
 * @throws Error when the CLI refuses the file or cannot start it.
 */
export async function startClusterBacklog(
  h: ClusterHarness,
  backlogId: string,
  cards: readonly ChaosCard[],
  squad: ChaosSquadOptions,
): Promise<void> {
  const file = join(h.cluster.runDir, `${backlogId}.json`);
  writeFileSync(file, JSON.stringify(chaosBacklogFile(backlogId, cards, squad), null, 2));
  await squadflowCli(h.cluster, ["start", file, "--json"]);
}

/** Prints reports in the chaos harness's table (scripts/chaos/scenarios.ts `formatReport`). */
export function printReports(h: ClusterHarness, profile: string, reports: ScenarioReport[], wallMs: number): void {
  const result: ChaosResult = { seed: h.seed, profile, reports, wallMs, runDir: h.cluster.runDir };
  console.log(`\n${formatReport(result).replace(/CHAOS_SEED=/, `${CLUSTER_SEED_ENV}=`)}\n`);
}

/**
 * The 200-card backlog of the `layered` phase: 10 layers of 20 cards, each card depending on 1–2 of the
 * layer before; ~15 % rejected once by the judge, one card that never passes (→ AWAITING_HUMAN, its
 * dependents wait TODO) — the chaos harness's full profile, four times as many cards.
 */
export const LAYERED_BACKLOG: LayeredOptions & { agentMs: [number, number] } = {
  layers: 10,
  width: 20,
  failFirstRate: 0.15,
  alwaysFail: true,
  agentMs: [200, 2_000],
};

/** How long the layered backlog may take to come to rest before its unfinished cards count as stuck, ms. */
export const LAYERED_TIMEOUT_MS = 15 * 60_000;

/**
 * The `layered` phase: LAYERED_BACKLOG delivered by the cluster's workers without faults, compared with
 * what the lifecycle predicts for each card (`predictedResults`). Prints the chaos table, cards by status
 * and throughput.
 * @returns whether every invariant held (none lost, stuck, mismatched or duplicated; one agent run per attempt).
 */
export async function runLayered(cluster: Cluster): Promise<boolean> {
  const h = await openHarness(cluster);
  try {
    const cards = layeredCards(new Rng(h.seed), LAYERED_BACKLOG);
    const backlogId = `cluster-layered-${h.seed}`;
    const report = newReport("layered", backlogId, cards.length);
    const expected = predictedResults(cards);
    const t0 = Date.now();
    await startClusterBacklog(h, backlogId, cards, clusterSquad(h, LAYERED_BACKLOG.agentMs));
    h.log(`layered: backlog ${backlogId} started (${cards.length} cards), waiting until it is at rest`);
    const view = await settle({ profile: { stuckAfterMs: LAYERED_TIMEOUT_MS } }, h.client, report, expected, t0);
    await countRuns(h, report);
    report.wallMs = Date.now() - t0;
    report.checks.push({
      name: "every card at the terminal state the lifecycle predicts",
      ok: report.mismatched.length === 0 && report.stuck.length === 0 && report.lost.length === 0,
      detail: `${cards.length - report.mismatched.length} of ${cards.length} as predicted (${report.stuck.length} stuck, ${report.lost.length} lost)`,
    });
    report.checks.push({
      name: "one agent run per attempt (no faults: nothing re-run)",
      ok: report.rerunAttempts === 0 && report.agentStarted === report.agentCompleted,
      detail: `${report.agentStarted} started, ${report.agentCompleted} completed, ${report.rerunAttempts} attempts re-run`,
    });
    const byStatus = view ? countBy(view.cards.map((c) => ({ cardId: c.cardId, status: String(c.status) }))) : {};
    const done = byStatus.DONE ?? 0;
    report.notes.push(
      `cards by status: ${Object.entries(byStatus)
        .map(([s, n]) => `${n} ${s}`)
        .join(
          ", ",
        )}; ${done} DONE in ${seconds(report.wallMs)} = ${((done / report.wallMs) * 60_000).toFixed(0)} cards/min`,
    );
    printReports(h, "cluster layered", [report], report.wallMs);
    return reportOk(report);
  } finally {
    await h.close();
  }
}
