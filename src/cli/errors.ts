/**
 * CLI errors and exit codes (documented in the README):
 *   0 success · 1 unexpected failure · 2 bad input (invalid backlog, unknown backlog/card, refused review)
 *   3 Temporal unreachable or no worker answering.
 */

/** Exit codes scripts can rely on. */
export const EXIT = { ok: 0, failure: 1, badInput: 2, unavailable: 3 } as const;

/** An error the CLI reports as one message (no stack trace) with a chosen exit code. */
export class CliError extends Error {
  readonly type = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.badInput,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
