/**
 * The contract-test harness: the real agent CLIs installed by scripts/install-agent-clis.sh, each pointed at
 * its stub model server (stub-models.ts) through the configuration it supports, and run through the real
 * owner activity (src/activities/owner.ts `createRunOwner`) in a sandbox with its own HOME:
 *
 * - Claude Code: `ANTHROPIC_BASE_URL`, `ANTHROPIC_API_KEY` (passed through by name), `CLAUDE_CODE_MAX_RETRIES=0`
 *   (its own retries would back off for minutes), telemetry, error reporting and auto-update off;
 * - Codex: a `model_providers.stub` entry (`-c` overrides: base URL, `wire_api = "responses"`, no websockets,
 *   no retries) selected with `-c model_provider=stub`; `OPENAI_API_KEY` passed through;
 * - Gemini CLI: `GOOGLE_GEMINI_BASE_URL`, `GEMINI_API_KEY` passed through, `~/.gemini/settings.json` selecting
 *   API-key auth (the base URL alone selects the "gateway" auth type, which 0.61 refuses in headless mode), one
 *   attempt per request (`general.maxAttempts`), usage statistics, telemetry and auto-update off;
 *   `GEMINI_CLI_NO_RELAUNCH` (no second Node process).
 *
 * Nothing but 127.0.0.1 is contacted: the worker environment is PATH, a temp HOME and the fake key.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { expect } from "vitest";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRunOwner } from "../../src/activities/owner.js";
import type { OwnerInput, OwnerResult } from "../../src/domain/attempt.js";
import type { Pricing } from "../../src/domain/squad.js";
import { card, sandbox, type Sandbox } from "../activities/helpers.js";
import { recordingHooks } from "../activities/agents/helpers.js";
import { startStubModel, type StubModel, type StubProtocol, type StubStep } from "./stub-models.js";

const ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "../..");

/** Where the pinned CLIs are: `SQUADFLOW_AGENT_CLIS_DIR`, else `<project>/.agent-clis`. */
export const AGENT_CLIS_DIR = process.env.SQUADFLOW_AGENT_CLIS_DIR ?? join(ROOT, ".agent-clis");

/** The owner kinds under contract and what each needs. */
export type ContractKind = "claude-code" | "codex" | "gemini";

const BINARY: Record<ContractKind, string> = { "claude-code": "claude", codex: "codex", gemini: "gemini" };
const PROTOCOL: Record<ContractKind, StubProtocol> = { "claude-code": "anthropic", codex: "openai", gemini: "gemini" };
const KEY: Record<ContractKind, { name: string; value: string }> = {
  "claude-code": { name: "ANTHROPIC_API_KEY", value: "contract-test-anthropic-key" },
  codex: { name: "OPENAI_API_KEY", value: "contract-test-openai-key" },
  gemini: { name: "GEMINI_API_KEY", value: "contract-test-gemini-key" },
};
/** Models the stubs answer as (priced by `PRICING`). */
export const MODEL: Record<ContractKind, string> = {
  "claude-code": "claude-sonnet-4-6",
  codex: "gpt-5.5",
  gemini: "gemini-2.5-pro",
};

/** USD per million tokens for the stub models. */
export const PRICING: Pricing = {
  "claude-sonnet-4-6": { input_per_mtok: 3, output_per_mtok: 15, cache_read_per_mtok: 0.3 },
  "gpt-5.5": { input_per_mtok: 1.25, output_per_mtok: 10, cache_read_per_mtok: 0.125 },
  "gemini-2.5-pro": { input_per_mtok: 1.25, output_per_mtok: 10, cache_read_per_mtok: 0.31 },
};

/**
 * USD of a run of `kind`'s contract model at {@link PRICING}: uncached input, cache-read and output tokens,
 * rounded to 1e-6 as the owner activity rounds it.
 */
export function usdOf(kind: ContractKind): (input: number, cacheRead: number, output: number) => number {
  const p = PRICING[MODEL[kind]]!;
  return (input, cacheRead, output) =>
    Math.round(
      ((input * p.input_per_mtok + cacheRead * p.cache_read_per_mtok! + output * p.output_per_mtok) / 1e6) * 1e6,
    ) / 1e6;
}

/**
 * The absolute path of an installed CLI.
 * @throws Error naming the setup script when the pinned CLIs are not installed
 */
export function agentBinary(kind: ContractKind): string {
  const path = join(AGENT_CLIS_DIR, "node_modules", ".bin", BINARY[kind]);
  if (!existsSync(path)) {
    throw new Error(
      `${path} is missing: install the pinned agent CLIs with "npm run setup:agents" (scripts/install-agent-clis.sh)`,
    );
  }
  return path;
}

/** One contract run's world: sandbox, stub, the agent config pointed at the stub, hooks that record. */
export interface Contract {
  kind: ContractKind;
  sb: Sandbox;
  stub: StubModel;
  /** The attempt workspace (absolute). */
  workspace: string;
  /** The agent config as written in a squad file. */
  agent: Record<string, unknown>;
  recorder: ReturnType<typeof recordingHooks>;
  /** Runs the real owner activity once; `input` overrides fields of the owner input. */
  run(input?: Partial<OwnerInput>): Promise<OwnerResult>;
  close(): Promise<void>;
}

