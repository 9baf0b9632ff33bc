/**
 * What the card workflow makes of agent and judge results: a judge that fails (a failed `llm_judge` verdict,
 * never a pass), the owner's agent session on the attempt record, and secrets that never reach workflow
 * history even when the owner agent (the real `runOwner`) prints them and writes them into its artifacts.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { temporal } from "@temporalio/proto";
import { afterAll, describe, expect, it } from "vitest";
import { createActivities } from "../../src/activities/index.js";
import { planBacklog, type CardOutcome } from "../../src/domain/index.js";
import { cardWorkflow } from "../../src/workflows/card.js";
import { createTestWorker, testEnv, uniqueTaskQueue } from "../helpers/temporal.js";
import {
  fakeActivities,
  waitForStatus,
  JUDGE_FAILURE_COST,
  testPlan,
  uniqueBacklogId,
  type CardScript,
} from "./fakes.js";

/** Starts the card workflow of a one-card backlog `C1` with fake activities scripted by `script`. */
async function startFakeCard(script: CardScript) {
  const { client } = await testEnv();
  const taskQueue = uniqueTaskQueue("agent-results");
  const fake = fakeActivities({ C1: script });
  const worker = await createTestWorker({ taskQueue, activities: fake.activities });
  const backlogId = uniqueBacklogId();
  const plan = testPlan(backlogId, [{ id: "C1" }]).cards[0]!;
  const handle = await client.workflow.start(cardWorkflow, {
    taskQueue,
    workflowId: `${backlogId}/C1`,
    args: [{ plan, queues: { owners: taskQueue, validation: taskQueue, debugging: taskQueue } }],
  });
  return { worker, handle, calls: fake.calls };
}

describe("a judge that fails", () => {
  it("records a failed llm_judge verdict with the judge failure and its cost, rejects the card, and corrects it", async () => {
    const { worker, handle, calls } = await startFakeCard({ judge: ["judge-failure", "pass"] });
    const outcome: CardOutcome = await worker.runUntil(handle.result());
    expect(outcome.status).toBe("DONE");
    expect(outcome.attempt).toBe(2);
    const first = outcome.state!.attempts[0]!;
    expect(first.passed).toBe(false);
    const judge = first.verdicts.find((v) => v.validator === "llm_judge")!;
    expect(judge).toMatchObject({ passed: false, cost: JUDGE_FAILURE_COST });
    expect(judge.reasons).toEqual([
      "validator could not run: llm judge of card C1: judge failure, no valid verdict: score: expected number, received string",
    ]);
    expect(first.verdicts.find((v) => v.validator === "qa")!.passed).toBe(true);
    // What the failed judge spent counts: owner $0.01 + judge $0.004.
    expect(first.cost.usd).toBeCloseTo(0.014, 6);
    expect(outcome.state!.statusHistory.map((s) => s.status)).toEqual([
      "TODO",
      "IN_PROGRESS",
      "VALIDATING",
      "REJECTED",
      "CORRECTING",
      "APPROVED",
      "DONE",
    ]);
    // Non-retryable: the judge ran once for attempt 1, not three times.
    expect(calls.filter((c) => c.activity === "judgeArtifacts" && c.attempt === 1)).toHaveLength(1);
  });

  it("never passes a card whose judge keeps failing: it escalates to a human after the third correction", async () => {
    const { worker, handle } = await startFakeCard({ judge: ["judge-failure"] });
    await worker.runUntil(async () => {
      const state = await waitForStatus(handle, "AWAITING_HUMAN");
      expect(state.attempt).toBe(4);
      expect(state.attempts.every((a) => !a.passed)).toBe(true);
      expect(state.statusHistory.map((s) => s.status)).not.toContain("APPROVED");
      await handle.terminate("test done");
    });
  });
});

describe("the owner's agent session", () => {
  it("is shown on each attempt record of the card state", async () => {
    const session = { id: "8f0c2c1e-5a8d-4f0e-9a51-1c1f1d0b7e11", turns: 7 };
    const { worker, handle } = await startFakeCard({ session, qa: [['check "unit" failed: exit 1'], "pass"] });
    const outcome: CardOutcome = await worker.runUntil(handle.result());
    expect(outcome.state!.attempts.map((a) => a.session)).toEqual([session, session]);
  });

  it("is absent from the record when the agent reports none", async () => {
    const { worker, handle } = await startFakeCard({});
    const outcome: CardOutcome = await worker.runUntil(handle.result());
    expect("session" in outcome.state!.attempts[0]!).toBe(false);
  });
});

// ---- Secrets --------------------------------------------------------------------------------------------

/** A value shaped like an Anthropic API key, planted in the worker's environment only. */
const SECRET = "planted-anthropic-key-9f8e7d6c5b4a3210-secretvalue";

/**
 * A `command` agent that knows the secret from a file of its own (its credentials, say — the worker does not
 * pass it in: the allow-listed environment leaves ANTHROPIC_API_KEY out) and leaks it everywhere it can:
 * attempt 1 exits 3 with it on stderr; attempt 2 writes it on a red-flag line (quoted by verification);
 * attempt 3 writes it into a file the QA check prints and fails on; attempt 4 puts it into a clean artifact.
 * Every attempt puts it into the summary too.
 */
