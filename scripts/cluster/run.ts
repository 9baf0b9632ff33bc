/**
 * `npm run cluster` — the production topology of docker-compose.yml run for real on this machine, without
 * Docker (issue 14): a Temporal server on PostgreSQL, squadflow workers as separate processes, one group
 * per task queue, and the example backlog delivered on it.
 *
 * Steps (each prints one line; logs of every process land in the run directory):
 * 1. build or reuse `temporal-server` and `temporal-sql-tool` in `.cluster/bin/` (git-ignored) with
 *    `GOTOOLCHAIN=auto go install go.temporal.io/server/cmd/{server,tools/sql}@v<version>`, the version
 *    being the one docker-compose.yml pins for `temporalio/server` (reused when `--version` says so);
 * 2. a private PostgreSQL: `initdb` in a temporary data directory, started on a free loopback port (as the
 *    `postgres` user through `runuser` when run as root: postgres refuses root), checked with the compose
 *    healthcheck's `pg_isready`;
 * 3. the `temporal` and `temporal_visibility` schemas by running deploy/temporal/setup-postgres.sh, with
 *    SCHEMA_ROOT pointed at schema/postgresql/v12 of the server module in the Go module cache;
 * 4. the server as the image starts it (`temporal-server start`, config rendered from the server's
 *    embedded template by the compose service's environment, dynamic config from
 *    deploy/temporal/dynamicconfig), on free loopback ports, healthy by the compose healthcheck (`nc -z`);
 * 5. the namespace and search attributes by running deploy/temporal/create-namespace.sh;
 * 6. the workers as compose starts them (`node --import tsx src/worker.ts --queues <kind>`): 2 owners,
 *    2 validation, 1 orchestration, 1 debugging, connected only through TEMPORAL_ADDRESS /
 *    TEMPORAL_NAMESPACE, each checked with the compose worker healthcheck (GET /healthz);
 * 7. the example backlog (state/backlog_master.example.json, into a fresh copy of its repository) started
 *    with `squadflow start --wait`, BE-002 approved with `squadflow review` once it waits for a human, run
 *    until idle; prints wall time, cards by status and merges, then stops workers, server and PostgreSQL.
 *
 * Settings: `CLUSTER_KEEP=1` keeps the run directory (logs, PostgreSQL data) even on success; it is kept
 * whenever something failed. Exit code 0 when every card ended DONE with its merge on the integration
 * branch, 1 otherwise. Requires: go, PostgreSQL's server binaries, nc, the Temporal CLI (`npm run
 * setup:temporal`). Not part of `npm test`.
 */
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parse } from "yaml";
import { ensureExampleRepository } from "../example-repo.js";
import { PROJECT_ROOT } from "../../src/temporal/cli-path.js";
import { QUEUE_KINDS, type QueueKind } from "../../src/temporal/queues.js";
import {
  freePortPair,
  freePorts,
  killCommands,
  run,
  runUnchecked,
  startService,
  stopService,
  waitUntil,
  type Service,
} from "./processes.js";

/** The git-ignored folder holding the built binaries (`bin/`). */
export const CLUSTER_DIR = resolve(PROJECT_ROOT, ".cluster");
const BIN_DIR = join(CLUSTER_DIR, "bin");
const COMPOSE_FILE = resolve(PROJECT_ROOT, "docker-compose.yml");
const DEPLOY_DIR = resolve(PROJECT_ROOT, "deploy", "temporal");
const TEMPORAL_CLI_DIR = resolve(PROJECT_ROOT, ".temporal-cli", "bin");
const EXAMPLE_BACKLOG = resolve(PROJECT_ROOT, "state", "backlog_master.example.json");

/** Worker processes per task queue kind (issue 14: 2 owners, 2 validation, 1 orchestration, 1 debugging). */
export const WORKER_GROUPS: Readonly<Record<QueueKind, number>> = {
  owners: 2,
  validation: 2,
  orchestration: 1,
  debugging: 1,
};

/** The card the example leaves waiting for a human (README walk-through); approved by this run. */
const REVIEWED_CARD = "BE-002";

/** How long a CLI command that waits for the backlog may take before the run fails (ms): a stuck run ends. */
const BACKLOG_TIMEOUT_MS = 15 * 60_000;

interface ComposeService {
  image?: string;
  environment?: Record<string, string>;
  command?: string[];
  healthcheck?: { test: string[] };
}

