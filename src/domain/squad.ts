/**
 * The squad config: which owner agent produces each card type, and how the validation pipeline judges
 * it. Lives in the backlog file under `squad` (snake_case like the rest of the file) or in a separate
 * JSON file passed with `--squad`. Pure zod schemas, shared by client, workflows and activities.
 */
import { z } from "zod";
import { NotificationsSchema } from "./notifications.js";
import {
  DEBUGGING_ACTIVITY_TIMEOUT_MS,
  MAX_AGENT_TIMEOUT_MS,
  MAX_DEBUGGER_TIMEOUT_MS,
  MAX_JUDGE_TIMEOUT_MS,
  OWNER_ACTIVITY_TIMEOUT_MS,
  VALIDATION_ACTIVITY_TIMEOUT_MS,
  formatMs,
} from "./timeouts.js";

/** Milliseconds, a positive integer. */
const Ms = z.number().int().positive();

/**
 * A run's hard limit, ms, at most `max`: the activity running it times out after `activityMs`
 * (src/domain/timeouts.ts), and the run's own limit must fire first (a typed, explained timeout).
 */
function runLimitMs(max: number, activity: string, activityMs: number) {
  return Ms.max(max, {
    error: `must be at most ${max} (${formatMs(max)}): the ${activity} activity times out after ${formatMs(activityMs)} and this limit must fire first`,
  });
}

/** Hard limit of an owner agent run, ms (≤ 60 min: the owner activity times out after 65). */
const AgentTimeoutMs = runLimitMs(MAX_AGENT_TIMEOUT_MS, "owner", OWNER_ACTIVITY_TIMEOUT_MS);

/**
 * The `command` agent kind: runs `command args…` in the attempt's workspace, card JSON on stdin, result
 * JSON on stdout (see `src/activities/owner.ts` for the protocol). `command` and `args` that start
 * with `./` or `../` are resolved against the worker's base directory (where `squadflow` runs).
 */
export const CommandAgentSchema = z.object({
  kind: z.literal("command"),
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  /** Hard wall-clock limit of one run, ms (default 10 min, at most 60 min). The process group is killed past it. */
  timeout_ms: AgentTimeoutMs.default(600_000),
  /** Extra environment variables for the agent process. */
  env: z.record(z.string(), z.string()).default({}),
});
/** A configured `command` owner agent. */
export type CommandAgentConfig = z.infer<typeof CommandAgentSchema>;

/** Default hard wall-clock limit of a coding-agent CLI or LLM run, ms (60 min — the old Celery hard limit, PRODUCT.md). */
export const DEFAULT_AGENT_TIMEOUT_MS = 3_600_000;
/** Default soft limit, ms (50 min — the old Celery soft limit): past it the activity logs a warning. */
export const DEFAULT_AGENT_SOFT_TIMEOUT_MS = 3_000_000;

/**
 * The soft limit of a run whose config gives none, ms: 50 min, or 5/6 of a shorter hard limit (the
 * 50-of-60 ratio of the old Celery limits), so that a short `timeout_ms` alone is a valid config.
 */
export function defaultSoftTimeoutMs(timeoutMs: number): number {
  return Math.min(DEFAULT_AGENT_SOFT_TIMEOUT_MS, Math.max(1, Math.floor((timeoutMs * 5) / 6)));
}

/** Fills in `soft_timeout_ms` when absent (`defaultSoftTimeoutMs`). */
function withSoftTimeout<T extends { timeout_ms: number; soft_timeout_ms?: number | undefined }>(
  v: T,
): T & { soft_timeout_ms: number } {
  return { ...v, soft_timeout_ms: v.soft_timeout_ms ?? defaultSoftTimeoutMs(v.timeout_ms) };
}

/** Refuses a soft limit that would never warn before the hard limit kills the run. */
function softBelowHard(v: { timeout_ms: number; soft_timeout_ms: number }, ctx: z.RefinementCtx): void {
  if (v.soft_timeout_ms >= v.timeout_ms) {
    ctx.addIssue({
      code: "custom",
      path: ["soft_timeout_ms"],
      message: `must be below timeout_ms (${v.timeout_ms}): the soft limit warns before the hard limit kills the run`,
    });
  }
}

/** An environment variable name (`ANTHROPIC_API_KEY`). */
export const EnvNameSchema = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name");

