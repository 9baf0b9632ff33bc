/**
 * The pieces of a real Temporal cluster on this machine, as docker-compose.yml describes it (issue 14): a
 * private PostgreSQL, the schemas and namespace made by the deploy/ scripts, a Temporal server built from
 * `go.temporal.io/server`, and squadflow workers as separate processes, one group per task queue. Each
 * piece can be stopped, restarted or killed on its own, for the fault runs of `npm run cluster`, and reused
 * by the benchmark (`BENCH_TARGET=cluster`). Node-only; nothing here is imported by src/.
 */
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import { parse } from "yaml";
import { PROJECT_ROOT } from "../../src/temporal/cli-path.js";
import { QUEUE_KINDS, type QueueKind } from "../../src/temporal/queues.js";
import {
  freePortPair,
  freePorts,
  run,
  runUnchecked,
  startService,
  stopService,
  waitUntil,
  type CommandResult,
  type Service,
} from "./processes.js";

/** The git-ignored folder holding the built binaries (`bin/v<version>/`) and the build log. */
export const CLUSTER_DIR = resolve(PROJECT_ROOT, ".cluster");
/** docker-compose.yml, whose services' environments and healthchecks the cluster uses as they are. */
export const COMPOSE_FILE = resolve(PROJECT_ROOT, "docker-compose.yml");
/** deploy/temporal: the schema and namespace scripts of the compose one-shots, run here for real. */
export const DEPLOY_DIR = resolve(PROJECT_ROOT, "deploy", "temporal");
/** The Temporal CLI (`npm run setup:temporal`), used by create-namespace.sh. */
export const TEMPORAL_CLI_DIR = resolve(PROJECT_ROOT, ".temporal-cli", "bin");

/** Worker processes per task queue kind (issue 14: 2 owners, 2 validation, 1 orchestration, 1 debugging). */
export const WORKER_GROUPS: Readonly<Record<QueueKind, number>> = {
  owners: 2,
  validation: 2,
  orchestration: 1,
  debugging: 1,
};

