/**
 * `npm run bench`: the scale-and-speed benchmark. For each size (default 100, 1,000 and 10,000 cards) it
 * runs, `BENCH_RUNS` times each, three variants on the same layered backlog (2 dependencies per card) with
 * instant agents, each case in its own process on its own fresh embedded dev server (or, with
 * `BENCH_TARGET=cluster`, its own fresh Temporal server on PostgreSQL), its worker in a process of its own:
 * - `squadflow`: the real backlog and card workflows, started with `startBacklog`;
 * - `bare-dag`: the fair baseline — one bare workflow per card that waits for its dependencies' signals,
 *   runs the same activities (judge and QA in parallel) and signals its dependents (bench/bare-dag-workflow.ts);
 * - `bare-flat`: the old baseline — one workflow per card, no dependencies, 4 activities in sequence.
 * It prints a headline table (squadflow ÷ bare DAG) and one table per size (medians over the runs, with
 * their range), and writes them, with the machine, to bench/RESULTS.md — keeping the sizes of an earlier
 * run that this one did not measure. A benchmark, not a test: it exits 0 whatever it measured, and reports
 * a run that failed (the error and what the histories say) instead of stopping.
 *
 * Settings (environment):
 * - `BENCH_SIZES` — comma-separated card counts (default `100,1000,10000`);
 * - `BENCH_RUNS` — runs of each size and variant (default 3); the tables show the median;
 * - `BENCH_VARIANTS` — any of `squadflow,bare-dag,bare-flat` (default all three);
 * - `BENCH_TARGET` — `dev` (a fresh embedded dev server per case; default) or `cluster` (a fresh Temporal
 *   server on a fresh private PostgreSQL per case, set up by scripts/cluster/cluster.ts; issue 14);
 * - `BENCH_DB` — dev server only: `file` (SQLite WAL in a temp dir, as `squadflow dev`; default) or `memory`;
 * - `BENCH_TIMEOUT_MIN` — per run (default 15); `BENCH_STALL_MIN` — give up when nothing moves (default 3);
 * - `BENCH_LAYERS` — layers of the DAG (default 10);
 * - `BENCH_HISTORY_SAMPLE` — card histories measured per run besides the backlog's (default 50);
 * - `BENCH_NOTE` — a sentence recorded with the sizes of this run (e.g. what else ran on the machine);
 * - `BENCH_DYNAMIC_CONFIG` — `;`-separated `key=value` dev-server dynamic config, for diagnostics only
 *   (recorded in the results);
 * - `BENCH_MAX_CACHED` — the worker's `maxCachedWorkflows`, for diagnostics only (default: the product's, as
 *   `createWorkers`);
 * - `BENCH_WORKER_NODE_ARGS` — space-separated Node options for the worker process only (e.g.
 *   `--max-old-space-size=256`), for diagnostics (recorded in the results);
 * - `BENCH_WORKER_OPTIONS` — a JSON object of more `WorkerOptions` for the worker (e.g.
 *   `{"workflowTaskPollerBehavior":{"type":"autoscaling"}}`), for diagnostics (recorded in the results);
 * - `BENCH_OUT` — the results file (default bench/RESULTS.md; bench/RESULTS-cluster.md for the cluster).
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { cpus, loadavg, release, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleWorkflowCode, DefaultLogger } from "@temporalio/worker";
import { findTemporalCli, PROJECT_ROOT } from "../src/temporal/cli-path.js";
import { DEFAULT_MAX_CACHED_WORKFLOWS, WORKFLOWS_PATH } from "../src/worker.js";
import {
  checkPrerequisites,
  composeServerVersion,
  ensureBinaries,
  postgresBinDir,
} from "../scripts/cluster/cluster.js";
import { DEFAULT_LAYERS } from "./backlog.js";
import type { BenchTarget, CaseConfig, CaseResult } from "./case.js";
import { headlineTable, mergeRecords, parseRawBlock, rawBlock, sizeTable, type SizeRecord } from "./report.js";
import { VARIANTS, type Variant } from "./variants.js";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const CASE_FILE = join(HERE, "case.ts");
const WORKFLOW_FILES: Record<Variant, string> = {
  squadflow: WORKFLOWS_PATH,
  "bare-dag": join(HERE, "bare-dag-workflow.ts"),
  "bare-flat": join(HERE, "bare-workflow.ts"),
};

/** The benchmark's settings, from the environment. */
export interface BenchSettings {
  sizes: number[];
  runs: number;
  variants: Variant[];
  timeoutMs: number;
  stallMs: number;
  layers: number;
  target: BenchTarget;
  db: CaseConfig["db"];
  historySample: number;
  note?: string;
  dynamicConfig: string[];
  maxCachedWorkflows?: number;
  /** Node options of the worker process (`BENCH_WORKER_NODE_ARGS`); empty by default. */
  workerNodeArgs: string[];
  /** More worker options (`BENCH_WORKER_OPTIONS`, a JSON object); absent by default. */
  workerOptions?: Record<string, unknown>;
  out: string;
}

