/**
 * Attempt workspaces on disk: `<workspacesRoot>/<backlogId>/<cardId>/attempt-<n>` (src/domain/ids.ts
 * `attemptWorkspace`). Every path that comes from a workflow or an agent is resolved here, and nothing
 * is allowed to point outside its root.
 */
import { cp, mkdir, readFile, realpath, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { posix } from "node:path";
import type { WorkspaceRoot } from "../domain/attempt.js";
import { worktreesRootOf, type ActivityDeps } from "./context.js";
import { workspaceError, workspaceNotFoundError } from "./errors.js";

/** True when `p` is absolute on POSIX or Windows (`/x`, `\x`, `C:\x`, `C:/x`). */
export function looksAbsolute(p: string): boolean {
  return isAbsolute(p) || p.startsWith("\\") || /^[A-Za-z]:[\\/]/.test(p);
}

/** True when any `/`- or `\`-separated segment of `p` is `..`. */
export function hasParentSegment(p: string): boolean {
  return p.split(/[\\/]+/).includes("..");
}

/** True when `child` is `parent` itself or below it (both absolute, already normalized). */
export function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === "" || (!rel.startsWith(".." + sep) && rel !== ".." && !isAbsolute(rel));
}

/**
 * The absolute path of a workspace given relative to the workspaces root.
 *
 * @param root absolute workspaces root
 * @param workspace e.g. `shop/SPEC-001/attempt-2`
 * @throws ApplicationFailure `WorkspaceError` (non-retryable) when `workspace` is empty, absolute, contains a
 *   `..` segment, or is the root itself.
 */
export function resolveWorkspace(root: string, workspace: string): string {
  if (workspace.trim() === "") throw workspaceError("workspace path is empty");
  if (looksAbsolute(workspace)) {
    throw workspaceError(`workspace "${workspace}" must be relative to the workspaces root, not absolute`);
  }
  if (hasParentSegment(workspace)) {
    throw workspaceError(`workspace "${workspace}" must not contain ".." segments`);
  }
  const abs = resolve(root, workspace);
  if (abs === resolve(root) || !isInside(resolve(root), abs)) {
    throw workspaceError(`workspace "${workspace}" must be a directory below the workspaces root`);
  }
  return abs;
}

/**
 * The absolute root an input's `workspace` is relative to (issue 9): the worktrees root
 * (`ActivityDeps.worktreesRoot`, default `<baseDir>/state/worktrees`) for `worktrees`, else the workspaces
 * root. Every activity that takes a `workspace` resolves it through this (with `resolveWorkspace`'s checks).
 */
export function workspaceRootDir(
  deps: Pick<ActivityDeps, "workspacesRoot" | "worktreesRoot" | "baseDir">,
  root: WorkspaceRoot | undefined,
): string {
  return root === "worktrees" ? worktreesRootOf(deps) : deps.workspacesRoot;
}

/**
 * The root of an owner input's workspace: the worktrees root when the input targets a repository (its
 * workspace is then a worktree — attempt.ts `OwnerInput.repository`) or says `workspaceRoot: 'worktrees'`.
 */
export function ownerRootDir(
  deps: Pick<ActivityDeps, "workspacesRoot" | "worktreesRoot" | "baseDir">,
  input: { repository?: unknown; workspaceRoot?: WorkspaceRoot },
): string {
  return workspaceRootDir(deps, input.repository !== undefined ? "worktrees" : input.workspaceRoot);
}

/**
 * The owner's working directory, ready for the agent: with a repository, the attempt worktree the owner
 * activity prepared (owner.ts — it must exist); otherwise the attempt workspace, prepared here
 * (`prepareAttemptWorkspace`: emptied, or a copy of the previous attempt).
 *
 * @returns the absolute directory
 * @throws ApplicationFailure `WorkspaceError` for escaping paths; `WorkspaceNotFoundError` when a worktree
 *   that must have been prepared is missing.
 */
export async function openAttemptWorkspace(
  deps: Pick<ActivityDeps, "workspacesRoot" | "worktreesRoot" | "baseDir">,
  input: { workspace: string; previousWorkspace?: string; repository?: unknown; workspaceRoot?: WorkspaceRoot },
): Promise<string> {
  if (input.repository === undefined)
    return prepareAttemptWorkspace(ownerRootDir(deps, input), input.workspace, input.previousWorkspace);
  const root = ownerRootDir(deps, input);
  const dir = resolveWorkspace(root, input.workspace);
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory())
    throw workspaceNotFoundError(`attempt worktree "${input.workspace}" does not exist under ${root}`);
  return dir;
}

/**
 * A file kept beside an attempt workspace, not inside it (so no validator takes it for an artifact and a
 * retry's clean start keeps it): `<workspacesRoot>/<workspace>.<name>.json`, e.g. `attempt-2.owner-result.json`.
 * @throws ApplicationFailure `WorkspaceError` for the paths `resolveWorkspace` refuses.
 */
export function besideWorkspace(root: string, workspace: string, name: string): string {
  return `${resolveWorkspace(root, workspace)}.${name}.json`;
}

/**
 * What a file beside an attempt workspace holds, read with `parse` — or undefined when the workspace or
 * the file is missing, or `parse` throws (a file left half-written by a killed process counts as missing).
 */
export async function readBesideWorkspace<T>(
  root: string,
  workspace: string,
  name: string,
  parse: (text: string) => T,
): Promise<T | undefined> {
  try {
    if (!(await stat(resolveWorkspace(root, workspace))).isDirectory()) return undefined;
    return parse(await readFile(besideWorkspace(root, workspace, name), "utf8"));
  } catch {
    return undefined;
  }
}

