/**
 * Plans → cards (issue 12, seed 004's `derive_subtasks`). An approved plan document is parsed into plan
 * tasks that keep the line each field was written on, then derived into a backlog in the
 * `backlog_master.json` shape and validated by `planBacklog` like any backlog (schema, duplicates, unknown
 * dependencies, cycles, card types), every problem naming the plan file and line.
 *
 * Two formats:
 * - Markdown in seed 004's shape: `## <ROLE> Tasks` sections (any heading level) whose list items are
 *   `- [ ] TASK-001: Implement login endpoint`, with sub-items (or continuation lines) `Depends on: TASK-000,
 *   …`, `Priority: high` (or `1`–`4`), `Constraints:` and `Acceptance criteria:` (one inline, or nested
 *   items); other sub-items become the card's description.
 *   `- [x]` marks a task already delivered (a DONE card, not run again). Read with marked's lexer.
 * - YAML or JSON: `tasks: [{ id, role, title?, description, dependencies, priority, constraints,
 *   acceptance_criteria?, done? }]`
 *   with optional `title` and `metadata` (`PlanFileSchema`). Read with the `yaml` package (JSON is YAML).
 *
 * Pure (no I/O). Not re-exported from ./index.ts: the workflow bundle does not carry the parsers.
 */
import { marked, type Token, type Tokens } from "marked";
import { LineCounter, parseDocument, type Document } from "yaml";
import { z } from "zod";
import { CARD_ID_PATTERN } from "./ids.js";
import { PRIORITIES, PRIORITY_KEYS, type Priority } from "./priority.js";
import { SquadSchema } from "./squad.js";
import { BacklogValidationError, planBacklog, type BacklogIssue, type BacklogPlan } from "./validate.js";

/** The two plan formats: Markdown (seed 004's shape) and YAML (which covers JSON). */
export type PlanFormat = "markdown" | "yaml";

/** A field of a plan task, as the YAML form names it. */
export type PlanTaskField =
  "id" | "role" | "title" | "description" | "dependencies" | "priority" | "constraints" | "acceptance_criteria";

/** Where a field of a plan task was written: its 1-based line and its name in the document. */
export interface PlanFieldSource {
  line: number;
  /** `Depends on` (Markdown) or `tasks[2].dependencies` (YAML). */
  field: string;
}

/** One task of a plan, ready to become a card. */
export interface PlanTask {
  id: string;
  /** The role (`BACKEND`, `qa`…) that the squad maps to a card type (`roleCardType`). */
  role: string;
  title: string;
  description: string;
  dependencies: string[];
  /** Absent: the card's default priority (MEDIUM). */
  priority?: Priority;
  constraints: string[];
  /** The card's acceptance criteria (what the owner is told and the validators may check). */
  acceptanceCriteria: string[];
  /** Already delivered (`- [x]`, `done: true`): a DONE card. */
  done: boolean;
  /** 1-based line of the task. */
  line: number;
  /** Where each field given was written. */
  at: Partial<Record<PlanTaskField, PlanFieldSource>>;
}

/** A parsed plan document. */
export interface PlanDocument {
  /** The plan's file name, used in messages. */
  file: string;
  format: PlanFormat;
  /** The Markdown `# Title`, or the YAML `title`. */
  title?: string;
  /** YAML `metadata`, copied into the backlog's metadata. */
  metadata: Record<string, unknown>;
  tasks: PlanTask[];
}

/**
 * A priority as plans write it: a name in any case (`high`), or `1`–`4` / `P1`–`P4` in the order of
 * PRIORITY_KEYS (1 = CRITICAL … 4 = LOW). Undefined when it is neither.
 */
export function parsePriority(value: string | number): Priority | undefined {
  const text = String(value)
    .trim()
    .toUpperCase()
    .replace(/^P(?=\d$)/, "");
  if ((PRIORITIES as readonly string[]).includes(text)) return text as Priority;
  return PRIORITIES.find((p) => String(PRIORITY_KEYS[p]) === text);
}

function notAPriority(value: string | number): string {
  return `"${value}" is not a priority: ${PRIORITIES.join(", ")} (any case) or 1–4`;
}

const PriorityInputSchema = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const p = parsePriority(v);
  if (p === undefined) {
    ctx.addIssue({ code: "custom", message: notAPriority(v) });
    return z.NEVER;
  }
  return p;
});

