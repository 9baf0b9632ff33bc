/**
 * `squadflow history` and `export` show a peer review (issue 12): each reviewer's verdict and comments, and
 * what the decision tree made of them.
 */
import { describe, expect, it } from "vitest";
import { readBacklogView, startBacklog } from "../../src/cli/backlogs.js";
import { exportBacklog } from "../../src/cli/export.js";
import { readCardHistory, renderHistory } from "../../src/cli/history.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import { until } from "../helpers/until.js";
import { fakeActivities, testPlan, uniqueBacklogId } from "../workflows/fakes.js";

const agent = (name: string) => ({ kind: "command", command: "node", args: [`./${name}.mjs`] });

describe("a peer-reviewed card", () => {
  it("shows every reviewer's verdict and comments, and the warning of one concern, in history and export", async () => {
    const { client } = await testEnv();
    const q = uniqueTaskQueue("peer-history");
    const script = {
      R: {
        peer: [
          [
            { reviewer: "codex", verdict: "concern" as const, comments: ["no rate limit", "no audit log entry"] },
            { reviewer: "gemini", verdict: "approve" as const, comments: ["reads well"] },
          ],
        ],
      },
    };
    const w = await createTestWorker({ taskQueue: q, activities: fakeActivities(script).activities });
    const id = uniqueBacklogId("peer-history");
    const plan = testPlan(id, [{ id: "R" }], 1, {
      agents: { writer: agent("writer"), codex: agent("codex"), gemini: agent("gemini") },
      card_types: {
        DOC: {
          owner: "writer",
          judge: { kind: "rubric", criteria: [{ name: "has intro", check: { type: "section", heading: "Intro" } }] },
          peer_review: { reviewers: ["codex", "gemini"] },
        },
      },
    });
    const { text, exported } = await w.runUntil(async () => {
      await startBacklog(client, plan, "peer.json", { orchestration: q, owners: q, validation: q, debugging: q });
      const h = await until("card R to be done", async () => {
        const hist = await readCardHistory(client, id, "R");
        return hist.state.status === "DONE" ? hist : undefined;
      });
      return { text: renderHistory(h), exported: exportBacklog(await readBacklogView(client, id)) };
    });
    expect(text).toContain("✓ peer_review");
    expect(text).toContain(
      "        codex: concern — no rate limit / no audit log entry\n        gemini: approve — reads well",
    );
    expect(text).toContain(
      '    peer review after verification: warning — peer review concern of reviewer "codex": no rate limit / no audit log entry',
    );
    const card = (exported.cards as Record<string, unknown>[]).find((c) => c.id === "R")!;
    const entry = (card.validation_history as Record<string, unknown>[]).find((v) => v.validator === "peer_review");
    expect(entry).toMatchObject({
      passed: true,
      decision: "warn",
      reviewed: "always",
      reviews: [
        { reviewer: "codex", verdict: "concern", comments: ["no rate limit", "no audit log entry"] },
        { reviewer: "gemini", verdict: "approve", comments: ["reads well"] },
      ],
    });
  });
});
