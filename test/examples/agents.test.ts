/**
 * The example owner agents (examples/agents/*.mjs) and the example backlog
 * (state/backlog_master.example.json): every agent is spawned the way the owner activity spawns a `command`
 * agent, in real temp workspaces laid out like its attempt worktree (the seed project with the
 * dependencies' work in it), and what it writes is checked for real — documents by their headings, code by
 * running its QA checks (`node --test`, the product owner's acceptance specs) in the workspace. The git
 * side (worktrees, merges) is the e2e tests' (test/e2e/example-backlog.test.ts).
 */
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import picomatch from "picomatch";
import { afterAll, describe, expect, it } from "vitest";
import { hasSection, rubricScore } from "../../src/activities/judge.js";
import { createReviewPeers } from "../../src/activities/peer-review.js";
import type { AgentConfig } from "../../src/domain/squad.js";
import { BUILTIN_RED_FLAGS, findRedFlags } from "../../src/activities/verification.js";
import { planBacklog } from "../../src/domain/validate.js";
import {
  BACKLOG_REL,
  BACKLOG_PATH,
  ROOT,
  Workspaces,
  agentRequest,
  dependencyOf,
  listFiles,
  loadBacklog,
  protocolProblems,
  readArtifact,
  runAgent,
  runCheck,
  type AgentRun,
  type DependencyJson,
  type FeedbackJson,
  type FileCard,
} from "./helpers.js";

const backlog = loadBacklog();
const backlogId = backlog.metadata.backlog_id;
const squad = backlog.squad;
const workspaces = new Workspaces();
afterAll(() => workspaces.cleanup());

function card(id: string): FileCard {
  const c = backlog.cards.find((x) => x.id === id);
  if (!c) throw new Error(`no card ${id} in ${BACKLOG_REL}`);
  return c;
}

function agentOf(id: string): { command: string; args: string[] } {
  const c = card(id);
  const name = (c.owner as string | undefined) ?? squad.card_types[c.type]!.owner;
  return squad.agents[name]!;
}

function typeOf(id: string) {
  return squad.card_types[card(id).type]!;
}

/** A dependency of a run: its card id and the run whose work is merged into the dependent's worktree. */
type Merged = readonly [cardId: string, run: AgentRun];

/** Options of `attempt`. */
interface AttemptOptions {
  feedback?: FeedbackJson | null;
  /** The previous attempt, for a correction: its workspace is copied (the branch continues). */
  previous?: AgentRun;
  args?: string[];
  /** Dependencies that are legacy DONE cards (artifacts outside the project). */
  legacy?: DependencyJson[];
}

/**
 * Runs attempt `n` of a card in a workspace laid out like its worktree: the seed project with the work of
 * `deps` merged in, or a copy of the previous attempt's workspace for a correction.
 */
function attempt(id: string, n: number, deps: readonly Merged[], opts: AttemptOptions = {}) {
  const ws = workspaces.attempt(id, n, { previous: opts.previous?.workspace, merged: deps.map(([, run]) => run) });
  const dependencies = [...(opts.legacy ?? []), ...deps.map(([cardId, run]) => dependencyOf(cardId, run, ws))];
  return runAgent(
    agentOf(id),
    agentRequest(backlogId, card(id), n, ws, dependencies, opts.feedback ?? null),
    opts.args,
  );
}

/** The legacy DONE card's artifacts, resolved like the loader resolves them (against the backlog file's directory). */
function legacyDependency(id: string): DependencyJson {
  const c = card(id);
  return {
    card_id: id,
    artifacts: c.artifacts.map((a) => resolve(dirname(BACKLOG_PATH), typeof a === "string" ? a : a.path)),
  };
}

/** The QA reason the QA activity gives a failing check (src/activities/qa.ts). */
const qaReason = (check: string) => `qa: check "${check}" failed: exit 1`;

// ---- The card runs, each made once and shared by the tests below (in dependency order). ----------

const memo = new Map<string, Promise<AgentRun>>();
function once(key: string, make: () => Promise<AgentRun>): Promise<AgentRun> {
  if (!memo.has(key)) memo.set(key, make());
  return memo.get(key)!;
}

const ARQ_FEEDBACK: FeedbackJson = {
  round: 1,
  reasons: ['llm_judge: criterion "Rollback plan" not met: no section "Rollback plan" in docs/architecture.md'],
};

