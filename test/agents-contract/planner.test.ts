/**
 * CLI planners (issue 12, `squadflow plan --planner`): the real Claude Code, Codex and Gemini CLIs, each
 * answering through its stub model, turn a free-form document into plan tasks: read-only, in a temp
 * folder holding the document (removed afterwards), the plan as their final message; a final message that
 * is no valid plan is asked again once with the problems in the prompt, then refused; a write is refused.
 */
import { readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { cli } from "../helpers/cli.js";
import { planSquad, scratch } from "../plan/helpers.js";
import { contract, PRICING, type Contract, type ContractKind } from "./harness.js";
import type { StubStep } from "./stub-models.js";

const KINDS: ContractKind[] = ["claude-code", "codex", "gemini"];
const KEY: Record<ContractKind, string> = {
  "claude-code": "ANTHROPIC_API_KEY",
  codex: "OPENAI_API_KEY",
  gemini: "GEMINI_API_KEY",
};
const USAGE = { input: 3_000, output: 400, cacheRead: 1_000 };

const DOCUMENT = `# Notes from the planning meeting

Customers want to export their orders: a CSV endpoint first, then a button on the orders page.
`;

const PLAN = {
  title: "Order export",
  tasks: [
    {
      id: "EXP-1",
      role: "BACKEND",
      title: "CSV export endpoint",
      description: "GET /orders/export returns the orders as CSV.",
      dependencies: [],
      priority: "high",
      constraints: [],
      acceptance_criteria: ["one line per order"],
    },
    {
      id: "EXP-2",
      role: "ui",
      title: "Export button",
      description: "A button on the orders page that downloads the CSV.",
      dependencies: ["EXP-1"],
      priority: "medium",
      constraints: [],
      acceptance_criteria: [],
    },
  ],
};
const answer = (text: string) => ({ kind: "answer" as const, text, usage: USAGE });

let tmp: Awaited<ReturnType<typeof scratch>>;
let doc: string;
let c: Contract | undefined;

beforeAll(async () => {
  tmp = await scratch("plan-cli");
  doc = await tmp.write("notes.md", DOCUMENT);
});
afterAll(async () => {
  await tmp?.remove();
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await c?.close();
  c = undefined;
});

/**
 * The contract world of `kind` (its stub answering `steps`) and a squad file whose planner is that CLI; the
 * in-process CLI's environment gets the contract's HOME and fake key, as a worker's would.
 */
async function plannerContract(kind: ContractKind, steps: StubStep[]): Promise<string> {
  c = await contract(kind, steps);
  vi.stubEnv("HOME", c.sb.deps.workerEnv!.HOME!);
  vi.stubEnv(KEY[kind], c.sb.deps.workerEnv![KEY[kind]]!);
  const squad = planSquad({ planner: "planner", pricing: PRICING });
  (squad.agents as Record<string, unknown>).planner = c.agent;
  return tmp.write(`squad-${kind}.json`, JSON.stringify(squad));
}

/** The temp folders of planner runs that exist now. */
async function plannerFolders(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((d) => d.startsWith("squadflow-planner-"));
}

/** Every main-loop prompt the stub got, as text (the document and feedback are in there, JSON-escaped). */
function prompt(n: number): string {
  return JSON.stringify(c!.stub.turns()[n]!.body);
}

describe.each(KINDS)("%s as a planner", (kind) => {
  it("answers the plan as its final message; the backlog is derived from it, its cost printed", async () => {
    const before = await plannerFolders();
    const squad = await plannerContract(kind, [answer("```json\n" + JSON.stringify(PLAN) + "\n```")]);
    const r = await cli("plan", doc, "--squad", squad, "--planner");
    expect(r.code).toBe(0);
    const backlog = JSON.parse(r.out);
    expect(backlog.metadata.project).toBe("Order export");
    expect(backlog.cards.map((x: Record<string, unknown>) => [x.id, x.type, x.priority, x.dependencies])).toEqual([
      ["EXP-1", "BACKEND", "HIGH", []],
      ["EXP-2", "FRONTEND", "MEDIUM", ["EXP-1"]],
    ]);
    expect(r.err).toMatch(/^squadflow: planner asked 1 time: \d+ input and 400 output tokens, \$0\.\d+$/m);
    expect(c!.stub.turns()).toHaveLength(1);
    expect(prompt(0)).toContain("Customers want to export their orders");
    expect(prompt(0)).toContain("- ui (card type FRONTEND)");
    expect(prompt(0)).toContain("Do not change any file.");
    expect(await plannerFolders()).toEqual(before);
  });

  it("is asked again once with the problems of an answer that is no plan, and refused after a second one (exit 1)", async () => {
    const squad = await plannerContract(kind, [answer("Here is the plan: export orders first.")]);
    const r = await cli("plan", doc, "--squad", squad, "--planner");
    expect(r.code).toBe(1);
    expect(r.err).toContain('planner agent "planner" answered badly 2 times; its last answer was refused:');
    expect(r.err).toContain('planner "planner": field (root): no JSON object in its answer');
    expect(c!.stub.turns()).toHaveLength(2);
    expect(prompt(0)).not.toContain("Your previous answer was refused");
    expect(prompt(1)).toContain("## Your previous answer was refused");
  });

  it("takes the second answer when the first names an unknown role", async () => {
    const bad = { ...PLAN, tasks: [{ ...PLAN.tasks[0]!, role: "design" }, PLAN.tasks[1]!] };
    const squad = await plannerContract(kind, [answer(JSON.stringify(bad)), answer(JSON.stringify(PLAN))]);
    const r = await cli("plan", doc, "--squad", squad, "--planner");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).cards.map((x: { id: string }) => x.id)).toEqual(["EXP-1", "EXP-2"]);
    expect(prompt(1)).toContain('unknown role \\"design\\"');
    expect(r.err).toMatch(/planner asked 2 times: \d+ input and 800 output tokens/);
  });

  it("cannot write: a write tool call is refused (exit 1, the tool named) and nothing is derived", async () => {
    const squad = await plannerContract(kind, [
      { kind: "write", path: "plan.json", content: JSON.stringify(PLAN), usage: USAGE },
      answer(JSON.stringify(PLAN)),
    ]);
    const r = await cli("plan", doc, "--squad", squad, "--planner");
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toContain('planner agent "planner"');
    expect(r.err).toContain({ "claude-code": "Write", codex: "apply_patch", gemini: "write_file" }[kind]);
  });
});
