/**
 * The activities of squadflow, created by one factory from their injected dependencies (the pattern of
 * temporalio/samples-typescript): the worker registers the returned object, workflows call it through
 * `proxyActivities<Activities>()`. Inputs and results are the contracts of src/domain/attempt.ts.
 */
import type {
  DebugInput,
  DebugReport,
  JudgeInput,
  OwnerInput,
  OwnerResult,
  QaInput,
  Verdict,
  VerificationInput,
} from "../domain/attempt.js";
import { createReadBacklogBudget, createReadCardState } from "./workflow-queries.js";
import { assertAbsolute, type ActivityDeps } from "./context.js";
import { createDebugFailures, type DebuggerKind } from "./debugging.js";
import { createJudgeArtifacts } from "./judge.js";
import { createReviewPeers, type PeerReviewInput } from "./peer-review.js";
import { createRunOwner } from "./owner.js";
import { createRunQa } from "./qa.js";
import { createVerifyArtifacts } from "./verification.js";
import { createNotify, type NotifyDeps } from "./notify.js";
import { createRepositoryActivities } from "./repository/index.js";
import { createDeliberationActivities } from "./deliberation.js";

export type { ActivityDeps, ActivityHooks } from "./context.js";
export {
  DEFAULT_REPOS_DIR,
  DEFAULT_WORKSPACES_DIR,
  DEFAULT_WORKTREES_DIR,
  ENV_ALLOW_LIST,
  temporalHooks,
} from "./context.js";
export type { FinishedRepository } from "./repository/index.js";
export type { PeerReviewInput } from "./peer-review.js";
export { ActivityErrorType, NON_RETRYABLE_ACTIVITY_ERRORS, type AgentFailureDetails } from "./errors.js";

/** Dependencies of `createActivities`: `ActivityDeps` plus the debugger kind (default `rules`). */
export interface CreateActivitiesDeps extends ActivityDeps {
  debugger?: DebuggerKind;
  /** Dependencies of the `notify` activity (worker-level webhooks, fetch, delivery hook). */
  notify?: NotifyDeps;
}

/**
 * Creates the activities:
 * - `runOwner(OwnerInput): OwnerResult` — owner agent in a fresh attempt workspace (owner.ts; one file per
 *   agent kind in agents/: command, claude-code, codex, gemini, llm);
 * - `verifyArtifacts(VerificationInput): Verdict` — the verification gate (verification.ts);
 * - `judgeArtifacts(JudgeInput): Verdict` — the LLM-judge, score 0–10 (judge.ts: `rubric`; judges/llm.ts: `llm`);
 * - `runQa(QaInput): Verdict` — QA checks (qa.ts);
 * - `reviewPeers(PeerReviewInput): Verdict` — peer review by other agents of the squad (peer-review.ts);
 * - `debugFailures(DebugInput): DebugReport` — the debugging agent (debugging.ts: `rules`; debuggers/llm.ts: `llm`);
 * - `notify(NotifyInput)` — webhooks (notify.ts);
 * - `readBacklogBudget({ backlogId }): BacklogBudget` — the backlog budget, for the budget gate, and
 *   `readCardState({ workflowId, runId }): CardState` — a failed card run's state, for its new run (workflow-queries.ts);
 * - with a repository (issue 9, repository/index.ts): `mergeAttempt(MergeInput): MergeResult` — the approved
 *   attempt merged `--no-ff` into `squadflow/<backlogId>` exactly once, or the conflict (files, cards);
 *   `removeWorktree({ repository, backlogId, workspace }): { removed }` — an attempt's worktree removed;
 *   `finishRepository({ repository, backlogId }): FinishedRepository` — the backlog's worktrees removed and
 *   attempt branches and snapshot refs deleted (unless `keepBranches`) at its end; `pushIntegrationBranch({ repository,
 *   backlogId }): PushResult` — the integration branch pushed to `repository.push`.
 *   `runOwner` makes the attempt worktree itself (owner.ts); validators resolve `workspaceRoot: 'worktrees'`
 *   against `worktreesRoot`.
 * - councils (issue 12, deliberation.ts): `critiqueProposal(CritiqueInput): CritiqueResult` — a council agent's
 *   critique of another's proposal; `askArchitect(ArchitectInput): ArchitectResult` — the architect's validated
 *   `{ winner, rationale }` (proposals and revisions are `runOwner` runs with `OwnerInput.council`).
 * Validators return failing Verdicts for problems with the artifacts and throw only for infrastructure or
 * configuration problems (typed `ApplicationFailure`s, see errors.ts).
 *
 * @param deps `workspacesRoot` and `baseDir` must be absolute (and `worktreesRoot`, `reposRoot` when given;
 *   defaults `<baseDir>/state/worktrees`, `<baseDir>/state/repos`).
 * @throws Error when `workspacesRoot` or `baseDir` is not absolute.
 */
export function createActivities(deps: CreateActivitiesDeps) {
  assertAbsolute("workspacesRoot", deps.workspacesRoot);
  assertAbsolute("baseDir", deps.baseDir);
  if (deps.worktreesRoot !== undefined) assertAbsolute("worktreesRoot", deps.worktreesRoot);
  if (deps.reposRoot !== undefined) assertAbsolute("reposRoot", deps.reposRoot);
  const runOwner: (input: OwnerInput) => Promise<OwnerResult> = createRunOwner(deps);
  const verifyArtifacts: (input: VerificationInput) => Promise<Verdict> = createVerifyArtifacts(deps);
  const judgeArtifacts: (input: JudgeInput) => Promise<Verdict> = createJudgeArtifacts(deps);
  const runQa: (input: QaInput) => Promise<Verdict> = createRunQa(deps);
  const reviewPeers: (input: PeerReviewInput) => Promise<Verdict> = createReviewPeers(deps);
  const debugFailures: (input: DebugInput) => Promise<DebugReport> = createDebugFailures(deps.debugger, deps);
  const notify = createNotify(deps.notify);
  const readBacklogBudget = createReadBacklogBudget();
  const readCardState = createReadCardState();
  const { mergeAttempt, removeWorktree, finishRepository, pushIntegrationBranch } = createRepositoryActivities(deps);
  const { critiqueProposal, askArchitect } = createDeliberationActivities(deps, runOwner);
  return {
    runOwner,
    verifyArtifacts,
    judgeArtifacts,
    runQa,
    reviewPeers,
    debugFailures,
    notify,
    readBacklogBudget,
    readCardState,
    mergeAttempt,
    removeWorktree,
    finishRepository,
    pushIntegrationBranch,
    critiqueProposal,
    askArchitect,
  };
}

/** The activities' interface, for `proxyActivities<Activities>()` in workflows. */
export type Activities = ReturnType<typeof createActivities>;
