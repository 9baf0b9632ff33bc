/**
 * What the portal's start form starts (issue 13, "Start a backlog from the page"): a backlog file, or a plan
 * (`squadflow plan`, docs/plans.md) with its squad file. A plan is derived and written where `plan --start`
 * writes it (`<plan>.backlog.json` beside it), then that file is loaded and started exactly as
 * `squadflow start` does, so the page and the CLI start the same thing.
 *
 * Only files inside the portal's folder are read or written, so that the form cannot be used to read the
 * server's other files through validation messages.
 */
import { readFile, writeFile } from "node:fs/promises";
import { isAbsolute, relative, resolve } from "node:path";
import type { Client } from "@temporalio/client";
import { planFormatOf } from "../domain/plan.js";
import { startBacklog, type BacklogQueues } from "../cli/backlogs.js";
import { CliError } from "../cli/errors.js";
import { loadBacklog } from "../cli/load.js";
import { defaultBacklogFile, derivePlanFile } from "../cli/plan.js";

/** A request of the start form (`POST /api/backlogs`): paths on the server, relative to the portal's folder or absolute. */
export interface StartRequest {
  /** A backlog file (`.json`) or a plan (`.md`, `.markdown`, `.yaml`, `.yml`, or a `.json` holding `tasks` and no `cards`). */
  file?: unknown;
  /** For a plan: a squad config (JSON) or a backlog file with a squad section, as `plan --squad`. */
  squad?: unknown;
  /** The repository to deliver into (`--repo`). */
  repo?: unknown;
  /** The backlog id (`--id`). */
  backlogId?: unknown;
}

/** What was started: Temporal's answer, the file started and, for a plan, the plan it was derived from. */
export interface StartedFromPage {
  backlogId: string;
  workflowId: string;
  started: boolean;
  existingStatus?: string;
  /** The backlog file started (for a plan: the one written from it). */
  file: string;
  /** The plan file, when one was started. */
  plan?: string;
  /** The board to open: `/backlogs/{backlogId}`. */
  location: string;
}

const str = (v: unknown) => (typeof v === "string" && v.trim() !== "" ? v.trim() : undefined);

/**
 * Whether a file is a plan, decided as `squadflow plan` reads them: by extension (`planFormatOf`), and for
 * `.json` by content — a plan holds `tasks` and no `cards`; anything else (also unparsable JSON) is a
 * backlog file, whose own loader then names its problems.
 */
async function isPlan(file: string): Promise<boolean> {
  const format = planFormatOf(file);
  if (format === undefined) return false;
  if (!file.toLowerCase().endsWith(".json")) return true;
  let data: unknown;
  try {
    data = JSON.parse(await readFile(file, "utf8"));
  } catch {
    return false;
  }
  return (
    typeof data === "object" &&
    data !== null &&
    Array.isArray((data as { tasks?: unknown }).tasks) &&
    !("cards" in data)
  );
}

/**
 * Validates and starts what the start form names.
 * @param root the folder every file must be in (absolute).
 * @throws CliError (400) naming the field when a path is missing, outside `root` or of the wrong kind, or a
 *   plan has no squad file; CliError `refused: …` (409) when the backlog id exists already.
 * @throws BacklogValidationError with every problem of the backlog, or of the plan (file:line) and squad —
 *   nothing is written or started then.
 */
export async function startFromPage(
  client: Client,
  root: string,
  req: StartRequest,
  queues?: BacklogQueues,
): Promise<StartedFromPage> {
  const given = str(req.file);
  if (given === undefined) throw new CliError("file: the path of a backlog file or a plan on the server is required");
  const file = inside(root, given);
  if (!file || planFormatOf(file) === undefined) {
    throw new CliError(`file: "${given}" must be a backlog (.json) or a plan (.md, .yaml, .yml, .json) inside ${root}`);
  }
  const repo = str(req.repo);
  const backlogId = str(req.backlogId);
  const squadGiven = str(req.squad);
  let backlogFile = file;
  let planFile: string | undefined;
  if (await isPlan(file)) {
    if (squadGiven === undefined) {
      throw new CliError(
        `squad: "${given}" is a plan; give its squad file (a squad JSON, or a backlog file with a squad section)`,
      );
    }
    const squad = inside(root, squadGiven);
    if (!squad || !squad.endsWith(".json"))
      throw new CliError(`squad: "${squadGiven}" must be a .json file inside ${root}`);
    planFile = file;
    backlogFile = defaultBacklogFile(file);
    const { backlog } = await derivePlanFile(file, {
      squad,
      out: backlogFile,
      ...(backlogId !== undefined && { backlogId }),
      ...(repo !== undefined && { repo }),
    });
    await writeFile(backlogFile, JSON.stringify(backlog, null, 2) + "\n");
  } else if (squadGiven !== undefined) {
    throw new CliError(`squad: only a plan takes a squad file; "${given}" is a backlog file (its squad is its own)`);
  } else if (!file.endsWith(".json")) {
    throw new CliError(`file: "${given}" must be a backlog (.json) or a plan (.md, .yaml, .yml, .json) inside ${root}`);
  }
  // A plan's id and repository are in the file written from it, as `plan --start` leaves them.
  const plan = await loadBacklog(backlogFile, planFile ? {} : { repo, backlogId });
  const r = await startBacklog(client, plan, backlogFile, queues);
  if (!r.started)
    throw new CliError(
      `refused: backlog "${plan.backlogId}" already exists (${r.existingStatus}); give another backlog id`,
    );
  return {
    ...r,
    file: relative(root, backlogFile),
    ...(planFile !== undefined && { plan: relative(root, planFile) }),
    location: `/backlogs/${encodeURIComponent(plan.backlogId)}`,
  };
}

/** `path` resolved against `root`, or undefined when it lies outside it. */
function inside(root: string, path: string): string | undefined {
  const file = resolve(root, path);
  const rel = relative(root, file);
  return rel === "" || rel.startsWith("..") || isAbsolute(rel) ? undefined : file;
}
