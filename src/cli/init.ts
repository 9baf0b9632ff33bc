/**
 * `squadflow init [--repo PATH] [--out DIR] [--force] [--json]` (issue 9, "Start on your own repository"):
 * writes a starter squad config (`squadflow.squad.json`), a small backlog (`backlog.json`) targeting the
 * repository, and `SQUADFLOW.md`, the notes saying what to change. The owner is the first agent CLI found
 * on PATH (`claude`, `codex`, `gemini`; the others are configured as alternatives), the QA check is the
 * project's own test command, the judge is the offline `rubric`. The files are validated exactly as
 * `squadflow validate` does before success is reported, and no file is ever overwritten without `--force`.
 *
 * The notes live in SQUADFLOW.md, not in the JSON: the loader reads JSON only, and the squad schema
 * drops unknown keys of its objects while its `agents` and `card_types` records would read a `"//"` key as
 * an agent or card type, so comments could not sit where they belong.
 */
import { execFile } from "node:child_process";
import { constants } from "node:fs";
import { access, lstat, mkdir, readFile, readdir, stat, writeFile } from "node:fs/promises";
import { basename, delimiter, join, relative, resolve } from "node:path";
import { promisify } from "node:util";
import type { Command } from "commander";
import { BACKLOG_ID_PATTERN, DEFAULT_PASS_SCORE, planBacklog, type AgentKind } from "../domain/index.js";
import { CliError } from "./errors.js";
import { loadBacklog } from "./load.js";

const run = promisify(execFile);

/** File names `init` writes, in the output directory. */
export const INIT_FILES = { backlog: "backlog.json", squad: "squadflow.squad.json", notes: "SQUADFLOW.md" } as const;

/** Hard limit of the stub `command` agent, ms (10 min, the kind's default). */
const STUB_AGENT_TIMEOUT_MS = 600_000;
/** Limit of the detected test command as a QA check, ms (5 min, the schema's default; validation activities time out after 15). */
const QA_TIMEOUT_MS = 300_000;

/** The coding-agent CLIs `init` looks for on PATH, in order of preference, with their agent kind. */
export const AGENT_CLIS: readonly { binary: string; kind: Extract<AgentKind, "claude-code" | "codex" | "gemini"> }[] = [
  { binary: "claude", kind: "claude-code" },
  { binary: "codex", kind: "codex" },
  { binary: "gemini", kind: "gemini" },
];

/** The API-key variable each CLI reads, for the notes (a login needs none). */
const API_KEY_ENV: Partial<Record<AgentKind, string>> = {
  "claude-code": "ANTHROPIC_API_KEY",
  codex: "OPENAI_API_KEY",
  gemini: "GEMINI_API_KEY",
};

/** An agent CLI found on PATH: its kind, binary name and where it was found. */
export interface FoundAgent {
  kind: (typeof AGENT_CLIS)[number]["kind"];
  binary: string;
  path: string;
}

async function isExecutableFile(path: string): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false;
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The agent CLIs (`claude` → `claude-code`, `codex`, `gemini`) found as executable files in the directories
 * of `pathEnv` (a PATH value), in the order of {@link AGENT_CLIS}; each at its first PATH match.
 */
export async function findAgentClis(pathEnv: string = process.env.PATH ?? ""): Promise<FoundAgent[]> {
  const dirs = pathEnv.split(delimiter).filter((d) => d !== "");
  const found: FoundAgent[] = [];
  for (const cli of AGENT_CLIS) {
    for (const dir of dirs) {
      const path = join(resolve(dir), cli.binary);
      if (await isExecutableFile(path)) {
        found.push({ ...cli, path });
        break;
      }
    }
  }
  return found;
}

/** The project's test command as detected: a QA check's `command` and `args`, and the file that told. */
export interface TestCommand {
  command: string;
  args: string[];
  /** The file (or directory) it was detected from, relative to the repository root. */
  source: string;
}

async function readIfFile(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
  }
}

/** npm's placeholder test script (`npm init`): no tests, so not a test command. */
const NPM_PLACEHOLDER_TEST = /no test specified/;

