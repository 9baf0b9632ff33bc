/**
 * Secrets never leave an activity — the agent-kinds issue: "secrets (API keys) never appear in artifacts,
 * logs, or workflow history … redact any secret value from error messages/stderr tails before they leave
 * the activity". Every text an agent activity returns, throws or logs that could echo the environment (an
 * agent's stderr, an SDK error, a summary) goes through `redact` first.
 */
import { SECRET_ENV_NAME } from "../domain/squad.js";

/** A secret value and the name of the variable that held it (the name is shown in its place). */
export interface Secret {
  name: string;
  value: string;
}

/** Values shorter than this are not redacted (a `1` or `true` in a secret-looking variable is no secret, and replacing it would garble every text). */
export const MIN_SECRET_LENGTH = 6;

/**
 * The secrets of the worker's environment: the values of the variables `names` (an API key's
 * `api_key_env`, the variables a CLI agent passes through) and of every variable whose name looks secret
 * (squad.ts `SECRET_ENV_NAME`: …KEY, …TOKEN, …SECRET, …PASSWORD, …CREDENTIAL, …AUTH…), each at least
 * `MIN_SECRET_LENGTH` characters long.
 */
export function secretsOf(workerEnv: Record<string, string | undefined>, names: Iterable<string> = []): Secret[] {
  const wanted = new Set(names);
  const out: Secret[] = [];
  for (const [name, value] of Object.entries(workerEnv)) {
    if (value === undefined || value.length < MIN_SECRET_LENGTH) continue;
    if (wanted.has(name) || SECRET_ENV_NAME.test(name)) out.push({ name, value });
  }
  // Longest first, so that a secret containing another is replaced whole.
  return out.sort((a, b) => b.value.length - a.value.length);
}

/** `text` with every occurrence of each secret value replaced by `[REDACTED:<NAME>]`. */
export function redact(text: string, secrets: readonly Secret[]): string {
  let out = text;
  for (const { name, value } of secrets) {
    if (out.includes(value)) out = out.split(value).join(`[REDACTED:${name}]`);
  }
  return out;
}
