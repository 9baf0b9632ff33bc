/**
 * Helpers of the PROOF tests: the corpus index, the CLI run in-process (as `test/e2e` does), and polling.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { CorpusExpectation } from "../../scripts/make-bad-backlog-corpus.js";
import { until as poll } from "../helpers/until.js";
export { cli } from "../helpers/cli.js";

/** Directory of the committed corpus of malformed backlogs. */
export const CORPUS_DIR = fileURLToPath(new URL("./corpus/", import.meta.url));

/** `index.json` of the corpus: file name → what loading it must report. */
export function corpusIndex(): Record<string, CorpusExpectation> {
  return JSON.parse(readFileSync(join(CORPUS_DIR, "index.json"), "utf8")) as Record<string, CorpusExpectation>;
}

/** `until` (test/helpers/until.ts) with a 20 s default. */
export function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  return poll(what, fn, timeoutMs);
}
