/**
 * The planner agent of `squadflow plan --planner` (issue 12, "Plans → cards"): the squad's `planner` agent
 * turns a free-form document into plan tasks — the YAML/JSON plan form (`PlanFileSchema`, src/domain/plan.ts).
 * Its answer passes the same schema and derivation as a YAML plan; a bad answer is asked again once with
 * the problems, then refused. Every agent kind can plan, each through the path its owner runs take:
 *
 * - `command`: the process with one JSON request on stdin (`PlannerRequest`), the plan on stdout;
 * - `llm`: one structured-output call through the official SDK (src/activities/llm/client.ts, the path of
 *   `llm` owners and judges), the plan's JSON schema as the tool / response format;
 * - `claude-code`, `codex`, `gemini`: the real CLI through the kind's owner runner (src/activities/agents/),
 *   read-only as a peer reviewer is (`readOnlyReviewer`), in a temp folder holding only the plan document,
 *   with a prompt asking for the plan as its final message.
 *
 * Runs in the CLI process (no Temporal activity): heartbeats go nowhere, warnings go to stderr.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { ApplicationFailure } from "@temporalio/common";
import type { CardSpec, OwnerInput } from "../domain/attempt.js";
import { addCosts, type Cost } from "../domain/cost.js";
import { BacklogValidationError, formatIssue, type BacklogIssue } from "../domain/index.js";
import {
  planFromData,
  PlanFileSchema,
  roleCardType,
  TASK_FIELDS,
  type DerivedBacklog,
  type PlanDocument,
} from "../domain/plan.js";
import { settleCost } from "../domain/pricing.js";
import { PRIORITIES } from "../domain/priority.js";
import {
  apiKeyEnvOf,
  SquadSchema,
  type AgentConfig,
  type CliAgentConfig,
  type CommandAgentConfig,
  type LlmAgentConfig,
  type SquadConfig,
} from "../domain/squad.js";
import { runClaudeCode } from "../activities/agents/claude-code.js";
import { runCodex } from "../activities/agents/codex.js";
import { runGemini } from "../activities/agents/gemini.js";
import type { OwnerRunner } from "../activities/agents/run.js";
import { allowListedEnv, resolveProjectPath, type ActivityDeps, type ActivityHooks } from "../activities/context.js";
import { ActivityErrorType } from "../activities/errors.js";
import { callStructured, StructuredOutputError } from "../activities/llm/client.js";
import { readOnlyReviewer } from "../activities/peer-review.js";
import { runProcess, SpawnError, tail } from "../activities/process.js";
import { secretsOf } from "../activities/secrets.js";
import { CliError, EXIT } from "./errors.js";

/** What a `command` planner gets on stdin (docs/plans.md "The planner agent"). */
export interface PlannerRequest {
  /** The plan document as written. */
  document: string;
  file: string;
  /** Roles the squad knows and the card type each maps to (card types are roles too). */
  roles: Record<string, string>;
  /** 1 for the first question, 2 when asked again. */
  attempt: number;
  /** Why the previous answer was refused (one line per problem); absent on the first question. */
  feedback?: string[];
}

/** How many times a planner is asked: once, and once again after a bad answer. */
export const PLANNER_ASKS = 2;

/** Maximum output tokens of an `llm` planner's answer when its config gives fewer (a plan of many tasks is long). */
const MIN_LLM_PLANNER_TOKENS = 8192;

/** What a planner run spent, and on which calls. */
export interface PlannerOutcome {
  derived: DerivedBacklog;
  /** Every run of the planner (each ask), summed; zero for a `command` planner that reports none. */
  cost: Cost;
  /** How many times it was asked (1 or 2). */
  asks: number;
}

/** The JSON object an answer holds: the whole text, else its last line that parses (agents may log first), a Markdown fence tolerated. */
export function plannerAnswer(text: string): unknown {
  const unfenced = text
    .trim()
    .replace(/^```[a-z]*\n([\s\S]*)\n```$/i, "$1")
    .trim();
  try {
    return JSON.parse(unfenced);
  } catch {
    const lines = unfenced
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.startsWith("{"));
    for (const line of lines.reverse()) {
      try {
        return JSON.parse(line);
      } catch {
        // not this line
      }
    }
    return undefined;
  }
}