/** docker-compose.yml's services (anchors and merge keys resolved). @throws Error naming the file. */
export function composeServices(file = COMPOSE_FILE): Record<string, ComposeService> {
  const doc = parse(readFileSync(file, "utf8"), { merge: true }) as { services?: Record<string, ComposeService> };
  if (!doc?.services) throw new Error(`${file}: no services`);
  return doc.services;
}

/**
 * The Temporal server version docker-compose.yml pins (`temporalio/server:<version>`); the binaries are
 * built at the same version so that what runs here is what the compose file would run.
 * @throws Error naming the file and service when the image has no x.y.z tag.
 */
export function composeServerVersion(services = composeServices()): string {
  const image = services.temporal?.image ?? "";
  const m = /^temporalio\/server:(\d+\.\d+\.\d+)$/.exec(image);
  if (!m) throw new Error(`${COMPOSE_FILE}: service "temporal" image "${image}" is not temporalio/server:<x.y.z>`);
  return m[1]!;
}

const step = (text: string) => console.log(`[cluster] ${text}`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The environment of every Go command: the toolchain the server module asks for is fetched on demand. */
function goEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, GOTOOLCHAIN: "auto", ...extra };
}

async function binaryVersion(path: string): Promise<string | undefined> {
  if (!existsSync(path)) return undefined;
  const r = await runUnchecked(path, ["--version"]);
  return r.code === 0 ? /(\d+\.\d+\.\d+)/.exec(r.stdout)?.[1] : undefined;
}

/**
 * Step 1: `.cluster/bin/temporal-server` and `.cluster/bin/temporal-sql-tool` at `version`, built with
 * `go install` unless both already report that version.
 * @throws Error when go is missing or the build fails (its output is in `.cluster/build.log`).
 */
export async function ensureBinaries(version: string): Promise<{ server: string; sqlTool: string; builtMs?: number }> {
  const server = join(BIN_DIR, "temporal-server");
  const sqlTool = join(BIN_DIR, "temporal-sql-tool");
  if ((await binaryVersion(server)) === version && (await binaryVersion(sqlTool)) === version) {
    step(`reusing temporal-server and temporal-sql-tool ${version} in ${BIN_DIR}`);
    return { server, sqlTool };
  }
  const staging = join(CLUSTER_DIR, "gobin");
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  mkdirSync(BIN_DIR, { recursive: true });
  const pkgs = ["go.temporal.io/server/cmd/server", "go.temporal.io/server/cmd/tools/sql"].map(
    (p) => `${p}@v${version}`,
  );
  step(
    `building Temporal server ${version} and temporal-sql-tool (go install ${pkgs.join(" ")}) — minutes on a cold cache`,
  );
  const t0 = Date.now();
  await run("go", ["install", ...pkgs], { env: goEnv({ GOBIN: staging }), logFile: join(CLUSTER_DIR, "build.log") });
  renameSync(join(staging, "server"), server);
  renameSync(join(staging, "sql"), sqlTool);
  rmSync(staging, { recursive: true, force: true });
  const builtMs = Date.now() - t0;
  step(`built in ${seconds(builtMs)}`);
  return { server, sqlTool, builtMs };
}

/** schema/postgresql/v12 of go.temporal.io/server@v<version> in the Go module cache (downloaded if missing). */
async function schemaRoot(version: string): Promise<string> {
  const r = await run("go", ["mod", "download", "-json", `go.temporal.io/server@v${version}`], { env: goEnv() });
  const dir = (JSON.parse(r.stdout) as { Dir?: string }).Dir;
  const root = dir && join(dir, "schema", "postgresql", "v12");
  if (!root || !existsSync(root))
    throw new Error(`no schema/postgresql/v12 in go.temporal.io/server@v${version} (${dir ?? "not downloaded"})`);
  return root;
}

/** The directory of PostgreSQL's server binaries: the one holding `initdb` on PATH, else the newest /usr/lib/postgresql/N/bin. */
function postgresBinDir(): string {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir && existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl"))) return dir;
  }
  const base = "/usr/lib/postgresql";
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const v of versions) if (existsSync(join(base, v, "bin", "initdb"))) return join(base, v, "bin");
  throw new Error("PostgreSQL server binaries (initdb, pg_ctl) not found on PATH nor in /usr/lib/postgresql/*/bin");
}

