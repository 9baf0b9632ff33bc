/** Polling for tests that wait on a running system (a workflow's state, a process, a file). */

/**
 * Polls `fn` every `intervalMs` until it returns a value other than `undefined`, and resolves with it;
 * `fn` throwing counts as "not yet".
 * @throws Error "timed out waiting for <what>" (with `fn`'s last error, if any) after `timeoutMs`.
 */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const v = await fn().catch((e: unknown) => ((lastError = e), undefined));
    if (v !== undefined) return v;
    if (Date.now() > end)
      throw new Error(
        `timed out waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ""}`,
      );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