/**
 * Sets up a contract run of `kind` whose stub answers with `steps`.
 * @param agentExtra fields merged into the agent config (e.g. `permission_mode`)
 * @param opts.signal cancels the activity (the hooks' cancellation signal)
 * @param opts.geminiSettings top-level entries added to Gemini's settings.json (e.g. `model.maxSessionTurns`)
 */
export async function contract(
  kind: ContractKind,
  steps: StubStep[],
  agentExtra: Record<string, unknown> = {},
  opts: { signal?: AbortSignal; workspace?: string; geminiSettings?: Record<string, unknown> } = {},
): Promise<Contract> {
  const binary = agentBinary(kind);
  const home = "home";
  const relWorkspace = opts.workspace ?? "shop/SPEC-001/attempt-1";
  const key = KEY[kind];
  const recorder = recordingHooks(opts.signal);
  const sb = await sandbox({});
  const homeDir = join(sb.dir, home);
  await mkdir(homeDir, { recursive: true });
  sb.deps.workerEnv = { PATH: process.env.PATH, HOME: homeDir, [key.name]: key.value };
  sb.deps.hooks = recorder.hooks;
  const workspace = join(sb.root, relWorkspace);
  const stub = await startStubModel(PROTOCOL[kind], steps, workspace);
  const agent: Record<string, unknown> = { kind, binary, model: MODEL[kind], env: [key.name], timeout_ms: 120_000 };
  if (kind === "claude-code") {
    agent.set_env = {
      ANTHROPIC_BASE_URL: stub.url,
      CLAUDE_CODE_MAX_RETRIES: "0",
      DISABLE_TELEMETRY: "1",
      DISABLE_ERROR_REPORTING: "1",
      DISABLE_AUTOUPDATER: "1",
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
    };
  } else if (kind === "codex") {
    const provider = `{name="stub",base_url="${stub.url}/v1",env_key="${key.name}",wire_api="responses",supports_websockets=false,request_max_retries=0,stream_max_retries=0}`;
    agent.extra_args = ["-c", "model_provider=stub", "-c", `model_providers.stub=${provider}`];
  } else {
    agent.set_env = { GOOGLE_GEMINI_BASE_URL: stub.url, GEMINI_CLI_NO_RELAUNCH: "true" };
    await mkdir(join(homeDir, ".gemini"), { recursive: true });
    await writeFile(
      join(homeDir, ".gemini", "settings.json"),
      JSON.stringify({
        security: { auth: { selectedType: "gemini-api-key" } },
        general: { maxAttempts: 1, enableAutoUpdate: false, enableAutoUpdateNotification: false },
        privacy: { usageStatisticsEnabled: false },
        telemetry: { enabled: false },
        ...opts.geminiSettings,
      }),
    );
  }
  Object.assign(agent, agentExtra);
  const runOwner = createRunOwner(sb.deps);
  return {
    kind,
    sb,
    stub,
    workspace,
    agent,
    recorder,
    run: (input = {}) =>
      runOwner({
        backlogId: "shop",
        card: card({ dependencies: [] }),
        attempt: 1,
        agent: agent as unknown as OwnerInput["agent"],
        workspace: relWorkspace,
        dependencies: [],
        pricing: PRICING,
        ...input,
      }),
    close: async () => {
      await stub.close();
      await sb.cleanup();
    },
  };
}

/** The script of a good run: a tool call writing docs/spec.md, then the final answer. */
export const WRITE_THEN_ANSWER: StubStep[] = [
  {
    kind: "write",
    path: "docs/spec.md",
    content: "# Checkout spec\n\nRollback plan: revert the release.\n",
    usage: { input: 12_000, output: 400, cacheRead: 8_000 },
  },
  {
    kind: "answer",
    text: "Wrote docs/spec.md with the rollback plan.",
    usage: { input: 12_500, output: 150, cacheRead: 12_000 },
  },
];

/** Pids of the processes whose working directory is `dir` (the agent CLI and its children). */
export async function processesIn(dir: string): Promise<number[]> {
  const { readdir, readlink } = await import("node:fs/promises");
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => "");
    if (cwd === dir) pids.push(Number(entry));
  }
  return pids;
}

/** Resolves with the first heartbeat whose details satisfy `match` (polls the recorded beats; the test timeout bounds it). */
export async function heartbeatWhere(c: Contract, match: (details: any) => boolean): Promise<any> {
  for (;;) {
    const hit = c.recorder.beats.find(match);
    if (hit !== undefined) return hit;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What every kind's {@link WRITE_THEN_ANSWER} run reports: the file its tool wrote, and the final answer. */
export async function expectWroteTheSpec(c: Contract, result: OwnerResult): Promise<void> {
  expect(result.artifacts).toEqual(["docs/spec.md"]);
  expect(await readFile(join(c.workspace, "docs/spec.md"), "utf8")).toBe(
    "# Checkout spec\n\nRollback plan: revert the release.\n",
  );
  expect(result.summary).toBe("Wrote docs/spec.md with the rollback plan.");
}
