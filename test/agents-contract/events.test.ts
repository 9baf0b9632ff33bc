/**
 * Contract of owner events with the real agent CLIs (issue 12): Claude Code, Codex and Gemini CLI, each
 * against its stub model, whose scripted final answer holds a milestone line. The owner activity reads it
 * from the CLI's stream (the assistant's text) as it arrives, returns it in `OwnerResult.events`, and —
 * with `reviewAtEvents` — told the agent in its prompt how to emit one, and snapshotted the work at it.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { afterEach, describe, expect, it } from "vitest";
import type { OwnerEvent } from "../../src/domain/attempt.js";
import { contract, type Contract, type ContractKind } from "./harness.js";
import type { StubStep } from "./stub-models.js";

let c: Contract | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

/** Writes the spec, then answers with a milestone line inside its text. */
const WRITE_THEN_MILESTONE: StubStep[] = [
  { kind: "write", path: "docs/spec.md", content: "# Checkout spec\n\nRollback plan: revert.\n" },
  {
    kind: "answer",
    text: 'Wrote docs/spec.md.\n{"squadflow":"milestone","name":"spec written"}\nThe spec is done.',
  },
];

describe.each<ContractKind>(["claude-code", "codex", "gemini"])("%s owner events", (kind) => {
  it("reads a milestone line from the agent's messages as it streams, and returns it in the result", async () => {
    c = await contract(kind, WRITE_THEN_MILESTONE);
    const heard: OwnerEvent[] = [];
    c.sb.deps.onOwnerEvent = (e) => heard.push(e);
    const result = await c.run();
    expect(result.events).toEqual([{ kind: "milestone", name: "spec written" }]);
    expect(heard).toEqual([{ kind: "milestone", name: "spec written" }]);
    // Without reviews at events the prompt says nothing of them.
    expect(JSON.stringify(c.stub.turns()[0]!.body)).not.toContain('\\"squadflow\\":\\"milestone\\"');
  });

  it("with reviewAtEvents: tells the agent how to emit events, and snapshots the work at the milestone", async () => {
    c = await contract(kind, WRITE_THEN_MILESTONE);
    const result = await c.run({ reviewAtEvents: true });
    expect(result.events).toEqual([{ kind: "milestone", name: "spec written" }]);
    const prompt = JSON.stringify(c.stub.turns()[0]!.body);
    expect(prompt).toContain("## Milestones and blockers");
    expect(prompt).toContain('{\\"squadflow\\":\\"milestone\\",\\"name\\":');
    // The snapshot beside the workspace holds the spec as it was at the event.
    const snapshot = `${c.workspace}.at-event-1`;
    expect(existsSync(snapshot)).toBe(true);
    expect(await readFile(`${snapshot}/docs/spec.md`, "utf8")).toContain("Rollback plan");
    // Outside a workflow there is no one to signal: a warning, and the run still succeeds.
    expect(c.recorder.logs.some((l) => l.level === "warn" && /could not be sent for review/.test(l.message))).toBe(
      true,
    );
  });
});
