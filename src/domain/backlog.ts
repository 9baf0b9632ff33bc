/**
 * The backlog file: the seed's `backlog_master.json` shape, accepted as-is (snake_case, unknown fields
 * kept), plus an optional `squad` section — PRODUCT.md "Contracts that tooling depends on".
 */
import { z } from "zod";
import { CARD_STATUSES } from "./lifecycle.js";
import { CARD_ID_PATTERN, BACKLOG_ID_PATTERN } from "./ids.js";
import { SquadSchema } from "./squad.js";

import { PRIORITIES } from "./priority.js";

export { COORDINATOR_PRIORITY_KEY, PRIORITIES, PRIORITY_KEYS, cardPriorityKey, type Priority } from "./priority.js";

/**
 * Why a legacy artifact path is unsafe, or `undefined` when it is fine. Legacy artifact paths are handed to
 * owner agents as dependency artifacts, resolved against the workspaces root, so they must stay inside it:
 * relative (no leading `/` or `\`, no drive letter like `C:`), without `..` segments (either separator), not
 * empty, no NUL character.
 */
export function artifactPathProblem(path: string): string | undefined {
  if (path.trim() === "") return "artifact path is empty";
  if (path.includes("\0")) return `artifact path "${path.replace(/\0/g, "\\0")}" contains a NUL character`;
  if (/^[\\/]/.test(path) || /^[A-Za-z]:/.test(path)) {
    return `artifact path "${path}" is absolute; artifact paths must be relative to the workspaces root`;
  }
  if (path.split(/[\\/]/).includes("..")) {
    return `artifact path "${path}" contains a ".." segment; artifact paths must stay inside the workspaces root`;
  }
  return undefined;
}

/** A legacy artifact path: a string that `artifactPathProblem` accepts. */
const ArtifactPathSchema = z.string().superRefine((path, ctx) => {
  const problem = artifactPathProblem(path);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** An artifact as the seed wrote it: a path, or an object with a `path` (see `artifactPathProblem` for the rules). */
export const LegacyArtifactSchema = z.union([ArtifactPathSchema, z.looseObject({ path: ArtifactPathSchema })], {
  error: 'an artifact is a path string or an object with a "path" string',
});

/**
 * Longest card description, characters. The whole backlog travels as one workflow input and Temporal refuses
 * payloads over 2 MiB (its default blob size limit), so a huge description must be refused here, naming the
 * card, not by the server at start.
 */
export const MAX_DESCRIPTION_CHARS = 100_000;

/** The seed's `cost_tracking` block (tokens, USD); unknown fields kept. */
export const CostTrackingSchema = z.looseObject({
  tokens_input: z.number().int().nonnegative().optional(),
  tokens_output: z.number().int().nonnegative().optional(),
  total_tokens: z.number().int().nonnegative().optional(),
  cost_usd: z.number().nonnegative().optional(),
});

/** One card of `backlog_master.json`. */
export const BacklogCardSchema = z.looseObject({
  id: z.string().regex(CARD_ID_PATTERN, 'must be 1–100 letters, digits, ".", "_" or "-"'),
  type: z.string().min(1),
  title: z.string().min(1),
  description: z.string().max(MAX_DESCRIPTION_CHARS, `must be at most ${MAX_DESCRIPTION_CHARS} characters`).default(""),
  status: z.enum(CARD_STATUSES).default("TODO"),
  priority: z.enum(PRIORITIES).default("MEDIUM"),
  dependencies: z.array(z.string()).default([]),
  attempt: z.number().int().nonnegative().default(0),
  artifacts: z.array(LegacyArtifactSchema).default([]),
  validation_history: z.array(z.looseObject({})).default([]),
  cost_tracking: CostTrackingSchema.default({}),
  acceptance_criteria: z.array(z.string()).default([]),
  /** Overrides the owner agent of the card type (a key of `squad.agents`). */
  owner: z.string().min(1).optional(),
  /** The card's budget, USD (overrides `squad.budget.per_card_usd`): no owner/judge run starts past it. */
  budget_usd: z.number().positive().optional(),
  /**
   * The card's turn limit (overrides the owner agent's `max_turns`): Claude Code `--max-turns`. Refused by
   * `planBacklog` when the card's owner agent is of a kind without a turn-limit flag (not `claude-code`).
   */
  max_turns: z.number().int().positive().optional(),
  /**
   * Whether the card's first attempt is a council (issue 12): overrides its type's `deliberation.default`;
   * `true` needs a `deliberation` on the card type (`planBacklog` refuses it otherwise).
   */
  requires_deliberation: z.boolean().optional(),
  /** A legacy correction card (`type: CORRECTION`) names the card it corrects. */
  parent_card: z.string().optional(),
  // The seed wrote null where a value was not known yet (`"completed_at": null`): null is accepted and kept.
  created_at: z.string().nullable().optional(),
  updated_at: z.string().nullable().optional(),
  started_at: z.string().nullable().optional(),
  completed_at: z.string().nullable().optional(),
  task_id: z.string().nullable().optional(),
  blocking_issue: z.string().nullable().optional(),
  next_action: z.string().nullable().optional(),
});
/** A card as read from the file. */
export type BacklogCard = z.infer<typeof BacklogCardSchema>;

/** The file's `metadata`; `backlog_id` names the backlog (else the file name does). */
export const BacklogMetadataSchema = z.looseObject({
  backlog_id: z.string().regex(BACKLOG_ID_PATTERN, 'must be 1–100 letters, digits, ".", "_" or "-"').optional(),
  project: z.string().optional(),
  created_at: z.string().nullable().optional(),
  updated_at: z.string().nullable().optional(),
  /**
   * The git repository the backlog delivers into (issue 9): a local path (relative to the backlog file) or a
   * clone URL. Absent: every attempt works in an isolated folder, as before repositories existed.
   */
  repository: z.string().trim().min(1, "must be a path or a clone URL").optional(),
  /** The branch the integration branch `squadflow/<backlogId>` is created from; default: the repository's current branch. */
  base_branch: z.string().trim().min(1).optional(),
  /** Push the integration branch to `remote` (as `branch`, default the same name) when the backlog finishes. */
  push: z.strictObject({ remote: z.string().trim().min(1), branch: z.string().trim().min(1).optional() }).optional(),
});

/** The whole backlog file. */
export const BacklogFileSchema = z.looseObject({
  metadata: BacklogMetadataSchema.default({}),
  cards: z.array(BacklogCardSchema),
  squad: SquadSchema.optional(),
});
/** A backlog file as parsed (before the cross-card checks of `validateBacklog`). */
export type BacklogFile = z.infer<typeof BacklogFileSchema>;

/** The card type of a legacy correction card: folded into its parent's history, never run alone. */
export const CORRECTION_TYPE = "CORRECTION";
