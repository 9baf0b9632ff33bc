/**
 * Records the event histories the replay test (test/workflows/replay.test.ts) replays: one run of every
 * workflow type through its interesting paths (correction, debugging, owner failure, escalation, human
 * reject then retry, a blocked dependent that runs later, skip, pause/resume, a paged backlog and one of
 * its shards, a card whose workflow was terminated and then retried in a new run, with a backlog budget
 * read before each run; a backlog delivering into a repository whose card's merge conflicts), on a throwaway dev server
 * with scripted activities.
 *
 * Re-record (`npm run record-histories`) only when a workflow change is meant to be incompatible and is
 * shipped with `patched()` or a new workflow type; otherwise a failing replay test is the point. A change
 * behind `patched()` keeps the recordings of the old path and adds its own: `-- --only repository|permission`
 * records just those (`council`: a deliberating card and its council; `peer-review-events`: reviews at the
 * owner's events and an owner's blocker); `-- --tag <name>` writes
 * `<fixture>.<name>.json` beside them (e.g. `--tag cards-relay`: cards that tell their dependents).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { Client, type WorkflowHandle } from "@temporalio/client";
import { Worker } from "@temporalio/worker";
import { startDevServer } from "../src/temporal/dev-server.js";
import { PROJECT_ROOT } from "../src/temporal/cli-path.js";
import { WORKFLOWS_PATH } from "../src/worker.js";
import { createReadBacklogBudget, createReadCardState } from "../src/activities/workflow-queries.js";
import { pauseBacklogUpdate, resumeBacklogUpdate, retryFailedCardUpdate } from "../src/workflows/backlog.js";
import { cardStateQuery, humanReviewUpdate, retryCardUpdate, skipCardUpdate } from "../src/workflows/card.js";
import { fakeActivities, fakeRepositoryActivities, startBacklogWorkflow, testPlan } from "../test/workflows/fakes.js";
import { startBacklog } from "../src/cli/backlogs.js";
import {
  correctionWorkflowId,
  integrationBranchName,
  shardWorkflowId,
  withRepository,
  type OwnerInput,
} from "../src/domain/index.js";
import type { ArchitectInput, ArchitectResult, CritiqueInput, CritiqueResult } from "../src/activities/deliberation.js";
import { ApplicationFailure } from "@temporalio/common";

const OUT = resolve(PROJECT_ROOT, "test", "fixtures", "histories");

/** `--tag <name>`: recordings of a new path, saved beside the older ones (see the module comment). */
const TAG = process.argv.includes("--tag") ? process.argv[process.argv.indexOf("--tag") + 1] : undefined;

/** A `command` agent of the recorded squads: `node ./<name>.mjs` (never run: the activities are fakes). */
function nodeAgent(name: string) {
  return { kind: "command", command: "node", args: [`./${name}.mjs`] };
}

/** The rubric judge of the recorded squads: the artifact has an "Intro" section. */
const INTRO_RUBRIC = {
  kind: "rubric",
  criteria: [{ name: "has intro", check: { type: "section", heading: "Intro" } }],
};

async function save(handle: WorkflowHandle, name: string): Promise<void> {
  const history = await handle.fetchHistory();
  // protobufjs JSON (`History.toJSON()`), read back with `History.fromObject` from @temporalio/proto.
  // Stack traces name this machine's paths: keep them relative to the project (replay ignores them).
  const text = JSON.stringify(history, null, 1)
    .split(PROJECT_ROOT + "/")
    .join("");
  const file = TAG ? `${name}.${TAG}.json` : `${name}.json`;
  await writeFile(resolve(OUT, file), text + "\n");
  console.log(`recorded ${file} (${history.events?.length ?? 0} events)`);
}