/**
 * Names that look like they hold a secret (`…KEY`, `…TOKEN`, `…SECRET`, `…PASSWORD`, `…CREDENTIAL(S)`,
 * `…AUTH…`): such variables may only be passed through from the worker by name, never given as values in
 * the squad config (which travels in workflow history).
 */
export const SECRET_ENV_NAME = /KEY|TOKEN|SECRET|PASSW(?:OR)?D|CREDENTIAL|AUTH/i;

/**
 * A field that must never hold a value: API keys live in the worker's environment and the config only
 * names the variable (`api_key_env`) — the secrets rule of the agent-kinds issue.
 */
const NoApiKeyValue = z
  .never({
    error:
      'never put an API key in the squad config: set it in the worker\'s environment and name the variable in "api_key_env"',
  })
  .optional();

/** The fields every coding-agent CLI kind (`claude-code`, `codex`, `gemini`) shares. */
const CliAgentFields = {
  /** Extra arguments appended after the ones squadflow builds (before the prompt, which goes on stdin). */
  extra_args: z.array(z.string()).default([]),
  /** Model name passed with the CLI's model flag; also the key of the price table when the CLI does not report one. */
  model: z.string().min(1).optional(),
  /** Hard wall-clock limit of one run, ms (default and maximum 60 min): the process group is killed past it. */
  timeout_ms: AgentTimeoutMs.default(DEFAULT_AGENT_TIMEOUT_MS),
  /** Soft limit, ms, below `timeout_ms` (default 50 min, or 5/6 of a shorter `timeout_ms`): past it a warning is logged (the run goes on). */
  soft_timeout_ms: Ms.optional(),
  /** Maximum agentic turns: claude-code `--max-turns` (codex and gemini have no such flag and refuse it). */
  max_turns: z.number().int().positive().optional(),
  /**
   * Allow-list additions: names of worker environment variables passed through to the CLI (e.g. its API
   * key, `["ANTHROPIC_API_KEY"]`). Nothing else of the worker's environment reaches the agent besides PATH,
   * HOME, LANG, LC_ALL, TMPDIR, TZ.
   */
  env: z.array(EnvNameSchema).default([]),
  /** Fixed, non-secret variables for the CLI (e.g. `CLAUDE_CONFIG_DIR`); secret-looking names are refused. */
  set_env: z
    .record(EnvNameSchema, z.string())
    .default({})
    .refine((env) => !Object.keys(env).some((k) => SECRET_ENV_NAME.test(k)), {
      error:
        'secret-looking variables (…KEY, …TOKEN, …SECRET, …) must not be given as values: pass them through from the worker by name in "env"',
    }),
  api_key: NoApiKeyValue,
  /**
   * Resource limits of one run (seed 003): `cpu_seconds` and `memory_mb` of the agent's whole process group
   * (sampled from /proc at every heartbeat; past one the group is killed), `max_output_tokens` of the tokens
   * the agent reports. A limit hit is a non-retryable `AgentResourceLimitError` naming the limit.
   */
  limits: z
    .object({
      cpu_seconds: z.number().positive().finite().optional(),
      memory_mb: z.number().positive().finite().optional(),
      max_output_tokens: z.number().int().positive().optional(),
    })
    .strict()
    .optional(),
};

/** Refuses `max_turns` for a CLI that has no such flag (rather than silently ignoring the limit). */
function noMaxTurns(cli: string) {
  return (v: { max_turns?: number }, ctx: z.RefinementCtx): void => {
    if (v.max_turns !== undefined)
      ctx.addIssue({ code: "custom", path: ["max_turns"], message: `not supported by ${cli}; remove it` });
  };
}

/**
 * The `claude-code` kind: `claude -p --output-format json` (Claude Code headless), prompt on stdin, in the
 * attempt workspace, with `--max-turns` and `--max-budget-usd` (the card's remaining budget).
 */
export const ClaudeCodeAgentSchema = z
  .object({
    kind: z.literal("claude-code"),
    /** Path or PATH name of the Claude Code CLI (`./` resolves against the project root). */
    binary: z.string().min(1).default("claude"),
    /** `--permission-mode` (default `acceptEdits`: file edits without prompts; `bypassPermissions` also runs commands). */
    permission_mode: z.enum(["default", "acceptEdits", "bypassPermissions", "plan"]).default("acceptEdits"),
    ...CliAgentFields,
  })
  .transform(withSoftTimeout)
  .superRefine(softBelowHard);
