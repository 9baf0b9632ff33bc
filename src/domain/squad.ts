/**
 * The squad config: which owner agent produces each card type, and how the validation pipeline judges
 * it. Lives in the backlog file under `squad` (snake_case like the rest of the file) or in a separate
 * JSON file passed with `--squad`. Pure zod schemas, shared by client, workflows and activities.
 */
import { z } from 'zod';

/** Milliseconds, a positive integer. */
const Ms = z.number().int().positive();

/**
 * The `command` agent kind: runs `command args…` in the attempt's workspace, card JSON on stdin, result
 * JSON on stdout (see `src/activities/owner.ts` for the protocol). `command` and `args` that start
 * with `./` or `../` are resolved against the worker's base directory (where `squadflow` runs).
 */
export const CommandAgentSchema = z.object({
  kind: z.literal('command'),
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  /** Hard wall-clock limit of one run, ms (default 10 min). The process group is killed past it. */
  timeout_ms: Ms.default(600_000),
  /** Extra environment variables for the agent process. */
  env: z.record(z.string(), z.string()).default({}),
});
/** A configured `command` owner agent. */
export type CommandAgentConfig = z.infer<typeof CommandAgentSchema>;

/** Any owner agent kind. Only `command` exists today; issue 3 adds coding-agent CLIs and LLM APIs. */
export const AgentSchema = z.discriminatedUnion('kind', [CommandAgentSchema]);
/** A configured owner agent. */
export type AgentConfig = z.infer<typeof AgentSchema>;

/** What one rubric criterion checks. `file` is a glob over the artifacts (default: every artifact). */
export const RubricCheckSchema = z.discriminatedUnion('type', [
  /** A markdown heading (any level) whose text equals `heading` (case-insensitive). */
  z.object({ type: z.literal('section'), heading: z.string().min(1), file: z.string().optional() }),
  /** A regular expression (JavaScript syntax, flag `m`) that must match. */
  z.object({ type: z.literal('regex'), pattern: z.string().min(1), file: z.string().optional() }),
  /** A substring that must occur (case-sensitive). */
  z.object({ type: z.literal('contains'), text: z.string().min(1), file: z.string().optional() }),
  /** A command, run in the workspace, that must exit 0. */
  z.object({
    type: z.literal('command'),
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    timeout_ms: Ms.default(60_000),
  }),
]);
/** One rubric check. */
export type RubricCheck = z.infer<typeof RubricCheckSchema>;

/** A weighted rubric criterion; its `name` is what a rejection reason cites. */
export const RubricCriterionSchema = z.object({
  name: z.string().min(1),
  weight: z.number().positive().default(1),
  check: RubricCheckSchema,
});
/** A weighted rubric criterion. */
export type RubricCriterion = z.infer<typeof RubricCriterionSchema>;

/** Pass threshold of the LLM-judge, score 0–10 — PRODUCT.md ("pass at ≥ 8.0"). */
export const DEFAULT_PASS_SCORE = 8.0;

/**
 * The LLM-judge step. Kind `rubric` is the deterministic offline judge: score = 10 × (weight of met
 * criteria ÷ total weight). Pluggable: other kinds (an LLM) join this union later.
 */
export const JudgeSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('rubric'),
    pass_score: z.number().min(0).max(10).default(DEFAULT_PASS_SCORE),
    criteria: z.array(RubricCriterionSchema).min(1),
  }),
]);
/** A configured judge. */
export type JudgeConfig = z.infer<typeof JudgeSchema>;

/** One QA check: a command run in the workspace (tests, linters); fails on non-zero exit or timeout. */
export const QaCheckSchema = z.object({
  name: z.string().min(1),
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  timeout_ms: Ms.default(300_000),
});
/** A configured QA check. */
export type QaCheck = z.infer<typeof QaCheckSchema>;

/** The verification gate's per-type settings. */
export const VerificationSchema = z.object({
  /** Globs (relative to the workspace) that at least one artifact must match each: the required evidence. */
  required_evidence: z.array(z.string().min(1)).default([]),
  /** Extra red-flag phrases on top of the built-in ones (TODO, FIXME, placeholder, lorem ipsum, not implemented). */
  extra_red_flags: z.array(z.string().min(1)).default([]),
});
/** Verification settings of a card type. */
export type VerificationConfig = z.infer<typeof VerificationSchema>;

/** How one card type is produced and validated. */
export const CardTypeSchema = z.object({
  /** Name of the owner agent (a key of `squad.agents`). */
  owner: z.string().min(1),
  verification: VerificationSchema.default({ required_evidence: [], extra_red_flags: [] }),
  judge: JudgeSchema,
  qa: z.object({ checks: z.array(QaCheckSchema).default([]) }).default({ checks: [] }),
});
/** Settings of one card type. */
export type CardTypeConfig = z.infer<typeof CardTypeSchema>;

/** Default per-card cost alert threshold, USD — PRODUCT.md ("default $1.00"). */
export const DEFAULT_COST_ALERT_USD = 1.0;

/** The whole squad config. */
export const SquadSchema = z.object({
  agents: z.record(z.string(), AgentSchema),
  card_types: z.record(z.string(), CardTypeSchema),
  /** Per-card cost alert threshold, USD. */
  cost_alert_usd: z.number().nonnegative().default(DEFAULT_COST_ALERT_USD),
});
/** The squad config as parsed. */
export type SquadConfig = z.infer<typeof SquadSchema>;
