import { defaultPayloadConverter } from "@temporalio/common";
import type { WorkflowHandle } from "@temporalio/client";
import { describe, expect, it } from "vitest";
import { startBacklog } from "../../src/cli/backlogs.js";
import { withRepository, type BacklogPlan, type PageLimits } from "../../src/domain/index.js";
import { humanReviewUpdate } from "../../src/workflows/card.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import { until } from "../helpers/until.js";
import {
  fakeActivities,
  fakeRepositoryActivities,
  gate,
  testPlan,
  uniqueBacklogId,
  waitForStatus,
  type CardScript,
  type TestCard,
} from "./fakes.js";

/** The card's current details, as the Temporal UI reads them (the SDK's built-in metadata query). */
async function currentDetails(handle: WorkflowHandle): Promise<string> {
  const metadata = await handle.query<{ currentDetails?: string }>("__temporal_workflow_metadata");
  return metadata.currentDetails ?? "";
}

/** Waits until the card's current details contain every one of `parts`; resolves with them. */
function detailsShowing(handle: WorkflowHandle, ...parts: string[]): Promise<string> {
  return until(`current details of ${handle.workflowId} to show ${parts.join(", ")}`, async () => {
    const details = await currentDetails(handle);
    return parts.every((p) => details.includes(p)) ? details : undefined;
  });
}

/** The summaries on a workflow's scheduled activity tasks, in history order. */
async function activitySummaries(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  return history.events!.flatMap((e) => {
    const summary = e.activityTaskScheduledEventAttributes ? e.userMetadata?.summary : undefined;
    return summary ? [defaultPayloadConverter.fromPayload<string>(summary)] : [];
  });
}

/** Starts a backlog the way `squadflow start` does (static metadata included), every queue on one test queue. */
async function start(
  cards: TestCard[],
  scripts: Record<string, CardScript>,
  planned: (plan: BacklogPlan) => BacklogPlan = (p) => p,
  pages?: PageLimits,
) {
  const { client } = await testEnv();
  const taskQueue = uniqueTaskQueue("ui");
  const activities = { ...fakeActivities(scripts).activities, ...fakeRepositoryActivities().activities };
  const worker = await createTestWorker({ taskQueue, activities });
  const backlogId = uniqueBacklogId("ui");
  const plan = planned(testPlan(backlogId, cards));
  const queues = { orchestration: taskQueue, owners: taskQueue, validation: taskQueue, debugging: taskQueue };
  // Started without waiting: a paged start returns once every page's cards have started.
  const started = startBacklog(client, plan, "backlogs/ui.json", queues, pages ? { pages } : {});
  if (!pages) await started;
  const card = (id: string) => client.workflow.getHandle(`${backlogId}/${id}`);
  return { client, worker, backlogId, handle: client.workflow.getHandle(backlogId), card, started };
}

