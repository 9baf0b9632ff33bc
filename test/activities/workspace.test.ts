import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ApplicationFailure } from "@temporalio/common";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { prepareAttemptWorkspace, resolveWorkspace } from "../../src/activities/workspace.js";
import { rejectionOf, sandbox, type Sandbox } from "./helpers.js";

let sb: Sandbox;
beforeEach(async () => {
  sb = await sandbox();
});
afterEach(async () => {
  await sb.cleanup();
});

describe("resolveWorkspace", () => {
  it("resolves a relative workspace under the root", () => {
    expect(resolveWorkspace("/srv/ws", "shop/SPEC-001/attempt-1")).toBe("/srv/ws/shop/SPEC-001/attempt-1");
  });

  it.each([
    ["../outside", '".." segments'],
    ["shop/../../etc", '".." segments'],
    ["/etc/passwd", "not absolute"],
    ["", "empty"],
    [".", "below the workspaces root"],
  ])("refuses the escaping workspace %j with a non-retryable WorkspaceError", (ws, text) => {
    let err: unknown;
    try {
      resolveWorkspace("/srv/ws", ws);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: "WorkspaceError", nonRetryable: true });
    expect((err as Error).message).toContain(text);
  });
});

describe("prepareAttemptWorkspace", () => {
  it("creates an empty attempt workspace for a first attempt", async () => {
    const dir = await prepareAttemptWorkspace(sb.root, "b/C-1/attempt-1");
    expect(dir).toBe(join(sb.root, "b/C-1/attempt-1"));
    expect(existsSync(dir)).toBe(true);
  });

  it("removes what a failed run of the same attempt left, so a retry starts clean", async () => {
    await sb.writeIn("b/C-1/attempt-1", "stale.txt", "from the failed run");
    const dir = await prepareAttemptWorkspace(sb.root, "b/C-1/attempt-1");
    expect(existsSync(join(dir, "stale.txt"))).toBe(false);
  });

  it("copies the previous attempt into a correction, replacing stale files of a failed run", async () => {
    await sb.writeIn("b/C-1/attempt-1", "docs/spec.md", "# Spec v1");
    await sb.writeIn("b/C-1/attempt-2", "stale.txt", "from the failed run");
    const dir = await prepareAttemptWorkspace(sb.root, "b/C-1/attempt-2", "b/C-1/attempt-1");
    expect(await readFile(join(dir, "docs/spec.md"), "utf8")).toBe("# Spec v1");
    expect(existsSync(join(dir, "stale.txt"))).toBe(false);
    // The previous attempt stays as it was (it is history).
    expect(await readFile(join(sb.root, "b/C-1/attempt-1/docs/spec.md"), "utf8")).toBe("# Spec v1");
  });

  it("fails with a retryable WorkspaceNotFoundError when the previous workspace is missing", async () => {
    const err = await rejectionOf(prepareAttemptWorkspace(sb.root, "b/C-1/attempt-2", "b/C-1/attempt-1"));
    expect(err).toMatchObject({ type: "WorkspaceNotFoundError", nonRetryable: false });
  });

  it("refuses a previous workspace that contains the new one", async () => {
    const err = await rejectionOf(prepareAttemptWorkspace(sb.root, "b/C-1/attempt-2", "b/C-1"));
    expect(err).toMatchObject({ type: "WorkspaceError" });
  });
});
