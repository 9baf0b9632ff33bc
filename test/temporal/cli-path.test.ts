import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  findTemporalCli,
  PROJECT_ROOT,
  TemporalCliNotFoundError,
  temporalCliNotFoundMessage,
  toEphemeralExecutable,
} from "../../src/temporal/cli-path.js";

/** A fake world: an env-pointed binary, a PATH folder, and a project with `.temporal-cli/bin/temporal`. */
let root: string;
let envBin: string;
let pathDir: string;
let projectRoot: string;

function fakeExecutable(file: string, mode = 0o755): string {
  mkdirSync(join(file, ".."), { recursive: true });
  writeFileSync(file, "#!/bin/sh\necho fake temporal\n");
  chmodSync(file, mode);
  return file;
}

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "squadflow-cli-path-"));
  envBin = fakeExecutable(join(root, "custom", "my-temporal"));
  pathDir = join(root, "on-path");
  fakeExecutable(join(pathDir, "temporal"));
  projectRoot = join(root, "project");
  fakeExecutable(join(projectRoot, ".temporal-cli", "bin", "temporal"));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

describe("findTemporalCli", () => {
  it("prefers TEMPORAL_CLI_PATH over PATH and the project install", () => {
    const found = findTemporalCli({ env: { TEMPORAL_CLI_PATH: envBin, PATH: pathDir }, projectRoot });
    expect(found).toEqual({ source: "env", path: envBin });
  });

  it("uses `temporal` on PATH when TEMPORAL_CLI_PATH is unset or empty", () => {
    const path = [join(root, "nothing-here"), pathDir].join(delimiter);
    expect(findTemporalCli({ env: { PATH: path }, projectRoot })).toEqual({
      source: "path",
      path: join(pathDir, "temporal"),
    });
    expect(findTemporalCli({ env: { TEMPORAL_CLI_PATH: "", PATH: path }, projectRoot }).source).toBe("path");
  });

  it("skips a non-executable `temporal` on PATH", () => {
    const badDir = join(root, "not-executable");
    fakeExecutable(join(badDir, "temporal"), 0o644);
    expect(findTemporalCli({ env: { PATH: [badDir, pathDir].join(delimiter) }, projectRoot }).path).toBe(
      join(pathDir, "temporal"),
    );
  });

  it("falls back to the project install in .temporal-cli/bin", () => {
    expect(findTemporalCli({ env: { PATH: join(root, "empty") }, projectRoot })).toEqual({
      source: "project",
      path: join(projectRoot, ".temporal-cli", "bin", "temporal"),
    });
  });

  it("falls back to the SDK download when no binary is found anywhere", () => {
    const found = findTemporalCli({ env: { PATH: join(root, "empty") }, projectRoot: join(root, "bare") });
    expect(found).toEqual({ source: "sdk-download" });
    expect(toEphemeralExecutable(found)).toEqual({ type: "cached-download" });
  });

  it("rejects a TEMPORAL_CLI_PATH that does not exist, naming the variable", () => {
    const missing = join(root, "missing", "temporal");
    const find = () => findTemporalCli({ env: { TEMPORAL_CLI_PATH: missing, PATH: pathDir }, projectRoot });
    expect(find).toThrow(TemporalCliNotFoundError);
    expect(find).toThrow(`TEMPORAL_CLI_PATH=${missing} does not exist`);
  });

  it("rejects a TEMPORAL_CLI_PATH that is not executable or is a folder", () => {
    const plain = fakeExecutable(join(root, "plain", "temporal"), 0o644);
    expect(() => findTemporalCli({ env: { TEMPORAL_CLI_PATH: plain }, projectRoot })).toThrow(
      /TEMPORAL_CLI_PATH=.* is not an executable file/,
    );
    expect(() => findTemporalCli({ env: { TEMPORAL_CLI_PATH: root }, projectRoot })).toThrow(TemporalCliNotFoundError);
  });

  it("derives the project root from its own location (the squadflow package)", () => {
    expect(PROJECT_ROOT).toBe(resolve(dirname(fileURLToPath(import.meta.url)), "..", ".."));
  });
});

describe("toEphemeralExecutable", () => {
  it("maps a local binary to an existing-path executable", () => {
    expect(toEphemeralExecutable({ source: "project", path: "/opt/temporal" })).toEqual({
      type: "existing-path",
      path: "/opt/temporal",
    });
  });
});

describe("temporalCliNotFoundMessage", () => {
  it("tells how to install: the setup script, TEMPORAL_CLI_PATH, or a system install", () => {
    const message = temporalCliNotFoundMessage("offline.");
    expect(message).toContain("Temporal CLI not found: offline.");
    expect(message).toContain("npm run setup:temporal");
    expect(message).toContain("TEMPORAL_CLI_PATH");
  });
});
