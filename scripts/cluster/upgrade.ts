/**
 * The `upgrade` phase of `npm run cluster` (issue 14): the server upgrade path N-1 → N under running cards.
 * On a cluster of its own (its own PostgreSQL, server and workers, in `<runDir>/upgrade`, so the main
 * cluster of the other phases is not disturbed): the schemas made by deploy/temporal/setup-postgres.sh with
 * N-1's schema folder and tool, N-1's server, a backlog whose cards are held mid-run (scripts/cluster/held.ts);
 * then the server is stopped, the same script migrates with N's schema folder and tool, N's server starts at
 * the same address, the held cards are released, and every card must end as predicted. The workers keep
 * running throughout, as compose's would during `docker compose up -d temporal`. Node-only.
 */
import { mkdirSync } from "node:fs";
import { delimiter, join } from "node:path";
import type { QueueKind } from "../../src/temporal/queues.js";
import {
  Cluster,
  TEMPORAL_CLI_DIR,
  cleanEnv,
  ensureBinaries,
  seconds,
  setupSchemas,
  step,
  type Postgres,
} from "./cluster.js";
import { finishHeld, printHeld, releaseHeld, startHeld, writeHeldBacklog, type HeldOutcome } from "./held.js";
import { run } from "./processes.js";

/**
 * Server N-1: the newest 1.31 release whose whole module graph the Go module proxy serves. 1.31.3–1.31.5
 * require go.temporal.io/auto-scaled-workers versions whose zips the proxy refuses (403 "not available"),
 * so they cannot be built with `go install`; 1.31.2 can. Its schema folder has the same versions as
 * 1.32.2's (temporal 1.19, visibility 1.14), so the migration step has nothing to apply.
 */
export const UPGRADE_FROM_VERSION = "1.31.2";

/**
 * Temporal upgrades one minor version at a time: `from` must be of the minor before `to`'s.
 * @throws Error naming UPGRADE_FROM_VERSION (scripts/cluster/upgrade.ts) when the compose version moved on.
 */
