/**
 * Reviews at the owner's events, the activity side (issue 12, seed 003's event-based reviews): while an
 * owner with `OwnerInput.reviewAtEvents` runs, each `milestone` or `request_review` it emits
 * (agents/events.ts) is snapshotted — the work as it is at that moment, kept apart while the agent goes on —
 * and signalled to the workflow running the attempt (`ownerEventSignal`, src/contract.ts), which reviews
 * the snapshot (src/workflows/attempt.ts). Signalling is how an activity tells its own workflow something
 * while it still runs (heartbeat details are for the activity's next retry, not read by workflows).
 *
 * Best effort: a snapshot or a signal that fails is a logged warning; the owner run goes on, and the
 * attempt is reviewed at its end instead (the fallback of a run without events).
 */
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Context } from "@temporalio/activity";
import { ownerEventSignal } from "../contract.js";
import type { OwnerEvent, OwnerEventSignal, OwnerInput, OwnerSnapshot } from "../domain/attempt.js";
import { snapshotRefPrefix } from "../domain/repository.js";
import type { ActivityDeps, ActivityHooks } from "./context.js";
import { IGNORED_DIRS, listWorkspaceFiles, redactSecretsInFiles } from "./agents/files.js";
import { UNSTAGED_PATHSPECS } from "./repository/changes.js";
import { git, gitOut } from "./repository/git.js";
import type { AttemptWorktree } from "./repository/types.js";
import { secretsOf } from "./secrets.js";
import { ownerRootDir, resolveWorkspace } from "./workspace.js";

/** The private ref of a repository snapshot: `refs/squadflow/snapshots/<backlogId>/<cardId>/attempt-<n>/<seq>`. */
export function snapshotRef(input: Pick<OwnerInput, "backlogId" | "card" | "attempt">, seq: number): string {
  return `${snapshotRefPrefix(input.backlogId)}${input.card.id}/attempt-${input.attempt}/${seq}`;
}

/**
 * Snapshots the owner's work at event `seq` (see `OwnerSnapshot`, src/domain/attempt.ts): in a repository a
 * commit of everything in the worktree (but `UNSTAGED_PATHSPECS`), made through a private index
 * (`GIT_INDEX_FILE`) on top of the worktree's HEAD and kept on `snapshotRef`; without one a copy of the
 * workspace beside it (agent state dirs left out, the worker's secrets redacted in it).
 *
 * @throws GitError / file-system errors (the caller logs them).
 */
export async function snapshotOwnerWork(
  deps: ActivityDeps,
  input: OwnerInput,
  worktree: AttemptWorktree | undefined,
  seq: number,
): Promise<OwnerSnapshot> {
  if (worktree) {
    const scratch = await mkdtemp(join(tmpdir(), "squadflow-snapshot-"));
    try {
      const env = { GIT_INDEX_FILE: join(scratch, "index") };
      const head = await gitOut(worktree.dir, ["rev-parse", "HEAD"]);
      await git(worktree.dir, ["read-tree", head], { env });
      await git(worktree.dir, ["add", "-A", "--", ".", ...UNSTAGED_PATHSPECS], { env });
      const tree = await gitOut(worktree.dir, ["write-tree"], { env });
      const commit = await gitOut(
        worktree.dir,
        ["commit-tree", tree, "-p", head, "-m", `squadflow snapshot ${seq} of ${worktree.branch}`],
        { identity: true },
      );
      await git(worktree.dir, ["update-ref", snapshotRef(input, seq), commit]);
      const changed = await gitOut(worktree.dir, [
        "diff",
        "--name-only",
        "--no-renames",
        "--diff-filter=d",
        "-z",
        worktree.baseCommit,
        commit,
      ]);
      return {
        workspace: input.workspace,
        artifacts: changed.split("\0").filter(Boolean),
        git: { branch: worktree.branch, baseCommit: worktree.baseCommit, headCommit: commit },
      };
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  const root = ownerRootDir(deps, input);
  const workspace = `${input.workspace}.at-event-${seq}`;
  const from = resolveWorkspace(root, input.workspace);
  const to = resolveWorkspace(root, workspace);
  await rm(to, { recursive: true, force: true });
  await cp(from, to, {
    recursive: true,
    filter: (src) => !IGNORED_DIRS.has(src.slice(src.lastIndexOf("/") + 1)),
  });
  const { files } = await listWorkspaceFiles(to);
  await redactSecretsInFiles(to, files, secretsOf(deps.workerEnv ?? process.env));
  return { workspace, artifacts: files };
}

/** Sends the signal to the workflow that scheduled the current activity (its own run). */
export type OwnerEventSender = (payload: OwnerEventSignal) => Promise<void>;

/** The sender of a Temporal activity: the worker's client signals the activity's workflow execution. */
export const signalOwnWorkflow: OwnerEventSender = async (payload) => {
  const ctx = Context.current();
  const execution = ctx.info.workflowExecution;
  if (!execution) throw new Error("the owner activity was not scheduled by a workflow: no workflow to signal");
  const { workflowId, runId } = execution;
  await ctx.client.workflow.getHandle(workflowId, runId).signal(ownerEventSignal, payload);
};

/**
 * The event sink of one owner run with `input.reviewAtEvents` (for `ActivityDeps.onOwnerEvent`): each
 * milestone or request_review is numbered (`seq`, from 1), snapshotted and signalled, one after the other
 * (in the order the agent emitted them); `blocker` events are not signalled (the attempt ends escalated
 * once the owner returns). `settled()` resolves once every event heard so far was handled — the owner
 * awaits it before returning, so the workflow hears every event before the run's result.
 */
export function ownerEventNotifier(
  deps: ActivityDeps,
  input: OwnerInput,
  worktree: AttemptWorktree | undefined,
  hooks: ActivityHooks,
  send: OwnerEventSender = signalOwnWorkflow,
): { sink: (e: OwnerEvent) => void; settled: () => Promise<void> } {
  let chain: Promise<void> = Promise.resolve();
  let seq = 0;
  const sink = (event: OwnerEvent): void => {
    if (event.kind === "blocker") return;
    const n = ++seq;
    chain = chain.then(async () => {
      try {
        const snapshot = await snapshotOwnerWork(deps, input, worktree, n);
        await send({ attempt: input.attempt, seq: n, event, snapshot });
        hooks.log?.info(`card ${input.card.id}: owner ${event.kind} "${event.name}" snapshotted for review`, {
          cardId: input.card.id,
          attempt: input.attempt,
          seq: n,
        });
      } catch (err) {
        hooks.log?.warn(
          `card ${input.card.id}: owner ${event.kind} "${event.name}" could not be sent for review (the attempt is reviewed at its end): ${(err as Error).message}`,
          { cardId: input.card.id, attempt: input.attempt, seq: n },
        );
      }
    });
  };
  return { sink, settled: () => chain };
}
