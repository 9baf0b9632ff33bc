/**
 * The LLM-judge step (validator `llm_judge`): scores the artifacts 0–10 and passes at ≥ `pass_score`
 * (default 8.0 — PRODUCT.md). Pluggable by `config.kind` (squad.ts `JudgeSchema`): `JUDGE_KINDS` maps each
 * kind to its implementation: `rubric`, the deterministic offline judge (below, the default of the example
 * backlog), and `llm`, a model (or a panel of models, median score) answering with a validated structure
 * (judges/llm.ts).
 */
import picomatch from "picomatch";
import type { JudgeInput, Verdict } from "../domain/attempt.js";
import type { JudgeConfig, RubricCheck, RubricCriterion } from "../domain/squad.js";
import { commandLine, nowIso, temporalHooks, type ActivityDeps, type ActivityHooks } from "./context.js";
import { validatorConfigError } from "./errors.js";
import { readHead, MAX_SCAN_BYTES } from "./verification.js";
import { runDetails, runFailure, runValidatorCommand } from "./validator-command.js";
import { checkArtifact, realWorkspace, workspaceRootDir } from "./workspace.js";
import { llmJudge } from "./judges/llm.js";

/** What a judge implementation decides (and, for an LLM, what it cost); the activity adds `validator` and `at`. */
export type JudgeOutcome = Pick<Verdict, "passed" | "score" | "reasons" | "details" | "cost">;

/** What a judge implementation gets besides its input. */
export interface JudgeContext {
  deps: ActivityDeps;
  hooks: ActivityHooks;
  /** Real absolute attempt workspace. */
  workspace: string;
}

/** A judge implementation for one config kind. */
export type JudgeImpl<K extends JudgeConfig["kind"]> = (
  ctx: JudgeContext,
  input: JudgeInput & { config: Extract<JudgeConfig, { kind: K }> },
) => Promise<JudgeOutcome>;

/** A text artifact selected for a criterion: its normalized path and content. */
interface TextArtifact {
  rel: string;
  text: string;
}

/** Normalizes a heading for comparison: trimmed, whitespace collapsed, lower case. */
function headingKey(text: string): string {
  return text.trim().replace(/\s+/g, " ").toLowerCase();
}

/**
 * The headings of a markdown text, in order: ATX (`#` … `######`, closing `#`s dropped) and setext
 * (a line underlined with `===` or `---`); lines inside fenced code blocks (``` or ~~~) are ignored.
 */
