import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createRunOwner } from "../../src/activities/owner.js";
import type { OwnerInput } from "../../src/domain/attempt.js";
import type { AgentConfig } from "../../src/domain/squad.js";
import { recordingHooks } from "./agents/helpers.js";
import { card, rejectionOf, sandbox, type Sandbox } from "./helpers.js";

/** A command agent that writes `by.txt` naming itself and reports it. */
const AGENT = `
import { writeFileSync } from 'node:fs';
writeFileSync('by.txt', process.argv[2]);
console.log(JSON.stringify({ artifacts: ['by.txt'], summary: 'by ' + process.argv[2] }));
`;

let sb: Sandbox;
let rec: ReturnType<typeof recordingHooks>;
beforeEach(async () => {
  rec = recordingHooks();
  sb = await sandbox({ workerEnv: { PATH: process.env.PATH, HOME: process.env.HOME }, hooks: rec.hooks });
});
afterEach(async () => {
  await sb.cleanup();
});

async function input(candidates: { name: string; agent: AgentConfig }[]): Promise<OwnerInput> {
  return {
    backlogId: "shop",
    card: card(),
    attempt: 1,
    agent: candidates[0]!.agent,
    workspace: "shop/SPEC-001/attempt-1",
    dependencies: [],
    ownerCandidates: candidates,
  };
}

async function commandAgent(name: string): Promise<AgentConfig> {
  const script = await sb.write("agent.mjs", AGENT);
  return { kind: "command", command: process.execPath, args: [script, name], timeout_ms: 30_000, env: {} };
}

describe("owner activity with a pooled owner", () => {
  it("skips a candidate whose binary is missing and one whose API key is unset, with a warning each, and records who ran", async () => {
    const runOwner = createRunOwner(sb.deps);
    const result = await runOwner(
      await input([
        {
          name: "codex-dev",
          agent: { kind: "codex", binary: join(sb.dir, "no-such-codex"), env: [] } as unknown as AgentConfig,
        },
        {
          name: "claude-dev",
          agent: {
            kind: "claude-code",
            binary: process.execPath,
            env: ["ANTHROPIC_API_KEY"],
          } as unknown as AgentConfig,
        },
        { name: "writer", agent: await commandAgent("writer") },
      ]),
    );
    expect(result).toMatchObject({ artifacts: ["by.txt"], summary: "by writer", agentName: "writer" });
    const warnings = rec.logs.filter((l) => l.level === "warn").map((l) => l.message);
    expect(warnings).toEqual([
      expect.stringContaining(
        `owner agent "codex-dev" skipped on this worker: binary "${join(sb.dir, "no-such-codex")}" not found`,
      ),
      expect.stringContaining('owner agent "claude-dev" skipped on this worker: ANTHROPIC_API_KEY is not set'),
    ]);
  });

  it("runs the planned candidate when it is available, without a warning", async () => {
    const runOwner = createRunOwner(sb.deps);
    const result = await runOwner(
      await input([
        { name: "writer", agent: await commandAgent("writer") },
        { name: "other", agent: await commandAgent("other") },
      ]),
    );
    expect(result).toMatchObject({ summary: "by writer", agentName: "writer" });
    expect(rec.logs.filter((l) => l.level === "warn")).toEqual([]);
  });

  it("runs the planned candidate when none is available, and fails with its own explanation", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(
      runOwner(
        await input([
          {
            name: "codex-dev",
            agent: { kind: "codex", binary: "no-such-codex-on-path", env: [] } as unknown as AgentConfig,
          },
        ]),
      ),
    );
    expect(err).toMatchObject({ type: "AgentConfigError", nonRetryable: true });
    expect(err.message).toContain("npm install -g @openai/codex");
    expect(rec.logs.map((l) => l.message)).toEqual(
      expect.arrayContaining([expect.stringContaining("no owner candidate is available on this worker (codex-dev)")]),
    );
  });
});
