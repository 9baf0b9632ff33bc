/**
 * One attempt of a card, shared by the card workflow (attempt 1) and correction workflows:
 * owner → verification (blocking gate) → LLM-judge ‖ QA — PRODUCT.md "Validation".
 * Workflow code: deterministic, no Node APIs.
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import {
  ZERO_COST,
  attemptWorkspace,
  type AttemptRecord,
  type CardPlan,
  type CardStatus,
  type CorrectionFeedback,
  type DependencyArtifacts,
  type OwnerResult,
  type Verdict,
} from '../domain/index.js';
import { squadActivities, type ActivityQueues } from './activities.js';

/** What `runAttempt` needs. */
export interface AttemptInput {
  plan: CardPlan;
  queues: ActivityQueues;
  /** 1-based attempt number. */
  attempt: number;
  /** Workflow ID running the attempt (recorded in the attempt record). */
  workflowId: string;
  dependencies: DependencyArtifacts[];
  /** Workspace of the previous attempt, reworked by a correction. */
  previousWorkspace?: string;
  feedback?: CorrectionFeedback;
}

function now(): string {
  return new Date().toISOString();
}

/** The message of the deepest cause of an activity failure ("agent exited 1: …"). */
function failureMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  if (e instanceof ApplicationFailure || e instanceof Error) return e.message;
  return String(e);
}

/**
 * Runs one attempt and reports each status it enters through `onStatus` (IN_PROGRESS, VALIDATING).
 * An owner that still fails after its retries yields a failed `owner` verdict with the reason
 * "Owner execution failed: …" (PRODUCT.md); validators run only on what the owner produced.
 */
export async function runAttempt(
  input: AttemptInput,
  onStatus: (status: CardStatus) => void,
  beforeRun: () => Promise<void> = async () => undefined,
): Promise<AttemptRecord> {
  const { plan, attempt } = input;
  const acts = squadActivities(input.queues);
  const workspace = attemptWorkspace(plan.backlogId, plan.card.id, attempt);
  const startedAt = now();
  onStatus('IN_PROGRESS');

  let owner: OwnerResult;
  try {
    await beforeRun();
    owner = await acts.runOwner({
      backlogId: plan.backlogId,
      card: plan.card,
      attempt,
      agent: plan.agent,
      workspace,
      previousWorkspace: input.previousWorkspace,
      dependencies: input.dependencies,
      feedback: input.feedback,
    });
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    const verdict: Verdict = {
      validator: 'owner',
      passed: false,
      reasons: [`Owner execution failed: ${failureMessage(err)}`],
      at: now(),
    };
    return record(input, workspace, [], 'owner failed', [verdict], ZERO_COST, startedAt);
  }

  onStatus('VALIDATING');
  await beforeRun();
  const verdicts = await validate(acts, input, workspace, owner.artifacts);
  return record(input, workspace, owner.artifacts, owner.summary, verdicts, owner.cost, startedAt);
}

/** Verification first; only if it passes, the LLM-judge and QA in parallel. */
async function validate(
  acts: ReturnType<typeof squadActivities>,
  input: AttemptInput,
  workspace: string,
  artifacts: string[],
): Promise<Verdict[]> {
  const { typeConfig, card } = input.plan;
  const verification = await failedAsVerdict('verification', acts.verifyArtifacts({ workspace, artifacts, config: typeConfig.verification }));
  if (!verification.passed) return [verification];
  const [judge, qa] = await Promise.all([
    failedAsVerdict('llm_judge', acts.judgeArtifacts({ card, workspace, artifacts, config: typeConfig.judge })),
    failedAsVerdict('qa', acts.runQa({ workspace, checks: typeConfig.qa.checks })),
  ]);
  return [verification, judge, qa];
}

/**
 * A validator that cannot run (after its retries, e.g. a QA command that is not installed) is a failed
 * verdict, never a silent pass: the card goes through corrections and reaches a human with the reason.
 */
async function failedAsVerdict(validator: Verdict['validator'], run: Promise<Verdict>): Promise<Verdict> {
  try {
    return await run;
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    return { validator, passed: false, reasons: [`validator could not run: ${failureMessage(err)}`], at: now() };
  }
}

function record(
  input: AttemptInput,
  workspace: string,
  artifacts: string[],
  summary: string,
  verdicts: Verdict[],
  cost: AttemptRecord['cost'],
  startedAt: string,
): AttemptRecord {
  return {
    attempt: input.attempt,
    workflowId: input.workflowId,
    workspace,
    artifacts,
    summary,
    verdicts,
    passed: verdicts.every((v) => v.passed),
    cost,
    feedback: input.feedback,
    startedAt,
    finishedAt: now(),
  };
}
