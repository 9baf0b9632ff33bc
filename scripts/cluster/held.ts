/**
 * A backlog whose cards are HELD mid-run, for the cluster phases that change the cluster under running
 * cards (scripts/cluster/upgrade.ts, backup.ts): the owner agent is examples/chaos/agent.mjs, and the
 * agents of the held cards wait, once their work is made, until a gate file exists (CHAOS_HOLD_FILE) —
 * the phase does its operation while they are provably running and releases them afterwards, instead of
 * racing a fast agent. The backlog delivers into a git repository of its own, so every card ends with a
 * merge on the integration branch that can be counted. Node-only; run by scripts/cluster/run.ts.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client, Connection } from "@temporalio/client";
import { readBacklogView, type BacklogView } from "../../src/cli/backlogs.js";
import { chaosBacklogFile, readInvocations, type AttemptRuns, type ChaosCard } from "../chaos/lib.js";
import type { Cluster } from "./cluster.js";
import { checkMerges, countBy, squadflowCli, summary, BACKLOG_TIMEOUT_MS, type StatusDoc } from "./example.js";
import { run, waitUntil } from "./processes.js";

/** Cards of the held backlog: `FREE-*` end before the operation, `HELD-*` run across it, `NEXT-*` start after it. */
export const HELD_CARDS: readonly ChaosCard[] = [
  { id: "FREE-1", dependencies: [], mode: "ok" },
  { id: "FREE-2", dependencies: [], mode: "ok" },
  { id: "HELD-1", dependencies: [], mode: "ok" },
  { id: "HELD-2", dependencies: [], mode: "ok" },
  { id: "HELD-3", dependencies: [], mode: "ok" },
  { id: "NEXT-1", dependencies: ["HELD-1", "HELD-2"], mode: "ok" },
  { id: "NEXT-2", dependencies: ["HELD-3", "FREE-1"], mode: "ok" },
];

/** The files of one held backlog, all under the phase's directory. */
export interface HeldBacklog {
  backlogId: string;
  /** The backlog file given to `squadflow start`. */
  file: string;
  /** The git repository the backlog delivers into (`metadata.repository`). */
  repoDir: string;
  /** The agents' invocation logs (CHAOS_LOG_DIR): one `start`/`done` line per agent run. */
  logDir: string;
  /** The gate: held agents wait until this file exists. */
  holdFile: string;
  held: string[];
  /** Cards not held and depending on nothing held: DONE before the operation. */
  free: string[];
}

/**
 * Writes the held backlog and its repository (one commit on `main`) under `dir`.
 * @throws Error when git fails.
 */
export async function writeHeldBacklog(dir: string, backlogId: string): Promise<HeldBacklog> {
  const repoDir = join(dir, "repo");
  const logDir = join(dir, "agent-logs");
  const holdFile = join(dir, "release-held-cards");
  mkdirSync(repoDir, { recursive: true });
  mkdirSync(logDir, { recursive: true });
  const git = (...args: string[]) => run("git", ["-C", repoDir, ...args]);
  await git("init", "-q", "-b", "main");
  writeFileSync(join(repoDir, "README.md"), `# ${backlogId}\n\nDelivered by squadflow on the cluster.\n`);
  await git("add", "README.md");
  await git(
    "-c",
    "user.name=npm run cluster",
    "-c",
    "user.email=cluster@squadflow.invalid",
    "commit",
    "-q",
    "-m",
    "init",
  );
  const held = HELD_CARDS.filter((c) => c.id.startsWith("HELD-")).map((c) => c.id);
  const doc = chaosBacklogFile(backlogId, HELD_CARDS, {
    logDir,
    minMs: 200,
    maxMs: 600,
    agentTimeoutMs: 30 * 60_000,
    hold: { file: holdFile, cardIds: held },
  });
  const metadata = doc.metadata as Record<string, unknown>;
  doc.metadata = { ...metadata, repository: "repo", base_branch: "main" };
  const file = join(dir, "backlog.json");
  writeFileSync(file, JSON.stringify(doc, null, 2) + "\n");
  const free = HELD_CARDS.filter((c) => c.id.startsWith("FREE-")).map((c) => c.id);
  return { backlogId, file, repoDir, logDir, holdFile, held, free };
}

/** Reads the backlog through a short-lived client of the cluster (closed before returning). */
async function readView(cluster: Cluster, backlogId: string): Promise<BacklogView> {
  const connection = await Connection.connect({ address: cluster.address });
  try {
    return await readBacklogView(new Client({ connection, namespace: cluster.namespace }), backlogId);
  } finally {
    await connection.close();
  }
}

/**
 * Starts the held backlog with `squadflow start` and waits until it is mid-run: every FREE card DONE and
 * the agent of every HELD card started (its invocation log), nothing else able to move.
 * @returns the agent runs at that moment.
 * @throws Error when that state is not reached within BACKLOG_TIMEOUT_MS.
 */
