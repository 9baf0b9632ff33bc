/**
 * Inside a real Temporal activity context (MockActivityEnvironment), an agent run heartbeats and logs its
 * soft-limit warning through the activity logger.
 */
import { DefaultLogger, type LogEntry } from "@temporalio/worker";
import { MockActivityEnvironment } from "@temporalio/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createActivities } from "../../../src/activities/index.js";
import type { OwnerResult } from "../../../src/domain/attempt.js";
import { sandbox, type Sandbox } from "../helpers.js";
import { fakeCli, ownerInput } from "./helpers.js";

let sb: Sandbox;
beforeEach(async () => {
  sb = await sandbox();
});
afterEach(async () => {
  await sb.cleanup();
});

describe("agent runs in a Temporal activity", () => {
  it("heartbeat through the activity context and warn through the activity logger past the soft limit", async () => {
    const claude = await fakeCli(sb, "claude");
    const entries: LogEntry[] = [];
    const env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger("INFO", (e) => entries.push(e)) });
    const beats: unknown[] = [];
    env.on("heartbeat", (d: unknown) => beats.push(d));
    const { runOwner } = createActivities({ workspacesRoot: sb.root, baseDir: sb.base, heartbeatIntervalMs: 50 });
    const result = (await env.run(
      runOwner,
      ownerInput({ kind: "claude-code", binary: claude, extra_args: ["--scenario", "slow"], soft_timeout_ms: 100 }),
    )) as OwnerResult;
    expect(result.artifacts).toEqual(["a.md"]);
    expect(beats.length).toBeGreaterThanOrEqual(3);
    const warn = entries.find((e) => e.level === "WARN" && e.message.includes("soft time limit"));
    expect(warn?.meta).toMatchObject({ cardId: "SPEC-001", softTimeoutMs: 100 });
  });
});
