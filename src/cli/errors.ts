/**
 * CLI errors and exit codes (documented in docs/operations.md, "`--json` and exit codes"):
 *   0 success · 1 unexpected failure · 2 bad input (invalid backlog, unknown backlog/card, refused review,
 *   usage error) · 3 Temporal unreachable or no worker answering.
 * With `--json`, every error is one JSON object on stderr ({@link errorJson}), usage errors included.
 */
import type { Command, CommanderError } from "commander";

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failure: 1, badInput: 2, unavailable: 3 } as const;

/** An error the CLI reports as one message (no stack trace) with a chosen exit code. */
export class CliError extends Error {
  readonly type = "CliError";
  constructor(
    message: string,
    readonly exitCode: number = EXIT.badInput,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/**
 * True when a node-style command line (`node`, script, arguments…) asks for `--json` output. Arguments
 * after `--` are operands, not options, so they do not count.
 */
export function wantsJson(argv: readonly string[]): boolean {
  const args = argv.slice(2);
  const end = args.indexOf("--");
  return (end < 0 ? args : args.slice(0, end)).includes("--json");
}

/**
 * The error document of `--json` runs, printed on stderr so that stdout only ever holds a result:
 * `{"error":{"message","exitCode",…extra}}` (extra: e.g. `issues` of an invalid backlog).
 */
export function errorJson(message: string, exitCode: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ error: { message, exitCode, ...extra } });
}

/**
 * Silences commander's own error output on `program` and every subcommand: no message, no help after it on
 * stderr (`--help` still prints to stdout). Commander still throws (exitOverride) with the message, so the
 * caller reports usage errors itself — as {@link errorJson} for `--json` runs.
 */
export function silenceUsageErrors(program: Command): void {
  const quiet = (cmd: Command): void => {
    cmd.configureOutput({ outputError: () => undefined, writeErr: () => undefined }).showHelpAfterError(false);
    cmd.commands.forEach(quiet);
  };
  quiet(program);
}

/**
 * The message of a commander usage error (unknown option or command, missing argument or required option,
 * invalid or conflicting option value), without commander's `error: ` prefix.
 */
export function usageMessage(err: CommanderError): string {
  return err.message.replace(/^error: /, "");
}
