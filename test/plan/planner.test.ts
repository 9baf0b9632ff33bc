/**
 * `squadflow plan --planner`: the squad's planner agent (a real `command` agent process) turns a free-form
 * document into plan tasks; its answer passes the same schema and checks as a YAML plan, a bad answer is
 * asked again once with the problems as feedback, then refused.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli } from "../helpers/cli.js";
import { planSquad, scratch } from "./helpers.js";

/**
 * A planner: every `* text (role)` line of the document becomes a task `P-<n>` depending on the one
 * before. Its mode (first argument) decides how it misbehaves:
 *   good          logs a line, then answers
 *   fix-on-retry  first answers with an unknown dependency, then answers well, with the feedback it got
 *   always-bad    answers without descriptions, every time
 *   crash         exits 3
 * Every request it gets is appended to requests.jsonl beside it.
 */
const PLANNER = `
import { appendFileSync } from 'node:fs';
let input = '';
for await (const chunk of process.stdin) input += chunk;
const request = JSON.parse(input);
appendFileSync(new URL('./requests.jsonl', import.meta.url), JSON.stringify(request) + '\\n');
const mode = process.argv[2];
if (mode === 'crash') { console.error('planner: out of ideas'); process.exit(3); }
const tasks = request.document.split('\\n').filter((l) => l.startsWith('* ')).map((l, i) => {
  const [, text, role] = /^\\* (.+?) \\((\\w+)\\)$/.exec(l);
  return { id: \`P-\${i + 1}\`, role, description: text, dependencies: i > 0 ? [\`P-\${i}\`] : [] };
});
if (mode === 'always-bad') tasks.forEach((t) => delete t.description);
if (mode === 'fix-on-retry') {
  if (request.attempt === 1) tasks[0].dependencies = ['P-99'];
  else tasks[0].description += ' — fixed after: ' + request.feedback.join('; ');
}
if (mode === 'good') console.log('thinking about', tasks.length, 'tasks');
console.log(JSON.stringify({ title: 'Planned', tasks }));
`;

const DOCUMENT = `# Notes from the planning meeting

We agreed to let customers export their orders.

* CSV export endpoint (backend)
* Export button on the orders page (ui)
* End-to-end export test (qa)
`;

let tmp: Awaited<ReturnType<typeof scratch>>;
let doc: string;

beforeAll(async () => {
  tmp = await scratch("plan-planner");
  await tmp.write("planner.mjs", PLANNER);
  doc = await tmp.write("notes.md", DOCUMENT);
});
afterAll(async () => {
  await tmp?.remove();
});

/** A squad file whose planner runs planner.mjs in `mode`. */
async function squadWithPlanner(mode: string): Promise<string> {
  const squad = planSquad({ planner: "planner" });
  (squad.agents as Record<string, unknown>).planner = {
    kind: "command",
    command: "node",
    args: [join(tmp.dir, "planner.mjs"), mode],
  };
  return tmp.write(`squad-${mode}.json`, JSON.stringify(squad));
}

/** The requests the planner got so far, oldest first; clears the log. */
async function requests(): Promise<
  { attempt: number; file: string; roles: Record<string, string>; feedback?: string[] }[]
> {
  const path = join(tmp.dir, "requests.jsonl");
  if (!existsSync(path)) return [];
  const lines = (await readFile(path, "utf8"))
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  await tmp.write("requests.jsonl", "");
  return lines;
}

describe("plan --planner", () => {
  it("derives the backlog from the planner's answer to a free-form document", async () => {
    const out = join(tmp.dir, "notes.backlog.json");
    const r = await cli("plan", doc, "--squad", await squadWithPlanner("good"), "--planner", "--out", out, "--json");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ backlogId: "notes", cards: ["P-1", "P-2", "P-3"] });
    const backlog = JSON.parse(await readFile(out, "utf8"));
    expect(backlog.metadata.project).toBe("Planned");
    expect(
      backlog.cards.map((c: { id: string; type: string; title: string; dependencies: string[] }) => [
        c.id,
        c.type,
        c.title,
        c.dependencies,
      ]),
    ).toEqual([
      ["P-1", "BACKEND", "CSV export endpoint", []],
      ["P-2", "FRONTEND", "Export button on the orders page", ["P-1"]],
      ["P-3", "QA", "End-to-end export test", ["P-2"]],
    ]);
    const [request, ...more] = await requests();
    expect(more).toEqual([]);
    expect(request).toMatchObject({
      attempt: 1,
      file: doc,
      roles: { BACKEND: "BACKEND", FRONTEND: "FRONTEND", QA: "QA", ui: "FRONTEND" },
    });
    expect(request!.feedback).toBeUndefined();
  });

  it("asks again once with the problems of a bad answer as feedback, and takes the second answer", async () => {
    const r = await cli("plan", doc, "--squad", await squadWithPlanner("fix-on-retry"), "--planner");
    expect(r.code).toBe(0);
    const backlog = JSON.parse(r.out);
    expect(backlog.cards[0].dependencies).toEqual([]);
    const [first, second] = await requests();
    expect(first!.attempt).toBe(1);
    expect(second!.attempt).toBe(2);
    expect(second!.feedback).toEqual([`${doc}: card P-1, field tasks[0].dependencies[0]: unknown dependency "P-99"`]);
    expect(backlog.cards[0].description).toBe(`CSV export endpoint — fixed after: ${second!.feedback![0]}`);
  });

  it("refuses after a second bad answer (exit 1), naming the problems, and writes nothing", async () => {
    const out = join(tmp.dir, "refused.json");
    const r = await cli("plan", doc, "--squad", await squadWithPlanner("always-bad"), "--planner", "--out", out);
    expect(r.code).toBe(1);
    expect(r.err).toContain('planner agent "planner" answered badly 2 times; its last answer was refused:');
    expect(r.err).toContain(
      `${doc}: card P-1, field tasks[0].description: Invalid input: expected string, received undefined`,
    );
    expect((await requests()).map((q) => q.attempt)).toEqual([1, 2]);
    expect(existsSync(out)).toBe(false);
  });

  it("reports a planner that fails with its stderr, without asking again", async () => {
    const r = await cli("plan", doc, "--squad", await squadWithPlanner("crash"), "--planner");
    expect(r.code).toBe(1);
    expect(r.err).toContain('planner agent "planner" exited with 3: planner: out of ideas');
    expect((await requests()).map((q) => q.attempt)).toEqual([1]);
  });

  it("needs a planner in the squad (exit 2, naming the squad file)", async () => {
    const squad = await tmp.write("no-planner.json", JSON.stringify(planSquad()));
    const r = await cli("plan", doc, "--squad", squad, "--planner");
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      `${squad}: field planner: no planner agent: set "planner": "<agent>" in the squad to use --planner`,
    );
  });
});