/** A configured `claude-code` agent. */
export type ClaudeCodeAgentConfig = z.infer<typeof ClaudeCodeAgentSchema>;

/** The `codex` kind: `codex exec --json` (OpenAI Codex CLI), prompt on stdin, JSONL events on stdout. */
export const CodexAgentSchema = z
  .object({
    kind: z.literal("codex"),
    /** Path or PATH name of the Codex CLI. */
    binary: z.string().min(1).default("codex"),
    /** `--sandbox` (default `workspace-write`: the agent may edit the workspace). */
    sandbox: z.enum(["read-only", "workspace-write", "danger-full-access"]).default("workspace-write"),
    ...CliAgentFields,
  })
  .superRefine(noMaxTurns("codex exec"))
  .transform(withSoftTimeout)
  .superRefine(softBelowHard);
/** A configured `codex` agent. */
export type CodexAgentConfig = z.infer<typeof CodexAgentSchema>;

/** The `gemini` kind: `gemini --output-format json` (Gemini CLI headless), prompt on stdin. */
export const GeminiAgentSchema = z
  .object({
    kind: z.literal("gemini"),
    /** Path or PATH name of the Gemini CLI. */
    binary: z.string().min(1).default("gemini"),
    /** `--approval-mode` (default `auto_edit`: file edits without prompts; `yolo` also runs commands). */
    approval_mode: z.enum(["default", "auto_edit", "yolo"]).default("auto_edit"),
    ...CliAgentFields,
  })
  .superRefine(noMaxTurns("gemini (its turn limit is the maxSessionTurns setting)"))
  .transform(withSoftTimeout)
  .superRefine(softBelowHard);
/** A configured `gemini` agent. */
export type GeminiAgentConfig = z.infer<typeof GeminiAgentSchema>;

/** LLM API providers: Anthropic Messages, OpenAI Chat Completions, and any OpenAI-compatible server (Ollama, vLLM). */
export const LlmProviderSchema = z.enum(["anthropic", "openai", "openai-compatible"]);
/** An LLM API provider. */
export type LlmProvider = z.infer<typeof LlmProviderSchema>;

/**
 * Where and how an LLM API is called — shared by the `llm` owner, judge and debugger. The API key is read
 * from the worker's environment variable named by `api_key_env` (default `ANTHROPIC_API_KEY` for
 * `anthropic`, `OPENAI_API_KEY` for `openai`, none for `openai-compatible`), in-process, never from the
 * config and never passed to any child process.
 */
const LlmEndpointFields = {
  provider: LlmProviderSchema,
  model: z.string().min(1),
  /** API base URL (e.g. `http://127.0.0.1:11434/v1` for Ollama); required for `openai-compatible`. */
  base_url: z.url().optional(),
  /** Name of the worker environment variable holding the API key. */
  api_key_env: EnvNameSchema.optional(),
  api_key: NoApiKeyValue,
  /** Sampling temperature (OpenAI providers only: the Anthropic SDK 1.11 Messages API takes none). */
  temperature: z.number().min(0).max(2).optional(),
  /** Retries of the SDK itself for connection errors, 408/409/429 and 5xx (default 2). */
  max_retries: z.number().int().nonnegative().default(2),
};

/** Checks shared by every LLM endpoint config (base URL for openai-compatible, temperature). */
function checkEndpoint(
  v: { provider: LlmProvider; base_url?: string; temperature?: number },
  ctx: z.RefinementCtx,
): void {
  if (v.provider === "openai-compatible" && v.base_url === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["base_url"],
      message: 'required for provider "openai-compatible" (e.g. http://127.0.0.1:11434/v1)',
    });
  }
  if (v.provider === "anthropic" && v.temperature !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["temperature"],
      message: 'not supported for provider "anthropic" (the Messages API of @anthropic-ai/sdk 1.11 has no temperature)',
    });
  }
}

/**
 * The `llm` kind: one LLM API call through the official SDK; the model returns the files it writes as
 * structured output `{ files: [{ path, content }], summary }` (Anthropic: a forced tool; OpenAI: a
 * `json_schema` response format), validated, then written inside the attempt workspace.
 */
