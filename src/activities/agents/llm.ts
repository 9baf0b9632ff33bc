/**
 * The `llm` agent kind: one LLM API call (llm/client.ts — Anthropic, OpenAI, or an OpenAI-compatible
 * server such as Ollama or vLLM). The prompt (prompt.ts) carries the card, its acceptance criteria, the
 * dependencies' artifacts and — for a correction — the feedback and the files already in the workspace,
 * all inline (the model cannot read files). The model answers with structured output
 * `{ files: [{ path, content }], summary }`, validated by zod; the files are written inside the attempt
 * workspace (files.ts `writeWorkspaceFiles`: relative paths only, escapes refused, nothing written when one
 * path is bad) and returned as artifacts, followed by the workspace's other files (a correction keeps the
 * previous attempt's files it did not rewrite).
 *
 * The API key comes from the worker's environment (`api_key_env`, default per provider), in-process; it is
 * never passed to a child process nor written anywhere.
 */
import { join } from "node:path";
import { z } from "zod";
import type { OwnerResult } from "../../domain/attempt.js";
import { settleCost, type ModelUsage } from "../../domain/pricing.js";
import { apiKeyEnvOf } from "../../domain/squad.js";
import { ActivityErrorType, agentFailure } from "../errors.js";
import { callStructured, StructuredOutputError } from "../llm/client.js";
import { redact } from "../secrets.js";
import { listWorkspaceFiles, readForPrompt, writeWorkspaceFiles, type TextFile } from "./files.js";
import { changedFiles } from "../repository/changes.js";
import { dependencyPaths, ownerPrompt } from "./prompt.js";
import { redactArtifacts, settleRunCost, softTimeoutWatcher, startRun, summaryOf, type OwnerRunner } from "./run.js";

/** Characters of dependency artifacts and existing workspace files inlined in the prompt, in total. */
export const MAX_INLINE_CHARS = 400_000;

/** The answer of an `llm` owner, as validated. */
export const LlmOwnerAnswerSchema = z.object({
  files: z
    .array(z.object({ path: z.string().min(1, "must be a non-empty relative path"), content: z.string() }))
    .min(1, "must write at least one file"),
  summary: z.string(),
});
/** A validated `llm` owner answer. */
export type LlmOwnerAnswer = z.infer<typeof LlmOwnerAnswerSchema>;

/** The answer's JSON schema as sent to the model (closed objects, every property required). */
export const LLM_OWNER_JSON_SCHEMA: Record<string, unknown> = {
  type: "object",
  properties: {
    files: {
      type: "array",
      description: "Every file to create or overwrite, with its complete content.",
      items: {
        type: "object",
        properties: {
          path: {
            type: "string",
            description: 'Path relative to the workspace, e.g. "docs/spec.md"; no "..", not absolute.',
          },
          content: { type: "string", description: "The complete file content." },
        },
        required: ["path", "content"],
        additionalProperties: false,
      },
    },
    summary: { type: "string", description: "A few sentences on what was written and why." },
  },
  required: ["files", "summary"],
  additionalProperties: false,
};

const SYSTEM =
  "You are a senior engineer on a delivery squad. You produce the complete, finished files of one backlog card. " +
  "Answer only through the required structure: the files to write (complete contents) and a short summary.";

/**
 * Runs an `llm` owner (see the module docstring).
 *
 * @throws ApplicationFailure `AgentConfigError` (API key variable unset, credentials refused, model or
 *   endpoint unknown), `AgentOutputError` (invalid answer after one re-ask, or a file path that leaves the
 *   workspace — retryable), `LlmRequestError`, `LlmApiError`, `AgentTimeoutError`; the cancellation when
 *   cancelled. Failures after tokens were spent carry the cost.
 */