async function hasPythonFiles(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).some((name) => name.endsWith(".py"));
  } catch {
    return false;
  }
}

/**
 * Every test command the repository at `root` declares, most specific first (the first is the one `init`
 * uses): package.json `test` script → `npm test`; pytest (pytest.ini, or pyproject.toml / setup.cfg /
 * tox.ini mentioning pytest, or a tests/ or test/ directory with Python files) → `pytest`; go.mod →
 * `go test ./...`; Cargo.toml → `cargo test`; pom.xml → `mvn -q test`; a Makefile `test` target →
 * `make test`. Empty when none is found. Reads files only; runs nothing.
 */
export async function detectTestCommands(root: string): Promise<TestCommand[]> {
  const found: TestCommand[] = [];
  const text = (name: string) => readIfFile(join(root, name));

  const pkg = await text("package.json");
  if (pkg !== undefined) {
    try {
      const script = (JSON.parse(pkg) as { scripts?: { test?: unknown } }).scripts?.test;
      if (typeof script === "string" && script.trim() !== "" && !NPM_PLACEHOLDER_TEST.test(script)) {
        found.push({ command: "npm", args: ["test"], source: "package.json" });
      }
    } catch {
      // An unparsable package.json declares nothing we can rely on.
    }
  }

  let pytest: string | undefined;
  if ((await text("pytest.ini")) !== undefined) pytest = "pytest.ini";
  for (const name of ["pyproject.toml", "setup.cfg", "tox.ini"]) {
    if (pytest) break;
    if (/pytest/.test((await text(name)) ?? "")) pytest = name;
  }
  for (const dir of ["tests", "test"]) {
    if (pytest) break;
    if (await hasPythonFiles(join(root, dir))) pytest = `${dir}/`;
  }
  if (pytest) found.push({ command: "pytest", args: [], source: pytest });

  if ((await text("go.mod")) !== undefined) found.push({ command: "go", args: ["test", "./..."], source: "go.mod" });
  if ((await text("Cargo.toml")) !== undefined) found.push({ command: "cargo", args: ["test"], source: "Cargo.toml" });
  if ((await text("pom.xml")) !== undefined) found.push({ command: "mvn", args: ["-q", "test"], source: "pom.xml" });

  for (const name of ["GNUmakefile", "makefile", "Makefile"]) {
    // `test:` as a rule (not `test := …`, a variable).
    if (/^test\s*:(?!=)/m.test((await text(name)) ?? "")) {
      found.push({ command: "make", args: ["test"], source: name });
      break;
    }
  }
  return found;
}

/** A test command as one shell-like line (`go test ./...`). */
export function commandLine(c: { command: string; args: readonly string[] }): string {
  return [c.command, ...c.args].join(" ");
}

/** The git facts `init` needs: the work tree's root, its current branch, and whether it has a commit yet. */
export interface GitRepository {
  root: string;
  branch: string;
  hasCommit: boolean;
}

async function git(cwd: string, args: string[]): Promise<string | undefined> {
  try {
    return (await run("git", args, { cwd })).stdout.trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" && (err as { path?: string }).path === "git") {
      throw new CliError("git not found on PATH: squadflow init needs git to read the repository");
    }
    return undefined;
  }
}

/**
 * Reads the git work tree containing `dir` (its top level, even when `dir` is a subdirectory).
 * @throws CliError (exit 2) when `dir` does not exist, is not inside a git work tree (bare repositories
 *   included), or HEAD is detached (there is no current branch to build on).
 */
export async function readGitRepository(dir: string): Promise<GitRepository> {
  const isDir = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) throw new CliError(`${dir} is not a directory`);
  const root = await git(dir, ["rev-parse", "--show-toplevel"]);
  if (!root) {
    throw new CliError(
      `${dir} is not a git repository (or not a work tree): run "git init" there first, or pass --repo PATH`,
    );
  }
  const branch = await git(root, ["symbolic-ref", "--short", "-q", "HEAD"]);
  if (!branch) {
    throw new CliError(
      `${root}: HEAD is detached, so there is no current branch to build on: check out a branch first`,
    );
  }
  const hasCommit = (await git(root, ["rev-parse", "--verify", "-q", "HEAD"])) !== undefined;
  return { root, branch, hasCommit };
}

