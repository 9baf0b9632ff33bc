/**
 * The ops commands (`retry`, `skip`, `pause`, `resume`, `cancel`) through the CLI itself, against a
 * backlog run by scripted activities on the run's dev server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Worker } from "@temporalio/worker";
import { readBacklogView, startBacklog } from "../../src/cli/backlogs.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import { fakeActivities, gate, testPlan, uniqueBacklogId, type CardScript, type TestCard } from "../workflows/fakes.js";
import { cli } from "../helpers/cli.js";
import { until as untilState } from "../helpers/until.js";

const workers: Worker[] = [];
const runs: Promise<void>[] = [];

beforeAll(async () => {
  const env = await testEnv();
  process.env.TEMPORAL_ADDRESS = env.address;
  process.env.TEMPORAL_NAMESPACE = env.namespace;
});

afterAll(async () => {
  for (const w of workers) if (w.getState() === "RUNNING") w.shutdown();
  await Promise.all(runs);
});

/** Starts a backlog of scripted cards with its own worker (running until the file ends). */
async function backlog(cards: TestCard[], scripts: Record<string, CardScript>): Promise<string> {
  const { client } = await testEnv();
  const q = uniqueTaskQueue("ops");
  const worker = await createTestWorker({ taskQueue: q, activities: fakeActivities(scripts).activities });
  workers.push(worker);
  runs.push(worker.run());
  const backlogId = uniqueBacklogId("ops");
  await startBacklog(client, testPlan(backlogId, cards), "ops.json", {
    orchestration: q,
    owners: q,
    validation: q,
    debugging: q,
  });
  return backlogId;
}

async function statusOf(backlogId: string, cardId: string): Promise<string | undefined> {
  const { client } = await testEnv();
  const view = await readBacklogView(client, backlogId).catch(() => undefined);
  return view?.cards.find((c) => c.cardId === cardId)?.status;
}

async function until(backlogId: string, cardId: string, status: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if ((await statusOf(backlogId, cardId)) === status) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${cardId} never reached ${status}`);
}

describe("ops commands", () => {
  it("retry gives a rejected card a fresh attempt and its blocked dependents run after it", async () => {
    const id = await backlog([{ id: "A" }, { id: "B", dependencies: ["A"] }], {
      A: { qa: [["x"], ["x"], ["x"], ["x"], "pass"] },
    });
    await until(id, "A", "AWAITING_HUMAN");
    expect((await cli("review", id, "A", "--reject", "--reviewer", "ana", "--reason", "wrong")).code).toBe(0);
    await until(id, "B", "BLOCKED");
    const early = await cli("retry", id, "B", "--reviewer", "ana", "--reason", "x", "--json");
    expect(early.code).toBe(0); // B is at rest (BLOCKED): a retry is accepted and it waits again
    await until(id, "B", "BLOCKED");
    const retry = await cli("retry", id, "A", "--reviewer", "ana", "--reason", "spec fixed", "--json");
    expect(retry.code).toBe(0);
    expect(JSON.parse(retry.out)).toMatchObject({ actor: "ana", action: "retry", reason: "spec fixed" });
    await until(id, "B", "DONE");
    expect(await statusOf(id, "A")).toBe("DONE");
  });

  it("skip marks a card DONE by decision and refuses a card that is working", async () => {
    const a = gate();
    const id = await backlog([{ id: "A" }, { id: "B", dependencies: ["A"] }], { A: { hold: a.hold } });
    await until(id, "A", "IN_PROGRESS");
    const refused = await cli("skip", id, "A", "--reviewer", "ops", "--reason", "x");
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/card A cannot be skipped in status IN_PROGRESS/);
    a.release();
    const skip = await cli("skip", id, "B", "--reviewer", "ops", "--reason", "not needed");
    expect(skip.code).toBe(0);
    expect(skip.out).toMatch(/^B: skip by ops/);
    await until(id, "B", "DONE");
  });

  it("pause holds new runs and resume releases them; both refuse a repeat", async () => {
    const a = gate();
    const id = await backlog([{ id: "A" }, { id: "B", dependencies: ["A"] }], { A: { hold: a.hold } });
    await until(id, "A", "IN_PROGRESS");
    expect((await cli("pause", id, "--reviewer", "ops", "--reason", "freeze")).code).toBe(0);
    const again = await cli("pause", id, "--reviewer", "ops", "--reason", "freeze");
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/already paused/);
    // Once A has heard of the pause, its owner finishes; A then waits, VALIDATING, for the resume, and B
    // (after A) does not start.
    const { client } = await testEnv();
    await untilState("A to hear of the pause", async () => {
      const v = await readBacklogView(client, id);
      return v.cards.find((c) => c.cardId === "A")?.state?.paused ? true : undefined;
    });
    a.release();
    await until(id, "A", "VALIDATING");
    expect(await statusOf(id, "B")).toBe("TODO");
    expect((await cli("resume", id, "--reviewer", "ops", "--reason", "go")).code).toBe(0);
    await until(id, "B", "DONE");
  });

  it("cancel ends a card CANCELLED and blocks its dependents; unknown cards exit 2", async () => {
    // X's owner runs until released: A is still waiting for it (TODO) when it is cancelled.
    const x = gate();
    const id = await backlog([{ id: "A", dependencies: ["X"] }, { id: "X" }, { id: "B", dependencies: ["A"] }], {
      X: { hold: x.hold },
    });
    await until(id, "A", "TODO");
    const cancel = await cli("cancel", id, "A", "--json");
    expect(cancel.code).toBe(0);
    expect(JSON.parse(cancel.out)).toEqual({ cancelled: `${id}/A` });
    await until(id, "A", "CANCELLED");
    await until(id, "B", "BLOCKED");
    expect((await cli("cancel", id, "NOPE")).code).toBe(2);
    expect((await cli("retry", "no-such-backlog", "A", "--reviewer", "a", "--reason", "b")).code).toBe(2);
    x.release();
    expect((await cli("cancel", id)).code).toBe(0);
  });
});