const runs = {
  spec: () => once("SPEC-001", () => attempt("SPEC-001", 1, [], { legacy: [legacyDependency("BRIEF-001")] })),
  arq1: () => once("ARQ-001#1", async () => attempt("ARQ-001", 1, [["SPEC-001", await runs.spec()]])),
  arq2: () =>
    once("ARQ-001#2", async () =>
      attempt("ARQ-001", 2, [["SPEC-001", await runs.spec()]], { feedback: ARQ_FEEDBACK, previous: await runs.arq1() }),
    ),
  infra: () => once("INFRA-001", async () => attempt("INFRA-001", 1, [["ARQ-001", await runs.arq2()]])),
  be1: () => once("BE-001", async () => attempt("BE-001", 1, [["ARQ-001", await runs.arq2()]])),
  fe: () => once("FE-001", async () => attempt("FE-001", 1, [["BE-001", await runs.be1()]])),
  /** BE-002 attempts 1–4: the first run and three corrections on the QA feedback, then a clarify round. */
  be2: (n: number): Promise<AgentRun> =>
    once(`BE-002#${n}`, async () => {
      const deps: Merged[] = [["ARQ-001", await runs.arq2()]];
      if (n === 1) return attempt("BE-002", 1, deps);
      const feedback: FeedbackJson = { round: n - 1, reasons: [qaReason("acceptance tests")] };
      if (n >= 3) {
        feedback.root_cause = `Card BE-002 keeps failing the same way in attempts ${n - 2}–${n - 1}: qa on check "acceptance tests".`;
        feedback.suggestions = [
          "Run the product owner's acceptance spec of discount-pricing and fix the failing assertions.",
        ];
      }
      if (n === 5) feedback.human_context = "FIN-7 is banker's rounding: round half to even, like the ledger.";
      return attempt("BE-002", n, deps, { feedback, previous: await runs.be2(n - 1) });
    }),
  qa: (be2Attempt: number) =>
    once(`QA-001@BE-002#${be2Attempt}`, async () => {
      const deps: Merged[] = [
        ["INFRA-001", await runs.infra()],
        ["BE-001", await runs.be1()],
        ["BE-002", await runs.be2(be2Attempt)],
        ["FE-001", await runs.fe()],
      ];
      return attempt("QA-001", 1, deps);
    }),
  docs: () =>
    once("DOCS-001", async () =>
      attempt("DOCS-001", 1, [
        ["SPEC-001", await runs.spec()],
        ["FE-001", await runs.fe()],
      ]),
    ),
  ops: () => once("OPS-001", async () => attempt("OPS-001", 1, [["ARQ-001", await runs.arq2()]])),
};

/** Runs every QA check of the card's type in the run's workspace, for real; name → exit code and output. */
async function qaChecks(id: string, run: AgentRun) {
  const out: Record<string, { exitCode: number | null; output: string }> = {};
  for (const check of typeOf(id).qa?.checks ?? []) out[check.name] = await runCheck(run.workspace, check);
  return out;
}

/**
 * The rubric score of a run, for criteria that read the artifacts (section, regex, contains), with the
 * judge's own heading matching and scoring (src/activities/judge.ts): a criterion is met when any artifact
 * its `file` glob selects satisfies it.
 */
function rubric(id: string, run: AgentRun): number {
  let met = 0;
  let total = 0;
  for (const { name, weight = 1, check } of typeOf(id).judge.criteria) {
    total += weight;
    const texts = run
      .result!.artifacts.filter((a) => !check.file || picomatch(check.file)(a))
      .map((a) => readArtifact(run, a));
    const ok = (t: string): boolean => {
      if (check.type === "section") return hasSection(t, check.heading!);
      if (check.type === "regex") return new RegExp(check.pattern!, "m").test(t);
      if (check.type === "contains") return t.includes(check.text!);
      throw new Error(`${id}: criterion ${name} of type ${check.type} is not checked here`);
    };
    if (texts.some(ok)) met += weight;
  }
  return rubricScore(met, total);
}

