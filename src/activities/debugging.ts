/**
 * The debugging agent: root cause and fix suggestions when a card keeps failing the same way — PRODUCT.md
 * "Corrections: from the 2nd attempt on, when the same reasons repeat, the debugging agent runs first and
 * its root cause and fix suggestions go into the correction". Pluggable by kind (`DEBUGGER_KINDS`, squad.ts
 * `DebuggerSchema`): a deterministic rule-based analysis (`rules`, the default), and `llm`, a model's
 * structured root cause and suggestions (debuggers/llm.ts), which falls back to `rules` when the model
 * cannot answer.
 */
import type { AttemptRecord, DebugInput, DebugReport, ValidatorName, Verdict } from "../domain/attempt.js";
import { failureReasons, reasonKey, repeatedReasons } from "../domain/attempt.js";
import type { DebuggerConfig } from "../domain/squad.js";
import type { ActivityDeps } from "./context.js";
import { llmDebug } from "./debuggers/llm.js";

/** A debugging implementation; `deps` gives an LLM-backed kind the worker's environment and hooks. */
export type Debugger = (input: DebugInput, deps?: ActivityDeps) => Promise<DebugReport>;

/** Splits a prefixed reason (`qa: check "unit" failed: exit 1`) into validator and reason. */
function splitReason(prefixed: string): { validator: string; reason: string } {
  const m = /^([a-z_]+): ([\s\S]*)$/.exec(prefixed);
  return m ? { validator: m[1]!, reason: m[2]! } : { validator: "", reason: prefixed };
}

/** Range of attempt numbers, `2` or `2–4`. */
function range(from: number, to: number): string {
  return from === to ? String(from) : `${from}–${to}`;
}

function quoteList(items: readonly string[]): string {
  return items.map((i) => `"${i}"`).join(", ");
}

/** The subject a reason is about, for grouping: `criterion "X"`, `check "Y"`, `artifact "Z"`, … */
function subject(reason: string): { kind: string; name: string } | undefined {
  const m = /^(criterion|check|artifact|required evidence) "([^"]*)"/.exec(reason);
  return m ? { kind: m[1]!, name: m[2]! } : undefined;
}

/** How many trailing attempts in a row failed with this prefixed reason (compared by `reasonKey`). */
function streak(history: readonly AttemptRecord[], prefixed: string): number {
  const k = reasonKey(prefixed);
  let n = 0;
  for (let i = history.length - 1; i >= 0; i--) {
    if (!failureReasons(history[i]!.verdicts).some((r) => reasonKey(r) === k)) break;
    n++;
  }
  return n;
}

function failedValidators(r: AttemptRecord): ValidatorName[] {
  return r.verdicts.filter((v) => !v.passed).map((v) => v.validator);
}

function judgeScore(r: AttemptRecord): number | undefined {
  return r.verdicts.find((v) => v.validator === "llm_judge")?.score;
}

/** The command line a QA verdict's details record for a check (`$ npm test`), if any. */
function qaCommandOf(verdicts: readonly Verdict[], check: string): string | undefined {
  const details = verdicts.find((v) => v.validator === "qa")?.details ?? "";
  const at = details.indexOf(`check "${check}":\n$ `);
  if (at < 0) return undefined;
  const start = at + `check "${check}":\n$ `.length;
  const end = details.indexOf("\n", start);
  return details.slice(start, end < 0 ? undefined : end);
}

/**
 * One concrete, actionable suggestion for a (prefixed) failure reason, by the reason texts the validators
 * produce (verification.ts, judge.ts, qa.ts, and the workflows' "Owner execution failed: …").
 */
