/**
 * `squadflow plan FILE` (issue 12, "Plans → cards"): reads an approved plan (Markdown in seed 004's shape, or
 * YAML/JSON; src/domain/plan.ts), derives its cards through the squad config's roles, validates the result
 * like any backlog and writes it in the `backlog_master.json` shape — or starts it with `--start`, which
 * runs the `start` command itself on the file it wrote (nothing is written or started when the plan is
 * invalid). With `--planner`, the squad's planner agent first turns a free-form document into plan tasks.
 */
import { readFile, writeFile } from "node:fs/promises";
import { dirname, relative, resolve } from "node:path";
import type { Command } from "commander";
import { allowListedEnv, resolveProjectPath } from "../activities/context.js";
import { SpawnError, runProcess, tail } from "../activities/process.js";
import { BacklogValidationError, SquadSchema, formatIssue, type BacklogIssue } from "../domain/index.js";
import {
  deriveBacklog,
  parsePlan,
  planFromData,
  roleCardType,
  type DerivedBacklog,
  type PlanDocument,
} from "../domain/plan.js";
import { CliError, EXIT } from "./errors.js";

/** A squad config as read for a plan: its file (for messages) and its JSON value (embedded in the backlog). */
export interface SquadSource {
  file: string;
  value: unknown;
}

async function readText(file: string): Promise<string> {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(await readFile(file));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BacklogValidationError([
      { file, field: "", message: code ? `cannot read file (${code})` : "not valid UTF-8 text" },
    ]);
  }
}

/**
 * Reads `--squad FILE`: a squad config (JSON), or a backlog file whose `squad` section is used (so the
 * example backlog's squad serves plans too).
 * @throws BacklogValidationError naming the file when it cannot be read, is not JSON, or holds no squad.
 */
export async function readSquadSource(file: string): Promise<SquadSource> {
  const text = await readText(file);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new BacklogValidationError([{ file, field: "", message: `not valid JSON: ${(err as Error).message}` }]);
  }
  const record = (value ?? {}) as Record<string, unknown>;
  const isBacklog = typeof value === "object" && value !== null && !("card_types" in record);
  if (isBacklog && typeof record.squad === "object" && record.squad !== null) {
    return { file, value: record.squad };
  }
  return { file, value };
}

/** Options of `derivePlanFile`. */
export interface PlanFileOptions {
  /** The squad config file (`--squad`). */
  squad: string;
  /** `--id`: the backlog id. */
  backlogId?: string;
  /** `--repo`: written as `metadata.repository` (a relative path: relative to `out`'s folder). */
  repo?: string;
  /** Where the backlog will be written (relative `--repo` paths are made relative to its folder). */
  out?: string;
  /** `--planner`: ask the squad's planner agent to turn the document into plan tasks. */
  planner?: boolean;
}

/** `--repo` as `metadata.repository`: URLs as given, paths relative to the written backlog's folder. */
function repositoryField(repo: string | undefined, out: string | undefined): string | undefined {
  if (repo === undefined || /^[a-z][a-z0-9+.-]*:\/\/|^[^/]+@[^/]+:/i.test(repo)) return repo;
  const path = resolve(repo);
  return out === undefined ? path : relative(dirname(resolve(out)), path) || ".";
}

/**
 * Reads a plan file and derives its backlog (see src/domain/plan.ts `deriveBacklog`).
 * @throws BacklogValidationError naming the plan file and line (or the squad file) of every problem.
 * @throws CliError when the planner agent cannot run or answers badly twice (`--planner`).
 */
export async function derivePlanFile(planFile: string, opts: PlanFileOptions): Promise<DerivedBacklog> {
  const text = await readText(planFile);
  const squad = await readSquadSource(opts.squad);
  const derive = (doc: PlanDocument) =>
    deriveBacklog(doc, {
      squad,
      ...(opts.backlogId !== undefined && { backlogId: opts.backlogId }),
      ...(opts.repo !== undefined && { repository: repositoryField(opts.repo, opts.out) }),
      now: new Date().toISOString(),
    });
  if (opts.planner) return askPlanner(planFile, text, squad, derive);
  return derive(parsePlan(text, planFile));
}