describe("Temporal UI metadata", () => {
  it("gives the backlog, its cards and their corrections a static summary, and every activity a summary", async () => {
    const a = gate();
    const { worker, backlogId, handle, card } = await start(
      [{ id: "A" }, { id: "B", dependencies: ["A"], priority: "HIGH" }],
      {
        A: { hold: a.hold, judge: [['criterion "has intro" not met'], "pass"] },
      },
    );
    await worker.runUntil(async () => {
      const backlog = await handle.describe();
      expect(await backlog.staticSummary()).toBe(`${backlogId} · 2 cards · isolated workspaces`);
      expect(await backlog.staticDetails()).toContain("**Backlog file:** backlogs/ui.json");

      // B waits for A, whose owner is held: its details say so.
      await waitForStatus(card("B"), "TODO");
      const b = await card("B").describe();
      expect(await b.staticSummary()).toBe("B · Card B · DOC");
      expect(await b.staticDetails()).toBe("**Priority:** HIGH · **Owner:** writer\n**Dependencies:** A");
      expect(await detailsShowing(card("B"), "**Status:** TODO")).toContain("**Waits for:** dependencies A");
      expect(await detailsShowing(handle, "**Cards:** 2 — RUNNING 2")).toContain("**Cost of ended cards:** $0");

      await waitForStatus(card("A"), "IN_PROGRESS");
      expect(await detailsShowing(card("A"), "**Status:** IN_PROGRESS · attempt 1")).toContain(
        "**Waits for:** the owner agent",
      );
      a.release();
      await handle.result();

      // A's first attempt was rejected by the judge and corrected in a child workflow.
      expect(await activitySummaries(card("A"))).toEqual([
        "owner writer, attempt 1",
        "verify artifacts",
        "judge rubric (1 criteria)",
        "QA: no checks",
      ]);
      const correction = card("A-CORR-1");
      expect(await (await correction.describe()).staticSummary()).toBe("A · Card A · DOC · correction 1");
      expect(await activitySummaries(correction)).toEqual([
        "owner writer, attempt 2",
        "verify artifacts",
        "judge rubric (1 criteria)",
        "QA: no checks",
      ]);
      const done = await currentDetails(card("A"));
      expect(done).toContain("**Status:** DONE · attempt 2 · 1 correction");
      expect(done).toContain("**Last verdict (attempt 2):** passed — verification ✓; llm_judge 9 ✓; qa ✓");
      expect(done).not.toContain("Waits for");
      expect(await currentDetails(handle)).toBe("**Cards:** 2 — DONE 2\n**Cost of ended cards:** $0.03");
    });
  });

  it("keeps an escalated card's current details up to date: the failed verdict and the human review it waits for", async () => {
    const { worker, handle, card } = await start([{ id: "E" }], { E: { judge: [['criterion "has intro" not met']] } });
    await worker.runUntil(async () => {
      await waitForStatus(card("E"), "AWAITING_HUMAN");
      const details = await detailsShowing(card("E"), "**Status:** AWAITING_HUMAN");
      expect(details).toContain("**Status:** AWAITING_HUMAN · attempt 4 · 3 corrections");
      expect(details).toContain(
        '**Last verdict (attempt 4):** failed — verification ✓; llm_judge 5 ✗ — criterion "has intro" not met; qa ✓',
      );
      expect(details).toContain("**Waits for:** a human review (approve, reject or clarify)");
      expect(await activitySummaries(card("E"))).toContain("debug E before attempt 3");

      await card("E").executeUpdate(humanReviewUpdate, {
        args: [{ decision: "reject", reviewer: "ana", reason: "out of scope" }],
      });
      expect(await detailsShowing(card("E"), "**Status:** REJECTED")).toContain(
        "**Waits for:** a correction, or `retry` / `skip`",
      );
      // The rejected card rests; cancelling the backlog ends it (and its card).
      await handle.cancel();
      await expect(handle.result()).rejects.toThrow();
    });
  });

  it("names the repository work: the backlog delivers into a repository, each card merges once, the backlog cleans up and pushes", async () => {
    let branch = "";
    const { worker, handle, card } = await start([{ id: "R" }], {}, (plan) => {
      branch = `squadflow/${plan.backlogId}`;
      return withRepository(plan, {
        path: "/srv/repo",
        baseBranch: "main",
        integrationBranch: branch,
        push: { remote: "origin" },
      });
    });
    await worker.runUntil(async () => {
      await handle.result();
      expect(await (await handle.describe()).staticSummary()).toMatch(new RegExp(`· 1 card · /srv/repo → ${branch}$`));
      expect(await activitySummaries(card("R"))).toContain(`merge R attempt 1 into ${branch}`);
      expect(await activitySummaries(handle)).toEqual([
        `clean up ${branch}: worktrees, attempt branches`,
        `push ${branch} to origin`,
      ]);
    });
  });

  it("names a paged backlog's shards and shows the backlog's progress over its pages", async () => {
    const hold = gate();
    const { worker, backlogId, handle, client, started } = await start(
      [{ id: "P1" }, { id: "P2", dependencies: ["P1"] }, { id: "P3", dependencies: ["P1"] }],
      { P1: { hold: hold.hold } },
      undefined,
      { maxCards: 2 },
    );
    await worker.runUntil(async () => {
      await started;
      const shard = client.workflow.getHandle(`${backlogId}/~shard-1`);
      expect(await (await shard.describe()).staticSummary()).toBe(`${backlogId} · page 1 · 2 cards`);
      expect(await (await handle.describe()).staticDetails()).toContain(
        "**Pages:** 2 (one backlog shard workflow each)",
      );
      // Pages start dependents first: page 1 holds P2 and P3, which wait for P1 (page 2), whose owner is held.
      expect(await detailsShowing(handle, "**Cards:** 3 — RUNNING 3")).not.toContain("Paused");
      expect(await detailsShowing(shard, "**Cards:** 2 — RUNNING 2")).toBeTruthy();
      hold.release();
      await handle.result();
      expect(await currentDetails(handle)).toBe("**Cards:** 3 — DONE 3\n**Cost of ended cards:** $0.03");
    });
  });
});
