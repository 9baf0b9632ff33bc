/**
 * Reads a backlog file (and optional squad file) and validates it whole with `planBacklog` — before any
 * workflow starts.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { BacklogValidationError, planBacklog, withRepository, type BacklogPlan } from '../domain/index.js';
import { RepositoryError, inspectRepository } from '../activities/repository/index.js';

/** Options of `loadBacklog`. */
export interface LoadOptions {
  /** A separate squad config file. */
  squad?: string;
  /** Backlog id overriding `metadata.backlog_id`. */
  backlogId?: string;
  /** `--repo PATH|URL`: the repository to deliver into, overriding `metadata.repository` (a relative path: against the working directory). */
  repo?: string;
  /** `--keep-branches`: attempt branches stay after the backlog ends. */
  keepBranches?: boolean;
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
  const plan = planBacklog(text, { file, squad, backlogId: opts.backlogId, artifactBase: dirname(resolve(file)), repository: opts.repo });
  return resolveRepository(file, plan, opts);
}

/**
 * The plan with its repository checked (`inspectRepository`: a git repository with the base branch, a
 * clean working tree where that matters, a push remote that exists) — or the plan as it is when the
 * backlog targets none. `--repo` wins over `metadata.repository`; a relative `metadata.repository` is
 * relative to the backlog file, a relative `--repo` to the working directory.
 * @throws BacklogValidationError naming the file and the field (`metadata.repository`, `metadata.base_branch`, …).
 */
async function resolveRepository(file: string, plan: BacklogPlan, opts: LoadOptions): Promise<BacklogPlan> {
  const metadata = plan.source.metadata;
  const source = opts.repo ?? metadata.repository;
  if (source === undefined) return plan;
  try {
    const target = await inspectRepository({
      source,
      baseDir: opts.repo !== undefined ? process.cwd() : dirname(resolve(file)),
      backlogId: plan.backlogId,
      ...(metadata.base_branch ? { baseBranch: metadata.base_branch } : {}),
      ...(metadata.push ? { push: metadata.push } : {}),
      ...(opts.keepBranches ? { keepBranches: true } : {}),
      cardIds: plan.cards.map((c) => c.card.id),
    });
    return withRepository(plan, target);
  } catch (err) {
    if (!(err instanceof RepositoryError)) throw err;
    const field = err.field === 'metadata.repository' && opts.repo !== undefined ? '--repo' : err.field;
    throw new BacklogValidationError([{ file, field, message: err.message.replace(/^[^:]+: /, '') }]);
  }
}