/** A list written as a YAML sequence or as one comma-separated string. */
function listOf(item: z.ZodString) {
  return z.union([
    z.array(item),
    z.string().transform((s) =>
      s
        .split(",")
        .map((x) => x.trim())
        .filter((x) => x !== ""),
    ),
  ]);
}

/** A list written as a YAML sequence or as one item. */
function oneOrMany(item: z.ZodString) {
  return z.union([z.array(item), item.transform((s) => [s])]);
}

/** One task of a YAML/JSON plan; also the schema a planner agent's answer must pass. */
export const PlanTaskSchema = z.strictObject({
  id: z.string().regex(CARD_ID_PATTERN, 'must be 1–100 letters, digits, ".", "_" or "-"'),
  role: z.string().trim().min(1),
  /** Default: the description's first line. */
  title: z.string().trim().min(1).optional(),
  description: z.string().trim().min(1),
  dependencies: listOf(z.string().trim().min(1)).default([]),
  priority: PriorityInputSchema.optional(),
  constraints: oneOrMany(z.string().trim().min(1)).default([]),
  acceptance_criteria: oneOrMany(z.string().trim().min(1)).default([]),
  done: z.boolean().default(false),
});

/** A YAML/JSON plan document: `{ title?, metadata?, tasks: [...] }` (other top-level keys ignored). */
export const PlanFileSchema = z.looseObject({
  title: z.string().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  tasks: z.array(PlanTaskSchema).min(1, "no tasks"),
});

/** Every field of a plan task, in the order plans list them (also the planner's JSON schema's `required`). */
export const TASK_FIELDS: readonly PlanTaskField[] = [
  "id",
  "role",
  "title",
  "description",
  "dependencies",
  "priority",
  "constraints",
  "acceptance_criteria",
];

/** Longest card title derived from a description, characters. */
const MAX_TITLE_CHARS = 120;

function titleFrom(description: string): string {
  const first = description.split("\n")[0]!.trim();
  return first.length <= MAX_TITLE_CHARS ? first : `${first.slice(0, MAX_TITLE_CHARS - 1)}…`;
}

/** Offsets → 1-based line numbers of one text. */
class LineIndex {
  private readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text[i] === "\n") this.starts.push(i + 1);
  }
  lineAt(offset: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  }
}

/** The plain text of inline tokens (emphasis, code spans and links reduced to their text). */
function plainText(tokens: Token[] | undefined, fallback: string): string {
  if (!tokens || tokens.length === 0) return fallback;
  return tokens
    .map((t) => {
      const nested = (t as { tokens?: Token[] }).tokens;
      if (nested && nested.length > 0) return plainText(nested, "");
      if (t.type === "br") return "\n";
      if (t.type === "checkbox") return "";
      return (t as { text?: string }).text ?? t.raw;
    })
    .join("");
}

/** One line of a Markdown task item: its text, its line, how deep in sub-lists it sits. */
interface ItemLine {
  /** Plain text (emphasis, code spans, links reduced to their text): what ids and keys are read from. */
  text: string;
  /** The line as written (Markdown kept, trimmed): what descriptions, constraints and criteria keep. */
  raw: string;
  line: number;
  depth: number;
}

/**
 * The lines of a list item and its sub-items, each with its source line. Token `raw`s are substrings of the
 * source, so each token is found after the previous one.
 */
function itemLines(
  item: Tokens.ListItem,
  text: string,
  lines: LineIndex,
  from: number,
  depth: number,
): { lines: ItemLine[]; checked: boolean } {
  const out: ItemLine[] = [];
  let cursor = from;
  const find = (raw: string): number => {
    const at = text.indexOf(raw, cursor);
    if (at < 0) return cursor;
    cursor = at + raw.length;
    return at;
  };
  let checked = item.checked === true;
  for (const token of item.tokens) {
    if (token.type === "checkbox") {
      checked = (token as Tokens.Checkbox).checked;
      continue;
    }
    if (token.type === "list") {
      for (const sub of (token as Tokens.List).items) {
        const at = find(sub.raw);
        cursor = at;
        out.push(...itemLines(sub, text, lines, at, depth + 1).lines);
        cursor = at + sub.raw.length;
      }
      continue;
    }
    if (token.type === "space") continue;
    const at = find(token.raw);
    const first = lines.lineAt(at);
    const rawLines = token.raw.split("\n");
    plainText((token as { tokens?: Token[] }).tokens, (token as { text?: string }).text ?? token.raw)
      .split("\n")
      .forEach((l, k) => {
        if (l.trim() !== "") out.push({ text: l.trim(), raw: rawLines[k]?.trim() || l.trim(), line: first + k, depth });
      });
  }
  return { lines: out, checked };
}