/** The private PostgreSQL of a run. */
interface Postgres {
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * Step 2: initdb + start. As root, PostgreSQL runs as the `postgres` user (`runuser -u postgres`), since it
 * refuses to run as root. The superuser and password are the compose file's (POSTGRES_USER/POSTGRES_PASSWORD).
 */
async function startPostgres(runDir: string, port: number, user: string, password: string): Promise<Postgres> {
  const bin = postgresBinDir();
  const pgDir = join(runDir, "postgres");
  const dataDir = join(pgDir, "data");
  mkdirSync(pgDir);
  const pwFile = join(pgDir, "pwfile");
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number((await run("id", ["-u", "postgres"])).stdout.trim());
    const gid = Number((await run("id", ["-g", "postgres"])).stdout.trim());
    chownSync(pgDir, uid, gid);
    chownSync(pwFile, uid, gid);
  }
  const pg = (tool: string, args: string[]) =>
    asRoot
      ? run("runuser", ["-u", "postgres", "--", join(bin, tool), ...args], { logFile: join(runDir, "postgres.log") })
      : run(join(bin, tool), args, { logFile: join(runDir, "postgres.log") });
  await pg("initdb", [
    "-D",
    dataDir,
    "-U",
    user,
    `--pwfile=${pwFile}`,
    "--auth-local=trust",
    "--auth-host=scram-sha-256",
    "-E",
    "UTF8",
  ]);
  const options = `-p ${port} -k ${pgDir} -c listen_addresses=127.0.0.1`;
  await pg("pg_ctl", ["-D", dataDir, "-l", join(pgDir, "server.log"), "-o", options, "-w", "-t", "60", "start"]);
  let stopped = false;
  return {
    port,
    dataDir,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await pg("pg_ctl", ["-D", dataDir, "-m", "fast", "-w", "stop"]).catch((err: Error) =>
        console.error(`[cluster] stopping PostgreSQL: ${err.message}`),
      );
    },
  };
}

/** The server's ports (env names of the embedded config template) → free loopback ports. */
const SERVER_PORT_VARS = [
  "FRONTEND_GRPC_PORT",
  "FRONTEND_HTTP_PORT",
  "FRONTEND_MEMBERSHIP_PORT",
  "HISTORY_GRPC_PORT",
  "HISTORY_MEMBERSHIP_PORT",
  "MATCHING_GRPC_PORT",
  "MATCHING_MEMBERSHIP_PORT",
  "WORKER_GRPC_PORT",
  "WORKER_MEMBERSHIP_PORT",
] as const;

/** An environment without the caller's Temporal/squadflow connection settings (children get only what we give). */
function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith("TEMPORAL_") && !k.startsWith("SQUADFLOW_")) env[k] = v;
  return { ...env, ...extra };
}

interface CardRow {
  cardId: string;
  status: string;
  mergeCommit?: string;
}
interface StatusDoc {
  backlogId: string;
  repository?: { path?: string; branch?: string };
  cards: CardRow[];
}

/** Figures of a cluster run. */
export interface ClusterFigures {
  version: string;
  buildMs?: number;
  setupMs: number;
  backlogMs: number;
  totalMs: number;
  cards: number;
  byStatus: Record<string, number>;
  merges: number;
  mergesOnBranch: number;
  /** `squadflow: merge <card>` commits on the integration branch's first-parent line. */
  mergeCommits: number;
  /** Cards with more than one merge commit (must be none). */
  mergedTwice: string[];
  reviewed: string[];
}

