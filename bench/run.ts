/**
 * `npm run bench`: the scale-and-speed benchmark. For each size (default 100, 1,000 and 10,000 cards) it
 * runs squadflow (the real workflows on instant agents, one layered backlog with 2 dependencies per card)
 * and a bare Temporal baseline (one 4-activity workflow per card), each in its own process on its own
 * fresh embedded dev server, prints a table per size (squadflow, bare, ratio) and writes them, with the
 * machine they ran on, to bench/RESULTS.md. A benchmark, not a test: it exits 0 whatever it measured, and
 * reports a run that failed (the error and what the histories say) instead of stopping.
 *
 * Settings (environment):
 * - `BENCH_SIZES` — comma-separated card counts (default `100,1000,10000`);
 * - `BENCH_VARIANTS` — `squadflow,bare` (default both);
 * - `BENCH_TIMEOUT_MIN` — per run (default 15); `BENCH_STALL_MIN` — give up when nothing moves (default 3);
 * - `BENCH_LAYERS` — layers of the DAG (default 10);
 * - `BENCH_DB` — `file` (SQLite WAL in a temp dir, as `squadflow dev`; default) or `memory`;
 * - `BENCH_HISTORY_SAMPLE` — card histories measured per run besides the backlog's (default 50);
 * - `BENCH_DYNAMIC_CONFIG` — `;`-separated `key=value` dev-server dynamic config, for diagnostics only
 *   (recorded in the results);
 * - `BENCH_MAX_CACHED` — the worker's `maxCachedWorkflows`, for diagnostics only (default: the product's, as
 *   `createWorkers`);
 * - `BENCH_OUT` — the results file (default bench/RESULTS.md).
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { findTemporalCli, PROJECT_ROOT } from '../src/temporal/cli-path.js';
import { DEFAULT_MAX_CACHED_WORKFLOWS, WORKFLOWS_PATH } from '../src/worker.js';
import { DEFAULT_LAYERS } from './backlog.js';
import type { CaseConfig, CaseResult } from './case.js';
import type { HistorySize, Percentiles } from './measure.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const CASE_FILE = join(HERE, 'case.ts');
const BARE_WORKFLOW = join(HERE, 'bare-workflow.ts');
/** The issue's bound: no workflow history above this many events, at any size. */
export const MAX_HISTORY_EVENTS = 10_000;

/** The benchmark's settings, from the environment. */
export interface BenchSettings {
  sizes: number[];
  variants: CaseConfig['variant'][];
  timeoutMs: number;
  stallMs: number;
  layers: number;
  db: CaseConfig['db'];
  historySample: number;
  dynamicConfig: string[];
  maxCachedWorkflows?: number;
  out: string;
}