/**
 * Sub-item keys (case-insensitive): `Depends on:` / `Dependencies:`, `Priority:`, `Constraints:`,
 * `Acceptance criteria:` / `Acceptance:`; the last two take one item inline or a nested list.
 */
const SUB_ITEM = /^(depends on|dependencies|priority|constraints?|acceptance(?: criteria)?)\s*:\s*(.*)$/i;
/** A task item's own text: `TASK-001: Implement login endpoint`. */
const TASK_HEAD = /^([^\s:]+)\s*:\s*(.+)$/;
/** A tasks section heading: `BACKEND Tasks`, `QA tasks`. */
const TASKS_HEADING = /^(.+?)\s+tasks$/i;

function splitList(value: string): string[] {
  return value
    .split(",")
    .map((d) => d.trim())
    .filter((d) => d !== "" && !/^(none|-|n\/a)$/i.test(d));
}

/** One Markdown task item → a plan task (problems pushed to `issues`). */
function markdownTask(
  file: string,
  role: { name: string; line: number },
  lines: ItemLine[],
  checked: boolean,
  issues: BacklogIssue[],
): PlanTask | undefined {
  const [head, ...rest] = lines;
  if (!head) return undefined;
  const m = TASK_HEAD.exec(head.text);
  if (!m || !CARD_ID_PATTERN.test(m[1]!)) {
    issues.push({
      file,
      line: head.line,
      field: "task",
      message: `"${head.text}" is not a task item: write "ID: title" (e.g. "TASK-001: Implement login endpoint"; ids are letters, digits, ".", "_", "-")`,
    });
    return undefined;
  }
  const task: PlanTask = {
    id: m[1]!,
    role: role.name,
    title: m[2]!.trim(),
    description: "",
    dependencies: [],
    constraints: [],
    acceptanceCriteria: [],
    done: checked,
    line: head.line,
    at: {
      id: { line: head.line, field: "task" },
      title: { line: head.line, field: "task" },
      role: { line: role.line, field: "heading" },
    },
  };
  const details: ItemLine[] = [];
  // The list a `Constraints:` / `Acceptance criteria:` item opened: its deeper items belong to it.
  let open: { list: string[]; depth: number } | undefined;
  for (const l of rest) {
    if (open && l.depth > open.depth) {
      open.list.push(l.raw);
      continue;
    }
    open = undefined;
    const sub = SUB_ITEM.exec(l.text);
    const key = sub?.[1]!.toLowerCase();
    const value = sub?.[2]!.trim() ?? "";
    const rawValue = SUB_ITEM.exec(l.raw)?.[2]!.trim() ?? value;
    if (key === "depends on" || key === "dependencies") {
      task.dependencies.push(...splitList(value));
      task.at.dependencies = { line: l.line, field: "Depends on" };
    } else if (key === "priority") {
      task.at.priority = { line: l.line, field: "Priority" };
      const p = parsePriority(value);
      if (p) task.priority = p;
      else issues.push({ file, line: l.line, cardId: task.id, field: "Priority", message: notAPriority(value) });
    } else if (key === "constraints" || key === "constraint") {
      task.at.constraints = { line: l.line, field: "Constraints" };
      if (rawValue !== "") task.constraints.push(rawValue);
      open = { list: task.constraints, depth: l.depth };
    } else if (key === "acceptance" || key === "acceptance criteria") {
      task.at.acceptance_criteria = { line: l.line, field: "Acceptance criteria" };
      if (rawValue !== "") task.acceptanceCriteria.push(rawValue);
      open = { list: task.acceptanceCriteria, depth: l.depth };
    } else {
      details.push(l);
    }
  }
  task.description = details.map((l) => l.raw).join("\n");
  if (details.length > 0) task.at.description = { line: details[0]!.line, field: "description" };
  return task;
}

/**
 * Parses a Markdown plan in seed 004's shape (see the file comment).
 * @throws BacklogValidationError naming the file and line of every malformed task item or priority, or
 *   saying that there is no `## <ROLE> Tasks` section with items.
 */