async function main(): Promise<number> {
  const t0 = Date.now();
  const services = composeServices();
  const version = composeServerVersion(services);
  // nc: the deploy scripts' wait loops and the server healthcheck; runuser: PostgreSQL refuses root.
  const tools = process.getuid?.() === 0 ? ["go", "nc", "runuser"] : ["go", "nc"];
  for (const tool of tools) {
    if ((await runUnchecked("sh", ["-c", `command -v ${tool}`])).code !== 0)
      throw new Error(`${tool} is not installed (npm run cluster needs go, nc and PostgreSQL's server binaries)`);
  }
  postgresBinDir(); // fails early, before a build, when PostgreSQL is missing
  if (!existsSync(join(TEMPORAL_CLI_DIR, "temporal")))
    throw new Error(`no Temporal CLI in ${TEMPORAL_CLI_DIR}: run npm run setup:temporal`);

  const { server: serverBin, sqlTool, builtMs } = await ensureBinaries(version);
  const runDir = mkdtempSync(join(tmpdir(), "squadflow-cluster-"));
  chmodSync(runDir, 0o755); // the postgres user must reach its data directory inside
  step(`run directory ${runDir}`);
  const keep = process.env.CLUSTER_KEEP === "1";
  let ok = false;

  const stoppers: (() => Promise<void>)[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      killCommands();
      for (const stop of stoppers.reverse()) await stop();
    })());
  const onSignal = (sig: NodeJS.Signals) => {
    console.error(`[cluster] ${sig}: stopping workers, server and PostgreSQL`);
    void stopAll().then(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    // Step 2: PostgreSQL with the compose service's credentials.
    const pgEnv = services.postgresql?.environment ?? {};
    const pgUser = pgEnv.POSTGRES_USER ?? "temporal";
    const pgPassword = pgEnv.POSTGRES_PASSWORD ?? "temporal";
    const [pgPort, ...serverPorts] = await freePorts(1 + SERVER_PORT_VARS.length);
    const postgres = await startPostgres(runDir, pgPort!, pgUser, pgPassword);
    stoppers.push(() => postgres.stop());
    const pgHealth = (services.postgresql?.healthcheck?.test ?? []).slice(1).join(" ");
    await run("sh", ["-c", `${pgHealth} -h 127.0.0.1 -p ${pgPort}`], {
      env: { ...process.env, PATH: `${postgresBinDir()}${delimiter}${process.env.PATH}` },
    });
    step(`PostgreSQL on 127.0.0.1:${pgPort} healthy (${pgHealth})`);

    // Step 3: schemas, by the compose one-shot's own script and environment.
    const toolsPath = `${BIN_DIR}${delimiter}${TEMPORAL_CLI_DIR}${delimiter}${process.env.PATH}`;
    const adminEnv = services["temporal-admin-tools"]?.environment ?? {};
    const schema = await schemaRoot(version);
    await run("sh", [join(DEPLOY_DIR, "setup-postgres.sh")], {
      env: cleanEnv({
        ...adminEnv,
        POSTGRES_SEEDS: "127.0.0.1",
        DB_PORT: String(pgPort),
        SCHEMA_ROOT: schema,
        PATH: toolsPath,
      }),
      logFile: join(runDir, "setup-postgres.log"),
    });
    step(`schemas created and migrated by deploy/temporal/setup-postgres.sh (${sqlTool}, ${schema})`);

    // Step 4: the server, configured as the image does it: the embedded template rendered from the
    // compose service's environment; the dynamic config path stays the compose one, relative to the
    // working directory, which links config/dynamicconfig to deploy/temporal/dynamicconfig like the mount.
    const serverDir = join(runDir, "temporal");
    mkdirSync(join(serverDir, "config"), { recursive: true });
    symlinkSync(join(DEPLOY_DIR, "dynamicconfig"), join(serverDir, "config", "dynamicconfig"));
    const ports = Object.fromEntries(SERVER_PORT_VARS.map((name, i) => [name, String(serverPorts[i])]));
    const frontendPort = ports.FRONTEND_GRPC_PORT!;
    const temporalEnv = services.temporal?.environment ?? {};
    const server = startService("temporal-server", serverBin, ["start"], {
      cwd: serverDir,
      env: cleanEnv({
        ...temporalEnv,
        POSTGRES_SEEDS: "127.0.0.1",
        DB_PORT: String(pgPort),
        BIND_ON_IP: "127.0.0.1",
        ...ports,
      }),
      logFile: join(runDir, "temporal-server.log"),
    });
    stoppers.push(() => stopService(server));
    // The compose healthcheck is `nc -z localhost 7233`; here the same probe on the chosen port.
    const healthArgs = (services.temporal?.healthcheck?.test ?? [])
      .slice(1)
      .map((a) => (a === "7233" ? frontendPort : a === "localhost" ? "127.0.0.1" : a));
    await waitUntil(
      "Temporal server healthy",
      async () => (await runUnchecked(healthArgs[0]!, healthArgs.slice(1))).code === 0,
      {
        timeoutMs: 120_000,
        failed: () =>
          server.child.exitCode !== null ? `exited ${server.child.exitCode} (log: ${server.logFile})` : undefined,
      },
    );
    const address = `127.0.0.1:${frontendPort}`;
    step(
      `Temporal server ${version} on ${address} (PostgreSQL persistence + visibility), healthy (${healthArgs.join(" ")})`,
    );

    // Step 5: namespace + search attributes, by the compose one-shot's script and environment.
    const nsEnv = services["temporal-create-namespace"]?.environment ?? {};
    const namespace = nsEnv.NAMESPACE ?? "default";
    await run("sh", [join(DEPLOY_DIR, "create-namespace.sh")], {
      env: cleanEnv({ ...nsEnv, TEMPORAL_ADDRESS: address, PATH: toolsPath }),
      logFile: join(runDir, "create-namespace.log"),
    });
    step(
      `namespace ${namespace} and ${
        String(nsEnv.SEARCH_ATTRIBUTES ?? "")
          .trim()
          .split(/\s+/).length
      } search attributes registered by deploy/temporal/create-namespace.sh`,
    );

    // Step 6: one group of worker processes per task queue, started as the compose services start them.
    const stateDir = join(runDir, "state");
    const takenPorts = new Set<number>([pgPort!, ...serverPorts]);
    const workers: Service[] = [];
    const metricsPorts = new Map<Service, number>();
    for (const kind of QUEUE_KINDS) {
      const compose = services[`worker-${kind}`];
      const [command, ...args] = compose?.command ?? [];
      if (command !== "node")
        throw new Error(`${COMPOSE_FILE}: service worker-${kind} does not run node (${compose?.command?.join(" ")})`);
      for (let i = 1; i <= WORKER_GROUPS[kind]; i++) {
        const metricsPort = await freePortPair(takenPorts);
        takenPorts.add(metricsPort).add(metricsPort + 1);
        const env = cleanEnv({
          ...(compose?.environment ?? {}),
          TEMPORAL_ADDRESS: address,
          TEMPORAL_NAMESPACE: namespace,
          SQUADFLOW_METRICS_PORT: String(metricsPort),
          // The compose workers share one state volume; here one state folder of the run.
          SQUADFLOW_WORKSPACES: join(stateDir, "workspaces"),
          SQUADFLOW_WORKTREES: join(stateDir, "worktrees"),
          SQUADFLOW_REPOS: join(stateDir, "repos"),
        });
        const w = startService(`worker-${kind}-${i}`, process.execPath, args, {
          cwd: PROJECT_ROOT,
          env,
          logFile: join(runDir, `worker-${kind}-${i}.log`),
        });
        stoppers.push(() => stopService(w));
        workers.push(w);
        metricsPorts.set(w, metricsPort);
      }
    }
    const workerHealth = services[`worker-${QUEUE_KINDS[0]}`]?.healthcheck?.test ?? [];
    for (const w of workers) {
      await waitUntil(`${w.name} connected`, () => w.stdout().includes("squadflow worker on"), {
        timeoutMs: 180_000,
        failed: () => (w.child.exitCode !== null ? `exited ${w.child.exitCode} (log: ${w.logFile})` : undefined),
      });
      // The compose healthcheck command (node fetching /healthz on SQUADFLOW_METRICS_PORT + 1), as is.
      await run(workerHealth[1]!, workerHealth.slice(2), {
        env: { ...process.env, SQUADFLOW_METRICS_PORT: String(metricsPorts.get(w)) },
      });
    }
    const groups = QUEUE_KINDS.map((k) => `${WORKER_GROUPS[k]} ${k}`).join(", ");
    step(
      `${workers.length} worker processes (${groups}) connected through TEMPORAL_ADDRESS=${address}, /healthz answered`,
    );
    const setupMs = Date.now() - t0 - (builtMs ?? 0);

    // Step 7: the example backlog, as `npm start` delivers it, into a fresh copy of its repository.
    const backlogFile = join(runDir, "backlog.json");
    copyFileSync(EXAMPLE_BACKLOG, backlogFile);
    const backlog = JSON.parse(readFileSync(backlogFile, "utf8")) as { metadata?: { repository?: string } };
    const repoDir = resolve(runDir, backlog.metadata?.repository ?? "repos/shop-discounts");
    await ensureExampleRepository(repoDir);
    const cliEnv = cleanEnv({ TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace });
    const squadflow = async (args: string[]) => {
      const r = await run(process.execPath, ["--import", "tsx", "src/client.ts", ...args], {
        cwd: PROJECT_ROOT,
        env: cliEnv,
        logFile: join(runDir, "cli.log"),
        timeoutMs: BACKLOG_TIMEOUT_MS,
      });
      // A CLI stopped by our own SIGINT/SIGTERM handler still prints what it saw: not a result.
      if (stopping) throw new Error("interrupted");
      return r;
    };
    const tBacklog = Date.now();
    const started = JSON.parse((await squadflow(["start", backlogFile, "--wait", "--json"])).stdout) as {
      backlogId: string;
      idle: boolean;
      status: StatusDoc;
    };
    const backlogId = started.backlogId;
    const waiting = started.status.cards.filter((c) => c.status === "AWAITING_HUMAN").map((c) => c.cardId);
    step(
      `backlog ${backlogId} idle after ${seconds(Date.now() - tBacklog)}; waiting for a human: ${waiting.join(", ") || "none"}`,
    );
    if (!waiting.includes(REVIEWED_CARD))
      throw new Error(
        `${REVIEWED_CARD} is not AWAITING_HUMAN once the backlog is idle (statuses: ${summary(started.status.cards)})`,
      );
    for (const card of waiting) {
      await squadflow([
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
    await squadflow(["status", backlogId, "--watch", "--json", "--interval", "500"]);
    const final = JSON.parse((await squadflow(["status", backlogId, "--json"])).stdout) as StatusDoc;
    const backlogMs = Date.now() - tBacklog;

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
    // Exactly once: one `squadflow: merge <card>` commit per merged card on the integration branch.
    const subjects = branch
      ? (await run("git", ["-C", repoDir, "log", "--first-parent", "--format=%s", branch])).stdout.split("\n")
      : [];
    const mergeCommits: Record<string, number> = {};
    for (const line of subjects) {
      const cardId = /^squadflow: merge (\S+)/.exec(line)?.[1];
      if (cardId) mergeCommits[cardId] = (mergeCommits[cardId] ?? 0) + 1;
    }
    const mergedTwice = Object.entries(mergeCommits)
      .filter(([, n]) => n > 1)
      .map(([id]) => id);
    const figures: ClusterFigures = {
      version,
      ...(builtMs !== undefined ? { buildMs: builtMs } : {}),
      setupMs,
      backlogMs,
      totalMs: Date.now() - t0,
      cards: final.cards.length,
      byStatus: countBy(final.cards),
      merges: merged.length,
      mergesOnBranch,
      mergeCommits: Object.values(mergeCommits).reduce((a, b) => a + b, 0),
      mergedTwice,
      reviewed: waiting,
    };
    printFigures(figures, branch);
    const done = figures.byStatus.DONE ?? 0;
    ok =
      done === figures.cards &&
      merged.length > 0 &&
      mergesOnBranch === merged.length &&
      figures.mergeCommits === merged.length &&
      mergedTwice.length === 0;
    if (!ok)
      console.error(`[cluster] FAILED: expected every card DONE with its merge on ${branch} (${summary(final.cards)})`);
  } finally {
    step("stopping workers, Temporal server and PostgreSQL");
    await stopAll();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (ok && !keep) rmSync(runDir, { recursive: true, force: true });
    else step(`kept ${runDir} (logs, PostgreSQL data)`);
  }
  return ok ? 0 : 1;
}

function countBy(cards: readonly CardRow[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of cards) out[c.status] = (out[c.status] ?? 0) + 1;
  return out;
}

function summary(cards: readonly CardRow[]): string {
  return cards.map((c) => `${c.cardId} ${c.status}`).join(", ");
}

function printFigures(f: ClusterFigures, branch: string | undefined): void {
  console.log("");
  console.log(
    `Cluster run — Temporal server ${f.version} on PostgreSQL, ${Object.values(WORKER_GROUPS).reduce((a, b) => a + b, 0)} worker processes`,
  );
  if (f.buildMs !== undefined) console.log(`  build (go install)      ${seconds(f.buildMs)}`);
  console.log(`  setup (pg → workers)    ${seconds(f.setupMs)}`);
  console.log(
    `  backlog wall time       ${seconds(f.backlogMs)} (start → idle, with the human approval of ${f.reviewed.join(", ")})`,
  );
  console.log(
    `  cards                   ${f.cards}: ${Object.entries(f.byStatus)
      .map(([s, n]) => `${n} ${s}`)
      .join(", ")}`,
  );
  console.log(
    `  merges                  ${f.merges} cards merged, ${f.mergesOnBranch} of their commits reachable from ${branch ?? "?"}, ${f.mergeCommits} merge commits on it, merged twice: ${f.mergedTwice.join(", ") || "none"}`,
  );
  console.log(`  total                   ${seconds(f.totalMs)}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().then(
    (code) => process.exit(code),
    (err: Error) => {
      console.error(`[cluster] ${err.message}`);
      process.exit(1);
    },
  );
}
