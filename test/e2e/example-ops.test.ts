/**
 * End to end: the ops commands (`status --watch`, `pause`/`resume`, `review --reject`, `retry`, `skip`,
 * `cancel`) through the CLI itself (`main()` with TEMPORAL_ADDRESS pointing at the run's dev server),
 * against the example backlog (state/backlog_master.example.json) run by the real worker wiring, real
 * activities and the shipped command agents (examples/agents/).
 *
 * Two backlogs share one set of workers, each delivering into an example repository of its own (made from
 * the seed in a temp folder):
 *   - the example backlog as shipped: pause/resume, the live board until idle, then reject → retry → skip
 *     of BE-002 while QA-001 waits for it;
 *   - the example backlog with ARQ-001 and DOCS-001 (now depending on SPEC-001 only) owned by a slow
 *     command agent written to a temp dir, which records its pid and its child's pid: `cancel BACKLOG CARD`
 *     kills ARQ-001's agent, then `cancel BACKLOG` ends every card not DONE CANCELLED.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBacklogView, startBacklog, type BacklogView, type CardView } from "../../src/cli/backlogs.js";
import type { Board } from "../../src/cli/board.js";
import { loadBacklog } from "../../src/cli/load.js";
import { planBacklog, withRepository } from "../../src/domain/index.js";
import { inspectRepository } from "../../src/activities/repository/index.js";
import { PROJECT_ROOT } from "../../src/temporal/cli-path.js";
import { testEnv } from "../helpers/temporal.js";
import { startE2eWorkers, until, type E2eWorkers } from "../helpers/e2e.js";
import { cli } from "../helpers/cli.js";
import { mergesOf, tempExampleRepository, worktreePaths, type TempExampleRepository } from "../helpers/example-repo.js";

const EXAMPLE = resolve(PROJECT_ROOT, "state", "backlog_master.example.json");

/**
 * A slow owner agent: records its pid and the pid of a child it spawned (the same process group) in
 * `<dir>/<card>.json`, then sleeps for ten minutes — long enough to be running when it is cancelled.
 */
const SLOW_AGENT = `
import { spawn } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
process.stdin.resume();
const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600000)'], { stdio: 'ignore' });
const file = join(process.argv[2], process.env.SQUADFLOW_CARD_ID + '.json');
writeFileSync(file + '.tmp', JSON.stringify({ agent: process.pid, child: child.pid }));
renameSync(file + '.tmp', file);
setTimeout(() => {}, 600000);
`;

/**
 * A gate in front of a real agent: reads its stdin, waits until `<dir>/<card>.release` exists, then runs
 * the real agent (the rest of its argv) with the same stdin, environment and working directory. The test
 * holds SPEC-001's owner with it until the backlog is paused, so the pause never races a fast agent.
 */
