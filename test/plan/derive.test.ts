/**
 * Plans → cards (issue 12): Markdown (seed 004's shape) and YAML/JSON plans parsed and derived into a
 * backlog, written to a real file and read back by the normal loader (`loadBacklog`); and their errors,
 * each naming the plan file and line.
 */
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadBacklog } from "../../src/cli/load.js";
import { BacklogValidationError, formatIssue, type BacklogIssue } from "../../src/domain/index.js";
import { deriveBacklog, parsePlan, parsePriority, roleCardType, type DerivedBacklog } from "../../src/domain/plan.js";
import { planSquad, scratch } from "./helpers.js";

let tmp: Awaited<ReturnType<typeof scratch>>;
beforeAll(async () => {
  tmp = await scratch("plan-derive");
});
afterAll(async () => {
  await tmp?.remove();
});

const SQUAD = { squad: { file: "squad.json", value: planSquad() } };

const MARKDOWN = `# Plan: password reset

Approved by the architecture council.

## BACKEND Tasks

- [ ] TASK-001: Implement reset token endpoint
  - Depends on: none
  - Priority: high
  - Constraints:
    - tokens expire after 15 minutes
    - no new dependencies
  - Sends the token by e-mail through the existing \`Mailer.send\` (*never* logs it)
- [x] TASK-002: Hash passwords with argon2
  Priority: 1

### Notes

Ignored: not a list under a tasks heading.

## UI Tasks

1. TASK-003: Reset form
   - Depends on: TASK-001, TASK-002
   - Acceptance criteria:
     - the form shows the password rules
     - the new password is typed twice

## QA Tasks

- [ ] **TASK-004**: End-to-end reset test
  - Depends on: TASK-003
  - Priority: LOW

## Out of scope

- TASK-999: not a task: no tasks heading above it
`;

const YAML = `title: Password reset
metadata:
  backlog_id: reset
  owner: auth-team
tasks:
  - id: TASK-001
    role: backend
    description: |
      Implement reset token endpoint
      Sends the token by e-mail through the existing mailer
    priority: high
    constraints: [tokens expire after 15 minutes, no new dependencies]
  - id: TASK-002
    role: BACKEND
    title: Hash passwords with argon2
    description: Replace bcrypt
    priority: 1
    done: true
  - id: TASK-003
    role: ui
    description: Reset form
    dependencies: TASK-001, TASK-002
    acceptance_criteria: [the form shows the password rules, the new password is typed twice]
  - id: TASK-004
    role: qa
    description: End-to-end reset test
    dependencies: [TASK-003]
    priority: low
`;

/** Writes the derived backlog as `squadflow plan --out` does and loads it with the normal loader. */
async function writeAndLoad(name: string, derived: DerivedBacklog) {
  const file = await tmp.write(name, JSON.stringify(derived.backlog, null, 2));
  return loadBacklog(file);
}

/** The problems `fn` throws as one line each (`file:line: card …, field …: message`). */
function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof BacklogValidationError) return err.issues.map((i: BacklogIssue) => formatIssue(i));
    throw err;
  }
  throw new Error("expected a BacklogValidationError");
}

