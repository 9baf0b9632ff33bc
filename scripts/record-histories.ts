/**
 * Records the event histories the replay test (test/workflows/replay.test.ts) replays: one run of every
 * workflow type through its interesting paths (correction, debugging, escalation, human approval,
 * blocked dependent), on a throwaway dev server with scripted activities.
 *
 * Re-record (`npm run record-histories`) only when a workflow change is meant to be incompatible and is
 * shipped with `patched()` or a new workflow type; otherwise a failing replay test is the point.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Client, type WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { startDevServer } from '../src/temporal/dev-server.js';
import { PROJECT_ROOT } from '../src/temporal/cli-path.js';
import { WORKFLOWS_PATH } from '../src/worker.js';
import { backlogWorkflow } from '../src/workflows/backlog.js';
import { cardStateQuery, humanReviewUpdate } from '../src/workflows/card.js';
import { fakeActivities, testPlan } from '../test/workflows/fakes.js';

const OUT = resolve(PROJECT_ROOT, 'test', 'fixtures', 'histories');

async function save(handle: WorkflowHandle, name: string): Promise<void> {
  const history = await handle.fetchHistory();
  // protobufjs JSON (`History.toJSON()`), read back with `History.fromObject` from @temporalio/proto.
  await writeFile(resolve(OUT, `${name}.json`), JSON.stringify(history, null, 1) + '\n');
  console.log(`recorded ${name} (${history.events?.length ?? 0} events)`);
}

async function main(): Promise<void> {
  const server = await startDevServer({ port: 0, ui: false, dbFilename: null });
  try {
    const client = new Client({ connection: server.connection, namespace: server.namespace });
    const taskQueue = 'record-histories';
    const { activities } = fakeActivities({
      SPEC: {},
      ARCH: { judge: [['criterion "Rollback plan" not met'], 'pass'] },
      BE: { qa: [['check "unit tests" failed: exit 1']] },
      FE: { owner: ['fail', 'ok'] },
      QA: {},
    });
    const worker = await Worker.create({
      connection: server.nativeConnection,
      namespace: server.namespace,
      taskQueue,
      workflowsPath: WORKFLOWS_PATH,
      activities,
    });
    const backlogId = 'replay';
    const plan = testPlan(backlogId, [
      { id: 'SPEC' },
      { id: 'ARCH', dependencies: ['SPEC'] },
      { id: 'BE', dependencies: ['ARCH'] },
      { id: 'FE', dependencies: ['ARCH'] },
      { id: 'QA', dependencies: ['BE', 'FE'] },
      { id: 'OLD', status: 'DONE', artifacts: ['docs/brief.md'] },
    ]);
    await worker.runUntil(async () => {
      const handle = await client.workflow.start(backlogWorkflow, {
        taskQueue,
        workflowId: backlogId,
        args: [
          {
            backlogId,
            cards: plan.cards,
            done: plan.done,
            queues: { owners: taskQueue, validation: taskQueue, debugging: taskQueue },
            source: { file: 'replay.json', metadata: {}, legacyCards: [] },
          },
        ],
      });
      const be = client.workflow.getHandle(`${backlogId}/BE`);
      for (;;) {
        const status = await be.query(cardStateQuery).then((s) => s.status, () => 'not started');
        if (status === 'AWAITING_HUMAN') break;
        await new Promise((r) => setTimeout(r, 200));
      }
      await be.executeUpdate(humanReviewUpdate, { args: [{ decision: 'approve', reviewer: 'ana', reason: 'verified by hand' }] });
      await handle.result();
    });
    await mkdir(OUT, { recursive: true });
    await save(client.workflow.getHandle(backlogId), 'backlog');
    await save(client.workflow.getHandle(`${backlogId}/BE`), 'card-escalated-approved');
    await save(client.workflow.getHandle(`${backlogId}/ARCH`), 'card-corrected');
    await save(client.workflow.getHandle(`${backlogId}/FE`), 'card-owner-failed');
    await save(client.workflow.getHandle(`${backlogId}/ARCH-CORR-1`), 'correction');
  } finally {
    await server.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
