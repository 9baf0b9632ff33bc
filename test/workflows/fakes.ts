/**
 * Scripted stand-ins for the activities, for tests whose subject is the workflow: each activity answers
 * from a per-card script (by attempt), and every call is recorded so tests can assert what the workflow
 * asked for (feedback, order, debugging).
 */
import { randomUUID } from "node:crypto";
import type { Client, WorkflowHandle } from "@temporalio/client";
import { Context } from "@temporalio/activity";
import { ApplicationFailure } from "@temporalio/common";
import { ActivityErrorType, agentFailure, agentPermissionError } from "../../src/activities/errors.js";
import { signalOwnWorkflow } from "../../src/activities/owner-events.js";
import { backlogWorkflow } from "../../src/workflows/backlog.js";
import { cardStateQuery } from "../../src/workflows/card.js";
import { until } from "../helpers/until.js";
import type {
  AgentSession,
  CardOutcome,
  CardState,
  Cost,
  DebugInput,
  DebugReport,
  JudgeInput,
  OwnerInput,
  OwnerEvent,
  OwnerResult,
  PeerReview,
  QaInput,
  Verdict,
  VerificationInput,
} from "../../src/domain/index.js";
import type { PeerReviewInput } from "../../src/activities/index.js";
import {
  COORDINATOR_PRIORITY_KEY,
  peerReviewOutcome,
  attemptBranchName,
  planBacklog,
  type BacklogPlan,
  type FinishRepositoryInput,
  type MergeInput,
  type MergeResult,
  type PushResult,
  type RepositoryActivities,
} from "../../src/domain/index.js";

/** How a card's validators behave on a given attempt: pass, or fail with these reasons. */
export type Outcome = "pass" | string[];

/**
 * How the judge behaves on a given attempt: an `Outcome`, or `'judge-failure'` — it throws what the `llm`
 * judge throws when its answers stay invalid: a non-retryable `JudgeOutputError` `ApplicationFailure`
 * carrying what it spent (`JUDGE_FAILURE_COST`) in `details[0].cost`.
 */
export type JudgeOutcome = Outcome | "judge-failure";

/** What a scripted judge failure spent (tokens, USD). */
export const JUDGE_FAILURE_COST: Cost = { inputTokens: 2000, outputTokens: 300, usd: 0.004 };

/** The behaviour of one card. Missing entries pass; lists are indexed by attempt - 1 (last one repeats). */
export interface CardScript {
  /** `denied`: the owner fails as its CLI does on a tool outside the policy (`AgentPermissionError`, Write). */
  owner?: ("ok" | "fail" | "denied")[];
  verification?: Outcome[];
  judge?: JudgeOutcome[];
  qa?: Outcome[];
  /** Milliseconds the owner takes. */
  ownerMs?: number;
  /**
   * The owner's first run waits for this (see `gate()`): the test decides when it is done, so a pause, a
   * cancel or a query never races a fast owner.
   */
  hold?: Promise<void>;
  /**
   * Heartbeat details the owner's first run reports before it waits for `hold` (a CLI kind's
   * `{ phase: 'owner', elapsedMs, progress }`), so a test can read what a running owner is doing.
   */
  heartbeat?: unknown;
  /** The agent session every owner run reports (`OwnerResult.session`); absent: none. */
  session?: AgentSession;
  /** What else every owner run reports (e.g. `agentName` of a pooled owner, `permissionRecovery`). */
  ownerReports?: Pick<OwnerResult, "agentName" | "permissionRecovery">;
  /**
   * The reviewers' answers per attempt (`reviewPeers`, card types with `peer_review`); missing: all approve;
   * `'failure'`: a reviewer's answer stays invalid (a non-retryable `PeerReviewOutputError`).
   */
  peer?: (Omit<PeerReview, "cost">[] | "failure")[];
  /** Events every owner run emits (`OwnerResult.events`). */
  events?: OwnerEvent[];
  /**
   * Events the owner's first run signals while it runs (as the owner activity does for a card type with
   * `on_milestone` peer review, `OwnerInput.reviewAtEvents`): `before` ones before it waits for `hold`,
   * `after` ones once released, each with a snapshot `<workspace>.at-event-<seq>`. A run that signals
   * heartbeats while it waits, so a cancellation reaches it.
   */
  signal?: { before?: OwnerEvent[]; after?: OwnerEvent[] };
  /**
   * Answers of the card's reviews in call order (overrides `peer`), for reviews at events: the n-th
   * `reviewPeers` call of the card gets the n-th (the last repeats); missing: all approve.
   */
  peerByCall?: Omit<PeerReview, "cost">[][];
  /** The card's first review waits for this (see `gate()`), so events can come while it is in flight. */
  peerHold?: Promise<void>;
}

