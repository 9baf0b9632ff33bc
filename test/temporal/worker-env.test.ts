import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_MAX_CACHED_WORKFLOWS,
  DEFAULT_WORKSPACES_ROOT,
  maxCachedWorkflowsFromEnv,
  parseQueueKinds,
  workspacesRootFromEnv,
} from "../../src/worker.js";

describe("worker settings from the environment", () => {
  it("SQUADFLOW_WORKSPACES moves the workspaces root (resolved), else state/workspaces", () => {
    expect(workspacesRootFromEnv({})).toBe(DEFAULT_WORKSPACES_ROOT);
    expect(workspacesRootFromEnv({ SQUADFLOW_WORKSPACES: "  " })).toBe(DEFAULT_WORKSPACES_ROOT);
    expect(workspacesRootFromEnv({ SQUADFLOW_WORKSPACES: "/srv/squadflow/ws" })).toBe("/srv/squadflow/ws");
    expect(workspacesRootFromEnv({ SQUADFLOW_WORKSPACES: "ws" })).toBe(resolve("ws"));
  });

  it("SQUADFLOW_MAX_CACHED_WORKFLOWS caps the workflow cache; anything but a positive integer is refused", () => {
    expect(maxCachedWorkflowsFromEnv({})).toBe(DEFAULT_MAX_CACHED_WORKFLOWS);
    expect(maxCachedWorkflowsFromEnv({ SQUADFLOW_MAX_CACHED_WORKFLOWS: "250" })).toBe(250);
    for (const bad of ["0", "-3", "1.5", "lots"]) {
      expect(() => maxCachedWorkflowsFromEnv({ SQUADFLOW_MAX_CACHED_WORKFLOWS: bad })).toThrow(
        `SQUADFLOW_MAX_CACHED_WORKFLOWS must be a positive integer, got "${bad}"`,
      );
    }
  });

  it("--queues names known queue kinds only", () => {
    expect(parseQueueKinds("owners, validation")).toEqual(["owners", "validation"]);
    expect(() => parseQueueKinds("owners,gpu")).toThrow('unknown queue "gpu"');
  });
});
