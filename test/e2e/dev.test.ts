/**
 * `squadflow dev` as a user runs it (`npm start` is `squadflow dev --start state/backlog_master.example.json`):
 * the real CLI (`node bin/squadflow.mjs dev …`) in a process of its own, with its own embedded Temporal dev
 * server on free ports (never 7233/8233), in memory, attempt workspaces and worktrees in a temp folder
 * (`SQUADFLOW_WORKSPACES`, `SQUADFLOW_WORKTREES`), and each test's own example repository (`--repo`, made
 * from the seed in a temp folder), so the project's state/ is untouched. It does not use the run's test server.
 *
 * Each run leads its own process group, as a shell's foreground job does: Ctrl-C is SIGINT to that group.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { freePort } from "../../src/temporal/dev-server.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devServerPids } from "../helpers/processes.js";
import { mergesOf, tempExampleRepository, worktreePaths, type TempExampleRepository } from "../helpers/example-repo.js";
import { PROJECT_ROOT } from "../../src/temporal/cli-path.js";

const BIN = join(PROJECT_ROOT, "bin", "squadflow.mjs");
const EXAMPLE = join("state", "backlog_master.example.json");

/** A running `squadflow dev`: what it printed so far, and its exit. */
interface DevRun {
  pid: number;
  port: number;
  /** Port of the review portal (`--portal-port`). */
  portalPort: number;
  out: () => string;
  err: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/** Polls `check` every 100 ms until true or `timeoutMs` passes. */
async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let workspaces: string;
const runs: DevRun[] = [];
const repos: TempExampleRepository[] = [];

/** A test's own example repository (`--repo`), removed after the file's tests. */
async function exampleRepo(): Promise<string> {
  const repo = await tempExampleRepository("dev-e2e");
  repos.push(repo);
  return repo.dir;
}

/** Starts `squadflow dev --in-memory` on free ports with `args`, leading its own process group. */
async function startDev(...args: string[]): Promise<DevRun> {
  const port = await freePort();
  const uiPort = await freePort();
  const portalPort = await freePort();
  const child = spawn(
    process.execPath,
    [
      BIN,
      "dev",
      "--in-memory",
      "--port",
      String(port),
      "--ui-port",
      String(uiPort),
      "--portal-port",
      String(portalPort),
      ...args,
    ],
    {
      cwd: PROJECT_ROOT,
      env: {
        ...process.env,
        SQUADFLOW_WORKSPACES: join(workspaces, "workspaces"),
        SQUADFLOW_WORKTREES: join(workspaces, "worktrees"),
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    },
  );
  let out = "";
  let err = "";
  child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
  const run: DevRun = {
    pid: child.pid!,
    port,
    portalPort,
    out: () => out,
    err: () => err,
    exit: new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal, at: Date.now() }))),
  };
  runs.push(run);
  return run;
}

beforeAll(async () => {
  workspaces = await mkdtemp(join(tmpdir(), "squadflow-dev-e2e-"));
});

afterAll(async () => {
  // A failed test must not leave its dev (or the server it started) running.
  for (const run of runs) {
    try {
      process.kill(-run.pid, "SIGKILL");
    } catch {
      // already gone
    }
    for (const pid of devServerPids(run.port)) process.kill(pid, "SIGKILL");
  }
  await rm(workspaces, { recursive: true, force: true });
  for (const repo of repos) await repo.remove();
});

