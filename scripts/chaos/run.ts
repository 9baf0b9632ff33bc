/**
 * `npm run chaos` — the FAULTS harness (scripts/chaos/scenarios.ts): worker SIGKILLs during a 50-card
 * backlog, a Temporal server killed and restarted mid-run, an agent that hangs, one that crashes and a
 * webhook that is down. Prints the figures (kills, cards, lost, duplicated, stuck…) and exits 1 when an
 * invariant fails, 0 otherwise.
 *
 * Settings:
 * - `CHAOS_PROFILE=ci` or `--ci`: the shortened run of CI (12 cards, 5 kills, faster agents);
 * - `CHAOS_SEED=<n>` or `--seed <n>`: repeat a run (the seed is printed; default: random);
 * - `CHAOS_SCENARIOS=worker-kill,agent-faults` or `--only …`: a subset (the baseline always runs);
 * - `CHAOS_HEARTBEAT_TIMEOUT=<duration>` (e.g. `10s`): activities' heartbeat timeout in the chaos workers
 *   (default: the workflows' own 20 s for the full profile, 10 s for ci; `workflow` = the workflows' own);
 * - `CHAOS_KEEP=1` or `--keep`: keep the run directory (logs, workspaces, SQLite files) even on success;
 *   it is always kept when something failed.
 */
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import {
  CI_PROFILE,
  FULL_PROFILE,
  SCENARIOS,
  closeContext,
  createContext,
  formatReport,
  reportOk,
  runScenarios,
  type ChaosContext,
  type ScenarioName,
} from "./scenarios.js";

/** The settings of a chaos run, from argv and the environment. */
export interface ChaosSettings {
  profile: "full" | "ci";
  seed: number;
  scenarios: ScenarioName[];
  keep: boolean;
}

/** Reads the settings (see the module docstring). @throws Error for an unknown scenario or a bad seed. */
export function chaosSettings(argv: readonly string[], env: NodeJS.ProcessEnv): ChaosSettings {
  const value = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const profile = argv.includes("--ci") || env.CHAOS_PROFILE === "ci" ? "ci" : "full";
  const seedText = value("--seed") ?? env.CHAOS_SEED;
  const seed = seedText !== undefined && seedText !== "" ? Number(seedText) : Math.floor(Math.random() * 2 ** 31);
  if (!Number.isInteger(seed) || seed < 0)
    throw new Error(`CHAOS_SEED must be a non-negative integer, got "${seedText}"`);
  const only = (value("--only") ?? env.CHAOS_SCENARIOS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of only)
    if (!(SCENARIOS as readonly string[]).includes(s))
      throw new Error(`unknown scenario "${s}" (scenarios: ${SCENARIOS.join(", ")})`);
  const keep = argv.includes("--keep") || env.CHAOS_KEEP === "1";
  return { profile, seed, scenarios: only.length ? (only as ScenarioName[]) : [...SCENARIOS], keep };
}

async function main(): Promise<number> {
  const settings = chaosSettings(process.argv.slice(2), process.env);
  const base = settings.profile === "ci" ? CI_PROFILE : FULL_PROFILE;
  const hb = process.env.CHAOS_HEARTBEAT_TIMEOUT;
  const profile = hb ? { ...base, heartbeatTimeout: hb === "workflow" ? undefined : hb } : base;
  const t0 = Date.now();
  const log = (line: string) => console.log(`[chaos +${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`);
  log(
    `profile ${profile.name}, seed ${settings.seed}, scenarios ${settings.scenarios.join(", ")}, activity heartbeat timeout ${profile.heartbeatTimeout ?? "of the workflows (20 s)"}`,
  );
  let ctx: ChaosContext | undefined;
  let ok = false;
  try {
    ctx = await createContext({ seed: settings.seed, profile, log });
    log(`run directory ${ctx.runDir}; dev server ${ctx.server.address}`);
    const result = await runScenarios(ctx, settings.scenarios);
    ok = result.reports.every(reportOk);
    console.log(`\n${formatReport(result)}\n`);
    console.log(ok ? "chaos: every invariant held" : `chaos: INVARIANTS FAILED (run directory kept: ${ctx.runDir})`);
  } finally {
    if (ctx) await closeContext(ctx, settings.keep || !ok);
  }
  return ok ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(`chaos: ${(err as Error).stack ?? String(err)}`);
      process.exit(2);
    },
  );
}
