/** The full squad example of docs/agents.md ("A full squad example") is a valid squad config that plans. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SquadSchema, planBacklog } from '../../src/domain/index.js';

function exampleSquad(): string {
  const doc = readFileSync(new URL('../../docs/agents.md', import.meta.url), 'utf8');
  const at = doc.indexOf('## A full squad example');
  if (at < 0) throw new Error('no section "A full squad example" in docs/agents.md');
  const m = /```json\n([\s\S]*?)\n```/.exec(doc.slice(at));
  if (!m) throw new Error('no JSON example in docs/agents.md "A full squad example"');
  return m[1]!;
}

describe('docs/agents.md "A full squad example"', () => {
  it('parses as a squad config with Claude Code for BACKEND and an LLM judge', () => {
    const squad = SquadSchema.parse(JSON.parse(exampleSquad()));
    expect(squad.agents['backend-dev']).toMatchObject({ kind: 'claude-code', binary: 'claude', env: ['ANTHROPIC_API_KEY'] });
    expect(squad.card_types.BACKEND!.judge).toMatchObject({ kind: 'llm', pass_score: 8 });
  });

  it('plans a backlog with it, budgets and prices included', () => {
    const backlog = JSON.stringify({
      metadata: { backlog_id: 'readme' },
      cards: [
        { id: 'SPEC-1', type: 'SPEC', title: 'Spec' },
        { id: 'BE-1', type: 'BACKEND', title: 'Endpoint', dependencies: ['SPEC-1'], budget_usd: 12 },
      ],
    });
    const plan = planBacklog(backlog, { file: 'backlog.json', squad: { file: 'squad.json', text: exampleSquad() } });
    expect(plan.budgetUsd).toBe(100);
    expect(plan.cards.map((c) => c.budgetUsd)).toEqual([5, 12]);
    expect(plan.cards[1]!.debugger).toMatchObject({ kind: 'llm', model: 'claude-opus-4-7' });
  });
});