async function main(): Promise<void> {
  const server = await startDevServer({ port: 0, ui: false, dbFilename: null });
  try {
    // `-- --only repository`: only the repository backlog's histories (the others stay as recorded).
    if (process.argv.includes("--only")) {
      const only = process.argv[process.argv.indexOf("--only") + 1];
      if (only === "repository") await recordRepository(server);
      else if (only === "permission") await recordPermissionBlocker(server);
      else if (only === "peer-review") await recordPeerReview(server);
      else if (only === "council") await recordCouncil(server);
      else if (only === "peer-review-events") await recordPeerReviewAtEvents(server);
      else
        throw new Error(
          "usage: record-histories [--only repository|permission|peer-review|peer-review-events|council] [--tag <name>]",
        );
      return;
    }
    await recordRepository(server);
    await recordPermissionBlocker(server);
    await recordPeerReview(server);
    await recordPeerReviewAtEvents(server);
    await recordCouncil(server);
    const client = new Client({ connection: server.connection, namespace: server.namespace });
    const taskQueue = "record-histories";
    const { activities } = fakeActivities({
      SPEC: {},
      ARCH: { judge: [['criterion "Rollback plan" not met'], "pass"] },
      BE: {
        qa: [
          ['check "unit tests" failed: exit 1'],
          ['check "unit tests" failed: exit 1'],
          ['check "unit tests" failed: exit 1'],
          ['check "unit tests" failed: exit 1'],
          "pass",
        ],
      },
      FE: { owner: ["fail", "ok"] },
      QA: {},
      X: { ownerMs: 1500 },
    });
    const worker = await Worker.create({
      connection: server.nativeConnection,
      namespace: server.namespace,
      taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      activities: { ...activities, readBacklogBudget: createReadBacklogBudget(), readCardState: createReadCardState() },
    });
    const backlogId = "replay";
    const plan = testPlan(backlogId, [
      { id: "SPEC" },
      { id: "ARCH", dependencies: ["SPEC"] },
      { id: "BE", dependencies: ["ARCH"] },
      { id: "FE", dependencies: ["ARCH"] },
      { id: "QA", dependencies: ["BE", "FE"] },
      { id: "OLD", status: "DONE", artifacts: ["docs/brief.md"] },
      { id: "LATE", dependencies: ["QA", "OLD"] },
    ]);
    // A paged backlog too (pages of 2 cards): the backlog with its addCards updates, and a shard.
    const pagedId = "replay-paged";
    const paged = testPlan(pagedId, [
      { id: "A" },
      { id: "B", dependencies: ["A"] },
      { id: "C", dependencies: ["A"] },
      { id: "D", dependencies: ["B", "C"] },
    ]);
    // A backlog with a budget whose card X is terminated mid-owner (Y comes to rest BLOCKED), then retried.
    const failedId = "replay-failed";
    const failedPlan = testPlan(failedId, [{ id: "X" }, { id: "Y", dependencies: ["X"] }], 1, {
      budget: { per_backlog_usd: 1 },
    });
    await worker.runUntil(async () => {
      const handle = await startBacklogWorkflow(client, taskQueue, plan, "replay.json");
      const decide = { reviewer: "ana", reason: "recorded" };
      await handle.executeUpdate(pauseBacklogUpdate, { args: [decide] });
      await handle.executeUpdate(resumeBacklogUpdate, { args: [decide] });
      const until = (cardId: string, status: string) => cardInStatus(client, `${backlogId}/${cardId}`, status);
      // Skipped while waiting for its dependencies.
      await (await until("LATE", "TODO")).executeUpdate(skipCardUpdate, { args: [decide] });
      // Escalated, rejected by a human (QA comes to rest BLOCKED), then retried: QA waits again and runs.
      const be = await until("BE", "AWAITING_HUMAN");
      await be.executeUpdate(humanReviewUpdate, {
        args: [{ decision: "reject", reviewer: "ana", reason: "recorded" }],
      });
      await until("QA", "BLOCKED");
      await be.executeUpdate(retryCardUpdate, { args: [decide] });
      await handle.result();

      const queues = { orchestration: taskQueue, owners: taskQueue, validation: taskQueue, debugging: taskQueue };
      await startBacklog(client, paged, "replay-paged.json", queues, { pages: { maxCards: 2 } });
      const pagedHandle = client.workflow.getHandle(pagedId);
      await pagedHandle.executeUpdate(pauseBacklogUpdate, { args: [decide] });
      await pagedHandle.executeUpdate(resumeBacklogUpdate, { args: [decide] });
      await pagedHandle.result();

      const failedHandle = await startBacklogWorkflow(client, taskQueue, failedPlan, "replay-failed.json");
      const x = await cardInStatus(client, `${failedId}/X`, "IN_PROGRESS");
      await x.terminate("recorded");
      await cardInStatus(client, `${failedId}/Y`, "BLOCKED");
      await failedHandle.executeUpdate(retryFailedCardUpdate, { args: [{ cardId: "X", ...decide }] });
      await failedHandle.result();
    });
    await mkdir(OUT, { recursive: true });
    await save(client.workflow.getHandle(backlogId), "backlog");
    await save(client.workflow.getHandle(`${backlogId}/BE`), "card-escalated-rejected-retried");
    await save(client.workflow.getHandle(`${backlogId}/QA`), "card-blocked-then-ran");
    await save(client.workflow.getHandle(`${backlogId}/LATE`), "card-skipped");
    await save(client.workflow.getHandle(`${backlogId}/ARCH`), "card-corrected");
    await save(client.workflow.getHandle(`${backlogId}/FE`), "card-owner-failed");
    await save(client.workflow.getHandle(`${backlogId}/ARCH-CORR-1`), "correction");

    await save(client.workflow.getHandle(pagedId), "backlog-paged");
    await save(client.workflow.getHandle(shardWorkflowId(pagedId, 2)), "backlog-shard");
    await save(client.workflow.getHandle(failedId), "backlog-failed-card-retried");
    await save(client.workflow.getHandle(`${failedId}/X`), "card-restarted-after-failure");
  } finally {
    await server.stop();
  }
}

