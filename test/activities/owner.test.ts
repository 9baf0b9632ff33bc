import { chmod, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { ApplicationFailure, CancelledFailure } from "@temporalio/common";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createRunOwner, ownerRecordPath } from "../../src/activities/owner.js";
import { agentResultFile } from "../../src/activities/agents/command.js";
import type { OwnerInput } from "../../src/domain/attempt.js";
import type { CommandAgentConfig } from "../../src/domain/squad.js";
import { recordingHooks } from "./agents/helpers.js";
import { card, isGone, rejectionOf, sandbox, waitForFile, waitGone, type Sandbox } from "./helpers.js";

const node = process.execPath;

/** An agent that writes docs/spec.md and reports it with usage. */
const GOOD_AGENT = `
import { mkdirSync, writeFileSync } from 'node:fs';
let input = '';
process.stdin.on('data', (d) => (input += d)).on('end', () => {
  const req = JSON.parse(input);
  mkdirSync('docs', { recursive: true });
  writeFileSync('docs/spec.md', '# Spec for ' + req.card.id + '\\n');
  writeFileSync('request.json', input);
  writeFileSync('env.json', JSON.stringify(process.env));
  console.error('log line on stderr');
  console.log(JSON.stringify({ artifacts: ['docs/spec.md'], summary: 'wrote the spec',
    usage: { input_tokens: 1200, output_tokens: 800, cost_usd: 0.01234567 } }));
});
`;

let sb: Sandbox;
beforeEach(async () => {
  sb = await sandbox({ workerEnv: { ...process.env, SQUADFLOW_TEST_SECRET: "hunter2", NODE_OPTIONS: "--inspect" } });
});
afterEach(async () => {
  await sb.cleanup();
});

function agent(script: string, extra: Partial<CommandAgentConfig> = {}): CommandAgentConfig {
  return { kind: "command", command: node, args: [script], timeout_ms: 10_000, env: {}, ...extra };
}

function input(agentConfig: CommandAgentConfig, extra: Partial<OwnerInput> = {}): OwnerInput {
  return {
    backlogId: "shop",
    card: card(),
    attempt: 1,
    agent: agentConfig,
    workspace: "shop/SPEC-001/attempt-1",
    dependencies: [],
    ...extra,
  };
}

async function scriptAgent(body: string): Promise<CommandAgentConfig> {
  return agent(await sb.write("agent.mjs", body));
}

