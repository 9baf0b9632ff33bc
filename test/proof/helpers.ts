/**
 * Helpers of the PROOF tests: the corpus index, the CLI run in-process (as `test/e2e` does), and polling.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { vi } from 'vitest';
import { main } from '../../src/client.js';
import type { CorpusExpectation } from '../../scripts/make-bad-backlog-corpus.js';

/** Directory of the committed corpus of malformed backlogs. */
export const CORPUS_DIR = fileURLToPath(new URL('./corpus/', import.meta.url));

/** `index.json` of the corpus: file name → what loading it must report. */
export function corpusIndex(): Record<string, CorpusExpectation> {
  return JSON.parse(readFileSync(join(CORPUS_DIR, 'index.json'), 'utf8')) as Record<string, CorpusExpectation>;
}

/** Runs the `squadflow` CLI in-process (`main(['node', 'squadflow', ...args])`); returns its exit code and output. */
export async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk)), true));
  try {
    process.exitCode = undefined;
    const code = await main(['node', 'squadflow', ...args]);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
    process.exitCode = undefined;
  }
}

/** Polls `fn` every 100 ms until it returns a value other than undefined; throws after `timeoutMs`. */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
