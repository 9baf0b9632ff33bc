/**
 * The `command` agent protocol, shared by the example owner agents (offline, deterministic stand-ins for AI
 * agents). One run:
 *   stdin  one JSON object: { backlog_id, card, attempt, workspace, dependencies, feedback, repository? }
 *          (src/activities/agents/command.ts); with a repository (the example's `metadata.repository`) the
 *          workspace is the attempt's git worktree — the project with every DONE dependency's work merged
 *          in — and the agents read and write the project's real files there (squadflow commits what they
 *          leave and merges the approved attempt)
 *   stdout one JSON object: { artifacts: [relative paths], summary, usage: { input_tokens, output_tokens, cost_usd } }
 *   stderr logs; exit 0 on success, non-zero on failure.
 * Usage is derived from what the agent read and wrote (≈ 4 characters a token), priced like a mid-size
 * model, so cost tracking shows reproducible, real-looking numbers.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";

/** Tokens of the agent's fixed instructions (its "system prompt"), counted on every run. */
const INSTRUCTION_TOKENS = 1_200;
/** USD per million input tokens. */
const USD_PER_M_INPUT = 3;
/** USD per million output tokens. */
const USD_PER_M_OUTPUT = 15;

/** Red-flag phrases the verification gate rejects (built-in list), each with a neutral replacement. */
const RED_FLAGS = [
  [/\bTODO\b/gi, "open item"],
  [/\bFIXME\b/gi, "known issue"],
  [/placeholder/gi, "sample value"],
  [/lorem ipsum/gi, "sample text"],
  [/not implemented/gi, "not available"],
];

/** Tokens of a text, ≈ 4 characters a token (rounded up). */
export function tokensOf(chars) {
  return Math.ceil(chars / 4);
}

/** Usage of a run that read `inputChars` and wrote `outputChars` characters: tokens and USD (1e-6). */
export function usageOf(inputChars, outputChars) {
  const input_tokens = INSTRUCTION_TOKENS + tokensOf(inputChars);
  const output_tokens = tokensOf(outputChars);
  const usd = (input_tokens * USD_PER_M_INPUT + output_tokens * USD_PER_M_OUTPUT) / 1e6;
  return { input_tokens, output_tokens, cost_usd: Math.round(usd * 1e6) / 1e6 };
}

/** Text with the verification gate's red-flag phrases replaced by neutral words. */
export function sanitize(text) {
  return RED_FLAGS.reduce((t, [pattern, word]) => t.replace(pattern, word), String(text));
}

/** A log line on stderr (stdout is reserved for the result). */
export function log(message) {
  process.stderr.write(`[${process.env.SQUADFLOW_CARD_ID ?? "agent"}] ${message}\n`);
}

/** The value of `--name value` in argv, or undefined. */
export function argValue(argv, name) {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : undefined;
}

/** A URL-and-file-safe slug of a title: lower case, words joined by dashes, at most 60 characters. */
export function slugify(text) {
  return String(text)
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 60)
    .replace(/-+$/g, "");
}

function readStdin() {
  return new Promise((resolveText, reject) => {
    const chunks = [];
    process.stdin.on("data", (c) => chunks.push(c));
    process.stdin.on("end", () => resolveText(Buffer.concat(chunks).toString("utf8")));
    process.stdin.on("error", reject);
  });
}

/** Checks the input's shape, so that a protocol mismatch fails loudly with the field's name. */
export function checkInput(input) {
  const problems = [];
  if (!input || typeof input !== "object") problems.push("input is not a JSON object");
  else {
    if (!input.card || typeof input.card !== "object") problems.push("card is missing");
    else {
      for (const f of ["id", "type", "title"])
        if (typeof input.card[f] !== "string") problems.push(`card.${f} is not a string`);
    }
    if (!Number.isInteger(input.attempt) || input.attempt < 1) problems.push("attempt is not an integer ≥ 1");
  }
  if (problems.length) throw new Error(`bad agent input: ${problems.join("; ")}`);
}

/**
 * The context a handler works with: the normalized input, and file helpers that keep every path inside
 * the workspace and count characters read and written for the usage figures.
 */
class AgentContext {
  constructor(input) {
    const card = input.card;
    this.backlogId = input.backlog_id ?? process.env.SQUADFLOW_BACKLOG_ID ?? "backlog";
    this.card = {
      id: card.id,
      type: card.type,
      title: card.title,
      description: card.description ?? "",
      priority: card.priority ?? "MEDIUM",
      dependencies: card.dependencies ?? [],
      acceptanceCriteria: card.acceptance_criteria ?? [],
    };
    this.attempt = input.attempt;
    this.workspace = resolve(input.workspace ?? process.env.SQUADFLOW_WORKSPACE ?? process.cwd());
    /** `{ worktree, branch, base_commit, integration_branch }` when the backlog delivers into a repository. */
    this.repository = input.repository ?? null;
    this.dependencies = (input.dependencies ?? []).map((d) => ({ cardId: d.card_id, artifacts: d.artifacts ?? [] }));
    const fb = input.feedback;
    this.feedback = fb
      ? {
          round: fb.round ?? input.attempt - 1,
          reasons: fb.reasons ?? [],
          rootCause: fb.root_cause,
          suggestions: fb.suggestions ?? [],
          humanContext: fb.human_context,
        }
      : null;
    // The prompt an AI agent would get: the card, the attempt and the feedback (paths are not counted, so
    // the figures do not depend on where the workspace is); dependency files count as they are read.
    this.inputChars = JSON.stringify({ card, attempt: input.attempt, feedback: fb ?? null }).length;
    /** True when the card type is peer-reviewed at the owner's milestones (issue 12): see `milestone()`. */
    this.reviewAtEvents = input.review_at_events === true;
    this.outputChars = 0;
    this.artifacts = [];
  }