const GATE_AGENT = `
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
const [dir, command, ...args] = process.argv.slice(2);
const input = readFileSync(0);
const release = join(dir, process.env.SQUADFLOW_CARD_ID + '.release');
await new Promise((r) => {
  const t = setInterval(() => { if (existsSync(release)) { clearInterval(t); r(); } }, 50);
});
const child = spawn(command, args, { stdio: ['pipe', 'inherit', 'inherit'] });
child.stdin.end(input);
child.on('exit', (code) => process.exit(code ?? 1));
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True while a process exists and is not a zombie (Linux: /proc; elsewhere: signal 0). */
function alive(pid: number): boolean {
  if (process.platform === "linux") {
    try {
      // "pid (comm) S …": the state follows the last ")".
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface StatusJson {
  backlogId: string;
  running: boolean;
  cards: { cardId: string; status: string; attempt: number; final: boolean; legacy: boolean; note?: string }[];
}

async function statusJson(backlogId: string): Promise<StatusJson> {
  const status = await cli("status", backlogId, "--json");
  expect(status.code, status.err).toBe(0);
  return JSON.parse(status.out) as StatusJson;
}

/** The NDJSON boards `status --watch --json` printed (other lines, e.g. a worker's warnings, ignored). */
function boardsOf(out: string): Board[] {
  return out
    .split("\n")
    .filter((l) => l.startsWith('{"backlogId"'))
    .map((l) => JSON.parse(l) as Board);
}

function card(view: BacklogView, id: string): CardView {
  const c = view.cards.find((x) => x.cardId === id);
  if (!c) throw new Error(`no card ${id}`);
  return c;
}

async function view(backlogId: string): Promise<BacklogView> {
  const { client } = await testEnv();
  return await readBacklogView(client, backlogId);
}

/** Waits until `cardId` matches `ok`; returns the view. */
function untilCard(
  backlogId: string,
  cardId: string,
  what: string,
  ok: (c: CardView) => boolean,
  timeoutMs?: number,
): Promise<BacklogView> {
  return until(
    `${cardId} ${what}`,
    async () => {
      const v = await view(backlogId);
      return ok(card(v, cardId)) ? v : undefined;
    },
    timeoutMs,
  );
}

describe("ops commands on the example backlog, end to end", () => {
  let e2e: E2eWorkers | undefined;
  let agentDir: string;
  let mainRepo: TempExampleRepository | undefined;
  let cancelRepo: TempExampleRepository | undefined;
  const stamp = Date.now().toString(36);
  const mainId = `example-ops-${stamp}`;
  const cancelId = `example-cancel-${stamp}`;

  beforeAll(async () => {
    e2e = await startE2eWorkers("e2e-ops");
    const { env, taskQueues } = e2e;
    agentDir = await mkdtemp(join(tmpdir(), "squadflow-slow-agent-"));
    const agent = join(agentDir, "slow-agent.mjs");
    await writeFile(agent, SLOW_AGENT);
    const gate = join(agentDir, "gate-agent.mjs");
    await writeFile(gate, GATE_AGENT);

    // The example backlog, with a slow agent owning ARQ-001 and DOCS-001 (which now depends on SPEC-001
    // only), so that both run at once after SPEC-001.
    const doc = JSON.parse(await readFile(EXAMPLE, "utf8")) as {
      cards: { id: string; owner?: string; dependencies?: string[] }[];
      squad: { agents: Record<string, unknown> };
    };
    doc.squad.agents.slow = {
      kind: "command",
      command: process.execPath,
      args: [agent, agentDir],
      timeout_ms: 300_000,
    };
    // Without the council card ADR-001, which would race the cancellation below (it depends on SPEC-001 only).
    doc.cards = doc.cards.filter((c) => c.id !== "ADR-001");
    for (const c of doc.cards) {
      if (c.id === "ARQ-001" || c.id === "DOCS-001") c.owner = "slow";
      if (c.id === "DOCS-001") c.dependencies = ["SPEC-001"];
    }
    cancelRepo = await tempExampleRepository("e2e-ops-cancel");
    const slowPlan = withRepository(
      planBacklog(JSON.stringify(doc), {
        file: "example-slow.json",
        backlogId: cancelId,
        artifactBase: dirname(EXAMPLE),
        repository: cancelRepo.dir,
      }),
      await inspectRepository({
        source: cancelRepo.dir,
        baseDir: process.cwd(),
        backlogId: cancelId,
        baseBranch: "main",
      }),
    );

    mainRepo = await tempExampleRepository("e2e-ops");
    const plan = await loadBacklog(EXAMPLE, { backlogId: mainId, repo: mainRepo.dir });
    // SPEC-001's real doc-writer runs behind the gate: the pause test opens it once the backlog is paused.
    const spec = plan.cards.find((c) => c.card.id === "SPEC-001")!;
    if (spec.agent.kind !== "command") throw new Error("the example SPEC owner is a command agent");
    spec.agent = {
      ...spec.agent,
      command: process.execPath,
      args: [gate, agentDir, spec.agent.command === "node" ? process.execPath : spec.agent.command, ...spec.agent.args],
    };
    const [main, slow] = await Promise.all([
      startBacklog(env.client, plan, "state/backlog_master.example.json", taskQueues),
      startBacklog(env.client, slowPlan, "example-slow.json", taskQueues),
    ]);
    expect([main.started, slow.started]).toEqual([true, true]);
  });

  afterAll(async () => {
    // Whatever a failed test left behind: the slow backlog, the slow agents.
    const env = await testEnv();
    await env.client.workflow
      .getHandle(cancelId)
      .terminate("test cleanup")
      .catch(() => undefined);
    await e2e?.stop();
    for (const id of ["ARQ-001", "DOCS-001"]) {
      const file = join(agentDir, `${id}.json`);
      if (!existsSync(file)) continue;
      const pids = JSON.parse(readFileSync(file, "utf8")) as { agent: number; child: number };
      for (const pid of [pids.agent, pids.child]) if (alive(pid)) process.kill(pid, "SIGKILL");
    }
    await rm(agentDir, { recursive: true, force: true });
    await mainRepo?.remove();
    await cancelRepo?.remove();
  });

  it("pause holds every new owner and validator run; resume releases them (audit entries in --json)", async () => {
    const pause = await cli("pause", mainId, "--reviewer", "ops", "--reason", "change freeze", "--json");
    expect(pause.code, pause.err).toBe(0);
    expect(JSON.parse(pause.out)).toMatchObject({
      actor: "ops",
      action: "pause",
      reason: "change freeze",
      at: expect.any(String),
    });

    // Once SPEC-001 knows, nothing moves any more: an owner run that had started may finish, no other starts.
    const fingerprint = (v: BacklogView) =>
      JSON.stringify(v.cards.map((c) => [c.cardId, c.status, c.state?.statusHistory.length, c.state?.attempts.length]));
    const held = await until("the paused backlog to hold still", async () => {
      const a = await view(mainId);
      if (card(a, "SPEC-001").state?.paused !== true) return undefined;
      await sleep(1500);
      const b = await view(mainId);
      return fingerprint(a) === fingerprint(b) ? b : undefined;
    });
    const spec = card(held, "SPEC-001");
    expect(["TODO", "IN_PROGRESS", "VALIDATING"]).toContain(spec.status);
    expect(spec.state!.attempts).toHaveLength(0); // no attempt completed: its validators (at least) are held
    for (const c of held.cards.filter((x) => !x.legacy && x.cardId !== "SPEC-001"))
      expect([c.cardId, c.status, c.attempt]).toEqual([c.cardId, "TODO", 0]);

    const resume = await cli("resume", mainId, "--reviewer", "ops", "--reason", "freeze over", "--json");
    expect(resume.code).toBe(0);
    await writeFile(join(agentDir, "SPEC-001.release"), "");
    expect(JSON.parse(resume.out)).toMatchObject({ actor: "ops", action: "resume", reason: "freeze over" });
    await untilCard(mainId, "SPEC-001", "to be DONE after resume", (c) => c.status === "DONE");
    const { backlog } = await view(mainId);
    expect(backlog.paused).toBe(false);
    expect(backlog.auditLog.map((e) => [e.action, e.actor, e.reason])).toEqual([
      ["pause", "ops", "change freeze"],
      ["resume", "ops", "freeze over"],
    ]);
  }, 60_000);

  it("cancel BACKLOG CARD kills the running agent and ends the card CANCELLED; cancel BACKLOG ends every card not DONE CANCELLED", async () => {
    // Both slow agents run (after SPEC-001 passed with the real doc-writer).
    const pidsOf = (id: string) =>
      until(
        `the slow agent of ${id} to record its pids`,
        async () =>
          JSON.parse(await readFile(join(agentDir, `${id}.json`), "utf8")) as { agent: number; child: number },
      );
    const [arq, docs] = await Promise.all([pidsOf("ARQ-001"), pidsOf("DOCS-001")]);
    for (const pid of [arq.agent, arq.child, docs.agent, docs.child]) expect(alive(pid)).toBe(true);
    const before = await statusJson(cancelId);
    expect(before.cards.find((c) => c.cardId === "ARQ-001")!.status).toBe("IN_PROGRESS");

    const cancelCard = await cli("cancel", cancelId, "ARQ-001", "--json");
    expect(cancelCard.code).toBe(0);
    expect(JSON.parse(cancelCard.out)).toEqual({ cancelled: `${cancelId}/ARQ-001` });
    await untilCard(cancelId, "ARQ-001", "to be CANCELLED", (c) => c.status === "CANCELLED" && c.final, 30_000);
    // Its agent hears of the cancellation with its next heartbeat (sent every 2 s: HEARTBEAT_THROTTLE) and is killed, child too.
    await until(
      "ARQ-001's agent and its child to be killed",
      async () => ([arq.agent, arq.child].some(alive) ? undefined : true),
      10_000,
    );
    // Its dependents come to rest BLOCKED; DOCS-001 still works.
    const blocked = await until(
      "every dependent of ARQ-001 to be BLOCKED",
      async () => {
        const v = await view(cancelId);
        return ["INFRA-001", "BE-001", "BE-002", "FE-001", "QA-001", "OPS-001"].every(
          (id) => card(v, id).status === "BLOCKED",
        )
          ? v
          : undefined;
      },
      30_000,
    );
    for (const id of ["INFRA-001", "BE-001", "BE-002"]) {
      expect([id, card(blocked, id).status, card(blocked, id).state?.blockedBy?.cardId]).toEqual([
        id,
        "BLOCKED",
        "ARQ-001",
      ]);
    }
    expect(card(blocked, "DOCS-001").status).toBe("IN_PROGRESS");
    for (const pid of [docs.agent, docs.child]) expect(alive(pid)).toBe(true);

    // The whole backlog.
    const cancelAll = await cli("cancel", cancelId, "--json");
    expect(cancelAll.code).toBe(0);
    expect(JSON.parse(cancelAll.out)).toEqual({ cancelled: cancelId });
    const { client } = await testEnv();
    await until(
      "the backlog workflow to close",
      async () => ((await client.workflow.getHandle(cancelId).describe()).status.name !== "RUNNING" ? true : undefined),
      30_000,
    );
    await until(
      "DOCS-001's agent and its child to be killed",
      async () => ([docs.agent, docs.child].some(alive) ? undefined : true),
      10_000,
    );

    const after = await statusJson(cancelId);
    expect(after.running).toBe(false);
    expect(Object.fromEntries(after.cards.map((c) => [c.cardId, c.status]))).toEqual({
      "BRIEF-001": "DONE",
      "BRIEF-001-CORR-1": "DONE",
      "SPEC-001": "DONE",
      "ARQ-001": "CANCELLED",
      "INFRA-001": "CANCELLED",
      "BE-001": "CANCELLED",
      "BE-002": "CANCELLED",
      "FE-001": "CANCELLED",
      "QA-001": "CANCELLED",
      "DOCS-001": "CANCELLED",
      "OPS-001": "CANCELLED",
    });
    // SPEC-001 was merged; the cancelled cards' worktrees are gone with the backlog.
    expect((await mergesOf(cancelRepo!.dir, `squadflow/${cancelId}`)).map((m) => m.trailers["Squadflow-Card"])).toEqual(
      ["SPEC-001"],
    );
    await until(
      "only the main worktree to be left",
      async () => ((await worktreePaths(cancelRepo!.dir)).length === 1 ? true : undefined),
      30_000,
    );
  }, 120_000);

  it("status --watch --json shows boards until idle: BE-002 awaiting a human, QA-001 waiting for it", async () => {
    const watch = await cli("status", mainId, "--watch", "--json", "--interval", "300");
    expect(watch.code).toBe(0);
    const boards = boardsOf(watch.out);
    expect(boards.length).toBeGreaterThan(0); // one per change
    const last = boards[boards.length - 1]!;
    expect(last).toMatchObject({ backlogId: mainId, running: true, idle: true, total: 12, final: 10 });
    expect(last.counts).toEqual({ DONE: 10, AWAITING_HUMAN: 1, TODO: 1 });
    expect(last.awaitingHuman).toEqual([
      expect.objectContaining({
        cardId: "BE-002",
        attempt: 4,
        command: expect.stringContaining(`squadflow review ${mainId} BE-002`),
      }),
    ]);
    expect(last.costUsd).toBeGreaterThan(0);
    const qa = (await statusJson(mainId)).cards.find((c) => c.cardId === "QA-001")!;
    expect(qa).toMatchObject({ status: "TODO", attempt: 0, note: "waiting for BE-002" });
  }, 180_000);

  it("review --reject rests BE-002 and blocks QA-001; retry re-runs it and QA-001 waits again; skip ends it DONE and QA-001 runs", async () => {
    const reject = await cli(
      "review",
      mainId,
      "BE-002",
      "--reject",
      "--reviewer",
      "ana",
      "--reason",
      "rounding rule unclear",
      "--json",
    );
    expect(reject.code).toBe(0);
    expect(JSON.parse(reject.out)).toMatchObject({
      backlogId: mainId,
      cardId: "BE-002",
      decision: "reject",
      entry: { actor: "ana", action: "reject", reason: "rounding rule unclear" },
    });
    const rested = await untilCard(mainId, "QA-001", "to be BLOCKED", (c) => c.status === "BLOCKED", 30_000);
    expect(card(rested, "BE-002")).toMatchObject({ status: "REJECTED", final: false, attempt: 4 });
    expect(card(rested, "BE-002").state!.settled).toBe(true);
    expect(card(rested, "QA-001").state!.blockedBy).toMatchObject({ cardId: "BE-002", status: "REJECTED" });
    let status = await statusJson(mainId);
    expect(status.running).toBe(true); // cards at rest keep the backlog open
    expect(status.cards.find((c) => c.cardId === "QA-001")!.status).toBe("BLOCKED");
    // Nothing runs: the live board says idle at once.
    const idle = await cli("status", mainId, "--watch", "--json", "--interval", "100");
    expect(idle.code).toBe(0);
    const board = boardsOf(idle.out).pop()!;
    expect(board).toMatchObject({ idle: true, final: 12, counts: { DONE: 10, REJECTED: 1, BLOCKED: 1 } });

    const retry = await cli(
      "retry",
      mainId,
      "BE-002",
      "--reviewer",
      "ana",
      "--reason",
      "FIN-7 clarified with finance",
      "--json",
    );
    expect(retry.code).toBe(0);
    expect(JSON.parse(retry.out)).toMatchObject({
      actor: "ana",
      action: "retry",
      reason: "FIN-7 clarified with finance",
    });
    const rerun = await untilCard(mainId, "BE-002", "to begin a fresh attempt", (c) => c.attempt >= 5, 30_000);
    expect(card(rerun, "BE-002").state!.settled).toBe(false);
    await untilCard(
      mainId,
      "QA-001",
      "to wait for BE-002 again",
      (c) => c.status === "TODO" && c.state?.waitingFor.includes("BE-002") === true,
      30_000,
    );
    // A card at work cannot be skipped: wait until BE-002 waits again (for a human, after its corrections).
    // (Should it already wait, this skip is taken, and the one below is its idempotent repeat.)
    const refused = await cli(
      "skip",
      mainId,
      "BE-002",
      "--reviewer",
      "ana",
      "--reason",
      "finance signs off the rounding",
    );
    if (refused.code !== 0) {
      expect(refused.code).toBe(2);
      expect(refused.err).toMatch(
        /card BE-002 cannot be skipped in status (IN_PROGRESS|VALIDATING|CORRECTING|ESCALATED)/,
      );
    }
    await untilCard(
      mainId,
      "BE-002",
      "to await a human again",
      (c) => c.status === "AWAITING_HUMAN" || c.status === "DONE",
      120_000,
    );
    const skip = await cli(
      "skip",
      mainId,
      "BE-002",
      "--reviewer",
      "ana",
      "--reason",
      "finance signs off the rounding",
      "--json",
    );
    expect(skip.code).toBe(0);
    expect(JSON.parse(skip.out)).toMatchObject({
      actor: "ana",
      action: "skip",
      reason: "finance signs off the rounding",
    });

    const { client } = await testEnv();
    await until(
      "the backlog to finish",
      async () => ((await readBacklogView(client, mainId)).running ? undefined : true),
      90_000,
    );
    status = await statusJson(mainId);
    expect(status.running).toBe(false);
    expect(status.cards.filter((c) => c.status !== "DONE")).toEqual([]);
    expect(status.cards.find((c) => c.cardId === "BE-002")!.attempt).toBeGreaterThanOrEqual(5);
    const done = await view(mainId);
    expect(card(done, "QA-001").state!.attempts.length).toBeGreaterThanOrEqual(1); // it ran, after BE-002
    // The skipped card is merged too, its merge saying who skipped it; QA-001's came after it.
    const merges = await mergesOf(mainRepo!.dir, `squadflow/${mainId}`);
    const cards = merges.map((m) => m.trailers["Squadflow-Card"]!);
    expect([...cards].sort()).toEqual([
      "ADR-001",
      "ARQ-001",
      "BE-001",
      "BE-002",
      "DOCS-001",
      "FE-001",
      "INFRA-001",
      "OPS-001",
      "QA-001",
      "SPEC-001",
    ]);
    expect(cards.indexOf("QA-001")).toBeGreaterThan(cards.indexOf("BE-002"));
    expect(merges.find((m) => m.trailers["Squadflow-Card"] === "BE-002")!.trailers).toMatchObject({
      "Squadflow-Reviewer": "ana",
      "Squadflow-Decision": "skip",
    });
    expect(await worktreePaths(mainRepo!.dir)).toEqual([mainRepo!.dir]);

    const history = await cli("history", mainId, "BE-002", "--json");
    expect(history.code).toBe(0);
    const audit = (
      JSON.parse(history.out) as { state: { auditLog: { actor: string; action: string; reason: string }[] } }
    ).state.auditLog;
    expect(audit.filter((e) => e.actor === "ana").map((e) => [e.action, e.reason])).toEqual([
      ["reject", "rounding rule unclear"],
      ["retry", "FIN-7 clarified with finance"],
      ["skip", "finance signs off the rounding"],
    ]);
    const text = await cli("history", mainId, "BE-002");
    expect(text.out).toMatch(/reject by ana — rounding rule unclear/);
    expect(text.out).toMatch(/retry by ana — FIN-7 clarified with finance/);
    expect(text.out).toMatch(/skip by ana — finance signs off the rounding/);

    const metrics = await cli("metrics", mainId, "--json");
    expect(metrics.code).toBe(0);
    const m = (JSON.parse(metrics.out) as { running: boolean; metrics: Record<string, unknown> }).metrics;
    expect(m).toMatchObject({ cardsRun: 10 });
    expect(m.escalatedCards).toBeGreaterThanOrEqual(1);
    expect(m.rejectionRate).toEqual(expect.any(Number));
  }, 240_000);
});
