/**
 * Helpers of the human-review PROOF tests: a one-card workflow on the run's dev server, driven by the fake
 * activities of `test/workflows/fakes.ts` (QA always fails, so the card escalates to AWAITING_HUMAN within seconds).
 */
import type { Client, WorkflowHandle } from "@temporalio/client";
import type { Worker } from "@temporalio/worker";
import { cardWorkflow } from "../../src/workflows/card.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import { fakeActivities, testPlan, uniqueBacklogId, type CardScript, type TestCard } from "../workflows/fakes.js";

/** QA fails on every attempt: the card escalates after its third correction. */
export const ALWAYS_FAILING: CardScript = { qa: [['check "unit tests" failed: exit 1']] };

/** A started card workflow with its worker (not yet running: use `worker.runUntil`). */
export interface StartedCard {
  client: Client;
  worker: Worker;
  handle: WorkflowHandle<typeof cardWorkflow>;
  backlogId: string;
}

/** Starts card `cardId` of a small backlog `cards` (default: one card C1 that always fails QA). */
export async function startTestCard(
  opts: { cards?: TestCard[]; cardId?: string; script?: CardScript } = {},
): Promise<StartedCard> {
  const { client } = await testEnv();
  const cards = opts.cards ?? [{ id: "C1" }];
  const cardId = opts.cardId ?? cards[0]!.id;
  const taskQueue = uniqueTaskQueue("proof-review");
  const fake = fakeActivities({ [cardId]: opts.script ?? ALWAYS_FAILING });
  const worker = await createTestWorker({ taskQueue, activities: fake.activities });
  const backlogId = uniqueBacklogId("proof");
  const plan = testPlan(backlogId, cards);
  const cardPlan = plan.cards.find((c) => c.card.id === cardId)!;
  const queues = { owners: taskQueue, validation: taskQueue, debugging: taskQueue };
  const handle = await client.workflow.start(cardWorkflow, {
    taskQueue,
    workflowId: `${backlogId}/${cardId}`,
    args: [{ plan: cardPlan, queues }],
  });
  return { client, worker, handle, backlogId };
}

export { waitForStatus } from "../workflows/fakes.js";

/** Number of events in the workflow's history. */
export async function historyLength(handle: WorkflowHandle): Promise<number> {
  return (await handle.fetchHistory()).events?.length ?? 0;
}