/** A backlog id made of the repository's directory name (`my-app`), or `backlog`. */
function backlogIdFor(root: string): string {
  const id = basename(root)
    .replace(/[^A-Za-z0-9._-]/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, 100);
  return BACKLOG_ID_PATTERN.test(id) ? id : "backlog";
}

/** A rubric regex that finds a test in the changed files, in the conventions of the detected test command. */
function testPattern(test: TestCommand | undefined): string {
  switch (test?.command) {
    case "npm":
      return String.raw`\b(it|test|describe)\s*\(`;
    case "pytest":
      return String.raw`^\s*(async\s+)?def test_`;
    case "go":
      return String.raw`^func Test\w*\(`;
    case "cargo":
      return String.raw`#\[(\w+::)?test\]`;
    case "mvn":
      return String.raw`@Test\b`;
    default:
      return String.raw`[Tt]est`;
  }
}

/** The owner agents of the starter squad: the agent CLIs found, or a `command` stub. */
interface Owners {
  agents: Record<string, Record<string, unknown>>;
  /** The agent the card types use. */
  chosen: { name: string; kind: AgentKind; stub: boolean; path?: string };
  /** Configured too, unused: names to put in `card_types.<T>.owner` instead. */
  alternatives: { name: string; kind: AgentKind; path: string }[];
}

function owners(found: FoundAgent[], root: string): Owners {
  if (found.length === 0) {
    const script = join(root, "squadflow-agent.sh");
    return {
      agents: { "my-agent": { kind: "command", command: script, args: [], timeout_ms: STUB_AGENT_TIMEOUT_MS } },
      chosen: { name: "my-agent", kind: "command", stub: true, path: script },
      alternatives: [],
    };
  }
  const agents: Owners["agents"] = {};
  for (const a of found) agents[a.kind] = { kind: a.kind };
  const [first, ...rest] = found;
  return {
    agents,
    chosen: { name: first!.kind, kind: first!.kind, stub: false, path: first!.path },
    alternatives: rest.map((a) => ({ name: a.kind, kind: a.kind, path: a.path })),
  };
}

/** Path of the overview document the DOC-001 card writes. */
const OVERVIEW = "docs/OVERVIEW.md";
const OVERVIEW_SECTIONS = ["Purpose", "Layout", "Tests"] as const;

/** The starter squad config (the `--squad` file). */
function squadConfig(o: Owners, test: TestCommand | undefined): Record<string, unknown> {
  const qa = test
    ? { checks: [{ name: "project tests", command: test.command, args: test.args, timeout_ms: QA_TIMEOUT_MS }] }
    : { checks: [] };
  return {
    agents: o.agents,
    card_types: {
      DOCS: {
        owner: o.chosen.name,
        verification: { required_evidence: [OVERVIEW] },
        judge: {
          kind: "rubric",
          pass_score: DEFAULT_PASS_SCORE,
          criteria: OVERVIEW_SECTIONS.map((heading) => ({
            name: heading,
            check: { type: "section", heading, file: OVERVIEW },
          })),
        },
      },
      CODE: {
        owner: o.chosen.name,
        judge: {
          kind: "rubric",
          pass_score: DEFAULT_PASS_SCORE,
          criteria: [{ name: "Adds a test", check: { type: "regex", pattern: testPattern(test) } }],
        },
        qa,
      },
    },
    cost_alert_usd: 1.0,
  };
}