/** One service of docker-compose.yml, the fields the cluster reads. */
export interface ComposeService {
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

/** Prints one progress line of a cluster run. */
export const step = (text: string): void => console.log(`[cluster] ${text}`);
/** `12.3 s` from milliseconds. */
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

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
 * Fails early, before any build, when a tool the cluster needs is missing: go, nc (the deploy scripts'
 * wait loops and the server healthcheck), runuser as root (PostgreSQL refuses root), PostgreSQL's server
 * binaries and the Temporal CLI.
 * @throws Error naming what is missing and how to get it.
 */
export async function checkPrerequisites(): Promise<void> {
  const tools = process.getuid?.() === 0 ? ["go", "nc", "runuser"] : ["go", "nc"];
  for (const tool of tools) {
    if ((await runUnchecked("sh", ["-c", `command -v ${tool}`])).code !== 0)
      throw new Error(`${tool} is not installed (npm run cluster needs go, nc and PostgreSQL's server binaries)`);
  }
  postgresBinDir();
  if (!existsSync(join(TEMPORAL_CLI_DIR, "temporal")))
    throw new Error(`no Temporal CLI in ${TEMPORAL_CLI_DIR}: run npm run setup:temporal`);
}

/** The built server binaries of one version. */
export interface TemporalBinaries {
  version: string;
  /** `temporal-server` */
  server: string;
  /** `temporal-sql-tool` (go.temporal.io/server/cmd/tools/sql) */
  sqlTool: string;
  /** The folder holding both (put first on PATH for the deploy scripts). */
  dir: string;
  /** How long the build took (ms), when this call built them. */
  builtMs?: number;
}

/**
 * `.cluster/bin/v<version>/temporal-server` and `temporal-sql-tool`, built with `GOTOOLCHAIN=auto go install
 * go.temporal.io/server/cmd/{server,tools/sql}@v<version>` unless both already report that version.
 * @throws Error when go is missing or the build fails (its output is in `.cluster/build-<version>.log`).
 */
export async function ensureBinaries(version: string): Promise<TemporalBinaries> {
  const dir = join(CLUSTER_DIR, "bin", `v${version}`);
  const server = join(dir, "temporal-server");
  const sqlTool = join(dir, "temporal-sql-tool");
  if ((await binaryVersion(server)) === version && (await binaryVersion(sqlTool)) === version) {
    step(`reusing temporal-server and temporal-sql-tool ${version} in ${dir}`);
    return { version, server, sqlTool, dir };
  }
  const staging = join(CLUSTER_DIR, `gobin-${version}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  mkdirSync(dir, { recursive: true });
  const pkgs = ["go.temporal.io/server/cmd/server", "go.temporal.io/server/cmd/tools/sql"].map(
    (p) => `${p}@v${version}`,
  );
  step(
    `building Temporal server ${version} and temporal-sql-tool (go install ${pkgs.join(" ")}) — minutes on a cold cache`,
  );
  const t0 = Date.now();
  await run("go", ["install", ...pkgs], {
    env: goEnv({ GOBIN: staging }),
    logFile: join(CLUSTER_DIR, `build-${version}.log`),
  });
  renameSync(join(staging, "server"), server);
  renameSync(join(staging, "sql"), sqlTool);
  rmSync(staging, { recursive: true, force: true });
  const builtMs = Date.now() - t0;
  step(`built in ${seconds(builtMs)}`);
  return { version, server, sqlTool, dir, builtMs };
}

/**
 * schema/postgresql/v12 of go.temporal.io/server@v<version> in the Go module cache (downloaded if missing).
 * @throws Error when the module has no such folder.
 */
export async function schemaRoot(version: string): Promise<string> {
  const r = await run("go", ["mod", "download", "-json", `go.temporal.io/server@v${version}`], { env: goEnv() });
  const dir = (JSON.parse(r.stdout) as { Dir?: string }).Dir;
  const root = dir && join(dir, "schema", "postgresql", "v12");
  if (!root || !existsSync(root))
    throw new Error(`no schema/postgresql/v12 in go.temporal.io/server@v${version} (${dir ?? "not downloaded"})`);
  return root;
}

/**
 * The directory of PostgreSQL's programs (server and client tools of one version): the real folder of
 * the `initdb` found on PATH, else the newest /usr/lib/postgresql/N/bin (Debian's layout).
 * @throws Error when neither has them.
 */
export function postgresBinDir(): string {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    // A link on PATH (e.g. /usr/local/bin/initdb) leads to the folder that also holds pg_dump, psql…
    if (dir && existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl")))
      return dirname(realpathSync(join(dir, "initdb")));
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

/** An environment without the caller's Temporal/squadflow connection settings (children get only what we give). */
export function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith("TEMPORAL_") && !k.startsWith("SQUADFLOW_")) env[k] = v;
  return { ...env, ...extra };
}

/**
 * A private PostgreSQL in `<runDir>/postgres/<name>` on a loopback port. As root it runs as the `postgres`
 * user (`runuser -u postgres`), since PostgreSQL refuses root. The superuser and password are the compose
 * file's (POSTGRES_USER / POSTGRES_PASSWORD).
 */
export class Postgres {
  /** The data directory (`initdb -D`). */
  readonly dataDir: string;
  private readonly dir: string;
  private running = false;

  private constructor(
    readonly runDir: string,
    readonly name: string,
    readonly port: number,
    readonly user: string,
    readonly password: string,
  ) {
    this.dir = join(runDir, "postgres", name);
    this.dataDir = join(this.dir, "data");
  }

  /**
   * `initdb` a new cluster and start it, healthy by the compose healthcheck (`pg_isready`).
   * @throws Error when initdb or pg_ctl fails (their output is in `<runDir>/postgres.log`).
   */
  static async create(runDir: string, name: string, port: number, services = composeServices()): Promise<Postgres> {
    const env = services.postgresql?.environment ?? {};
    const pg = new Postgres(runDir, name, port, env.POSTGRES_USER ?? "temporal", env.POSTGRES_PASSWORD ?? "temporal");
    mkdirSync(pg.dir, { recursive: true });
    chmodSync(join(runDir, "postgres"), 0o755);
    const pwFile = join(pg.dir, "pwfile");
    writeFileSync(pwFile, `${pg.password}\n`, { mode: 0o600 });
    if (process.getuid?.() === 0) {
      const uid = Number((await run("id", ["-u", "postgres"])).stdout.trim());
      const gid = Number((await run("id", ["-g", "postgres"])).stdout.trim());
      chownSync(pg.dir, uid, gid);
      chownSync(pwFile, uid, gid);
    }
    await pg.tool("initdb", [
      "-D",
      pg.dataDir,
      "-U",
      pg.user,
      `--pwfile=${pwFile}`,
      "--auth-local=trust",
      "--auth-host=scram-sha-256",
      "-E",
      "UTF8",
    ]);
    await pg.start(services);
    return pg;
  }

  /**
   * Runs one of PostgreSQL's programs (initdb, pg_ctl, pg_dump, pg_restore, psql…) as the user PostgreSQL
   * runs as, with PGPASSWORD set, output appended to `<runDir>/postgres.log`.
   * @throws Error when it exits non-zero.
   */
  tool(name: string, args: readonly string[], opts: { input?: string } = {}): Promise<CommandResult> {
    const bin = join(postgresBinDir(), name);
    const env = { ...process.env, PGPASSWORD: this.password };
    const logFile = join(this.runDir, "postgres.log");
    return process.getuid?.() === 0
      ? run("runuser", ["-u", "postgres", "--", bin, ...args], { env, logFile, ...opts })
      : run(bin, args, { env, logFile, ...opts });
  }

  /** Starts the server (`pg_ctl start -w`) and waits for the compose healthcheck. @throws Error if it does not come up. */
  async start(services = composeServices()): Promise<void> {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1`;
    await this.tool("pg_ctl", [
      "-D",
      this.dataDir,
      "-l",
      join(this.dir, "server.log"),
      "-o",
      options,
      "-w",
      "-t",
      "60",
      "start",
    ]);
    this.running = true;
    const health = (services.postgresql?.healthcheck?.test ?? []).slice(1).join(" ");
    await run("sh", ["-c", `${health} -h 127.0.0.1 -p ${this.port}`], {
      env: { ...process.env, PATH: `${postgresBinDir()}${delimiter}${process.env.PATH}` },
    });
  }

  /** Stops the server (`pg_ctl stop -m fast`, or `immediate`: a crash as far as the server's clients can tell). Never throws. */
  async stop(mode: "fast" | "immediate" = "fast"): Promise<void> {
    if (!this.running) return;
    this.running = false;
    await this.tool("pg_ctl", ["-D", this.dataDir, "-m", mode, "-w", "stop"]).catch((err: Error) =>
      console.error(`[cluster] stopping PostgreSQL ${this.name}: ${err.message}`),
    );
  }

  /** Stops and starts again on the same port and data. @throws Error when it does not come back. */
  async restart(mode: "fast" | "immediate" = "fast"): Promise<void> {
    await this.stop(mode);
    await this.start();
  }
}

/**
 * Creates or migrates the `temporal` and `temporal_visibility` schemas by running
 * deploy/temporal/setup-postgres.sh with the compose one-shot's environment, SCHEMA_ROOT pointed at
 * `version`'s schema/postgresql/v12 and that version's `temporal-sql-tool` first on PATH. Run again with a
 * newer version, the same script migrates (its `update-schema` steps).
 * @throws Error when the script fails (its output is in `<runDir>/setup-postgres-<version>.log`).
 */
export async function setupSchemas(
  pg: Postgres,
  binaries: TemporalBinaries,
  services = composeServices(),
): Promise<string> {
  const schema = await schemaRoot(binaries.version);
  await run("sh", [join(DEPLOY_DIR, "setup-postgres.sh")], {
    env: cleanEnv({
      ...(services["temporal-admin-tools"]?.environment ?? {}),
      POSTGRES_SEEDS: "127.0.0.1",
      DB_PORT: String(pg.port),
      SCHEMA_ROOT: schema,
      PATH: `${binaries.dir}${delimiter}${TEMPORAL_CLI_DIR}${delimiter}${process.env.PATH}`,
    }),
    logFile: join(pg.runDir, `setup-postgres-${binaries.version}.log`),
  });
  return schema;
}

/** The server's ports (env names of the embedded config template). */
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

/**
 * The Temporal server, started as the image starts it (`temporal-server start`, config rendered from the
 * server's embedded template by the compose service's environment, dynamic config from
 * deploy/temporal/dynamicconfig), on fixed loopback ports chosen once, so that a restart (or a newer
 * binary, for the upgrade path) comes back at the same address.
 */
export class TemporalServer {
  private service?: Service;
  private starts = 0;
  private reported = "?";

