/**
 * Helpers of the plan tests: a small squad (command agent, rubric judge) whose card types BACKEND, FRONTEND
 * and QA the plans' roles map to, and temp folders.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A squad config value: one command agent `writer` owning BACKEND, FRONTEND and QA, `ui` mapped to FRONTEND. */
export function planSquad(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const judge = { kind: "rubric", criteria: [{ name: "has intro", check: { type: "section", heading: "Intro" } }] };
  return {
    agents: { writer: { kind: "command", command: "node", args: ["./agent.mjs"] } },
    card_types: {
      BACKEND: { owner: "writer", judge },
      FRONTEND: { owner: "writer", judge },
      QA: { owner: "writer", judge },
    },
    roles: { ui: "FRONTEND" },
    ...extra,
  };
}

/** A temp folder for one test file; `write` puts a file in it and returns its path. */
export async function scratch(
  prefix: string,
): Promise<{ dir: string; write(name: string, text: string): Promise<string>; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `squadflow-${prefix}-`));
  return {
    dir,
    async write(name, text) {
      const path = join(dir, name);
      await writeFile(path, text);
      return path;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
