/**
 * The example backlog on the cluster (issue 14): state/backlog_master.example.json into a fresh copy of
 * its repository, started with `squadflow start --wait`, BE-002 approved with `squadflow review` once it
 * waits for a human (as in the README walk-through), run until idle, then every merge checked on the
 * integration branch. Node-only; run by scripts/cluster/run.ts.
 */
import { copyFileSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { ensureExampleRepository } from "../example-repo.js";
import { PROJECT_ROOT } from "../../src/temporal/cli-path.js";
import type { Cluster } from "./cluster.js";
import { run, runUnchecked, type CommandResult } from "./processes.js";
import { seconds, step } from "./cluster.js";

const EXAMPLE_BACKLOG = resolve(PROJECT_ROOT, "state", "backlog_master.example.json");

/** The card the example leaves waiting for a human (README walk-through); approved by this run. */
const REVIEWED_CARD = "BE-002";

/** How long a CLI command that waits for the backlog may take before the run fails (ms): a stuck run ends. */
export const BACKLOG_TIMEOUT_MS = 15 * 60_000;

/** One card of `squadflow status --json`. */
export interface CardRow {
  cardId: string;
  status: string;
  mergeCommit?: string;
}

/** `squadflow status --json`, the fields the cluster reads. */
export interface StatusDoc {
  backlogId: string;
  repository?: { path?: string; branch?: string };
  cards: CardRow[];
}

/** Figures of the example run on the cluster. */
export interface ExampleFigures {
  backlogId: string;
  /** start → idle after the approval (ms). */
  backlogMs: number;
  cards: number;
  byStatus: Record<string, number>;
  merges: number;
  mergesOnBranch: number;
  /** `squadflow: merge <card>` commits on the integration branch's first-parent line. */
  mergeCommits: number;
  /** Cards with more than one merge commit (must be none). */
  mergedTwice: string[];
  reviewed: string[];
  branch?: string;
  /** Every card DONE, each merge on the branch exactly once. */
  ok: boolean;
}

/**
 * Runs the squadflow CLI (`node --import tsx src/client.ts …`) against the cluster.
 * @throws Error when it exits non-zero or runs longer than BACKLOG_TIMEOUT_MS.
 */
export function squadflowCli(cluster: Cluster, args: readonly string[]): Promise<CommandResult> {
  return run(process.execPath, ["--import", "tsx", "src/client.ts", ...args], {
    cwd: PROJECT_ROOT,
    env: cluster.cliEnv(),
    logFile: join(cluster.runDir, "cli.log"),
    timeoutMs: BACKLOG_TIMEOUT_MS,
  });
}

/** Cards by status (`{ DONE: 12 }`). */
export function countBy(cards: readonly CardRow[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of cards) out[c.status] = (out[c.status] ?? 0) + 1;
  return out;
}

/** `BE-001 DONE, BE-002 AWAITING_HUMAN, …` */
export function summary(cards: readonly CardRow[]): string {
  return cards.map((c) => `${c.cardId} ${c.status}`).join(", ");
}

/**
 * Checks the merges of a finished backlog on its integration branch: each merged card's commit reachable
 * from the branch, and one `squadflow: merge <card>` commit per merged card on its first-parent line.
 */
export async function checkMerges(
  repoDir: string,
  final: StatusDoc,
): Promise<Pick<ExampleFigures, "merges" | "mergesOnBranch" | "mergeCommits" | "mergedTwice" | "branch">> {
  const merged = final.cards.filter((c) => c.mergeCommit);
  const branch = final.repository?.branch;
  let mergesOnBranch = 0;
  for (const c of merged) {
    if (
      branch &&
      (await runUnchecked("git", ["-C", repoDir, "merge-base", "--is-ancestor", c.mergeCommit!, branch])).code === 0
    )
      mergesOnBranch++;
  }
  const subjects = branch
    ? (await run("git", ["-C", repoDir, "log", "--first-parent", "--format=%s", branch])).stdout.split("\n")
    : [];
  const perCard: Record<string, number> = {};
  for (const line of subjects) {
    const cardId = /^squadflow: merge (\S+)/.exec(line)?.[1];
    if (cardId) perCard[cardId] = (perCard[cardId] ?? 0) + 1;
  }
  return {
    merges: merged.length,
    mergesOnBranch,
    mergeCommits: Object.values(perCard).reduce((a, b) => a + b, 0),
    mergedTwice: Object.entries(perCard)
      .filter(([, n]) => n > 1)
      .map(([id]) => id),
    ...(branch ? { branch } : {}),
  };
}

/**
 * Delivers the example backlog on the cluster, with the human approval of BE-002.
 * @throws Error when BE-002 does not wait for a human once the backlog is idle, or a CLI call fails.
 */
export async function runExample(cluster: Cluster): Promise<ExampleFigures> {
  const backlogFile = join(cluster.runDir, "backlog.json");
  copyFileSync(EXAMPLE_BACKLOG, backlogFile);
  const backlog = JSON.parse(readFileSync(backlogFile, "utf8")) as { metadata?: { repository?: string } };
  const repoDir = resolve(cluster.runDir, backlog.metadata?.repository ?? "repos/shop-discounts");
  await ensureExampleRepository(repoDir);
  const t0 = Date.now();
  const started = JSON.parse((await squadflowCli(cluster, ["start", backlogFile, "--wait", "--json"])).stdout) as {
    backlogId: string;
    status: StatusDoc;
  };
  const backlogId = started.backlogId;
  const waiting = started.status.cards.filter((c) => c.status === "AWAITING_HUMAN").map((c) => c.cardId);
  step(
    `backlog ${backlogId} idle after ${seconds(Date.now() - t0)}; waiting for a human: ${waiting.join(", ") || "none"}`,
  );
  if (!waiting.includes(REVIEWED_CARD))
    throw new Error(
      `${REVIEWED_CARD} is not AWAITING_HUMAN once the backlog is idle (statuses: ${summary(started.status.cards)})`,
    );
  for (const card of waiting) {
    await squadflowCli(cluster, [
      "review",
      backlogId,
      card,
      "--approve",
      "--reviewer",
      "npm-run-cluster",
      "--reason",
      "cluster run: approved as in the README walk-through",
    ]);
  }
  step(`approved ${waiting.join(", ")} with squadflow review`);
  // `status --watch` returns once every card has ended or waits for a human again.
  await squadflowCli(cluster, ["status", backlogId, "--watch", "--json", "--interval", "500"]);
  const final = JSON.parse((await squadflowCli(cluster, ["status", backlogId, "--json"])).stdout) as StatusDoc;
  const backlogMs = Date.now() - t0;
  const merges = await checkMerges(repoDir, final);
  const byStatus = countBy(final.cards);
  const ok =
    (byStatus.DONE ?? 0) === final.cards.length &&
    merges.merges > 0 &&
    merges.mergesOnBranch === merges.merges &&
    merges.mergeCommits === merges.merges &&
    merges.mergedTwice.length === 0;
  if (!ok)
    console.error(
      `[cluster] example FAILED: expected every card DONE with its merge on ${merges.branch} (${summary(final.cards)})`,
    );
  return { backlogId, backlogMs, cards: final.cards.length, byStatus, ...merges, reviewed: waiting, ok };
}

/** Prints the example's figures. */
export function printExample(f: ExampleFigures): void {
  console.log(
    `  example backlog         ${seconds(f.backlogMs)} (start → idle, with the human approval of ${f.reviewed.join(", ")})`,
  );
  console.log(
    `  cards                   ${f.cards}: ${Object.entries(f.byStatus)
      .map(([s, n]) => `${n} ${s}`)
      .join(", ")}`,
  );
  console.log(
    `  merges                  ${f.merges} cards merged, ${f.mergesOnBranch} of their commits reachable from ${f.branch ?? "?"}, ${f.mergeCommits} merge commits on it, merged twice: ${f.mergedTwice.join(", ") || "none"}`,
  );
}