/** The plan's JSON schema as sent to an `llm` planner (closed objects, every property required — OpenAI strict mode). */
export const PLAN_JSON_SCHEMA: Record<string, unknown> = {
  type: "object",
  properties: {
    title: { type: "string", description: "The plan's title, one line." },
    tasks: {
      type: "array",
      description: "Every task of the plan, one card each, dependencies before the tasks that need them.",
      items: {
        type: "object",
        properties: {
          id: { type: "string", description: 'Unique id: letters, digits, ".", "_", "-" (e.g. "EXP-001").' },
          role: { type: "string", description: "One of the roles given (it decides the card type)." },
          title: { type: "string", description: "A short title, one line." },
          description: { type: "string", description: "What to build, with every detail the document gives." },
          dependencies: { type: "array", items: { type: "string" }, description: "Ids of tasks this one needs." },
          priority: { type: "string", enum: PRIORITIES.map((p) => p.toLowerCase()) },
          constraints: { type: "array", items: { type: "string" } },
          acceptance_criteria: { type: "array", items: { type: "string" }, description: "Checkable criteria." },
        },
        required: [...TASK_FIELDS],
        additionalProperties: false,
      },
    },
  },
  required: ["title", "tasks"],
  additionalProperties: false,
};

const SYSTEM =
  "You are the planner of a software delivery squad. You turn a plan document into tasks that agents can each deliver " +
  "as one card: one task per deliverable, with its role, dependencies, priority, constraints and acceptance criteria.";

/**
 * The prompt of an `llm` or CLI planner: the task, the roles it may use, the document, and — when asked
 * again — why its previous answer was refused. CLI planners are also told the answer's shape, as their
 * final message (an `llm` planner gets it as the structured-output schema).
 */
