/**
 * The diff of an attempt (issue 9): whole for `squadflow diff BACKLOG CARD`, bounded for the LLM-judge's
 * prompt.
 */
import type { AttemptGit } from "../../domain/repository.js";
import { git } from "./git.js";

/** Characters of an attempt's diff the LLM-judge gets (100 KB); the rest is cut with a note. */
export const MAX_JUDGE_DIFF_CHARS = 100_000;

/**
 * `git diff <baseCommit>..<headCommit>` of an attempt, as text (no color, no external diff driver).
 *
 * @param repoDir the repository, or any of its worktrees
 * @throws GitError naming the command (e.g. a commit that is not in this repository)
 */
export async function attemptDiff(
  repoDir: string,
  attempt: Pick<AttemptGit, "baseCommit" | "headCommit">,
): Promise<string> {
  return (
    await git(repoDir, ["diff", "--no-color", "--no-ext-diff", `${attempt.baseCommit}..${attempt.headCommit}`, "--"])
  ).stdout;
}

/**
 * An attempt's diff of at most `maxChars` characters: cut at a line end, with a note saying how much was
 * left out. @throws GitError
 */
export async function boundedAttemptDiff(
  repoDir: string,
  attempt: Pick<AttemptGit, "baseCommit" | "headCommit">,
  maxChars = MAX_JUDGE_DIFF_CHARS,
): Promise<{ text: string; cut: boolean }> {
  const diff = await attemptDiff(repoDir, attempt);
  if (diff.length <= maxChars) return { text: diff, cut: false };
  const end = diff.lastIndexOf("\n", maxChars);
  const kept = diff.slice(0, end > 0 ? end + 1 : maxChars);
  return {
    text: `${kept}\n[diff cut: ${diff.length - kept.length} of ${diff.length} characters left out]\n`,
    cut: true,
  };
}

/**
 * The 1-based line numbers (in the head version) that an attempt added or changed, by file, from the
 * hunk headers of one `git diff -U0 <base> <head>`: what the verification gate scans for red flags in a
 * repository, so that a TODO the project already had in a file the card edited is not the card's. A file
 * the attempt created has every line in its set; a file it did not touch is absent.
 * @returns repository-relative path → line numbers
 * @throws GitError
 */
export async function addedLines(
  repoDir: string,
  attempt: Pick<AttemptGit, "baseCommit" | "headCommit">,
): Promise<Map<string, Set<number>>> {
  const out = (
    await git(repoDir, [
      "-c",
      "core.quotePath=false",
      "diff",
      "--no-color",
      "--no-ext-diff",
      "-U0",
      "--no-renames",
      attempt.baseCommit,
      attempt.headCommit,
      "--",
    ])
  ).stdout;
  const byFile = new Map<string, Set<number>>();
  let lines: Set<number> | undefined;
  for (const line of out.split("\n")) {
    if (line.startsWith("+++ ")) {
      lines = line === "+++ /dev/null" ? undefined : new Set<number>();
      if (lines) byFile.set(line.slice("+++ b/".length), lines);
      continue;
    }
    const m = lines && /^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@/.exec(line);
    if (!m) continue;
    const start = Number(m[1]);
    const count = m[2] === undefined ? 1 : Number(m[2]);
    for (let i = 0; i < count; i++) lines!.add(start + i);
  }
  return byFile;
}
