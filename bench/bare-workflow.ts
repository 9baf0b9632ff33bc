/**
 * The bare Temporal baseline of the benchmark: one workflow per card, started by the client, no
 * dependencies, no state, no signals, no search attributes — just the same number of activities per card
 * as squadflow's happy path (owner, verification, LLM-judge, QA = 4), run in sequence. Bundled on its own
 * (bench/run.ts), never with squadflow's workflows.
 *
 * Workflow code: deterministic, no Node APIs; the activities are only imported as a type.
 */
import { proxyActivities } from "@temporalio/workflow";
import type { BareActivities } from "./instant-activities.js";

const { bareOwner, bareVerify, bareJudge, bareQa } = proxyActivities<BareActivities>({
  startToCloseTimeout: "1 minute",
  retry: { maximumAttempts: 3, initialInterval: "1 second" },
});

/** What a bare card reports: workflow time (ms since epoch) before its first and after its last activity. */
export interface BareCardResult {
  cardId: string;
  startedAt: number;
  finishedAt: number;
}

/** One bare card: owner → verification → judge → QA, nothing else. */
export async function bareCardWorkflow(cardId: string): Promise<BareCardResult> {
  const startedAt = Date.now();
  await bareOwner({ cardId });
  await bareVerify({ cardId });
  await bareJudge({ cardId });
  await bareQa({ cardId });
  return { cardId, startedAt, finishedAt: Date.now() };
}
