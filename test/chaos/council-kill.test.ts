/**
 * A council resumed after a real worker kill (issue 12, "a crash mid-council resumes where it was (no
 * proposal generated twice)"): the council's workflows and activities run in a squadflow worker PROCESS of
 * their own (scripts/chaos/worker.ts, the FAULTS harness's), which is SIGKILLed while one proposal is held
 * behind a gate and the two others have finished; a new worker process takes over (the held run's
 * heartbeats stopped: Temporal retries it after the activities' 20 s heartbeat timeout) and the council
 * finishes with each proposal generated exactly once.
 */
import { stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ownerRecordPath } from "../../src/activities/owner.js";
import { COORDINATOR_PRIORITY_KEY, proposalWorkspace } from "../../src/domain/index.js";
import { backlogWorkflow, type BacklogState } from "../../src/workflows/backlog.js";
import { ChaosWorkerProcess } from "../../scripts/chaos/lib.js";
import { chaosTaskQueues } from "../../scripts/chaos/worker.js";
import { testEnv } from "../helpers/temporal.js";
import { until } from "../helpers/until.js";
import { FULL, SHORT, councilBox, councilSquad } from "../workflows/council.js";
import { cardStates, testPlan, uniqueBacklogId } from "../workflows/fakes.js";

const workers: ChaosWorkerProcess[] = [];
afterEach(async () => {
  for (const w of workers.splice(0)) {
    await w.stop();
    await w.close();
  }
});

describe("a council whose worker process is SIGKILLed mid-council", () => {
  it("is finished by a new worker process, each proposal generated exactly once", { timeout: 180_000 }, async () => {
    const { box, count } = await councilBox();
    const { client, address, namespace, bundlePath } = await testEnv();
    const backlogId = uniqueBacklogId("council-kill");
    const workspacesRoot = join(box.dir, "state", "workspaces");
    const squad = councilSquad(box, {
      alpha: { PROPOSAL: FULL },
      beta: { PROPOSAL: SHORT },
      gamma: { PROPOSAL: FULL, HOLD: "propose" },
    });
    // The worker process's project root is squadflow's: the agents' script by its absolute path.
    for (const a of Object.values(squad.agents)) a.args = [join(box.base, "council.mjs")];
    const plan = testPlan(backlogId, [{ id: "K" }], 1, squad);
    const queuePrefix = `council-kill-${backlogId}`;
    const queues = chaosTaskQueues(queuePrefix);
    const worker = (n: number) => {
      const w = new ChaosWorkerProcess({
        address,
        namespace,
        queuePrefix,
        workspacesRoot,
        bundlePath,
        logFile: join(box.dir, `worker-${n}.log`),
      });
      workers.push(w);
      return w;
    };

    const first = worker(1);
    await first.start();
    const handle = await client.workflow.start(backlogWorkflow, {
      taskQueue: queues.orchestration,
      workflowId: backlogId,
      args: [
        {
          backlogId,
          cards: plan.cards,
          done: plan.done,
          queues: { owners: queues.owners, validation: queues.validation, debugging: queues.debugging },
          source: { file: "council-kill.json", metadata: {}, legacyCards: [] },
        },
      ],
      priority: { priorityKey: COORDINATOR_PRIORITY_KEY },
    });

    // The known state: alpha's and beta's proposal runs have ended (their owner records are written, the
    // last thing a run does) and gamma is held in its proposal.
    const recorded = (agent: string) =>
      stat(ownerRecordPath(workspacesRoot, proposalWorkspace(backlogId, "K", 1, agent))).then(
        () => true,
        () => false,
      );
    await until(
      "alpha and beta to propose while gamma is held",
      async () =>
        (await recorded("alpha")) && (await recorded("beta")) && (await count("gamma", "propose", "started")) === 1
          ? true
          : undefined,
      60_000,
    );
    await first.kill();

    const second = worker(2);
    await second.start();
    await writeFile(join(box.dir, "counts", "gamma.release"), "");
    const result: BacklogState = await handle.result();

    expect(result.cards.map((c) => c.outcome?.status)).toEqual(["DONE"]);
    const council = (await cardStates(client, result))[0]!.attempts[0]!.council!;
    expect(council.proposals.map((p) => [p.agent, p.failed])).toEqual([
      ["alpha", undefined],
      ["beta", undefined],
      ["gamma", undefined],
    ]);
    // Each proposal was generated once: alpha's and beta's runs were not started again; gamma's run died
    // with the first worker (before it wrote anything) and was run once more by the second.
    for (const name of ["alpha", "beta", "gamma"]) expect(await count(name, "propose", "done")).toBe(1);
    for (const name of ["alpha", "beta"]) expect(await count(name, "propose", "started")).toBe(1);
    expect(await count("gamma", "propose", "started")).toBe(2);
    expect(
      council.runs
        .filter((r) => r.step === "proposal" && r.ok)
        .map((r) => r.agent)
        .sort(),
    ).toEqual(["alpha", "beta", "gamma"]);
    expect(council.winner).toBe("alpha");
  });
});