/** Level-2 sections of a markdown document, heading → body. */
function sections(doc: string): Map<string, string> {
  return new Map(
    doc
      .split(/^## /m)
      .slice(1)
      .map((s) => [s.slice(0, s.indexOf("\n")), s.slice(s.indexOf("\n")).trim()] as [string, string]),
  );
}

// ---- The backlog file -------------------------------------------------------------------------------

describe("the example backlog", () => {
  const plan = () => planBacklog(backlog.text, { file: BACKLOG_REL });

  it("plans without a single problem", () => {
    expect(plan).not.toThrow();
    expect(plan().backlogId).toBe("shop-discounts");
  });

  it("runs every card but the legacy ones, each with the owner of its type", () => {
    const p = plan();
    expect(p.cards.map((c) => c.card.id)).toEqual([
      "SPEC-001",
      "ARQ-001",
      "INFRA-001",
      "BE-001",
      "BE-002",
      "FE-001",
      "QA-001",
      "DOCS-001",
      "OPS-001",
      "ADR-001",
    ]);
    for (const c of p.cards) {
      expect(c.agentName).toBe(squad.card_types[c.card.type]!.owner);
      expect(c.agent).toMatchObject({ kind: "command", command: "node" });
      expect(c.costAlertUsd).toBe(squad.cost_alert_usd);
      expect(c.card.acceptanceCriteria.length).toBeGreaterThan(0);
    }
    expect(new Set(p.cards.map((c) => c.card.type))).toEqual(
      new Set(["SPEC", "ARCHITECTURE", "INFRA", "BACKEND", "FRONTEND", "QA", "DOCS", "RUNBOOK", "DECISION"]),
    );
    // ADR-001 deliberates: a council of three agents (issue 12).
    expect(p.cards.find((c) => c.card.id === "ADR-001")!.deliberation?.members.map((m) => m.name)).toEqual([
      "adr-postgres",
      "adr-redis",
      "adr-config",
    ]);
  });

  it("names agent scripts that exist, and uses every agent and card type it declares", () => {
    for (const [name, agent] of Object.entries(squad.agents)) {
      const script = agent.args.find((a) => a.startsWith("./"));
      expect(script, name).toBeDefined();
      expect(existsSync(join(ROOT, script!)), script).toBe(true);
    }
    const owners = new Set(
      Object.values(squad.card_types).flatMap((t) => [t.owner, ...(t.deliberation?.agents ?? [])]),
    );
    const reviewers = new Set(Object.values(squad.card_types).flatMap((t) => t.peer_review?.reviewers ?? []));
    expect([...owners, ...reviewers].sort()).toEqual(Object.keys(squad.agents).sort());
    const types = new Set(backlog.cards.map((c) => c.type));
    for (const t of Object.keys(squad.card_types)) expect(types.has(t), t).toBe(true);
  });

  it("treats the legacy DONE brief as a resolved dependency whose artifact exists beside the backlog file", () => {
    const p = plan();
    expect(p.done).toEqual([{ cardId: "BRIEF-001", artifacts: [card("BRIEF-001").artifacts[0]] }]);
    const spec = p.cards.find((c) => c.card.id === "SPEC-001")!;
    expect(spec.resolvedDependencies.map((d) => d.cardId)).toEqual(["BRIEF-001"]);
    for (const a of legacyDependency("BRIEF-001").artifacts) expect(existsSync(a), a).toBe(true);
  });

  it("folds the legacy correction card into its parent: it is neither run nor a dependency", () => {
    const corr = card("BRIEF-001-CORR-1");
    expect(corr).toMatchObject({ type: "CORRECTION", parent_card: "BRIEF-001", status: "DONE" });
    const p = plan();
    expect(p.cards.some((c) => c.card.id === corr.id)).toBe(false);
    expect(p.done.some((d) => d.cardId === corr.id)).toBe(false);
    expect(backlog.cards.some((c) => c.dependencies.includes(corr.id))).toBe(false);
  });
});

// ---- Every agent follows the protocol ---------------------------------------------------------------

describe("every example agent", () => {
  const all: [string, () => Promise<AgentRun>][] = [
    ["SPEC-001", runs.spec],
    ["ARQ-001 attempt 1", runs.arq1],
    ["ARQ-001 attempt 2", runs.arq2],
    ["INFRA-001", runs.infra],
    ["BE-001", runs.be1],
    ["BE-002 attempt 1", () => runs.be2(1)],
    ["BE-002 attempt 4", () => runs.be2(4)],
    ["BE-002 attempt 5", () => runs.be2(5)],
    ["FE-001", runs.fe],
    ["QA-001", () => runs.qa(5)],
    ["DOCS-001", runs.docs],
    ["OPS-001", runs.ops],
  ];

  it.each(all)(
    "%s: prints one protocol result, with artifacts inside the workspace, non-empty, free of red flags",
    async (label, make) => {
      const run = await make();
      expect(protocolProblems(run)).toEqual([]);
      // Exactly the files it reports (a correction may also keep its earlier files).
      for (const a of run.result!.artifacts) expect(listFiles(run.workspace)).toContain(a);
      for (const a of run.result!.artifacts) {
        const text = readArtifact(run, a);
        expect(findRedFlags(text, BUILTIN_RED_FLAGS), `${label}: ${a}`).toEqual([]);
        expect(text.includes(workspaces.dir), `${label}: ${a} names its temp workspace`).toBe(false);
        expect(text.includes(ROOT), `${label}: ${a} names the project's absolute path`).toBe(false);
      }
    },
  );

  it.each(all)("%s: matches the required evidence of its card type", async (label, make) => {
    const run = await make();
    const id = label.split(" ")[0]!;
    for (const glob of typeOf(id).verification.required_evidence) {
      expect(
        run.result!.artifacts.some((a) => picomatch(glob, { dot: true })(a)),
        `${label}: ${glob}`,
      ).toBe(true);
    }
  });

  it.each(all)("%s: reports usage derived from its input and output, well under a dollar", async (_label, make) => {
    const { usage } = (await make()).result!;
    expect(usage.input_tokens).toBeGreaterThan(1_200);
    expect(usage.output_tokens).toBeGreaterThan(100);
    expect(usage.cost_usd).toBeCloseTo((usage.input_tokens * 3 + usage.output_tokens * 15) / 1e6, 6);
    expect(usage.cost_usd).toBeLessThan(0.2);
  });

  it("is deterministic: the same input gives byte-identical artifacts and the same usage", async () => {
    for (const id of ["SPEC-001", "BE-002"] as const) {
      const first = id === "SPEC-001" ? await runs.spec() : await runs.be2(1);
      const again =
        id === "SPEC-001"
          ? await attempt(id, 1, [], { legacy: [legacyDependency("BRIEF-001")] })
          : await attempt(id, 1, [["ARQ-001", await runs.arq2()]]);
      expect(again.result).toEqual(first.result);
      for (const a of first.result!.artifacts) expect(readArtifact(again, a)).toBe(readArtifact(first, a));
    }
  });

  it("fails with exit 1 and a message on stderr when stdin is not the protocol", async () => {
    const ws = workspaces.attempt("bad-input", 1);
    const owners = new Set(Object.values(squad.card_types).map((t) => t.owner));
    for (const agent of Object.entries(squad.agents)
      .filter(([name]) => owners.has(name))
      .map(([, a]) => a)) {
      const run = await runAgent(agent, { backlog_id: backlogId, attempt: 1, workspace: ws, card: { id: "X-1" } });
      expect(run.exitCode).toBe(1);
      expect(run.stdout).toBe("");
      expect(run.stderr).toMatch(/bad agent input: card\.type is not a string/);
    }
  });
});

// ---- doc-writer --------------------------------------------------------------------------------------

describe("doc-writer", () => {
  it("writes the spec with a section per acceptance criterion, building on the legacy brief", async () => {
    const run = await runs.spec();
    expect(run.result!.artifacts).toEqual(["docs/spec.md"]);
    const doc = readArtifact(run, "docs/spec.md");
    for (const h of [
      "Context",
      "User stories",
      "Business rules",
      "Refusal reasons",
      "Out of scope",
      "Acceptance criteria",
    ]) {
      expect(hasSection(doc, h), h).toBe(true);
    }
    expect(doc).toMatch(/^# Functional spec: discount codes at checkout$/m);
    expect(doc).toContain("**BRIEF-001** — `product-brief.md`");
    expect(doc).toContain("In short (BRIEF-001, “Problem”)");
    expect(rubric("SPEC-001", run)).toBe(10);
  });

  it("writes the architecture without a rollback plan on attempt 1, so the rubric scores it below 8", async () => {
    const run = await runs.arq1();
    const doc = readArtifact(run, "docs/architecture.md");
    expect(hasSection(doc, "Rollback plan")).toBe(false);
    for (const h of ["Context", "Components", "Data model", "API contract", "Observability"])
      expect(hasSection(doc, h), h).toBe(true);
    expect(doc).toContain("### Table `discount_redemptions`");
    expect(doc).toContain("| POST | `/api/checkout/discount` |");
    expect(rubric("ARQ-001", run)).toBe(6.7);
  });

  it("adds the rollback plan the judge asked for, built from the flag, components and tables of the card", async () => {
    const before = readArtifact(await runs.arq1(), "docs/architecture.md");
    const run = await runs.arq2();
    expect(run.result!.summary).toMatch(/added "Rollback plan"/);
    const doc = readArtifact(run, "docs/architecture.md");
    expect(hasSection(doc, "Rollback plan")).toBe(true);
    const plan = doc.split("## Rollback plan")[1]!.split("\n## ")[0]!;
    expect(plan).toContain("feature flag `checkout.discount_codes` off");
    expect(plan).toContain("`checkout-web`, `checkout-api`, `back-office`, `orders-service`");
    expect(plan).toContain("drops `discount_redemptions`, then `discount_codes`");
    expect(doc).toContain("- Correction round 1: added “Rollback plan”, asked for by the LLM-judge.");
    // Every other section is as before, in the same order.
    const after = sections(doc);
    expect([...after.keys()].filter((h) => h !== "Rollback plan" && h !== "Revision history")).toEqual([
      ...sections(before).keys(),
    ]);
    for (const [h, body] of sections(before)) expect(after.get(h), h).toBe(body);
    expect(rubric("ARQ-001", run)).toBe(10);
  });

  it("keeps a section an earlier correction added when a later round asks for something else", async () => {
    const run = await attempt("ARQ-001", 3, [["SPEC-001", await runs.spec()]], {
      feedback: {
        round: 2,
        reasons: ['llm_judge: criterion "Security" not met: no section "Security" in docs/architecture.md'],
      },
      previous: await runs.arq2(),
    });
    const doc = readArtifact(run, "docs/architecture.md");
    expect(hasSection(doc, "Rollback plan")).toBe(true);
    expect(hasSection(doc, "Security")).toBe(true);
    expect(doc).toContain("- Correction round 1: added “Rollback plan”");
    expect(doc).toContain("- Correction round 2: added “Security”");
  });

  it("writes the marketing guide with the refusal messages of the frontend module it builds on", async () => {
    const run = await runs.docs();
    expect(run.result!.artifacts).toEqual(["docs/marketing-guide-creating-and-sharing-discount-codes.md"]);
    const doc = readArtifact(run, run.result!.artifacts[0]!);
    for (const h of ["Creating a code", "What shoppers see", "Troubleshooting"])
      expect(hasSection(doc, h), h).toBe(true);
    expect(doc).toContain("| `expired` | This code has expired. |");
    expect(rubric("DOCS-001", run)).toBe(10);
  });
});

// ---- peer-reviewer -----------------------------------------------------------------------------------

describe("peer-reviewer", () => {
  const reviewers = () =>
    typeOf("OPS-001").peer_review!.reviewers.map((name) => ({
      name,
      agent: squad.agents[name]! as unknown as AgentConfig,
    }));
  const review = (run: AgentRun) =>
    createReviewPeers({ workspacesRoot: dirname(run.workspace), baseDir: ROOT })({
      card: {
        id: "OPS-001",
        type: "RUNBOOK",
        title: card("OPS-001").title,
        description: "",
        priority: "MEDIUM",
        dependencies: [],
        acceptanceCriteria: [],
      },
      workspace: basename(run.workspace),
      artifacts: run.result!.artifacts,
      reviewers: reviewers(),
      moment: "always",
    });

  it("approves the runbook doc-writer writes for OPS-001, which the rubric passes", async () => {
    const run = await runs.ops();
    expect(rubric("OPS-001", run)).toBe(10);
    const verdict = await review(run);
    expect(verdict).toMatchObject({ validator: "peer_review", passed: true });
    expect(verdict.reviews!.map((r) => r.verdict)).toEqual(["approve"]);
  });

  it("finds a blocker in a secret written into a document", async () => {
    const run = await runs.ops();
    const path = run.result!.artifacts[0]!;
    const ws = workspaces.attempt("OPS-001-secret", 1, { previous: run.workspace });
    await writeFile(
      join(ws, path),
      readArtifact(run, path) + '\nThe admin password = "s3cr3t-pass" for the back office.\n',
    );
    const verdict = await review({ ...run, workspace: ws });
    expect(verdict.passed).toBe(false);
    expect(verdict.reasons[0]).toContain("found a blocker: " + path + ": a secret is written as a value");
  });

  it("fails with exit 1 and a message on stderr when stdin is not a review request", async () => {
    const ws = workspaces.attempt("bad-review", 1);
    const run = await runAgent(squad.agents["peer-reviewer"]!, {
      backlog_id: backlogId,
      attempt: 1,
      workspace: ws,
      card: { id: "X-1" },
    });
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/bad review input/);
  });
});

// ---- code-writer -------------------------------------------------------------------------------------

describe("code-writer", () => {
  it("writes discount-codes at paths of its own, and the project tests and the acceptance spec pass for real", async () => {
    const run = await runs.be1();
    expect(run.result!.artifacts).toEqual([
      "src/discount-codes.mjs",
      "test/discount-codes.test.mjs",
      "docs/discount-codes.md",
    ]);
    const checks = await qaChecks("BE-001", run);
    expect(checks["project tests"]!.exitCode, checks["project tests"]!.output).toBe(0);
    // The seed's own test ran too: the check is the whole project's suite.
    expect(checks["project tests"]!.output).toMatch(/the subtotal adds price/);
    expect(checks["acceptance tests"]!.exitCode, checks["acceptance tests"]!.output).toBe(0);
    expect(checks["acceptance tests"]!.output).toMatch(/each refusal reason of the spec/);
    // The product owner's spec stays the squad's: not written into the project.
    expect(listFiles(run.workspace).filter((f) => /acceptance/.test(f))).toEqual([]);
  });

  it("writes the checkout field importing discount-codes from where BE-001 put it, and the project tests pass for real", async () => {
    const run = await runs.fe();
    expect(run.result!.artifacts).toEqual([
      "src/checkout-discount-field.mjs",
      "test/checkout-discount-field.test.mjs",
      "docs/checkout-discount-field.md",
    ]);
    const source = readArtifact(run, "src/checkout-discount-field.mjs");
    expect(source).toContain("import { normalizeCode } from './discount-codes.mjs';");
    expect(source).toContain('aria-live="polite"');
    expect(listFiles(run.workspace).some((f) => f.startsWith("vendor/"))).toBe(false);
    const checks = await qaChecks("FE-001", run);
    expect(checks["project tests"]!.exitCode, checks["project tests"]!.output).toBe(0);
    expect(checks["project tests"]!.output).toMatch(/normalizeCode trims/);
  });

  it("fails, naming the module and its path, when a module it builds on is not in the project", async () => {
    const run = await attempt("FE-001", 1, []);
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/builds on module "discount-codes", but src\/discount-codes\.mjs is not in the project/);
  });

  it("fails when the card names no module of its library", async () => {
    const run = await attempt("FE-001", 1, [], { args: ["--module", "shipping-rates"] });
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/unknown module "shipping-rates"/);
  });

  it("writes discount-pricing with half-up rounding: its own tests pass, the acceptance test of FIN-7 fails", async () => {
    const run = await runs.be2(1);
    expect(run.result!.artifacts).toEqual([
      "src/discount-pricing.mjs",
      "test/discount-pricing.test.mjs",
      "docs/discount-pricing.md",
    ]);
    expect(readArtifact(run, "src/discount-pricing.mjs")).toContain("export const ROUNDING = 'half-up';");
    const checks = await qaChecks("BE-002", run);
    expect(checks["project tests"]!.exitCode, checks["project tests"]!.output).toBe(0);
    expect(checks["acceptance tests"]!.exitCode).toBe(1);
    expect(checks["acceptance tests"]!.output).toMatch(/half-cent results follow ledger rule FIN-7/);
  });

  it("tries another rounding on each correction the QA feedback asks for, and the acceptance test keeps failing", async () => {
    const roundings: string[] = [];
    for (const n of [2, 3, 4]) {
      const run = await runs.be2(n);
      const source = readArtifact(run, "src/discount-pricing.mjs");
      roundings.push(/export const ROUNDING = '([\w-]+)'/.exec(source)![1]!);
      const checks = await qaChecks("BE-002", run);
      expect(checks["project tests"]!.exitCode, `attempt ${n}: ${checks["project tests"]!.output}`).toBe(0);
      expect(checks["acceptance tests"]!.exitCode, `attempt ${n}`).toBe(1);
      expect(readArtifact(run, "docs/discount-pricing.md")).toContain(
        `- Correction round ${n - 1}: failing “acceptance tests” — rounding changed from`,
      );
    }
    expect(roundings).toEqual(["half-up-integer", "half-down", "truncate"]);
  });

  it("finally passes once a reviewer's clarify says FIN-7 is banker's rounding", async () => {
    const run = await runs.be2(5);
    expect(readArtifact(run, "src/discount-pricing.mjs")).toContain("export const ROUNDING = 'half-even';");
    const checks = await qaChecks("BE-002", run);
    expect(checks["project tests"]!.exitCode, checks["project tests"]!.output).toBe(0);
    expect(checks["acceptance tests"]!.exitCode, checks["acceptance tests"]!.output).toBe(0);
    expect(readArtifact(run, "docs/discount-pricing.md")).toContain("rounding changed from `truncate` to `half-even`");
  });

  it("does not guess banker's rounding from a reviewer's context that does not name it", async () => {
    const run = await attempt("BE-002", 5, [["ARQ-001", await runs.arq2()]], {
      feedback: {
        round: 4,
        reasons: [qaReason("acceptance tests")],
        human_context: "Please look at the failing test again.",
      },
      previous: await runs.be2(4),
    });
    const checks = await qaChecks("BE-002", run);
    expect(checks["acceptance tests"]!.exitCode).toBe(1);
  });
});