export async function startHeld(cluster: Cluster, hb: HeldBacklog): Promise<AttemptRuns[]> {
  await squadflowCli(cluster, ["start", hb.file, "--json"]);
  let runs: AttemptRuns[] = [];
  await waitUntil(
    `${hb.backlogId}: ${hb.free.join(", ")} DONE and ${hb.held.join(", ")} running`,
    async () => {
      runs = await readInvocations(hb.logDir, hb.backlogId);
      const started = hb.held.every((id) => runs.some((r) => r.cardId === id && r.started > 0));
      if (!started) return false;
      const view = await readView(cluster, hb.backlogId);
      return hb.free.every((id) => view.cards.find((c) => c.cardId === id)?.status === "DONE");
    },
    { timeoutMs: BACKLOG_TIMEOUT_MS, intervalMs: 1000 },
  );
  return runs;
}

/** Opens the gate: the held agents finish their work. */
export function releaseHeld(hb: HeldBacklog): void {
  writeFileSync(hb.holdFile, "released\n");
}

/** How a held backlog ended. */
export interface HeldOutcome {
  cards: number;
  byStatus: Record<string, number>;
  /** Cards not DONE at attempt 1 (the prediction: none). */
  unexpected: string[];
  merges: number;
  mergesOnBranch: number;
  mergeCommits: number;
  mergedTwice: string[];
  /** Agent runs that started / completed their side effect, over every card and attempt. */
  agentStarts: number;
  agentCompletions: number;
  /** `card#attempt` whose side effect happened more than once, or never. */
  completedNotOnce: string[];
  /** The prediction held: every card DONE at attempt 1, merged once, each side effect once. */
  ok: boolean;
}

/**
 * Waits until the backlog is idle (`squadflow status --watch`), then checks it against the prediction:
 * every card DONE at attempt 1, each merged exactly once on the integration branch, each attempt's agent
 * side effect done exactly once (the invocation logs; agent runs restarted after an interruption are
 * counted, not failed).
 * @throws Error when a CLI call fails or the backlog is not idle within BACKLOG_TIMEOUT_MS.
 */
export async function finishHeld(cluster: Cluster, hb: HeldBacklog): Promise<HeldOutcome> {
  await squadflowCli(cluster, ["status", hb.backlogId, "--watch", "--json", "--interval", "500"]);
  const final = JSON.parse((await squadflowCli(cluster, ["status", hb.backlogId, "--json"])).stdout) as StatusDoc & {
    cards: { attempt?: number }[];
  };
  const merges = await checkMerges(hb.repoDir, final);
  const runs = await readInvocations(hb.logDir, hb.backlogId);
  const unexpected = final.cards
    .filter((c) => c.status !== "DONE" || (c as { attempt?: number }).attempt !== 1)
    .map((c) => `${c.cardId} ${c.status}`);
  const completedNotOnce = [
    ...runs.filter((r) => r.completed !== 1).map((r) => `${r.cardId}#${r.attempt} (${r.completed})`),
    ...HELD_CARDS.filter((c) => !runs.some((r) => r.cardId === c.id)).map((c) => `${c.id} (never ran)`),
  ];
  const byStatus = countBy(final.cards);
  const ok =
    final.cards.length === HELD_CARDS.length &&
    unexpected.length === 0 &&
    merges.merges === HELD_CARDS.length &&
    merges.mergesOnBranch === merges.merges &&
    merges.mergeCommits === merges.merges &&
    merges.mergedTwice.length === 0 &&
    completedNotOnce.length === 0;
  if (!ok)
    console.error(
      `[cluster] ${hb.backlogId} FAILED: expected every card DONE at attempt 1, merged once, each side effect once (${summary(final.cards)}; side effects not once: ${completedNotOnce.join(", ") || "none"})`,
    );
  return {
    cards: final.cards.length,
    byStatus,
    unexpected,
    merges: merges.merges,
    mergesOnBranch: merges.mergesOnBranch,
    mergeCommits: merges.mergeCommits,
    mergedTwice: merges.mergedTwice,
    agentStarts: runs.reduce((n, r) => n + r.started, 0),
    agentCompletions: runs.reduce((n, r) => n + r.completed, 0),
    completedNotOnce,
    ok,
  };
}

/** Prints the outcome lines shared by the upgrade and backup phases. */
export function printHeld(o: HeldOutcome): void {
  console.log(
    `  cards                   ${o.cards}: ${Object.entries(o.byStatus)
      .map(([s, n]) => `${n} ${s}`)
      .join(", ")}${o.unexpected.length ? ` (unexpected: ${o.unexpected.join(", ")})` : ", all at attempt 1"}`,
  );
  console.log(
    `  merges                  ${o.merges} cards merged, ${o.mergesOnBranch} reachable from the integration branch, ${o.mergeCommits} merge commits, merged twice: ${o.mergedTwice.join(", ") || "none"}`,
  );
  console.log(
    `  agent runs              ${o.agentStarts} started, ${o.agentCompletions} side effects (one per attempt expected; not once: ${o.completedNotOnce.join(", ") || "none"})`,
  );
}
