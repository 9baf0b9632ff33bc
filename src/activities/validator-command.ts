/**
 * Running a validator's command (a QA check, a rubric `command` criterion) in an attempt workspace, the
 * same way for both: project-relative paths resolved against `baseDir`, allow-listed environment,
 * heartbeats while it runs, cancellation, and one description of how it ended.
 */
import {
  allowListedEnv,
  cancellationError,
  commandLine,
  resolveProjectPath,
  type ActivityDeps,
  type ActivityHooks,
} from "./context.js";
import { validatorConfigError } from "./errors.js";
import { DEFAULT_TICK_MS, runProcess, SpawnError, tail, type ProcessResult } from "./process.js";
import { redact, secretsOf } from "./secrets.js";

/** A command as configured: `command`, `args`, `timeout_ms` (ms). */
export interface ValidatorCommand {
  command: string;
  args?: readonly string[];
  timeout_ms: number;
}

/** Lines of output kept in verdict details (per stream). */
export const DETAIL_TAIL_LINES = 40;

/**
 * Runs a validator command with cwd = the attempt workspace (absolute `workspace`), env = the worker's
 * allow-listed variables plus `SQUADFLOW_WORKSPACE`. `./` and `../` command/args are resolved against
 * `deps.baseDir` (like agents); other args are left to the program, relative to the workspace. The
 * worker's secret values (secrets.ts `secretsOf`) are redacted from the returned stdout and stderr: verdict
 * details quote them, and verdicts go into workflow history (a check may print any workspace file).
 *
 * @param what names the command in errors, e.g. `QA check "unit"`
 * @throws ApplicationFailure `ValidatorConfigError` (non-retryable) when the program cannot be started;
 *   the cancellation reason (a `CancelledFailure`) when the activity was cancelled.
 */
export async function runValidatorCommand(
  deps: ActivityDeps,
  hooks: ActivityHooks,
  cmd: ValidatorCommand,
  workspace: string,
  what: string,
): Promise<ProcessResult> {
  let run: ProcessResult;
  try {
    run = await runProcess({
      command: resolveProjectPath(deps.baseDir, cmd.command),
      args: (cmd.args ?? []).map((a) => resolveProjectPath(deps.baseDir, a)),
      cwd: workspace,
      env: { ...allowListedEnv(deps.workerEnv ?? process.env), SQUADFLOW_WORKSPACE: workspace },
      timeoutMs: cmd.timeout_ms,
      signal: hooks.cancellationSignal,
      onTick: (elapsedMs) => hooks.heartbeat({ phase: what, elapsedMs }),
      tickMs: deps.heartbeatIntervalMs ?? DEFAULT_TICK_MS,
      killGraceMs: deps.killGraceMs,
    });
  } catch (err) {
    if (err instanceof SpawnError) {
      throw validatorConfigError(
        `${what} cannot start: "${err.command}" ${err.why} (command "${commandLine(cmd.command, cmd.args)}")`,
      );
    }
    throw err;
  }
  if (run.cancelled) throw cancellationError(hooks.cancellationSignal, what);
  const secrets = secretsOf(deps.workerEnv ?? process.env);
  return secrets.length === 0
    ? run
    : { ...run, stdout: redact(run.stdout, secrets), stderr: redact(run.stderr, secrets) };
}

/** How a finished run failed, stable for reasons: `exit 1`, `timed out after 500 ms`, `killed by SIGSEGV`; `undefined` on exit 0. */
export function runFailure(run: ProcessResult, timeoutMs: number): string | undefined {
  if (run.timedOut) return `timed out after ${timeoutMs} ms`;
  if (run.exitCode === 0) return undefined;
  return run.exitCode !== null ? `exit ${run.exitCode}` : `killed by ${run.signal ?? "a signal"}`;
}

/** The command line and the last lines of a run's output, for verdict details. */
export function runDetails(cmd: ValidatorCommand, run: ProcessResult): string {
  const parts = [`$ ${commandLine(cmd.command, cmd.args)}`];
  const out = tail(run.stdout, DETAIL_TAIL_LINES);
  const err = tail(run.stderr, DETAIL_TAIL_LINES);
  if (out) parts.push(`--- stdout (last ${DETAIL_TAIL_LINES} lines) ---\n${out}`);
  if (err) parts.push(`--- stderr (last ${DETAIL_TAIL_LINES} lines) ---\n${err}`);
  if (!out && !err) parts.push("(no output)");
  return parts.join("\n");
}
