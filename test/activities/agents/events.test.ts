/**
 * Owner events (issue 12): the event-line convention, reading it from text that arrives in pieces and from
 * each CLI's stream, and a real `command` agent whose event reaches the sink while it still runs.
 */
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createRunOwner } from "../../../src/activities/owner.js";
import { assistantText, EventScanner, parseEventLine } from "../../../src/activities/agents/events.js";
import type { OwnerEvent } from "../../../src/domain/attempt.js";
import { card, sandbox, type Sandbox } from "../helpers.js";

describe("parseEventLine", () => {
  it("reads the three kinds, whitespace allowed, and nothing else", () => {
    expect(parseEventLine('{"squadflow":"milestone","name":"schema written"}')).toEqual({
      kind: "milestone",
      name: "schema written",
    });
    expect(parseEventLine('  { "squadflow": "blocker", "name": "no key" }  ')).toEqual({
      kind: "blocker",
      name: "no key",
    });
    expect(parseEventLine('{"squadflow":"request_review","name":"API ready"}')!.kind).toBe("request_review");
    expect(parseEventLine('{"squadflow":"done","name":"x"}')).toBeUndefined();
    expect(parseEventLine('{"squadflow":"milestone","name":""}')).toBeUndefined();
    expect(parseEventLine('{"squadflow":"milestone"')).toBeUndefined();
    expect(parseEventLine('see {"squadflow":"milestone","name":"x"}')).toBeUndefined();
  });
});

describe("EventScanner", () => {
  it("hears a line once it is complete, across pieces, in order; a failing sink changes nothing", () => {
    const heard: OwnerEvent[] = [];
    const s = new EventScanner((e) => {
      heard.push(e);
      throw new Error("sink down");
    });
    s.push('text\n{"squadflow":"mile');
    expect(heard).toEqual([]);
    s.push('stone","name":"a"}\nmore');
    expect(heard).toEqual([{ kind: "milestone", name: "a" }]);
    s.push('\n{"squadflow":"blocker","name":"b"}');
    expect(heard).toHaveLength(1);
    s.end();
    expect(s.events).toEqual([
      { kind: "milestone", name: "a" },
      { kind: "blocker", name: "b" },
    ]);
  });
});

describe("assistantText", () => {
  const line = (o: unknown) => JSON.stringify(o);
  it("takes Claude Code's assistant text blocks, not its tool calls", () => {
    expect(
      assistantText(
        "claude-code",
        line({
          type: "assistant",
          message: {
            content: [
              { type: "text", text: "a" },
              { type: "tool_use", name: "Write" },
            ],
          },
        }),
      ),
    ).toBe("a\n");
    expect(
      assistantText("claude-code", line({ type: "assistant", message: { content: [{ type: "tool_use" }] } })),
    ).toBeUndefined();
    expect(assistantText("claude-code", line({ type: "user", message: { content: "x" } }))).toBeUndefined();
  });

  it("takes Codex's completed agent messages only", () => {
    expect(assistantText("codex", line({ type: "item.completed", item: { type: "agent_message", text: "b" } }))).toBe(
      "b\n",
    );
    expect(
      assistantText("codex", line({ type: "item.completed", item: { type: "command_execution", command: "ls" } })),
    ).toBeUndefined();
  });

  it("joins Gemini's deltas, a line spanning two of them, and ends a reply at the next event", () => {
    const s = new EventScanner();
    for (const ev of [
      { type: "message", role: "assistant", content: 'ok\n{"squadflow":"milestone",' },
      { type: "message", role: "assistant", content: '"name":"half"}' },
      { type: "tool_use", tool_name: "write_file" },
      { type: "message", role: "user", content: '{"squadflow":"blocker","name":"not the agent"}' },
    ]) {
      const text = assistantText("gemini", line(ev));
      if (text !== undefined) s.push(text);
    }
    s.end();
    expect(s.events).toEqual([{ kind: "milestone", name: "half" }]);
  });
});

describe("a command agent's events", () => {
  let sb: Sandbox;
  beforeEach(async () => {
    sb = await sandbox();
  });
  afterEach(async () => {
    await sb.cleanup();
  });

  it("reach the sink while the agent runs: it waits for a file only the sink writes", async () => {
    const gate = join(sb.dir, "heard");
    await writeFile(
      join(sb.base, "agent.mjs"),
      `
import { existsSync, readFileSync } from 'node:fs';
readFileSync(0, 'utf8');
process.stdout.write(JSON.stringify({ squadflow: 'milestone', name: 'half way' }) + '\\n');
await new Promise((r) => { const t = setInterval(() => { if (existsSync(${JSON.stringify(gate)})) { clearInterval(t); r(); } }, 20); });
console.log(JSON.stringify({ artifacts: [], summary: 'done' }));
`,
    );
    const heard: OwnerEvent[] = [];
    sb.deps.onOwnerEvent = (e) => {
      heard.push(e);
      void writeFile(gate, "");
    };
    const result = await createRunOwner(sb.deps)({
      backlogId: "shop",
      card: card(),
      attempt: 1,
      agent: { kind: "command", command: "node", args: ["./agent.mjs"], timeout_ms: 20_000, env: {} },
      workspace: "shop/SPEC-001/attempt-1",
      dependencies: [],
    });
    expect(existsSync(gate)).toBe(true);
    expect(heard).toEqual([{ kind: "milestone", name: "half way" }]);
    expect(result).toMatchObject({ summary: "done", events: [{ kind: "milestone", name: "half way" }] });
  });
});