export function suggestionFor(prefixed: string, last?: AttemptRecord): string {
  const { validator, reason } = splitReason(prefixed);
  let m: RegExpExecArray | null;
  if ((m = /^artifact "([^"]*)" contains red flag "([^"]*)"$/.exec(reason))) {
    return `Remove every "${m[2]}" from ${m[1]} and write the finished content in its place; verification rejects red-flag text anywhere in the file.`;
  }
  if ((m = /^artifact "([^"]*)" is empty$/.exec(reason))) {
    return `Write the actual content of ${m[1]}; an empty or whitespace-only file fails verification.`;
  }
  if ((m = /^artifact "([^"]*)" does not exist$/.exec(reason))) {
    return `Create ${m[1]} in the attempt workspace, or stop listing it in "artifacts".`;
  }
  if (
    (m = /^artifact "([^"]*)" (?:resolves outside the workspace|leaves the workspace|is an absolute path)/.exec(reason))
  ) {
    return `Write ${m[1]} as a regular file inside the attempt workspace (no symlinks out, no ".."), and report it by its workspace-relative path.`;
  }
  if ((m = /^artifact "([^"]*)" is not a regular file$/.exec(reason))) {
    return `List files, not directories: report the files inside "${m[1]}" one by one in "artifacts".`;
  }
  if ((m = /^required evidence "([^"]*)" is missing/.exec(reason))) {
    return `Produce a file matching "${m[1]}" (the card type's required evidence) and list it in "artifacts".`;
  }
  if (/^no artifacts were reported/.test(reason)) {
    return 'List every file the owner produced in the "artifacts" array of its result.';
  }
  if ((m = /^criterion "([^"]*)" not met: no section "([^"]*)" in (.*)$/.exec(reason))) {
    const where = m[3] === "any artifact" ? "a markdown artifact" : m[3];
    return `Add a markdown heading "${m[2]}" (any level) to ${where}, with real content under it — rubric criterion "${m[1]}".`;
  }
  if ((m = /^criterion "([^"]*)" not met: no match for \/(.*)\/ in (.*)$/.exec(reason))) {
    return `Make ${m[3]} contain text matching /${m[2]}/ — rubric criterion "${m[1]}".`;
  }
  if ((m = /^criterion "([^"]*)" not met: text "(.*)" not found in (.*)$/.exec(reason))) {
    return `Include the exact text "${m[2]}" in ${m[3]} — rubric criterion "${m[1]}".`;
  }
  if (
    (m = /^criterion "([^"]*)" not met: command "(.*)" (exited \d+|timed out after \d+ ms|killed by \S+)$/.exec(reason))
  ) {
    return `Make "${m[2]}" succeed when run in the workspace (it ${m[3]}); the judge's details show its output — rubric criterion "${m[1]}".`;
  }
  if ((m = /^criterion "([^"]*)" not met: no artifact matches "([^"]*)"$/.exec(reason))) {
    return `Produce an artifact matching "${m[2]}": rubric criterion "${m[1]}" only looks at those files.`;
  }
  if ((m = /^check "([^"]*)" failed: (.*)$/.exec(reason))) {
    const cmd = last && qaCommandOf(last.verdicts, m[1]!);
    return `Make QA check "${m[1]}" pass${cmd ? ` (\`${cmd}\`)` : ""}: it failed with ${m[2]}; run it in the workspace and fix the errors its output tail shows.`;
  }
  if ((m = /^check "([^"]*)" timed out after (\d+) ms$/.exec(reason))) {
    return `Make QA check "${m[1]}" finish within ${m[2]} ms: look for hanging tests, servers left running, or prompts waiting on input.`;
  }
  if (validator === "owner") {
    return `Fix the owner run itself first: ${reason}`;
  }
  return `Address "${reason}"${validator ? ` (${validator})` : ""} directly; the previous correction did not change it.`;
}

/** Describes what changed between two attempts: artifacts added/removed, judge score delta. */
function changes(prev: AttemptRecord, last: AttemptRecord): string {
  const before = new Set(prev.artifacts);
  const after = new Set(last.artifacts);
  const added = last.artifacts.filter((a) => !before.has(a));
  const removed = prev.artifacts.filter((a) => !after.has(a));
  const parts: string[] = [];
  if (added.length === 0 && removed.length === 0) parts.push("the list of artifacts did not change");
  else {
    if (added.length) parts.push(`added ${added.join(", ")}`);
    if (removed.length) parts.push(`removed ${removed.join(", ")}`);
  }
  const s0 = judgeScore(prev);
  const s1 = judgeScore(last);
  if (s0 !== undefined && s1 !== undefined) {
    const d = Math.round((s1 - s0) * 10) / 10;
    parts.push(`the judge score went ${s0.toFixed(1)} → ${s1.toFixed(1)} (${d >= 0 ? "+" : ""}${d.toFixed(1)})`);
  }
  return `Between attempts ${prev.attempt} and ${last.attempt}: ${parts.join("; ")}.`;
}

/** Groups repeated reasons by validator into `llm_judge on criteria "A", "B"`. */
function describeRepeats(repeated: readonly string[]): string {
  type Group = { subjects: Map<string, string[]>; other: string[] };
  const byValidator = new Map<string, Group>();
  for (const p of repeated) {
    const { validator, reason } = splitReason(p);
    const entry: Group = byValidator.get(validator) ?? { subjects: new Map(), other: [] };
    byValidator.set(validator, entry);
    const s = subject(reason);
    if (s) {
      const names = entry.subjects.get(s.kind) ?? [];
      if (!names.includes(s.name)) names.push(s.name);
      entry.subjects.set(s.kind, names);
    } else entry.other.push(reason);
  }
  const plural = (kind: string, n: number): string =>
    n === 1 ? kind : kind === "criterion" ? "criteria" : kind === "required evidence" ? kind : `${kind}s`;
  return [...byValidator]
    .map(([validator, e]) => {
      const parts = [...e.subjects].map(([kind, names]) => `${plural(kind, names.length)} ${quoteList(names)}`);
      parts.push(...e.other.map((o) => `"${o}"`));
      return `${validator || "unknown"} on ${parts.join(" and ")}`;
    })
    .join("; ");
}

/**
 * The deterministic debugger: which validators failed in each attempt, which reasons repeat between the
 * last two attempts (`repeatedReasons`, attempt.ts) and for how long, what changed between the last two
 * attempts (artifacts added/removed, judge score delta), a root cause naming the validators and criteria
 * that keep failing, and one suggestion per repeated reason (per failure reason of the last attempt when
 * nothing repeats).
 */
export const rulesDebugger: Debugger = async ({ card, history }) => {
  const last = history[history.length - 1];
  if (!last) return { rootCause: `No attempts of card ${card.id} to analyse.`, suggestions: [], repeatedReasons: [] };
  const lastReasons = failureReasons(last.verdicts);
  if (last.passed || lastReasons.length === 0) {
    return {
      rootCause: `Attempt ${last.attempt} of card ${card.id} passed; nothing to debug.`,
      suggestions: [],
      repeatedReasons: [],
    };
  }
  const repeated = repeatedReasons(history);
  const prev = history[history.length - 2];
  const timeline = history.map((r) => `attempt ${r.attempt}: ${failedValidators(r).join(", ") || "passed"}`).join("; ");
  const sentences: string[] = [];
  if (repeated.length > 0) {
    const longest = Math.max(...repeated.map((r) => streak(history, r)));
    const from = history[history.length - longest]!.attempt;
    sentences.push(
      `Card ${card.id} keeps failing the same way in attempts ${range(from, last.attempt)}: ${describeRepeats(repeated)}; ` +
        `the corrections did not fix ${repeated.length === 1 ? "this reason" : `these ${repeated.length} reasons`}.`,
    );
  } else {
    sentences.push(
      `Card ${card.id} failed attempt ${last.attempt} on ${[...new Set(failedValidators(last))].join(", ")}` +
        (prev ? `; no reason repeated from attempt ${prev.attempt}.` : "."),
    );
  }
  if (prev) sentences.push(changes(prev, last));
  sentences.push(`Failed validators by attempt: ${timeline}.`);
  const basis = repeated.length > 0 ? repeated : lastReasons;
  return {
    rootCause: sentences.join(" "),
    suggestions: [...new Set(basis.map((r) => suggestionFor(r, last)))],
    repeatedReasons: repeated,
  };
};

/**
 * The `llm` debugger as a `Debugger`: needs `input.config` of kind `llm` (provider, model, …); without it
 * the rules debugger answers.
 */
export const llmDebugger: Debugger = async (input, deps) => {
  const config = input.config;
  if (config?.kind !== "llm") return rulesDebugger(input);
  return llmDebug(deps, input, config, (i) => rulesDebugger(i));
};

/** Debugger implementations by kind (squad.ts `DebuggerSchema`). */
export const DEBUGGER_KINDS = { rules: rulesDebugger, llm: llmDebugger } satisfies {
  [K in DebuggerConfig["kind"]]: Debugger;
};
/** A debugger kind. */
export type DebuggerKind = keyof typeof DEBUGGER_KINDS;

/**
 * Creates the debugging activity. `debugFailures(input)` analyses the card's attempt history with the
 * debugger of `input.config.kind` (the card type's or squad's `debugger`, `CardPlan.debugger`), else the
 * worker's `kind` (default `rules`), and returns a DebugReport (with `cost` for the `llm` kind). It throws
 * only on a programming error or a cancellation: an `llm` debugger that cannot answer falls back to `rules`.
 *
 * @param deps the worker's dependencies (environment for API keys, hooks); optional for `rules`.
 */
export function createDebugFailures(
  kind: DebuggerKind = "rules",
  deps?: ActivityDeps,
): (input: DebugInput) => Promise<DebugReport> {
  return async function debugFailures(input: DebugInput): Promise<DebugReport> {
    const impl = DEBUGGER_KINDS[input.config?.kind ?? kind];
    return impl(input, deps);
  };
}
