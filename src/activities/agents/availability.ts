/**
 * Whether this worker can run an agent at all: its binary is there and executable, and the API key
 * variables its config needs are set. Used to route a pooled card (src/domain/routing.ts) past agents this
 * worker lacks, instead of failing the card with an `AgentConfigError` that another agent would not hit.
 */
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { delimiter, join } from "node:path";
import type { AgentConfig } from "../../domain/squad.js";
import { resolveProjectPath } from "../context.js";

async function executable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

/** True when `command` (a path, or a name looked up on `PATH`) names an executable file. */
export async function commandFound(command: string, baseDir: string, path: string | undefined): Promise<boolean> {
  const resolved = resolveProjectPath(baseDir, command);
  if (resolved.includes("/")) return executable(resolved);
  for (const dir of (path ?? "").split(delimiter)) {
    if (dir !== "" && (await executable(join(dir, resolved)))) return true;
  }
  return false;
}

/** The API key variable an `llm` agent reads (its `api_key_env`, else the provider's default; none for openai-compatible). */
function llmKeyVariable(agent: Extract<AgentConfig, { kind: "llm" }>): string | undefined {
  if (agent.api_key_env !== undefined) return agent.api_key_env;
  return agent.provider === "anthropic"
    ? "ANTHROPIC_API_KEY"
    : agent.provider === "openai"
      ? "OPENAI_API_KEY"
      : undefined;
}

/**
 * Why this worker cannot run `agent`, or undefined when it can: `binary "codex" not found on PATH`,
 * `GEMINI_API_KEY is not set`. Checks only what is local and cheap (no process is started, nothing sent).
 */
export async function agentUnavailable(
  agent: AgentConfig,
  baseDir: string,
  workerEnv: Record<string, string | undefined>,
): Promise<string | undefined> {
  const unset = (names: readonly string[]): string | undefined => {
    const missing = names.filter((n) => workerEnv[n] === undefined || workerEnv[n] === "");
    return missing.length > 0 ? `${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not set` : undefined;
  };
  switch (agent.kind) {
    case "command":
      return (await commandFound(agent.command, baseDir, workerEnv.PATH))
        ? undefined
        : `command "${agent.command}" not found${agent.command.includes("/") ? "" : " on PATH"}`;
    case "llm": {
      const key = llmKeyVariable(agent);
      return key !== undefined ? unset([key]) : undefined;
    }
    default:
      if (!(await commandFound(agent.binary, baseDir, workerEnv.PATH))) {
        return `binary "${agent.binary}" not found${agent.binary.includes("/") ? "" : " on PATH"}`;
      }
      return unset(agent.env);
  }
}
