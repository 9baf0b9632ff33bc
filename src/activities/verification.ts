/**
 * The verification gate (validator `verification`): the blocking evidence check that runs before the
 * LLM-judge and QA — PRODUCT.md "Validation: artifacts exist, are inside the workspace, non-empty, free of
 * red flags such as TODO/FIXME/placeholder text, required evidence present".
 */
import { open } from "node:fs/promises";
import picomatch from "picomatch";
import type { Verdict, VerificationInput } from "../domain/attempt.js";
import { nowIso, type ActivityDeps } from "./context.js";
import { validatorConfigError } from "./errors.js";
import {
  checkArtifact,
  hasParentSegment,
  looksAbsolute,
  normalizeArtifact,
  realWorkspace,
  workspaceRootDir,
} from "./workspace.js";
import { addedLines } from "./repository/diff.js";

/** A red flag: the phrase a reason names, and the pattern that finds it. */
export interface RedFlag {
  label: string;
  pattern: RegExp;
}

/**
 * The built-in red flags (squad.ts `VerificationSchema`: TODO, FIXME, placeholder, lorem ipsum, not
 * implemented). Deterministic rules:
 * - `TODO`, `FIXME`: upper case, as whole words (`// TODO: x`, `FIXME`), so prose like "todos" or "TODOs"
 *   does not trip them.
 * - `placeholder`: any case, the word or its plural (`[Placeholder: add diagram]`, "placeholder text"),
 *   except where it is code naming the HTML/CSS feature: preceded by a word character, `.`, `:` or `-`
 *   (`::placeholder`, `el.placeholder`, `data-placeholder`); followed by `=` (`placeholder="Email"`); directly
 *   followed by a quote (`"placeholder": 1`, `getAttribute('placeholder')`); or followed by `:` and a
 *   literal value (`{ placeholder: 'x' }`, `placeholder: 3`).
 * - `lorem ipsum`: any case, any whitespace between the words.
 * - `not implemented`: any case, also "not yet implemented".
 */