/** The starter backlog: an overview document, then one test for untested behaviour, built on it. */
function backlogFile(
  backlogId: string,
  repository: string,
  branch: string,
  test: TestCommand | undefined,
): Record<string, unknown> {
  const runTests = test ? `\`${commandLine(test)}\`` : "the project's test command";
  return {
    metadata: { backlog_id: backlogId, project: backlogId, repository, base_branch: branch },
    cards: [
      {
        id: "DOC-001",
        type: "DOCS",
        title: "An overview of the repository for new contributors",
        description:
          `Write ${OVERVIEW}: what this project does, how the repository is laid out, and how to run its tests ` +
          `(${runTests}). Read the code; describe what is there, not what should be.`,
        status: "TODO",
        priority: "HIGH",
        dependencies: [],
        acceptance_criteria: [
          `${OVERVIEW} has a section "Purpose": what the project does and for whom`,
          `${OVERVIEW} has a section "Layout": the main directories and what each holds`,
          `${OVERVIEW} has a section "Tests": how to run the tests (${runTests})`,
        ],
      },
      {
        id: "CODE-001",
        type: "CODE",
        title: "A test for behaviour that has none",
        description:
          "Find one function or module without a test and add a focused test for it, in the project's own test " +
          "conventions. Change production code only if the test reveals a bug, and say so.",
        status: "TODO",
        priority: "MEDIUM",
        dependencies: ["DOC-001"],
        acceptance_criteria: [
          "Adds at least one test, in the project's test conventions",
          `The project's tests pass (${runTests})`,
        ],
      },
    ],
  };
}

/** What `init` found and wrote (the `--json` document). */
export interface InitResult {
  repository: string;
  baseBranch: string;
  backlogId: string;
  /** Absolute paths of the files written. */
  files: { backlog: string; squad: string; notes: string };
  owner: { name: string; kind: AgentKind; stub: boolean; path?: string };
  alternatives: { name: string; kind: AgentKind; path: string }[];
  /** The QA check's command line (`npm test`), or null when none was detected. */
  testCommand: string | null;
  /** Where the test command was detected (`package.json`), or null. */
  testCommandSource: string | null;
  /** Other test commands found, unused. */
  otherTestCommands: string[];
  /** `squadflow validate` on the written files: always true when `init` succeeds. */
  valid: true;
  /** The command that starts the backlog on a dev server, from the output directory. */
  startCommand: string;
}

