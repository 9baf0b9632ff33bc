/**
 * The fair baseline of the benchmark, "bare DAG": the smallest Temporal design that runs the same backlog
 * as squadflow. One workflow per card; a card waits for a `dependencyDone` signal from each of its
 * dependencies, runs the same instant activities as squadflow's happy path (owner → verification → LLM-judge
 * and QA in parallel), then signals each of its dependents directly and ends. No coordinator, no state,
 * no search attributes, no retries of the dependency relay: what Temporal costs for this DAG, and no more.
 *
 * The client starts every card that has dependencies before any card without one (bench/case.ts), so a
 * dependent always exists when its dependency signals it. Bundled on its own (bench/run.ts).
 *
 * Workflow code: deterministic, no Node APIs; the activities are only imported as a type.
 */
import {
  condition,
  defineSignal,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  workflowInfo,
} from "@temporalio/workflow";
import type { BareActivities } from "./instant-activities.js";

const { bareOwner, bareVerify, bareJudge, bareQa } = proxyActivities<BareActivities>({
  startToCloseTimeout: "1 minute",
  retry: { maximumAttempts: 3, initialInterval: "1 second" },
});

/** Sent by a card that finished to each of its dependents; the argument is the sender's workflow id. */
export const dependencyDoneSignal = defineSignal<[string]>("dependencyDone");

/** Input of {@link bareDagCardWorkflow}: the card, and the workflow ids it waits for and then signals. */
export interface BareDagCardInput {
  cardId: string;
  /** Workflow ids of the cards this one waits for. */
  dependencies: string[];
  /** Workflow ids of the cards that wait for this one. */
  dependents: string[];
}

/** What a bare-DAG card reports: workflow time (ms since epoch) before its owner and when it was done. */
export interface BareDagCardResult {
  cardId: string;
  startedAt: number;
  /** After its last activity, before signalling its dependents: the bare counterpart of squadflow's DONE. */
  doneAt: number;
}

/** One bare-DAG card: wait for every dependency → owner → verification → judge ∥ QA → signal dependents. */
export async function bareDagCardWorkflow(input: BareDagCardInput): Promise<BareDagCardResult> {
  const waiting = new Set(input.dependencies);
  setHandler(dependencyDoneSignal, (from) => void waiting.delete(from));
  await condition(() => waiting.size === 0);

  const startedAt = Date.now();
  await bareOwner({ cardId: input.cardId });
  await bareVerify({ cardId: input.cardId });
  await Promise.all([bareJudge({ cardId: input.cardId }), bareQa({ cardId: input.cardId })]);
  const doneAt = Date.now();

  const self = workflowInfo().workflowId;
  await Promise.all(input.dependents.map((id) => getExternalWorkflowHandle(id).signal(dependencyDoneSignal, self)));
  return { cardId: input.cardId, startedAt, doneAt };
}
