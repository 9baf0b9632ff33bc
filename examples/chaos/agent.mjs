#!/usr/bin/env node
/**
 * chaos-agent — the owner agent of the FAULTS harness (`npm run chaos`, scripts/chaos/). It speaks the
 * `command` agent protocol (src/activities/agents/command.ts): one JSON object on stdin, one JSON object
 * `{ artifacts, summary, usage }` on stdout, logs on stderr, cwd = the attempt workspace.
 *
 * Deterministic by design, so that a run with faults can be compared with a run without:
 * - it sleeps a pseudo-random time in [--min-ms, --max-ms] (default 200–2000 ms), seeded by
 *   card id + attempt (never by time or by how often it ran);
 * - its behaviour comes from a `chaos: <mode>` line in the card description:
 *   `ok` (default) writes a passing artifact; `fail-first` writes one the rubric judge rejects on attempt 1
 *   (a correction fixes it); `always-fail` never passes the judge (→ corrections → escalation);
 *   `hang` never answers (the activity's `timeout_ms` kills it); `crash` dies — exit 1 on odd runs of the
 *   same attempt, SIGKILL of itself on even ones;
 * - a card named in CHAOS_HOLD_CARDS waits, once its work is made, until the file CHAOS_HOLD_FILE exists
 *   (the harness holds the last cards until its faults are done).
 *
 * The invocation log. Every run appends to `$CHAOS_LOG_DIR/<backlog>/<card>/attempt-<n>.log`, OUTSIDE
 * the workspace (the workspace is emptied when an activity is retried), one line per event:
 *   `start <pid> <ppid> <epoch-ms>` when it begins,
 *   `done <pid> <ppid> <epoch-ms>` after its side effect (the artifact) and its result file
 *   (`$SQUADFLOW_RESULT_FILE`), before it answers on stdout.
 * `ppid` at `done` differing from the one at `start` means the agent outlived its worker (it was
 * re-parented). A `done` line counted twice for one attempt is an owner side effect that happened twice.
 * Without CHAOS_LOG_DIR nothing is logged (the squad config passes it in the agent's `env`).
 */
import { appendFileSync, existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The value of `--name value` in argv, or `fallback`. */
function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

/** 32-bit FNV-1a hash of a string. */
function fnv1a(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function readStdin() {
  return new Promise((resolveText, reject) => {
    const chunks = [];
    process.stdin.on("data", (c) => chunks.push(c));
    process.stdin.on("end", () => resolveText(Buffer.concat(chunks).toString("utf8")));
    process.stdin.on("error", reject);
  });
}

/** Appends one event line to the invocation log of this attempt; returns how many runs started before. */
function logEvent(input, event) {
  const root = process.env.CHAOS_LOG_DIR;
  if (!root) return 0;
  const dir = join(root, input.backlog_id, input.card.id);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `attempt-${input.attempt}.log`);
  let before = 0;
  if (event === "start") {
    try {
      before = readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l.startsWith("start ")).length;
    } catch {
      before = 0;
    }
  }
  // One short write with O_APPEND: lines of concurrent runs never interleave.
  appendFileSync(file, `${event} ${process.pid} ${process.ppid} ${Date.now()}\n`);
  return before;
}

const input = JSON.parse(await readStdin());
const mode = /^\s*chaos:\s*([a-z-]+)\s*$/im.exec(input.card.description ?? "")?.[1] ?? "ok";
const minMs = Number(arg("min-ms", "200"));
const maxMs = Number(arg("max-ms", "2000"));
const random = mulberry32(fnv1a(`${input.card.id}#${input.attempt}`));
const runMs = Math.round(minMs + random() * Math.max(0, maxMs - minMs));

const runsBefore = logEvent(input, "start");
process.stderr.write(
  `[chaos-agent ${input.card.id} #${input.attempt}] mode ${mode}, ${runMs} ms, run ${runsBefore + 1}\n`,
);

if (mode === "hang") {
  // Never answers; only the activity's hard limit (its process group is killed) ends it.
  setInterval(() => undefined, 60_000);
  await new Promise(() => undefined);
}

await sleep(runMs);

// Held by the harness (CHAOS_HOLD_CARDS, CHAOS_HOLD_FILE) until it has made its faults: the backlog cannot
// come to rest before then, however fast this machine is. A killed worker takes this process with it.
const held = (process.env.CHAOS_HOLD_CARDS ?? "").split(",").includes(input.card.id);
if (held && process.env.CHAOS_HOLD_FILE) {
  process.stderr.write(
    `[chaos-agent ${input.card.id} #${input.attempt}] held until ${process.env.CHAOS_HOLD_FILE} exists\n`,
  );
  while (!existsSync(process.env.CHAOS_HOLD_FILE)) await sleep(100);
}

if (mode === "crash") {
  process.stderr.write(`[chaos-agent ${input.card.id}] crashing on purpose\n`);
  if (runsBefore % 2 === 1) process.kill(process.pid, "SIGKILL");
  process.exit(1);
}

const passes = mode === "ok" || (mode === "fail-first" && input.attempt > 1);
const lines = [
  `# ${input.card.title}`,
  "",
  `Card ${input.card.id}, attempt ${input.attempt}, made in ${runMs} ms.`,
  "",
  ...(passes
    ? ["## Result", "", `chaos-ok ${input.card.id}`, ""]
    : ["## Draft", "", "First pass, the result section is still missing.", ""]),
  ...(input.dependencies.length ? ["## Builds on", "", ...input.dependencies.map((d) => `- ${d.card_id}`), ""] : []),
];
mkdirSync("out", { recursive: true });
writeFileSync(join("out", `${input.card.id}.md`), lines.join("\n"));

// The side effect is done: leave the answer in the result file (atomically) so that a retry of this
// attempt whose worker died before hearing it takes it from there, then record the side effect.
const answer = JSON.stringify({
  artifacts: [`out/${input.card.id}.md`],
  summary: `chaos ${mode}: wrote out/${input.card.id}.md in ${runMs} ms`,
  usage: { input_tokens: 100, output_tokens: 50, cost_usd: 0.001 },
});
if (process.env.SQUADFLOW_RESULT_FILE) {
  writeFileSync(`${process.env.SQUADFLOW_RESULT_FILE}.tmp`, answer);
  renameSync(`${process.env.SQUADFLOW_RESULT_FILE}.tmp`, process.env.SQUADFLOW_RESULT_FILE);
}
logEvent(input, "done");
process.stdout.write(answer + "\n");