  private constructor(
    readonly runDir: string,
    private postgres: Postgres,
    private readonly ports: Record<string, string>,
    private binaries: TemporalBinaries,
    private readonly services: Record<string, ComposeService>,
  ) {}

  /** The frontend's gRPC address (`127.0.0.1:<port>`), what workers and CLIs get as TEMPORAL_ADDRESS. */
  get address(): string {
    return `127.0.0.1:${this.ports.FRONTEND_GRPC_PORT}`;
  }

  /** The PostgreSQL it runs on (another one after `restart({ postgres })`, e.g. a restored backup). */
  get pg(): Postgres {
    return this.postgres;
  }

  /** The version now running (or last run). */
  get version(): string {
    return this.binaries.version;
  }

  /** The running process, if any. */
  get process(): Service | undefined {
    return this.service;
  }

  /**
   * Chooses the ports (avoiding `taken`, added to it) and starts the server.
   * @throws Error when it is not healthy within 120 s (its log is in the run directory).
   */
  static async start(
    runDir: string,
    pg: Postgres,
    binaries: TemporalBinaries,
    taken: Set<number>,
    services = composeServices(),
  ): Promise<TemporalServer> {
    const picked: number[] = [];
    while (picked.length < SERVER_PORT_VARS.length) {
      for (const p of await freePorts(SERVER_PORT_VARS.length))
        if (!taken.has(p) && !picked.includes(p)) picked.push(p);
    }
    const ports = Object.fromEntries(SERVER_PORT_VARS.map((name, i) => [name, String(picked[i])]));
    for (const p of picked.slice(0, SERVER_PORT_VARS.length)) taken.add(p);
    const dir = join(runDir, "temporal");
    mkdirSync(join(dir, "config"), { recursive: true });
    // The dynamic config path stays the compose one, relative to the working directory, which links
    // config/dynamicconfig to deploy/temporal/dynamicconfig like the compose mount.
    if (!existsSync(join(dir, "config", "dynamicconfig")))
      symlinkSync(join(DEPLOY_DIR, "dynamicconfig"), join(dir, "config", "dynamicconfig"));
    const server = new TemporalServer(runDir, pg, ports, binaries, services);
    await server.startProcess();
    return server;
  }