export const LlmAgentSchema = z
  .object({
    kind: z.literal("llm"),
    ...LlmEndpointFields,
    /** Maximum output tokens of the call (default 8192). */
    max_tokens: z.number().int().positive().default(8192),
    /** Hard wall-clock limit of the call, ms (default and maximum 60 min). */
    timeout_ms: AgentTimeoutMs.default(DEFAULT_AGENT_TIMEOUT_MS),
    /** Soft limit, ms, below `timeout_ms` (default 50 min, or 5/6 of a shorter `timeout_ms`): past it a warning is logged. */
    soft_timeout_ms: Ms.optional(),
  })
  .superRefine(checkEndpoint)
  .transform(withSoftTimeout)
  .superRefine(softBelowHard);
/** A configured `llm` agent. */
export type LlmAgentConfig = z.infer<typeof LlmAgentSchema>;

/**
 * Any owner agent kind: `command` (the stdin/stdout JSON protocol), the coding-agent CLIs `claude-code`,
 * `codex`, `gemini`, and `llm` (an LLM API call). See src/activities/agents/.
 */
export const AgentSchema = z.discriminatedUnion("kind", [
  CommandAgentSchema,
  ClaudeCodeAgentSchema,
  CodexAgentSchema,
  GeminiAgentSchema,
  LlmAgentSchema,
]);
/** A configured owner agent. */
export type AgentConfig = z.infer<typeof AgentSchema>;
/** An owner agent kind. */
export type AgentKind = AgentConfig["kind"];
/** The coding-agent CLI kinds. */
export type CliAgentConfig = ClaudeCodeAgentConfig | CodexAgentConfig | GeminiAgentConfig;

/** The environment variable an LLM endpoint reads its API key from: `api_key_env`, else the provider's default. */
export function apiKeyEnvOf(c: { provider: LlmProvider; api_key_env?: string }): string | undefined {
  if (c.api_key_env !== undefined) return c.api_key_env;
  if (c.provider === "anthropic") return "ANTHROPIC_API_KEY";
  if (c.provider === "openai") return "OPENAI_API_KEY";
  return undefined;
}