export function checkPreviousMinor(from: string, to: string): void {
  const [fMajor, fMinor] = from.split(".").map(Number);
  const [tMajor, tMinor] = to.split(".").map(Number);
  if (fMajor !== tMajor || fMinor !== (tMinor ?? 0) - 1)
    throw new Error(
      `scripts/cluster/upgrade.ts: UPGRADE_FROM_VERSION ${from} is not of the minor before the compose server ${to} (set it to the newest ${tMajor}.${(tMinor ?? 0) - 1}.x that builds)`,
    );
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
 * The version the running server reports (`temporal operator cluster system`, GetSystemInfo).
 * @throws Error when the CLI fails.
 */
export async function reportedServerVersion(address: string): Promise<string> {
  const r = await run(join(TEMPORAL_CLI_DIR, "temporal"), ["operator", "cluster", "system", "-o", "json"], {
    env: cleanEnv({ TEMPORAL_ADDRESS: address, PATH: `${TEMPORAL_CLI_DIR}${delimiter}${process.env.PATH}` }),
  });
  return (JSON.parse(r.stdout) as { serverVersion?: string }).serverVersion ?? "?";
}

/** Figures of the upgrade phase. */
export interface UpgradeFigures {
  from: string;
  to: string;
  /** What the server reported before and after (GetSystemInfo). */
  reportedBefore: string;
  reportedAfter: string;
  schemaBefore: SchemaVersions;
  schemaAfter: SchemaVersions;
  /** setup-postgres.sh with N's schema folder and tool (ms). */
  migrationMs: number;
  /** Server N-1 stopped → server N healthy (ms). */
  downtimeMs: number;
  /** Agents of held cards running when the server was stopped. */
  heldRunning: number;
  /** Worker processes that exited while the server was away (none expected: they reconnect). */
  workersExited: string[];
  outcome: HeldOutcome;
  ok: boolean;
}

/**
 * Runs the upgrade path on a cluster of its own under `<main.runDir>/upgrade`, stopped afterwards.
 * @throws Error when a step fails (a build, a script, a server that does not come up, a CLI call).
 */
export async function runUpgrade(main: Cluster): Promise<UpgradeFigures> {
  checkPreviousMinor(UPGRADE_FROM_VERSION, main.server.version);
  const n1 = await ensureBinaries(UPGRADE_FROM_VERSION);
  const n = await ensureBinaries(main.server.version);
  const dir = join(main.runDir, "upgrade");
  mkdirSync(dir, { recursive: true });
  step(`upgrade: a cluster of its own in ${dir}, on server ${n1.version} and its schema`);
  const cluster = await Cluster.start({ runDir: dir, binaries: n1, workers: PHASE_WORKER_GROUPS });
  try {
    const reportedBefore = await reportedServerVersion(cluster.address);
    const schemaBefore = await schemaVersions(cluster.postgres);
    step(
      `upgrade: server reports ${reportedBefore}; schema temporal ${schemaBefore.temporal}, visibility ${schemaBefore.visibility}`,
    );
    const hb = await writeHeldBacklog(join(dir, "backlog"), "upgrade-held");
    const runs = await startHeld(cluster, hb);
    const heldRunning = runs.filter((r) => hb.held.includes(r.cardId) && r.completed === 0).length;
    step(`upgrade: ${hb.free.join(", ")} DONE; ${hb.held.join(", ")} held mid-run by their agents`);

    const t0 = Date.now();
    await cluster.server.stop();
    step(`upgrade: server ${n1.version} stopped; migrating with setup-postgres.sh and ${n.version}'s schema`);
    const m0 = Date.now();
    await setupSchemas(cluster.postgres, n);
    const migrationMs = Date.now() - m0;
    const schemaAfter = await schemaVersions(cluster.postgres);
    await cluster.server.restart({ binaries: n });
    const downtimeMs = Date.now() - t0;
    const reportedAfter = await reportedServerVersion(cluster.address);
    step(
      `upgrade: migrated in ${seconds(migrationMs)} (temporal ${schemaAfter.temporal}, visibility ${schemaAfter.visibility}); server ${reportedAfter} healthy at ${cluster.address} after ${seconds(downtimeMs)}`,
    );
    const workersExited = cluster.workers.live
      .filter((w) => w.service.child.exitCode !== null || w.service.child.signalCode !== null)
      .map((w) => w.name);
    releaseHeld(hb);
    step(`upgrade: held cards released`);
    const outcome = await finishHeld(cluster, hb);
    const ok =
      outcome.ok &&
      reportedBefore === n1.version &&
      reportedAfter === n.version &&
      heldRunning === hb.held.length &&
      workersExited.length === 0;
    if (!ok && outcome.ok)
      console.error(
        `[cluster] upgrade FAILED: server ${reportedBefore} → ${reportedAfter} (expected ${n1.version} → ${n.version}), ${heldRunning} of ${hb.held.length} held agents running at the stop, workers exited: ${workersExited.join(", ") || "none"}`,
      );
    return {
      from: n1.version,
      to: n.version,
      reportedBefore,
      reportedAfter,
      schemaBefore,
      schemaAfter,
      migrationMs,
      downtimeMs,
      heldRunning,
      workersExited,
      outcome,
      ok,
    };
  } finally {
    await cluster.stop();
  }
}

/** Prints the upgrade figures. */
export function printUpgrade(f: UpgradeFigures): void {
  console.log(`  upgrade                 server ${f.reportedBefore} → ${f.reportedAfter} under running cards`);
  console.log(
    `  schema                  temporal ${f.schemaBefore.temporal} → ${f.schemaAfter.temporal}, visibility ${f.schemaBefore.visibility} → ${f.schemaAfter.visibility}; ${f.schemaAfter.updates - f.schemaBefore.updates} updates applied by the migration`,
  );
  console.log(
    `  migration               ${seconds(f.migrationMs)} (setup-postgres.sh, ${f.to}); server down ${seconds(f.downtimeMs)} (stop → healthy)`,
  );
  console.log(
    `  held cards              ${f.heldRunning} agents running across the upgrade; workers exited meanwhile: ${f.workersExited.join(", ") || "none"}`,
  );
  printHeld(f.outcome);
}