export function markdownHeadings(text: string): string[] {
  const headings: string[] = [];
  let fence: string | undefined;
  let previous: string | undefined; // the previous line, when it could be a setext heading's text
  for (const line of text.split(/\r?\n/)) {
    const f = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (f) {
      const marker = f[1]!;
      if (fence === undefined) fence = marker;
      else if (marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
      previous = undefined;
      continue;
    }
    if (fence !== undefined) continue;
    const atx = /^ {0,3}#{1,6}(?:[ \t]+(.*?))?[ \t]*$/.exec(line);
    if (atx) {
      headings.push((atx[1] ?? "").replace(/(?:^|[ \t]+)#+$/, "").trim());
      previous = undefined;
      continue;
    }
    if (previous !== undefined && /^ {0,3}(?:=+|-+)[ \t]*$/.test(line)) {
      headings.push(previous.trim());
      previous = undefined;
      continue;
    }
    previous = line.trim() === "" ? undefined : line;
  }
  return headings;
}

/** True when the markdown text has a heading equal to `heading` (case-insensitive, trimmed). */
export function hasSection(text: string, heading: string): boolean {
  const key = headingKey(heading);
  return markdownHeadings(text).some((h) => headingKey(h) === key);
}

/** Score 0–10 with one decimal: 10 × met weight ÷ total weight (squad.ts `JudgeSchema`). */
export function rubricScore(metWeight: number, totalWeight: number): number {
  if (totalWeight <= 0) return 0;
  return Math.round((100 * metWeight) / totalWeight) / 10;
}

/** Loads the artifacts a criterion's `file` glob selects (all when absent); unreadable ones are skipped. */
async function selectArtifacts(
  ctx: JudgeContext,
  artifacts: readonly string[],
  glob: string | undefined,
): Promise<TextArtifact[]> {
  let match: (p: string) => boolean = () => true;
  if (glob !== undefined) {
    try {
      match = picomatch(glob, { dot: true });
    } catch (err) {
      throw validatorConfigError(`rubric file glob "${glob}" is invalid: ${(err as Error).message}`);
    }
  }
  const out: TextArtifact[] = [];
  for (const a of new Set(artifacts)) {
    const check = await checkArtifact(ctx.workspace, a);
    // Verification already rejected bad paths; here they simply cannot satisfy anything.
    if (!check.ok || !match(check.rel)) continue;
    const text = (await readHead(check.path, MAX_SCAN_BYTES)).toString("utf8");
    out.push({ rel: check.rel, text });
  }
  return out;
}

/** Why a criterion was not met (stable text), plus optional details; `undefined` when met. */
interface CheckResult {
  miss?: string;
  detail?: string;
}

function compileRegex(pattern: string, criterion: string): RegExp {
  try {
    return new RegExp(pattern, "m");
  } catch (err) {
    throw validatorConfigError(
      `rubric criterion "${criterion}": invalid regex /${pattern}/: ${(err as Error).message}`,
    );
  }
}

async function evaluate(ctx: JudgeContext, input: JudgeInput, criterion: RubricCriterion): Promise<CheckResult> {
  const check: RubricCheck = criterion.check;
  if (check.type === "command") {
    const timeoutMs = check.timeout_ms ?? 60_000;
    const cmd = { command: check.command, args: check.args ?? [], timeout_ms: timeoutMs };
    const run = await runValidatorCommand(
      ctx.deps,
      ctx.hooks,
      cmd,
      ctx.workspace,
      `rubric criterion "${criterion.name}"`,
    );
    const failure = runFailure(run, timeoutMs);
    if (failure === undefined) return {};
    const how = run.timedOut ? failure : failure.replace(/^exit /, "exited ");
    return { miss: `command "${commandLine(cmd.command, cmd.args)}" ${how}`, detail: runDetails(cmd, run) };
  }
  const where = check.file ?? "any artifact";
  const selected = await selectArtifacts(ctx, input.artifacts, check.file);
  if (selected.length === 0) {
    return { miss: check.file === undefined ? "no readable artifact" : `no artifact matches "${check.file}"` };
  }
  const files = selected.map((s) => s.rel).join(", ");
  switch (check.type) {
    case "section":
      return selected.some((s) => hasSection(s.text, check.heading))
        ? {}
        : { miss: `no section "${check.heading}" in ${where}`, detail: `looked in ${files}` };
    case "regex": {
      const re = compileRegex(check.pattern, criterion.name);
      return selected.some((s) => re.test(s.text))
        ? {}
        : { miss: `no match for /${check.pattern}/ in ${where}`, detail: `looked in ${files}` };
    }
    case "contains":
      return selected.some((s) => s.text.includes(check.text))
        ? {}
        : { miss: `text "${check.text}" not found in ${where}`, detail: `looked in ${files}` };
  }
}

/**
 * The `rubric` judge: every criterion is checked against the artifacts (squad.ts `RubricCheckSchema`):
 * - `section`: a markdown heading, any level, whose text equals `heading` (case-insensitive, trimmed);
 * - `regex`: a JavaScript regular expression with flag `m` matches;
 * - `contains`: the text occurs (case-sensitive);
 * - `command`: run in the workspace (see validator-command.ts), met on exit 0 within `timeout_ms`.
 * `file` is a picomatch glob over the artifact paths (default: every artifact); a file criterion is met when
 * ANY selected artifact satisfies it. Score = round(10 × met weight ÷ total weight, 1 decimal); passes iff
 * score ≥ `pass_score`. One reason per missed criterion:
 * `criterion "<name>" not met: no section "<heading>" in <file glob | any artifact>`.
 */
export const rubricJudge: JudgeImpl<"rubric"> = async (ctx, input) => {
  const { criteria } = input.config;
  const passScore = input.config.pass_score ?? 8.0;
  let total = 0;
  let met = 0;
  const reasons: string[] = [];
  const metNames: string[] = [];
  const details: string[] = [];
  for (const criterion of criteria) {
    const weight = criterion.weight ?? 1;
    total += weight;
    const result = await evaluate(ctx, input, criterion);
    if (result.miss === undefined) {
      met += weight;
      metNames.push(criterion.name);
    } else {
      reasons.push(`criterion "${criterion.name}" not met: ${result.miss}`);
      if (result.detail) details.push(`criterion "${criterion.name}": ${result.detail}`);
    }
  }
  const score = rubricScore(met, total);
  const passed = score >= passScore;
  if (!passed && reasons.length === 0) {
    // Only possible with pass_score above 10 × met/total rounding; keep a failing verdict explainable.
    reasons.push(`score ${score.toFixed(1)} is below the pass score ${passScore.toFixed(1)}`);
  }
  const summary =
    `score ${score.toFixed(1)}/10 (pass at ${passScore.toFixed(1)}); met ${met} of ${total} weight` +
    (metNames.length ? `: ${metNames.map((n) => `"${n}"`).join(", ")}` : "");
  return {
    passed,
    score,
    // A pass carries no reasons, even when some minor criteria were missed (they are in details).
    reasons: passed ? [] : reasons,
    details: [summary, ...(passed ? reasons : []), ...details].join("\n"),
  };
};

/** Judge implementations by `config.kind` (squad.ts `JudgeSchema`); a new kind adds an entry here. */
export const JUDGE_KINDS: { [K in JudgeConfig["kind"]]: JudgeImpl<K> } = {
  rubric: rubricJudge,
  llm: llmJudge,
};

/**
 * Creates the LLM-judge activity.
 *
 * `judgeArtifacts(input)` dispatches on `input.config.kind` (see `JUDGE_KINDS`) and returns a Verdict of
 * validator `llm_judge` with `score` (0–10) set; missed criteria fail it, they are not thrown.
 *
 * @throws ApplicationFailure `ValidatorConfigError` (unknown kind, invalid regex or glob, a command that
 *   cannot start, an `llm` judge's API key unset or refused), `JudgeOutputError` (an `llm` judge gave no
 *   valid answer), `LlmRequestError`, `LlmApiError`, `WorkspaceError` / `WorkspaceNotFoundError`; a
 *   `CancelledFailure` when cancelled.
 */
export function createJudgeArtifacts(deps: ActivityDeps): (input: JudgeInput) => Promise<Verdict> {
  return async function judgeArtifacts(input: JudgeInput): Promise<Verdict> {
    const impl = JUDGE_KINDS[input.config.kind] as JudgeImpl<JudgeConfig["kind"]> | undefined;
    if (!impl) throw validatorConfigError(`unknown judge kind "${String(input.config.kind)}"`);
    const workspace = await realWorkspace(workspaceRootDir(deps, input.workspaceRoot), input.workspace);
    const hooks = (deps.hooks ?? temporalHooks)();
    const outcome = await impl({ deps, hooks, workspace }, input);
    return { validator: "llm_judge", ...outcome, at: nowIso(deps) };
  };
}