/** What a planner agent gets on stdin (docs/plans.md "The planner agent"). */
export interface PlannerRequest {
  /** The plan document as written. */
  document: string;
  file: string;
  /** Roles the squad knows and the card type each maps to (card types are roles too). */
  roles: Record<string, string>;
  /** 1 for the first question, 2 when asked again. */
  attempt: number;
  /** Why the previous answer was refused (one line per problem); absent on the first question. */
  feedback?: string[];
}

/** How many times a planner is asked: once, and once again after a bad answer. */
const PLANNER_ASKS = 2;

/** The JSON object a planner printed: its whole stdout, else its last line that parses (agents may log first). */
function plannerAnswer(stdout: string): unknown {
  try {
    return JSON.parse(stdout);
  } catch {
    const lines = stdout
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.startsWith("{"));
    for (const line of lines.reverse()) {
      try {
        return JSON.parse(line);
      } catch {
        // not this line
      }
    }
    return undefined;
  }
}

/**
 * Asks the squad's planner agent (`squad.planner`, a `command` agent: request JSON on stdin, `{ title?,
 * tasks: [...] }` on stdout) for the plan tasks of a free-form document. Its answer passes the same schema
 * and derivation as a YAML plan; a bad answer is asked again once with the problems as `feedback`, then
 * refused.
 * @throws BacklogValidationError naming the squad file when there is no usable planner.
 * @throws CliError (exit 1) when the planner cannot start, fails, or answers badly twice.
 */
async function askPlanner(
  planFile: string,
  document: string,
  squad: SquadSource,
  derive: (doc: PlanDocument) => DerivedBacklog,
): Promise<DerivedBacklog> {
  const parsed = SquadSchema.safeParse(squad.value);
  if (!parsed.success) {
    throw new BacklogValidationError(
      parsed.error.issues.map((i) => ({ file: squad.file, field: i.path.join("."), message: i.message })),
    );
  }
  const config = parsed.data;
  const name = config.planner;
  const agent = name !== undefined && Object.hasOwn(config.agents, name) ? config.agents[name] : undefined;
  if (name === undefined || !agent) {
    const message =
      name === undefined
        ? 'no planner agent: set "planner": "<agent>" in the squad to use --planner'
        : `unknown agent "${name}"`;
    throw new BacklogValidationError([{ file: squad.file, field: "planner", message }]);
  }
  if (agent.kind !== "command") {
    throw new BacklogValidationError([
      {
        file: squad.file,
        field: "planner",
        message: `planner agent "${name}" is of kind ${agent.kind}: a planner is a command agent (docs/plans.md)`,
      },
    ]);
  }
  const roles: Record<string, string> = {};
  for (const type of Object.keys(config.card_types)) roles[type] = type;
  for (const role of Object.keys(config.roles ?? {})) roles[role] = roleCardType(role, config)!;
  const base = process.cwd();
  let feedback: string[] | undefined;
  for (let attempt = 1; attempt <= PLANNER_ASKS; attempt++) {
    const request: PlannerRequest = { document, file: planFile, roles, attempt, ...(feedback && { feedback }) };
    let run;
    try {
      run = await runProcess({
        command: resolveProjectPath(base, agent.command),
        args: agent.args.map((a) => resolveProjectPath(base, a)),
        cwd: base,
        env: { ...allowListedEnv(process.env), ...agent.env },
        stdin: JSON.stringify(request) + "\n",
        timeoutMs: agent.timeout_ms,
      });
    } catch (err) {
      if (err instanceof SpawnError) {
        throw new CliError(`planner agent "${name}" cannot start: "${err.command}" ${err.why}`, EXIT.failure);
      }
      throw err;
    }
    if (run.timedOut)
      throw new CliError(`planner agent "${name}" timed out after ${agent.timeout_ms} ms`, EXIT.failure);
    if (run.exitCode !== 0) {
      const stderr = tail(run.stderr, 20) || "(no stderr)";
      throw new CliError(`planner agent "${name}" exited with ${run.exitCode ?? run.signal}: ${stderr}`, EXIT.failure);
    }
    const answer = plannerAnswer(run.stdout);
    try {
      if (answer === undefined) {
        throw new BacklogValidationError([
          { file: `planner "${name}"`, field: "", message: "no JSON object on stdout" },
        ]);
      }
      return derive(planFromData(answer, planFile, "yaml"));
    } catch (err) {
      if (!(err instanceof BacklogValidationError)) throw err;
      feedback = err.issues.map((i: BacklogIssue) => formatIssue(i));
    }
  }
  throw new CliError(
    `planner agent "${name}" answered badly ${PLANNER_ASKS} times; its last answer was refused:\n` +
      feedback!.map((f) => `  - ${f}`).join("\n"),
    EXIT.failure,
  );
}

