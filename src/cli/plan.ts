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
import { BacklogValidationError } from "../domain/index.js";
import { deriveBacklog, parsePlan, type DerivedBacklog, type PlanDocument } from "../domain/plan.js";
import { CliError, EXIT } from "./errors.js";
import { askPlanner } from "./planner.js";

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
 * @throws CliError when the planner agent cannot run or answers badly twice (`--planner`, src/cli/planner.ts).
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
  if (opts.planner) {
    const asked = await askPlanner(planFile, text, squad, derive);
    if (asked.cost.usd > 0 || asked.cost.inputTokens > 0)
      console.error(
        `squadflow: planner asked ${asked.asks} time${asked.asks === 1 ? "" : "s"}: ${asked.cost.inputTokens} input and ${asked.cost.outputTokens} output tokens, $${asked.cost.usd}`,
      );
    return asked.derived;
  }
  return derive(parsePlan(text, planFile));
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