/** What one rubric criterion checks. `file` is a glob over the artifacts (default: every artifact). */
export const RubricCheckSchema = z.discriminatedUnion("type", [
  /** A markdown heading (any level) whose text equals `heading` (case-insensitive). */
  z.object({ type: z.literal("section"), heading: z.string().min(1), file: z.string().optional() }),
  /** A regular expression (JavaScript syntax, flag `m`) that must match. */
  z.object({ type: z.literal("regex"), pattern: z.string().min(1), file: z.string().optional() }),
  /** A substring that must occur (case-sensitive). */
  z.object({ type: z.literal("contains"), text: z.string().min(1), file: z.string().optional() }),
  /** A command, run in the workspace, that must exit 0. */
  z.object({
    type: z.literal("command"),
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

/** The deterministic `rubric` judge: score = 10 × (weight of met criteria ÷ total weight). */
export const RubricJudgeSchema = z.object({
  kind: z.literal("rubric"),
  pass_score: z.number().min(0).max(10).default(DEFAULT_PASS_SCORE),
  criteria: z.array(RubricCriterionSchema).min(1),
});

/** One criterion an `llm` judge scores: its name (cited by rejection reasons) and what it means. */
export const LlmCriterionSchema = z.object({
  name: z.string().min(1),
  description: z.string().min(1),
  /** Relative importance shown to the model (default 1); the model's score is the judge's score. */
  weight: z.number().positive().default(1),
});
/** An `llm` judge criterion. */
export type LlmCriterion = z.infer<typeof LlmCriterionSchema>;

/**
 * Another model of an `llm` judge panel: a model name of the judge's provider (`"gpt-5"`, read as
 * `{ model: "gpt-5" }`), or an endpoint of its own; `base_url` and `api_key_env` default to the judge's
 * when the provider is the same.
 */
export const PanelModelSchema = z.preprocess(
  (v) => (typeof v === "string" ? { model: v } : v),
  z.object({
    provider: LlmProviderSchema.optional(),
    model: z.string().min(1),
    base_url: z.url().optional(),
    api_key_env: EnvNameSchema.optional(),
    api_key: NoApiKeyValue,
  }),
);
/** One panel member as configured. */
export type PanelModel = z.infer<typeof PanelModelSchema>;

/**
 * The `llm` judge: a rubric prompt (the card, its acceptance criteria, the artifacts, `criteria` and/or
 * `rubric` text) to a model whose structured answer `{ score 0–10, pass, reasons[], feedback per criterion }`
 * is validated by zod; bad output is asked again (`max_output_retries`), then fails the judge — never a
 * silent pass. Passes at median score ≥ `pass_score` (default 8.0 — PRODUCT.md). With `panel`, every model
 * (the judge's own first) scores, and the median counts.
 */
export const LlmJudgeSchema = z
  .object({
    kind: z.literal("llm"),
    ...LlmEndpointFields,
    pass_score: z.number().min(0).max(10).default(DEFAULT_PASS_SCORE),
    criteria: z.array(LlmCriterionSchema).default([]),
    /** Free-text rubric for the card type, in addition to or instead of `criteria`. */
    rubric: z.string().min(1).optional(),
    /** More judges; the verdict takes the median score of all. */
    panel: z.object({ models: z.array(PanelModelSchema).min(1) }).optional(),
    /** Maximum output tokens per call (default 4096). */
    max_tokens: z.number().int().positive().default(4096),
    /**
     * Wall-clock limit of the judging (every re-ask; panel members in parallel), ms (default and maximum
     * 10 min: the judge activity times out after 15).
     */
    timeout_ms: runLimitMs(MAX_JUDGE_TIMEOUT_MS, "judge (validation)", VALIDATION_ACTIVITY_TIMEOUT_MS).default(600_000),
    /** Extra calls when a model's answer is not valid (default 2); then the judge fails. */
    max_output_retries: z.number().int().nonnegative().default(2),
    /** Characters of artifact text shown to the judge, in total (default 200 000); the rest is cut and said so. */
    max_artifact_chars: z.number().int().positive().default(200_000),
    /**
     * Allow a judge model equal to the owner agent's model. Off by default: a model grading its own work
     * is the bias the separate judge exists to avoid.
     */
    allow_owner_model: z.boolean().default(false),
  })
  .superRefine((v, ctx) => {
    checkEndpoint(v, ctx);
    if (v.criteria.length === 0 && v.rubric === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["criteria"],
        message: 'give "criteria" (name + description) or a "rubric" text',
      });
    }
  });
/** A configured `llm` judge. */
export type LlmJudgeConfig = z.infer<typeof LlmJudgeSchema>;

/**
 * The LLM-judge step, pluggable by kind: `rubric` (deterministic, offline — the default of the example
 * backlog) or `llm` (a model scores the artifacts).
 */
export const JudgeSchema = z.discriminatedUnion("kind", [RubricJudgeSchema, LlmJudgeSchema]);
/** A configured judge. */
export type JudgeConfig = z.infer<typeof JudgeSchema>;

/**
 * The debugging agent (PRODUCT.md "Corrections"): `rules` (deterministic, the default) or `llm` (a model
 * gives root cause and fix suggestions from the validation history, as structured output).
 */
export const DebuggerSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("rules") }),
  z
    .object({
      kind: z.literal("llm"),
      ...LlmEndpointFields,
      /** Maximum output tokens (default 4096). */
      max_tokens: z.number().int().positive().default(4096),
      /** Wall-clock limit of the analysis (every re-ask), ms (default and maximum 5 min: the debugging activity times out after 10). */
      timeout_ms: runLimitMs(MAX_DEBUGGER_TIMEOUT_MS, "debugging", DEBUGGING_ACTIVITY_TIMEOUT_MS).default(300_000),
      /** Extra calls when the answer is not valid (default 2); then the rules debugger answers instead. */
      max_output_retries: z.number().int().nonnegative().default(2),
    })
    .superRefine(checkEndpoint),
]);
/** A configured debugging agent. */
export type DebuggerConfig = z.infer<typeof DebuggerSchema>;
/** A configured `llm` debugging agent. */
export type LlmDebuggerConfig = Extract<DebuggerConfig, { kind: "llm" }>;

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

