/**
 * Small markdown and source helpers of the example agents: splitting a document into sections, tables,
 * summaries of dependency artifacts (documents and ES modules), and word overlap to find related text.
 */
import { basename, extname } from "node:path";

/** Words too common to relate two texts. */
const STOPWORDS = new Set(
  "a an and are as at be by can code codes for from has have in is it its of on or our that the their them then this to was when where which with without what each every into only than they shows".split(
    " ",
  ),
);

/** A crude stem, so that "creating", "create" and "creates" meet: common endings dropped. */
function stem(word) {
  return word.replace(/(?:ing|ed|es|s)$/, "").replace(/e$/, "");
}

/** Significant words of a text, stemmed: lower case, 4+ letters, no stopwords. */
export function keywords(text) {
  return new Set(
    String(text)
      .toLowerCase()
      .split(/[^a-z0-9_]+/)
      .filter((w) => w.length >= 4 && !STOPWORDS.has(w))
      .map(stem),
  );
}

/** Number of significant words two texts share. */
export function overlap(a, b) {
  const kb = keywords(b);
  let n = 0;
  for (const w of keywords(a)) if (kb.has(w)) n++;
  return n;
}

/**
 * Sections of a markdown document: `{ level, heading, body }` for every ATX heading, body up to the next
 * heading of any level. Text before the first heading is ignored. Fenced code is not mistaken for headings.
 */
export function parseSections(markdown) {
  const sections = [];
  let current;
  let fenced = false;
  for (const line of String(markdown).split("\n")) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const m = !fenced && /^(#{1,6})\s+(.+?)\s*#*\s*$/.exec(line);
    if (m) {
      current = { level: m[1].length, heading: m[2].trim(), lines: [] };
      sections.push(current);
    } else if (current) current.lines.push(line);
  }
  return sections.map(({ level, heading, lines }) => ({ level, heading, body: lines.join("\n").trim() }));
}

/** The first paragraph of a text (up to a blank line), on one line, cut at `max` characters. */
export function firstParagraph(text, max = 280) {
  const para =
    String(text)
      .trim()
      .split(/\n\s*\n/)[0] ?? "";
  const flat = para.replace(/\s*\n\s*/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1).replace(/\s+\S*$/, "")}…` : flat;
}

/** A markdown table. */
export function mdTable(headers, rows) {
  const cell = (v) => String(v).replace(/\|/g, "\\|").replace(/\n/g, " ");
  return [
    `| ${headers.map(cell).join(" | ")} |`,
    `| ${headers.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.map(cell).join(" | ")} |`),
  ].join("\n");
}

/**
 * Exported names of an ES module with the first line of their JSDoc, e.g.
 * `[{ name: 'normalizeCode', kind: 'function', doc: 'Normalizes …' }]`.
 */
export function moduleExports(source) {
  const out = [];
  const re =
    /(?:\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*)?export\s+(async\s+function|function|const|class)\s+([A-Za-z_$][\w$]*)/g;
  for (const m of String(source).matchAll(re)) {
    // The doc's first paragraph: lines up to a blank line or the first @tag.
    const lines = [];
    for (const l of (m[1] ?? "").split("\n").map((x) => x.replace(/^\s*\*\s?/, "").trim())) {
      if (l.startsWith("@") || (!l && lines.length)) break;
      if (l) lines.push(l);
    }
    out.push({ name: m[3], kind: m[2].includes("function") ? "function" : m[2], doc: lines.join(" ") });
  }
  return out;
}

/** One line that says what a dependency artifact holds: a document's title and sections, a module's API. */
export function describeArtifact(path, text) {
  const name = basename(path);
  if (text === undefined) return `\`${name}\` (not readable on this machine)`;
  const ext = extname(path).toLowerCase();
  if (ext === ".md") {
    const sections = parseSections(text);
    const title = sections.find((s) => s.level === 1)?.heading ?? name;
    const subs = sections.filter((s) => s.level === 2).map((s) => s.heading);
    return `\`${name}\`: “${title}”${subs.length ? `, sections ${subs.map((h) => `“${h}”`).join(", ")}` : ""}`;
  }
  if (ext === ".mjs" || ext === ".js") {
    const api = moduleExports(text).map((e) => `\`${e.name}\``);
    return `\`${name}\`: ES module${api.length ? ` exporting ${api.join(", ")}` : ""}`;
  }
  if (ext === ".sql") {
    const tables = [...text.matchAll(/CREATE TABLE (?:IF NOT EXISTS )?(\w+)/gi)].map((m) => `\`${m[1]}\``);
    return `\`${name}\`: SQL${tables.length ? ` creating ${tables.join(", ")}` : ""}`;
  }
  return `\`${name}\` (${text.length} characters)`;
}

/** Splits `text` at `separator` characters that are outside parentheses and quotes. */
export function splitTopLevel(text, separator) {
  const parts = [];
  let depth = 0;
  let quote = "";
  let cur = "";
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = "";
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === "(") depth++;
    else if (ch === ")") depth--;
    if (ch === separator && depth === 0 && !quote) {
      parts.push(cur.trim());
      cur = "";
    } else cur += ch;
  }
  if (cur.trim()) parts.push(cur.trim());
  return parts;
}

/**
 * Table definitions written in prose as `table NAME (column TYPE constraints, …)`, e.g. in an acceptance
 * criterion. Returns `[{ table, columns: [{ name, type, constraints }] }]`.
 */
export function parseTableDefinitions(text) {
  const tables = [];
  const re = /\btable\s+([a-z_][a-z0-9_]*)\s*\(/gi;
  let m;
  while ((m = re.exec(text))) {
    let depth = 1;
    let i = re.lastIndex;
    for (; i < text.length && depth > 0; i++) {
      if (text[i] === "(") depth++;
      else if (text[i] === ")") depth--;
    }
    const inner = text.slice(re.lastIndex, i - 1);
    re.lastIndex = i;
    const columns = splitTopLevel(inner, ",").map((col) => {
      const [name, type = "", ...rest] = col.split(/\s+/);
      return { name, type: type.toUpperCase(), constraints: rest.join(" ") };
    });
    tables.push({ table: m[1], columns });
  }
  return tables;
}

/** HTTP endpoints named in prose, e.g. `POST /api/checkout/discount validates …` → method, path, purpose. */
export function parseEndpoints(text) {
  return splitTopLevel(text, ";")
    .map((part) => /\b(GET|POST|PUT|PATCH|DELETE)\s+(\/\S+)\s*(.*)$/.exec(part))
    .filter(Boolean)
    .map((m) => ({ method: m[1], path: m[2], purpose: m[3].replace(/\.$/, "") }));
}