export const runLlmAgent: OwnerRunner<"llm"> = async (deps, input, agent) => {
  const keyEnv = apiKeyEnvOf(agent);
  const run = await startRun(deps, input, "llm", keyEnv ? [keyEnv] : []);
  const dependencies = await Promise.all(
    input.dependencies
      .filter((d) => d.artifacts.length > 0)
      .map(async (d) => ({
        cardId: d.cardId,
        // In a repository the dependencies' files are in the worktree, by repository-relative paths.
        files: input.repository
          ? await readForPrompt(
              d.artifacts.map((a) => join(run.workspace, a)),
              MAX_INLINE_CHARS / 2,
              (abs) => abs.slice(run.workspace.length + 1),
            )
          : await readForPrompt(dependencyPaths(deps.workspacesRoot, d.artifacts), MAX_INLINE_CHARS / 2, (abs) => abs),
      })),
  );
  let existing: TextFile[] = [];
  if (input.repository && input.previousGit) {
    // A correction in a worktree: the previous attempt's changed files (the rest of the project is not its work).
    const { artifacts } = await changedFiles(run.workspace, input.previousGit.baseCommit, "HEAD");
    existing = await readForPrompt(
      artifacts.map((f) => join(run.workspace, f)),
      MAX_INLINE_CHARS / 2,
      (abs) => abs.slice(run.workspace.length + 1),
    );
  } else if (input.previousWorkspace !== undefined) {
    const { files } = await listWorkspaceFiles(run.workspace);
    existing = await readForPrompt(
      files.map((f) => join(run.workspace, f)),
      MAX_INLINE_CHARS / 2,
      (abs) => abs.slice(run.workspace.length + 1),
    );
  }
  const prompt =
    ownerPrompt(input, run.workspace, deps.workspacesRoot, { dependencies, existing }) +
    "\n\n## Answer\nReturn every file you create or change with its complete content (files you do not return stay as they are), and a short summary.";

  let answer: LlmOwnerAnswer;
  let usage: ModelUsage[];
  try {
    const res = await callStructured(
      {
        label: run.label,
        workerEnv: run.workerEnv,
        secrets: run.secrets,
        hooks: run.hooks,
        heartbeatIntervalMs: deps.heartbeatIntervalMs,
        configErrorType: ActivityErrorType.AgentConfigError,
        timeoutErrorType: ActivityErrorType.AgentTimeoutError,
        onTick: softTimeoutWatcher(run, agent.soft_timeout_ms, agent.timeout_ms),
      },
      {
        endpoint: agent,
        maxTokens: agent.max_tokens,
        system: SYSTEM,
        prompt,
        name: "write_files",
        description: "Writes the files of the card into the attempt workspace.",
        jsonSchema: LLM_OWNER_JSON_SCHEMA,
        schema: LlmOwnerAnswerSchema,
        maxOutputRetries: 1,
        timeoutMs: agent.timeout_ms,
      },
      input.pricing,
    );
    answer = res.value;
    usage = res.usage;
  } catch (err) {
    if (err instanceof StructuredOutputError) {
      throw agentFailure(ActivityErrorType.AgentOutputError, err.message, {
        nonRetryable: false,
        cost: settleCost(err.usage, input.pricing).cost,
      });
    }
    throw err;
  }
  const cost = settleRunCost(run, usage, undefined, { model: agent.model, provider: agent.provider });
  let written: string[];
  try {
    written = await writeWorkspaceFiles(run.workspace, answer.files);
  } catch (err) {
    throw agentFailure(
      ActivityErrorType.AgentOutputError,
      `${run.label}: ${redact((err as Error).message, run.secrets)}`,
      { nonRetryable: false, cost },
    );
  }
  await redactArtifacts(run, written);
  // In a worktree owner.ts sets the attempt's changed files; listing the whole project would be wasted.
  if (input.repository)
    return { artifacts: written, summary: summaryOf(run, answer.summary), cost } satisfies OwnerResult;
  const { files } = await listWorkspaceFiles(run.workspace);
  const seen = new Set(written);
  return {
    artifacts: [...written, ...files.filter((f) => !seen.has(f))],
    summary: summaryOf(run, answer.summary),
    cost,
  } satisfies OwnerResult;
};