  private async startProcess(): Promise<void> {
    this.starts++;
    const service = startService("temporal-server", this.binaries.server, ["start"], {
      cwd: join(this.runDir, "temporal"),
      env: cleanEnv({
        ...(this.services.temporal?.environment ?? {}),
        POSTGRES_SEEDS: "127.0.0.1",
        DB_PORT: String(this.pg.port),
        BIND_ON_IP: "127.0.0.1",
        ...this.ports,
      }),
      logFile: join(this.runDir, `temporal-server-${this.starts}.log`),
    });
    this.service = service;
    // The compose healthcheck is `nc -z localhost 7233`; here the same probe on the chosen port.
    const healthArgs = (this.services.temporal?.healthcheck?.test ?? [])
      .slice(1)
      .map((a) => (a === "7233" ? this.ports.FRONTEND_GRPC_PORT! : a === "localhost" ? "127.0.0.1" : a));
    await waitUntil(
      "Temporal server healthy",
      async () => (await runUnchecked(healthArgs[0]!, healthArgs.slice(1))).code === 0,
      {
        timeoutMs: 120_000,
        failed: () =>
          service.child.exitCode !== null ? `exited ${service.child.exitCode} (log: ${service.logFile})` : undefined,
      },
    );
    // Healthy by compose's probe is only an open port: wait until the frontend answers, as a client needs.
    this.reported = await this.askVersion();
  }