describe("Markdown plans", () => {
  it('derive one card per task item under a "<ROLE> Tasks" heading, with dependencies, priority and constraints', () => {
    const { backlog, plan } = deriveBacklog(parsePlan(MARKDOWN, "plans/reset.md"), {
      ...SQUAD,
      now: "2026-01-02T03:04:05Z",
    });
    expect(backlog.metadata).toEqual({
      backlog_id: "reset",
      project: "Plan: password reset",
      plan: "plans/reset.md",
      created_at: "2026-01-02T03:04:05Z",
    });
    expect(backlog.cards).toEqual([
      {
        id: "TASK-001",
        type: "BACKEND",
        title: "Implement reset token endpoint",
        // Descriptions keep their Markdown; ids and keys are read from the plain text (**TASK-004** below).
        description:
          "Sends the token by e-mail through the existing `Mailer.send` (*never* logs it)\n\nConstraints:\n- tokens expire after 15 minutes\n- no new dependencies",
        status: "TODO",
        priority: "HIGH",
        dependencies: [],
        role: "BACKEND",
        plan_line: 7,
      },
      {
        id: "TASK-002",
        type: "BACKEND",
        title: "Hash passwords with argon2",
        description: "",
        status: "DONE",
        priority: "CRITICAL",
        dependencies: [],
        role: "BACKEND",
        plan_line: 14,
      },
      {
        id: "TASK-003",
        type: "FRONTEND",
        title: "Reset form",
        description: "",
        status: "TODO",
        dependencies: ["TASK-001", "TASK-002"],
        acceptance_criteria: ["the form shows the password rules", "the new password is typed twice"],
        role: "UI",
        plan_line: 23,
      },
      {
        id: "TASK-004",
        type: "QA",
        title: "End-to-end reset test",
        description: "",
        status: "TODO",
        priority: "LOW",
        dependencies: ["TASK-003"],
        role: "QA",
        plan_line: 31,
      },
    ]);
    expect(backlog.squad).toEqual(SQUAD.squad.value);
    // The delivered task is not run again; it is a resolved dependency of TASK-003.
    expect(plan.cards.map((c) => c.card.id)).toEqual(["TASK-001", "TASK-003", "TASK-004"]);
    expect(plan.done.map((d) => d.cardId)).toEqual(["TASK-002"]);
  });

  it("round-trip: the written backlog loads with the normal loader into the same cards", async () => {
    const derived = deriveBacklog(parsePlan(MARKDOWN, "reset.md"), SQUAD);
    const loaded = await writeAndLoad("reset-md.json", derived);
    expect(loaded.backlogId).toBe("reset");
    expect(loaded.cards.map((c) => c.card)).toEqual(derived.plan.cards.map((c) => c.card));
    expect(loaded.cards.map((c) => [c.card.id, c.card.type, c.card.priority, c.agentName])).toEqual([
      ["TASK-001", "BACKEND", "HIGH", "writer"],
      ["TASK-003", "FRONTEND", "MEDIUM", "writer"],
      ["TASK-004", "QA", "LOW", "writer"],
    ]);
    expect(loaded.done.map((d) => d.cardId)).toEqual(["TASK-002"]);
  });

  it("reads \\r\\n line ends with the same line numbers", () => {
    const doc = parsePlan(MARKDOWN.replace(/\n/g, "\r\n"), "reset.md");
    expect(doc.tasks.map((t) => [t.id, t.line])).toEqual([
      ["TASK-001", 7],
      ["TASK-002", 14],
      ["TASK-003", 23],
      ["TASK-004", 31],
    ]);
  });

  it('names file and line of an item that is not "ID: title" and of a bad priority, together', () => {
    const text = "## BACKEND Tasks\n\n- [ ] TASK-001: ok\n  - Priority: urgent\n- just a note\n";
    expect(problems(() => parsePlan(text, "p.md"))).toEqual([
      'p.md:4: card TASK-001, field Priority: "urgent" is not a priority: CRITICAL, HIGH, MEDIUM, LOW (any case) or 1–4',
      'p.md:5: field task: "just a note" is not a task item: write "ID: title" (e.g. "TASK-001: Implement login endpoint"; ids are letters, digits, ".", "_", "-")',
    ]);
  });

  it("refuses a document without tasks sections, pointing at --planner", () => {
    expect(problems(() => parsePlan("# Ideas\n\nWe should add password reset.\n", "ideas.md"))).toEqual([
      'ideas.md:1: field tasks: no tasks: expected "## <ROLE> Tasks" sections (e.g. "## BACKEND Tasks") with items "- [ ] TASK-001: title" (a free-form document: use --planner)',
    ]);
  });

  it("names the plan line of unknown dependencies, duplicates, cycles and unknown roles, all at once", () => {
    const text = [
      "## BACKEND Tasks", //           1
      "- [ ] A-1: first", //           2
      "  - Depends on: A-2, A-9", //   3
      "- [ ] A-2: second", //          4
      "  - Depends on: A-1", //        5
      "- [ ] A-1: again", //           6
      "## DESIGN Tasks", //            7
      "- [ ] D-1: mockups", //         8
    ].join("\n");
    expect(problems(() => deriveBacklog(parsePlan(text, "p.md"), SQUAD))).toEqual([
      'p.md:3: card A-1, field Depends on: unknown dependency "A-9"',
      'p.md:6: card A-1, field task: duplicate card id "A-1"',
      'p.md:7: card D-1, field heading: unknown role "DESIGN": no squad.roles entry (ui) and no card type "DESIGN" (card_types: BACKEND, FRONTEND, QA)',
    ]);
    const cycle = text.split("\n").slice(0, 5).join("\n").replace(", A-9", "");
    expect(problems(() => deriveBacklog(parsePlan(cycle, "p.md"), SQUAD))).toEqual([
      "p.md:3: card A-1, field Depends on: dependency cycle: A-1 → A-2 → A-1",
    ]);
  });

  it("reports squad problems against the squad file: roles naming no card type, a planner that is no agent", () => {
    const squad = { squad: { file: "team/squad.json", value: planSquad({ roles: { ui: "WEB" }, planner: "nobody" }) } };
    expect(problems(() => deriveBacklog(parsePlan("## BACKEND Tasks\n- [ ] B-1: x\n", "p.md"), squad))).toEqual([
      'team/squad.json: field roles.ui: unknown card type "WEB" (card_types: BACKEND, FRONTEND, QA)',
      'team/squad.json: field planner: unknown agent "nobody" (agents: writer)',
    ]);
  });
});