  /**
   * Reports a milestone on stdout (`{"squadflow":"milestone","name":…}`, the protocol's event line) when the
   * card is reviewed at its milestones: squadflow snapshots the work now and reviews it while the agent goes on.
   */
  milestone(name) {
    if (this.reviewAtEvents) process.stdout.write(`${JSON.stringify({ squadflow: "milestone", name })}\n`);
  }

  /** Absolute path of a workspace-relative path; refuses paths that leave the workspace. */
  path(rel) {
    const abs = resolve(this.workspace, rel);
    const back = relative(this.workspace, abs);
    if (back === "" || back.startsWith("..") || isAbsolute(back)) throw new Error(`path "${rel}" leaves the workspace`);
    return abs;
  }

  /** The workspace-relative form (`/`-separated) of an absolute path inside the workspace, else undefined. */
  projectPath(abs) {
    const back = relative(this.workspace, resolve(abs));
    return back === "" || back.startsWith("..") || isAbsolute(back) ? undefined : back.split(sep).join("/");
  }

  /** True when the workspace-relative file exists (the project's, or left by the previous attempt). */
  has(rel) {
    return existsSync(this.path(rel));
  }

  /** Reads a workspace-relative file (the previous attempt's work, in a correction); counted as input. */
  readOwn(rel) {
    return this.readAbsolute(this.path(rel));
  }

  /** Reads a file by absolute path (a dependency artifact); undefined when it cannot be read. */
  readAbsolute(abs) {
    try {
      const text = readFileSync(abs, "utf8");
      this.inputChars += text.length;
      return text;
    } catch (err) {
      log(`cannot read ${abs}: ${err.code ?? err.message}`);
      return undefined;
    }
  }

  /** Writes a workspace-relative file and records it as an artifact. */
  write(rel, content) {
    const abs = this.path(rel);
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, content);
    this.outputChars += content.length;
    const norm = rel.split(sep).join("/");
    if (!this.artifacts.includes(norm)) this.artifacts.push(norm);
    log(`wrote ${norm} (${content.length} chars)`);
  }

  /** Dependency artifacts as `{ cardId, path }` (absolute paths), in dependency order. */
  dependencyFiles() {
    return this.dependencies.flatMap((d) => d.artifacts.map((p) => ({ cardId: d.cardId, path: p })));
  }
}

/**
 * Runs an agent: reads the input, calls `handler(ctx)` (which writes files through `ctx.write` and returns
 * a summary), prints the result JSON, and exits 0 — or logs the error and exits 1.
 */
export async function runAgent(handler) {
  try {
    const text = await readStdin();
    let input;
    try {
      input = JSON.parse(text);
    } catch (err) {
      throw new Error(`stdin is not JSON: ${err.message}`);
    }
    checkInput(input);
    const ctx = new AgentContext(input);
    log(
      `attempt ${ctx.attempt} of ${ctx.card.id} (${ctx.card.type}) in ${ctx.workspace}${ctx.repository ? ` on ${ctx.repository.branch}` : ""}`,
    );
    const summary = await handler(ctx);
    if (ctx.artifacts.length === 0) throw new Error("the agent produced no artifacts");
    const result = { artifacts: ctx.artifacts, summary, usage: usageOf(ctx.inputChars, ctx.outputChars) };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (err) {
    log(`failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  }
}

/**
 * Section headings a correction's feedback asks for, e.g. from
 * `llm_judge: criterion "Rollback plan" not met: no section "Rollback plan" in docs/architecture.md`.
 * A reason that names a missing section gives that section; an LLM-judge reason that only names its
 * criterion (no regex, text or command miss) gives the criterion's name, since section criteria are named
 * after their heading.
 */
export function requestedSections(feedback) {
  if (!feedback) return [];
  const out = [];
  for (const reason of feedback.reasons) {
    const section = /\bno section\s+"([^"]+)"/i.exec(reason)?.[1];
    const judged =
      /^\s*llm_judge:/i.test(reason) && !/no match for|not found in|command "|no artifact|no readable/i.test(reason);
    const heading = section ?? (judged ? /\bcriterion\s+"([^"]+)"/i.exec(reason)?.[1] : undefined);
    if (heading && !out.some((h) => h.toLowerCase() === heading.toLowerCase())) out.push(heading);
  }
  return out;
}
