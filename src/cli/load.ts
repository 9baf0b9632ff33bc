/**
 * Reads a backlog file (and optional squad file) and validates it whole with `planBacklog` — before any
 * workflow starts.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { BacklogValidationError, planBacklog, type BacklogPlan } from '../domain/index.js';

/** Options of `loadBacklog`. */
export interface LoadOptions {
  /** A separate squad config file. */
  squad?: string;
  /** Backlog id overriding `metadata.backlog_id`. */
  backlogId?: string;
}

async function readText(file: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BacklogValidationError([{ file, field: '', message: `cannot read file (${code ?? (err as Error).message})` }]);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new BacklogValidationError([{ file, field: '', message: 'not valid UTF-8 text' }]);
  }
}

/**
 * Loads and validates a backlog.
 * @throws BacklogValidationError listing every problem (unreadable file, bad JSON, schema, graph…).
 */
export async function loadBacklog(file: string, opts: LoadOptions = {}): Promise<BacklogPlan> {
  const text = await readText(file);
  const squad = opts.squad ? { file: opts.squad, text: await readText(opts.squad) } : undefined;
  // Legacy DONE cards' artifacts are relative to the backlog file (validated: no `..`, not absolute).
  return planBacklog(text, { file, squad, backlogId: opts.backlogId, artifactBase: dirname(resolve(file)) });
}
