/**
 * Reviews at the owner's events with every piece real (issue 12): a `command` owner in a git worktree
 * prints a milestone line and waits; the owner activity commits a snapshot on a private ref and signals the
 * card workflow through the worker's client; the workflow runs the real `reviewPeers` with `command`
 * reviewers on the snapshot's diff while the owner still runs. The owner waits on a file only the test
 * writes: nothing races it.
 */
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { CardOutcome } from "../../src/domain/index.js";
import { cardWorkflow } from "../../src/workflows/card.js";
import { git, repoPlan, repoWorker, sandbox, type Box } from "../helpers/repository.js";
import { testEnv } from "../helpers/temporal.js";
import { until } from "../helpers/until.js";
import { uniqueBacklogId, waitForStatus } from "./fakes.js";

/** Writes schema.sql (its text from OWNER_SQL), emits a milestone, waits for OWNER_RELEASE, then writes api.md. */
const OWNER = `
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
readFileSync(0, 'utf8');
writeFileSync(process.env.OWNER_PID, String(process.pid));
writeFileSync('schema.sql', process.env.OWNER_SQL + '\\n');
process.stdout.write(JSON.stringify({ squadflow: 'milestone', name: 'schema written' }) + '\\n');
await new Promise((r) => {
  const t = setInterval(() => { if (existsSync(process.env.OWNER_RELEASE)) { clearInterval(t); r(); } }, 50);
});
writeFileSync('api.md', '# Intro\\nThe API.\\n');
console.log(JSON.stringify({ artifacts: [], summary: 'schema and API written' }));
`;

/** A reviewer: a blocker when the diff drops a table, else approve; keeps what it was given in REVIEWED. */
const REVIEWER = `
import { appendFileSync, readFileSync } from 'node:fs';
const input = JSON.parse(readFileSync(0, 'utf8'));
appendFileSync(process.env.REVIEWED, JSON.stringify({ moment: input.moment, milestones: input.milestones, diff: input.diff }) + '\\n');
const drops = (input.diff?.text ?? '').includes('DROP TABLE');
console.log(JSON.stringify(drops ? { verdict: 'blocker', comments: ['drops the orders table'] } : { verdict: 'approve', comments: [] }));
`;

async function startCard(box: Box, sql: string) {
  await writeFile(join(box.base, "owner.mjs"), OWNER);
  await writeFile(join(box.base, "reviewer.mjs"), REVIEWER);
  const files = {
    OWNER_PID: join(box.dir, "owner.pid"),
    OWNER_RELEASE: join(box.dir, "owner.release"),
    REVIEWED: join(box.dir, "reviewed.jsonl"),
  };
  const agent = (script: string, env: Record<string, string>) => ({
    kind: "command",
    command: "node",
    args: [`./${script}`],
    env,
  });
  const backlogId = uniqueBacklogId("events-repo");
  const plan = await repoPlan(box, backlogId, [{ id: "C1" }], {
    agents: {
      writer: agent("owner.mjs", { OWNER_PID: files.OWNER_PID, OWNER_RELEASE: files.OWNER_RELEASE, OWNER_SQL: sql }),
      codex: agent("reviewer.mjs", { REVIEWED: files.REVIEWED }),
      gemini: agent("reviewer.mjs", { REVIEWED: files.REVIEWED }),
    },
    card_types: {
      DOC: {
        owner: "writer",
        judge: { kind: "rubric", criteria: [{ name: "has intro", check: { type: "section", heading: "Intro" } }] },
        peer_review: { reviewers: ["codex", "gemini"], trigger: "on_milestone" },
      },
    },
  });
  const { worker, taskQueue } = await repoWorker(box);
  const handle = await (
    await testEnv()
  ).client.workflow.start(cardWorkflow, {
    taskQueue,
    workflowId: `${backlogId}/C1`,
    args: [{ plan: plan.cards[0]!, queues: { owners: taskQueue, validation: taskQueue, debugging: taskQueue } }],
  });
  const reviewed = async () =>
    existsSync(files.REVIEWED)
      ? (await readFile(files.REVIEWED, "utf8"))
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as { moment: string; milestones: string[]; diff: { text: string } | null })
      : [];
  return { worker, handle, files, reviewed, backlogId };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("peer review at an owner's milestone, in a repository", () => {
  it("reviews the snapshot commit while the owner runs; a blocker kills the owner and escalates", async () => {
    const box = await sandbox();
    const { worker, handle, files, reviewed, backlogId } = await startCard(box, "DROP TABLE orders;");
    await worker.runUntil(async () => {
      const state = await waitForStatus(handle, "AWAITING_HUMAN");
      expect(state.attempts[0]!.peerReview).toMatchObject({ moment: "milestone", action: "escalate" });
      expect(state.auditLog.at(-1)!.reason).toContain('reviewer "codex": drops the orders table');
    });
    // The owner process was killed before it was ever released.
    const pid = Number(await readFile(files.OWNER_PID, "utf8"));
    await until("the owner process to be gone", async () => (alive(pid) ? undefined : true));
    expect(existsSync(files.OWNER_RELEASE)).toBe(false);
    // Both reviewers read the snapshot's diff: the schema, not the API the owner had not written yet.
    const seen = await reviewed();
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatchObject({ moment: "milestone", milestones: ["schema written"] });
    expect(seen[0]!.diff!.text).toContain("+DROP TABLE orders;");
    expect(seen[0]!.diff!.text).not.toContain("api.md");
    // The snapshot is a commit on a private ref, on top of the attempt's base; nothing reached the integration branch.
    const ref = `refs/squadflow/snapshots/${backlogId}/C1/attempt-1/1`;
    expect(await git(box.repo, "show", `${ref}:schema.sql`)).toBe("DROP TABLE orders;");
    expect(await git(box.repo, "ls-tree", "--name-only", `squadflow/${backlogId}`)).toBe("README.md");
  });

  it("an approving review at the milestone lets the owner finish; the card is DONE without a review at the end", async () => {
    const box = await sandbox();
    const { worker, handle, files, reviewed } = await startCard(box, "CREATE TABLE orders (id int);");
    const outcome: CardOutcome = await worker.runUntil(async () => {
      await until("the milestone review", async () => ((await reviewed()).length === 2 ? true : undefined));
      await writeFile(files.OWNER_RELEASE, "");
      return handle.result();
    });
    expect(outcome.status).toBe("DONE");
    expect(outcome.state!.attempts[0]!.peerReview).toEqual({
      moment: "milestone",
      action: "continue",
      milestones: ["schema written"],
    });
    expect(await reviewed()).toHaveLength(2);
    expect(outcome.state!.attempts[0]!.artifacts.sort()).toEqual(["api.md", "schema.sql"]);
  });
});
