/**
 * End to end: the example backlog (state/backlog_master.example.json) through the real worker wiring,
 * real activities and the shipped command agents, on the run's dev server, delivering into an example
 * repository of its own (made from the seed in a temp folder, given as `--repo` would); the human step
 * and the read-outs go through the CLI itself (`main()` with TEMPORAL_ADDRESS pointing at that server).
 * At the end the integration branch holds one merge per executed card and the project's tests pass on it.
 */
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBacklogView, startBacklog } from "../../src/cli/backlogs.js";
import { loadBacklog } from "../../src/cli/load.js";
import { PROJECT_ROOT } from "../../src/temporal/cli-path.js";
import { testEnv } from "../helpers/temporal.js";
import { startE2eWorkers, until, type E2eWorkers } from "../helpers/e2e.js";
import { cli } from "../helpers/cli.js";
import { gitOut } from "../../src/activities/repository/git.js";
import {
  filesOf,
  mergesOf,
  projectTestsOn,
  tempExampleRepository,
  worktreePaths,
  type TempExampleRepository,
} from "../helpers/example-repo.js";

const EXAMPLE = resolve(PROJECT_ROOT, "state", "backlog_master.example.json");

describe("the example backlog, end to end", () => {
  let e2e: E2eWorkers | undefined;
  let repo: TempExampleRepository | undefined;
  const backlogId = `example-${Date.now().toString(36)}`;
  const branch = `squadflow/${backlogId}`;

  beforeAll(async () => {
    e2e = await startE2eWorkers("e2e");
    repo = await tempExampleRepository("e2e-example");
    const plan = await loadBacklog(EXAMPLE, { backlogId, repo: repo.dir });
    expect(plan.repository).toMatchObject({ path: repo.dir, baseBranch: "main", integrationBranch: branch });
    const started = await startBacklog(e2e.env.client, plan, "state/backlog_master.example.json", e2e.taskQueues);
    expect(started.started).toBe(true);
  });

  afterAll(async () => {
    await e2e?.stop();
    await repo?.remove();
  });

  it("passes most cards first time, fixes ARQ-001 with a correction and escalates BE-002 to a human", async () => {
    const { client } = await testEnv();
    const view = await until("BE-002 to await a human", async () => {
      const v = await readBacklogView(client, backlogId);
      return v.cards.find((c) => c.cardId === "BE-002")?.status === "AWAITING_HUMAN" ? v : undefined;
    });
    const card = (id: string) => view.cards.find((c) => c.cardId === id)!;
    for (const id of ["SPEC-001", "INFRA-001", "BE-001", "FE-001", "DOCS-001", "OPS-001", "ADR-001"]) {
      expect([id, card(id).status, card(id).attempt]).toEqual([id, "DONE", 1]);
    }
    // OPS-001's runbook was peer-reviewed at its owner's milestone (trigger on_milestone), on the snapshot
    // of the work then, while the owner went on: the example reviewer approved it.
    const ops = card("OPS-001").state!.attempts[0]!;
    expect(ops.verdicts.find((v) => v.validator === "peer_review")).toMatchObject({
      passed: true,
      reviews: [{ reviewer: "peer-reviewer", verdict: "approve" }],
    });
    expect(ops.peerReview).toEqual({
      moment: "milestone",
      action: "continue",
      milestones: [expect.stringMatching(/^docs\/.+\.md written$/)],
    });
    // ADR-001 was decided by a council of three: each proposed, critiqued the next one, revised; the
    // best-scored record (PostgreSQL) won and passed validation; the other two stay candidates.
    const council = card("ADR-001").state!.attempts[0]!.council!;
    expect(council.workflowId).toBe(`${backlogId}/ADR-001-DELIB-1`);
    expect(council.proposals.map((p) => [p.agent, p.score, p.rank, p.critiques.length, p.revisions.length])).toEqual([
      ["adr-postgres", 10, 1, 1, 1],
      ["adr-redis", 8.3, 2, 1, 1],
      ["adr-config", 6.7, 3, 1, 1],
    ]);
    expect(council.winner).toBe("adr-postgres");
    expect(council.rationale).toMatch(/^top-score: adr-postgres has the best score, 10\/10/);
    expect(council.candidates.map((c) => [c.agent, c.rank, c.branch])).toEqual([
      ["adr-redis", 2, `squadflow-attempts/${backlogId}/ADR-001/attempt-1/adr-redis-r1`],
      ["adr-config", 3, `squadflow-attempts/${backlogId}/ADR-001/attempt-1/adr-config-r1`],
    ]);
    expect(council.proposals[1]!.critiques[0]).toMatchObject({
      by: "adr-postgres",
      text: 'missing section "Alternatives considered"',
    });
    const adr = await gitOut(repo!.dir, ["show", `refs/heads/${branch}:docs/adr/001-discount-code-storage.md`]);
    expect(adr).toMatch(/PostgreSQL table `discount_codes`/);
    // The judge rejected the first architecture document; the correction used its feedback.
    const arq = card("ARQ-001").state!;
    expect(arq.status).toBe("DONE");
    expect(arq.attempts.map((a) => a.passed)).toEqual([false, true]);
    expect(arq.attempts[0]!.verdicts.find((v) => v.validator === "llm_judge")!.passed).toBe(false);
    expect(arq.attempts[1]!.feedback!.reasons.join("\n")).toMatch(/llm_judge: criterion/);
    // Its artifacts are the files its attempts changed, merged into the integration branch.
    expect(arq.artifacts).toEqual(["docs/architecture.md"]);
    const doc = await gitOut(repo!.dir, ["show", `refs/heads/${branch}:docs/architecture.md`]);
    expect(doc).toMatch(/^#+ Rollback plan/m);
    // BE-002 kept failing QA, the debugging agent ran, and it waits for a human; QA-001 waits for it.
    const be2 = card("BE-002").state!;
    expect(be2.attempt).toBe(4);
    expect(be2.attempts.every((a) => a.verdicts.some((v) => v.validator === "qa" && !v.passed))).toBe(true);
    expect(be2.debugReports.length).toBeGreaterThanOrEqual(1);
    expect(card("QA-001").status).toBe("TODO");
    // The legacy DONE card and its legacy correction are shown, not run.
    expect(card("BRIEF-001")).toMatchObject({ legacy: true, status: "DONE" });
    expect(card("BRIEF-001-CORR-1")).toMatchObject({ legacy: true });
  });

  it("refuses a review of an unknown card or backlog with exit code 2", async () => {
    const unknownCard = await cli("review", backlogId, "NOPE-1", "--approve", "--reviewer", "ana", "--reason", "x");
    expect(unknownCard.code).toBe(2);
    expect(unknownCard.err).toContain(`unknown card "NOPE-1" in backlog "${backlogId}"`);
    const unknownBacklog = await cli("status", "no-such-backlog");
    expect(unknownBacklog.code).toBe(2);
    expect(unknownBacklog.err).toContain('unknown backlog "no-such-backlog"');
    const notAwaiting = await cli("review", backlogId, "SPEC-001", "--approve", "--reviewer", "ana", "--reason", "x");
    expect(notAwaiting.code).toBe(2);
    expect(notAwaiting.err).toContain(`card "SPEC-001" of backlog "${backlogId}" is not running (already ended)`);
  });

  it("finishes every card DONE once a human approves BE-002 from the CLI", async () => {
    const review = await cli(
      "review",
      backlogId,
      "BE-002",
      "--approve",
      "--reviewer",
      "ana",
      "--reason",
      "ledger rounding verified by finance",
    );
    expect(review.err).toBe("");
    expect(review.code).toBe(0);
    expect(review.out).toContain("BE-002: approve by ana");
    const { client } = await testEnv();
    await until("the backlog to finish", async () =>
      (await readBacklogView(client, backlogId)).running ? undefined : true,
    );

    // The same approval again, after the card has ended: idempotent, answered with the same audit entry.
    const repeat = await cli(
      "review",
      backlogId,
      "BE-002",
      "--approve",
      "--reviewer",
      "ana",
      "--reason",
      "ledger rounding verified by finance",
    );
    expect(repeat.code).toBe(0);
    expect(repeat.out).toBe(review.out);

    const status = await cli("status", backlogId, "--json");
    expect(status.code).toBe(0);
    const json = JSON.parse(status.out) as {
      running: boolean;
      cards: { cardId: string; status: string; attempt: number; costUsd: number }[];
    };
    expect(json.running).toBe(false);
    const statuses = Object.fromEntries(json.cards.map((c) => [c.cardId, c.status]));
    expect(statuses).toEqual(
      Object.fromEntries(
        [
          "BRIEF-001",
          "BRIEF-001-CORR-1",
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
        ].map((id) => [id, "DONE"]),
      ),
    );
    expect(json.cards.every((c) => c.costUsd > 0)).toBe(true);
    const be2 = json.cards.find((c) => c.cardId === "BE-002")!;
    expect(be2.attempt).toBe(4);

    const visible: string[] = [];
    for await (const wf of client.workflow.list({ query: `BacklogId="${backlogId}" AND CardStatus="DONE"` }))
      visible.push(wf.workflowId);
    expect(visible).toContain(`${backlogId}/BE-002`);

    // The success metrics of a run whose outcome is known: 10 cards run; ARQ-001 fixed by one correction,
    // BE-002 failed 4 attempts and was approved by a human; the other eight passed first time.
    const metrics = await cli("metrics", backlogId, "--json");
    expect(metrics.code).toBe(0);
    const m = (JSON.parse(metrics.out) as { metrics: Record<string, unknown> }).metrics;
    expect(m).toMatchObject({
      cardsRun: 10,
      attempts: 14,
      failedAttempts: 5,
      escalatedCards: 1,
      firstTimeRightCards: 8,
    });
    expect(m.rejectionRate).toBeCloseTo(5 / 14, 10);
    const opsHistory = await cli("history", backlogId, "OPS-001");
    expect(opsHistory.out).toMatch(/✓ peer_review[^\n]*\n\s+peer-reviewer: approve — Reviewed the diff /);
    const history = await cli("history", backlogId, "ARQ-001", "--json");
    expect(history.code).toBe(0);
    expect((JSON.parse(history.out) as { state: { attempts: unknown[] } }).state.attempts).toHaveLength(2);
    // The council shows in `history` and `export`.
    const adrHistory = await cli("history", backlogId, "ADR-001");
    expect(adrHistory.code).toBe(0);
    expect(adrHistory.out).toContain(
      `council ${backlogId}/ADR-001-DELIB-1 · adr-postgres, adr-redis, adr-config · 1 round · architect top-score (top 2)`,
    );
    expect(adrHistory.out).toContain('critique by adr-postgres (round 1): missing section "Alternatives considered"');
    expect(adrHistory.out).toMatch(/winner adr-postgres: top-score/);
    const queue = await cli("list", "--backlog", backlogId, "--status", "AWAITING_HUMAN", "--json");
    expect(queue.code).toBe(0);

    const exported = await cli("export", backlogId);
    expect(exported.code).toBe(0);
    const doc = JSON.parse(exported.out) as { metadata: Record<string, unknown>; cards: Record<string, unknown>[] };
    expect(doc.metadata.backlog_id).toBe(backlogId);
    const be2Card = doc.cards.find((c) => c.id === "BE-002")!;
    expect(be2Card).toMatchObject({ status: "DONE", attempt: 4, priority: expect.any(String) });
    expect((be2Card.audit_log as { action: string; actor: string }[]).find((e) => e.action === "approve")!.actor).toBe(
      "ana",
    );
    expect(doc.cards.filter((c) => c.type === "CORRECTION" && c.parent_card === "BE-002")).toHaveLength(3);
    const adrCard = doc.cards.find((c) => c.id === "ADR-001")! as {
      councils: { winner: string; candidates: { agent: string; score: number; rank: number }[] }[];
    };
    expect(adrCard.councils.map((c) => [c.winner, c.candidates.map((k) => [k.agent, k.score, k.rank])])).toEqual([
      [
        "adr-postgres",
        [
          ["adr-redis", 8.3, 2],
          ["adr-config", 6.7, 3],
        ],
      ],
    ]);
    // What `export` writes is a valid backlog again.
    const { BacklogFileSchema } = await import("../../src/domain/backlog.js");
    const reparsed = BacklogFileSchema.safeParse(doc);
    expect(reparsed.error?.issues ?? []).toEqual([]);
    expect(reparsed.data!.cards.find((c) => c.id === "BRIEF-001")).toMatchObject({ status: "DONE" });
  });

  it("leaves one --no-ff merge per executed card on the integration branch, with its trailers", async () => {
    const merges = await mergesOf(repo!.dir, branch);
    // Dependency order decides most of the order; BE-001/BE-002/INFRA-001 and FE-001/DOCS-001 may interleave.
    expect(merges.map((m) => m.trailers["Squadflow-Card"]).sort()).toEqual([
      "ADR-001",
      "ARQ-001",
      "BE-001",
      "BE-002",
      "DOCS-001",
      "FE-001",
      "INFRA-001",
      "OPS-001",
      "QA-001",
      "SPEC-001",
    ]);
    // ADR-001 depends on SPEC-001 only, so its merge may come anywhere after SPEC-001's.
    expect(
      merges
        .filter((m) => m.trailers["Squadflow-Card"] !== "ADR-001")
        .slice(0, 2)
        .map((m) => m.trailers["Squadflow-Card"]),
    ).toEqual(["SPEC-001", "ARQ-001"]);
    const attempts: Record<string, string> = { "ARQ-001": "2", "BE-002": "4" };
    for (const m of merges) {
      const card = m.trailers["Squadflow-Card"]!;
      expect(m.parents, card).toBe(2);
      expect(m.subject, card).toMatch(new RegExp(`^squadflow: merge ${card} \\(attempt ${attempts[card] ?? "1"}\\): `));
      expect(m.trailers, card).toMatchObject({
        "Squadflow-Backlog": backlogId,
        "Squadflow-Attempt": attempts[card] ?? "1",
      });
      expect(Number(m.trailers["Squadflow-Cost-Usd"]), card).toBeGreaterThan(0);
    }
    // The human's approval is on BE-002's merge, and only there.
    const be2 = merges.find((m) => m.trailers["Squadflow-Card"] === "BE-002")!;
    expect(be2.trailers).toMatchObject({ "Squadflow-Reviewer": "ana", "Squadflow-Decision": "approve" });
    expect(merges.filter((m) => m.trailers["Squadflow-Reviewer"] !== undefined)).toHaveLength(1);
    // The card's state names its merge commit.
    const status = JSON.parse((await cli("status", backlogId, "--json")).out) as {
      repository: { path: string; branch: string };
    };
    expect(status.repository).toMatchObject({ path: repo!.dir, branch });
  });

  it("holds the project with every card’s work in place, no vendor/ copies, and no worktree or attempt branch left", async () => {
    const files = await filesOf(repo!.dir, branch);
    for (const f of [
      "package.json",
      "src/cart.mjs",
      "docs/spec.md",
      "docs/architecture.md",
      "migrations/001_discount_codes.up.sql",
      "src/discount-codes.mjs",
      "test/discount-codes.test.mjs",
      "src/discount-pricing.mjs",
      "src/checkout-discount-field.mjs",
      "test/acceptance/checkout.test.mjs",
      "docs/test-plan.md",
      "docs/adr/001-discount-code-storage.md",
    ]) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => f.startsWith("vendor/") || /(^|\/)(unit|acceptance)\.test\.mjs$/.test(f))).toEqual([]);
    expect(await worktreePaths(repo!.dir)).toEqual([repo!.dir]);
    expect(await gitOut(repo!.dir, ["branch", "--list", `squadflow-attempts/${backlogId}/*`])).toBe("");
    // main is untouched: the squad's work is on its branch only.
    expect(await filesOf(repo!.dir, "main")).toEqual([
      ".gitignore",
      "README.md",
      "package.json",
      "src/cart.mjs",
      "test/cart.test.mjs",
    ]);
  });

  it("passes the project's own tests on the integration branch, the QA card's acceptance tests among them", async () => {
    const { code, output } = await projectTestsOn(repo!.dir, branch);
    expect(code, output).toBe(0);
    for (const scenario of ["happy path:", "refusals:", "fixed amounts:", "schema:"])
      expect(output).toContain(scenario);
    expect(output).toMatch(/^(#|ℹ) fail 0$/m);
    expect(await worktreePaths(repo!.dir)).toEqual([repo!.dir]);
  });
});
