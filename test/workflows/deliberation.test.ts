/**
 * Councils (issue 12) end to end through the workflows on the dev server with the real activities: real
 * `command` agents (each writing its own proposal into its own worktree), real git, the real rubric scorer
 * and QA checks. Side effects are counted in files the agents append to, so "ran once" is what happened.
 */
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { defaultPayloadConverter } from "@temporalio/common";
import { describe, expect, it } from "vitest";
import type { BacklogState } from "../../src/workflows/backlog.js";
import { ownerRecordPath } from "../../src/activities/owner.js";
import { proposalWorkspace } from "../../src/domain/index.js";
import { renderCouncil } from "../../src/cli/history.js";
import { extraWorktrees, git, repoPlan, startBacklog } from "../helpers/repository.js";
import { testEnv } from "../helpers/temporal.js";
import { until } from "../helpers/until.js";
import { cardStates, startBacklogWorkflow, testPlan, uniqueBacklogId, waitForStatus } from "./fakes.js";
import { FULL, SHORT, councilBox, councilSquad, councilWorker } from "./council.js";

describe("a council", () => {
  it("of three agents, one crashing, critiques, revises, scores and merges the winner; the others stay candidates with scores and ranks", async () => {
    const { box, count } = await councilBox();
    const backlogId = uniqueBacklogId("council");
    const plan = await repoPlan(
      box,
      backlogId,
      [{ id: "D" }],
      councilSquad(
        box,
        {
          alpha: { PROPOSAL: FULL },
          beta: { PROPOSAL: SHORT },
          gamma: { PROPOSAL: FULL, CRASH: "propose" },
        },
        "judge",
        { judge: { CHOOSE: "beta", PROPOSAL: "" } },
      ),
    );
    // The architect ("judge") picks beta, though alpha scored higher: the architect decides among the top k.
    const { worker, taskQueue } = await councilWorker(box);
    const handle = await startBacklog(taskQueue, plan);
    const result: BacklogState = await worker.runUntil(handle.result());

    expect(result.cards.map((c) => [c.cardId, c.outcome?.status])).toEqual([["D", "DONE"]]);
    const state = (await cardStates((await testEnv()).client, result))[0]!;
    const attempt = state.attempts[0]!;
    const council = attempt.council!;
    expect(council.workflowId).toBe(`${backlogId}/D-DELIB-1`);
    expect(council.winner).toBe("beta");
    expect(council.rationale).toBe("judge: its design is the most complete");
    const byAgent = Object.fromEntries(council.proposals.map((p) => [p.agent, p]));
    // alpha: Intro + Details + Rollback plan after its revision, its check passes; beta lacks Details (-2 of 4, and its check fails).
    expect(byAgent.alpha).toMatchObject({ score: 10, rank: 1, checks: { passed: true } });
    expect(byAgent.beta).toMatchObject({ score: 0, rank: 2, checks: { passed: false } });
    expect(byAgent.gamma!.failed).toMatch(/gamma crashes at propose/);
    expect(byAgent.gamma!.rank).toBeUndefined();
    // Each live agent critiqued the other and revised its own with the critique it received.
    expect(byAgent.alpha!.critiques).toEqual([
      { round: 1, by: "beta", text: "beta: the proposal of alpha has no Rollback plan" },
    ]);
    expect(byAgent.beta!.critiques).toEqual([
      { round: 1, by: "alpha", text: "alpha: the proposal of beta has no Rollback plan" },
    ]);
    expect(byAgent.beta!.revisions).toEqual([
      {
        round: 1,
        summary: "beta revised: critique by alpha: alpha: the proposal of beta has no Rollback plan",
        branch: `squadflow-attempts/${backlogId}/D/attempt-1/beta-r1`,
      },
    ]);
    // The winner's revised branch is the attempt's; the others are candidates.
    expect(attempt.git?.branch).toBe(`squadflow-attempts/${backlogId}/D/attempt-1/beta-r1`);
    expect(attempt.agentName).toBe("beta");
    expect(council.candidates).toEqual([
      {
        agent: "alpha",
        branch: `squadflow-attempts/${backlogId}/D/attempt-1/alpha-r1`,
        workspace: `${backlogId}/D/attempt-1/alpha-r1`,
        score: 10,
        rank: 1,
        checks: { passed: true, reasons: [] },
      },
      {
        agent: "gamma",
        workspace: `${backlogId}/D/attempt-1/gamma`,
        failed: expect.stringMatching(/gamma crashes at propose/),
      },
    ]);
    // beta's proposal then went through validation: its QA check fails there too, so a correction by the
    // type's owner (writer) follows on beta's branch, and that is merged.
    expect(attempt.verdicts.find((v) => v.validator === "qa")?.passed).toBe(false);
    expect(state.attempts).toHaveLength(2);
    expect(state.attempts[1]!.council).toBeUndefined();
    const merged = await git(box.repo, "show", `squadflow/${backlogId}:design.md`);
    expect(merged).toContain("alpha: one service.");
    // Costs per step and agent; every proposal and revision ran once (gamma: its three tries, no success).
    expect(council.runs.map((r) => `${r.step}:${r.agent}:${r.ok}`).sort()).toEqual([
      "architect:judge:true",
      "checks:alpha:true",
      "checks:beta:false",
      "critique:alpha:true",
      "critique:beta:true",
      "proposal:alpha:true",
      "proposal:beta:true",
      "proposal:gamma:false",
      "revision:alpha:true",
      "revision:beta:true",
      "score:alpha:true",
      "score:beta:true",
    ]);
    for (const name of ["alpha", "beta"]) {
      expect(await count(name, "propose", "done")).toBe(1);
      expect(await count(name, "critique", "done")).toBe(1);
      expect(await count(name, "revise", "done")).toBe(1);
    }
    expect(await count("gamma", "propose", "done")).toBe(0);
    expect(await count("gamma", "propose", "started")).toBe(3);
    expect(await count("judge", "choose", "done")).toBe(1);
    expect(await extraWorktrees(box.repo)).toEqual([]);
    // `squadflow history` shows the council: proposals, critiques, revisions, scores, the rationale.
    const shown = renderCouncil(council).join("\n");
    expect(shown).toContain(`council ${backlogId}/D-DELIB-1 · alpha, beta, gamma · 1 round · architect judge (top 2)`);
    expect(shown).toMatch(/· alpha: score 10\.00 · rank 1 · checks passed · squadflow-attempts\/.*\/alpha-r1/);
    expect(shown).toMatch(/★ beta: score 0\.00 · rank 2 · checks failed \(check "details" failed: exit 1\)/);
    expect(shown).toContain("critique by alpha (round 1): alpha: the proposal of beta has no Rollback plan");
    expect(shown).toContain("revision (round 1): beta revised:");
    expect(shown).toMatch(/✗ gamma: left the council: .*gamma crashes at propose/);
    expect(shown).toContain("winner beta: judge: its design is the most complete");
  });

  it("with every agent failing is an owner failure, which a correction by the type’s owner then repairs", async () => {
    const { box, count } = await councilBox();
    const backlogId = uniqueBacklogId("council-fail");
    const plan = await repoPlan(
      box,
      backlogId,
      [{ id: "F" }],
      councilSquad(box, {
        alpha: { PROPOSAL: FULL, CRASH: "always" },
        beta: { PROPOSAL: FULL, CRASH: "always" },
      }),
    );
    const { worker, taskQueue } = await councilWorker(box);
    const handle = await startBacklog(taskQueue, plan);
    const result: BacklogState = await worker.runUntil(handle.result());
    expect(result.cards.map((c) => c.outcome?.status)).toEqual(["DONE"]);
    const state = (await cardStates((await testEnv()).client, result))[0]!;
    const first = state.attempts[0]!;
    expect(first.passed).toBe(false);
    expect(first.verdicts).toEqual([
      expect.objectContaining({
        validator: "owner",
        passed: false,
        reasons: [
          expect.stringMatching(
            /^Owner execution failed: council of 2 agents left no proposal \(alpha: .*crashes at propose.*; beta: .*\)/,
          ),
        ],
      }),
    ]);
    expect(first.council?.winner).toBeUndefined();
    expect(first.council?.candidates.map((c) => c.agent)).toEqual(["alpha", "beta"]);
    expect(state.attempts[1]!.agentName).toBeUndefined();
    expect(await count("writer", "own", "done")).toBe(1);
    expect(await git(box.repo, "show", `squadflow/${backlogId}:design.md`)).toContain("alpha: the endpoints.");
  });

  it("resumes after its worker was replaced mid-council: every proposal ran to its end exactly once", async () => {
    const { box, count } = await councilBox();
    const backlogId = uniqueBacklogId("council-resume");
    const plan = await repoPlan(
      box,
      backlogId,
      [{ id: "R" }],
      councilSquad(box, {
        alpha: { PROPOSAL: FULL },
        beta: { PROPOSAL: SHORT },
        gamma: { PROPOSAL: FULL, HOLD: "propose" },
      }),
    );
    const first = await councilWorker(box);
    const handle = await startBacklog(first.taskQueue, plan);
    const { client } = await testEnv();
    // The first worker runs until alpha's and beta's proposal runs have ended (their owner records are
    // written, the last thing a run does) and gamma is held in its proposal, then stops.
    const recorded = (agent: string) =>
      stat(ownerRecordPath(join(box.dir, "state", "worktrees"), proposalWorkspace(backlogId, "R", 1, agent))).then(
        () => true,
        () => false,
      );
    await first.worker.runUntil(
      until("alpha and beta to propose while gamma is held", async () =>
        (await recorded("alpha")) && (await recorded("beta")) && (await count("gamma", "propose", "started")) === 1
          ? true
          : undefined,
      ),
    );
    // A new worker on the same task queue takes over with nothing but Temporal's history.
    const second = await councilWorker(box, first.taskQueue);
    const result: BacklogState = await second.worker.runUntil(async () => {
      await writeFile(join(box.dir, "counts", "gamma.release"), "");
      return handle.result();
    });
    expect(result.cards.map((c) => c.outcome?.status)).toEqual(["DONE"]);
    const state = (await cardStates(client, result))[0]!;
    const council = state.attempts[0]!.council!;
    expect(council.proposals.map((p) => [p.agent, p.failed])).toEqual([
      ["alpha", undefined],
      ["beta", undefined],
      ["gamma", undefined],
    ]);
    for (const name of ["alpha", "beta", "gamma"]) expect(await count(name, "propose", "done")).toBe(1);
    for (const name of ["alpha", "beta"]) expect(await count(name, "propose", "started")).toBe(1);
    // gamma's run was stopped with the first worker and started once more by the second.
    expect(await count("gamma", "propose", "started")).toBe(2);
    expect(council.winner).toBe("alpha");
  });

  it("without a repository works in a workspace per proposal and revision, and validates the winner’s", async () => {
    const { box, count } = await councilBox();
    const backlogId = uniqueBacklogId("council-ws");
    const plan = testPlan(
      backlogId,
      [{ id: "W" }],
      1,
      councilSquad(box, { alpha: { PROPOSAL: FULL }, beta: { PROPOSAL: SHORT } }),
    );
    const { worker, taskQueue } = await councilWorker(box);
    const { client } = await testEnv();
    const handle = await startBacklogWorkflow(client, taskQueue, plan);
    const result: BacklogState = await worker.runUntil(handle.result());
    expect(result.cards.map((c) => c.outcome?.status)).toEqual(["DONE"]);
    const attempt = (await cardStates(client, result))[0]!.attempts[0]!;
    expect(attempt.passed).toBe(true);
    expect(attempt.council?.winner).toBe("alpha");
    expect(attempt.council?.proposals.map((p) => [p.agent, p.score, p.rank])).toEqual([
      ["alpha", 10, 1],
      ["beta", 0, 2],
    ]);
    // The revision reworked a copy of the proposal: the winner's final workspace has both.
    expect(attempt.workspace).toBe(`${backlogId}/W/attempt-1/alpha-r1`);
    expect(attempt.artifacts).toEqual(["design.md"]);
    const text = await readFile(join(box.dir, "state", "workspaces", attempt.workspace, "design.md"), "utf8");
    expect(text).toContain("alpha: the endpoints.");
    expect(text).toContain("## Rollback plan");
    for (const name of ["alpha", "beta"]) expect(await count(name, "revise", "done")).toBe(1);
    // The Temporal UI names the council and each of its steps.
    const council = client.workflow.getHandle(`${backlogId}/W-DELIB-1`);
    expect(await (await council.describe()).staticSummary()).toBe("council of alpha, beta for W, attempt 1");
    const summaries = (await council.fetchHistory()).events!.flatMap((e) =>
      e.activityTaskScheduledEventAttributes && e.userMetadata?.summary
        ? [defaultPayloadConverter.fromPayload<string>(e.userMetadata.summary)]
        : [],
    );
    expect(summaries.sort()).toEqual([
      "QA of alpha's proposal",
      "QA of beta's proposal",
      "critique by alpha of beta, round 1",
      "critique by beta of alpha, round 1",
      "proposal by alpha",
      "proposal by beta",
      "revision by alpha, round 1",
      "revision by beta, round 1",
      "score of alpha's proposal",
      "score of beta's proposal",
    ]);
  });

  it("shares the budget left among parallel proposals, so that together they stay within the card budget; critiques that would pass it do not start, and the card escalates", async () => {
    const { box } = await councilBox();
    const backlogId = uniqueBacklogId("council-budget");
    const plan = testPlan(
      backlogId,
      [{ id: "B", budget_usd: 0.5 }],
      10,
      councilSquad(box, { alpha: { PROPOSAL: FULL, USD: "0.3" }, beta: { PROPOSAL: SHORT, USD: "0.3" } }),
    );
    const { worker, taskQueue } = await councilWorker(box);
    const { client } = await testEnv();
    const handle = await startBacklogWorkflow(client, taskQueue, plan);
    const state = await worker.runUntil(async () => {
      const s = await waitForStatus(client.workflow.getHandle(`${backlogId}/B`), "AWAITING_HUMAN");
      await handle.terminate("test done");
      return s;
    });
    const attempt = state.attempts[0]!;
    const council = attempt.council!;
    // Both proposals started with nothing spent: each was capped at half of the $0.50 left, and would have
    // spent $0.30 without the cap. (Runs are recorded as they end: sorted by agent here.)
    const budgetOf = (name: string) => readFile(join(box.dir, "counts", `${name}.propose.budget`), "utf8");
    expect([await budgetOf("alpha"), await budgetOf("beta")]).toEqual(["0.25\n", "0.25\n"]);
    const byAgent = (a: { agent: string }, b: { agent: string }) => a.agent.localeCompare(b.agent);
    expect(
      council.runs
        .filter((r) => r.step === "proposal")
        .sort(byAgent)
        .map((r) => [r.agent, r.ok, r.cost.usd]),
    ).toEqual([
      ["alpha", true, 0.25],
      ["beta", true, 0.25],
    ]);
    const critiques = council.runs.filter((r) => r.step === "critique").sort(byAgent);
    expect(critiques.map((r) => [r.agent, r.ok])).toEqual([
      ["alpha", false],
      ["beta", false],
    ]);
    for (const r of critiques) expect(r.error).toMatch(/^not started: card budget/);
    expect(council.runs.some((r) => r.step === "revision")).toBe(false);
    expect(council.cost.usd).toBe(0.5);
    expect(attempt.cost.usd).toBeLessThanOrEqual(0.5);
    expect(state.cost.usd).toBeLessThanOrEqual(0.5);
    expect(attempt.budgetStop).toMatch(/card budget/);
  });

  it("falls back to the best score, saying why, when the architect names no candidate", async () => {
    const { box } = await councilBox();
    const backlogId = uniqueBacklogId("council-architect");
    const plan = testPlan(
      backlogId,
      [{ id: "A" }],
      1,
      councilSquad(box, { alpha: { PROPOSAL: FULL }, beta: { PROPOSAL: SHORT } }, "judge", {
        judge: { CHOOSE: "nobody" },
      }),
    );
    const { worker, taskQueue } = await councilWorker(box);
    const { client } = await testEnv();
    const handle = await startBacklogWorkflow(client, taskQueue, plan);
    const result: BacklogState = await worker.runUntil(handle.result());
    const council = (await cardStates(client, result))[0]!.attempts[0]!.council!;
    expect(council.winner).toBe("alpha");
    expect(council.rationale).toMatch(
      /^architect judge gave no valid answer \(.*answer names "nobody", which is not a candidate \(alpha, beta\)\); alpha has the best score, 10\/10/,
    );
    expect(council.runs.find((r) => r.step === "architect")).toMatchObject({ agent: "judge", ok: false });
  });

  it("is cancelled with its card: the council workflow ends CANCELLED, the held proposal never completes, no worktree is left", async () => {
    const { box, count } = await councilBox();
    const backlogId = uniqueBacklogId("council-cancel");
    const plan = await repoPlan(
      box,
      backlogId,
      [{ id: "K" }],
      councilSquad(box, { alpha: { PROPOSAL: FULL }, beta: { PROPOSAL: SHORT, HOLD: "propose" } }),
    );
    const { worker, taskQueue } = await councilWorker(box);
    const { client } = await testEnv();
    const handle = await startBacklog(taskQueue, plan);
    const result: BacklogState = await worker.runUntil(async () => {
      await until("beta to be held in its proposal", async () =>
        (await count("beta", "propose", "started")) === 1 ? true : undefined,
      );
      await client.workflow.getHandle(`${backlogId}/K`).cancel();
      return handle.result();
    });
    expect(result.cards.map((c) => c.outcome?.status)).toEqual(["CANCELLED"]);
    expect((await client.workflow.getHandle(`${backlogId}/K-DELIB-1`).describe()).status.name).toBe("CANCELLED");
    expect(await count("beta", "propose", "done")).toBe(0);
    expect(await extraWorktrees(box.repo)).toEqual([]);
    await writeFile(join(box.dir, "counts", "beta.release"), ""); // lets a surviving agent, if any, end
  });
});
