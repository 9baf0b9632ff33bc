/**
 * The `upgrade` phase of `npm run cluster` (issue 14): the server upgrade path N-1 → N under running cards.
 * On a cluster of its own (its own PostgreSQL, server and workers, in `<runDir>/upgrade`, so the main
 * cluster of the other phases is not disturbed): the schemas made by deploy/temporal/setup-postgres.sh with
 * N-1's schema folder and tool, N-1's server, a backlog whose cards are held mid-run (scripts/cluster/held.ts);
 * then the server is stopped, the same script migrates with N's schema folder and tool, N's server starts at
 * the same address, the held cards are released, and every card must end as predicted. The workers keep
 * running throughout, as compose's would during `docker compose up -d temporal`. With
 * `CLUSTER_UPGRADE_FROM=a,b` the server starts on a and is upgraded a → b → N the same way, one minor at
 * a time. Node-only.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { QueueKind } from "../../src/temporal/queues.js";
import { Cluster, ensureBinaries, seconds, setupSchemas, step, type Postgres } from "./cluster.js";
import { finishHeld, printHeld, releaseHeld, startHeld, writeHeldBacklog, type HeldOutcome } from "./held.js";

/**
 * Server N-1, where the phase starts by default: the newest 1.31 release whose whole module graph the Go
 * module proxy serves. 1.31.3–1.31.5 require go.temporal.io/auto-scaled-workers versions whose zips the
 * proxy refuses (403 "not available"), so they cannot be built with `go install`; 1.31.2 can. Its schema
 * folder has the same versions as 1.32.2's (temporal 1.19, visibility 1.14), so this upgrade's migration
 * has nothing to apply; starting on 1.30.9 (`CLUSTER_UPGRADE_FROM=1.30.9,1.31.2`) adds one that has.
 */
export const UPGRADE_FROM_VERSION = "1.31.2";

/**
 * Temporal upgrades one minor version at a time: `from` must be of the minor before `to`'s.
 * @throws Error naming both versions otherwise.
 */
export function checkPreviousMinor(from: string, to: string): void {
  const [fMajor, fMinor] = from.split(".").map(Number);
  const [tMajor, tMinor] = to.split(".").map(Number);
  if (fMajor !== tMajor || fMinor !== (tMinor ?? 0) - 1)
    throw new Error(`${from} → ${to} is not an upgrade to the next minor (Temporal upgrades one minor at a time)`);
}

/** Workers of the phase clusters (one per queue: the phases test the server, not worker scaling). */
export const PHASE_WORKER_GROUPS: Readonly<Record<QueueKind, number>> = {
  owners: 1,
  validation: 1,
  orchestration: 1,
  debugging: 1,
};

/** `curr_version` of the `schema_version` table of both databases, as temporal-sql-tool keeps it. */
export interface SchemaVersions {
  temporal: string;
  visibility: string;
  /** Rows of `schema_update_history` of both databases (each applied update adds one). */
  updates: number;
}

/**
 * Reads the schema versions from the databases with psql.
 * @throws Error when psql fails (e.g. a database or the table is missing).
 */
export async function schemaVersions(pg: Postgres): Promise<SchemaVersions> {
  const query = async (db: string, sql: string) =>
    (
      await pg.tool("psql", ["-h", "127.0.0.1", "-p", String(pg.port), "-U", pg.user, "-d", db, "-tA", "-c", sql])
    ).stdout.trim();
  const version = (db: string) => query(db, "SELECT curr_version FROM schema_version");
  const updates = async (db: string) => Number(await query(db, "SELECT count(*) FROM schema_update_history"));
  return {
    temporal: await version("temporal"),
    visibility: await version("temporal_visibility"),
    updates: (await updates("temporal")) + (await updates("temporal_visibility")),
  };
}

/**
 * The server versions the phase starts on and upgrades through before the compose version:
 * `CLUSTER_UPGRADE_FROM` (comma-separated, oldest first, e.g. `1.30.9,1.31.2` for two upgrades, each one
 * minor) or, by default, UPGRADE_FROM_VERSION alone.
 * @throws Error naming CLUSTER_UPGRADE_FROM (or UPGRADE_FROM_VERSION) when a version is not x.y.z or two
 *   neighbours (the compose version included) are not one minor apart.
 */
export function upgradePath(composeVersion: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const source = env.CLUSTER_UPGRADE_FROM
    ? `CLUSTER_UPGRADE_FROM=${env.CLUSTER_UPGRADE_FROM}`
    : `UPGRADE_FROM_VERSION ${UPGRADE_FROM_VERSION} (scripts/cluster/upgrade.ts)`;
  const list = (env.CLUSTER_UPGRADE_FROM || UPGRADE_FROM_VERSION)
    .split(",")
    .map((v) => v.trim())
    .filter(Boolean);
  for (const v of list) if (!/^\d+\.\d+\.\d+$/.test(v)) throw new Error(`${source}: "${v}" is not a version x.y.z`);
  const chain = [...list, composeVersion];
  for (let i = 1; i < chain.length; i++) {
    try {
      checkPreviousMinor(chain[i - 1]!, chain[i]!);
    } catch (err) {
      throw new Error(
        `${source}: ${(err as Error).message} — set it to the newest release of each minor before ${composeVersion} that builds`,
      );
    }
  }
  return list;
}

