import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createJudgeArtifacts, hasSection, markdownHeadings, rubricScore } from "../../src/activities/judge.js";
import type { JudgeConfig, RubricCriterion } from "../../src/domain/squad.js";
import { card, rejectionOf, sandbox, type Sandbox } from "./helpers.js";

const WS = "shop/ARQ-001/attempt-1";
const node = process.execPath;

const ARCHITECTURE = `# Architecture

## Components
The API talks to Postgres 16.

Rollback Plan
-------------
Blue/green switch back.

\`\`\`md
## Risks
\`\`\`
`;

let sb: Sandbox;
beforeEach(async () => {
  sb = await sandbox();
  await mkdir(join(sb.root, WS), { recursive: true });
  await sb.writeIn(WS, "docs/architecture.md", ARCHITECTURE);
  await sb.writeIn(WS, "docs/adr/001.md", "# ADR 1\nStatus: accepted\n");
});
afterEach(async () => {
  await sb.cleanup();
});

function rubric(criteria: RubricCriterion[], pass_score = 8): JudgeConfig {
  return { kind: "rubric", pass_score, criteria };
}

async function judge(config: JudgeConfig, artifacts = ["docs/architecture.md", "docs/adr/001.md"]) {
  return createJudgeArtifacts(sb.deps)({ card: card({ id: "ARQ-001" }), workspace: WS, artifacts, config });
}

const crit = (name: string, check: RubricCriterion["check"], weight = 1): RubricCriterion => ({ name, weight, check });

describe("judgeArtifacts with the rubric judge", () => {
  it("passes with score 10 when every criterion of every type is met", async () => {
    const v = await judge(
      rubric([
        crit("Components", { type: "section", heading: "  components ", file: "docs/architecture.md" }),
        crit("Rollback plan", { type: "section", heading: "Rollback plan" }),
        crit("Database version", { type: "regex", pattern: "^The API .* Postgres \\d+", file: "docs/**/*.md" }),
        crit("ADR status", { type: "contains", text: "Status: accepted", file: "docs/adr/*.md" }),
        crit("Docs lint", {
          type: "command",
          command: node,
          args: ["-e", 'process.exit(require("fs").existsSync("docs/architecture.md") ? 0 : 1)'],
          timeout_ms: 5_000,
        }),
      ]),
    );
    expect(v).toMatchObject({
      validator: "llm_judge",
      passed: true,
      score: 10,
      reasons: [],
      at: "2025-01-02T03:04:05.000Z",
    });
  });

  it("does not count headings inside fenced code blocks as sections", async () => {
    const v = await judge(rubric([crit("Risks", { type: "section", heading: "Risks", file: "docs/architecture.md" })]));
    expect(v.passed).toBe(false);
    expect(v.score).toBe(0);
    expect(v.reasons).toEqual(['criterion "Risks" not met: no section "Risks" in docs/architecture.md']);
  });

  it("scores by weight and names each missed criterion in a stable reason", async () => {
    const config = rubric([
      crit("Components", { type: "section", heading: "Components" }, 3),
      crit("Risks", { type: "section", heading: "Risks", file: "docs/architecture.md" }, 1),
      crit("SLOs", { type: "regex", pattern: "p95\\s*<", file: "docs/architecture.md" }, 1),
      crit("Owner", { type: "contains", text: "Owner:" }, 1),
    ]);
    const v = await judge(config);
    expect(v.score).toBe(5); // 3 of 6
    expect(v.passed).toBe(false);
    expect(v.reasons).toEqual([
      'criterion "Risks" not met: no section "Risks" in docs/architecture.md',
      'criterion "SLOs" not met: no match for /p95\\s*</ in docs/architecture.md',
      'criterion "Owner" not met: text "Owner:" not found in any artifact',
    ]);
    expect((await judge(config)).reasons).toEqual(v.reasons);
    expect(v.details).toContain("score 5.0/10 (pass at 8.0)");
  });

  it("passes at exactly the pass score and carries no reasons on a pass", async () => {
    const criteria = [
      ...["A", "B", "C", "D"].map((n) => crit(n, { type: "contains", text: "Postgres" })),
      crit("Missing", { type: "contains", text: "Kafka" }),
    ];
    const atThreshold = await judge(rubric(criteria, 8));
    expect(atThreshold).toMatchObject({ passed: true, score: 8, reasons: [] });
    expect(atThreshold.details).toContain('criterion "Missing" not met');
    const above = await judge(rubric(criteria, 8.5));
    expect(above).toMatchObject({ passed: false, score: 8 });
    expect(above.reasons).toEqual(['criterion "Missing" not met: text "Kafka" not found in any artifact']);
  });

  it("rounds the score to one decimal", async () => {
    expect(rubricScore(2, 3)).toBe(6.7);
    expect(rubricScore(1, 3)).toBe(3.3);
    expect(rubricScore(0.5, 1.5)).toBe(3.3);
    expect(rubricScore(0, 0)).toBe(0);
  });

  it("reports a file glob that selects no artifact", async () => {
    const v = await judge(rubric([crit("Tests", { type: "contains", text: "test", file: "tests/**" })]));
    expect(v.reasons).toEqual(['criterion "Tests" not met: no artifact matches "tests/**"']);
  });

  it("fails a command criterion on a non-zero exit, with its output in details", async () => {
    const v = await judge(
      rubric([
        crit("Lint", {
          type: "command",
          command: node,
          args: ["-e", 'console.log("3 problems"); process.exit(4)'],
          timeout_ms: 5_000,
        }),
      ]),
    );
    expect(v.reasons).toEqual([
      `criterion "Lint" not met: command "${node} -e console.log("3 problems"); process.exit(4)" exited 4`,
    ]);
    expect(v.details).toContain("3 problems");
  });

  it("fails a command criterion that runs past its timeout", async () => {
    const v = await judge(
      rubric([
        crit("Slow", { type: "command", command: node, args: ["-e", "setTimeout(()=>{}, 5000)"], timeout_ms: 200 }),
      ]),
    );
    expect(v.reasons).toEqual([
      `criterion "Slow" not met: command "${node} -e setTimeout(()=>{}, 5000)" timed out after 200 ms`,
    ]);
  });

  it("throws a non-retryable ValidatorConfigError for an invalid regex or a missing command", async () => {
    const bad = await rejectionOf(judge(rubric([crit("Bad", { type: "regex", pattern: "(" })])));
    expect(bad).toMatchObject({ type: "ValidatorConfigError", nonRetryable: true });
    expect(bad.message).toContain('rubric criterion "Bad"');
    const missing = await rejectionOf(
      judge(rubric([crit("Tool", { type: "command", command: "squadflow-no-linter", args: [], timeout_ms: 1_000 })])),
    );
    expect(missing).toMatchObject({ type: "ValidatorConfigError", nonRetryable: true });
    expect(missing.message).toContain('"squadflow-no-linter" not found (ENOENT)');
  });
});

describe("markdown sections", () => {
  it("finds ATX headings of any level (closing hashes dropped) and setext headings", () => {
    expect(markdownHeadings("# One #\n###### Six\nTwo\n===\nThree\n---\n#NoSpace\n    \n")).toEqual([
      "One",
      "Six",
      "Two",
      "Three",
    ]);
  });

  it("compares heading text case-insensitively, trimmed, whitespace collapsed", () => {
    expect(hasSection("## Rollback   PLAN  \n", "rollback plan")).toBe(true);
    expect(hasSection("## Rollback plans\n", "rollback plan")).toBe(false);
  });
});