function positiveInt(name: string, value: string): number {
  const n = Number(value.trim().replace(/_/g, ""));
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: "${value}" is not a positive integer`);
  return n;
}

/** `value` parsed as a JSON object. @throws Error naming the variable when it is not one. */
function jsonObject(name: string, value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (err) {
    throw new Error(`${name}: not JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw new Error(`${name}: "${value}" is not a JSON object`);
  return parsed as Record<string, unknown>;
}

/**
 * Reads the settings from `env` (see the module docstring).
 * @throws Error naming the variable when a value is invalid.
 */
export function benchSettings(env: NodeJS.ProcessEnv = process.env): BenchSettings {
  const sizes = (env.BENCH_SIZES?.trim() || "100,1000,10000")
    .split(",")
    .filter((s) => s.trim())
    .map((s) => positiveInt("BENCH_SIZES", s));
  const variants = (env.BENCH_VARIANTS?.trim() || VARIANTS.join(","))
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const v of variants)
    if (!(VARIANTS as readonly string[]).includes(v))
      throw new Error(`BENCH_VARIANTS: unknown variant "${v}" (${VARIANTS.join(", ")})`);
  const target = env.BENCH_TARGET?.trim() || "dev";
  if (target !== "dev" && target !== "cluster")
    throw new Error(`BENCH_TARGET must be "dev" or "cluster", got "${target}"`);
  const db = env.BENCH_DB?.trim() || "file";
  if (db !== "file" && db !== "memory") throw new Error(`BENCH_DB must be "file" or "memory", got "${db}"`);
  const minutes = (name: string, def: string) => Number(env[name]?.trim() || def) * 60_000;
  const timeoutMs = minutes("BENCH_TIMEOUT_MIN", "15");
  const stallMs = minutes("BENCH_STALL_MIN", "3");
  if (!(timeoutMs > 0) || !(stallMs > 0))
    throw new Error("BENCH_TIMEOUT_MIN and BENCH_STALL_MIN must be positive numbers");
  const dynamicConfig = (env.BENCH_DYNAMIC_CONFIG ?? "")
    .split(";")
    .map((s) => s.trim())
    .filter(Boolean);
  if (target === "cluster" && (env.BENCH_DB?.trim() || dynamicConfig.length > 0))
    throw new Error(
      "BENCH_DB and BENCH_DYNAMIC_CONFIG set up the dev server: with BENCH_TARGET=cluster the server runs on PostgreSQL with deploy/temporal/dynamicconfig",
    );
  return {
    sizes,
    runs: positiveInt("BENCH_RUNS", env.BENCH_RUNS?.trim() || "3"),
    // Always in the reported order, whatever order they were given in.
    variants: VARIANTS.filter((v) => variants.includes(v)),
    timeoutMs,
    stallMs,
    layers: positiveInt("BENCH_LAYERS", env.BENCH_LAYERS?.trim() || String(DEFAULT_LAYERS)),
    target,
    db,
    historySample: positiveInt("BENCH_HISTORY_SAMPLE", env.BENCH_HISTORY_SAMPLE?.trim() || "50"),
    ...(env.BENCH_NOTE?.trim() ? { note: env.BENCH_NOTE.trim() } : {}),
    dynamicConfig,
    ...(env.BENCH_MAX_CACHED?.trim()
      ? { maxCachedWorkflows: positiveInt("BENCH_MAX_CACHED", env.BENCH_MAX_CACHED) }
      : {}),
    workerNodeArgs: (env.BENCH_WORKER_NODE_ARGS ?? "").split(/\s+/).filter(Boolean),
    ...(env.BENCH_WORKER_OPTIONS?.trim()
      ? { workerOptions: jsonObject("BENCH_WORKER_OPTIONS", env.BENCH_WORKER_OPTIONS) }
      : {}),
    out: resolve(
      PROJECT_ROOT,
      env.BENCH_OUT?.trim() || (target === "cluster" ? "bench/RESULTS-cluster.md" : "bench/RESULTS.md"),
    ),
  };
}

