/**
 * Shared set-up of the peer-review workflow tests (peer-review.test.ts, peer-review-events.test.ts): a card
 * of type DOC owned by `writer` and reviewed by `codex` and `gemini`, run by the card workflow on the real
 * Temporal server with fake activities.
 */
import type { Client } from "@temporalio/client";
import type { PeerReview } from "../../src/domain/index.js";
import { cardWorkflow } from "../../src/workflows/card.js";
import { until } from "../helpers/until.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import { fakeActivities, testPlan, uniqueBacklogId, type CardScript } from "./fakes.js";

/** The test squad: owner `writer`, reviewers `codex` and `gemini` of card type DOC. */
export function peerReviewSquad(trigger: "always" | "on_milestone" = "always") {
  const agent = (name: string) => ({ kind: "command", command: "node", args: [`./${name}.mjs`] });
  return {
    agents: { writer: agent("writer"), codex: agent("codex"), gemini: agent("gemini") },
    card_types: {
      DOC: {
        owner: "writer",
        judge: { kind: "rubric", criteria: [{ name: "has intro", check: { type: "section", heading: "Intro" } }] },
        peer_review: { reviewers: ["codex", "gemini"], trigger },
      },
    },
  };
}

/**
 * Starts card C1 of that squad (its fake activities scripted by `script`) and a worker for it (not yet
 * running: the test runs it with `worker.runUntil`). `reviewed(n)` waits until `reviewPeers` was called n
 * times and returns those calls.
 */
export async function startPeerReviewed(
  script: CardScript,
  trigger: "always" | "on_milestone" = "always",
  prefix = "peer",
) {
  const { client } = await testEnv();
  const taskQueue = uniqueTaskQueue(prefix);
  const fake = fakeActivities({ C1: script });
  const worker = await createTestWorker({ taskQueue, activities: fake.activities });
  const backlogId = uniqueBacklogId(prefix);
  const plan = testPlan(backlogId, [{ id: "C1" }], 1, peerReviewSquad(trigger)).cards[0]!;
  const queues = { owners: taskQueue, validation: taskQueue, debugging: taskQueue };
  const handle = await (client as Client).workflow.start(cardWorkflow, {
    taskQueue,
    workflowId: `${backlogId}/C1`,
    args: [{ plan, queues }],
  });
  const reviews = () => fake.calls.filter((c) => c.activity === "reviewPeers");
  const reviewed = (n: number) =>
    until(`${n} review(s) of C1`, async () => (reviews().length >= n ? reviews() : undefined));
  return { worker, handle, calls: fake.calls, reviews, reviewed };
}

/** A reviewer's answer: `say("codex", "concern", "no tests")`. */
export const say = (reviewer: string, verdict: PeerReview["verdict"], ...comments: string[]) => ({
  reviewer,
  verdict,
  comments,
});