  /** The version the server reported when it last started (`temporal operator cluster system`). */
  get reportedVersion(): string {
    return this.reported;
  }

  /**
   * The version the running server reports (`temporal operator cluster system`, GetSystemInfo), asked
   * until the frontend answers: the compose healthcheck (`nc -z`) passes as soon as the port is open,
   * while the frontend may still answer "Frontend is not healthy yet".
   * @throws Error with the CLI's last answer when the frontend does not answer within 120 s.
   */
  private async askVersion(): Promise<string> {
    let last: CommandResult | undefined;
    await waitUntil(
      `Temporal frontend at ${this.address} answering`,
      async () => {
        last = await runUnchecked(join(TEMPORAL_CLI_DIR, "temporal"), ["operator", "cluster", "system", "-o", "json"], {
          env: cleanEnv({ TEMPORAL_ADDRESS: this.address, PATH: `${TEMPORAL_CLI_DIR}${delimiter}${process.env.PATH}` }),
        });
        return last.code === 0;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${(last?.stderr ?? "").trim().split("\n")[0]}`);
    });
    return (JSON.parse(last!.stdout) as { serverVersion?: string }).serverVersion ?? "?";
  }

  /** The compose healthcheck's command, as run against this server. */
  healthcheck(): string {
    return (this.services.temporal?.healthcheck?.test ?? []).slice(1).join(" ");
  }

  /** Stops the server (SIGTERM, SIGKILL after 15 s; `kill` sends SIGKILL at once). Never throws. */
  async stop(kill = false): Promise<void> {
    const s = this.service;
    this.service = undefined;
    if (s) await stopService(s, kill ? 0 : 15_000);
  }

  /**
   * Stops the server and starts it again at the same address, with `binaries` if given (the upgrade
   * path: run the newer schema migration between the two, see `setupSchemas`), on `postgres` if given
   * (a restored backup; the rest of the config unchanged).
   * @throws Error when it is not healthy again within 120 s.
   */
  async restart(opts: { kill?: boolean; binaries?: TemporalBinaries; postgres?: Postgres } = {}): Promise<void> {
    await this.stop(opts.kill);
    if (opts.binaries) this.binaries = opts.binaries;
    if (opts.postgres) this.postgres = opts.postgres;
    await this.startProcess();
  }
}

/**
 * Registers the namespace and the search attributes by running deploy/temporal/create-namespace.sh with the
 * compose one-shot's environment.
 * @returns the namespace and how many search attributes the script was given.
 * @throws Error when the script fails (its output is in `<runDir>/create-namespace.log`).
 */
export async function createNamespace(
  runDir: string,
  address: string,
  services = composeServices(),
): Promise<{ namespace: string; searchAttributes: number }> {
  const env = services["temporal-create-namespace"]?.environment ?? {};
  await run("sh", [join(DEPLOY_DIR, "create-namespace.sh")], {
    env: cleanEnv({ ...env, TEMPORAL_ADDRESS: address, PATH: `${TEMPORAL_CLI_DIR}${delimiter}${process.env.PATH}` }),
    logFile: join(runDir, "create-namespace.log"),
  });
  const attrs = String(env.SEARCH_ATTRIBUTES ?? "").trim();
  return { namespace: env.NAMESPACE ?? "default", searchAttributes: attrs ? attrs.split(/\s+/).length : 0 };
}

/** One squadflow worker process of the cluster. */
export interface ClusterWorker {
  /** `worker-<kind>-<n>` (n counts every process ever started for that kind, replacements included). */
  name: string;
  kind: QueueKind;
  service: Service;
  metricsPort: number;
}

/**
 * squadflow workers started as the compose services start them (`node --import tsx src/worker.ts --queues
 * <kind>` with the service's environment), connected only through TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE,
 * each checked with the compose worker healthcheck (GET /healthz). All workers of a run share one state
 * folder, as the compose workers share one volume.
 */
export class WorkerFleet {
  /** The workers started and not stopped or killed. */
  readonly live: ClusterWorker[] = [];
  private readonly counts = new Map<QueueKind, number>();

  constructor(
    readonly runDir: string,
    readonly address: string,
    readonly namespace: string,
    private readonly taken: Set<number>,
    private readonly extraEnv: NodeJS.ProcessEnv = {},
    private readonly services = composeServices(),
  ) {}

  /** The state folder the workers share (`<runDir>/state`: workspaces, worktrees, repos). */
  get stateDir(): string {
    return join(this.runDir, "state");
  }

  /**
   * Starts one worker of `kind` and waits until it is connected and its /healthz answers.
   * @throws Error when it exits or does not connect within 180 s.
   */
  async start(kind: QueueKind): Promise<ClusterWorker> {
    const compose = this.services[`worker-${kind}`];
    const [command, ...args] = compose?.command ?? [];
    if (command !== "node")
      throw new Error(`${COMPOSE_FILE}: service worker-${kind} does not run node (${compose?.command?.join(" ")})`);
    const n = (this.counts.get(kind) ?? 0) + 1;
    this.counts.set(kind, n);
    const metricsPort = await freePortPair(this.taken);
    this.taken.add(metricsPort).add(metricsPort + 1);
    const name = `worker-${kind}-${n}`;
    const service = startService(name, process.execPath, args, {
      cwd: PROJECT_ROOT,
      env: cleanEnv({
        ...(compose?.environment ?? {}),
        ...this.extraEnv,
        TEMPORAL_ADDRESS: this.address,
        TEMPORAL_NAMESPACE: this.namespace,
        SQUADFLOW_METRICS_PORT: String(metricsPort),
        SQUADFLOW_WORKSPACES: join(this.stateDir, "workspaces"),
        SQUADFLOW_WORKTREES: join(this.stateDir, "worktrees"),
        SQUADFLOW_REPOS: join(this.stateDir, "repos"),
      }),
      logFile: join(this.runDir, `${name}.log`),
    });
    const worker: ClusterWorker = { name, kind, service, metricsPort };
    this.live.push(worker);
    await waitUntil(`${name} connected`, () => service.stdout().includes("squadflow worker on"), {
      timeoutMs: 180_000,
      failed: () =>
        service.child.exitCode !== null ? `exited ${service.child.exitCode} (log: ${service.logFile})` : undefined,
    });
    // The compose healthcheck command (node fetching /healthz on SQUADFLOW_METRICS_PORT + 1), as is.
    const health = this.services[`worker-${kind}`]?.healthcheck?.test ?? [];
    await run(health[1]!, health.slice(2), { env: { ...process.env, SQUADFLOW_METRICS_PORT: String(metricsPort) } });
    return worker;
  }

  /** Starts `groups[kind]` workers of every kind (default WORKER_GROUPS). @throws as `start`. */
  async startAll(groups: Readonly<Record<QueueKind, number>> = WORKER_GROUPS): Promise<void> {
    for (const kind of QUEUE_KINDS) for (let i = 0; i < groups[kind]; i++) await this.start(kind);
  }

  /** SIGKILLs a worker's process group at once (a machine loss, for the worker); it leaves `live`. */
  async kill(worker: ClusterWorker): Promise<void> {
    this.remove(worker);
    await stopService(worker.service, 0);
  }

  /** Stops a worker gracefully (SIGTERM, SIGKILL after 15 s). Never throws. */
  async stop(worker: ClusterWorker): Promise<void> {
    this.remove(worker);
    await stopService(worker.service);
  }

  /** Stops every live worker. Never throws. */
  async stopAll(): Promise<void> {
    for (const w of [...this.live]) await this.stop(w);
  }

  private remove(worker: ClusterWorker): void {
    const i = this.live.indexOf(worker);
    if (i >= 0) this.live.splice(i, 1);
  }
}

/** What `Cluster.start` builds on. */
export interface ClusterOptions {
  /** The run directory (logs, PostgreSQL data, the workers' state); must exist. */
  runDir: string;
  /** The server binaries to run (default: docker-compose.yml's version, built or reused). */
  binaries?: TemporalBinaries;
  /** Worker processes per kind (default WORKER_GROUPS); `false` starts none (e.g. the benchmark starts its own). */
  workers?: Readonly<Record<QueueKind, number>> | false;
  /** Extra environment for every worker (e.g. a test agent's settings). */
  workerEnv?: NodeJS.ProcessEnv;
}

/**
 * The whole topology of docker-compose.yml on this machine: PostgreSQL → schemas (setup-postgres.sh) →
 * Temporal server → namespace and search attributes (create-namespace.sh) → workers. `stop()` tears it down
 * in reverse; every part can also be restarted or killed on its own.
 */
export class Cluster {
  private constructor(
    readonly runDir: string,
    readonly postgres: Postgres,
    readonly server: TemporalServer,
    readonly namespace: string,
    readonly workers: WorkerFleet,
    /** Ports taken by this cluster (PostgreSQL, server, workers' metrics). */
    readonly takenPorts: Set<number>,
  ) {}

  /** TEMPORAL_ADDRESS of the cluster. */
  get address(): string {
    return this.server.address;
  }

  /**
   * Starts every part in order, printing one line per step. On failure stops what was started.
   * @throws Error naming the step that failed.
   */
  static async start(opts: ClusterOptions): Promise<Cluster> {
    const services = composeServices();
    const binaries = opts.binaries ?? (await ensureBinaries(composeServerVersion(services)));
    chmodSync(opts.runDir, 0o755); // the postgres user must reach its data directory inside
    const taken = new Set<number>();
    const [pgPort] = await freePorts(1);
    taken.add(pgPort!);
    const postgres = await Postgres.create(opts.runDir, "main", pgPort!, services);
    let server: TemporalServer | undefined;
    let workers: WorkerFleet | undefined;
    try {
      step(
        `PostgreSQL on 127.0.0.1:${pgPort} healthy (${(services.postgresql?.healthcheck?.test ?? []).slice(1).join(" ")})`,
      );
      const schema = await setupSchemas(postgres, binaries, services);
      step(`schemas created and migrated by deploy/temporal/setup-postgres.sh (${binaries.sqlTool}, ${schema})`);
      server = await TemporalServer.start(opts.runDir, postgres, binaries, taken, services);
      step(
        `Temporal server ${binaries.version} on ${server.address} (PostgreSQL persistence + visibility), healthy (${server.healthcheck()})`,
      );
      const ns = await createNamespace(opts.runDir, server.address, services);
      step(
        `namespace ${ns.namespace} and ${ns.searchAttributes} search attributes registered by deploy/temporal/create-namespace.sh`,
      );
      workers = new WorkerFleet(opts.runDir, server.address, ns.namespace, taken, opts.workerEnv, services);
      if (opts.workers !== false) {
        const groups = opts.workers ?? WORKER_GROUPS;
        await workers.startAll(groups);
        const desc = QUEUE_KINDS.map((k) => `${groups[k]} ${k}`).join(", ");
        step(
          `${workers.live.length} worker processes (${desc}) connected through TEMPORAL_ADDRESS=${server.address}, /healthz answered`,
        );
      }
      return new Cluster(opts.runDir, postgres, server, ns.namespace, workers, taken);
    } catch (err) {
      await workers?.stopAll();
      await server?.stop();
      await postgres.stop();
      throw err;
    }
  }

  /** The environment a squadflow CLI needs to reach this cluster (and nothing of the caller's). */
  cliEnv(): NodeJS.ProcessEnv {
    return cleanEnv({ TEMPORAL_ADDRESS: this.address, TEMPORAL_NAMESPACE: this.namespace });
  }

  /** Stops workers, server and PostgreSQL, in that order. Never throws. */
  async stop(): Promise<void> {
    await this.workers.stopAll();
    await this.server.stop();
    await this.postgres.stop();
  }
}