/** Writes a file beside an attempt workspace atomically (a temporary file renamed over it). */
export async function writeBesideWorkspace(root: string, workspace: string, name: string, text: string): Promise<void> {
  const path = besideWorkspace(root, workspace, name);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}

/**
 * Makes an attempt workspace ready for the owner, idempotently so that a retried owner activity starts
 * from the same state: the attempt directory is removed if it exists (leftovers of a failed run go), then
 * the previous attempt's workspace is copied into it (a correction reworks the previous artifacts —
 * PRODUCT.md "Corrections"), or an empty directory is created. Symlinks are copied as links.
 *
 * @returns the absolute attempt workspace
 * @throws ApplicationFailure `WorkspaceError` for escaping paths or when both paths are the same;
 *   `WorkspaceNotFoundError` (retryable) when `previousWorkspace` is given but does not exist.
 */
export async function prepareAttemptWorkspace(
  root: string,
  workspace: string,
  previousWorkspace?: string,
): Promise<string> {
  const dir = resolveWorkspace(root, workspace);
  const previous = previousWorkspace === undefined ? undefined : resolveWorkspace(root, previousWorkspace);
  if (previous !== undefined && (isInside(previous, dir) || isInside(dir, previous))) {
    throw workspaceError(
      `previous workspace "${previousWorkspace}" and workspace "${workspace}" must not contain each other`,
    );
  }
  if (previous !== undefined) {
    const st = await stat(previous).catch(() => undefined);
    if (!st?.isDirectory()) {
      throw workspaceNotFoundError(
        `previous workspace "${previousWorkspace}" does not exist under ${root} (is the workspaces directory shared by every worker?)`,
      );
    }
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dirname(dir), { recursive: true });
  if (previous !== undefined) {
    await cp(previous, dir, { recursive: true, verbatimSymlinks: true, errorOnExist: false, force: true });
  } else {
    await mkdir(dir);
  }
  return dir;
}

/**
 * The real (symlink-free) path of an existing attempt workspace.
 *
 * @throws ApplicationFailure `WorkspaceError` for escaping paths; `WorkspaceNotFoundError` (retryable)
 *   when the directory does not exist — validators cannot judge artifacts they cannot see.
 */
export async function realWorkspace(root: string, workspace: string): Promise<string> {
  const dir = resolveWorkspace(root, workspace);
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) {
    throw workspaceNotFoundError(
      `workspace "${workspace}" does not exist under ${root} (is the workspaces directory shared by every worker?)`,
    );
  }
  return realpath(dir);
}

/** An artifact path checked against its workspace: the file on disk, or why it is not acceptable. */
export type ArtifactCheck =
  | {
      ok: true;
      /** As given. */
      artifact: string;
      /** Normalized relative path (see `normalizeArtifact`). */
      rel: string;
      /** Real absolute path. */
      path: string;
      /** Bytes. */
      size: number;
    }
  | { ok: false; artifact: string; problem: string };

/**
 * The normalized form of an artifact path used for display and glob matching: POSIX separators, no `./`
 * prefix, no duplicate slashes (`./docs//spec.md` → `docs/spec.md`).
 */
export function normalizeArtifact(artifact: string): string {
  const n = posix.normalize(artifact.replace(/\\/g, "/"));
  return n === "." ? "" : n.replace(/\/$/, "");
}

const GIT_PROBLEM = "is git's own data (.git), never an artifact";

/** True when a relative path is `.git` or below it (any segment, any case: case-insensitive file systems). */
function inGitDir(rel: string): boolean {
  return rel.split(/[\\/]+/).some((seg) => seg.toLowerCase() === ".git");
}

/**
 * Checks that an artifact is a regular file inside the workspace — the verification gate's path rules
 * (PRODUCT.md "Validation": artifacts exist and are inside the workspace). Relative, no `..` segment, no
 * `.git` segment (git's own data is never an artifact — issue 9: in a worktree `.git` is a file, and
 * `.git/…` of a repository holds its config and hooks), and its real path (symlinks followed) is a regular
 * file below the real workspace, again outside any `.git`. `problem` is a stable sentence fragment such as
 * `does not exist` or `resolves outside the workspace`.
 *
 * @param realWs the real path of the workspace (see `realWorkspace`)
 */
export async function checkArtifact(realWs: string, artifact: string): Promise<ArtifactCheck> {
  const fail = (problem: string): ArtifactCheck => ({ ok: false, artifact, problem });
  if (artifact.trim() === "") return fail("is not a file path");
  if (looksAbsolute(artifact)) return fail("is an absolute path; artifacts must be relative to the workspace");
  if (hasParentSegment(artifact)) return fail('leaves the workspace (".." segment)');
  const rel = normalizeArtifact(artifact);
  if (rel === "") return fail("is not a regular file");
  if (inGitDir(rel)) return fail(GIT_PROBLEM);
  let real: string;
  try {
    real = await realpath(resolve(realWs, rel));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return fail(code === "ENOENT" || code === "ENOTDIR" ? "does not exist" : `cannot be resolved (${code ?? "error"})`);
  }
  if (!isInside(realWs, real) || real === realWs) {
    return real === realWs ? fail("is not a regular file") : fail("resolves outside the workspace");
  }
  if (inGitDir(relative(realWs, real))) return fail(GIT_PROBLEM);
  const st = await stat(real);
  if (!st.isFile()) return fail("is not a regular file");
  return { ok: true, artifact, rel, path: real, size: st.size };
}
