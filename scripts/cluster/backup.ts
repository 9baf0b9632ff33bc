/**
 * The `backup` phase of `npm run cluster` (issue 14): a backup with `pg_dump` and a restore with
 * `pg_restore` that brings running cards back. On a cluster of its own (in `<runDir>/backup`, so the main
 * cluster of the other phases is not disturbed): a backlog whose cards are held mid-run
 * (scripts/cluster/held.ts); `pg_dump -Fc` of `temporal` and `temporal_visibility`; workers, server and
 * PostgreSQL stopped and the original data directory deleted; a fresh PostgreSQL (new data directory,
 * `createdb`, `pg_restore`, then deploy/temporal/setup-postgres.sh as `docker compose up` would run it);
 * the server started on it at the same address with the same config otherwise, the workers started
 * again, the held cards released — and every card must end as predicted. The workers' state folder (the
 * compose `squadflow-state` volume) is left as it is. Node-only.
 */
import { chownSync, mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { Cluster, Postgres, ensureBinaries, seconds, setupSchemas, step } from "./cluster.js";
import { finishHeld, printHeld, releaseHeld, startHeld, writeHeldBacklog, type HeldOutcome } from "./held.js";
import { freePorts, run } from "./processes.js";
import { PHASE_WORKER_GROUPS, schemaVersions, type SchemaVersions } from "./upgrade.js";

/** The databases of docker-compose.yml's Temporal (DBNAME, VISIBILITY_DBNAME defaults of setup-postgres.sh). */
export const DATABASES = ["temporal", "temporal_visibility"] as const;

/** Figures of the backup phase. */
export interface BackupFigures {
  /** Dump file size per database (bytes). */
  dumpBytes: Record<string, number>;
  /** Both `pg_dump -Fc` runs (ms). */
  dumpMs: number;
  /** Fresh PostgreSQL: initdb and start (ms). */
  freshMs: number;
  /** Both `createdb` + `pg_restore` runs (ms). */
  restoreMs: number;
  /**
   * Schema versions read from the original databases before the dump and from the restored ones after
   * setup-postgres.sh ran on them (must be equal: same versions, no update applied).
   */
  schemaDumped: SchemaVersions;
  schemaRestored: SchemaVersions;
  /** Agents of held cards running when the dump was taken. */
  heldRunning: number;
  /** Workers stopped → server and workers back on the restored databases (ms). */
  outageMs: number;
  outcome: HeldOutcome;
  ok: boolean;
}

/**
 * Runs the backup and restore on a cluster of its own under `<main.runDir>/backup`, stopped afterwards.
 * @throws Error when a step fails (pg_dump, pg_restore, a server that does not come up, a CLI call).
 */
export async function runBackup(main: Cluster): Promise<BackupFigures> {
  const binaries = await ensureBinaries(main.server.version);
  const dir = join(main.runDir, "backup");
  mkdirSync(dir, { recursive: true });
  step(`backup: a cluster of its own in ${dir}`);
  const cluster = await Cluster.start({ runDir: dir, binaries, workers: PHASE_WORKER_GROUPS });
  let restored: Postgres | undefined;
  try {
    const pg = cluster.postgres;
    const hb = await writeHeldBacklog(join(dir, "backlog"), "backup-held");
    const runs = await startHeld(cluster, hb);
    const heldRunning = runs.filter((r) => hb.held.includes(r.cardId) && r.completed === 0).length;
    step(`backup: ${hb.free.join(", ")} DONE; ${hb.held.join(", ")} held mid-run by their agents`);

    // pg_dump runs as the postgres user (as root): the dumps go to a folder it owns.
    const dumpDir = join(dir, "postgres", "dumps");
    mkdirSync(dumpDir, { recursive: true });
    if (process.getuid?.() === 0) {
      const uid = Number((await run("id", ["-u", "postgres"])).stdout.trim());
      const gid = Number((await run("id", ["-g", "postgres"])).stdout.trim());
      chownSync(dumpDir, uid, gid);
    }
    const conn = (p: Postgres) => ["-h", "127.0.0.1", "-p", String(p.port), "-U", p.user];
    const dumpFile = (db: string) => join(dumpDir, `${db}.dump`);
    const schemaDumped = await schemaVersions(pg);
    const d0 = Date.now();
    for (const db of DATABASES) await pg.tool("pg_dump", [...conn(pg), "-Fc", "-f", dumpFile(db), db]);
    const dumpMs = Date.now() - d0;
    const dumpBytes = Object.fromEntries(DATABASES.map((db) => [db, statSync(dumpFile(db)).size]));
    step(
      `backup: pg_dump -Fc ${DATABASES.join(", ")} in ${seconds(dumpMs)} (${DATABASES.map((db) => `${kib(dumpBytes[db]!)}`).join(", ")})`,
    );

    const o0 = Date.now();
    await cluster.workers.stopAll();
    await cluster.server.stop();
    await pg.stop();
    rmSync(pg.dataDir, { recursive: true, force: true });
    step(`backup: workers, server and PostgreSQL stopped; ${pg.dataDir} deleted`);

    const f0 = Date.now();
    const [port] = (await freePorts(4)).filter((p) => !cluster.takenPorts.has(p));
    cluster.takenPorts.add(port!);
    restored = await Postgres.create(dir, "restored", port!);
    const freshMs = Date.now() - f0;
    const r0 = Date.now();
    for (const db of DATABASES) {
      await restored.tool("createdb", [...conn(restored), db]);
      await restored.tool("pg_restore", [...conn(restored), "--exit-on-error", "-d", db, dumpFile(db)]);
    }
    const restoreMs = Date.now() - r0;
    // What `docker compose up` runs before the server: the schema one-shot, which must leave a restored
    // database as it is (the databases exist, their schemas are current).
    await setupSchemas(restored, binaries);
    const schemaRestored = await schemaVersions(restored);
    step(
      `backup: fresh PostgreSQL on 127.0.0.1:${port} (${restored.dataDir}) in ${seconds(freshMs)}; createdb + pg_restore in ${seconds(restoreMs)}; setup-postgres.sh left it at temporal ${schemaRestored.temporal}, visibility ${schemaRestored.visibility}`,
    );

    await cluster.server.restart({ postgres: restored });
    await cluster.workers.startAll(PHASE_WORKER_GROUPS);
    const outageMs = Date.now() - o0;
    step(
      `backup: server at ${cluster.address} and ${cluster.workers.live.length} workers back on the restored databases, ${seconds(outageMs)} after the stop`,
    );
    releaseHeld(hb);
    step(`backup: held cards released`);
    const outcome = await finishHeld(cluster, hb);
    const sameSchema = JSON.stringify(schemaDumped) === JSON.stringify(schemaRestored);
    const ok = outcome.ok && sameSchema && heldRunning === hb.held.length;
    if (!ok && outcome.ok)
      console.error(
        `[cluster] backup FAILED: schema dumped ${JSON.stringify(schemaDumped)}, restored ${JSON.stringify(schemaRestored)}; ${heldRunning} of ${hb.held.length} held agents running at the dump`,
      );
    return {
      dumpBytes,
      dumpMs,
      freshMs,
      restoreMs,
      schemaDumped,
      schemaRestored,
      heldRunning,
      outageMs,
      outcome,
      ok,
    };
  } finally {
    await cluster.stop();
    await restored?.stop();
  }
}

const kib = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KiB`;

/** Prints the backup figures. */
export function printBackup(f: BackupFigures): void {
  console.log(
    `  pg_dump -Fc             ${seconds(f.dumpMs)}: ${Object.entries(f.dumpBytes)
      .map(([db, n]) => `${db} ${kib(n)}`)
      .join(", ")}`,
  );
  console.log(
    `  restore                 fresh PostgreSQL ${seconds(f.freshMs)}, createdb + pg_restore ${seconds(f.restoreMs)}; schema temporal ${f.schemaRestored.temporal}, visibility ${f.schemaRestored.visibility} (as dumped: ${f.schemaDumped.temporal}, ${f.schemaDumped.visibility})`,
  );
  console.log(
    `  held cards              ${f.heldRunning} agents running at the dump; cluster back ${seconds(f.outageMs)} after the stop`,
  );
  printHeld(f.outcome);
}