/**
 * A backlog delivering into a repository (issue 9), with scripted git: R1 merges at once; R2's first merge
 * conflicts (a rejection with a `merge` verdict), its correction merges; the backlog cleans up and pushes.
 */
async function recordRepository(server: Awaited<ReturnType<typeof startDevServer>>): Promise<void> {
  const client = new Client({ connection: server.connection, namespace: server.namespace });
  const taskQueue = "record-histories-repository";
  const { activities } = fakeActivities({});
  const repo = fakeRepositoryActivities({ R2: 1 });
  const worker = await Worker.create({
    connection: server.nativeConnection,
    namespace: server.namespace,
    taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    activities: { ...activities, ...repo.activities },
  });
  const backlogId = "replay-repo";
  const target = {
    path: "/srv/repo",
    baseBranch: "main",
    integrationBranch: integrationBranchName(backlogId),
    push: { remote: "origin" },
  };
  const plan = withRepository(testPlan(backlogId, [{ id: "R1" }, { id: "R2", dependencies: ["R1"] }]), target);
  await worker.runUntil(async () => {
    const handle = await startBacklogWorkflow(client, taskQueue, plan, "replay-repo.json");
    await handle.result();
  });
  await mkdir(OUT, { recursive: true });
  await save(client.workflow.getHandle(backlogId), "backlog-repository");
  await save(client.workflow.getHandle(`${backlogId}/R2`), "card-repository-merge-conflict");
  await save(client.workflow.getHandle(`${backlogId}/R2-CORR-1`), "correction-repository");
}

/**
 * A card whose owner is denied a tool outside its type's policy (issue 11): it escalates at once, a human
 * approves — granting the tool to the card — and the owner runs again with it, in a correction.
 */
async function recordPermissionBlocker(server: Awaited<ReturnType<typeof startDevServer>>): Promise<void> {
  const client = new Client({ connection: server.connection, namespace: server.namespace });
  const taskQueue = "record-histories-permission";
  const { activities } = fakeActivities({ P: { owner: ["denied"] } });
  const worker = await Worker.create({
    connection: server.nativeConnection,
    namespace: server.namespace,
    taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    activities,
  });
  const backlogId = "replay-permission";
  const plan = testPlan(backlogId, [{ id: "P" }]);
  await worker.runUntil(async () => {
    const handle = await startBacklogWorkflow(client, taskQueue, plan, "replay-permission.json");
    const p = await cardInStatus(client, `${backlogId}/P`, "AWAITING_HUMAN");
    await p.executeUpdate(humanReviewUpdate, { args: [{ decision: "approve", reviewer: "ana", reason: "recorded" }] });
    await handle.result();
  });
  await mkdir(OUT, { recursive: true });
  await save(client.workflow.getHandle(`${backlogId}/P`), "card-permission-blocker-approved");
  // The approved card's next attempt, whose owner is given the granted tools (patch owner-granted-tools).
  await save(client.workflow.getHandle(`${backlogId}/P-CORR-1`), "correction-permission-approved");
}

