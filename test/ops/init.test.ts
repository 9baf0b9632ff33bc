/**
 * `squadflow init` (issue 9, "Start on your own repository"), through the real CLI in a process of its own
 * (`node bin/squadflow.mjs init`) on real temp git repositories. The child's PATH holds only `git` and,
 * where a test wants them, fake agent CLIs (tiny executable scripts named `claude`, `gemini`), so what it
 * offers as owners does not depend on the machine's own PATH.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliError } from "../../src/cli/errors.js";
import { detectTestCommands, readGitRepository, type InitResult } from "../../src/cli/init.js";

const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = join(PROJECT_ROOT, "bin", "squadflow.mjs");

let scratch: string;
/** A PATH directory holding only `git` (a symlink to the machine's). */
let tools: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "squadflow-init-"));
  tools = join(scratch, "tools");
  await mkdir(tools);
  const git = execFileSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).trim();
  await symlink(git, join(tools, "git"));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

let seq = 0;
function scratchDir(name: string): string {
  return join(scratch, `${++seq}-${name}`);
}

/** A git repository with `files`, committed, on branch `branch`. */
async function repository(files: Record<string, string>, branch = "main"): Promise<string> {
  const dir = scratchDir("repo");
  await mkdir(dir);
  const git = (...args: string[]) =>
    execFileSync("git", ["-c", "user.name=test", "-c", "user.email=test@example.com", ...args], {
      cwd: dir,
      stdio: "pipe",
    });
  git("init", "-q", "-b", branch);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  await writeFile(join(dir, ".gitkeep"), "");
  git("add", ".");
  git("commit", "-q", "-m", "initial commit");
  return dir;
}

/** A PATH directory with fake agent CLIs: executable scripts that would just exit 0. */
async function fakeAgents(...names: string[]): Promise<string> {
  const dir = scratchDir("bin");
  await mkdir(dir);
  for (const name of names) {
    await writeFile(join(dir, name), "#!/bin/sh\nexit 0\n");
    await chmod(join(dir, name), 0o755);
  }
  return dir;
}

interface Run {
  code: number;
  out: string;
  err: string;
}

/** Runs `squadflow …args` in `cwd` with PATH = `pathDirs` then the git-only tools dir (for the child only). */
function squadflow(cwd: string, pathDirs: string[], ...args: string[]): Promise<Run> {
  const env = { ...process.env, PATH: [...pathDirs, tools].join(delimiter) };
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { cwd, env }, (error, out, err) => {
      done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, out, err });
    });
  });
}

async function readJson<T = Record<string, any>>(path: string): Promise<T> {
  return JSON.parse(await readFile(path, "utf8")) as T;
}

