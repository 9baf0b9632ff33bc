import { chmod } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createRunOwner } from "../../../src/activities/owner.js";
import { rejectionOf, sandbox, type Sandbox } from "../helpers.js";
import { ownerInput } from "./helpers.js";

let sb: Sandbox;
beforeEach(async () => {
  sb = await sandbox({ workerEnv: { PATH: process.env.PATH } });
});
afterEach(async () => {
  await sb.cleanup();
});

/** A stand-in CLI binary: a shell wrapper running `body` with this Node; it never finishes by itself. */
async function cli(body: string): Promise<string> {
  const script = await sb.write("cli.mjs", body);
  const bin = await sb.write("bin/agent-cli", `#!/bin/sh\nexec "${process.execPath}" "${script}" "$@"\n`);
  await chmod(bin, 0o755);
  return bin;
}

describe("resource limits of a CLI agent", () => {
  it("kills a process group past limits.cpu_seconds with a non-retryable AgentResourceLimitError naming the limit", async () => {
    const binary = await cli("for (;;) {}");
    const err = await rejectionOf(
      createRunOwner(sb.deps)(
        ownerInput({ kind: "gemini", binary, limits: { cpu_seconds: 0.5 }, timeout_ms: 120_000 }),
      ),
    );
    expect(err).toMatchObject({ type: "AgentResourceLimitError", nonRetryable: true });
    expect(err.message).toContain("cpu_seconds limit");
    expect(err.message).toContain("> 0.5 CPU seconds");
  });

  it("kills a process group past limits.memory_mb (children counted) with a non-retryable AgentResourceLimitError", async () => {
    // The memory sits in a child of the CLI: the limit is the group's, not the leader's.
    const binary = await cli(`
      import { spawn } from 'node:child_process';
      spawn(process.execPath, ['-e', 'const held = []; for (let i = 0; i < 40; i++) held.push(Buffer.alloc(8 << 20, 1)); setInterval(() => held.length, 1000);'], { stdio: 'inherit' });
      setInterval(() => {}, 1000);
    `);
    const err = await rejectionOf(
      createRunOwner(sb.deps)(ownerInput({ kind: "codex", binary, limits: { memory_mb: 200 }, timeout_ms: 120_000 })),
    );
    expect(err).toMatchObject({ type: "AgentResourceLimitError", nonRetryable: true });
    expect(err.message).toMatch(/memory_mb limit \(\d+ > 200 MB resident\)/);
  });

  it("refuses unknown limits in the config", async () => {
    const err = await rejectionOf(
      createRunOwner(sb.deps)(ownerInput({ kind: "gemini", binary: "gemini", limits: { gpu_seconds: 1 } })),
    );
    expect(err).toMatchObject({ type: "AgentConfigError", nonRetryable: true });
    expect(err.message).toContain("limits");
  });
});