/** A recorded activity call. */
export interface Call {
  activity: string;
  cardId: string;
  attempt: number;
  input: unknown;
  at: number;
}

function pick<T>(list: T[] | undefined, attempt: number): T | undefined {
  if (!list || list.length === 0) return undefined;
  return list[Math.min(attempt - 1, list.length - 1)];
}

function verdict(validator: Verdict["validator"], outcome: Outcome | undefined, score?: number): Verdict {
  const passed = outcome === undefined || outcome === "pass";
  return {
    validator,
    passed,
    ...(validator === "llm_judge" ? { score: passed ? (score ?? 9) : 5 } : {}),
    reasons: passed ? [] : (outcome as string[]),
    at: new Date().toISOString(),
  };
}

/** Card id and attempt from a workspace path `<backlog>/<card>/attempt-<n>`. */
function fromWorkspace(workspace: string): { cardId: string; attempt: number } {
  const parts = workspace.split("/");
  return { cardId: parts[parts.length - 2]!, attempt: Number(parts[parts.length - 1]!.replace("attempt-", "")) };
}

/** Fake activities driven by `scripts` (keyed by card id); `calls` records every call. */
export function fakeActivities(scripts: Record<string, CardScript>) {
  const calls: Call[] = [];
  const record = (activity: string, cardId: string, attempt: number, input: unknown) =>
    calls.push({ activity, cardId, attempt, input, at: Date.now() });
  const activities = {
    async runOwner(input: OwnerInput): Promise<OwnerResult> {
      record("runOwner", input.card.id, input.attempt, input);
      const script = scripts[input.card.id] ?? {};
      if (script.ownerMs) await new Promise((r) => setTimeout(r, script.ownerMs));
      if (script.heartbeat !== undefined && input.attempt === 1) Context.current().heartbeat(script.heartbeat);
      let seq = 0;
      const signalling = script.signal && input.attempt === 1 && input.reviewAtEvents;
      const signal = async (events: OwnerEvent[] = []) => {
        for (const event of events) {
          seq++;
          await signalOwnWorkflow({
            attempt: input.attempt,
            seq,
            event,
            snapshot: { workspace: `${input.workspace}.at-event-${seq}`, artifacts: [`snapshot-${seq}.md`] },
          });
        }
      };
      if (signalling) await signal(script.signal!.before);
      const beating = signalling ? setInterval(() => Context.current().heartbeat(), 100) : undefined;
      try {
        // Held until the test releases it — or the activity is cancelled (the worker shutting down after a
        // failed expectation, or the workflow stopping it), so a test that fails before its release fails
        // instead of hanging.
        if (script.hold && input.attempt === 1) await Promise.race([script.hold, Context.current().cancelled]);
      } catch (err) {
        record("runOwnerCancelled", input.card.id, input.attempt, input);
        throw err;
      } finally {
        clearInterval(beating);
      }
      if (signalling) {
        await signal(script.signal!.after);
        // The signals are in the workflow's history now: a test may go on from this point.
        record("ownerSignalled", input.card.id, input.attempt, seq);
      }
      if (pick(script.owner, input.attempt) === "fail") {
        throw ApplicationFailure.retryable(`agent "node" exited 3: boom`, "AgentExitError");
      }
      if (pick(script.owner, input.attempt) === "denied" && !input.allowTools?.includes("Write")) {
        throw agentPermissionError('claude-code denied Write (permission_mode "default")', ["Write"], {
          inputTokens: 10,
          outputTokens: 5,
          usd: 0.001,
        });
      }
      return {
        artifacts: [`out-${input.attempt}.md`],
        summary: `attempt ${input.attempt}`,
        cost: { inputTokens: 100, outputTokens: 50, usd: 0.01 },
        ...(script.session && { session: script.session }),
        ...(script.events && { events: script.events }),
        ...script.ownerReports,
        // With a repository, an attempt branch with made-up commits (the workflow only passes them on).
        ...(input.repository && {
          git: {
            branch: attemptBranchName(input.backlogId, input.card.id, input.attempt),
            baseCommit: fakeCommit(`${input.card.id}-base-${input.attempt}`),
            headCommit: fakeCommit(`${input.card.id}-head-${input.attempt}`),
          },
        }),
      };
    },
    async verifyArtifacts(input: VerificationInput): Promise<Verdict> {
      const { cardId, attempt } = fromWorkspace(input.workspace);
      record("verifyArtifacts", cardId, attempt, input);
      return verdict("verification", pick(scripts[cardId]?.verification, attempt));
    },
    async judgeArtifacts(input: JudgeInput): Promise<Verdict> {
      const { cardId, attempt } = fromWorkspace(input.workspace);
      record("judgeArtifacts", cardId, attempt, input);
      const outcome = pick(scripts[cardId]?.judge, attempt);
      if (outcome === "judge-failure") {
        throw agentFailure(
          ActivityErrorType.JudgeOutputError,
          `llm judge of card ${cardId}: judge failure, no valid verdict: score: expected number, received string`,
          {
            nonRetryable: true,
            cost: JUDGE_FAILURE_COST,
          },
        );
      }
      return verdict("llm_judge", outcome);
    },
    async runQa(input: QaInput): Promise<Verdict> {
      const { cardId, attempt } = fromWorkspace(input.workspace);
      record("runQa", cardId, attempt, input);
      return verdict("qa", pick(scripts[cardId]?.qa, attempt));
    },
    async reviewPeers(input: PeerReviewInput): Promise<Verdict> {
      const cardId = input.card.id;
      const attempt = input.attempt ?? fromWorkspace(input.workspace).attempt;
      const n = calls.filter((c) => c.activity === "reviewPeers" && c.cardId === cardId).length;
      record("reviewPeers", cardId, attempt, input);
      const script = scripts[cardId] ?? {};
      if (n === 0 && script.peerHold) await Promise.race([script.peerHold, Context.current().cancelled]);
      const scripted = script.peerByCall ? pick(script.peerByCall, n + 1) : pick(script.peer, attempt);
      if (scripted === "failure") {
        throw agentFailure(
          ActivityErrorType.PeerReviewOutputError,
          `peer reviewer "${input.reviewers[0]!.name}" of card ${cardId} gave an invalid answer: verdict: invalid option`,
          { nonRetryable: true },
        );
      }
      const reviews: PeerReview[] = (
        scripted ?? input.reviewers.map((r) => ({ reviewer: r.name, verdict: "approve" as const, comments: [] }))
      ).map((r) => ({ ...r, cost: { inputTokens: 10, outputTokens: 5, usd: 0.001 } }));
      return {
        validator: "peer_review",
        ...peerReviewOutcome(reviews),
        reviews,
        cost: { inputTokens: 10 * reviews.length, outputTokens: 5 * reviews.length, usd: 0.001 * reviews.length },
        at: new Date().toISOString(),
      };
    },
    async debugFailures(input: DebugInput): Promise<DebugReport> {
      const last = input.history[input.history.length - 1]!;
      record("debugFailures", input.card.id, last.attempt, input);
      return { rootCause: `root cause for ${input.card.id}`, suggestions: ["fix it"], repeatedReasons: [] };
    },
  };
  return { activities, calls };
}

