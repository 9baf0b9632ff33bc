/**
 * Contract of the `gemini` owner kind with the real Gemini CLI (pinned in scripts/install-agent-clis.sh)
 * against a local Gemini `streamGenerateContent` SSE stub.
 */
import { CancelledFailure } from '@temporalio/common';
import { afterEach, describe, expect, it } from 'vitest';
import { rejectionOf, waitGone } from '../activities/helpers.js';
import { contract, expectWroteTheSpec, heartbeatWhere, usdOf, processesIn, WRITE_THEN_ANSWER, type Contract } from './harness.js';

let c: Contract | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

const usd = usdOf('gemini');

describe('gemini owner against the real Gemini CLI', () => {
  it('trusts the fresh attempt folder, runs write_file and reports the artifact, tokens, USD and session id', async () => {
    c = await contract('gemini', WRITE_THEN_ANSWER);
    const result = await c.run();
    await expectWroteTheSpec(c, result);
    // Gemini's prompt count includes the cached part: (12 000 + 12 500) − (8 000 + 12 000) uncached.
    expect(result.cost).toMatchObject({ inputTokens: 4_500, cacheReadTokens: 20_000, outputTokens: 550, usd: usd(4_500, 20_000, 550) });
    expect(result.session?.id).toMatch(/^[0-9a-f-]{36}$/);
    const [first, second] = c.stub.turns();
    expect(first!.headers['x-goog-api-key']).toBe('contract-test-gemini-key');
    expect(first!.path).toContain('/models/gemini-2.5-pro:streamGenerateContent');
    expect(JSON.stringify(first!.body.contents)).toContain('## Card: Write the spec');
    expect(JSON.stringify(second!.body.contents)).toContain('functionResponse');
  });

  it('fails an untrusted workspace (exit 55) as a non-retryable AgentConfigError instead of retrying it', async () => {
    c = await contract('gemini', WRITE_THEN_ANSWER);
    c.agent.set_env = { ...(c.agent.set_env as Record<string, string>), GEMINI_CLI_TRUST_WORKSPACE: 'false' };
    const err = await rejectionOf(c.run());
    expect(err).toMatchObject({ type: 'AgentConfigError', nonRetryable: true });
    expect(err.message).toContain('exited 55');
    expect(err.message).toContain('not trusted');
    expect(c.stub.turns()).toEqual([]);
  });

  it('fails a write_file left out by approval_mode "default" as a non-retryable AgentPermissionError naming the tool', async () => {
    c = await contract('gemini', WRITE_THEN_ANSWER, { approval_mode: 'default' });
    const err = await rejectionOf(c.run());
    expect(err).toMatchObject({ type: 'AgentPermissionError', nonRetryable: true });
    expect(err.message).toContain('write_file');
    expect(err.details[0].deniedTools).toEqual(['write_file']);
  });

  it.each([
    [401, 'AgentConfigError', true],
    [400, 'AgentConfigError', true],
    [429, 'LlmApiError', false],
    [500, 'LlmApiError', false],
  ])('maps an API %i (its exit code is the status truncated to a byte) to a typed %s (non-retryable: %s)', async (status, type, nonRetryable) => {
    c = await contract('gemini', [{ kind: 'error', status }]);
    const err = await rejectionOf(c.run());
    expect(err).toMatchObject({ type, nonRetryable });
    expect(err.message).toContain(`HTTP ${status}`);
    expect(err.message).not.toMatch(/\bat \S+ \(file:/); // the JSON error, not a stack-trace line
  });

  it('stops at maxSessionTurns with a non-retryable AgentTurnLimitError (exit 53)', async () => {
    c = await contract('gemini', [WRITE_THEN_ANSWER[0]!], {}, { geminiSettings: { model: { maxSessionTurns: 1 } } });
    const err = await rejectionOf(c.run());
    expect(err).toMatchObject({ type: 'AgentTurnLimitError', nonRetryable: true });
    expect(err.message).toContain('exited 53');
  });

  it('heartbeats the live progress of its stream-json (turns, last tool) while the run goes on', async () => {
    const abort = new AbortController();
    // The tool call, then a turn that never answers: the run is mid-way while the test reads its heartbeats.
    c = await contract('gemini', [WRITE_THEN_ANSWER[0]!, { kind: 'hang' }], {}, { signal: abort.signal });
    const running = rejectionOf(c.run());
    await c.stub.waitForTurns(2);
    const beat = await heartbeatWhere(c, (d) => d?.progress?.lastTool === 'write_file');
    expect(beat).toMatchObject({ phase: 'owner', progress: { lastTool: 'write_file', turns: 1 } });
    abort.abort(new CancelledFailure('CANCELLED'));
    expect(await running).toBeInstanceOf(CancelledFailure);
  });

  it('kills a run hanging on the API when the activity is cancelled', async () => {
    const abort = new AbortController();
    c = await contract('gemini', [{ kind: 'hang' }], {}, { signal: abort.signal });
    const running = rejectionOf(c.run());
    await c.stub.waitForTurns(1);
    const pids = await processesIn(c.workspace);
    expect(pids.length).toBeGreaterThan(0);
    abort.abort(new CancelledFailure('CANCELLED'));
    expect(await running).toBeInstanceOf(CancelledFailure);
    for (const pid of pids) expect(await waitGone(pid, 10_000)).toBe(true);
  });
});