function positiveInt(name: string, value: string): number {
  const n = Number(value.trim().replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: "${value}" is not a positive integer`);
  return n;
}

/**
 * Reads the settings from `env` (see the module docstring).
 * @throws Error naming the variable when a value is invalid.
 */
export function benchSettings(env: NodeJS.ProcessEnv = process.env): BenchSettings {
  const sizes = (env.BENCH_SIZES?.trim() || '100,1000,10000').split(',').filter((s) => s.trim()).map((s) => positiveInt('BENCH_SIZES', s));
  const variants = (env.BENCH_VARIANTS?.trim() || 'squadflow,bare').split(',').map((s) => s.trim()).filter(Boolean);
  for (const v of variants) if (v !== 'squadflow' && v !== 'bare') throw new Error(`BENCH_VARIANTS: unknown variant "${v}" (squadflow, bare)`);
  const db = env.BENCH_DB?.trim() || 'file';
  if (db !== 'file' && db !== 'memory') throw new Error(`BENCH_DB must be "file" or "memory", got "${db}"`);
  const minutes = (name: string, def: string) => Number(env[name]?.trim() || def) * 60_000;
  const timeoutMs = minutes('BENCH_TIMEOUT_MIN', '15');
  const stallMs = minutes('BENCH_STALL_MIN', '3');
  if (!(timeoutMs > 0) || !(stallMs > 0)) throw new Error('BENCH_TIMEOUT_MIN and BENCH_STALL_MIN must be positive numbers');
  return {
    sizes,
    variants: variants as CaseConfig['variant'][],
    timeoutMs,
    stallMs,
    layers: positiveInt('BENCH_LAYERS', env.BENCH_LAYERS?.trim() || String(DEFAULT_LAYERS)),
    db,
    historySample: positiveInt('BENCH_HISTORY_SAMPLE', env.BENCH_HISTORY_SAMPLE?.trim() || '50'),
    dynamicConfig: (env.BENCH_DYNAMIC_CONFIG ?? '').split(';').map((s) => s.trim()).filter(Boolean),
    ...(env.BENCH_MAX_CACHED?.trim() ? { maxCachedWorkflows: positiveInt('BENCH_MAX_CACHED', env.BENCH_MAX_CACHED) } : {}),
    out: resolve(PROJECT_ROOT, env.BENCH_OUT?.trim() || 'bench/RESULTS.md'),
  };
}

// ---- running the cases ----------------------------------------------------------------------------

/** Runs one case in a child process (its own process group, killed whole past the deadline). */
async function runCase(config: CaseConfig, dir: string): Promise<CaseResult> {
  const configPath = join(dir, `case-${config.variant}-${config.size}.json`);
  await writeFile(configPath, JSON.stringify(config));
  const tsxCli = createRequire(import.meta.url).resolve('tsx/cli');
  const started = Date.now();
  const child = spawn(process.execPath, [tsxCli, CASE_FILE, configPath], { stdio: ['ignore', 'inherit', 'inherit'], detached: true });
  // Past the run's own timeout, leave time for the histories, then kill the case and its dev server.
  const hardLimit = config.timeoutMs + 10 * 60_000;
  const killer = setTimeout(() => {
    process.stderr.write(`[${config.variant} ${config.size}] still running after ${hardLimit / 60_000} min: killing it\n`);
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }, hardLimit);
  const code = await new Promise<number | null>((resolveExit) => child.on('exit', (c) => resolveExit(c)));
  clearTimeout(killer);
  try {
    return JSON.parse(await readFile(config.out, 'utf8')) as CaseResult;
  } catch {
    return {
      variant: config.variant,
      size: config.size,
      status: 'crashed',
      error: `case process exited ${code} after ${((Date.now() - started) / 1000).toFixed(0)} s without a result`,
      cardsDone: 0,
      historiesMeasured: 0,
      rss: { worker: 0, server: 0, heapUsed: 0 },
      ownerRuns: 0,
      qaRuns: 0,
    };
  }
}

// ---- formatting -----------------------------------------------------------------------------------

const fmtInt = (n: number) => n.toLocaleString('en-US');
const fmtMs = (n: number | undefined) => (n === undefined ? '–' : n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : `${Math.round(n)} ms`);
const fmtS = (n: number | undefined) => (n === undefined ? '–' : `${(n / 1000).toFixed(1)} s`);
const fmtMiB = (b: number | undefined) => (b === undefined || b === 0 ? '–' : `${(b / 2 ** 20).toFixed(0)} MiB`);
function fmtBytes(b: number | undefined): string {
  if (b === undefined) return '–';
  if (b >= 2 ** 20) return `${(b / 2 ** 20).toFixed(2)} MiB`;
  if (b >= 1024) return `${(b / 1024).toFixed(1)} KiB`;
  return `${b} B`;
}
function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || b === 0) return '–';
  const r = a / b;
  return r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2);
}
const pct = (p: Percentiles | undefined) => (p && p.count > 0 ? `${fmtMs(p.p50)} / ${fmtMs(p.p95)}` : '–');
const pctRatio = (a: Percentiles | undefined, b: Percentiles | undefined) =>
  a?.count && b?.count ? `${ratio(a.p50, b.p50)} / ${ratio(a.p95, b.p95)}` : '–';

function whose(h: HistorySize | undefined, backlog: HistorySize | undefined): string {
  if (!h) return '';
  if (!backlog || h.workflowId !== backlog.workflowId) return ' (card)';
  return h.workflowId.includes('/~shard-') ? ' (backlog shard)' : ' (backlog)';
}

function outcome(r: CaseResult | undefined): string {
  if (!r) return 'not run';
  if (r.status === 'completed') return `completed (${fmtInt(r.cardsDone)} cards DONE)`;
  return `**${r.status.toUpperCase()}** (${fmtInt(r.cardsDone)}/${fmtInt(r.size)} cards DONE)`;
}

function historyCheck(r: CaseResult | undefined): string {
  if (!r?.largestHistory) return '–';
  return r.largestHistory.events <= MAX_HISTORY_EVENTS ? 'yes' : `**NO** (${fmtInt(r.largestHistory.events)})`;
}

/** The result when its run got as far as running cards (a refused start measured no run: its RSS means nothing). */
function ran(r: CaseResult | undefined): CaseResult | undefined {
  return r && r.status !== 'start-failed' && r.status !== 'crashed' ? r : undefined;
}

/** The markdown table of one size: squadflow, bare, and their ratio. */
export function sizeTable(size: number, ours: CaseResult | undefined, bare: CaseResult | undefined): string {
  const rows: [string, string, string, string][] = [
    ['outcome', outcome(ours), outcome(bare), ''],
    ['wall time', fmtS(ours?.wallMs), fmtS(bare?.wallMs), ratio(ours?.wallMs, bare?.wallMs)],
    ['cards/s', ours?.cardsPerSec?.toFixed(1) ?? '–', bare?.cardsPerSec?.toFixed(1) ?? '–', ratio(ours?.cardsPerSec, bare?.cardsPerSec)],
    ['dependency DONE → owner start, p50 / p95', pct(ours?.depLatency), 'n/a (no dependencies)', ''],
    ['card duration (owner start → DONE), p50 / p95', pct(ours?.cardDuration), pct(bare?.cardDuration), pctRatio(ours?.cardDuration, bare?.cardDuration)],
    [
      'largest history, events',
      ours?.largestHistory ? `${fmtInt(ours.largestHistory.events)}${whose(ours.largestHistory, ours.backlogHistory)}` : '–',
      bare?.largestHistory ? `${fmtInt(bare.largestHistory.events)} (card)` : '–',
      ratio(ours?.largestHistory?.events, bare?.largestHistory?.events),
    ],
    [
      'largest history, bytes',
      ours?.largestHistory ? `${fmtBytes(ours.largestHistory.bytes)}${whose(ours.largestHistory, ours.backlogHistory)}` : '–',
      bare?.largestHistory ? fmtBytes(bare.largestHistory.bytes) : '–',
      ratio(ours?.largestHistory?.bytes, bare?.largestHistory?.bytes),
    ],
    [
      'largest card history, events / bytes',
      ours?.largestCardHistory ? `${fmtInt(ours.largestCardHistory.events)} / ${fmtBytes(ours.largestCardHistory.bytes)}` : '–',
      bare?.largestCardHistory ? `${fmtInt(bare.largestCardHistory.events)} / ${fmtBytes(bare.largestCardHistory.bytes)}` : '–',
      ratio(ours?.largestCardHistory?.events, bare?.largestCardHistory?.events),
    ],
    [`every history ≤ ${fmtInt(MAX_HISTORY_EVENTS)} events`, historyCheck(ours), historyCheck(bare), ''],
    ['worker RSS, peak', fmtMiB(ran(ours)?.rss.worker), fmtMiB(ran(bare)?.rss.worker), ratio(ran(ours)?.rss.worker, ran(bare)?.rss.worker)],
    ['dev server RSS, peak', fmtMiB(ran(ours)?.rss.server), fmtMiB(ran(bare)?.rss.server), ratio(ran(ours)?.rss.server, ran(bare)?.rss.server)],
    [
      'backlog workflow tasks: count, started → completed p50 / p95',
      ours?.backlogTasks ? `${fmtInt(ours.backlogTasks.count)}, ${fmtMs(ours.backlogTasks.processing.p50)} / ${fmtMs(ours.backlogTasks.processing.p95)}` : '–',
      '–',
      '',
    ],
    ['backlog input / result payload', `${fmtBytes(ours?.inputBytes)} / ${fmtBytes(ours?.resultBytes)}`, '–', ''],
  ];
  const lines = [
    `### ${fmtInt(size)} cards`,
    '',
    '| | squadflow | bare Temporal | squadflow / bare |',
    '| --- | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
  for (const r of [ours, bare]) {
    if (!r) continue;
    if (r.status !== 'completed') {
      const until = r.cardsDone > 0 ? ' Its wall time and cards/s count until its last card DONE.' : '';
      lines.push('', `**${r.variant} at ${fmtInt(size)} cards: ${r.status}.** ${(r.error ?? '').replace(/\.$/, '')}.${until}`);
    }
    if (r.diagnosis?.length) lines.push('', `The backlog workflow's history at ${fmtInt(size)} cards:`, '', '```', ...r.diagnosis, '```');
  }
  return lines.join('\n');
}

/** The machine the benchmark ran on, as markdown list items. */
export function machineDescription(settings: BenchSettings): string[] {
  let model = cpus()[0]?.model ?? 'unknown';
  try {
    model = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? model;
  } catch {
    // not Linux
  }
  let nproc = String(cpus().length);
  try {
    nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  } catch {
    // no nproc
  }
  let temporalVersion = 'unknown';
  try {
    const cli = findTemporalCli();
    if (cli.path) temporalVersion = execFileSync(cli.path, ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    // left unknown
  }
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: PROJECT_ROOT, encoding: 'utf8' }).trim();
    if (dirty) commit += ' (src/ has uncommitted changes)';
  } catch {
    // not a git checkout
  }
  const sdk = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'node_modules', '@temporalio', 'worker', 'package.json'), 'utf8')) as { version: string }).version;
  const env = Object.entries(process.env)
    .filter(([k]) => k.startsWith('BENCH_'))
    .map(([k, v]) => `${k}=${v}`)
    .sort();
  return [
    `- date: ${new Date().toISOString()}; commit ${commit}; command: \`${[...env, 'npm run bench'].join(' ')}\``,
    `- CPU: ${model}, \`nproc\` = ${nproc}`,
    `- memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `- OS: Linux ${release()}`,
    `- Node ${process.version}, Temporal TypeScript SDK ${sdk}, ${temporalVersion}`,
    `- dev server: embedded (\`startDevServer\`), ${settings.db === 'file' ? 'SQLite file in WAL mode (as `squadflow dev`)' : 'in-memory SQLite'}, ` +
      `${settings.dynamicConfig.length ? `dynamic config ${settings.dynamicConfig.map((d) => `\`${d}\``).join(', ')}` : 'default limits'}`,
    `- one worker process per run (client + worker, maxCachedWorkflows ${settings.maxCachedWorkflows ?? DEFAULT_MAX_CACHED_WORKFLOWS}, otherwise default worker options), one task queue; a fresh server per run`,
    `- backlog: layered DAG, ${settings.layers} layers, 2 dependencies per card (layer 1: none); instant agents`,
    `- limits: ${settings.timeoutMs / 60_000} min per run, given up after ${settings.stallMs / 60_000} min without progress`,
  ];
}

