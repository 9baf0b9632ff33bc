/**
 * The QA step (validator `qa`): real tests and checks run in the attempt workspace — PRODUCT.md
 * "Validation" (QA runs in parallel with the LLM-judge, after verification passed).
 */
import type { QaInput, Verdict } from "../domain/attempt.js";
import { nowIso, temporalHooks, type ActivityDeps } from "./context.js";
import { runDetails, runFailure, runValidatorCommand } from "./validator-command.js";
import { realWorkspace, workspaceRootDir } from "./workspace.js";

/** Default QA check timeout, ms (squad.ts `QaCheckSchema`). */
const DEFAULT_CHECK_TIMEOUT_MS = 300_000;

/**
 * Creates the QA activity.
 *
 * `runQa(input)` runs every check of `input.checks` in order (all of them, even after a failure, so that
 * one correction round can fix them all) in the workspace — see validator-command.ts for cwd, env and
 * path resolution — and fails on a non-zero exit or a timeout (the check's process group is killed).
 * One reason per failing check: `check "<name>" failed: exit <code>` or `check "<name>" timed out after
 * <ms> ms`; `details` holds each failing command line and the last 40 lines of its stdout and stderr.
 * No checks configured → a pass with no reasons.
 *
 * @returns a Verdict of validator `qa`; failing checks fail it, they are not thrown.
 * @throws ApplicationFailure `ValidatorConfigError` (a check's program cannot start), `WorkspaceError` /
 *   `WorkspaceNotFoundError`; a `CancelledFailure` when the activity is cancelled.
 */
export function createRunQa(deps: ActivityDeps): (input: QaInput) => Promise<Verdict> {
  return async function runQa(input: QaInput): Promise<Verdict> {
    const reasons: string[] = [];
    const details: string[] = [];
    if (input.checks.length > 0) {
      const workspace = await realWorkspace(workspaceRootDir(deps, input.workspaceRoot), input.workspace);
      const hooks = (deps.hooks ?? temporalHooks)();
      for (const check of input.checks) {
        const timeoutMs = check.timeout_ms ?? DEFAULT_CHECK_TIMEOUT_MS;
        const cmd = { command: check.command, args: check.args ?? [], timeout_ms: timeoutMs };
        const run = await runValidatorCommand(deps, hooks, cmd, workspace, `QA check "${check.name}"`);
        const failure = runFailure(run, timeoutMs);
        if (failure === undefined) continue;
        reasons.push(run.timedOut ? `check "${check.name}" ${failure}` : `check "${check.name}" failed: ${failure}`);
        details.push(`check "${check.name}":\n${runDetails(cmd, run)}`);
      }
    }
    return {
      validator: "qa",
      passed: reasons.length === 0,
      reasons,
      ...(details.length > 0 && { details: details.join("\n\n") }),
      at: nowIso(deps),
    };
  };
}