// ---- infra-writer and qa-writer ----------------------------------------------------------------------

describe("infra-writer", () => {
  it("writes a reversible migration of the architecture’s data model, whose checks pass for real", async () => {
    const run = await runs.infra();
    expect(run.result!.artifacts).toEqual([
      "migrations/001_discount_codes.up.sql",
      "migrations/001_discount_codes.down.sql",
      "test/migration.test.mjs",
    ]);
    const up = readArtifact(run, "migrations/001_discount_codes.up.sql");
    expect(up).toContain("CREATE TABLE discount_codes (");
    expect(up).toContain("  kind TEXT NOT NULL CHECK (kind IN ('percent', 'fixed')),");
    expect(up).toContain("  code TEXT NOT NULL REFERENCES discount_codes(code),");
    expect(up).toMatch(/^CREATE INDEX idx_discount_redemptions_code ON discount_redemptions \(code\);$/m);
    const down = readArtifact(run, "migrations/001_discount_codes.down.sql");
    expect(down.indexOf("DROP TABLE IF EXISTS discount_redemptions;")).toBeLessThan(
      down.indexOf("DROP TABLE IF EXISTS discount_codes;"),
    );
    const checks = await qaChecks("INFRA-001", run);
    expect(checks["project tests"]!.exitCode, checks["project tests"]!.output).toBe(0);
    expect(checks["project tests"]!.output).toMatch(/migration/);
  });
});

