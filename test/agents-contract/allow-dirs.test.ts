/**
 * `permissions.allow_dirs` against the real CLIs: a directory outside the attempt workspace listed by the
 * card type's policy (`OwnerInput.allowDirs`) is passed to every run (Claude Code and Codex `--add-dir`,
 * Gemini `--include-directories`), and the agent's write there goes through.
 */
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { contract, type Contract, type ContractKind } from "./harness.js";

let c: Contract | undefined;
let shared: string | undefined;
afterEach(async () => {
  await c?.close();
  c = undefined;
  if (shared) await rm(shared, { recursive: true, force: true });
  shared = undefined;
});

const KINDS: ContractKind[] = ["claude-code", "gemini", "codex"];

describe.each(KINDS)("%s with permissions.allow_dirs", (kind) => {
  it("writes into the allowed directory outside its workspace", async () => {
    const name = `shared-${kind}-${process.pid}`;
    const steps = [
      { kind: "write" as const, path: `../${name}/notes.md`, content: "# Notes\n\nShared across cards.\n" },
      { kind: "answer" as const, text: "Wrote the shared notes." },
    ];
    c = await contract(kind, steps);
    shared = join(dirname(c.workspace), name);
    await mkdir(shared, { recursive: true });
    const result = await c.run({ allowDirs: [shared] });
    expect(result.summary).toContain("Wrote the shared notes.");
    expect(await readFile(join(shared, "notes.md"), "utf8")).toContain("Shared across cards.");
  });
});

// Without the policy the same write does not happen: Claude Code denies it (a permission blocker naming
// Write); Gemini CLI refuses the path and the model answers anyway. (Codex 0.171.0 applies its in-process
// apply_patch outside the workspace even under workspace-write: its --add-dir matters for the sandboxed
// shell commands, so it has no case here.)
describe.each(["claude-code", "gemini"] as const)("%s without permissions.allow_dirs", (kind) => {
  it("does not write outside its workspace", async () => {
    const name = `shared-${kind}-${process.pid}`;
    c = await contract(kind, [
      { kind: "write", path: `../${name}/notes.md`, content: "# Notes\n" },
      { kind: "answer", text: "Wrote the shared notes." },
    ]);
    shared = join(dirname(c.workspace), name);
    await mkdir(shared, { recursive: true });
    const outcome = await c.run().then(
      () => undefined,
      (e: { type?: string; details?: { deniedTools?: string[] }[] }) => e,
    );
    if (kind === "claude-code")
      expect(outcome).toMatchObject({ type: "AgentPermissionError", details: [{ deniedTools: ["Write"] }] });
    expect(await stat(join(shared, "notes.md")).catch(() => undefined)).toBeUndefined();
  });
});