describe("YAML and JSON plans", () => {
  it("derive the same cards as the Markdown plan, with the plan metadata kept", async () => {
    const derived = deriveBacklog(parsePlan(YAML, "reset.yaml"), SQUAD);
    expect(derived.backlog.metadata).toEqual({
      backlog_id: "reset",
      owner: "auth-team",
      project: "Password reset",
      plan: "reset.yaml",
    });
    expect(
      derived.backlog.cards.map((c) => [c.id, c.type, c.title, c.status, c.priority, c.dependencies, c.plan_line]),
    ).toEqual([
      ["TASK-001", "BACKEND", "Implement reset token endpoint", "TODO", "HIGH", [], 6],
      ["TASK-002", "BACKEND", "Hash passwords with argon2", "DONE", "CRITICAL", [], 13],
      ["TASK-003", "FRONTEND", "Reset form", "TODO", undefined, ["TASK-001", "TASK-002"], 19],
      ["TASK-004", "QA", "End-to-end reset test", "TODO", "LOW", ["TASK-003"], 24],
    ]);
    expect(derived.backlog.cards[0]!.description).toBe(
      "Implement reset token endpoint\nSends the token by e-mail through the existing mailer\n\nConstraints:\n- tokens expire after 15 minutes\n- no new dependencies",
    );
    expect(derived.backlog.cards[2]!.acceptance_criteria).toEqual([
      "the form shows the password rules",
      "the new password is typed twice",
    ]);
    const loaded = await writeAndLoad("reset-yaml.json", derived);
    expect(loaded.cards.map((c) => c.card)).toEqual(derived.plan.cards.map((c) => c.card));
    const fromMarkdown = deriveBacklog(parsePlan(MARKDOWN, "reset.md"), SQUAD);
    const shape = (d: DerivedBacklog) =>
      d.plan.cards.map((c) => [
        c.card.id,
        c.card.type,
        c.card.priority,
        c.card.dependencies,
        c.card.acceptanceCriteria,
      ]);
    expect(shape(derived)).toEqual(shape(fromMarkdown));
  });

  it("reads a JSON plan, taking the backlog id from the file name and --id over it", () => {
    const json = JSON.stringify({ tasks: [{ id: "B-1", role: "backend", description: "Endpoint" }] }, null, 2);
    expect(deriveBacklog(parsePlan(json, "plans/Sprint 12.json"), SQUAD).plan.backlogId).toBe("Sprint-12");
    expect(
      deriveBacklog(parsePlan(json, "plans/Sprint 12.json"), { ...SQUAD, backlogId: "sprint-12b" }).plan.backlogId,
    ).toBe("sprint-12b");
  });

  it("names the line of schema problems: a typo in a key, a bad priority, a missing description", () => {
    const text = [
      "tasks:", //                     1
      "  - id: B-1", //                2
      "    role: backend", //          3
      "    description: x", //         4
      "    dependecies: [B-2]", //     5
      "  - id: B-2", //                6
      "    role: backend", //          7
      "    priority: urgent", //       8
    ].join("\n");
    expect(problems(() => parsePlan(text, "p.yaml"))).toEqual([
      'p.yaml:5: card B-1, field tasks[0].dependecies: Unrecognized key: "dependecies"',
      "p.yaml:6: card B-2, field tasks[1].description: Invalid input: expected string, received undefined",
      'p.yaml:8: card B-2, field tasks[1].priority: "urgent" is not a priority: CRITICAL, HIGH, MEDIUM, LOW (any case) or 1–4',
    ]);
  });

  it("names the line of a YAML syntax error and of a graph problem", () => {
    expect(problems(() => parsePlan("tasks:\n  - id: B-1\n    role: [backend\n", "p.yaml"))[0]).toMatch(
      /^p\.yaml:[34]: field \(root\): not valid YAML: /,
    );
    const text = "tasks:\n  - id: B-1\n    role: backend\n    description: x\n    dependencies: [B-1]\n";
    expect(problems(() => deriveBacklog(parsePlan(text, "p.yaml"), SQUAD))).toEqual([
      "p.yaml:5: card B-1, field tasks[0].dependencies[0]: a card cannot depend on itself",
    ]);
  });

  it("refuses a file whose extension names no plan format", () => {
    expect(problems(() => parsePlan("tasks: []", "plan.txt"))).toEqual([
      "plan.txt: field (root): unknown plan format: name the file .md (Markdown), .yaml, .yml or .json",
    ]);
  });
});

