/**
 * The example plan (examples/plans/discount-field.md, shown in docs/plans.md) end to end: `squadflow plan`
 * derives it with the example backlog's squad (`--squad state/backlog_master.example.json`), and the written
 * file is started like any backlog — through the real worker wiring, real activities and the shipped
 * command agents on the run's dev server — delivering into an example repository of its own. Every card
 * ends DONE, merged once into the integration branch, in dependency order.
 */
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readBacklogView, startBacklog } from "../../src/cli/backlogs.js";
import { loadBacklog } from "../../src/cli/load.js";
import { PROJECT_ROOT } from "../../src/temporal/cli-path.js";
import { cli } from "../helpers/cli.js";
import { startE2eWorkers, until, type E2eWorkers } from "../helpers/e2e.js";
import { mergesOf, tempExampleRepository, type TempExampleRepository } from "../helpers/example-repo.js";
import { scratch } from "./helpers.js";

const PLAN = resolve(PROJECT_ROOT, "examples", "plans", "discount-field.md");
const EXAMPLE_SQUAD = resolve(PROJECT_ROOT, "state", "backlog_master.example.json");

let e2e: E2eWorkers | undefined;
let repo: TempExampleRepository | undefined;
let tmp: Awaited<ReturnType<typeof scratch>>;

beforeAll(async () => {
  e2e = await startE2eWorkers("plan-example");
  repo = await tempExampleRepository("plan-example");
  tmp = await scratch("plan-example");
});

afterAll(async () => {
  await e2e?.stop();
  await repo?.remove();
  await tmp?.remove();
});

describe("the example plan", () => {
  it("derives a backlog that start runs to DONE with the example agents, one merge per card", async () => {
    const backlogId = `plan-example-${Date.now().toString(36)}`;
    const out = join(tmp.dir, "discount-field.backlog.json");
    const r = await cli(
      "plan",
      PLAN,
      "--squad",
      EXAMPLE_SQUAD,
      "--id",
      backlogId,
      "--repo",
      repo!.dir,
      "--out",
      out,
      "--json",
    );
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({
      backlogId,
      cards: ["DISC-001", "DISC-002", "DISC-003", "DISC-004"],
      done: [],
    });

    const plan = await loadBacklog(out);
    expect(plan.repository).toMatchObject({ path: repo!.dir, integrationBranch: `squadflow/${backlogId}` });
    expect(plan.cards.map((c) => [c.card.id, c.card.type, c.agentName])).toEqual([
      ["DISC-001", "INFRA", "infra-writer"],
      ["DISC-002", "BACKEND", "code-writer"],
      ["DISC-003", "FRONTEND", "code-writer"],
      ["DISC-004", "QA", "qa-writer"],
    ]);
    expect((await startBacklog(e2e!.env.client, plan, out, e2e!.taskQueues)).started).toBe(true);

    const view = await until("every card of the plan to end", async () => {
      const v = await readBacklogView(e2e!.env.client, backlogId);
      return v.cards.length === 4 &&
        v.cards.every((c) => ["DONE", "REJECTED", "AWAITING_HUMAN", "BLOCKED", "FAILED"].includes(c.status))
        ? v
        : undefined;
    });
    expect(view.cards.map((c) => [c.cardId, c.status, c.attempt])).toEqual([
      ["DISC-001", "DONE", 1],
      ["DISC-002", "DONE", 1],
      ["DISC-003", "DONE", 1],
      ["DISC-004", "DONE", 1],
    ]);
    const merged = (await mergesOf(repo!.dir, `squadflow/${backlogId}`)).map((m) => m.trailers["Squadflow-Card"]);
    expect(merged).toHaveLength(4);
    expect(merged.indexOf("DISC-003")).toBeGreaterThan(merged.indexOf("DISC-002"));
    expect(merged[3]).toBe("DISC-004");
  }, 180_000);
});
