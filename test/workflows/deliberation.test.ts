/**
 * Councils (issue 12) end to end through the workflows on the dev server with the real activities: real
 * `command` agents (each writing its own proposal into its own worktree), real git, the real rubric scorer
 * and QA checks. Side effects are counted in files the agents append to, so "ran once" is what happened.
 */
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { defaultPayloadConverter } from "@temporalio/common";
import { describe, expect, it } from "vitest";
import type { BacklogState } from "../../src/workflows/backlog.js";
import { ownerRecordPath } from "../../src/activities/owner.js";
import { proposalWorkspace } from "../../src/domain/index.js";
import { renderCouncil } from "../../src/cli/history.js";
import {
  boxActivities,
  extraWorktrees,
  git,
  repoPlan,
  sandbox,
  startBacklog,
  type Box,
} from "../helpers/repository.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import { until } from "../helpers/until.js";
import { cardStates, startBacklogWorkflow, testPlan, uniqueBacklogId, waitForStatus } from "./fakes.js";

/**
 * A council agent: by `council.step` it proposes (writes `design.md` from $PROPOSAL), critiques (its
 * summary), revises (adds a Rollback plan section) or chooses ($CHOOSE); without a council it is a plain
 * owner writing $PROPOSAL. $CRASH=<step> makes it exit 3 at that step; $HOLD=<step> makes it wait there for
 * `<COUNT_DIR>/<name>.release`. Every start and every finished step is appended to `<COUNT_DIR>/<name>.<step>.*`.
 * It reports `design.md` as its artifact when it wrote it, and $USD as the cost of each run — at most the
 * run's `budget_usd`, which it appends to `<COUNT_DIR>/<name>.<step>.budget`.
 */
const COUNCIL_AGENT = `
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
const input = JSON.parse(readFileSync(0, 'utf8'));
const me = process.env.AGENT_NAME;
const dir = process.env.COUNT_DIR;
const step = input.council ? input.council.step : 'own';
const mark = (what) => appendFileSync(dir + '/' + me + '.' + step + '.' + what, '1\\n');
mark('started');
if (process.env.HOLD === step) {
  await new Promise((r) => { const t = setInterval(() => { if (existsSync(dir + '/' + me + '.release')) { clearInterval(t); r(); } }, 50); });
}
if (process.env.CRASH === step || process.env.CRASH === 'always') { console.error(me + ' crashes at ' + step); process.exit(3); }
let summary = '';
if (step === 'propose' || step === 'own') { writeFileSync('design.md', process.env.PROPOSAL); summary = me + ' proposes its design'; }
else if (step === 'critique') { summary = me + ': the proposal of ' + input.council.of + ' has no Rollback plan'; }
else if (step === 'revise') { appendFileSync('design.md', '\\n## Rollback plan\\nRevert the merge.\\n'); summary = me + ' revised: ' + input.feedback.reasons.join(' | '); }
else if (step === 'choose') { summary = JSON.stringify({ winner: process.env.CHOOSE, rationale: 'its design is the most complete' }); }
mark('done');
// It honours its budget as Claude Code's --max-budget-usd does: it spends $USD, or its budget_usd when that is less.
const usd = process.env.USD ? Math.min(Number(process.env.USD), input.budget_usd ?? Infinity) : undefined;
if (process.env.USD) appendFileSync(dir + '/' + me + '.' + step + '.budget', String(input.budget_usd) + '\\n');
const usage = usd !== undefined ? { input_tokens: 100, output_tokens: 50, cost_usd: usd } : undefined;
console.log(JSON.stringify({ artifacts: ['propose', 'revise', 'own'].includes(step) ? ['design.md'] : [], summary, ...(usage && { usage }) }));
`;

const FULL = "# Design\n\n## Intro\nalpha: one service.\n\n## Details\nalpha: the endpoints.\n";
const SHORT = "# Design\n\n## Intro\nbeta: two services.\n";

function agent(box: Box, name: string, env: Record<string, string>) {
  return {
    kind: "command",
    command: "node",
    args: ["./council.mjs"],
    env: { AGENT_NAME: name, COUNT_DIR: join(box.dir, "counts"), ...env },
  };
}

/** A DOC card type whose cards deliberate: `agents` propose, one round, a rubric scorer, a QA check for a Details section. */
function councilSquad(
  box: Box,
  agents: Record<string, Record<string, string>>,
  architect = "top-score",
  others: Record<string, Record<string, string>> = {},
) {
  return {
    agents: {
      ...Object.fromEntries(
        Object.entries({ ...agents, ...others }).map(([name, env]) => [name, agent(box, name, env)]),
      ),
      writer: agent(box, "writer", { PROPOSAL: FULL }),
    },
    card_types: {
      DOC: {
        owner: "writer",
        judge: {
          kind: "rubric",
          criteria: [{ name: "has intro", check: { type: "section", heading: "Intro", file: "design.md" } }],
        },
        qa: { checks: [{ name: "details", command: "grep", args: ["-q", "## Details", "design.md"] }] },
        deliberation: {
          agents: Object.keys(agents),
          rounds: 1,
          scorer: {
            kind: "rubric",
            criteria: [
              { name: "Intro", check: { type: "section", heading: "Intro", file: "design.md" } },
              { name: "Details", weight: 2, check: { type: "section", heading: "Details", file: "design.md" } },
              { name: "Rollback plan", check: { type: "section", heading: "Rollback plan", file: "design.md" } },
            ],
          },
          architect,
          top_k: 2,
          default: true,
        },
      },
    },
  };
}

/** A worker with the real activities on `taskQueue` (a fresh one by default), the sandbox's state dirs. */
async function councilWorker(box: Box, taskQueue = uniqueTaskQueue("council")) {
  return { worker: await createTestWorker({ taskQueue, activities: boxActivities(box) }), taskQueue };
}

async function councilBox() {
  const box = await sandbox();
  await writeFile(join(box.base, "council.mjs"), COUNCIL_AGENT);
  await mkdir(join(box.dir, "counts"));
  const count = (name: string, step: string, what: "started" | "done") =>
    readFile(join(box.dir, "counts", `${name}.${step}.${what}`), "utf8").then(
      (t) => t.split("\n").filter(Boolean).length,
      () => 0,
    );
  return { box, count };
}

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
