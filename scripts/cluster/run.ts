/**
 * `npm run cluster [-- --phases example,… | --short]` — the production topology of docker-compose.yml run for real on
 * this machine, without Docker (issue 14): a Temporal server on PostgreSQL, squadflow workers as separate
 * processes, one group per task queue, and backlogs delivered on it.
 *
 * Set-up (scripts/cluster/cluster.ts; each step prints one line, every process logs into the run directory):
 * 1. build or reuse `temporal-server` and `temporal-sql-tool` in `.cluster/bin/v<version>/` (git-ignored)
 *    with `GOTOOLCHAIN=auto go install go.temporal.io/server/cmd/{server,tools/sql}@v<version>`, the version
 *    being the one docker-compose.yml pins for `temporalio/server`;
 * 2. a private PostgreSQL: `initdb` in the run directory, started on a free loopback port (as the `postgres`
 *    user through `runuser` when run as root: postgres refuses root), checked with the compose healthcheck's
 *    `pg_isready`;
 * 3. the `temporal` and `temporal_visibility` schemas by running deploy/temporal/setup-postgres.sh, with
 *    SCHEMA_ROOT pointed at schema/postgresql/v12 of the server module in the Go module cache;
 * 4. the server as the image starts it (`temporal-server start`, config rendered from the server's embedded
 *    template by the compose service's environment, dynamic config from deploy/temporal/dynamicconfig), on
 *    free loopback ports, healthy by the compose healthcheck (`nc -z`);
 * 5. the namespace and search attributes by running deploy/temporal/create-namespace.sh;
 * 6. the workers as compose starts them (`node --import tsx src/worker.ts --queues <kind>`): 2 owners,
 *    2 validation, 1 orchestration, 1 debugging, connected only through TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE,
 *    each checked with the compose worker healthcheck (GET /healthz).
 * Then the phases, in order (default: every phase of PHASES not `optIn`; `--short`, CI's form, is the example
 * and `kills`), then everything is stopped.
 *
 * Settings: `CLUSTER_SEED=<n>` repeats the chaos backlogs and kill moments of a run (its seed is printed);
 * `CLUSTER_KEEP=1` keeps the run directory (logs, PostgreSQL data) even on success; it is kept
 * whenever something failed. Exit code 0 when every phase's checks held, 1 otherwise. Requires: go,
 * PostgreSQL's server binaries, nc (Debian's netcat-openbsd), the Temporal CLI (`npm run setup:temporal`).
 * Not part of `npm test`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Command } from "commander";
import {
  Cluster,
  WORKER_GROUPS,
  checkPrerequisites,
  composeServerVersion,
  ensureBinaries,
  seconds,
  step,
} from "./cluster.js";
import { printExample, runExample } from "./example.js";
import { FULL_FAULTS, SHORT_FAULTS, runFaults } from "./faults.js";
import { runLayered } from "./layered.js";
import { killCommands } from "./processes.js";
import { UPGRADE_FROM_VERSION, printUpgrade, runUpgrade } from "./upgrade.js";
import { printBackup, runBackup } from "./backup.js";

/**
 * One phase of a cluster run: runs on the started cluster, prints its figures, and answers whether its
 * checks held. Phases run one after the other on the same cluster (a phase leaves it running and healthy).
 */
export interface Phase {
  name: string;
  /** One line for `--help`. */
  description: string;
  run(cluster: Cluster): Promise<boolean>;
  /** Runs only when named (`--phases`, `--short`), not by default. */
  optIn?: boolean;
}

/** The phases of `npm run cluster`, in the order they run (those `optIn` only when named). */
export const PHASES: readonly Phase[] = [
  {
    name: "example",
    description: "the example backlog to the end, BE-002 approved by squadflow review; one merge per card",
    run: async (cluster) => {
      const f = await runExample(cluster);
      printExample(f);
      return f.ok;
    },
  },
  {
    name: "layered",
    description: "the chaos harness's layered backlog, 200 cards, to the end; every card as the lifecycle predicts",
    run: runLayered,
  },
  {
    name: "faults",
    description:
      "the chaos scenarios on a 50-card layered backlog: 20 worker SIGKILLs (every queue kind), a server SIGKILL, a PostgreSQL crash",
    run: (cluster) => runFaults(cluster, FULL_FAULTS),
  },
  {
    name: "kills",
    description:
      "CI's short form of faults: 12 cards, 1 worker SIGKILL per queue kind, a server SIGKILL, a PostgreSQL crash",
    run: (cluster) => runFaults(cluster, SHORT_FAULTS),
    optIn: true,
  },
  {
    name: "upgrade",
    description: `server ${UPGRADE_FROM_VERSION} → the compose version under held cards (own cluster): schema by setup-postgres.sh, migrate, continue`,
    run: async (cluster) => {
      const f = await runUpgrade(cluster);
      printUpgrade(f);
      return f.ok;
    },
  },
  {
    name: "backup",
    description:
      "pg_dump -Fc of both databases under held cards (own cluster), pg_restore into a fresh PostgreSQL, continue",
    run: async (cluster) => {
      const f = await runBackup(cluster);
      printBackup(f);
      return f.ok;
    },
  },
];