describe("the example plans", () => {
  it("derive the same cards from examples/plans/discount-field.md and its YAML form with the example squad", async () => {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
    const example = JSON.parse(await readFile(join(root, "state/backlog_master.example.json"), "utf8"));
    const squad = { squad: { file: "state/backlog_master.example.json", value: example.squad } };
    const derive = async (name: string) => {
      const { backlog } = deriveBacklog(
        parsePlan(await readFile(join(root, "examples/plans", name), "utf8"), name),
        squad,
      );
      return backlog.cards.map(({ role: _role, plan_line: _line, ...card }) => card);
    };
    const markdown = await derive("discount-field.md");
    expect(markdown.map((c) => [c.id, c.type, c.priority, c.dependencies])).toEqual([
      ["DISC-001", "INFRA", "HIGH", []],
      ["DISC-002", "BACKEND", "HIGH", []],
      ["DISC-003", "FRONTEND", undefined, ["DISC-002"]],
      ["DISC-004", "QA", "LOW", ["DISC-001", "DISC-002", "DISC-003"]],
    ]);
    expect(await derive("discount-field.yaml")).toEqual(markdown);
  });
});

describe("roles and priorities", () => {
  it("maps a role through squad.roles (any case), else to its upper-cased name when that is a card type", () => {
    const squad = { roles: { UI: "FRONTEND" }, card_types: { BACKEND: {}, QA: {} } };
    expect([
      roleCardType("ui", squad),
      roleCardType("backend", squad),
      roleCardType("Qa", squad),
      roleCardType("design", squad),
    ]).toEqual(["FRONTEND", "BACKEND", "QA", undefined]);
    expect(roleCardType("constructor", { card_types: {} })).toBeUndefined();
  });

  it("reads priority names in any case and 1–4 / P1–P4 in the order of the priority keys", () => {
    expect(["critical", "High", "1", 2, "p3", "P4", "0", "urgent"].map((p) => parsePriority(p))).toEqual([
      "CRITICAL",
      "HIGH",
      "CRITICAL",
      "HIGH",
      "MEDIUM",
      "LOW",
      undefined,
      undefined,
    ]);
  });
});

describe("the written file", () => {
  it("is refused by the loader like any backlog when edited into a cycle afterwards", async () => {
    const derived = deriveBacklog(parsePlan(YAML, "reset.yaml"), SQUAD);
    derived.backlog.cards[0]!.dependencies = ["TASK-004"];
    const file = await tmp.write("edited.json", JSON.stringify(derived.backlog));
    await expect(loadBacklog(file)).rejects.toThrow(/dependency cycle: TASK-001 → TASK-004 → TASK-003 → TASK-001/);
  });
});
