/**
 * What a running owner is doing, as `squadflow history` and `squadflow status --watch` show it: read from
 * the last heartbeat of the card workflow's pending owner activity, on the run's dev server with a real
 * worker whose owner heartbeats a CLI agent's progress and then waits, held, until the test releases it.
 */
import type { Worker } from "@temporalio/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBacklogView, startBacklog } from "../../src/cli/backlogs.js";
import { watchBoard, type Board } from "../../src/cli/board.js";
import { readCardHistory, renderHistory } from "../../src/cli/history.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import { until } from "../helpers/until.js";
import { cli } from "../helpers/cli.js";
import { fakeActivities, gate, testPlan, uniqueBacklogId } from "../workflows/fakes.js";

const HEARTBEAT = {
  phase: "owner",
  elapsedMs: 65_000,
  progress: { turns: 3, inputTokens: 20_000, outputTokens: 550, lastTool: "Write", lastEvent: "assistant" },
};

let worker: Worker;
let running: Promise<void>;
let backlogId: string;
const held = gate();

beforeAll(async () => {
  const env = await testEnv();
  process.env.TEMPORAL_ADDRESS = env.address;
  process.env.TEMPORAL_NAMESPACE = env.namespace;
  const q = uniqueTaskQueue("progress");
  worker = await createTestWorker({
    taskQueue: q,
    activities: fakeActivities({ A: { heartbeat: HEARTBEAT, hold: held.hold } }).activities,
  });
  running = worker.run();
  backlogId = uniqueBacklogId("progress");
  await startBacklog(env.client, testPlan(backlogId, [{ id: "A" }]), "progress.json", {
    orchestration: q,
    owners: q,
    validation: q,
    debugging: q,
  });
});

afterAll(async () => {
  held.release();
  if (worker.getState() === "RUNNING") worker.shutdown();
  await running;
});

describe("a running owner", () => {
  it("shows in `squadflow history` with its turns, tokens so far and last tool", async () => {
    const { client } = await testEnv();
    const h = await until(
      "the owner heartbeat to show in the history",
      async () => (await readCardHistory(client, backlogId, "A")).ownerProgress,
    );
    expect(h).toMatchObject({
      activityAttempt: 1,
      elapsedMs: 65_000,
      turns: 3,
      inputTokens: 20_000,
      outputTokens: 550,
      lastTool: "Write",
    });
    expect(Date.parse(h.lastHeartbeatAt!)).not.toBeNaN();
    const r = await cli("history", backlogId, "A");
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      "owner of attempt 1 at work: running 1 min 05 s · 3 turns · 20000 in / 550 out tokens so far · last tool Write",
    );
  });

  it("shows on the `status --watch` board, then leaves it once the owner is done", async () => {
    const { client } = await testEnv();
    const abort = new AbortController();
    const boards: Board[] = [];
    const write = (line: string) => {
      const board = JSON.parse(line) as Board;
      boards.push(board);
      if (board.working?.length) abort.abort();
    };
    await watchBoard(client, backlogId, { json: true, write, signal: abort.signal, intervalMs: 100 });
    const seen = boards[boards.length - 1]!;
    expect(seen.working).toEqual([
      {
        cardId: "A",
        attempt: 1,
        progress: { activityAttempt: 1, turns: 3, inputTokens: 20_000, outputTokens: 550, lastTool: "Write" },
      },
    ]);

    const text: string[] = [];
    const textAbort = new AbortController();
    await watchBoard(client, backlogId, {
      tty: false,
      write: (t) => {
        text.push(t);
        if (t.includes("owners at work")) textAbort.abort();
      },
      signal: textAbort.signal,
      intervalMs: 100,
    });
    expect(text.join("")).toContain(
      "owners at work (1):\n    A (attempt 1) — 3 turns · 20000 in / 550 out tokens so far · last tool Write",
    );

    held.release();
    await until("card A to be done", async () =>
      (await readBacklogView(client, backlogId)).cards.find((c) => c.cardId === "A")?.status === "DONE"
        ? true
        : undefined,
    );
    const after = await watchBoard(client, backlogId, { json: true, write: () => undefined, intervalMs: 100 });
    expect(after.working).toEqual([]);
  });
});

describe("a resumed session", () => {
  it("shows in `squadflow history` with the session it resumed and the cached tokens it reused", async () => {
    const { client } = await testEnv();
    const q = uniqueTaskQueue("resumed");
    const session = { id: "s-2", turns: 4, resumedFrom: "s-1", reusedTokens: 13_000 };
    const w = await createTestWorker({
      taskQueue: q,
      activities: fakeActivities({ R: { session, qa: [["x"], "pass"] } }).activities,
    });
    const id = uniqueBacklogId("resumed");
    const text = await w.runUntil(async () => {
      await startBacklog(client, testPlan(id, [{ id: "R" }]), "resumed.json", {
        orchestration: q,
        owners: q,
        validation: q,
        debugging: q,
      });
      const h = await until("card R to be done", async () => {
        const hist = await readCardHistory(client, id, "R");
        return hist.state.status === "DONE" ? hist : undefined;
      });
      expect(h.state.attempts.map((a) => a.session)).toEqual([session, session]);
      return renderHistory(h);
    });
    expect(text).toContain("    session s-2 · 4 turns · resumed s-1, reusing 13000 cached tokens");
  });
});