// ---- running the cases ----------------------------------------------------------------------------

/** Runs one case in a child process (its own process group, killed whole past the deadline). */
async function runCase(config: CaseConfig, dir: string): Promise<CaseResult> {
  const configPath = join(dir, `case-${config.variant}-${config.size}-${Date.now()}.json`);
  await writeFile(configPath, JSON.stringify(config));
  const tsxCli = createRequire(import.meta.url).resolve("tsx/cli");
  const started = Date.now();
  const child = spawn(process.execPath, [tsxCli, CASE_FILE, configPath], {
    stdio: ["ignore", "inherit", "inherit"],
    detached: true,
  });
  // Past the run's own timeout, leave time for the histories, then kill the case and its server.
  const hardLimit = config.timeoutMs + 10 * 60_000;
  // SIGTERM first: the case stops its server (a cluster target's PostgreSQL and server live in process
  // groups of their own); whatever is left of the case's group a minute later is SIGKILLed.
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // already gone
    }
  };
  let finalKill: NodeJS.Timeout | undefined;
  const killer = setTimeout(() => {
    process.stderr.write(
      `[${config.variant} ${config.size}] still running after ${hardLimit / 60_000} min: stopping it\n`,
    );
    signal("SIGTERM");
    finalKill = setTimeout(() => signal("SIGKILL"), 60_000);
  }, hardLimit);
  const code = await new Promise<number | null>((resolveExit) => child.on("exit", (c) => resolveExit(c)));
  clearTimeout(killer);
  clearTimeout(finalKill);
  try {
    return JSON.parse(await readFile(config.out, "utf8")) as CaseResult;
  } catch {
    return {
      variant: config.variant,
      size: config.size,
      status: "crashed",
      error: `case process exited ${code} after ${((Date.now() - started) / 1000).toFixed(0)} s without a result`,
      cardsDone: 0,
      historiesMeasured: 0,
      rss: { worker: 0, server: 0, heapUsed: 0 },
      ownerRuns: 0,
      qaRuns: 0,
    };
  }
}

/** The commit measured, and the command that measured it (every `BENCH_` variable set). */
function commitAndCommand(): { commit: string; command: string } {
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: PROJECT_ROOT, encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--", "src", "bench"], {
      cwd: PROJECT_ROOT,
      encoding: "utf8",
    }).trim();
    if (dirty) commit += " (with uncommitted changes)";
  } catch {
    // not a git checkout
  }
  const env = Object.entries(process.env)
    .filter(([k]) => k.startsWith("BENCH_") && k !== "BENCH_NOTE")
    .map(([k, v]) => `${k}=${v}`)
    .sort();
  return { commit, command: [...env, "npm run bench"].join(" ") };
}

/** The Temporal server version the cluster target runs (docker-compose.yml's), or "unknown". */
function clusterServerVersion(): string {
  try {
    return composeServerVersion();
  } catch {
    return "unknown";
  }
}

/** `postgres --version` of the PostgreSQL the cluster target runs, or "PostgreSQL, version unknown". */
function postgresVersion(): string {
  try {
    return execFileSync(join(postgresBinDir(), "postgres"), ["--version"], { encoding: "utf8" }).trim();
  } catch {
    return "PostgreSQL, version unknown";
  }
}

