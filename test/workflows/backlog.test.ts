import { describe, expect, it } from 'vitest';
import type { WorkflowHandle } from '@temporalio/client';
import type { CardState, OwnerInput } from '../../src/domain/index.js';
import { backlogStateQuery, backlogWorkflow } from '../../src/workflows/backlog.js';
import { humanReviewUpdate } from '../../src/workflows/card.js';
import { cardStateQuery } from '../../src/workflows/card.js';
import { createTestWorker, testEnv, uniqueTaskQueue } from '../helpers/temporal.js';
import { fakeActivities, testPlan, uniqueBacklogId, type CardScript, type TestCard } from './fakes.js';

/** The card's state, once its workflow has been started by the backlog (retries "not found" for 10 s). */
async function queryWhenStarted(handle: WorkflowHandle): Promise<CardState> {
  for (let i = 0; ; i++) {
    try {
      return await handle.query(cardStateQuery);
    } catch (err) {
      if (i >= 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function startBacklog(cards: TestCard[], scripts: Record<string, CardScript>) {
  const { client } = await testEnv();
  const taskQueue = uniqueTaskQueue('backlog');
  const fake = fakeActivities(scripts);
  const worker = await createTestWorker({ taskQueue, activities: fake.activities });
  const backlogId = uniqueBacklogId('bl');
  const plan = testPlan(backlogId, cards);
  const handle = await client.workflow.start(backlogWorkflow, {
    taskQueue,
    workflowId: backlogId,
    args: [
      {
        backlogId,
        cards: plan.cards,
        done: plan.done,
        queues: { owners: taskQueue, validation: taskQueue, debugging: taskQueue },
        source: { file: 'test.json', metadata: {}, legacyCards: [] },
      },
    ],
  });
  return { client, worker, handle, backlogId, calls: fake.calls };
}

describe('backlog workflow', () => {
  it('starts every card at once and runs each owner only after its dependencies are DONE', async () => {
    const { worker, handle, client, backlogId, calls } = await startBacklog(
      [{ id: 'SPEC' }, { id: 'ARCH', dependencies: ['SPEC'] }, { id: 'BE', dependencies: ['ARCH'] }, { id: 'FE', dependencies: ['ARCH'] }, { id: 'QA', dependencies: ['BE', 'FE'], priority: 'HIGH' }],
      { SPEC: { ownerMs: 1500 } },
    );
    const result = await worker.runUntil(async () => {
      // Every card is a running workflow, visible as TODO, while SPEC's owner still works.
      const qa = await queryWhenStarted(client.workflow.getHandle(`${backlogId}/QA`));
      expect(calls.some((c) => c.cardId === 'SPEC' && c.activity === 'verifyArtifacts')).toBe(false);
      expect(qa.status).toBe('TODO');
      expect(qa.waitingFor).toEqual(['BE', 'FE']);
      return handle.result();
    });
    expect(result.cards.map((c) => c.outcome?.status)).toEqual(['DONE', 'DONE', 'DONE', 'DONE', 'DONE']);
    const ownerStart = (id: string) => calls.find((c) => c.activity === 'runOwner' && c.cardId === id)!.at;
    const done = (id: string) => Math.max(...calls.filter((c) => c.cardId === id).map((c) => c.at));
    expect(ownerStart('ARCH')).toBeGreaterThanOrEqual(done('SPEC'));
    expect(ownerStart('BE')).toBeGreaterThanOrEqual(done('ARCH'));
    expect(ownerStart('QA')).toBeGreaterThanOrEqual(Math.max(done('BE'), done('FE')));
    // Card priorities become Temporal priority keys (HIGH → 2).
    const desc = await client.workflow.getHandle(`${backlogId}/QA`).describe();
    expect(desc.raw.workflowExecutionInfo?.priority?.priorityKey).toBe(2);
    const qaOwner = calls.find((c) => c.activity === 'runOwner' && c.cardId === 'QA')!.input as OwnerInput;
    expect(qaOwner.dependencies.map((d) => d.cardId)).toEqual(['BE', 'FE']);
    expect(qaOwner.dependencies[0]!.artifacts).toEqual([`${backlogId}/BE/attempt-1/out-1.md`]);
  });

  it('leaves the dependents of a rejected card BLOCKED, transitively, and runs the rest', async () => {
    const { worker, handle, client, backlogId, calls } = await startBacklog(
      [{ id: 'A' }, { id: 'B', dependencies: ['A'] }, { id: 'C', dependencies: ['B'] }, { id: 'D' }],
      { A: { qa: [['check "t" failed: exit 1']] } },
    );
    const result = await worker.runUntil(async () => {
      const a = client.workflow.getHandle(`${backlogId}/A`);
      while ((await queryWhenStarted(a)).status !== 'AWAITING_HUMAN') await new Promise((r) => setTimeout(r, 100));
      await a.executeUpdate(humanReviewUpdate, { args: [{ decision: 'reject', reviewer: 'ana', reason: 'out of scope' }] });
      return handle.result();
    });
    const byId = Object.fromEntries(result.cards.map((c) => [c.cardId, c.outcome!]));
    expect(byId.A!.status).toBe('REJECTED');
    expect(byId.B).toMatchObject({ status: 'BLOCKED', blockedBy: { cardId: 'A', status: 'REJECTED' } });
    expect(byId.C).toMatchObject({ status: 'BLOCKED', blockedBy: { cardId: 'B', status: 'BLOCKED' } });
    expect(byId.D!.status).toBe('DONE');
    expect(calls.some((c) => c.cardId === 'B' || c.cardId === 'C')).toBe(false);
  });

  it('answers the backlogState query while cards run', async () => {
    const { worker, handle, backlogId } = await startBacklog([{ id: 'A' }, { id: 'B', dependencies: ['A'] }], { A: { ownerMs: 500 } });
    await worker.runUntil(async () => {
      await new Promise((r) => setTimeout(r, 200));
      const state = await handle.query(backlogStateQuery);
      expect(state.backlogId).toBe(backlogId);
      expect(state.finished).toBe(false);
      expect(state.cards.map((c) => [c.cardId, c.workflowId])).toEqual([
        ['A', `${backlogId}/A`],
        ['B', `${backlogId}/B`],
      ]);
      await handle.result();
      expect((await handle.query(backlogStateQuery)).finished).toBe(true);
    });
  });
});