/** One upgrade: server `from` stopped, setup-postgres.sh with `to`'s schema, server `to` started. */
export interface UpgradeStep {
  from: string;
  to: string;
  /** What the server reported after the step (GetSystemInfo). */
  reported: string;
  schemaBefore: SchemaVersions;
  schemaAfter: SchemaVersions;
  /** setup-postgres.sh with `to`'s schema folder and tool (ms). */
  migrationMs: number;
  /** Server `from` stopped → server `to` healthy (ms). */
  downtimeMs: number;
}

/** Figures of the upgrade phase. */
export interface UpgradeFigures {
  /** The version the server reported before the first step. */
  reportedBefore: string;
  steps: UpgradeStep[];
  /** Agents of held cards running when the server was first stopped. */
  heldRunning: number;
  /** Worker processes that exited while the server was away (none expected: they reconnect). */
  workersExited: string[];
  outcome: HeldOutcome;
  ok: boolean;
}

/**
 * Runs the upgrade path (upgradePath(), then the main cluster's version) on a cluster of its own under
 * `<main.runDir>/upgrade`, stopped afterwards.
 * @throws Error when a step fails (a build, a script, a server that does not come up, a CLI call), or as
 *   upgradePath.
 */
export async function runUpgrade(main: Cluster): Promise<UpgradeFigures> {
  const path = upgradePath(main.server.version);
  const binaries = [];
  for (const v of [...path, main.server.version]) binaries.push(await ensureBinaries(v));
  const dir = join(main.runDir, "upgrade");
  mkdirSync(dir, { recursive: true });
  step(`upgrade: a cluster of its own in ${dir}, on server ${binaries[0]!.version} and its schema`);
  const cluster = await Cluster.start({ runDir: dir, binaries: binaries[0], workers: PHASE_WORKER_GROUPS });
  try {
    const reportedBefore = cluster.server.reportedVersion;
    let schema = await schemaVersions(cluster.postgres);
    step(
      `upgrade: server reports ${reportedBefore}; schema temporal ${schema.temporal}, visibility ${schema.visibility}`,
    );
    const hb = await writeHeldBacklog(join(dir, "backlog"), "upgrade-held");
    const runs = await startHeld(cluster, hb);
    const heldRunning = runs.filter((r) => hb.held.includes(r.cardId) && r.completed === 0).length;
    step(`upgrade: ${hb.free.join(", ")} DONE; ${hb.held.join(", ")} held mid-run by their agents`);

    const steps: UpgradeStep[] = [];
    for (let i = 1; i < binaries.length; i++) {
      const from = binaries[i - 1]!;
      const to = binaries[i]!;
      const t0 = Date.now();
      await cluster.server.stop();
      step(`upgrade: server ${from.version} stopped; migrating with setup-postgres.sh and ${to.version}'s schema`);
      const m0 = Date.now();
      await setupSchemas(cluster.postgres, to);
      const migrationMs = Date.now() - m0;
      const schemaAfter = await schemaVersions(cluster.postgres);
      await cluster.server.restart({ binaries: to });
      const downtimeMs = Date.now() - t0;
      const reported = cluster.server.reportedVersion;
      step(
        `upgrade: migrated in ${seconds(migrationMs)} (temporal ${schemaAfter.temporal}, visibility ${schemaAfter.visibility}); server ${reported} healthy at ${cluster.address} after ${seconds(downtimeMs)}`,
      );
      steps.push({
        from: from.version,
        to: to.version,
        reported,
        schemaBefore: schema,
        schemaAfter,
        migrationMs,
        downtimeMs,
      });
      schema = schemaAfter;
    }
    const workersExited = cluster.workers.live
      .filter((w) => w.service.child.exitCode !== null || w.service.child.signalCode !== null)
      .map((w) => w.name);
    releaseHeld(hb);
    step(`upgrade: held cards released`);
    const outcome = await finishHeld(cluster, hb);
    const ok =
      outcome.ok &&
      reportedBefore === binaries[0]!.version &&
      steps.every((s) => s.reported === s.to) &&
      heldRunning === hb.held.length &&
      workersExited.length === 0;
    if (!ok && outcome.ok)
      console.error(
        `[cluster] upgrade FAILED: server reported ${[reportedBefore, ...steps.map((s) => s.reported)].join(" → ")} (expected ${binaries.map((b) => b.version).join(" → ")}), ${heldRunning} of ${hb.held.length} held agents running at the stop, workers exited: ${workersExited.join(", ") || "none"}`,
      );
    return { reportedBefore, steps, heldRunning, workersExited, outcome, ok };
  } finally {
    await cluster.stop();
  }
}

/** Prints the upgrade figures. */
export function printUpgrade(f: UpgradeFigures): void {
  console.log(
    `  upgrade                 server ${[f.reportedBefore, ...f.steps.map((s) => s.reported)].join(" → ")} under running cards`,
  );
  for (const s of f.steps) {
    console.log(
      `  ${`${s.from} → ${s.to}`.padEnd(23)} schema temporal ${s.schemaBefore.temporal} → ${s.schemaAfter.temporal}, visibility ${s.schemaBefore.visibility} → ${s.schemaAfter.visibility} (${s.schemaAfter.updates - s.schemaBefore.updates} updates applied); migration ${seconds(s.migrationMs)}; server down ${seconds(s.downtimeMs)} (stop → healthy)`,
    );
  }
  console.log(
    `  held cards              ${f.heldRunning} agents running across the upgrade; workers exited meanwhile: ${f.workersExited.join(", ") || "none"}`,
  );
  printHeld(f.outcome);
}