/** Options of {@link initRepository}. */
export interface InitOptions {
  /** The repository (any directory in its work tree); default: the current directory. */
  repo?: string;
  /** Where to write the files; default: the repository's root. */
  out?: string;
  /** Overwrite existing files. */
  force?: boolean;
  /** PATH to look for agent CLIs in; default: `process.env.PATH`. */
  pathEnv?: string;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Writes the starter backlog, squad config and notes for a git repository, then validates them as
 * `squadflow validate` does.
 * @throws CliError (exit 2) when the directory is not a git work tree, HEAD is detached, or (without
 *   `force`) any of the files exists — then nothing is written; BacklogValidationError when the written
 *   files do not validate.
 */
export async function initRepository(opts: InitOptions = {}): Promise<InitResult> {
  const repo = await readGitRepository(resolve(opts.repo ?? "."));
  const outDir = resolve(opts.out ?? repo.root);
  const files = {
    backlog: join(outDir, INIT_FILES.backlog),
    squad: join(outDir, INIT_FILES.squad),
    notes: join(outDir, INIT_FILES.notes),
  };
  if (!opts.force) {
    const present: string[] = [];
    for (const f of Object.values(files)) if (await exists(f)) present.push(f);
    if (present.length > 0) {
      throw new CliError(`refusing to overwrite ${present.join(", ")} (use --force); nothing was written`);
    }
  }

  const [found, tests] = await Promise.all([
    findAgentClis(opts.pathEnv ?? process.env.PATH ?? ""),
    detectTestCommands(repo.root),
  ]);
  const test = tests[0];
  const o = owners(found, repo.root);
  const backlogId = backlogIdFor(repo.root);
  const repository = relative(outDir, repo.root) || ".";
  const backlogText = JSON.stringify(backlogFile(backlogId, repository, repo.branch, test), null, 2) + "\n";
  const squadText = JSON.stringify(squadConfig(o, test), null, 2) + "\n";
  // Checked before anything is written, so an invalid starter never lands in the repository.
  planBacklog(backlogText, { file: files.backlog, squad: { file: files.squad, text: squadText } });

  const startCommand = `npx squadflow dev --start ${INIT_FILES.backlog} --squad ${INIT_FILES.squad}`;
  const result: InitResult = {
    repository: repo.root,
    baseBranch: repo.branch,
    backlogId,
    files,
    owner: o.chosen,
    alternatives: o.alternatives,
    testCommand: test ? commandLine(test) : null,
    testCommandSource: test?.source ?? null,
    otherTestCommands: tests.slice(1).map(commandLine),
    valid: true,
    startCommand,
  };
  const flag = opts.force ? "w" : "wx";
  await mkdir(outDir, { recursive: true });
  await writeFile(files.squad, squadText, { flag });
  await writeFile(files.backlog, backlogText, { flag });
  await writeFile(files.notes, notes(result, repo, repository), { flag });
  // Exactly what `squadflow validate backlog.json --squad squadflow.squad.json` runs, on the files as written.
  await loadBacklog(files.backlog, { squad: files.squad });
  return result;
}

/** SQUADFLOW.md: what was generated, how to run it, and what to change. */
function notes(r: InitResult, repo: GitRepository, repository: string): string {
  const { backlog: b, squad: s } = INIT_FILES;
  const lines: string[] = [
    `# squadflow starter for ${r.backlogId}`,
    "",
    `Written by \`squadflow init\`. The squad works in git worktrees of this repository, starting from branch`,
    `\`${r.baseBranch}\`, and merges the approved cards into the integration branch \`squadflow/${r.backlogId}\`;`,
    `\`${r.baseBranch}\` itself is never changed. Edit the files, then:`,
    "",
    "```sh",
    `npx squadflow validate ${b} --squad ${s}`,
    r.startCommand + "   # or: squadflow start … against a running server",
    `git log --graph squadflow/${r.backlogId}                # what the squad delivered`,
    "```",
    "",
    "Commit these files if you want them versioned with the project: the worktrees are made from commits, so",
    "uncommitted changes of your checkout are not part of the squad's work.",
    "",
    ...(repo.hasCommit
      ? []
      : [
          `**The repository has no commit yet:** commit first; the integration branch starts from \`${r.baseBranch}\`.`,
          "",
        ]),
    `## The cards (\`${b}\`)`,
    "",
    "- `DOC-001` (type `DOCS`) writes `docs/OVERVIEW.md`; `CODE-001` (type `CODE`) adds a test and depends on it.",
    "  Replace them with your own work: `id`, `type` (a key of `card_types`), `title`, `description`,",
    "  `priority` (CRITICAL, HIGH, MEDIUM, LOW), `dependencies`, `acceptance_criteria`. See docs/backlog-format.md.",
    `- \`metadata.repository\` is \`"${repository}"\`: this repository, relative to \`${b}\`.`,
    `  \`metadata.base_branch\` (\`${r.baseBranch}\`, the branch checked out at init) is the branch the squad builds on.`,
    "",
    `## The owner agent (\`${s}\`, \`agents\`)`,
    "",
  ];
  if (r.owner.stub) {
    lines.push(
      "- No agent CLI (`claude`, `codex`, `gemini`) was found on PATH, so both card types use the `command` agent",
      `  \`my-agent\`, a stub: **write \`${r.owner.path}\`** (executable). It gets the card as JSON on stdin and`,
      '  answers JSON on stdout — docs/agents.md "The `command` agent protocol". Or install a coding-agent CLI',
      "  (`npm install -g @anthropic-ai/claude-code`, `@openai/codex`, `@google/gemini-cli`) and run",
      "  `squadflow init --force` again.",
    );
  } else {
    lines.push(
      `- \`${r.owner.name}\` (kind \`${r.owner.kind}\`, found at \`${r.owner.path}\`) owns both card types.`,
      '  The worker must find it on its own PATH; otherwise set `"binary"` to its path.',
    );
    for (const a of r.alternatives) {
      lines.push(
        `- Alternative: \`${a.name}\` (kind \`${a.kind}\`, found at \`${a.path}\`) is configured but unused:`,
        `  set \`card_types.<TYPE>.owner\` to \`"${a.name}"\` to use it.`,
      );
    }
    lines.push(
      "- Signed in with an API key rather than a login? Pass it through by name, never as a value:",
      `  \`"env": ["${API_KEY_ENV[r.owner.kind] ?? "ANTHROPIC_API_KEY"}"]\`, the variable set in the worker's environment.`,
      '- Other fields: `model`, `max_turns` (claude-code), `timeout_ms`, `extra_args` — docs/agents.md "Agent kinds".',
    );
  }
  lines.push("", "## QA (`card_types.CODE.qa.checks`)", "");
  if (r.testCommand) {
    lines.push(
      `- \`${r.testCommand}\` (detected from \`${r.testCommandSource}\`) runs in the attempt's worktree; a non-zero exit rejects the card.`,
      `  Limit: ${QA_TIMEOUT_MS / 60_000} min (\`timeout_ms\`). Add linters or type checks as more checks.`,
    );
    if (r.otherTestCommands.length > 0)
      lines.push(`- Also found, unused: ${r.otherTestCommands.map((c) => `\`${c}\``).join(", ")}.`);
  } else {
    lines.push(
      "- No test command was detected (package.json `test` script, pytest, go.mod, Cargo.toml, pom.xml, a Makefile",
      "  `test` target), so there are no QA checks: add one, e.g.",
      '  `{ "name": "tests", "command": "make", "args": ["check"], "timeout_ms": 300000 }`.',
    );
  }
  lines.push(
    "",
    "## The judge (`card_types.<TYPE>.judge`)",
    "",
    "- `rubric`: offline and deterministic; scores 0–10 from weighted checks of the changed files,",
    `  passes at ${DEFAULT_PASS_SCORE.toFixed(1)}.` +
      " `DOCS` checks the three sections of `docs/OVERVIEW.md`; `CODE` looks for a test in the change. Make the",
    "  criteria match your cards' acceptance criteria (`section`, `regex`, `contains`, `command` checks).",
    "- `llm`: a model scores the change against criteria written in prose; it needs an API key in the worker's",
    "  environment. For example:",
    '  `{ "kind": "llm", "provider": "anthropic", "model": "…", "criteria": [{ "name": "Tests", "description": "…" }] }`.',
    '  See docs/agents.md "Agent kinds" (LLM-judge).',
    "",
  );
  return lines.join("\n");
}

/** The text output of `init`: what was written and found, and what to do next. */
export function renderInit(r: InitResult): string {
  const owner = r.owner.stub
    ? `owner: none found on PATH (claude, codex, gemini) — a command-agent stub; write ${r.owner.path}`
    : `owner: ${r.owner.name} (${r.owner.path})` +
      (r.alternatives.length ? `; alternatives configured: ${r.alternatives.map((a) => a.name).join(", ")}` : "");
  const qa = r.testCommand
    ? `QA: ${r.testCommand} (from ${r.testCommandSource})`
    : "QA: no test command detected — add a check";
  return [
    `Wrote ${Object.values(r.files).join(", ")}`,
    `  repository ${r.repository}, base branch ${r.baseBranch}, backlog ${r.backlogId}: valid`,
    `  ${owner}`,
    `  ${qa}`,
    "  judge: rubric (offline); llm is the alternative",
    `What to change: ${r.files.notes}. Then: ${r.startCommand}`,
  ].join("\n");
}

/** Registers `init` on the `squadflow` program. */
export function registerInitCommand(program: Command): void {
  program
    .command("init")
    .description(
      "write a starter squad config and backlog for a git repository (agent CLIs on PATH as owners, its tests as QA)",
    )
    .option("--repo <path>", "the git repository (default: the current directory)")
    .option("--out <dir>", `where to write ${Object.values(INIT_FILES).join(", ")} (default: the repository root)`)
    .option("--force", "overwrite existing files", false)
    .option("--json", "machine-readable output: { files, owner, testCommand, … }", false)
    .action(async (o) => {
      const result = await initRepository({ repo: o.repo, out: o.out, force: o.force });
      console.log(o.json ? JSON.stringify(result, null, 2) : renderInit(result));
    });
}
