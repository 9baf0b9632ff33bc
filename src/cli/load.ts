/**
 * Reads a backlog file (and optional squad file) and validates it whole with `planBacklog` — before any
 * workflow starts.
 */
import { readFile, stat } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import {
  BacklogValidationError,
  planBacklog,
  withRepository,
  type BacklogIssue,
  type BacklogPlan,
} from "../domain/index.js";
import { RepositoryError, inspectRepository } from "../activities/repository/index.js";

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
    throw new BacklogValidationError([
      { file, field: "", message: `cannot read file (${code ?? (err as Error).message})` },
    ]);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new BacklogValidationError([{ file, field: "", message: "not valid UTF-8 text" }]);
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
  const plan = planBacklog(text, {
    file,
    squad,
    backlogId: opts.backlogId,
    artifactBase: dirname(resolve(file)),
    repository: opts.repo,
  });
  return resolveAllowDirs(file, await resolveRepository(file, plan, opts), opts);
}

/**
 * The plan with every card type's `permissions.allow_dirs` made absolute: a relative one against the local
 * repository the backlog delivers into, else against the squad config's directory (the backlog file's when
 * the squad is a section of it). Checked on this machine: each must be an existing directory (the worker's
 * must have it at the same path).
 * @throws BacklogValidationError naming the squad file, the card type and the field
 *   (`card_types.<T>.permissions.allow_dirs[i]`) of every directory that is missing or not a directory,
 *   or relative while the repository is a URL (cloned on the worker, so nothing to resolve it against here).
 */
export async function resolveAllowDirs(
  file: string,
  plan: BacklogPlan,
  opts: Pick<LoadOptions, "squad"> = {},
): Promise<BacklogPlan> {
  const squadFile = opts.squad ?? file;
  const prefix = opts.squad ? "" : "squad.";
  const base = plan.repository?.path ?? dirname(resolve(squadFile));
  const issues: BacklogIssue[] = [];
  const resolved = new Map<string, string[]>();
  for (const { card, typeConfig } of plan.cards) {
    const dirs = typeConfig.permissions?.allow_dirs ?? [];
    if (dirs.length === 0 || resolved.has(card.type)) continue;
    const absolute: string[] = [];
    for (const [i, dir] of dirs.entries()) {
      const field = `${prefix}card_types.${card.type}.permissions.allow_dirs[${i}]`;
      if (!isAbsolute(dir) && plan.repository?.url !== undefined) {
        issues.push({
          file: squadFile,
          field,
          message: `"${dir}" is relative but the repository is a URL (cloned on the worker): give an absolute path`,
        });
        continue;
      }
      const path = resolve(base, dir);
      const st = await stat(path).catch(() => undefined);
      if (!st?.isDirectory()) {
        issues.push({
          file: squadFile,
          field,
          message: `"${dir}" ${st ? "is not a directory" : "does not exist"} (${path})`,
        });
        continue;
      }
      absolute.push(path);
    }
    resolved.set(card.type, absolute);
  }
  if (issues.length > 0) throw new BacklogValidationError(issues);
  if (resolved.size === 0) return plan;
  return {
    ...plan,
    cards: plan.cards.map((c) => {
      const dirs = resolved.get(c.card.type);
      return dirs && c.typeConfig.permissions
        ? { ...c, typeConfig: { ...c.typeConfig, permissions: { ...c.typeConfig.permissions, allow_dirs: dirs } } }
        : c;
    }),
  };
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
    const field = err.field === "metadata.repository" && opts.repo !== undefined ? "--repo" : err.field;
    throw new BacklogValidationError([{ file, field, message: err.message.replace(/^[^:]+: /, "") }]);
  }
}