export const BUILTIN_RED_FLAGS: readonly RedFlag[] = [
  { label: "TODO", pattern: /\bTODO\b/ },
  { label: "FIXME", pattern: /\bFIXME\b/ },
  { label: "placeholder", pattern: /(?<![\w.:-])placeholders?(?!\w)(?!\s*=)(?!["'`])(?!\s*:\s*["'`\d{[])/i },
  { label: "lorem ipsum", pattern: /\blorem\s+ipsum\b/i },
  { label: "not implemented", pattern: /\bnot\s+(?:yet\s+)?implemented\b/i },
  // Left by an unresolved merge (a correction after a merge conflict must resolve it).
  { label: "merge conflict marker", pattern: /^(?:<{7}|>{7})(?: |$)/ },
];

/**
 * A configured extra red flag (`extra_red_flags`): the phrase, any case, whitespace-insensitive, matched as
 * a whole word where it starts or ends with a word character.
 */
export function extraRedFlag(phrase: string): RedFlag {
  const body = phrase
    .trim()
    .split(/\s+/)
    .map((w) => w.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"))
    .join("\\s+");
  const start = /^\w/.test(phrase.trim()) ? "\\b" : "";
  const end = /\w$/.test(phrase.trim()) ? "\\b" : "";
  return { label: phrase, pattern: new RegExp(`${start}${body}${end}`, "i") };
}

/** Bytes of an artifact scanned for red flags (the first 16 MiB). */
export const MAX_SCAN_BYTES = 16 * 1024 * 1024;

/** Reads up to `max` bytes of a file. */
export async function readHead(path: string, max: number): Promise<Buffer> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    const buf = Buffer.alloc(Math.min(size, max));
    let off = 0;
    while (off < buf.length) {
      const { bytesRead } = await fh.read(buf, off, buf.length - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    return buf.subarray(0, off);
  } finally {
    await fh.close();
  }
}

/** True when the bytes look binary (a NUL byte in the first 8 000): such artifacts are not scanned as text. */
export function looksBinary(buf: Buffer): boolean {
  return buf.subarray(0, 8_000).includes(0);
}

/**
 * Red flags found in a text, each with the 1-based line of its first hit and that line (trimmed, ≤ 200
 * chars); with `onlyLines`, only those lines are searched.
 */
export function findRedFlags(
  text: string,
  flags: readonly RedFlag[],
  onlyLines?: ReadonlySet<number>,
): { label: string; line: number; text: string }[] {
  const lines = text.split(/\r?\n/);
  const hits: { label: string; line: number; text: string }[] = [];
  for (const flag of flags) {
    const i = lines.findIndex((l, n) => (onlyLines === undefined || onlyLines.has(n + 1)) && flag.pattern.test(l));
    if (i >= 0) hits.push({ label: flag.label, line: i + 1, text: lines[i]!.trim().slice(0, 200) });
  }
  return hits;
}

/** Compiles a glob of the config, matching with dotfiles; throws a `ValidatorConfigError` naming it. */
export function compileGlob(glob: string, field: string): (path: string) => boolean {
  try {
    return picomatch(glob, { dot: true });
  } catch (err) {
    throw validatorConfigError(`${field} "${glob}" is not a valid glob: ${(err as Error).message}`);
  }
}

/**
 * Creates the verification activity.
 *
 * `verifyArtifacts(input)` checks, in order: at least one artifact; every artifact relative, without `..`,
 * resolving (symlinks followed) to a non-empty regular file inside the real workspace (whitespace-only text
 * counts as empty); no red flag (built-ins + `config.extra_red_flags`) in any text artifact; every
 * `config.required_evidence` glob (picomatch, dotfiles included, relative to the workspace) matched by at
 * least one reported artifact. Every problem is reported, not just the first.
 *
 * Reasons are stable across attempts (same problem → same text), e.g. `artifact "docs/spec.md" contains
 * red flag "TODO"`; line numbers and lines go to `details`.
 *
 * @returns a Verdict of validator `verification`; artifacts' problems make it fail, they are not thrown.
 * @throws ApplicationFailure `WorkspaceError` / `WorkspaceNotFoundError` (workspace path or directory),
 *   `ValidatorConfigError` (an invalid glob).
 */
export function createVerifyArtifacts(deps: ActivityDeps): (input: VerificationInput) => Promise<Verdict> {
  return async function verifyArtifacts(input: VerificationInput): Promise<Verdict> {
    const ws = await realWorkspace(workspaceRootDir(deps, input.workspaceRoot), input.workspace);
    const reasons: string[] = [];
    const details: string[] = [];
    const flags = [...BUILTIN_RED_FLAGS, ...(input.config.extra_red_flags ?? []).map(extraRedFlag)];
    const evidence = (input.config.required_evidence ?? []).map((g) => ({
      glob: g,
      match: compileGlob(g, "required_evidence"),
    }));

    const artifacts = [...new Set(input.artifacts)];
    // In a repository only the lines the attempt added count: the project's own TODOs are not the card's.
    const added = input.git ? await addedLines(ws, input.git) : undefined;
    if (artifacts.length === 0) {
      reasons.push('no artifacts were reported; the owner must list the files it produced in "artifacts"');
    }
    for (const artifact of artifacts) {
      const check = await checkArtifact(ws, artifact);
      if (!check.ok) {
        reasons.push(`artifact "${artifact}" ${check.problem}`);
        continue;
      }
      const head = await readHead(check.path, MAX_SCAN_BYTES);
      if (looksBinary(head)) continue;
      const text = head.toString("utf8");
      if (text.trim() === "") {
        reasons.push(`artifact "${artifact}" is empty`);
        continue;
      }
      // (A changed file the diff did not name plainly, e.g. a quoted path, is scanned whole.)
      for (const hit of findRedFlags(text, flags, added?.get(check.rel))) {
        reasons.push(`artifact "${artifact}" contains red flag "${hit.label}"`);
        details.push(`${check.rel}:${hit.line}: ${hit.text}`);
      }
    }

    const named = artifacts.filter((a) => !looksAbsolute(a) && !hasParentSegment(a)).map(normalizeArtifact);
    for (const { glob, match } of evidence) {
      if (!named.some((a) => match(a))) {
        reasons.push(`required evidence "${glob}" is missing: no artifact matches it`);
      }
    }

    return {
      validator: "verification",
      passed: reasons.length === 0,
      reasons,
      ...(details.length > 0 && { details: details.join("\n") }),
      at: nowIso(deps),
    };
  };
}