/** The machine the benchmark ran on and the fixed settings, as markdown list items. */
export function machineDescription(settings: BenchSettings): string[] {
  let model = cpus()[0]?.model ?? "unknown";
  try {
    model = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ?? model;
  } catch {
    // not Linux
  }
  let nproc = String(cpus().length);
  try {
    nproc = execFileSync("nproc", { encoding: "utf8" }).trim();
  } catch {
    // no nproc
  }
  let temporalVersion = "unknown";
  try {
    const cli = findTemporalCli();
    if (cli.path) temporalVersion = execFileSync(cli.path, ["--version"], { encoding: "utf8" }).trim();
  } catch {
    // left unknown
  }
  const sdk = (
    JSON.parse(readFileSync(join(PROJECT_ROOT, "node_modules", "@temporalio", "worker", "package.json"), "utf8")) as {
      version: string;
    }
  ).version;
  return [
    `- CPU: ${model}, \`nproc\` = ${nproc}`,
    `- memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- OS: Linux ${release()}`,
    `- Node ${process.version}, Temporal TypeScript SDK ${sdk}, ${temporalVersion}`,
    settings.target === "cluster"
      ? `- Temporal server ${clusterServerVersion()} on PostgreSQL (${postgresVersion()}), a fresh one of each per case, ` +
        "set up by scripts/cluster/cluster.ts as `npm run cluster` does (docker-compose.yml's server config, " +
        "deploy/temporal/setup-postgres.sh, create-namespace.sh, deploy/temporal/dynamicconfig)"
      : `- dev server: embedded (\`startDevServer\`), a fresh one per case, ` +
        `${settings.dynamicConfig.length ? `dynamic config ${settings.dynamicConfig.map((d) => `\`${d}\``).join(", ")}` : "default limits"}`,
    `- per case: one worker in a process of its own (bench/worker-process.ts; maxCachedWorkflows ${settings.maxCachedWorkflows ?? DEFAULT_MAX_CACHED_WORKFLOWS}, otherwise default worker options, one task queue${settings.workerNodeArgs.length ? `; Node options \`${settings.workerNodeArgs.join(" ")}\`` : ""}${settings.workerOptions ? `; worker options \`${JSON.stringify(settings.workerOptions)}\`` : ""}) and the client in the case process`,
    `- backlog: layered DAG, ${settings.layers} layers, 2 dependencies per card (layer 1: none); instant agents`,
    `- limits: ${settings.timeoutMs / 60_000} min per run, given up after ${settings.stallMs / 60_000} min without progress`,
  ];
}

/** The whole RESULTS.md: machine, what is measured, the headline table, one section per size, the raw JSON. */
export function resultsDocument(settings: BenchSettings, records: readonly SizeRecord[]): string {
  return [
    "# squadflow benchmark results",
    "",
    "Measured by `npm run bench` (bench/run.ts; how to run and read it: bench/README.md). The headline ratio is",
    "squadflow ÷ bare DAG; every figure is the median over the runs of its size, with the range in brackets.",
    "",
    "## Machine",
    "",
    ...machineDescription(settings),
    "",
    "## What is measured",
    "",
    "- **squadflow**: the real backlog and card workflows with instant agents (owner, verification, judge ∥ QA " +
      "return at once); one backlog started with `startBacklog` (over 200 cards the client uploads it page by page). " +
      "**bare DAG**: the same DAG as bare workflows, one per card, started by the client (cards with dependencies " +
      "first); each waits for a signal from each dependency, runs the same activities (judge ∥ QA) and signals its " +
      "dependents. **bare flat**: the old baseline, one workflow per card, no dependencies, the 4 activities in sequence.",
    "- wall time = start + run. start: the client's start call (`startBacklog`, paged uploads included; bare: " +
      "starting every card workflow); run: from its return to the backlog's result (bare DAG: the last card's " +
      "result; cards may already run during the start). cards/s = cards DONE ÷ wall time.",
    "- dependency DONE → owner start: for each card with dependencies, its owner activity start (worker clock) " +
      "minus the latest DONE time of its dependencies (squadflow: card `statusHistory`; bare DAG: workflow time " +
      "after its last activity, before it signals its dependents).",
    "- card duration: owner start → DONE, workflow time (squadflow: IN_PROGRESS → DONE in `statusHistory`).",
    "- RSS and CPU: the same sampler for every variant (every 250 ms), from the first start call to the end of " +
      "the run, never during the post-run reads: peak RSS of the worker process (the worker alone: it runs in a " +
      "process of its own), of the client (the case process: starts, result waits) and of the Temporal server " +
      "(on the cluster also PostgreSQL's, as PSS summed over its processes, so its shared buffers count once), " +
      "CPU time (user + system) of each meanwhile.",
    `- histories (from the run of median wall time): the backlog workflow's, its shards' (paged backlogs) and ` +
      `${settings.historySample} card workflows' (evenly spread), events and encoded \`History\` proto bytes.`,
    "- load: the 1-minute load average before and after each size. Absolute times move with the load of the " +
      "machine; the variants of a size run interleaved (run 1 of each, then run 2…), so ratios move less.",
    "",
    "## Headline",
    "",
    headlineTable(records),
    "",
    "## Results",
    "",
    ...records.flatMap((r) => [sizeTable(r), ""]),
    rawBlock(records),
    "",
  ].join("\n");
}