/** Default `--out` of `plan --start`: the plan file's name with `.backlog.json` (`plans/login.md` → `plans/login.backlog.json`). */
export function defaultBacklogFile(planFile: string): string {
  return planFile.replace(/\.[^./\\]*$/, "") + ".backlog.json";
}

/**
 * Registers `squadflow plan` on the program. `--start` runs the program's own `start` command on the
 * written file, so a plan starts exactly as a backlog file does.
 */
export function registerPlanCommand(program: Command): void {
  program
    .command("plan <file>")
    .description(
      'derive a backlog from an approved plan (Markdown "## <ROLE> Tasks" or YAML/JSON tasks) and write it, or start it',
    )
    .requiredOption(
      "--squad <file>",
      "squad config (JSON) whose roles/card types the plan maps to; or a backlog file with a squad section",
    )
    .option("--out <file>", "write the backlog here (default: stdout; with --start: <plan>.backlog.json)")
    .option("--start", 'start the backlog once written, as "squadflow start <out>" does', false)
    .option("--id <backlogId>", "backlog id (default: the plan's metadata.backlog_id, else its file name)")
    .option("--repo <path|url>", "write metadata.repository: the git repository the backlog delivers into")
    .option("--planner", "ask the squad's planner agent to turn a free-form document into tasks", false)
    .option("--wait", "with --start: show live progress until idle", false)
    .option(
      "--json",
      "machine-readable output: { plan, out, backlogId, cards, done } (with --start: the start document)",
      false,
    )
    .action(async (file: string, o) => {
      const out: string | undefined = o.out ?? (o.start ? defaultBacklogFile(file) : undefined);
      const { backlog, plan } = await derivePlanFile(file, {
        squad: o.squad,
        backlogId: o.id,
        repo: o.repo,
        out,
        planner: o.planner,
      });
      const json = JSON.stringify(backlog, null, 2) + "\n";
      if (out === undefined) {
        process.stdout.write(json);
        return;
      }
      await writeFile(out, json);
      if (o.start) {
        const start = program.commands.find((c) => c.name() === "start");
        if (!start) throw new CliError("the start command is missing", EXIT.failure);
        await start.parseAsync([out, ...(o.wait ? ["--wait"] : []), ...(o.json ? ["--json"] : [])], { from: "user" });
        return;
      }
      const cards = plan.cards.map((c) => c.card.id);
      const done = plan.done.map((d) => d.cardId);
      if (o.json) console.log(JSON.stringify({ plan: file, out, backlogId: plan.backlogId, cards, done }, null, 2));
      else {
        const counts = `${cards.length} cards to run, ${done.length} already DONE`;
        console.log(
          `${file}: backlog ${plan.backlogId} written to ${out} — ${counts} (run it: squadflow start ${out})`,
        );
      }
    });
}