describe("qa-writer", () => {
  it.each([
    ["approved as escalated (truncate rounding)", 4],
    ["fixed after the reviewer's clarify (banker's rounding)", 5],
  ])("writes acceptance tests on the project's modules that pass for real with BE-002 %s", async (_label, be2) => {
    const run = await runs.qa(be2);
    expect(run.result!.artifacts).toEqual(["test/acceptance/checkout.test.mjs", "docs/test-plan.md"]);
    const e2e = readArtifact(run, "test/acceptance/checkout.test.mjs");
    expect(e2e).toContain("from '../../src/discount-pricing.mjs';");
    expect(e2e).toContain("new URL('../../migrations/001_discount_codes.up.sql', import.meta.url)");
    expect(listFiles(run.workspace).some((f) => f.startsWith("vendor/"))).toBe(false);
    const checks = await qaChecks("QA-001", run);
    expect(checks["project tests"]!.exitCode, checks["project tests"]!.output).toBe(0);
    // The whole project's suite ran: the seed's, every module's and migration's tests, and the 4 scenarios.
    expect(checks["project tests"]!.output).toMatch(/^(#|ℹ) fail 0$/m);
    for (const scenario of ["happy path:", "refusals:", "fixed amounts:", "schema:"])
      expect(checks["project tests"]!.output).toContain(scenario);
    const plan = readArtifact(run, "docs/test-plan.md");
    for (const h of ["Scenarios", "Traceability"]) expect(hasSection(plan, h), h).toBe(true);
    for (const c of card("QA-001").acceptance_criteria) expect(plan).toContain(`| ${c} |`);
  });
});
