/** The full squad example of README "Agent kinds" is a valid squad config that plans. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SquadSchema, planBacklog } from '../../src/domain/index.js';

function exampleSquad(): string {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('### Agent kinds'));
  const m = /```json\n([\s\S]*?)\n```/.exec(section);
  if (!m) throw new Error('no JSON example in README "Agent kinds"');
  return m[1]!;
}

describe('README "Agent kinds" example', () => {
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