describe("squadflow dev", () => {
  it("runs the example backlog and exits 0 once idle, with BE-002 waiting for a human", async () => {
    const repo = await exampleRepo();
    const run = await startDev("--start", EXAMPLE, "--repo", repo, "--exit-when-idle");
    const { code } = await run.exit;
    const out = run.out();
    expect(code, `stdout:\n${out}\nstderr:\n${run.err()}`).toBe(0);
    expect(out).toContain("Started backlog shop-discounts: 10 cards to run, 1 already DONE");
    // The review portal beside the Temporal UI, with a login URL (no tokens configured: a local token).
    expect(out).toMatch(
      new RegExp(
        `Portal http://127\\.0\\.0\\.1:${run.portalPort}\\n  log in \\(local token, valid while this process runs\\): http://127\\.0\\.0\\.1:${run.portalPort}/login\\?token=[\\w-]{32}\\n`,
      ),
    );
    expect(out).toMatch(/ BE-002 REJECTED — attempt 4: qa: /);
    expect(out).toMatch(/ BE-002 ESCALATED\n/);
    expect(out).toMatch(
      / BE-002 AWAITING_HUMAN\n\s+↳ waiting for a human: npx squadflow review shop-discounts BE-002 --approve/,
    );
    expect(out).toMatch(/ARQ-001 REJECTED — attempt 1: llm_judge/);
    // The closing board: every other card ran to DONE but QA-001, which waits for BE-002.
    expect(out).toMatch(/ DONE 10 · AWAITING_HUMAN 1 · TODO 1 — idle: every card has ended or waits for a human\n/);
    expect(run.err()).not.toMatch(/worker failed|squadflow dev:/);
    // The attempt worktrees went to SQUADFLOW_WORKTREES and are gone again (no attempt is running); the
    // eight DONE cards (the council's winner of ADR-001 among them) are merged into the repository's integration branch; the server it started is gone.
    expect(await readdir(join(workspaces, "worktrees", "shop-discounts"))).toContain("BE-002");
    expect(await worktreePaths(repo)).toEqual([repo]);
    const merged = (await mergesOf(repo, "squadflow/shop-discounts")).map((m) => m.trailers["Squadflow-Card"]);
    expect(merged.sort()).toEqual([
      "ADR-001",
      "ARQ-001",
      "BE-001",
      "DOCS-001",
      "FE-001",
      "INFRA-001",
      "OPS-001",
      "SPEC-001",
    ]);
    expect(devServerPids(run.port)).toEqual([]);
  }, 180_000);

  it("--json: one JSON event per stdout line, from server start to the idle board and stop; exit 0", async () => {
    // Its own backlog id and repository: its attempts (and recorded agent results) stay apart from the run above.
    const run = await startDev(
      "--json",
      "--start",
      EXAMPLE,
      "--repo",
      await exampleRepo(),
      "--id",
      "dev-json",
      "--exit-when-idle",
    );
    const { code } = await run.exit;
    const out = run.out();
    const err = run.err();
    expect(code, `stdout:\n${out}\nstderr:\n${err}`).toBe(0);
    const events = out
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as { event: string; at: string } & Record<string, unknown>);
    // Consecutive board updates count as one step of the sequence.
    const kinds = events.map((e) => e.event).filter((k, i, all) => k !== "board" || all[i - 1] !== "board");
    expect(kinds).toEqual([
      "server.started",
      "workers.started",
      "portal.started",
      "backlog.started",
      "board",
      "idle",
      "shutdown",
      "stopped",
    ]);
    for (const e of events) expect(Number.isNaN(Date.parse(e.at))).toBe(false);
    const byKind = (kind: string) => events.find((e) => e.event === kind)!;
    expect(byKind("server.started")).toMatchObject({
      address: `127.0.0.1:${run.port}`,
      namespace: "default",
      uiUrl: expect.stringMatching(/^http:\/\//),
      db: null,
    });
    expect(byKind("portal.started")).toMatchObject({
      url: `http://127.0.0.1:${run.portalPort}`,
      loginUrl: expect.stringMatching(/\/login\?token=/),
    });
    expect(byKind("workers.started").taskQueues).toEqual([
      "squadflow-orchestration",
      "squadflow-owners",
      "squadflow-validation",
      "squadflow-debugging",
    ]);
    const started = byKind("backlog.started");
    expect(started).toMatchObject({ backlogId: "dev-json", workflowId: "dev-json", done: [expect.any(String)] });
    expect(started.cards).toHaveLength(10);
    expect(started.cards).toContainEqual({ cardId: "BE-002", workflowId: "dev-json/BE-002" });
    // Boards are `status --watch --json` boards (plus event and at), printed only when they changed.
    const boards = events.filter((e) => e.event === "board");
    expect(new Set(boards.map(({ at: _at, ...b }) => JSON.stringify(b))).size).toBe(boards.length);
    // The idle board: every card DONE but BE-002 (waiting for a human) and QA-001 (waiting for BE-002).
    const { event: _event, at: _at, ...idle } = byKind("idle");
    expect(idle).toMatchObject({
      backlogId: "dev-json",
      idle: true,
      total: 12,
      final: 10,
      counts: { DONE: 10, AWAITING_HUMAN: 1, TODO: 1 },
      awaitingHuman: [
        {
          cardId: "BE-002",
          attempt: 4,
          reason: expect.stringMatching(/^qa: /),
          command: expect.stringContaining("squadflow review dev-json BE-002"),
        },
      ],
    });
    const { event: _lastEvent, at: _lastAt, ...lastBoard } = boards[boards.length - 1]!;
    expect(idle).toEqual(lastBoard);
    expect(byKind("shutdown")).toMatchObject({ reason: "idle" });
    expect(byKind("stopped")).toMatchObject({ exitCode: 0 });
    // No error object on stderr (the server's and SDK's logs go there, as JSON), and the server is gone.
    expect(err).not.toMatch(/\{"error":\{/);
    expect(devServerPids(run.port)).toEqual([]);
  }, 180_000);

  it("stops cleanly on Ctrl-C: workers drain against a live server, then the server stops; exit 0", async () => {
    const run = await startDev("--start", EXAMPLE, "--repo", await exampleRepo(), "--id", "ctrl-c");
    await until("workers serving", () => run.out().includes("Workers serving squadflow-orchestration"), 90_000);
    // Interrupt while cards are working (activities in flight), as a user would.
    await until("a card in progress", () => / IN_PROGRESS\n/.test(run.out()), 60_000);
    expect(devServerPids(run.port)).toHaveLength(1);
    const sent = Date.now();
    process.kill(-run.pid, "SIGINT"); // the whole process group, as a terminal's Ctrl-C
    const { code, at } = await run.exit;
    const out = run.out();
    const err = run.err();
    expect(code, `stdout:\n${out}\nstderr:\n${err}`).toBe(0);
    expect(out).toContain("Shutting down: draining workers, stopping the server…");
    // Workers never lost the server while draining (the SDK logs, on stdout, retried completions against a
    // dead port when the Ctrl-C stopped the server at the same time).
    expect(`${out}\n${err}`).not.toMatch(/worker failed|Connection refused|tcp connect error/);
    expect(at - sent).toBeLessThan(10_000);
    await until("the server process to be gone", () => devServerPids(run.port).length === 0, 5_000);
  }, 180_000);
});
