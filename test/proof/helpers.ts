/**
 * Helpers of the PROOF tests: the corpus index, the CLI run in-process (as `test/e2e` does), and polling.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CorpusExpectation } from '../../scripts/make-bad-backlog-corpus.js';
export { cli } from '../helpers/cli.js';

/** Directory of the committed corpus of malformed backlogs. */
export const CORPUS_DIR = fileURLToPath(new URL('./corpus/', import.meta.url));

/** `index.json` of the corpus: file name → what loading it must report. */
export function corpusIndex(): Record<string, CorpusExpectation> {
  return JSON.parse(readFileSync(join(CORPUS_DIR, 'index.json'), 'utf8')) as Record<string, CorpusExpectation>;
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
