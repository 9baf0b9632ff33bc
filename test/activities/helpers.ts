/**
 * Shared helpers of the activity tests: real temp directories, real scripts run with this Node binary,
 * and process-liveness checks.
 */
import { mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { ActivityDeps } from "../../src/activities/context.js";
import type { CardSpec } from "../../src/domain/attempt.js";

/** A temp directory with a workspaces root and a project (base) dir inside; `cleanup` removes it. */
export interface Sandbox {
  dir: string;
  root: string;
  base: string;
  deps: ActivityDeps;
  /** Writes a file under `dir`-relative path `rel` (parents created); returns its absolute path. */
  write(rel: string, content: string): Promise<string>;
  /** Writes a workspace file: `<root>/<workspace>/<rel>`. */
  writeIn(workspace: string, rel: string, content: string): Promise<string>;
  cleanup(): Promise<void>;
}

/** Creates a sandbox; deps use fast heartbeats, a short kill grace and a fixed clock. */
export async function sandbox(overrides: Partial<ActivityDeps> = {}): Promise<Sandbox> {
  const dir = await mkdtemp(join(tmpdir(), "squadflow-act-"));
  const root = join(dir, "workspaces");
  const base = join(dir, "project");
  await mkdir(root, { recursive: true });
  await mkdir(base, { recursive: true });
  const write = async (rel: string, content: string): Promise<string> => {
    const p = join(dir, rel);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, content);
    return p;
  };
  return {
    dir,
    root,
    base,
    deps: {
      workspacesRoot: root,
      baseDir: base,
      now: () => new Date("2025-01-02T03:04:05.000Z"),
      heartbeatIntervalMs: 50,
      killGraceMs: 300,
      ...overrides,
    },
    write,
    writeIn: (workspace, rel, content) => write(join("workspaces", workspace, rel), content),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * True once a process no longer runs: `process.kill(pid, 0)` throws ESRCH, or the process is a zombie
 * (state `Z`: dead, merely not yet reaped — some container inits never reap re-parented orphans).
 */
export async function isGone(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  // Format: "pid (comm) S …"; comm may contain spaces, so read the state after the last ")".
  return stat === "" || stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
}

/** Waits until `pid` is gone or `ms` pass; returns whether it is gone. */
export async function waitGone(pid: number, ms = 2_000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await isGone(pid)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return isGone(pid);
}

/** Waits until a file exists and is non-empty, returns its content. */
export async function waitForFile(path: string, ms = 5_000): Promise<string> {
  const until = Date.now() + ms;
  for (;;) {
    const text = await readFile(path, "utf8").catch(() => "");
    if (text.trim() !== "") return text;
    if (Date.now() > until) throw new Error(`${path} did not appear within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A card for tests. */
export function card(overrides: Partial<CardSpec> = {}): CardSpec {
  return {
    id: "SPEC-001",
    type: "SPEC",
    title: "Write the spec",
    description: "The checkout spec",
    priority: "HIGH",
    dependencies: ["ARQ-001"],
    acceptanceCriteria: ["Has a rollback plan"],
    ...overrides,
  };
}

/** Rejection of a promise, for asserting on thrown errors' fields. */
export async function rejectionOf(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error("expected the promise to reject");
}