export function parseMarkdownPlan(source: string, file: string): PlanDocument {
  // marked reads \r\n and \r as \n; the same text keeps its raws findable and the line count unchanged.
  const text = source.replace(/\r\n?/g, "\n");
  const lines = new LineIndex(text);
  const issues: BacklogIssue[] = [];
  const tasks: PlanTask[] = [];
  let title: string | undefined;
  let role: { name: string; line: number; depth: number } | undefined;
  let cursor = 0;
  for (const token of marked.lexer(text)) {
    const found = text.indexOf(token.raw, cursor);
    const at = found < 0 ? cursor : found;
    cursor = at + token.raw.length;
    if (token.type === "heading") {
      const h = token as Tokens.Heading;
      const headingText = plainText(h.tokens, h.text).trim();
      if (h.depth === 1 && title === undefined) title = headingText;
      const m = TASKS_HEADING.exec(headingText);
      if (m) role = { name: m[1]!.trim(), line: lines.lineAt(at), depth: h.depth };
      else if (role && h.depth <= role.depth) role = undefined;
      continue;
    }
    if (token.type !== "list" || !role) continue;
    let itemCursor = at;
    for (const item of (token as Tokens.List).items) {
      const itemAt = text.indexOf(item.raw, itemCursor);
      const start = itemAt < 0 ? itemCursor : itemAt;
      itemCursor = start + item.raw.length;
      const { lines: itemText, checked } = itemLines(item, text, lines, start, 0);
      const task = markdownTask(file, role, itemText, checked, issues);
      if (task) tasks.push(task);
    }
  }
  if (tasks.length === 0 && issues.length === 0) {
    issues.push({
      file,
      line: 1,
      field: "tasks",
      message:
        'no tasks: expected "## <ROLE> Tasks" sections (e.g. "## BACKEND Tasks") with items "- [ ] TASK-001: title" (a free-form document: use --planner)',
    });
  }
  if (issues.length > 0) throw new BacklogValidationError(issues);
  return { file, format: "markdown", ...(title !== undefined && { title }), metadata: {}, tasks };
}

