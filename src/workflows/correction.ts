/**
 * The correction workflow: one re-work round of a rejected card (`<backlogId>/<cardId>-CORR-<n>`), a
 * child of the card workflow. It re-runs the owner with the aggregated feedback in a fresh workspace
 * copied from the previous attempt, re-validates, and returns the attempt record — PRODUCT.md
 * "Corrections".
 */
import { condition, setCurrentDetails, setHandler, workflowInfo } from "@temporalio/workflow";
import { correctionCurrentDetails } from "../domain/ui-metadata.js";
import type { AttemptRecord, CardStatus } from "../domain/index.js";
import { runAttempt, type AttemptInput } from "./attempt.js";
import { correctionStateQuery, setPausedSignal } from "../contract.js";
import type { CorrectionState } from "../domain/backlog-state.js";
import { upsertCardProgress } from "./search-attributes.js";

/** Input of a correction round: the attempt to run, with `feedback` set. */
export type CorrectionInput = Omit<AttemptInput, "workflowId"> & { round: number; paused?: boolean };

export { correctionStateQuery };
export type { CorrectionState } from "../domain/backlog-state.js";

/** Runs one correction round and returns its attempt record (passed or not). */
export async function correctionWorkflow(input: CorrectionInput): Promise<AttemptRecord> {
  const state: CorrectionState = { round: input.round, attempt: input.attempt, status: "CORRECTING" };
  let paused = input.paused ?? false;
  setHandler(correctionStateQuery, () => state);
  setHandler(setPausedSignal, (p) => void (paused = p.paused));

  const result = await runAttempt(
    { ...input, workflowId: workflowInfo().workflowId },
    {
      onStatus: (status) => {
        state.status = status;
        setCurrentDetails(correctionCurrentDetails(input.round, input.attempt, status));
        upsertCardProgress(status, input.attempt, 0);
      },
      beforeRun: () => condition(() => !paused),
    },
  );
  state.result = result;
  state.status = result.passed ? "APPROVED" : "REJECTED";
  setCurrentDetails(correctionCurrentDetails(input.round, input.attempt, state.status));
  upsertCardProgress(state.status, input.attempt, result.cost.usd);
  return result;
}