describe("runOwner with a command agent", () => {
  it("returns the artifacts, summary and cost the agent reports", async () => {
    const runOwner = createRunOwner(sb.deps);
    const result = await runOwner(input(await scriptAgent(GOOD_AGENT)));
    expect(result).toEqual({
      artifacts: ["docs/spec.md"],
      summary: "wrote the spec",
      cost: { inputTokens: 1200, outputTokens: 800, usd: 0.012346 },
    });
    const ws = join(sb.root, "shop/SPEC-001/attempt-1");
    expect(await readFile(join(ws, "docs/spec.md"), "utf8")).toBe("# Spec for SPEC-001\n");
  });

  it("runs the agent once per attempt: a retry after the agent finished (worker killed before reporting) returns the recorded result", async () => {
    const counter = join(sb.root, "runs.txt");
    const counting = GOOD_AGENT.replace(
      "console.error('log line on stderr');",
      `require('node:fs').appendFileSync(${JSON.stringify(counter)}, 'run\\n');`,
    ).replace(
      "import { mkdirSync, writeFileSync } from 'node:fs';",
      "import { mkdirSync, writeFileSync } from 'node:fs';\nimport { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);",
    );
    const runOwner = createRunOwner(sb.deps);
    const agentConfig = await scriptAgent(counting);
    const first = await runOwner(input(agentConfig));
    const again = await runOwner(input(agentConfig));
    expect(again).toEqual(first);
    expect(await readFile(counter, "utf8")).toBe("run\n");
    // The record sits beside the workspace, not in it (no validator sees it as an artifact).
    expect(JSON.parse(await readFile(ownerRecordPath(sb.root, "shop/SPEC-001/attempt-1"), "utf8"))).toEqual(first);
    // Another attempt runs the agent again; so does this one once its workspace is gone.
    await runOwner(input(agentConfig, { attempt: 2, workspace: "shop/SPEC-001/attempt-2" }));
    await rm(join(sb.root, "shop/SPEC-001/attempt-1"), { recursive: true });
    await runOwner(input(agentConfig));
    expect(await readFile(counter, "utf8")).toBe("run\nrun\nrun\n");
  });

  it("takes the answer from the result file an agent left when its worker died before hearing it, without running the agent again", async () => {
    const counter = join(sb.root, "runs.txt");
    const agentConfig = await scriptAgent(`
      import { appendFileSync, writeFileSync, renameSync, mkdirSync } from 'node:fs';
      appendFileSync(${JSON.stringify(counter)}, 'run\\n');
      mkdirSync('docs', { recursive: true });
      writeFileSync('docs/spec.md', '# Spec');
      const answer = JSON.stringify({ artifacts: ['docs/spec.md'], summary: 'from the file', usage: { input_tokens: 1, output_tokens: 2, cost_usd: 0.5 } });
      writeFileSync(process.env.SQUADFLOW_RESULT_FILE + '.tmp', answer);
      renameSync(process.env.SQUADFLOW_RESULT_FILE + '.tmp', process.env.SQUADFLOW_RESULT_FILE);
      if (process.env.EXIT_CODE) process.exit(Number(process.env.EXIT_CODE));
      console.log(answer);
    `);
    const runOwner = createRunOwner(sb.deps);
    // The agent finished and left its answer, then "the worker died": no owner record, the result file stays.
    const resultFile = agentResultFile(sb.root, "shop/SPEC-001/attempt-1");
    await runOwner(input(agentConfig));
    await rm(ownerRecordPath(sb.root, "shop/SPEC-001/attempt-1"));
    expect(JSON.parse(await readFile(resultFile, "utf8")).summary).toBe("from the file");
    const retried = await runOwner(input(agentConfig));
    expect(retried).toEqual({
      artifacts: ["docs/spec.md"],
      summary: "from the file",
      cost: { inputTokens: 1, outputTokens: 2, usd: 0.5 },
    });
    expect(await readFile(counter, "utf8")).toBe("run\n");
    // A run that fails leaves no result file behind (its answer does not count).
    const failing = { ...agentConfig, env: { EXIT_CODE: "3" } };
    await expect(runOwner(input(failing, { attempt: 2, workspace: "shop/SPEC-001/attempt-2" }))).rejects.toThrow(
      /exited 3/,
    );
    await expect(readFile(agentResultFile(sb.root, "shop/SPEC-001/attempt-2"), "utf8")).rejects.toThrow(/ENOENT/);
  });

  it("sends the card, attempt, absolute workspace, dependencies and feedback as one snake_case JSON object on stdin", async () => {
    const runOwner = createRunOwner(sb.deps);
    await runOwner(
      input(await scriptAgent(GOOD_AGENT), {
        attempt: 2,
        workspace: "shop/SPEC-001/attempt-2",
        dependencies: [{ cardId: "ARQ-001", artifacts: ["shop/ARQ-001/attempt-1/docs/arch.md", "/legacy/abs.md"] }],
        feedback: {
          round: 1,
          reasons: ['llm_judge: criterion "Risks" not met'],
          rootCause: "it keeps failing",
          humanContext: "use Postgres",
        },
      }),
    );
    const ws = join(sb.root, "shop/SPEC-001/attempt-2");
    expect(JSON.parse(await readFile(join(ws, "request.json"), "utf8"))).toEqual({
      backlog_id: "shop",
      card: {
        id: "SPEC-001",
        type: "SPEC",
        title: "Write the spec",
        description: "The checkout spec",
        priority: "HIGH",
        dependencies: ["ARQ-001"],
        acceptance_criteria: ["Has a rollback plan"],
      },
      attempt: 2,
      workspace: ws,
      dependencies: [
        { card_id: "ARQ-001", artifacts: [join(sb.root, "shop/ARQ-001/attempt-1/docs/arch.md"), "/legacy/abs.md"] },
      ],
      feedback: {
        round: 1,
        reasons: ['llm_judge: criterion "Risks" not met'],
        root_cause: "it keeps failing",
        human_context: "use Postgres",
      },
    });
  });

  it('sends "feedback": null on a first attempt and runs the agent in the attempt workspace', async () => {
    const runOwner = createRunOwner(sb.deps);
    await runOwner(input(await scriptAgent(GOOD_AGENT)));
    const req = JSON.parse(await readFile(join(sb.root, "shop/SPEC-001/attempt-1/request.json"), "utf8"));
    expect(req.feedback).toBeNull();
  });

  it("passes only allow-listed worker variables, the agent env and SQUADFLOW_* variables to the agent", async () => {
    const runOwner = createRunOwner(sb.deps);
    const cfg = { ...(await scriptAgent(GOOD_AGENT)), env: { MODEL: "small", PATH: process.env.PATH ?? "" } };
    await runOwner(input(cfg));
    const ws = join(sb.root, "shop/SPEC-001/attempt-1");
    const env = JSON.parse(await readFile(join(ws, "env.json"), "utf8")) as Record<string, string>;
    expect(env.SQUADFLOW_TEST_SECRET).toBeUndefined();
    expect(env.NODE_OPTIONS).toBeUndefined();
    expect(env).toMatchObject({
      MODEL: "small",
      SQUADFLOW_WORKSPACE: ws,
      SQUADFLOW_CARD_ID: "SPEC-001",
      SQUADFLOW_ATTEMPT: "1",
      SQUADFLOW_BACKLOG_ID: "shop",
    });
    const allowed = new Set(["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "MODEL"]);
    const unexpected = Object.keys(env).filter((k) => !allowed.has(k) && !k.startsWith("SQUADFLOW_"));
    // Node itself may add nothing; anything else leaked from the worker would show up here.
    expect(unexpected).toEqual([]);
  });

  it('resolves "./" commands and args against the worker base directory', async () => {
    await sb.write("project/agents/good.mjs", GOOD_AGENT);
    const runOwner = createRunOwner(sb.deps);
    const result = await runOwner(input(agent("./agents/good.mjs")));
    expect(result.artifacts).toEqual(["docs/spec.md"]);

    // A "./" command too; it runs with cwd = the workspace, so it finds its siblings by its own path.
    await sb.write("project/agents/run.sh", `#!/bin/sh\nexec "${node}" "$(dirname "$0")/good.mjs"\n`);
    await chmod(join(sb.base, "agents/run.sh"), 0o755);
    const viaScript = { kind: "command" as const, command: "./agents/run.sh", args: [], timeout_ms: 10_000, env: {} };
    expect((await runOwner(input(viaScript))).artifacts).toEqual(["docs/spec.md"]);
  });

  it("reports zero cost when the agent omits usage", async () => {
    const runOwner = createRunOwner(sb.deps);
    const result = await runOwner(
      input(
        await scriptAgent(
          `import { writeFileSync } from 'node:fs'; writeFileSync('a.md', 'x'); console.log(' {"artifacts":["a.md"],"summary":"s"} \\n')`,
        ),
      ),
    );
    expect(result.cost).toEqual({ inputTokens: 0, outputTokens: 0, usd: 0 });
  });

  it("fails with a retryable AgentExitError quoting the stderr tail when the agent exits non-zero", async () => {
    const runOwner = createRunOwner(sb.deps);
    const cfg = await scriptAgent(`console.error('line 1'); console.error('model quota exceeded'); process.exit(2)`);
    const err = await rejectionOf(runOwner(input(cfg)));
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: "AgentExitError", nonRetryable: false });
    expect(err.message).toBe(`agent "${node} ${cfg.args[0]}" exited 2: line 1\nmodel quota exceeded`);
  });

  it("fails with a retryable AgentOutputError when stdout is not JSON", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(
      runOwner(input(await scriptAgent(`console.log('Here are the artifacts: docs/spec.md')`))),
    );
    expect(err).toMatchObject({ type: "AgentOutputError", nonRetryable: false });
    expect(err.message).toContain("did not write one JSON object on stdout");
    expect(err.message).toContain("stdout tail:\nHere are the artifacts: docs/spec.md");
  });

  it("returns the milestone, request-review and blocker event lines the agent wrote before its answer, in order", async () => {
    const runOwner = createRunOwner(sb.deps);
    const result = await runOwner(
      input(
        await scriptAgent(
          `import { writeFileSync } from 'node:fs'; writeFileSync('a.md', 'x');
           console.log(JSON.stringify({ squadflow: 'milestone', name: 'schema written' }));
           console.log(JSON.stringify({ squadflow: 'request_review', name: 'API ready' }));
           console.log(JSON.stringify({ squadflow: 'blocker', name: 'needs hunter2 rotated' }));
           console.log(JSON.stringify({ artifacts: ['a.md'], summary: 's' }))`,
        ),
      ),
    );
    expect(result.artifacts).toEqual(["a.md"]);
    expect(result.events).toEqual([
      { kind: "milestone", name: "schema written" },
      { kind: "request_review", name: "API ready" },
      { kind: "blocker", name: "needs [REDACTED:SQUADFLOW_TEST_SECRET] rotated" },
    ]);
  });

  it("fails with an AgentOutputError when stdout holds two JSON objects", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(
      runOwner(input(await scriptAgent(`console.log('{"artifacts":[]}'); console.log('{"artifacts":[]}')`))),
    );
    expect(err).toMatchObject({ type: "AgentOutputError" });
  });

  it("fails with an AgentOutputError naming the field when the JSON does not match the protocol", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(
      runOwner(
        input(
          await scriptAgent(`console.log(JSON.stringify({ artifacts: 'docs/spec.md', usage: { input_tokens: 1.5 } }))`),
        ),
      ),
    );
    expect(err).toMatchObject({ type: "AgentOutputError", nonRetryable: false });
    expect(err.message).toContain("does not match the protocol");
    expect(err.message).toContain("artifacts:");
    expect(err.message).toContain("usage.input_tokens:");
  });

  it("refuses absolute artifact paths in the agent output", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(
      runOwner(input(await scriptAgent(`console.log(JSON.stringify({ artifacts: ['/etc/passwd'], summary: '' }))`))),
    );
    expect(err).toMatchObject({ type: "AgentOutputError" });
    expect(err.message).toContain("artifacts.0: must be relative to the workspace");
  });

  it("redacts a worker secret the agent wrote into its reported artifacts, in place, leaving files outside the workspace alone", async () => {
    const secret = "sk-live-0123456789abcdef";
    const outside = await sb.write("outside/creds.txt", `KEY=${secret}\n`);
    const { hooks, logs } = recordingHooks();
    const runOwner = createRunOwner({ ...sb.deps, hooks, workerEnv: { ...sb.deps.workerEnv, VENDOR_API_KEY: secret } });
    const cfg = await scriptAgent(`
      import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
      mkdirSync('docs', { recursive: true });
      writeFileSync('docs/setup.md', '# Setup\\nexport VENDOR_API_KEY=${secret}\\n');
      symlinkSync(${JSON.stringify(outside)}, 'docs/creds.txt');
      console.log(JSON.stringify({ artifacts: ['docs/setup.md', 'docs/creds.txt', '../escape.md'], summary: 'used ${secret}' }));
    `);
    const result = await runOwner(input(cfg));
    expect(result.summary).toBe("used [REDACTED:VENDOR_API_KEY]");
    const ws = join(sb.root, "shop/SPEC-001/attempt-1");
    expect(await readFile(join(ws, "docs/setup.md"), "utf8")).toBe(
      "# Setup\nexport VENDOR_API_KEY=[REDACTED:VENDOR_API_KEY]\n",
    );
    // A symlink out of the workspace is not followed for writing (verification refuses it anyway).
    expect(await readFile(outside, "utf8")).toBe(`KEY=${secret}\n`);
    expect(logs.filter((l) => l.message.includes("wrote a secret into an artifact")).map((l) => l.meta)).toEqual([
      { cardId: "SPEC-001", file: "docs/setup.md", variables: ["VENDOR_API_KEY"] },
    ]);
  });

  it("kills the agent process group on timeout with an AgentTimeoutError, leaving no orphan", async () => {
    const runOwner = createRunOwner(sb.deps);
    const pids = join(sb.dir, "pids.json");
    const cfg = {
      ...(await scriptAgent(`
        import { spawn } from 'node:child_process';
        import { writeFileSync } from 'node:fs';
        const gc = spawn('sleep', ['30'], { stdio: 'inherit' });
        writeFileSync(${JSON.stringify(pids)}, JSON.stringify({ child: process.pid, grandchild: gc.pid }));
        console.error('thinking…');
        setInterval(() => {}, 1000);`)),
      timeout_ms: 500,
    };
    const err = await rejectionOf(runOwner(input(cfg)));
    expect(err).toMatchObject({ type: "AgentTimeoutError", nonRetryable: false });
    expect(err.message).toContain("killed after 500 ms");
    expect(err.message).toContain("thinking…");
    const { child, grandchild } = JSON.parse(await waitForFile(pids));
    expect(await isGone(child)).toBe(true);
    expect(await waitGone(grandchild, 500)).toBe(true);
  });

  it("fails with a non-retryable AgentConfigError naming the command when the binary is missing", async () => {
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(
      runOwner(input(agent("x", { command: "squadflow-missing-agent", args: ["--fast"] }))),
    );
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: "AgentConfigError", nonRetryable: true });
    expect(err.message).toContain('agent "squadflow-missing-agent --fast" of card SPEC-001 cannot start');
    expect(err.message).toContain("ENOENT");
  });

  it('fails with a non-retryable AgentConfigError when a "./" agent is not executable', async () => {
    await sb.write("project/agents/plain.sh", "#!/bin/sh\necho {}\n");
    const runOwner = createRunOwner(sb.deps);
    const err = await rejectionOf(
      runOwner(input({ kind: "command", command: "./agents/plain.sh", args: [], timeout_ms: 5_000, env: {} })),
    );
    expect(err).toMatchObject({ type: "AgentConfigError", nonRetryable: true });
    expect(err.message).toContain("EACCES");
  });

  it("heartbeats while the agent runs", async () => {
    const beats: unknown[] = [];
    const runOwner = createRunOwner({ ...sb.deps, hooks: () => ({ heartbeat: (d) => beats.push(d) }) });
    await runOwner(
      input(
        await scriptAgent(
          `import { writeFileSync } from 'node:fs'; await new Promise((r) => setTimeout(r, 300)); writeFileSync('a.md', 'x'); console.log('{"artifacts":["a.md"],"summary":""}');`,
        ),
      ),
    );
    expect(beats.length).toBeGreaterThanOrEqual(3);
    expect(beats[0]).toEqual({ phase: "owner", elapsedMs: 0 });
  });

  it("kills the agent and rethrows the cancellation when the activity is cancelled", async () => {
    const ac = new AbortController();
    const runOwner = createRunOwner({
      ...sb.deps,
      hooks: () => ({ heartbeat: () => undefined, cancellationSignal: ac.signal }),
    });
    const pidFile = join(sb.dir, "agent.pid");
    const running = runOwner(
      input(
        await scriptAgent(
          `import { writeFileSync } from 'node:fs'; writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000);`,
        ),
      ),
    );
    const pid = Number(await waitForFile(pidFile));
    ac.abort(new CancelledFailure("CANCELLED"));
    const err = await rejectionOf(running);
    expect(err).toBeInstanceOf(CancelledFailure);
    expect(await waitGone(pid, 500)).toBe(true);
  });
});