export function plannerPrompt(request: PlannerRequest, cli: boolean): string {
  const fence = "`".repeat(Math.max(3, ...[...request.document.matchAll(/`+/g)].map((m) => m[0].length + 1)));
  const out = [
    `Turn the plan document ${basename(request.file)} into tasks.`,
    "",
    "## Roles (use only these; each maps to a card type)",
    ...Object.entries(request.roles).map(([role, type]) => `- ${role}${role === type ? "" : ` (card type ${type})`}`),
    "",
    `## The document${cli ? ` (also in your working directory as ${basename(request.file)})` : ""}`,
    fence,
    request.document,
    fence,
  ];
  if (request.feedback) {
    out.push(
      "",
      "## Your previous answer was refused",
      ...request.feedback.map((f) => `- ${f}`),
      "Answer again with these problems fixed.",
    );
  }
  if (cli) {
    out.push(
      "",
      "Do not change any file. End with your answer as your final message: only one JSON object, no other text, in this shape:",
      '{"title": "…", "tasks": [{"id": "TASK-001", "role": "<a role above>", "title": "…", "description": "…", ' +
        '"dependencies": ["<task ids>"], "priority": "critical" | "high" | "medium" | "low", "constraints": ["…"], ' +
        '"acceptance_criteria": ["…"]}]}',
    );
  }
  return out.join("\n");
}

/** The squad's roles and the card type each maps to (every card type is a role of its own name). */
function rolesOf(config: SquadConfig): Record<string, string> {
  const roles: Record<string, string> = {};
  for (const type of Object.keys(config.card_types)) roles[type] = type;
  for (const role of Object.keys(config.roles ?? {})) roles[role] = roleCardType(role, config)!;
  return roles;
}

/** Why an answer is refused (one line per problem), or the derived backlog. */
function judgeAnswer(
  answer: unknown,
  name: string,
  planFile: string,
  derive: (doc: PlanDocument) => DerivedBacklog,
): { ok: true; derived: DerivedBacklog } | { ok: false; problems: string[] } {
  try {
    if (answer === undefined) {
      throw new BacklogValidationError([
        { file: `planner "${name}"`, field: "", message: "no JSON object in its answer" },
      ]);
    }
    return { ok: true, derived: derive(planFromData(answer, planFile, "yaml")) };
  } catch (err) {
    if (!(err instanceof BacklogValidationError)) throw err;
    return { ok: false, problems: err.issues.map((i: BacklogIssue) => formatIssue(i)) };
  }
}

function refused(name: string, problems: string[]): CliError {
  return new CliError(
    `planner agent "${name}" answered badly ${PLANNER_ASKS} times; its last answer was refused:\n` +
      problems.map((f) => `  - ${f}`).join("\n"),
    EXIT.failure,
  );
}

/** Hooks of a planner run in the CLI: no heartbeat to send, warnings on stderr. */
function cliHooks(): ActivityHooks {
  return {
    heartbeat: () => undefined,
    log: {
      info: () => undefined,
      warn: (message) => console.error(`squadflow: ${message}`),
    },
  };
}

/** What a planner needs besides its config. */
interface PlannerContext {
  name: string;
  planFile: string;
  document: string;
  roles: Record<string, string>;
  config: SquadConfig;
  derive: (doc: PlanDocument) => DerivedBacklog;
}

const ZERO: Cost = { inputTokens: 0, outputTokens: 0, usd: 0 };

/**
 * Asks the squad's planner agent (`squad.planner`) for the plan tasks of a free-form document (see the
 * module docstring for the kinds).
 * @throws BacklogValidationError naming the squad file when there is no usable planner.
 * @throws CliError (exit 1) when the planner cannot start, fails, or answers badly twice (the problems of
 *   its last answer listed); exit 2 for a configuration problem the run found (an API key variable unset,
 *   credentials refused, a CLI binary missing).
 */
export async function askPlanner(
  planFile: string,
  document: string,
  /** The squad config as read (plan.ts `SquadSource`): its file, for messages, and its JSON value. */
  squad: { file: string; value: unknown },
  derive: (doc: PlanDocument) => DerivedBacklog,
): Promise<PlannerOutcome> {
  const parsed = SquadSchema.safeParse(squad.value);
  if (!parsed.success) {
    throw new BacklogValidationError(
      parsed.error.issues.map((i) => ({ file: squad.file, field: i.path.join("."), message: i.message })),
    );
  }
  const config = parsed.data;
  const name = config.planner;
  const agent = name !== undefined && Object.hasOwn(config.agents, name) ? config.agents[name] : undefined;
  if (name === undefined || !agent) {
    const message =
      name === undefined
        ? 'no planner agent: set "planner": "<agent>" in the squad to use --planner'
        : `unknown agent "${name}"`;
    throw new BacklogValidationError([{ file: squad.file, field: "planner", message }]);
  }
  const ctx: PlannerContext = { name, planFile, document, roles: rolesOf(config), config, derive };
  try {
    if (agent.kind === "command") return await askCommand(ctx, agent);
    if (agent.kind === "llm") return await askLlm(ctx, agent);
    return await askCli(ctx, agent);
  } catch (err) {
    if (err instanceof ApplicationFailure) {
      const config =
        err.type === ActivityErrorType.AgentConfigError || err.type === ActivityErrorType.ValidatorConfigError;
      throw new CliError(err.message, config ? EXIT.badInput : EXIT.failure);
    }
    throw err;
  }
}

/** A `command` planner: the request on stdin, the plan as the (last JSON line of) stdout. */
async function askCommand(ctx: PlannerContext, agent: CommandAgentConfig): Promise<PlannerOutcome> {
  const { name } = ctx;
  const base = process.cwd();
  let feedback: string[] | undefined;
  for (let attempt = 1; attempt <= PLANNER_ASKS; attempt++) {
    const request: PlannerRequest = {
      document: ctx.document,
      file: ctx.planFile,
      roles: ctx.roles,
      attempt,
      ...(feedback && { feedback }),
    };
    let run;
    try {
      run = await runProcess({
        command: resolveProjectPath(base, agent.command),
        args: agent.args.map((a) => resolveProjectPath(base, a)),
        cwd: base,
        env: { ...allowListedEnv(process.env), ...agent.env },
        stdin: JSON.stringify(request) + "\n",
        timeoutMs: agent.timeout_ms,
      });
    } catch (err) {
      if (err instanceof SpawnError) {
        throw new CliError(`planner agent "${name}" cannot start: "${err.command}" ${err.why}`, EXIT.failure);
      }
      throw err;
    }
    if (run.timedOut)
      throw new CliError(`planner agent "${name}" timed out after ${agent.timeout_ms} ms`, EXIT.failure);
    if (run.exitCode !== 0) {
      const stderr = tail(run.stderr, 20) || "(no stderr)";
      throw new CliError(`planner agent "${name}" exited with ${run.exitCode ?? run.signal}: ${stderr}`, EXIT.failure);
    }
    const judged = judgeAnswer(plannerAnswer(run.stdout), name, ctx.planFile, ctx.derive);
    if (judged.ok) return { derived: judged.derived, cost: { ...ZERO }, asks: attempt };
    feedback = judged.problems;
  }
  throw refused(name, feedback!);
}

/**
 * An `llm` planner: one structured call (`PLAN_JSON_SCHEMA` sent, `PlanFileSchema` checked on receipt, then
 * the derivation's checks), re-asked once with the problem by `callStructured`, priced by `squad.pricing`.
 */
async function askLlm(ctx: PlannerContext, agent: LlmAgentConfig): Promise<PlannerOutcome> {
  const { name } = ctx;
  const keyEnv = apiKeyEnvOf(agent);
  let derived: DerivedBacklog | undefined;
  try {
    const res = await callStructured(
      {
        label: `planner agent "${name}"`,
        workerEnv: process.env,
        secrets: secretsOf(process.env, keyEnv ? [keyEnv] : []),
        hooks: cliHooks(),
        configErrorType: ActivityErrorType.AgentConfigError,
        timeoutErrorType: ActivityErrorType.AgentTimeoutError,
      },
      {
        endpoint: agent,
        maxTokens: Math.max(agent.max_tokens, MIN_LLM_PLANNER_TOKENS),
        system: SYSTEM,
        prompt: plannerPrompt({ document: ctx.document, file: ctx.planFile, roles: ctx.roles, attempt: 1 }, false),
        name: "plan_tasks",
        description: "The tasks of the plan, each to become one card.",
        jsonSchema: PLAN_JSON_SCHEMA,
        schema: PlanFileSchema,
        check: (value) => {
          const judged = judgeAnswer(value, name, ctx.planFile, ctx.derive);
          if (judged.ok) {
            derived = judged.derived;
            return undefined;
          }
          derived = undefined;
          return `the plan is refused: ${judged.problems.join("; ")}`;
        },
        maxOutputRetries: PLANNER_ASKS - 1,
        timeoutMs: agent.timeout_ms,
      },
      ctx.config.pricing,
    );
    return { derived: derived!, cost: settleCost(res.usage, ctx.config.pricing).cost, asks: res.calls };
  } catch (err) {
    if (err instanceof StructuredOutputError) throw refused(name, err.problems.slice(-1));
    throw err;
  }
}

/** The CLI owner runners, by kind: a CLI planner runs through the same launch, stream, cost and failures. */
const CLI_PLANNERS: { [K in CliAgentConfig["kind"]]: OwnerRunner<K> } = {
  "claude-code": runClaudeCode,
  codex: runCodex,
  gemini: runGemini,
};

/** The card a CLI planner run is labelled with (the runners name a card in their environment and logs). */
function plannerCard(planFile: string): CardSpec {
  return {
    id: "PLAN",
    type: "PLAN",
    title: `plan ${basename(planFile)}`,
    description: "",
    priority: "MEDIUM",
    dependencies: [],
    acceptanceCriteria: [],
  };
}

/**
 * A `claude-code`, `codex` or `gemini` planner: the kind's owner runner, read-only (`readOnlyReviewer`), in
 * a fresh copy of a temp folder that holds only the plan document, with `plannerPrompt`; the answer is its
 * final message. Asked again once (a fresh run, the problems in the prompt); the temp folder is removed.
 */
async function askCli(ctx: PlannerContext, agent: CliAgentConfig): Promise<PlannerOutcome> {
  const { name } = ctx;
  const root = await mkdtemp(join(tmpdir(), "squadflow-planner-"));
  try {
    await mkdir(join(root, "plan", "document"), { recursive: true });
    await writeFile(join(root, "plan", "document", basename(ctx.planFile)), ctx.document);
    const deps: ActivityDeps = { workspacesRoot: root, baseDir: process.cwd(), hooks: cliHooks };
    const runner = CLI_PLANNERS[agent.kind] as OwnerRunner<CliAgentConfig["kind"]>;
    const readOnly = readOnlyReviewer(agent);
    const costs: Cost[] = [];
    let feedback: string[] | undefined;
    for (let attempt = 1; attempt <= PLANNER_ASKS; attempt++) {
      const input: OwnerInput = {
        backlogId: "plan",
        card: plannerCard(ctx.planFile),
        attempt,
        agent: readOnly as AgentConfig,
        workspace: `plan/ask-${attempt}`,
        previousWorkspace: "plan/document",
        dependencies: [],
        ...(ctx.config.pricing !== undefined && { pricing: ctx.config.pricing }),
      };
      const request: PlannerRequest = {
        document: ctx.document,
        file: ctx.planFile,
        roles: ctx.roles,
        attempt,
        ...(feedback && { feedback }),
      };
      const result = await runner(deps, input, readOnly, undefined, {
        prompt: plannerPrompt(request, true),
        label: `planner agent "${name}"`,
        maxSummaryChars: MAX_PLAN_ANSWER_CHARS,
      });
      costs.push(result.cost);
      const judged = judgeAnswer(plannerAnswer(result.summary), name, ctx.planFile, ctx.derive);
      if (judged.ok) return { derived: judged.derived, cost: addCosts(...costs), asks: attempt };
      feedback = judged.problems;
    }
    throw refused(name, feedback!);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** Characters of a CLI planner's final message read as its answer (a plan of many tasks is longer than a summary). */
export const MAX_PLAN_ANSWER_CHARS = 1_000_000;
