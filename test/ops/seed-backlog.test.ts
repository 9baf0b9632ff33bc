/**
 * The seed's own `backlog_master.json` shape writes `null` where a value was not known yet
 * (`"completed_at": null`, and `started_at`, `task_id`, `blocking_issue`, `next_action`): it validates,
 * nulls are kept on export, and a value of the wrong type is still refused naming the card and field.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { exportBacklog } from "../../src/cli/export.js";
import { loadBacklog } from "../../src/cli/load.js";
import type { BacklogView } from "../../src/cli/backlogs.js";
import { cli } from "../helpers/cli.js";

const SQUAD = {
  agents: { writer: { kind: "command", command: "node", args: ["./agent.mjs"] } },
  card_types: {
    DOC: {
      owner: "writer",
      judge: { kind: "rubric", criteria: [{ name: "intro", check: { type: "section", heading: "Intro" } }] },
    },
  },
};

/** A backlog in the seed's shape: a DONE card and a TODO card with the seed's nulls. */
function seedBacklog(overrides: Record<string, unknown> = {}) {
  return {
    metadata: { backlog_id: "seed", project: "Seed", created_at: "2025-03-03T09:00:00Z", updated_at: null },
    cards: [
      {
        id: "ARQ-001",
        type: "DOC",
        title: "Architecture",
        status: "DONE",
        priority: "HIGH",
        dependencies: [],
        attempt: 1,
        artifacts: ["docs/arch.md"],
        validation_history: [],
        cost_tracking: {},
        created_at: "2025-03-03T09:00:00Z",
        updated_at: "2025-03-03T10:00:00Z",
        started_at: "2025-03-03T09:10:00Z",
        completed_at: "2025-03-03T10:00:00Z",
        task_id: "celery-1",
        blocking_issue: null,
        next_action: null,
      },
      {
        id: "BE-001",
        type: "DOC",
        title: "Backend",
        status: "TODO",
        priority: "MEDIUM",
        dependencies: ["ARQ-001"],
        attempt: 0,
        artifacts: [],
        validation_history: [],
        cost_tracking: {},
        created_at: "2025-03-03T09:00:00Z",
        updated_at: null,
        started_at: null,
        completed_at: null,
        task_id: null,
        blocking_issue: null,
        next_action: null,
        ...overrides,
      },
    ],
    squad: SQUAD,
  };
}

async function write(doc: unknown): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), "squadflow-seed-")), "backlog_master.json");
  await writeFile(file, JSON.stringify(doc, null, 2));
  return file;
}

describe("the seed's backlog shape", () => {
  it("validates with null timestamps, task ids, blocking issues and next actions", async () => {
    const r = await cli("validate", await write(seedBacklog()), "--json");
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ valid: true, backlogId: "seed", cards: ["BE-001"], done: ["ARQ-001"] });
  });

  it("still refuses a value of the wrong type, naming the file, the card and the field", async () => {
    const file = await write(seedBacklog({ completed_at: 5 }));
    const r = await cli("validate", file, "--json");
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out).issues).toEqual([
      expect.objectContaining({ file, cardId: "BE-001", field: "cards[1].completed_at" }),
    ]);
  });

  it("keeps the nulls on export: legacy cards as written, a card not complete with completed_at null", async () => {
    const plan = await loadBacklog(await write(seedBacklog()));
    const legacy = plan.source.cards.filter((c) => c.status === "DONE") as Record<string, unknown>[];
    const be = plan.cards[0]!;
    const at = "2026-01-01T00:00:00.000Z";
    const view = {
      running: true,
      backlog: {
        backlogId: "seed",
        startedAt: at,
        source: { file: "backlog_master.json", metadata: plan.source.metadata, legacyCards: legacy },
      },
      cards: [
        {
          cardId: "BE-001",
          workflowId: "seed/BE-001",
          final: false,
          legacy: false,
          status: "TODO",
          attempt: 0,
          costUsd: 0,
          state: {
            backlogId: "seed",
            card: be.card,
            status: "TODO",
            attempt: 0,
            corrections: 0,
            attempts: [],
            debugReports: [],
            artifacts: [],
            cost: { inputTokens: 0, outputTokens: 0, usd: 0 },
            costAlert: false,
            auditLog: [],
            statusHistory: [{ status: "TODO", at }],
            waitingFor: [],
            legacyCorrections: [],
            settled: false,
            paused: false,
            backlogBudgetExhausted: false,
            createdAt: at,
            updatedAt: at,
          },
        },
      ],
    } as unknown as BacklogView;
    const doc = exportBacklog(view) as { metadata: Record<string, unknown>; cards: Record<string, unknown>[] };
    expect(doc.metadata.updated_at).toBeNull();
    expect(doc.cards.find((c) => c.id === "ARQ-001")).toMatchObject({
      blocking_issue: null,
      next_action: null,
      task_id: "celery-1",
    });
    expect(doc.cards.find((c) => c.id === "BE-001")!.completed_at).toBeNull();
    // And the export validates again.
    const again = await cli("validate", await write({ ...doc, squad: SQUAD }), "--json");
    expect(again.code, again.err).toBe(0);
  });
});