function pathField(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`)).join("");
}

/** The 1-based line of the node at `path`, else of its nearest ancestor that exists. */
function yamlLine(doc: Document, counter: LineCounter, path: readonly PropertyKey[]): number {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as unknown[], true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return counter.linePos(node.range[0]).line;
  }
  return 1;
}

/**
 * Validates plan data (a parsed YAML/JSON plan, or a planner agent's answer) against `PlanFileSchema`.
 * `lineOf` gives the line of a path (YAML nodes); without it issues carry no line.
 * @throws BacklogValidationError naming the file, the field (`tasks[2].priority`) and its line.
 */
export function planFromData(
  data: unknown,
  file: string,
  format: PlanFormat,
  lineOf?: (path: readonly PropertyKey[]) => number,
): PlanDocument {
  const parsed = PlanFileSchema.safeParse(data);
  if (!parsed.success) {
    throw new BacklogValidationError(
      parsed.error.issues
        .map((iss): BacklogIssue => {
          const taskIndex = iss.path[0] === "tasks" && typeof iss.path[1] === "number" ? iss.path[1] : undefined;
          const id = taskIndex !== undefined ? (data as { tasks: { id?: unknown }[] }).tasks[taskIndex]?.id : undefined;
          // An unknown key (a typo such as "dependecies") is named, on its own line.
          const path =
            iss.code === "unrecognized_keys" && iss.keys.length === 1 ? [...iss.path, iss.keys[0]!] : iss.path;
          return {
            file,
            ...(lineOf && { line: lineOf(path) }),
            ...(typeof id === "string" && id !== "" && { cardId: id }),
            field: pathField(path),
            message: iss.message,
          };
        })
        .sort((a, b) => (a.line ?? 0) - (b.line ?? 0)),
    );
  }
  const tasks = parsed.data.tasks.map((t, i): PlanTask => {
    const at: PlanTask["at"] = {};
    for (const key of TASK_FIELDS) {
      if (key === "title" && t.title === undefined) continue;
      at[key] = { line: lineOf?.(["tasks", i, key]) ?? 0, field: `tasks[${i}].${key}` };
    }
    // Without a title, a problem with it is a problem with the description it came from.
    at.title ??= at.description!;
    return {
      id: t.id,
      role: t.role,
      title: t.title ?? titleFrom(t.description),
      description: t.description,
      dependencies: t.dependencies,
      ...(t.priority !== undefined && { priority: t.priority }),
      constraints: t.constraints,
      acceptanceCriteria: t.acceptance_criteria,
      done: t.done,
      line: lineOf?.(["tasks", i]) ?? 0,
      at,
    };
  });
  const { title, metadata } = parsed.data;
  return { file, format, ...(title !== undefined && { title }), metadata: metadata ?? {}, tasks };
}

/**
 * Parses a YAML or JSON plan (`PlanFileSchema`).
 * @throws BacklogValidationError naming the file and line of every syntax error and schema problem.
 */
export function parseYamlPlan(text: string, file: string): PlanDocument {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new BacklogValidationError(
      doc.errors.map((e) => ({
        file,
        line: counter.linePos(e.pos[0]).line,
        field: "",
        message: `not valid YAML: ${e.message.split("\n")[0]}`,
      })),
    );
  }
  return planFromData(doc.toJS(), file, "yaml", (path) => yamlLine(doc, counter, path));
}

/** The format of a plan file, by its extension: `.md`/`.markdown` Markdown, `.yaml`/`.yml`/`.json` YAML. */
export function planFormatOf(file: string): PlanFormat | undefined {
  const ext = /\.([A-Za-z]+)$/.exec(file)?.[1]?.toLowerCase();
  if (ext === "md" || ext === "markdown") return "markdown";
  if (ext === "yaml" || ext === "yml" || ext === "json") return "yaml";
  return undefined;
}

/**
 * Parses a plan file's text in the format its extension names (`planFormatOf`).
 * @throws BacklogValidationError for an unknown extension, or the parser's problems.
 */
export function parsePlan(text: string, file: string): PlanDocument {
  const format = planFormatOf(file);
  if (format === "markdown") return parseMarkdownPlan(text, file);
  if (format === "yaml") return parseYamlPlan(text, file);
  const message = "unknown plan format: name the file .md (Markdown), .yaml, .yml or .json";
  throw new BacklogValidationError([{ file, field: "", message }]);
}

/**
 * The card type of a plan role: `squad.roles[role]` (keys compared case-insensitively), else the role
 * upper-cased when the squad has that card type; undefined when neither.
 */
export function roleCardType(
  role: string,
  squad: { roles?: Record<string, string>; card_types: Record<string, unknown> },
): string | undefined {
  const wanted = role.trim().toLowerCase();
  for (const [name, type] of Object.entries(squad.roles ?? {})) if (name.trim().toLowerCase() === wanted) return type;
  const upper = role.trim().toUpperCase();
  return Object.hasOwn(squad.card_types, upper) ? upper : undefined;
}

/** Options of `deriveBacklog`. */
export interface DeriveOptions {
  /** The squad config: its file (for messages) and its JSON value as read (embedded in the backlog). */
  squad: { file: string; value: unknown };
  /** Backlog id (`--id`); default: the plan's `metadata.backlog_id`, else the plan file's name. */
  backlogId?: string;
  /** ISO time stamped as `metadata.created_at`. */
  now?: string;
  /** `metadata.repository` to write (a path relative to the written backlog file, or a URL). */
  repository?: string;
}

/** A backlog file's content as `deriveBacklog` writes it (the `backlog_master.json` shape). */
export interface DerivedBacklogFile {
  metadata: Record<string, unknown>;
  cards: Record<string, unknown>[];
  squad: unknown;
}

/** A plan derived into a backlog: the file to write and the validated plan it starts as. */
export interface DerivedBacklog {
  backlog: DerivedBacklogFile;
  plan: BacklogPlan;
}

/** A backlog id from a plan file's name: `plans/Login v2.md` → `Login-v2`. */
function backlogIdFromFile(file: string): string {
  const base = file.split(/[\\/]/).pop() ?? "";
  return (
    base
      .replace(/\.[^.]*$/, "")
      .replace(/[^A-Za-z0-9._-]/g, "-")
      .replace(/^[^A-Za-z0-9]+/, "")
      .slice(0, 100) || "plan"
  );
}

function cardDescription(t: PlanTask): string {
  const constraints = t.constraints.length > 0 ? `Constraints:\n${t.constraints.map((c) => `- ${c}`).join("\n")}` : "";
  return [t.description, constraints].filter((s) => s !== "").join("\n\n");
}

const CARD_FIELD_TO_TASK: Record<string, PlanTaskField> = {
  id: "id",
  type: "role",
  title: "title",
  description: "description",
  dependencies: "dependencies",
  priority: "priority",
  acceptance_criteria: "acceptance_criteria",
};

/** A `planBacklog` issue about the derived backlog, told in terms of the plan: its line and field. */
function toPlanIssue(doc: PlanDocument, issue: BacklogIssue): BacklogIssue {
  if (issue.file !== doc.file) return issue;
  const m = /^cards\[(\d+)\](?:\.(\w+))?(?:\[(\d+)\])?/.exec(issue.field);
  const task = m ? doc.tasks[Number(m[1])] : undefined;
  if (!m || !task) return issue.field === "cards" ? { ...issue, field: "tasks", message: "no tasks" } : issue;
  const key = m[2] !== undefined ? CARD_FIELD_TO_TASK[m[2]] : undefined;
  const at = (key && task.at[key]) || { line: task.line, field: doc.format === "yaml" ? `tasks[${m[1]}]` : "task" };
  const indexed =
    doc.format === "yaml" && m[3] !== undefined && (key === "dependencies" || key === "acceptance_criteria");
  const field = indexed ? `${at.field}[${m[3]}]` : at.field;
  return { ...issue, cardId: task.id, field, ...(at.line > 0 && { line: at.line }) };
}

/**
 * Derives the backlog of a parsed plan: one card per task (`type` = the role's card type, `title`,
 * `description` with the constraints, `priority`, `dependencies`, `acceptance_criteria`, `status` DONE for
 * tasks already delivered, `role` and `plan_line` kept), `metadata` from the plan (`backlog_id`, `project` =
 * its title, `plan` = its file), the squad embedded. Then validates it with `planBacklog`, like any backlog.
 * @throws BacklogValidationError with every problem, plan problems named by the plan file, line and field
 *   (unknown role, unknown dependency, duplicate id, cycle…), squad problems by the squad file.
 */
export function deriveBacklog(doc: PlanDocument, opts: DeriveOptions): DerivedBacklog {
  const issues: BacklogIssue[] = [];
  const squad = SquadSchema.safeParse(opts.squad.value);
  const unknownRole = new Set<number>();
  const cards = doc.tasks.map((t, i) => {
    let type = t.role.trim().toUpperCase();
    if (squad.success) {
      const mapped = roleCardType(t.role, squad.data);
      if (mapped !== undefined) type = mapped;
      else {
        unknownRole.add(i);
        const roles = Object.keys(squad.data.roles ?? {});
        issues.push({
          file: doc.file,
          ...(t.at.role && { line: t.at.role.line }),
          cardId: t.id,
          field: t.at.role?.field ?? "role",
          message:
            `unknown role "${t.role}": no squad.roles entry${roles.length > 0 ? ` (${roles.join(", ")})` : ""} and no card type "${type}" ` +
            `(card_types: ${Object.keys(squad.data.card_types).join(", ") || "none"})`,
        });
      }
    }
    return {
      id: t.id,
      type,
      title: t.title,
      description: cardDescription(t),
      status: t.done ? "DONE" : "TODO",
      ...(t.priority !== undefined && { priority: t.priority }),
      dependencies: t.dependencies,
      ...(t.acceptanceCriteria.length > 0 && { acceptance_criteria: t.acceptanceCriteria }),
      role: t.role,
      ...(t.line > 0 && { plan_line: t.line }),
    };
  });
  const metadata: Record<string, unknown> = {
    ...doc.metadata,
    backlog_id: opts.backlogId ?? doc.metadata.backlog_id ?? backlogIdFromFile(doc.file),
    ...(doc.title !== undefined && doc.metadata.project === undefined && { project: doc.title }),
    plan: doc.file,
    ...(opts.repository !== undefined && { repository: opts.repository }),
    ...(opts.now !== undefined && { created_at: opts.now }),
  };
  let plan: BacklogPlan | undefined;
  try {
    // The squad is validated as the separate file it came from, so its problems name that file.
    plan = planBacklog(JSON.stringify({ metadata, cards }), {
      file: doc.file,
      squad: { file: opts.squad.file, text: JSON.stringify(opts.squad.value) },
    });
  } catch (err) {
    if (!(err instanceof BacklogValidationError)) throw err;
    for (const issue of err.issues) {
      // An unknown role is already reported as such; its card type is unknown as a consequence.
      const typeOf = /^cards\[(\d+)\]\.type$/.exec(issue.field);
      if (issue.file === doc.file && typeOf && unknownRole.has(Number(typeOf[1]))) continue;
      issues.push(toPlanIssue(doc, issue));
    }
  }
  if (issues.length > 0 || !plan)
    throw new BacklogValidationError(issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0)));
  return { backlog: { metadata, cards, squad: opts.squad.value }, plan };
}