describe("squadflow init", () => {
  it("offers the first agent CLI on PATH as owner, the others as alternatives, and the npm test script as QA", async () => {
    const repo = await repository(
      { "package.json": JSON.stringify({ name: "shop", scripts: { test: "vitest run" } }) },
      "trunk",
    );
    const bin = await fakeAgents("claude", "gemini");
    const run = await squadflow(repo, [bin], "init", "--json");
    expect(run.code, run.err).toBe(0);
    const result = JSON.parse(run.out) as InitResult;
    expect(result.owner).toMatchObject({
      name: "claude-code",
      kind: "claude-code",
      stub: false,
      path: join(bin, "claude"),
    });
    expect(result.alternatives).toEqual([{ name: "gemini", kind: "gemini", path: join(bin, "gemini") }]);
    expect(result.testCommand).toBe("npm test");
    expect(result.files).toEqual({
      backlog: join(repo, "backlog.json"),
      squad: join(repo, "squadflow.squad.json"),
      notes: join(repo, "SQUADFLOW.md"),
    });

    const squad = await readJson(result.files.squad);
    expect(squad.agents).toEqual({ "claude-code": { kind: "claude-code" }, gemini: { kind: "gemini" } });
    expect(Object.values(squad.card_types).map((t: any) => t.owner)).toEqual(["claude-code", "claude-code"]);
    expect(squad.card_types.CODE.qa.checks).toEqual([
      { name: "project tests", command: "npm", args: ["test"], timeout_ms: 300_000 },
    ]);
    expect(squad.card_types.CODE.judge.kind).toBe("rubric");
    const backlog = await readJson(result.files.backlog);
    expect(backlog.metadata).toMatchObject({ repository: ".", base_branch: "trunk" });
    const notes = await readFile(result.files.notes, "utf8");
    expect(notes).toContain('set `card_types.<TYPE>.owner` to `"gemini"`');
    expect(notes).toContain("`llm`");
  });

  it("writes a command-agent stub, clearly named, when no agent CLI is on PATH, and no QA check without a test command", async () => {
    const repo = await repository({ "README.md": "# notes\n" });
    const run = await squadflow(repo, [], "init");
    expect(run.code, run.err).toBe(0);
    const script = join(repo, "squadflow-agent.sh");
    expect(run.out).toContain(`write ${script}`);
    expect(run.out).toContain("QA: no test command detected");
    const squad = await readJson(join(repo, "squadflow.squad.json"));
    expect(squad.agents).toEqual({ "my-agent": { kind: "command", command: script, args: [], timeout_ms: 600_000 } });
    expect(squad.card_types.CODE.qa.checks).toEqual([]);
    const notes = await readFile(join(repo, "SQUADFLOW.md"), "utf8");
    expect(notes).toContain(`**write \`${script}\`**`);
    expect(notes).toContain("No test command was detected");
  });

  it.each([
    [
      "pytest",
      { "pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n', "src/app.py": "x = 1\n" },
      "pytest",
    ],
    ["go test", { "go.mod": "module example.com/app\n\ngo 1.22\n", "main.go": "package main\n" }, "go test ./..."],
  ])("detects %s as the QA check", async (_name, files, command) => {
    const repo = await repository(files);
    const run = await squadflow(repo, [], "init", "--json");
    expect(run.code, run.err).toBe(0);
    expect((JSON.parse(run.out) as InitResult).testCommand).toBe(command);
    const squad = await readJson(join(repo, "squadflow.squad.json"));
    const [cmd, ...args] = command.split(" ");
    expect(squad.card_types.CODE.qa.checks[0]).toMatchObject({ command: cmd, args });
  });

  it("refuses to overwrite an existing file without --force (exit 2, nothing written), and overwrites with --force", async () => {
    const repo = await repository({});
    const mine = '{ "my": "own backlog" }\n';
    await writeFile(join(repo, "backlog.json"), mine);
    const refused = await squadflow(repo, [], "init");
    expect(refused.code).toBe(2);
    expect(refused.err).toContain(join(repo, "backlog.json"));
    expect(refused.err).toContain("--force");
    expect(await readFile(join(repo, "backlog.json"), "utf8")).toBe(mine);
    expect(existsSync(join(repo, "squadflow.squad.json"))).toBe(false);
    expect(existsSync(join(repo, "SQUADFLOW.md"))).toBe(false);

    const forced = await squadflow(repo, [], "init", "--force", "--json");
    expect(forced.code, forced.err).toBe(0);
    expect((await readJson(join(repo, "backlog.json"))).cards.map((c: { id: string }) => c.id)).toEqual([
      "DOC-001",
      "CODE-001",
    ]);
  });

  it("refuses a directory that is not a git repository (exit 2) and writes nothing", async () => {
    const dir = scratchDir("plain");
    await mkdir(dir);
    const run = await squadflow(scratch, [], "init", "--repo", dir, "--json");
    expect(run.code).toBe(2);
    expect(JSON.parse(run.err).error.message).toContain(`${dir} is not a git repository`);
    expect(existsSync(join(dir, "backlog.json"))).toBe(false);
  });

  it("writes a backlog that passes squadflow validate, its repository relative to the backlog file (--out)", async () => {
    const repo = await repository({ Makefile: "build:\n\tcc main.c\n\ntest: build\n\t./run-tests\n" });
    const init = await squadflow(
      scratch,
      [await fakeAgents("codex")],
      "init",
      "--repo",
      repo,
      "--out",
      join(repo, "squad"),
      "--json",
    );
    expect(init.code, init.err).toBe(0);
    expect(JSON.parse(init.out)).toMatchObject({ owner: { kind: "codex" }, testCommand: "make test" });
    expect((await readJson(join(repo, "squad", "backlog.json"))).metadata.repository).toBe("..");

    const validate = await squadflow(
      join(repo, "squad"),
      [],
      "validate",
      "backlog.json",
      "--squad",
      "squadflow.squad.json",
      "--json",
    );
    expect(validate.code, validate.err).toBe(0);
    expect(JSON.parse(validate.out)).toMatchObject({ valid: true, cards: ["DOC-001", "CODE-001"] });
  });
});

describe("readGitRepository", () => {
  it("reads the work tree root and current branch from a subdirectory", async () => {
    const repo = await repository({ "src/app.txt": "x\n" }, "develop");
    expect(await readGitRepository(join(repo, "src"))).toEqual({ root: repo, branch: "develop", hasCommit: true });
  });

  it("refuses a detached HEAD (no current branch to build on) with exit 2", async () => {
    const repo = await repository({});
    execFileSync("git", ["checkout", "-q", "--detach"], { cwd: repo });
    const err = await readGitRepository(repo).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect(err).toMatchObject({ exitCode: 2, message: expect.stringContaining("HEAD is detached") });
  });
});

describe("detectTestCommands", () => {
  it.each([
    ["a package.json test script", { "package.json": '{"scripts":{"test":"jest"}}' }, ["npm test"]],
    [
      "npm init's placeholder test script",
      { "package.json": '{"scripts":{"test":"echo \\"Error: no test specified\\" && exit 1"}}' },
      [],
    ],
    ["pytest.ini", { "pytest.ini": "[pytest]\n" }, ["pytest"]],
    ["a tests/ directory with Python files", { "tests/test_app.py": "def test_x(): pass\n" }, ["pytest"]],
    ["a pyproject.toml without pytest", { "pyproject.toml": '[project]\nname = "x"\n' }, []],
    ["go.mod", { "go.mod": "module x\n" }, ["go test ./..."]],
    ["Cargo.toml", { "Cargo.toml": '[package]\nname = "x"\n' }, ["cargo test"]],
    ["pom.xml", { "pom.xml": "<project/>\n" }, ["mvn -q test"]],
    ["a Makefile test target", { Makefile: "test:\n\tgo vet\n" }, ["make test"]],
    ["a Makefile test variable only", { Makefile: "test := 1\nall:\n\ttrue\n" }, []],
    ["nothing", { "README.md": "# x\n" }, []],
    [
      "npm and make, npm first",
      { "package.json": '{"scripts":{"test":"jest"}}', Makefile: "test:\n\tnpm test\n" },
      ["npm test", "make test"],
    ],
  ])("reads %s", async (_what, files, expected) => {
    const dir = scratchDir("detect");
    for (const [path, text] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true });
      await writeFile(join(dir, path), text);
    }
    const found = await detectTestCommands(dir);
    expect(found.map((c) => [c.command, ...c.args].join(" "))).toEqual(expected);
  });
});
