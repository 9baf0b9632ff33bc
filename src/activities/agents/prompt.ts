/**
 * The owner prompt shared by the coding-agent CLIs and the `llm` kind: the card, its acceptance criteria,
 * the artifacts of the dependencies it builds on, and — for a correction — the aggregated feedback of
 * every validator, the debugging agent's root cause and suggestions, and a human's context (PRODUCT.md
 * "Corrections"). Plain markdown, deterministic for a given input.
 */
import { resolve } from "node:path";
import type { OwnerInput } from "../../domain/attempt.js";
import { attemptBranchName } from "../../domain/repository.js";
import { looksAbsolute } from "../workspace.js";
import { EVENTS_PROMPT } from "./events.js";
import type { TextFile } from "./files.js";

/** How the prompt shows files: CLI agents read them themselves (paths); the `llm` kind gets their text. */
export interface PromptFiles {
  /** Dependency artifacts with their text, per dependency card (llm kind); without it, absolute paths are listed. */
  dependencies?: { cardId: string; files: TextFile[] }[];
  /** Files already in the workspace (a correction's copy of the previous attempt), with their text (llm kind). */
  existing?: TextFile[];
}

/** Absolute paths of a dependency's artifacts (relative ones are under the workspaces root). */
export function dependencyPaths(workspacesRoot: string, artifacts: readonly string[]): string[] {
  return artifacts.map((a) => (looksAbsolute(a) ? a : resolve(workspacesRoot, a)));
}

function fence(text: string): string {
  // A fence longer than any backtick run inside, so file contents cannot close it.
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const f = "`".repeat(longest + 1);
  return `${f}\n${text}${text.endsWith("\n") ? "" : "\n"}${f}`;
}

function fileBlock(f: TextFile): string {
  return `### ${f.path}${f.cut ? " (cut)" : ""}\n${fence(f.text)}`;
}

/**
 * Builds the owner prompt.
 *
 * @param input the owner activity's input
 * @param workspace absolute attempt workspace (named in the prompt for CLI agents, which run inside it)
 * @param workspacesRoot absolute workspaces root (dependency artifact paths are relative to it; with a
 *   repository they are relative to the worktree, `workspace`)
 * @param files contents to inline for the `llm` kind; CLI agents get paths only
 */
export function ownerPrompt(
  input: OwnerInput,
  workspace: string,
  workspacesRoot: string,
  files: PromptFiles = {},
): string {
  const { card } = input;
  const repo = input.repository;
  const depsRoot = repo ? workspace : workspacesRoot;
  const out: string[] = [];
  out.push(
    `You are the owner of card ${card.id} of backlog "${input.backlogId}" (type ${card.type}, priority ${card.priority}), attempt ${input.attempt}.`,
  );
  if (repo) {
    // Issue 9: CLI agents are told they work in a real checkout, so they read and change the project's files.
    out.push(
      `Your ${files.dependencies ? "workspace" : `current directory, ${workspace},`} is a git checkout of the project (a worktree on branch ${attemptBranchName(input.backlogId, card.id, input.attempt)}, made from the integration branch ${repo.integrationBranch}) with the work of every finished dependency already in it.`,
      "Make the card's change in the project's files there. You may commit on this branch; whatever you leave uncommitted is committed for you. Do not switch, create or move other branches.",
    );
  } else {
    out.push(
      `Produce the card's artifacts as files in the attempt workspace${files.dependencies ? "" : ` — your current directory, ${workspace}`}.`,
    );
  }
  out.push("", `## Card: ${card.title}`, card.description.trim() || "(no description)");
  if (card.acceptanceCriteria.length > 0) {
    out.push(
      "",
      "## Acceptance criteria (every one must hold)",
      ...card.acceptanceCriteria.map((c, i) => `${i + 1}. ${c}`),
    );
  }
  const deps = input.dependencies.filter((d) => d.artifacts.length > 0);
  if (deps.length > 0) {
    out.push("", "## Dependencies (finished cards this one builds on; read them, do not change them)");
    if (files.dependencies) {
      for (const d of files.dependencies) {
        out.push(`Card ${d.cardId}:`, ...d.files.map(fileBlock));
      }
    } else {
      for (const d of deps) {
        out.push(`- ${d.cardId}: ${repo ? d.artifacts.join(", ") : dependencyPaths(depsRoot, d.artifacts).join(", ")}`);
      }
    }
  }
  const f = input.feedback;
  if (f) {
    out.push(
      "",
      `## Correction round ${f.round}: the previous attempt was rejected`,
      repo
        ? "The worktree already holds the previous attempt's commits. Rework them so that every problem below is fixed; keep what was right."
        : "The workspace already holds the previous attempt's files. Rework them so that every problem below is fixed; keep what was right.",
      "Rejection reasons (validator: reason):",
      ...f.reasons.map((r) => `- ${r}`),
    );
    if (f.rootCause) out.push("", `Root cause (debugging agent): ${f.rootCause}`);
    if (f.suggestions && f.suggestions.length > 0) out.push("Fix suggestions:", ...f.suggestions.map((s) => `- ${s}`));
    if (f.humanContext) out.push("", `Context from a human reviewer (takes precedence): ${f.humanContext}`);
  }
  if (files.existing && files.existing.length > 0) {
    out.push("", "## Files already in the workspace", ...files.existing.map(fileBlock));
  }
  out.push(
    "",
    "## Rules",
    repo
      ? "- Change files only inside the worktree, by relative paths; never touch .git."
      : "- Write every file inside the workspace, by a relative path; change nothing outside it.",
    '- Write finished content: no TODO, FIXME, placeholder, lorem ipsum or "not implemented" text anywhere (verification rejects it).',
    repo
      ? "- Leave no scratch or log files behind: every file you add or change counts as an artifact of the card."
      : "- Leave no scratch or log files behind: every file in the workspace counts as an artifact of the card.",
    "- Never write secrets (API keys, tokens) into any file.",
  );
  // Only agents whose messages squadflow reads as they stream can be reviewed at their events.
  if (input.reviewAtEvents && input.agent.kind !== "llm") out.push("", EVENTS_PROMPT);
  return out.join("\n");
}

/**
 * The prompt of a correction that continues the owner's previous session (the agent remembers the card and
 * its own work): only where the work now is, the validators' feedback (PRODUCT.md "Corrections") and the
 * rules. `input.feedback` must be set.
 */
export function resumePrompt(input: OwnerInput, workspace: string): string {
  const f = input.feedback!;
  const out: string[] = [
    `Correction round ${f.round} of card ${input.card.id}: your previous attempt was rejected.`,
    input.repository
      ? `Your work continues in a new worktree, your current directory ${workspace}, which already holds your previous commits.`
      : `Your files were copied into a new workspace, your current directory ${workspace}: work there (not in the previous directory).`,
    "Rework them so that every problem below is fixed; keep what was right.",
    "",
    "Rejection reasons (validator: reason):",
    ...f.reasons.map((r) => `- ${r}`),
  ];
  if (f.rootCause) out.push("", `Root cause (debugging agent): ${f.rootCause}`);
  if (f.suggestions && f.suggestions.length > 0) out.push("Fix suggestions:", ...f.suggestions.map((s) => `- ${s}`));
  if (f.humanContext) out.push("", `Context from a human reviewer (takes precedence): ${f.humanContext}`);
  out.push(
    "",
    "The rules of your first prompt still hold: finished content only, no scratch files, no secrets in any file.",
  );
  if (input.reviewAtEvents) out.push("", EVENTS_PROMPT);
  return out.join("\n");
}