/** A stable 40-hex stand-in for a commit id, made from `seed`. */
export function fakeCommit(seed: string): string {
  let h = 0;
  for (const ch of seed) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h.toString(16).padStart(8, "0").repeat(5);
}

/**
 * Scripted stand-ins for the repository activities, for tests (and recordings) whose subject is the
 * workflow: `mergeAttempt` conflicts for the first `conflicts[cardId]` merges of a card, then merges;
 * every call is recorded in `calls`.
 */
export function fakeRepositoryActivities(conflicts: Record<string, number> = {}) {
  const calls: { activity: string; input: unknown }[] = [];
  const seen: Record<string, number> = {};
  const activities: RepositoryActivities = {
    async mergeAttempt(input: MergeInput): Promise<MergeResult> {
      calls.push({ activity: "mergeAttempt", input });
      seen[input.cardId] = (seen[input.cardId] ?? 0) + 1;
      if (seen[input.cardId]! <= (conflicts[input.cardId] ?? 0))
        return { status: "conflict", files: ["shared.txt"], cards: ["OTHER"] };
      return { status: "merged", commit: fakeCommit(`merge-${input.cardId}-${input.attempt}`), alreadyMerged: false };
    },
    async removeWorktree(input) {
      calls.push({ activity: "removeWorktree", input });
      return { removed: true };
    },
    async finishRepository(input) {
      calls.push({ activity: "finishRepository", input });
      return { worktrees: [], branches: [], snapshots: [] };
    },
    async pushIntegrationBranch(input: FinishRepositoryInput): Promise<PushResult> {
      calls.push({ activity: "pushIntegrationBranch", input });
      const push = input.repository.push!;
      return {
        remote: push.remote,
        branch: push.branch ?? input.repository.integrationBranch,
        commit: fakeCommit("pushed"),
      };
    },
  };
  return { activities, calls };
}