/**
 * A peer-reviewed card (issue 12, patch `peer-review`): two concerns on attempt 1 send it to a human, whose
 * clarify runs a correction; one concern on attempt 2 is a warning, and the card is DONE.
 */
async function recordPeerReview(server: Awaited<ReturnType<typeof startDevServer>>): Promise<void> {
  const client = new Client({ connection: server.connection, namespace: server.namespace });
  const taskQueue = "record-histories-peer-review";
  const { activities } = fakeActivities({
    R: {
      peer: [
        [
          { reviewer: "codex", verdict: "concern", comments: ["which currency?"] },
          { reviewer: "gemini", verdict: "concern", comments: ["rounding?"] },
        ],
        [
          { reviewer: "codex", verdict: "concern", comments: ["consider a cache"] },
          { reviewer: "gemini", verdict: "approve", comments: [] },
        ],
      ],
    },
  });
  const worker = await Worker.create({
    connection: server.nativeConnection,
    namespace: server.namespace,
    taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    activities,
  });
  const backlogId = "replay-peer-review";
  const plan = testPlan(backlogId, [{ id: "R" }], 1, {
    agents: { writer: nodeAgent("writer"), codex: nodeAgent("codex"), gemini: nodeAgent("gemini") },
    card_types: {
      DOC: {
        owner: "writer",
        judge: INTRO_RUBRIC,
        peer_review: { reviewers: ["codex", "gemini"] },
      },
    },
  });
  await worker.runUntil(async () => {
    const handle = await startBacklogWorkflow(client, taskQueue, plan, "replay-peer-review.json");
    const r = await cardInStatus(client, `${backlogId}/R`, "AWAITING_HUMAN");
    await r.executeUpdate(humanReviewUpdate, {
      args: [{ decision: "clarify", reviewer: "ana", reason: "recorded", context: "EUR, half up" }],
    });
    await handle.result();
  });
  await mkdir(OUT, { recursive: true });
  await save(client.workflow.getHandle(`${backlogId}/R`), "card-peer-review-clarified");
  await save(client.workflow.getHandle(correctionWorkflowId(backlogId, "R", 1)), "correction-peer-review");
}

/**
 * Reviews at the owner's events and the owner's own blocker (issue 12, patches `peer-review-at-events` and
 * `owner-blocker-escalates`): card E (`on_milestone`) signals a milestone while its owner is held; the review
 * finds a blocker, the owner is cancelled and the card awaits a human, whose clarify runs a correction
 * reviewed at its end (no event) and DONE. Card B's owner reports a blocker: escalated at once, approved.
 */
async function recordPeerReviewAtEvents(server: Awaited<ReturnType<typeof startDevServer>>): Promise<void> {
  const client = new Client({ connection: server.connection, namespace: server.namespace });
  const taskQueue = "record-histories-peer-review-events";
  const never = new Promise<void>(() => undefined);
  const { activities } = fakeActivities({
    E: {
      hold: never,
      signal: { before: [{ kind: "milestone", name: "schema written" }] },
      peerByCall: [
        [
          { reviewer: "codex", verdict: "blocker", comments: ["drops the orders table"] },
          { reviewer: "gemini", verdict: "approve", comments: [] },
        ],
        [
          { reviewer: "codex", verdict: "approve", comments: [] },
          { reviewer: "gemini", verdict: "approve", comments: [] },
        ],
      ],
    },
    B: { events: [{ kind: "blocker", name: "STRIPE_KEY is not set" }] },
  });
  const worker = await Worker.create({
    connection: server.nativeConnection,
    namespace: server.namespace,
    taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    activities,
  });
  const backlogId = "replay-peer-review-events";
  const judge = INTRO_RUBRIC;
  const plan = testPlan(
    backlogId,
    [
      { id: "E", type: "API" },
      { id: "B", type: "DOC" },
    ],
    1,
    {
      agents: { writer: nodeAgent("writer"), codex: nodeAgent("codex"), gemini: nodeAgent("gemini") },
      card_types: {
        API: { owner: "writer", judge, peer_review: { reviewers: ["codex", "gemini"], trigger: "on_milestone" } },
        DOC: { owner: "writer", judge },
      },
    },
  );
  await worker.runUntil(async () => {
    const handle = await startBacklogWorkflow(client, taskQueue, plan, "replay-peer-review-events.json");
    const e = await cardInStatus(client, `${backlogId}/E`, "AWAITING_HUMAN");
    await e.executeUpdate(humanReviewUpdate, {
      args: [{ decision: "clarify", reviewer: "ana", reason: "recorded", context: "keep the orders table" }],
    });
    const b = await cardInStatus(client, `${backlogId}/B`, "AWAITING_HUMAN");
    await b.executeUpdate(humanReviewUpdate, { args: [{ decision: "approve", reviewer: "ana", reason: "recorded" }] });
    await handle.result();
  });
  await mkdir(OUT, { recursive: true });
  await save(client.workflow.getHandle(`${backlogId}/E`), "card-peer-review-at-events");
  await save(client.workflow.getHandle(correctionWorkflowId(backlogId, "E", 1)), "correction-peer-review-at-events");
  await save(client.workflow.getHandle(`${backlogId}/B`), "card-owner-blocker");
}

