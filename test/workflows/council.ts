/**
 * The council tests' world (issue 12): a `command` council agent script, a DOC card type whose cards
 * deliberate, a worker with the real activities, and counters of what each agent started and finished.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { boxActivities, sandbox, type Box } from "../helpers/repository.js";
import { createTestWorker, uniqueTaskQueue } from "../helpers/temporal.js";

/**
 * A council agent: by `council.step` it proposes (writes `design.md` from $PROPOSAL), critiques (its
 * summary), revises (adds a Rollback plan section) or chooses ($CHOOSE); without a council it is a plain
 * owner writing $PROPOSAL. $CRASH=<step> makes it exit 3 at that step; $HOLD=<step> makes it wait there for
 * `<COUNT_DIR>/<name>.release`. Every start and every finished step is appended to `<COUNT_DIR>/<name>.<step>.*`.
 * It reports `design.md` as its artifact when it wrote it, and $USD as the cost of each run — at most the
 * run's `budget_usd`, which it appends to `<COUNT_DIR>/<name>.<step>.budget`.
 */
export const COUNCIL_AGENT = `
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
const input = JSON.parse(readFileSync(0, 'utf8'));
const me = process.env.AGENT_NAME;
const dir = process.env.COUNT_DIR;
const step = input.council ? input.council.step : 'own';
const mark = (what) => appendFileSync(dir + '/' + me + '.' + step + '.' + what, '1\\n');
mark('started');
if (process.env.HOLD === step) {
  await new Promise((r) => { const t = setInterval(() => { if (existsSync(dir + '/' + me + '.release')) { clearInterval(t); r(); } }, 50); });
}
if (process.env.CRASH === step || process.env.CRASH === 'always') { console.error(me + ' crashes at ' + step); process.exit(3); }
let summary = '';
if (step === 'propose' || step === 'own') { writeFileSync('design.md', process.env.PROPOSAL); summary = me + ' proposes its design'; }
else if (step === 'critique') { summary = me + ': the proposal of ' + input.council.of + ' has no Rollback plan'; }
else if (step === 'revise') { appendFileSync('design.md', '\\n## Rollback plan\\nRevert the merge.\\n'); summary = me + ' revised: ' + input.feedback.reasons.join(' | '); }
else if (step === 'choose') { summary = JSON.stringify({ winner: process.env.CHOOSE, rationale: 'its design is the most complete' }); }
mark('done');
// It honours its budget as Claude Code's --max-budget-usd does: it spends $USD, or its budget_usd when that is less.
const usd = process.env.USD ? Math.min(Number(process.env.USD), input.budget_usd ?? Infinity) : undefined;
if (process.env.USD) appendFileSync(dir + '/' + me + '.' + step + '.budget', String(input.budget_usd) + '\\n');
const usage = usd !== undefined ? { input_tokens: 100, output_tokens: 50, cost_usd: usd } : undefined;
console.log(JSON.stringify({ artifacts: ['propose', 'revise', 'own'].includes(step) ? ['design.md'] : [], summary, ...(usage && { usage }) }));
`;

/** A full design: Intro and Details. */
export const FULL = "# Design\n\n## Intro\nalpha: one service.\n\n## Details\nalpha: the endpoints.\n";
/** A short design: Intro only. */
export const SHORT = "# Design\n\n## Intro\nbeta: two services.\n";

/** The command agent `name` running the council script with `env`. */
export function agent(box: Box, name: string, env: Record<string, string>) {
  return {
    kind: "command",
    command: "node",
    args: ["./council.mjs"],
    env: { AGENT_NAME: name, COUNT_DIR: join(box.dir, "counts"), ...env },
  };
}

/** A DOC card type whose cards deliberate: `agents` propose, one round, a rubric scorer, a QA check for a Details section. */
export function councilSquad(
  box: Box,
  agents: Record<string, Record<string, string>>,
  architect = "top-score",
  others: Record<string, Record<string, string>> = {},
) {
  return {
    agents: {
      ...Object.fromEntries(
        Object.entries({ ...agents, ...others }).map(([name, env]) => [name, agent(box, name, env)]),
      ),
      writer: agent(box, "writer", { PROPOSAL: FULL }),
    },
    card_types: {
      DOC: {
        owner: "writer",
        judge: {
          kind: "rubric",
          criteria: [{ name: "has intro", check: { type: "section", heading: "Intro", file: "design.md" } }],
        },
        qa: { checks: [{ name: "details", command: "grep", args: ["-q", "## Details", "design.md"] }] },
        deliberation: {
          agents: Object.keys(agents),
          rounds: 1,
          scorer: {
            kind: "rubric",
            criteria: [
              { name: "Intro", check: { type: "section", heading: "Intro", file: "design.md" } },
              { name: "Details", weight: 2, check: { type: "section", heading: "Details", file: "design.md" } },
              { name: "Rollback plan", check: { type: "section", heading: "Rollback plan", file: "design.md" } },
            ],
          },
          architect,
          top_k: 2,
          default: true,
        },
      },
    },
  };
}

/** A worker with the real activities on `taskQueue` (a fresh one by default), the sandbox's state dirs. */
export async function councilWorker(box: Box, taskQueue = uniqueTaskQueue("council")) {
  return { worker: await createTestWorker({ taskQueue, activities: boxActivities(box) }), taskQueue };
}

/** A sandbox with the council script in its project folder and a `counts` folder; `count` reads a counter. */
export async function councilBox() {
  const box = await sandbox();
  await writeFile(join(box.base, "council.mjs"), COUNCIL_AGENT);
  await mkdir(join(box.dir, "counts"));
  const count = (name: string, step: string, what: "started" | "done") =>
    readFile(join(box.dir, "counts", `${name}.${step}.${what}`), "utf8").then(
      (t) => t.split("\n").filter(Boolean).length,
      () => 0,
    );
  return { box, count };
}