/** A gate for `CardScript.hold`: `hold` resolves once `release()` is called. */
export function gate(): { hold: Promise<void>; release: () => void } {
  let release: () => void = () => undefined;
  const hold = new Promise<void>((r) => (release = r));
  return { hold, release };
}

/** A card in a test backlog. */
export interface TestCard {
  id: string;
  dependencies?: string[];
  status?: string;
  type?: string;
  parent_card?: string;
  artifacts?: string[];
  priority?: string;
  budget_usd?: number;
}

/** A unique backlog id for one test. */
export function uniqueBacklogId(prefix = "test"): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Plans a small backlog through the real `planBacklog` (so tests use the same plans as the CLI). */
export function testPlan(
  backlogId: string,
  cards: TestCard[],
  costAlertUsd = 1,
  squadExtra: Record<string, unknown> = {},
): BacklogPlan {
  const backlog = {
    metadata: { backlog_id: backlogId },
    cards: cards.map((c) => ({ title: `Card ${c.id}`, type: "DOC", ...c })),
    squad: {
      agents: { writer: { kind: "command", command: "node", args: ["./agent.mjs"] } },
      card_types: {
        DOC: {
          owner: "writer",
          judge: { kind: "rubric", criteria: [{ name: "has intro", check: { type: "section", heading: "Intro" } }] },
        },
      },
      cost_alert_usd: costAlertUsd,
      ...squadExtra,
    },
  };
  return planBacklog(JSON.stringify(backlog), { file: `${backlogId}.json` });
}

/**
 * Starts `plan` as a backlog workflow (one page, workflow ID = its backlog id) whose cards run every
 * activity on `taskQueue`; `file` is the source file name it reports. A plan with a repository
 * (`withRepository`) delivers into it.
 */
export function startBacklogWorkflow(client: Client, taskQueue: string, plan: BacklogPlan, file = "test.json") {
  return client.workflow.start(backlogWorkflow, {
    taskQueue,
    workflowId: plan.backlogId,
    args: [
      {
        backlogId: plan.backlogId,
        cards: plan.cards,
        done: plan.done,
        queues: { owners: taskQueue, validation: taskQueue, debugging: taskQueue },
        source: { file, metadata: {}, legacyCards: [] },
        ...(plan.repository ? { repository: plan.repository } : {}),
      },
    ],
    priority: { priorityKey: COORDINATOR_PRIORITY_KEY },
  });
}

/** Polls the `cardState` query until the card has `status` (at most 30 s); resolves with that state. */
export function waitForStatus(handle: WorkflowHandle, status: string): Promise<CardState> {
  return until(`card ${handle.workflowId} to reach ${status}`, async () => {
    const state: CardState = await handle.query(cardStateQuery);
    return state.status === status ? state : undefined;
  });
}

/**
 * The final state of each card of a backlog's result, in its order, from each card workflow's own result:
 * a backlog keeps lean outcomes (status, attempt, cost, artifacts), not the cards' states.
 */
export async function cardStates(client: Client, result: { cards: { workflowId: string }[] }): Promise<CardState[]> {
  return Promise.all(
    result.cards.map(async (c) => ((await client.workflow.getHandle(c.workflowId).result()) as CardOutcome).state!),
  );
}