// ---- main -----------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const settings = benchSettings();
  const dir = await mkdtemp(join(tmpdir(), 'squadflow-bench-run-'));
  try {
    process.stderr.write(`bench: sizes ${settings.sizes.join(', ')}; variants ${settings.variants.join(', ')}; bundling workflows…\n`);
    const logger = new DefaultLogger('WARN');
    const bundles: Record<CaseConfig['variant'], string> = { squadflow: join(dir, 'squadflow-bundle.js'), bare: join(dir, 'bare-bundle.js') };
    await writeFile(bundles.squadflow, (await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger })).code);
    await writeFile(bundles.bare, (await bundleWorkflowCode({ workflowsPath: BARE_WORKFLOW, logger })).code);

    const results = new Map<number, Partial<Record<CaseConfig['variant'], CaseResult>>>();
    const tables: string[] = [];
    for (const size of settings.sizes) {
      const row: Partial<Record<CaseConfig['variant'], CaseResult>> = {};
      results.set(size, row);
      for (const variant of settings.variants) {
        const config: CaseConfig = {
          variant,
          size,
          layers: settings.layers,
          bundlePath: bundles[variant],
          out: join(dir, `result-${variant}-${size}.json`),
          timeoutMs: settings.timeoutMs,
          stallMs: settings.stallMs,
          db: settings.db,
          dynamicConfig: settings.dynamicConfig,
          historySample: settings.historySample,
          ...(settings.maxCachedWorkflows !== undefined ? { maxCachedWorkflows: settings.maxCachedWorkflows } : {}),
        };
        row[variant] = await runCase(config, dir);
        await writeFile(join(dir, `raw-${variant}-${size}.json`), JSON.stringify(row[variant]));
      }
      const table = sizeTable(size, row.squadflow, row.bare);
      tables.push(table);
      process.stdout.write(`\n${table}\n\n`);
    }

    const raw = [...results.values()].flatMap((r) => Object.values(r));
    const doc = [
      '# squadflow benchmark results',
      '',
      'Measured by `npm run bench` (bench/run.ts). Ratios are squadflow ÷ bare Temporal.',
      '',
      '## Machine',
      '',
      ...machineDescription(settings),
      '',
      '## What is measured',
      '',
      '- **squadflow**: the real backlog and card workflows with instant agents (owner, verification, judge, QA ' +
        'return at once); one backlog started with `startBacklog`. **bare**: one workflow per card started by the ' +
        'client, running the same 4 activities in sequence, no dependencies and no other logic.',
      '- wall time: backlog start → backlog result (bare: first start → last result); cards/s = cards DONE ÷ wall time.',
      '- dependency DONE → owner start: for each card with dependencies, its owner activity start (worker clock) minus ' +
        'the latest DONE time (card `statusHistory`) of its dependencies.',
      '- card duration: IN_PROGRESS → DONE in the card\'s `statusHistory` (bare: workflow time before the first and ' +
        'after the last activity).',
      `- histories: the backlog workflow's, its shards' (paged backlogs, over 200 cards) and ${settings.historySample} card workflows' (evenly spread), ` +
        'events and encoded `History` proto bytes; RSS: peak of the case process (client + worker) and of its dev server.',
      '',
      '## Results',
      '',
      ...tables.flatMap((t) => [t, '']),
      '<details><summary>raw results (JSON)</summary>',
      '',
      '```json',
      JSON.stringify(raw, null, 1),
      '```',
      '',
      '</details>',
      '',
    ].join('\n');
    await writeFile(settings.out, doc);
    process.stdout.write(`results written to ${settings.out}\n`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