// ---- main -----------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const settings = benchSettings();
  const dir = await mkdtemp(join(tmpdir(), "squadflow-bench-run-"));
  try {
    process.stderr.write(
      `bench: sizes ${settings.sizes.join(", ")}; ${settings.runs} run(s) of ${settings.variants.join(", ")}; ` +
        `${settings.target === "cluster" ? "Temporal server on PostgreSQL" : `dev server, ${settings.db} db`}; bundling workflows…\n`,
    );
    if (settings.target === "cluster") {
      // Built (or found) once here, so that no case spends its time on a build.
      await checkPrerequisites();
      await ensureBinaries(composeServerVersion());
    }
    const logger = new DefaultLogger("WARN");
    const bundles = {} as Record<Variant, string>;
    for (const variant of settings.variants) {
      bundles[variant] = join(dir, `${variant}-bundle.js`);
      await writeFile(
        bundles[variant],
        (await bundleWorkflowCode({ workflowsPath: WORKFLOW_FILES[variant], logger })).code,
      );
    }

    const earlier = existsSync(settings.out) ? parseRawBlock(await readFile(settings.out, "utf8")) : [];
    const measuredNow: SizeRecord[] = [];
    const { commit, command } = commitAndCommand();
    for (const size of settings.sizes) {
      const loadBefore = loadavg()[0]!;
      const date = new Date().toISOString();
      const results: CaseResult[] = [];
      // Interleaved (run 1 of every variant, then run 2…): a change of load hits every variant alike.
      for (let run = 1; run <= settings.runs; run++) {
        for (const variant of settings.variants) {
          process.stderr.write(`bench: ${size} cards, ${variant}, run ${run}/${settings.runs}\n`);
          const config: CaseConfig = {
            variant,
            target: settings.target,
            size,
            layers: settings.layers,
            bundlePath: bundles[variant],
            out: join(dir, `result-${variant}-${size}-${run}.json`),
            timeoutMs: settings.timeoutMs,
            stallMs: settings.stallMs,
            db: settings.db,
            dynamicConfig: settings.dynamicConfig,
            historySample: settings.historySample,
            ...(settings.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: settings.maxCachedWorkflows } : {}),
            workerNodeArgs: settings.workerNodeArgs,
            ...(settings.workerOptions ? { workerOptions: settings.workerOptions } : {}),
          };
          results.push(await runCase(config, dir));
        }
      }
      const record: SizeRecord = {
        size,
        measured: {
          date,
          commit,
          command,
          runs: settings.runs,
          target: settings.target,
          db: settings.db,
          load: [loadBefore, loadavg()[0]!],
          ...(settings.note ? { note: settings.note } : {}),
        },
        results,
      };
      measuredNow.push(record);
      process.stdout.write(`\n${sizeTable(record)}\n\n`);
      // Written after every size, so that a long run interrupted later keeps what it measured.
      await mkdir(dirname(settings.out), { recursive: true });
      await writeFile(settings.out, resultsDocument(settings, mergeRecords(earlier, measuredNow)));
    }
    const all = mergeRecords(earlier, measuredNow);
    process.stdout.write(`${headlineTable(all)}\n\nresults written to ${settings.out}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