/**
 * A card that deliberates (issue 12) in a repository, with scripted agents: alpha, beta and gamma propose
 * (gamma fails), alpha and beta critique each other and revise, both are scored, the architect picks beta;
 * beta's proposal passes validation and is merged.
 */
async function recordCouncil(server: Awaited<ReturnType<typeof startDevServer>>): Promise<void> {
  const client = new Client({ connection: server.connection, namespace: server.namespace });
  const taskQueue = "record-histories-council";
  const { activities } = fakeActivities({});
  const repo = fakeRepositoryActivities();
  const cost = { inputTokens: 10, outputTokens: 5, usd: 0.001 };
  const worker = await Worker.create({
    connection: server.nativeConnection,
    namespace: server.namespace,
    taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    activities: {
      ...activities,
      ...repo.activities,
      async runOwner(input: OwnerInput) {
        if (input.council?.agent === "gamma")
          throw ApplicationFailure.nonRetryable('agent "gamma" exited 3: boom', "AgentExitError");
        return activities.runOwner(input);
      },
      async critiqueProposal(input: CritiqueInput): Promise<CritiqueResult> {
        return { text: `${input.critic.name}: ${input.target.agent} lacks a rollback plan`, cost };
      },
      async askArchitect(input: ArchitectInput): Promise<ArchitectResult> {
        return { winner: input.candidates[input.candidates.length - 1]!.agent, rationale: "recorded", cost };
      },
    },
  });
  const backlogId = "replay-council";
  const agent = nodeAgent("agent");
  const rubric = INTRO_RUBRIC;
  const target = { path: "/srv/repo", baseBranch: "main", integrationBranch: integrationBranchName(backlogId) };
  const plan = withRepository(
    // A card budget: the parallel runs get their shares of it (patch council-budget-shares).
    testPlan(backlogId, [{ id: "C", budget_usd: 1 }], 1, {
      agents: { writer: agent, alpha: agent, beta: agent, gamma: agent },
      card_types: {
        DOC: {
          owner: "writer",
          judge: rubric,
          deliberation: { agents: ["alpha", "beta", "gamma"], scorer: rubric, architect: "writer", default: true },
        },
      },
    }),
    target,
  );
  await worker.runUntil(async () => {
    const handle = await startBacklogWorkflow(client, taskQueue, plan, "replay-council.json");
    await handle.result();
  });
  await mkdir(OUT, { recursive: true });
  await save(client.workflow.getHandle(`${backlogId}/C`), "card-council");
  await save(client.workflow.getHandle(`${backlogId}/C-DELIB-1`), "deliberation");
}

/** Waits until the card workflow `workflowId` is in `status`; returns its handle. */
async function cardInStatus(client: Client, workflowId: string, status: string): Promise<WorkflowHandle> {
  const h = client.workflow.getHandle(workflowId);
  while (
    (await h.query(cardStateQuery).then(
      (s) => s.status,
      () => "not started",
    )) !== status
  ) {
    await new Promise((r) => setTimeout(r, 200));
  }
  return h;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
