/**
 * Session resume: a correction round continues the owner's previous session (Claude Code `--resume`, Codex
 * `exec resume`, Gemini CLI `--session-file`) with only the validators' feedback as the new prompt, and
 * starts fresh when it is gone.
 */
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type { OwnerInput } from "../../src/domain/attempt.js";
import { contract, WRITE_THEN_ANSWER, type Contract, type ContractKind } from "./harness.js";

let c: Contract | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

const FEEDBACK = { round: 1, reasons: ['llm_judge: criterion "Rollback plan" not met: no owner named'] };

function correction(previousSession: OwnerInput["previousSession"]): Partial<OwnerInput> {
  return {
    attempt: 2,
    workspace: "shop/SPEC-001/attempt-2",
    previousWorkspace: "shop/SPEC-001/attempt-1",
    feedback: FEEDBACK,
    previousSession,
  };
}

/** The text of a main-loop request's conversation, whatever the protocol. */
function conversation(body: any): string {
  return JSON.stringify(body.messages ?? body.input ?? body.contents);
}

describe.each<ContractKind>(["claude-code", "codex", "gemini"])("%s correction round", (kind) => {
  it("resumes the previous session with only the feedback as the new prompt", async () => {
    const resumedUsage = { input: 14_000, output: 80, cacheRead: 13_000 };
    c = await contract(kind, [
      ...WRITE_THEN_ANSWER,
      { kind: "answer", text: "Named the owner of the rollback.", usage: resumedUsage },
    ]);
    const first = await c.run();
    expect(first.session?.reusedTokens).toBeUndefined();
    const again = await c.run(correction(first.session));
    expect(again.summary).toBe("Named the owner of the rollback.");
    expect(again.session?.resumedFrom).toBe(first.session?.id);
    // What the resume saved: the earlier conversation, read from the prompt cache instead of sent again.
    expect(again.session?.reusedTokens).toBe(13_000);
    // The CLI reports the whole session's usage on a resume: the attempt is charged only its own turn
    // (Anthropic counts cache reads apart from input; OpenAI and Gemini include them in input).
    expect(again.cost).toMatchObject({
      inputTokens: kind === "claude-code" ? 14_000 : 1_000,
      outputTokens: 80,
      cacheReadTokens: 13_000,
    });
    expect(again.session?.sessionCost).toMatchObject({
      inputTokens: first.cost.inputTokens + again.cost.inputTokens,
      cacheReadTokens: 33_000,
    });
    expect(again.artifacts).toEqual(["docs/spec.md"]); // the copy of attempt 1's files
    // The stub saw the earlier conversation (card prompt, tool call) continued by the feedback-only prompt.
    const resumedTurn = c.stub.turns()[2]!;
    const text = conversation(resumedTurn.body);
    expect(text).toContain("## Card: Write the spec");
    expect(text).toContain("Correction round 1 of card SPEC-001");
    expect(text).toContain("no owner named");
    expect(text.split("## Card: Write the spec").length - 1).toBe(1); // the card prompt was not sent again
    // Gemini CLI keeps sessions per project folder: the session file of attempt 1's folder was carried over.
    if (kind === "gemini") expect(text).toContain("functionResponse");
  });

  it("starts a fresh session when a pooled card runs another candidate than the planned agent that made it", async () => {
    c = await contract(kind, [...WRITE_THEN_ANSWER, { kind: "answer", text: "Reworked by the fallback." }]);
    const first = await c.run();
    const agent = c.agent as unknown as OwnerInput["agent"];
    // The planned agent's binary is missing on this worker: the pool's next candidate runs the correction.
    const planned = { ...agent, binary: `${c.sb.dir}/no-such-${kind}` } as OwnerInput["agent"];
    const again = await c.run({
      ...correction(first.session),
      agent: planned,
      ownerCandidates: [
        { name: "planned", agent: planned },
        { name: "fallback", agent },
      ],
    });
    expect(again).toMatchObject({ summary: "Reworked by the fallback.", agentName: "fallback" });
    expect(again.session?.resumedFrom).toBeUndefined();
    expect(again.session?.reusedTokens).toBeUndefined();
    expect(conversation(c.stub.turns()[2]!.body)).toContain("## Correction round 1: the previous attempt was rejected");
  });

  it("starts a fresh session with the full prompt when the previous one is gone", async () => {
    c = await contract(kind, [...WRITE_THEN_ANSWER, { kind: "answer", text: "Reworked from scratch." }]);
    await c.run();
    const gone = kind === "codex" ? "01a24870-0000-7000-8000-000000000000" : randomUUID();
    const again = await c.run(correction({ id: gone }));
    expect(again.summary).toBe("Reworked from scratch.");
    expect(again.session?.resumedFrom).toBeUndefined();
    expect(c.recorder.logs.map((l) => l.message)).toEqual(
      expect.arrayContaining([expect.stringContaining(`${gone} is gone; starting a fresh one`)]),
    );
    const text = conversation(c.stub.turns()[2]!.body);
    expect(text).toContain("## Correction round 1: the previous attempt was rejected");
  });
});