/**
 * A weighted pool of owner agents (issue 11): each card of the type goes to one member, chosen by a hash of
 * its backlog and card id with probability weight / total (src/domain/routing.ts); `fallback` is tried
 * after every member when a worker lacks their binaries or keys.
 */
export const OwnerPoolSchema = z.object({
  pool: z
    .array(z.object({ agent: z.string().min(1), weight: z.number().positive().finite() }))
    .min(1)
    .refine((members) => new Set(members.map((m) => m.agent)).size === members.length, {
      error: "an agent is listed twice in the pool",
    }),
  fallback: z.string().min(1).optional(),
});
/** A weighted pool of owner agents. */
export type OwnerPool = z.infer<typeof OwnerPoolSchema>;

/** A card type's owner: an agent name (a key of `squad.agents`), or a weighted pool of them. */
export const OwnerRefSchema = z.union([z.string().min(1), OwnerPoolSchema]);
/** A card type's owner: an agent name or a pool. */
export type OwnerRef = z.infer<typeof OwnerRefSchema>;

/** Default number of critique-and-revise rounds of a council (issue 12). */
export const DEFAULT_DELIBERATION_ROUNDS = 1;
/** Default number of top-scored proposals the architect chooses among (issue 12). */
export const DEFAULT_DELIBERATION_TOP_K = 2;

/**
 * A card type's council (issue 12, seed 004's Deliberate): every agent of `agents` (keys of `squad.agents`,
 * at least two, each once) proposes in its own worktree, `rounds` rounds of critique and revision follow
 * (agent i critiques agent i+1's proposal), the card type's QA checks run on every proposal, `scorer` (a
 * judge of the same kinds as the validation pipeline's) scores them, and `architect` — an agent answering
 * `{ winner, rationale }`, or `"top-score"` — picks the winner among the `top_k` best. `default`: whether
 * cards of the type deliberate when they do not say (`requires_deliberation` on the card overrides it).
 */
export const DeliberationSchema = z
  .object({
    agents: z
      .array(z.string().min(1))
      .min(2, { error: "a council needs at least two agents" })
      .refine((a) => new Set(a).size === a.length, { error: "an agent is listed twice in the council" }),
    rounds: z.number().int().nonnegative().max(5).default(DEFAULT_DELIBERATION_ROUNDS),
    scorer: JudgeSchema,
    architect: z.string().min(1).default("top-score"),
    top_k: z.number().int().positive().default(DEFAULT_DELIBERATION_TOP_K),
    default: z.boolean().default(false),
  })
  .strict();
/** A card type's council as configured. */
export type DeliberationConfig = z.infer<typeof DeliberationSchema>;

/**
 * Peer review (issue 12, seed 003): other agents of the squad review the attempt's diff (repository
 * backlogs) or its artifacts, each answering `{ verdict: approve | concern | blocker, comments[] }`; the
 * decision tree is src/domain/peer-review.ts. `trigger`: `always` reviews every attempt after verification;
 * `on_milestone` reviews an attempt whose owner emitted a milestone / request-review event, and an attempt
 * without one at its end (the record says so). Reviewers are names of `squad.agents` (`command`, `llm`,
 * or a CLI kind reviewing read-only), never the card's owner (planBacklog refuses it).
 */
export const PeerReviewSchema = z
  .object({
    reviewers: z
      .array(z.string().min(1))
      .min(1)
      .refine((names) => new Set(names).size === names.length, { error: "a reviewer is listed twice" }),
    trigger: z.enum(["always", "on_milestone"]).default("always"),
  })
  .strict();
/** A card type's peer-review settings. */
export type PeerReviewConfig = z.infer<typeof PeerReviewSchema>;

