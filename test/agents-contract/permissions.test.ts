/**
 * Permission recovery (seed 003's recovery engine): a tool the CLI denied that the card type's policy
 * allows is granted on one re-launch; one outside the policy fails, named, for the workflow to escalate.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { rejectionOf } from "../activities/helpers.js";
import { contract, WRITE_THEN_ANSWER, type Contract, type ContractKind } from "./harness.js";

let c: Contract | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
});

/** Kind, the restrictive setting that denies the write, and the tool it denies. */
const CASES: [ContractKind, Record<string, unknown>, string][] = [
  ["claude-code", { permission_mode: "default" }, "Write"],
  ["gemini", { approval_mode: "default" }, "write_file"],
  ["codex", { sandbox: "read-only" }, "apply_patch"],
];

describe.each(CASES)("%s permission recovery", (kind, restricted, tool) => {
  it(`re-launches once with ${tool} granted when the card type's policy allows it, and records the recovery`, async () => {
    // The denied run (tool call, answer), then the re-launch (tool call, answer).
    c = await contract(kind, [...WRITE_THEN_ANSWER, ...WRITE_THEN_ANSWER], restricted);
    const result = await c.run({ allowTools: [tool] });
    expect(result.permissionRecovery).toEqual({ granted: [tool] });
    expect(result.artifacts).toEqual(["docs/spec.md"]);
    expect(await readFile(join(c.workspace, "docs/spec.md"), "utf8")).toContain("Rollback plan");
    expect(c.stub.turns()).toHaveLength(4);
    expect(c.recorder.logs.map((l) => l.message)).toEqual(
      expect.arrayContaining([expect.stringContaining(`owner was denied ${tool}; re-launching it once`)]),
    );
  });

  it(`launches once with ${tool} allowed when a human granted it to the card (approve after a blocker)`, async () => {
    c = await contract(kind, [...WRITE_THEN_ANSWER, ...WRITE_THEN_ANSWER], restricted);
    const result = await c.run({ allowTools: [tool], grantedTools: [tool] });
    expect(result.permissionRecovery).toBeUndefined();
    expect(result.artifacts).toEqual(["docs/spec.md"]);
    expect(await readFile(join(c.workspace, "docs/spec.md"), "utf8")).toContain("Rollback plan");
    // One launch (its tool call and answer), not a denied run and a re-launch (four turns).
    expect(c.stub.turns()).toHaveLength(2);
    expect(c.recorder.logs.map((l) => l.message)).not.toEqual(
      expect.arrayContaining([expect.stringContaining("re-launching it once")]),
    );
  });

  it(`fails a denial of ${tool} outside the policy as a non-retryable AgentPermissionError naming it, without a re-launch`, async () => {
    c = await contract(kind, [...WRITE_THEN_ANSWER, ...WRITE_THEN_ANSWER], restricted);
    const err = await rejectionOf(c.run({ allowTools: ["SomethingElse"] }));
    expect(err).toMatchObject({ type: "AgentPermissionError", nonRetryable: true });
    expect(err.message).toContain(`outside the card type's permission policy: ${tool}`);
    expect(c.stub.turns()).toHaveLength(2);
  });
});