/** The phases of `--short`, the form CI runs: the example, then a few kills. */
export const SHORT_PHASES = "example,kills";

/**
 * Parses `--phases a,b` against PHASES.
 * @throws Error naming an unknown phase and the known ones.
 */
export function selectPhases(list: string | undefined): Phase[] {
  if (!list) return PHASES.filter((p) => !p.optIn);
  return list.split(",").map((name) => {
    const phase = PHASES.find((p) => p.name === name.trim());
    if (!phase) throw new Error(`--phases: unknown phase "${name}" (known: ${PHASES.map((p) => p.name).join(", ")})`);
    return phase;
  });
}

async function main(argv: string[]): Promise<number> {
  const program = new Command("npm run cluster --")
    .description("Runs docker-compose.yml's topology for real: Temporal server on PostgreSQL, workers as processes")
    .option(
      "--phases <list>",
      `comma-separated phases (${PHASES.map((p) => `${p.name}: ${p.description}`).join("; ")})`,
    )
    .option("--short", `CI's short form: --phases ${SHORT_PHASES}`)
    .parse(argv);
  const opts = program.opts<{ phases?: string; short?: boolean }>();
  if (opts.short && opts.phases)
    throw new Error("--short and --phases exclude each other (--short is --phases " + SHORT_PHASES + ")");
  const phases = selectPhases(opts.short ? SHORT_PHASES : opts.phases);

  const t0 = Date.now();
  await checkPrerequisites();
  const binaries = await ensureBinaries(composeServerVersion());
  const runDir = mkdtempSync(join(tmpdir(), "squadflow-cluster-"));
  step(`run directory ${runDir}`);
  const keep = process.env.CLUSTER_KEEP === "1";
  let cluster: Cluster | undefined;
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      killCommands();
      await cluster?.stop();
    })());
  const onSignal = (sig: NodeJS.Signals) => {
    console.error(`[cluster] ${sig}: stopping workers, server and PostgreSQL`);
    void stopAll().then(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const results: { phase: string; ok: boolean; ms: number }[] = [];
  let setupMs = 0;
  try {
    cluster = await Cluster.start({ runDir, binaries });
    setupMs = Date.now() - t0 - (binaries.builtMs ?? 0);
    for (const phase of phases) {
      step(`phase ${phase.name}: ${phase.description}`);
      const p0 = Date.now();
      const ok = await phase.run(cluster);
      results.push({ phase: phase.name, ok, ms: Date.now() - p0 });
      if (!ok) break;
    }
  } finally {
    step("stopping workers, Temporal server and PostgreSQL");
    await stopAll();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  const ok = results.length === phases.length && results.every((r) => r.ok);
  const workers = Object.values(WORKER_GROUPS).reduce((a, b) => a + b, 0);
  console.log("");
  console.log(`Cluster run — Temporal server ${binaries.version} on PostgreSQL, ${workers} worker processes`);
  if (binaries.builtMs !== undefined) console.log(`  build (go install)      ${seconds(binaries.builtMs)}`);
  console.log(`  setup (pg → workers)    ${seconds(setupMs)}`);
  for (const r of results) console.log(`  phase ${r.phase.padEnd(17)} ${seconds(r.ms)} ${r.ok ? "ok" : "FAILED"}`);
  console.log(`  total                   ${seconds(Date.now() - t0)}`);
  if (ok && !keep) rmSync(runDir, { recursive: true, force: true });
  else step(`kept ${runDir} (logs, PostgreSQL data)`);
  return ok ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main(process.argv).then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(`[cluster] ${err.message}`);
      process.exit(1);
    },
  );
}