/** How one card type is produced and validated. */
export const CardTypeSchema = z.object({
  /** The owner agent (a key of `squad.agents`), or a weighted pool of them (`OwnerPoolSchema`). */
  owner: OwnerRefSchema,
  verification: VerificationSchema.default({ required_evidence: [], extra_red_flags: [] }),
  judge: JudgeSchema,
  qa: z.object({ checks: z.array(QaCheckSchema).default([]) }).default({ checks: [] }),
  /** Peer review by other agents, in parallel with the LLM-judge and QA (`PeerReviewSchema`). */
  peer_review: PeerReviewSchema.optional(),
  /** The debugging agent of this card type (overrides `squad.debugger`). */
  debugger: DebuggerSchema.optional(),
  /**
   * Permission policy (issue 11, seed 003's recovery engine): tools an owner of this type may be granted
   * when its CLI denied them — the run is re-launched once with them (Claude Code `--allowedTools`, Gemini
   * `--allowed-tools`, Codex sandbox `workspace-write` for `apply_patch`/`exec_command`). `allow_dirs`:
   * directories outside the attempt workspace every owner run of this type may use (Claude Code and Codex
   * `--add-dir`, Gemini `--include-directories`), absolute or relative to the repository the backlog
   * delivers into (else to the squad config's file); the client refuses one that is not a directory
   * (src/cli/load.ts `resolveAllowDirs`) and passes them absolute.
   */
  permissions: z
    .object({ allow_tools: z.array(z.string().min(1)).default([]), allow_dirs: z.array(z.string().min(1)).default([]) })
    .strict()
    .optional(),
  /** The type's council (issue 12): see `DeliberationSchema`; absent = no card of the type can deliberate. */
  deliberation: DeliberationSchema.optional(),
});
/** Settings of one card type. */
export type CardTypeConfig = z.infer<typeof CardTypeSchema>;

/** Default per-card cost alert threshold, USD — PRODUCT.md ("default $1.00"). */
export const DEFAULT_COST_ALERT_USD = 1.0;

/**
 * The price of one model, USD per million tokens. Cache writes default to the input price and cache
 * reads to the input price when not given (set them: providers discount cache reads heavily).
 */
export const ModelPriceSchema = z.object({
  input_per_mtok: z.number().nonnegative(),
  output_per_mtok: z.number().nonnegative(),
  cache_write_per_mtok: z.number().nonnegative().optional(),
  cache_read_per_mtok: z.number().nonnegative().optional(),
});
/** The price of one model, USD per million tokens. */
export type ModelPrice = z.infer<typeof ModelPriceSchema>;

/**
 * The price table: model name → price. A model is priced by its exact name, else by the longest key it
 * starts with (`claude-sonnet-4-5` prices `claude-sonnet-4-5-20250929`). See src/domain/pricing.ts.
 */
export const PricingSchema = z.record(z.string().min(1), ModelPriceSchema);
/** The price table. */
export type Pricing = z.infer<typeof PricingSchema>;

/**
 * Spending limits, USD, checked before each owner/judge run (a run that would start over budget
 * escalates the card instead). A card's own `budget_usd` overrides `per_card_usd`.
 */
export const BudgetSchema = z.object({
  per_card_usd: z.number().positive().optional(),
  per_backlog_usd: z.number().positive().optional(),
});
/** The squad's budgets. */
export type BudgetConfig = z.infer<typeof BudgetSchema>;

/** The whole squad config. */
export const SquadSchema = z.object({
  agents: z.record(z.string(), AgentSchema),
  card_types: z.record(z.string(), CardTypeSchema),
  /** Per-card cost alert threshold, USD. */
  cost_alert_usd: z.number().nonnegative().default(DEFAULT_COST_ALERT_USD),
  /** The squad-wide debugging agent (default `rules`); a card type's `debugger` overrides it. */
  debugger: DebuggerSchema.optional(),
  /** Price table, USD per million tokens, by model. */
  pricing: PricingSchema.optional(),
  /** Budgets, USD. */
  budget: BudgetSchema.optional(),
  /** Webhooks for escalations, reviews awaited, cost alerts and finished backlogs (src/domain/notifications.ts). */
  notifications: NotificationsSchema.optional(),
  /**
   * `squadflow plan`: plan role → card type (`{ "backend": "BACKEND", "ui": "FRONTEND" }`; roles match
   * case-insensitively). A role missing here maps to its upper-cased name when that is a card type
   * (src/domain/plan.ts).
   */
  roles: z.record(z.string().min(1), z.string().min(1)).optional(),
  /**
   * `squadflow plan --planner`: the agent (a key of `agents`) that turns a free-form plan document into
   * plan tasks, whatever its kind (src/cli/planner.ts).
   */
  planner: z.string().min(1).optional(),
});
/** The squad config as parsed. */
export type SquadConfig = z.infer<typeof SquadSchema>;