const LEAKY_AGENT = `
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
const input = JSON.parse(readFileSync(0, 'utf8'));
const key = readFileSync(process.argv[2], 'utf8').trim();
process.stderr.write('debug: using key ' + key + '\\n');
if (input.attempt === 1) process.exit(3);
const body = {
  2: '# Intro\\nTODO: rotate ' + key + '\\n',
  3: '# Intro\\nDRAFT configured with ' + key + '\\n',
}[input.attempt] ?? '# Intro\\nConfigured with ' + key + ' from the vault.\\n';
mkdirSync('docs', { recursive: true });
writeFileSync('docs/out.md', body);
process.stdout.write(JSON.stringify({ artifacts: ['docs/out.md'], summary: 'wrote docs/out.md with key ' + key,
  usage: { input_tokens: 10, output_tokens: 5, cost_usd: 0.001 } }));
`;

/** A QA check that prints the artifact and fails while it is a draft. */
const QA_CHECK = `
import { readFileSync } from 'node:fs';
const text = readFileSync('docs/out.md', 'utf8');
process.stdout.write(text);
process.exit(text.includes('DRAFT') ? 1 : 0);
`;

/** Every string of an event history, payload data decoded as UTF-8 (the test worker uses no codec). */
function historyText(history: temporal.api.history.v1.IHistory): string {
  const strings: string[] = [];
  const walk = (v: unknown): void => {
    if (v instanceof Uint8Array) strings.push(Buffer.from(v).toString("utf8"));
    else if (typeof v === "string") strings.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === "object") Object.values(v).forEach(walk);
  };
  walk(history);
  return strings.join("\n");
}

/** The workflow IDs of the child workflows (corrections) a history started. */
function childWorkflowIds(history: temporal.api.history.v1.IHistory): string[] {
  return (history.events ?? []).flatMap((e) => {
    const id = e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
    return id ? [id] : [];
  });
}

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe("secrets and workflow history", () => {
  it("keeps a worker secret that the real owner agent prints and writes into artifacts out of every history of the card", async () => {
    const dir = await mkdtemp(join(tmpdir(), "squadflow-secret-history-"));
    dirs.push(dir);
    await writeFile(join(dir, "agent.mjs"), LEAKY_AGENT);
    await writeFile(join(dir, "qa.mjs"), QA_CHECK);
    await writeFile(join(dir, "agent-credentials"), `${SECRET}\n`);
    const workspacesRoot = join(dir, "workspaces");

    const backlogId = uniqueBacklogId("secret");
    const plan = planBacklog(
      JSON.stringify({
        metadata: { backlog_id: backlogId },
        cards: [{ id: "SEC-1", type: "DOC", title: "Configure the client" }],
        squad: {
          agents: {
            leaky: {
              kind: "command",
              command: "node",
              args: ["./agent.mjs", "./agent-credentials"],
              timeout_ms: 30_000,
            },
          },
          card_types: {
            DOC: {
              owner: "leaky",
              judge: {
                kind: "rubric",
                criteria: [{ name: "has intro", check: { type: "section", heading: "Intro" } }],
              },
              qa: { checks: [{ name: "not a draft", command: "node", args: ["./qa.mjs"], timeout_ms: 30_000 }] },
            },
          },
        },
      }),
      { file: `${backlogId}.json` },
    ).cards[0]!;

    const activities = createActivities({
      workspacesRoot,
      baseDir: dir,
      workerEnv: { ...process.env, ANTHROPIC_API_KEY: SECRET },
      heartbeatIntervalMs: 200,
    });
    const { client } = await testEnv();
    const taskQueue = uniqueTaskQueue("secret-history");
    const worker = await createTestWorker({ taskQueue, activities });
    const handle = await client.workflow.start(cardWorkflow, {
      taskQueue,
      workflowId: `${backlogId}/SEC-1`,
      args: [{ plan, queues: { owners: taskQueue, validation: taskQueue, debugging: taskQueue } }],
    });
    const outcome: CardOutcome = await worker.runUntil(handle.result());

    // The agent really leaked it on every path: owner failure, red flag, QA output, summary, artifact.
    expect(outcome.status).toBe("DONE");
    const attempts = outcome.state!.attempts;
    expect(attempts).toHaveLength(4);
    expect(attempts[0]!.verdicts[0]!.reasons[0]).toContain("debug: using key [REDACTED:ANTHROPIC_API_KEY]");
    expect(attempts[1]!.verdicts[0]).toMatchObject({ validator: "verification", passed: false });
    expect(attempts[1]!.verdicts[0]!.details).toContain("[REDACTED:ANTHROPIC_API_KEY]");
    expect(attempts[2]!.verdicts.find((v) => v.validator === "qa")!.details).toContain(
      "DRAFT configured with [REDACTED:ANTHROPIC_API_KEY]",
    );
    expect(attempts[3]!.summary).toBe("wrote docs/out.md with key [REDACTED:ANTHROPIC_API_KEY]");
    expect(await readFile(join(workspacesRoot, backlogId, "SEC-1", "attempt-4", "docs", "out.md"), "utf8")).toBe(
      "# Intro\nConfigured with [REDACTED:ANTHROPIC_API_KEY] from the vault.\n",
    );

    // Not in the card's history, nor in any correction's.
    const history = await handle.fetchHistory();
    const children = childWorkflowIds(history);
    expect(children).toEqual([`${backlogId}/SEC-1-CORR-1`, `${backlogId}/SEC-1-CORR-2`, `${backlogId}/SEC-1-CORR-3`]);
    const texts = [historyText(history)];
    for (const id of children) texts.push(historyText(await client.workflow.getHandle(id).fetchHistory()));
    for (const text of texts) {
      expect(text).toContain("[REDACTED:ANTHROPIC_API_KEY]"); // the decoding works: the redacted texts are there
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain("PLANTED-9f8e7d6c5b4a3210");
    }
    expect(JSON.stringify(history)).not.toContain(SECRET);
  }, 60_000);
});
