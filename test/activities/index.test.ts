import { join } from "node:path";
import { CancelledFailure } from "@temporalio/common";
import { MockActivityEnvironment } from "@temporalio/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createActivities } from "../../src/activities/index.js";
import type { OwnerInput, OwnerResult } from "../../src/domain/attempt.js";
import { card, rejectionOf, sandbox, waitForFile, waitGone, type Sandbox } from "./helpers.js";

let sb: Sandbox;
beforeEach(async () => {
  sb = await sandbox();
});
afterEach(async () => {
  await sb.cleanup();
});

function ownerInput(script: string): OwnerInput {
  return {
    backlogId: "shop",
    card: card(),
    attempt: 1,
    agent: { kind: "command", command: process.execPath, args: [script], timeout_ms: 10_000, env: {} },
    workspace: "shop/SPEC-001/attempt-1",
    dependencies: [],
  };
}

describe("createActivities", () => {
  it("creates exactly the fifteen activities the workflows proxy (four of them for a repository, two for councils)", () => {
    const acts = createActivities({ workspacesRoot: sb.root, baseDir: sb.base });
    expect(Object.keys(acts).sort()).toEqual([
      "askArchitect",
      "critiqueProposal",
      "debugFailures",
      "finishRepository",
      "judgeArtifacts",
      "mergeAttempt",
      "notify",
      "pushIntegrationBranch",
      "readBacklogBudget",
      "readCardState",
      "removeWorktree",
      "reviewPeers",
      "runOwner",
      "runQa",
      "verifyArtifacts",
    ]);
  });

  it("refuses relative directories in its dependencies", () => {
    expect(() => createActivities({ workspacesRoot: "state/workspaces", baseDir: sb.base })).toThrow(
      /workspacesRoot must be an absolute path/,
    );
    expect(() => createActivities({ workspacesRoot: sb.root, baseDir: "." })).toThrow(
      /baseDir must be an absolute path/,
    );
  });

  it("heartbeats through the Temporal activity context while the owner agent runs", async () => {
    const { runOwner } = createActivities({ workspacesRoot: sb.root, baseDir: sb.base, heartbeatIntervalMs: 50 });
    const script = await sb.write(
      "agent.mjs",
      `import { writeFileSync } from 'node:fs'; await new Promise((r) => setTimeout(r, 300));
       writeFileSync('a.md', 'x'); console.log('{"artifacts":["a.md"],"summary":"ok"}');`,
    );
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on("heartbeat", (d: unknown) => beats.push(d));
    const result = (await env.run(runOwner, ownerInput(script))) as OwnerResult;
    expect(result.artifacts).toEqual(["a.md"]);
    expect(beats.length).toBeGreaterThanOrEqual(3);
  });

  it("kills the agent and reports cancellation when Temporal cancels the activity", async () => {
    const { runOwner } = createActivities({
      workspacesRoot: sb.root,
      baseDir: sb.base,
      heartbeatIntervalMs: 50,
      killGraceMs: 300,
    });
    const pidFile = join(sb.dir, "agent.pid");
    const script = await sb.write(
      "agent.mjs",
      `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000);`,
    );
    const env = new MockActivityEnvironment();
    const running = env.run(runOwner, ownerInput(script));
    const pid = Number(await waitForFile(pidFile));
    env.cancel();
    const err = await rejectionOf(running);
    expect(err).toBeInstanceOf(CancelledFailure);
    expect(await waitGone(pid, 1_000)).toBe(true);
  });
});
