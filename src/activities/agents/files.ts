/**
 * Files of an attempt workspace for the agent kinds that do not report artifacts themselves: the
 * coding-agent CLIs (whatever they left in the workspace is the card's output) and the `llm` kind (it
 * returns file contents, written here — inside the workspace only).
 */
import { lstat, mkdir, readFile, readdir, realpath, stat, unlink, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { hasParentSegment, isInside, looksAbsolute, normalizeArtifact } from "../workspace.js";
import { looksBinary, MAX_SCAN_BYTES, readHead } from "../verification.js";
import { redact, type Secret } from "../secrets.js";

/**
 * Directories never listed as artifacts: version control, dependencies, virtualenvs, caches, and the
 * CLIs' own state directories.
 */
export const IGNORED_DIRS: ReadonlySet<string> = new Set([
  ".git",
  "node_modules",
  ".venv",
  "venv",
  "__pycache__",
  ".pytest_cache",
  ".mypy_cache",
  ".cache",
  ".claude",
  ".codex",
  ".gemini",
]);

/** Most files listed as artifacts of one run. */
export const MAX_LISTED_FILES = 1_000;

/**
 * The regular files of a workspace, as sorted POSIX paths relative to it: symlinks and everything under
 * `IGNORED_DIRS` are left out; at most `max` paths (`truncated` says when there were more).
 */
export async function listWorkspaceFiles(
  workspace: string,
  max = MAX_LISTED_FILES,
): Promise<{ files: string[]; truncated: boolean }> {
  const files: string[] = [];
  let truncated = false;
  const walk = async (dir: string, rel: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    for (const e of entries) {
      if (files.length >= max) {
        truncated = true;
        return;
      }
      const childRel = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!IGNORED_DIRS.has(e.name)) await walk(join(dir, e.name), childRel);
      } else if (e.isFile()) {
        files.push(childRel);
      }
    }
  };
  await walk(workspace, "");
  return { files, truncated };
}

/** A text file to show a model: its path and (possibly cut) content. */
export interface TextFile {
  path: string;
  text: string;
  /** True when the text was cut to fit the budget (or the file is binary and not shown). */
  cut: boolean;
}

/**
 * Reads files for a prompt, in order, within `maxChars` characters in total: binary files are named but
 * not shown; a file that does not fit is cut (and says so). Unreadable files are skipped.
 *
 * @param paths absolute paths, each shown as `display(path)`
 */
export async function readForPrompt(
  paths: readonly string[],
  maxChars: number,
  display: (abs: string) => string = (p) => p,
): Promise<TextFile[]> {
  const out: TextFile[] = [];
  let left = maxChars;
  for (const abs of paths) {
    let buf: Buffer;
    try {
      buf = await readHead(abs, Math.max(0, left) * 4 + 4);
    } catch {
      continue;
    }
    if (looksBinary(buf)) {
      out.push({ path: display(abs), text: "(binary file, not shown)", cut: true });
      continue;
    }
    const text = buf.toString("utf8");
    if (left <= 0) {
      out.push({ path: display(abs), text: "(not shown: the prompt's size limit was reached)", cut: true });
      continue;
    }
    const cut = text.length > left;
    out.push({ path: display(abs), text: cut ? text.slice(0, left) : text, cut });
    left -= Math.min(text.length, left);
  }
  return out;
}

/** A file a model asked to write. */
export interface FileToWrite {
  path: string;
  content: string;
}

/** Most files one `llm` answer may write. */
export const MAX_WRITTEN_FILES = 200;
/** Most characters one `llm` answer may write in total (10 MiB of text). */
export const MAX_WRITTEN_CHARS = 10 * 1024 * 1024;

/**
 * Why a path a model returned cannot be written, or `undefined` when it is a plain relative path inside
 * the workspace: empty, absolute, with a `..` segment, with a NUL byte, or naming the workspace itself.
 */
export function badWritePath(path: string): string | undefined {
  if (path.trim() === "") return "is empty";
  if (path.includes("\0")) return "contains a NUL byte";
  if (looksAbsolute(path)) return "is absolute; paths must be relative to the workspace";
  if (hasParentSegment(path)) return 'leaves the workspace (".." segment)';
  if (normalizeArtifact(path) === "") return "names the workspace itself, not a file";
  return undefined;
}

/**
 * Writes files inside a workspace, refusing escapes: every path is checked first (`badWritePath`, no
 * duplicates, at most `MAX_WRITTEN_FILES` files and `MAX_WRITTEN_CHARS` characters) and nothing is written
 * when one fails; then each parent directory is created and must resolve (symlinks followed) inside the
 * real workspace, and a symlink at the target is replaced by a regular file rather than written through.
 *
 * @returns the normalized relative paths written, in order
 * @throws Error naming the path and the problem (the caller wraps it as an `AgentOutputError`)
 */
export async function writeWorkspaceFiles(workspace: string, files: readonly FileToWrite[]): Promise<string[]> {
  if (files.length > MAX_WRITTEN_FILES)
    throw new Error(`asked to write ${files.length} files; at most ${MAX_WRITTEN_FILES} per run`);
  const total = files.reduce((n, f) => n + f.content.length, 0);
  if (total > MAX_WRITTEN_CHARS)
    throw new Error(`asked to write ${total} characters; at most ${MAX_WRITTEN_CHARS} per run`);
  const seen = new Set<string>();
  const rels: string[] = [];
  for (const f of files) {
    const problem = badWritePath(f.path);
    if (problem) throw new Error(`file path "${f.path}" ${problem}`);
    const rel = normalizeArtifact(f.path.replace(/\\/g, "/"));
    if (seen.has(rel)) throw new Error(`file path "${f.path}" is given twice`);
    seen.add(rel);
    rels.push(rel);
  }
  const real = await realpath(workspace);
  for (let i = 0; i < files.length; i++) {
    const rel = rels[i]!;
    const target = resolve(real, rel);
    await mkdir(dirname(target), { recursive: true });
    const parent = await realpath(dirname(target));
    if (!isInside(real, parent))
      throw new Error(`file path "${files[i]!.path}" resolves outside the workspace (through a symlink)`);
    const st = await lstat(target).catch(() => undefined);
    if (st?.isSymbolicLink()) await unlink(target);
    else if (st?.isDirectory()) throw new Error(`file path "${files[i]!.path}" is a directory in the workspace`);
    await writeFile(target, files[i]!.content, "utf8");
  }
  return rels;
}

/**
 * Replaces every secret value found in the given workspace files with `[REDACTED:<NAME>]`, in place — the
 * agent-kinds issue: "secrets never appear in artifacts". Text files up to `MAX_SCAN_BYTES` are scanned
 * (larger and binary ones are left as they are).
 *
 * @param files paths relative to the workspace
 * @returns the files that held a secret, with the variable names found
 */
export async function redactSecretsInFiles(
  workspace: string,
  files: readonly string[],
  secrets: readonly Secret[],
): Promise<{ file: string; names: string[] }[]> {
  if (secrets.length === 0) return [];
  const hits: { file: string; names: string[] }[] = [];
  for (const rel of files) {
    const abs = join(workspace, rel);
    const st = await stat(abs).catch(() => undefined);
    if (!st?.isFile() || st.size > MAX_SCAN_BYTES) continue;
    const buf = await readFile(abs);
    if (looksBinary(buf)) continue;
    const text = buf.toString("utf8");
    const names = secrets.filter((s) => text.includes(s.value)).map((s) => s.name);
    if (names.length === 0) continue;
    await writeFile(abs, redact(text, secrets), "utf8");
    hits.push({ file: rel, names });
  }
  return hits;
}
