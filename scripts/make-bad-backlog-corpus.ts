/**
 * Writes the fixed corpus of malformed backlog files used by `test/proof/corpus.test.ts`:
 * `test/proof/corpus/NNN-<slug>.json` (plus a few separate squad files, `NNN-<slug>.squad.json`) and
 * `test/proof/corpus/index.json`, which records for each file what `loadBacklog` must report — the field path,
 * the card (when the problem is in a card) and substrings of the message.
 *
 * Deterministic (no randomness, no clock): re-running it rewrites the same bytes. Run once and commit the output:
 *   npx tsx scripts/make-bad-backlog-corpus.ts
 * The 10 MB description case is generated at test time instead (too big to commit).
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Where the corpus goes. */
export const CORPUS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../test/proof/corpus");

/** What loading one corpus file must report (one entry of `index.json`). */
export interface CorpusExpectation {
  /** What is wrong, in words. */
  description: string;
  /** Field path of (at least) one issue, exactly as `BacklogIssue.field` (`''` = the whole file). */
  field: string;
  /** The card that issue names (`BacklogIssue.cardId`), when the problem is in a card. */
  cardId?: string;
  /** The file that issue names, when it is not the backlog file itself (a separate squad file). */
  issueFile?: string;
  /** Substrings that issue's message must contain. */
  expect: string[];
  /** A separate squad file to load with the backlog (`loadBacklog(file, { squad })`). */
  squad?: string;
  /** The backlog id `squadflow start` would use: nothing may be started under it. */
  backlogId: string;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

interface Case {
  slug: string;
  description: string;
  /** The file's content: bytes, text, or a JSON value built from a fresh valid backlog `b`. */
  content: (b: Obj) => Json | string | Buffer;
  field: string;
  cardId?: string;
  expect: string[];
  /** A separate squad file's content (JSON value or text); its issues name that file. */
  squad?: (s: Obj) => Json | string;
  /** The expected issue is in the squad file. */
  inSquadFile?: boolean;
}

/** A valid squad: agent `writer` (command) owning card types SPEC and DOC (rubric judges). */
function squad(): Obj {
  return {
    agents: {
      writer: { kind: "command", command: "node", args: ["./examples/agents/doc-writer.mjs"], timeout_ms: 60000 },
    },
    card_types: {
      SPEC: {
        owner: "writer",
        judge: {
          kind: "rubric",
          pass_score: 8,
          criteria: [{ name: "Overview", weight: 1, check: { type: "section", heading: "Overview" } }],
        },
        qa: { checks: [{ name: "unit tests", command: "node", args: ["--test"], timeout_ms: 60000 }] },
      },
      DOC: {
        owner: "writer",
        judge: {
          kind: "rubric",
          criteria: [{ name: "Mentions the API", check: { type: "regex", pattern: "POST /discounts" } }],
        },
      },
    },
    cost_alert_usd: 1,
  };
}

/** A valid card. */
function card(id: string, fields: Obj = {}): Obj {
  return {
    id,
    type: "SPEC",
    title: `Card ${id}`,
    description: "Write it.",
    status: "TODO",
    priority: "MEDIUM",
    dependencies: [],
    ...fields,
  };
}

/** A valid backlog (SPEC-001 ← SPEC-002 ← DOC-001) under `backlogId`. */
function backlog(backlogId: string): Obj {
  return {
    metadata: { backlog_id: backlogId, project: "proof" },
    cards: [
      card("SPEC-001"),
      card("SPEC-002", { dependencies: ["SPEC-001"] }),
      card("DOC-001", { type: "DOC", dependencies: ["SPEC-002"] }),
    ],
    squad: squad(),
  };
}

function cards(b: Obj): Obj[] {
  return b.cards as Obj[];
}
function sq(b: Obj): Obj {
  return b.squad as Obj;
}
function agents(b: Obj): Obj {
  return sq(b).agents as Obj;
}
function spec(b: Obj): Obj {
  return (sq(b).card_types as Obj).SPEC as Obj;
}
function judge(b: Obj): Obj {
  return spec(b).judge as Obj;
}
/** Sets fields of card `i`. */
function setCard(b: Obj, i: number, fields: Obj): Obj {
  Object.assign(cards(b)[i]!, fields);
  return b;
}
/** Deletes a field of card `i`. */
function dropField(b: Obj, i: number, field: string): Obj {
  delete cards(b)[i]![field];
  return b;
}
/** Replaces the cards with `n` chained cards C1 ← C2 ← … ← Cn. */
function chain(b: Obj, n: number): Obj {
  b.cards = Array.from({ length: n }, (_, k) => card(`C${k + 1}`, { dependencies: k === 0 ? [] : [`C${k}`] }));
  return b;
}

const text = (b: Obj) => JSON.stringify(b, null, 2);

/** The UTF-8 bytes of `t` with the first `marker` replaced by raw `bytes` (for invalid UTF-8). */
function splice(t: string, marker: string, bytes: number[]): Buffer {
  const at = t.indexOf(marker);
  return Buffer.concat([Buffer.from(t.slice(0, at)), Buffer.from(bytes), Buffer.from(t.slice(at + marker.length))]);
}

/** Card SPEC-002 (index 1) with `field` set to each wrong-typed value. */
function wrongTypes(field: string, values: [string, Json, string[]][]): Case[] {
  return values.map(([slug, value, expect]) => ({
    slug: `card-${field.replace(/_/g, "-")}-${slug}`,
    description: `card SPEC-002: ${field} is ${JSON.stringify(value)}`,
    content: (b) => setCard(b, 1, { [field]: value }),
    field: `cards[1].${field}`,
    // A card whose id is unusable is named by its id as written if that is a non-empty string, else by position.
    cardId: field !== "id" ? "SPEC-002" : typeof value === "string" && value !== "" ? value : "#2",
    expect,
  }));
}

const CASES: Case[] = [
  // ---- Not JSON, not text ------------------------------------------------------------------------
  { slug: "empty-file", description: "an empty file", content: () => "", field: "", expect: ["not valid JSON"] },
  {
    slug: "whitespace-only",
    description: "only whitespace",
    content: () => " \n\t\n",
    field: "",
    expect: ["not valid JSON"],
  },
  {
    slug: "truncated",
    description: "a valid backlog cut in the middle",
    content: (b) => text(b).slice(0, 200),
    field: "",
    expect: ["not valid JSON"],
  },
  {
    slug: "truncated-after-brace",
    description: "only the opening brace",
    content: () => "{",
    field: "",
    expect: ["not valid JSON"],
  },
  {
    slug: "trailing-comma-array",
    description: "a trailing comma after the last card",
    content: (b) => text(b).replace(/\}\s*\],\s*"squad"/, '},\n  ],\n  "squad"'),
    field: "",
    expect: ["not valid JSON"],
  },
  {
    slug: "trailing-comma-object",
    description: "a trailing comma after the last field of a card",
    content: (b) => text(b).replace('"dependencies": []\n    }', '"dependencies": [],\n    }'),
    field: "",
    expect: ["not valid JSON"],
  },
  {
    slug: "line-comment",
    description: "a // comment (JSONC is not JSON)",
    content: (b) => `// the backlog\n${text(b)}`,
    field: "",
    expect: ["not valid JSON"],
  },
  {
    slug: "block-comment",
    description: "a /* comment */ inside",
    content: (b) => text(b).replace('"cards"', '/* cards */ "cards"'),
    field: "",
    expect: ["not valid JSON"],
  },
  {
    slug: "single-quotes",
    description: "single-quoted strings",
    content: () => "{ 'cards': [] }",
    field: "",
    expect: ["not valid JSON"],
  },
  {
    slug: "unquoted-keys",
    description: "unquoted keys (JavaScript, not JSON)",
    content: () => "{ cards: [] }",
    field: "",
    expect: ["not valid JSON"],
  },
  {
    slug: "nan",
    description: "NaN as a value",
    content: (b) =>
      text(b).replace('"attempt"', '"x": NaN, "attempt"').replace('"priority": "MEDIUM"', '"priority": NaN'),
    field: "",
    expect: ["not valid JSON"],
  },
  {
    slug: "python-literals",
    description: "Python True/None",
    content: () => '{ "cards": [ { "id": "A", "done": True, "owner": None } ] }',
    field: "",
    expect: ["not valid JSON"],
  },
  {
    slug: "two-documents",
    description: "two JSON documents back to back",
    content: (b) => `${text(b)}\n${text(b)}`,
    field: "",
    expect: ["not valid JSON"],
  },
  {
    slug: "yaml",
    description: "YAML instead of JSON",
    content: () => "cards:\n  - id: SPEC-001\n    type: SPEC\n",
    field: "",
    expect: ["not valid JSON"],
  },
  {
    slug: "hex-number",
    description: "a hexadecimal number",
    content: (b) => text(b).replace('"cost_alert_usd": 1', '"cost_alert_usd": 0x10'),
    field: "",
    expect: ["not valid JSON"],
  },
  {
    slug: "nul-byte",
    description: "a NUL byte before the JSON",
    content: (b) => `\u0000${text(b)}`,
    field: "",
    expect: ["not valid JSON"],
  },
  {
    slug: "bom-then-truncated",
    description: "a UTF-8 BOM (accepted) followed by truncated JSON",
    content: (b) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text(b).slice(0, 120))]),
    field: "",
    expect: ["not valid JSON"],
  },
  {
    slug: "utf16le",
    description: "UTF-16LE with its BOM (not UTF-8)",
    content: (b) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text(b), "utf16le")]),
    field: "",
    expect: ["not valid UTF-8"],
  },
  {
    slug: "latin1-title",
    description: 'a Latin-1 "é" (0xE9) in a title',
    content: (b) => Buffer.from(text(setCard(b, 0, { title: "Caf\u00e9 menu" })), "latin1"),
    field: "",
    expect: ["not valid UTF-8"],
  },
  {
    slug: "lone-ff-byte",
    description: "a 0xFF byte in a title",
    content: (b) => splice(text(setCard(b, 1, { title: "Card @" })), "@", [0xff]),
    field: "",
    expect: ["not valid UTF-8"],
  },
  {
    slug: "overlong-utf8",
    description: 'an overlong UTF-8 encoding of "/" (C0 AF)',
    content: (b) => splice(text(setCard(b, 0, { title: "Card @" })), "@", [0xc0, 0xaf]),
    field: "",
    expect: ["not valid UTF-8"],
  },
  {
    slug: "utf8-surrogate",
    description: "a UTF-8 encoded surrogate (ED A0 80)",
    content: (b) => splice(text(setCard(b, 0, { description: "Write @ it." })), "@", [0xed, 0xa0, 0x80]),
    field: "",
    expect: ["not valid UTF-8"],
  },

  // ---- The file's shape ------------------------------------------------------------------------
  {
    slug: "root-array",
    description: "the root is an array",
    content: (b) => [b],
    field: "",
    expect: ["expected object"],
  },
  { slug: "root-null", description: "the root is null", content: () => null, field: "", expect: ["expected object"] },
  {
    slug: "root-string",
    description: "the root is a string",
    content: () => JSON.stringify("cards"),
    field: "",
    expect: ["expected object"],
  },
  {
    slug: "root-number",
    description: "the root is a number",
    content: () => 42,
    field: "",
    expect: ["expected object"],
  },
  { slug: "root-true", description: "the root is true", content: () => true, field: "", expect: ["expected object"] },
  {
    slug: "empty-object",
    description: "an empty object (no cards)",
    content: () => ({}),
    field: "cards",
    expect: ["expected array"],
  },
  {
    slug: "cards-null",
    description: "cards is null",
    content: (b) => ({ ...b, cards: null }),
    field: "cards",
    expect: ["expected array"],
  },
  {
    slug: "cards-object",
    description: "cards is an object keyed by id",
    content: (b) => ({ ...b, cards: { "SPEC-001": cards(b)[0]! } }),
    field: "cards",
    expect: ["expected array"],
  },
  {
    slug: "cards-string",
    description: "cards is a string",
    content: (b) => ({ ...b, cards: "SPEC-001" }),
    field: "cards",
    expect: ["expected array"],
  },
  {
    slug: "cards-empty",
    description: "no cards at all",
    content: (b) => ({ ...b, cards: [] }),
    field: "cards",
    expect: ["no cards"],
  },
  {
    slug: "card-null",
    description: "a card that is null",
    content: (b) => ({ ...b, cards: [null, ...cards(b)] }),
    field: "cards[0]",
    cardId: "#1",
    expect: ["expected object"],
  },
  {
    slug: "card-number",
    description: "a card that is a number",
    content: (b) => ({ ...b, cards: [...cards(b), 7] }),
    field: "cards[3]",
    cardId: "#4",
    expect: ["expected object"],
  },
  {
    slug: "card-string",
    description: "a card that is just its id",
    content: (b) => ({ ...b, cards: ["SPEC-000", ...cards(b)] }),
    field: "cards[0]",
    cardId: "#1",
    expect: ["expected object"],
  },
  {
    slug: "card-array",
    description: "a card that is an array",
    content: (b) => ({ ...b, cards: [cards(b)[0]!, [cards(b)[1]!]] }),
    field: "cards[1]",
    cardId: "#2",
    expect: ["expected object"],
  },
  {
    slug: "metadata-array",
    description: "metadata is an array",
    content: (b) => ({ ...b, metadata: [] }),
    field: "metadata",
    expect: ["expected object"],
  },
  {
    slug: "metadata-string",
    description: "metadata is a string",
    content: (b) => ({ ...b, metadata: "shop" }),
    field: "metadata",
    expect: ["expected object"],
  },
  {
    slug: "backlog-id-number",
    description: "metadata.backlog_id is a number",
    content: (b) => ({ ...b, metadata: { backlog_id: 42 } }),
    field: "metadata.backlog_id",
    expect: ["expected string"],
  },
  {
    slug: "backlog-id-spaces",
    description: "metadata.backlog_id has spaces",
    content: (b) => ({ ...b, metadata: { backlog_id: "shop discounts" } }),
    field: "metadata.backlog_id",
    expect: ["letters, digits"],
  },
  {
    slug: "backlog-id-traversal",
    description: "metadata.backlog_id tries to escape the workspaces",
    content: (b) => ({ ...b, metadata: { backlog_id: "../../etc" } }),
    field: "metadata.backlog_id",
    expect: ["letters, digits"],
  },
  {
    slug: "backlog-id-slash",
    description: 'metadata.backlog_id has a slash (workflow ids use "/")',
    content: (b) => ({ ...b, metadata: { backlog_id: "team/shop" } }),
    field: "metadata.backlog_id",
    expect: ["letters, digits"],
  },
  {
    slug: "backlog-id-empty",
    description: "metadata.backlog_id is empty",
    content: (b) => ({ ...b, metadata: { backlog_id: "" } }),
    field: "metadata.backlog_id",
    expect: ["letters, digits"],
  },
  {
    slug: "backlog-id-too-long",
    description: "metadata.backlog_id has 101 characters",
    content: (b) => ({ ...b, metadata: { backlog_id: "b".repeat(101) } }),
    field: "metadata.backlog_id",
    expect: ["1–100"],
  },
  {
    slug: "project-number",
    description: "metadata.project is a number",
    content: (b) => ({ ...b, metadata: { ...(b.metadata as Obj), project: 5 } }),
    field: "metadata.project",
    expect: ["expected string"],
  },
  {
    slug: "squad-missing",
    description: "no squad section and no squad file",
    content: (b) => {
      delete b.squad;
      return b;
    },
    field: "squad",
    expect: ["missing", "--squad"],
  },
  {
    slug: "squad-string",
    description: "squad is a string",
    content: (b) => ({ ...b, squad: "default" }),
    field: "squad",
    expect: ["expected object"],
  },
  {
    slug: "squad-array",
    description: "squad is an array",
    content: (b) => ({ ...b, squad: [sq(b)] }),
    field: "squad",
    expect: ["expected object"],
  },

  // ---- Missing required card fields ----------------------------------------------------------------
  {
    slug: "card-id-missing",
    description: "card 2 has no id",
    content: (b) => dropField(b, 1, "id"),
    field: "cards[1].id",
    cardId: "#2",
    expect: ["expected string"],
  },
  {
    slug: "card-type-missing",
    description: "SPEC-002 has no type",
    content: (b) => dropField(b, 1, "type"),
    field: "cards[1].type",
    cardId: "SPEC-002",
    expect: ["expected string"],
  },
  {
    slug: "card-title-missing",
    description: "SPEC-002 has no title",
    content: (b) => dropField(b, 1, "title"),
    field: "cards[1].title",
    cardId: "SPEC-002",
    expect: ["expected string"],
  },
  {
    slug: "card-empty-object",
    description: "a card that is {}",
    content: (b) => ({ ...b, cards: [...cards(b), {}] }),
    field: "cards[3].id",
    cardId: "#4",
    expect: ["expected string"],
  },

  // ---- Wrong types and values, field by field ---------------------------------------------------------
  ...wrongTypes("id", [
    ["number", 2, ["expected string"]],
    ["null", null, ["expected string"]],
    ["array", ["SPEC-002"], ["expected string"]],
    ["empty", "", ["letters, digits"]],
    ["spaces", "SPEC 002", ["letters, digits"]],
    ["slash", "SPEC/002", ["letters, digits"]],
    ["traversal", "../SPEC-002", ["letters, digits"]],
    ["too-long", `S${"x".repeat(100)}`, ["1–100"]],
  ]),
  ...wrongTypes("type", [
    ["number", 3, ["expected string"]],
    ["null", null, ["expected string"]],
    ["empty", "", ["Too small"]],
  ]),
  ...wrongTypes("title", [
    ["number", 42, ["expected string"]],
    ["empty", "", ["Too small"]],
    ["array", ["Card"], ["expected string"]],
    ["object", { en: "Card" }, ["expected string"]],
  ]),
  ...wrongTypes("description", [
    ["number", 1, ["expected string"]],
    ["null", null, ["expected string"]],
    ["array", ["line 1", "line 2"], ["expected string"]],
  ]),
  ...wrongTypes("status", [
    ["unknown", "WIP", ['"TODO"', '"DONE"']],
    ["lower-case", "done", ['"DONE"']],
    ["number", 5, ['"TODO"']],
    ["null", null, ['"TODO"']],
  ]),
  ...wrongTypes("priority", [
    ["unknown", "URGENT", ['"CRITICAL"', '"LOW"']],
    ["lower-case", "high", ['"HIGH"']],
    ["number", 1, ['"CRITICAL"']],
    ["null", null, ['"CRITICAL"']],
  ]),
  ...wrongTypes("dependencies", [
    ["string", "SPEC-001", ["expected array"]],
    ["object", { "SPEC-001": true }, ["expected array"]],
    ["null", null, ["expected array"]],
  ]),
  {
    slug: "card-dependencies-number-item",
    description: "SPEC-002 lists a dependency as a number",
    content: (b) => setCard(b, 1, { dependencies: [1] }),
    field: "cards[1].dependencies[0]",
    cardId: "SPEC-002",
    expect: ["expected string"],
  },
  {
    slug: "card-dependencies-null-item",
    description: "SPEC-002 lists null as a dependency",
    content: (b) => setCard(b, 1, { dependencies: ["SPEC-001", null] }),
    field: "cards[1].dependencies[1]",
    cardId: "SPEC-002",
    expect: ["expected string"],
  },
  ...wrongTypes("attempt", [
    ["negative", -1, ["Too small"]],
    ["fraction", 1.5, ["expected int"]],
    ["string", "1", ["expected number"]],
    ["null", null, ["expected number"]],
  ]),
  {
    slug: "card-attempt-infinite",
    description: "SPEC-002 attempt is 1e400 (Infinity once parsed)",
    content: (b) => text(b).replace('"title": "Card SPEC-002",', '"title": "Card SPEC-002", "attempt": 1e400,'),
    field: "cards[1].attempt",
    cardId: "SPEC-002",
    expect: ["expected number"],
  },
  ...wrongTypes("artifacts", [
    ["string", "docs/spec.md", ["expected array"]],
    ["object", { path: "docs/spec.md" }, ["expected array"]],
  ]),
  {
    slug: "card-artifact-number",
    description: "an artifact that is a number",
    content: (b) => setCard(b, 1, { artifacts: [7] }),
    field: "cards[1].artifacts[0]",
    cardId: "SPEC-002",
    expect: ['path string or an object with a "path"'],
  },
  {
    slug: "card-artifact-no-path",
    description: "an artifact object without path",
    content: (b) => setCard(b, 1, { artifacts: [{ name: "spec.md" }] }),
    field: "cards[1].artifacts[0]",
    cardId: "SPEC-002",
    expect: ['path string or an object with a "path"'],
  },
  ...wrongTypes("validation_history", [
    ["string", "passed", ["expected array"]],
    ["object", { attempt: 1 }, ["expected array"]],
  ]),
  {
    slug: "card-validation-history-strings",
    description: "validation_history items that are strings",
    content: (b) => setCard(b, 1, { validation_history: ["passed"] }),
    field: "cards[1].validation_history[0]",
    cardId: "SPEC-002",
    expect: ["expected object"],
  },
  ...wrongTypes("cost_tracking", [
    ["array", [0.5], ["expected object"]],
    ["number", 0.5, ["expected object"]],
  ]),
  {
    slug: "card-cost-negative",
    description: "a negative cost_usd",
    content: (b) => setCard(b, 1, { cost_tracking: { cost_usd: -0.5 } }),
    field: "cards[1].cost_tracking.cost_usd",
    cardId: "SPEC-002",
    expect: ["Too small"],
  },
  {
    slug: "card-cost-string",
    description: "cost_usd as a string",
    content: (b) => setCard(b, 1, { cost_tracking: { cost_usd: "$0.50" } }),
    field: "cards[1].cost_tracking.cost_usd",
    cardId: "SPEC-002",
    expect: ["expected number"],
  },
  {
    slug: "card-tokens-fraction",
    description: "fractional tokens_input",
    content: (b) => setCard(b, 1, { cost_tracking: { tokens_input: 10.5 } }),
    field: "cards[1].cost_tracking.tokens_input",
    cardId: "SPEC-002",
    expect: ["expected int"],
  },
  ...wrongTypes("acceptance_criteria", [["string", "it works", ["expected array"]]]),
  {
    slug: "card-acceptance-criteria-number-item",
    description: "an acceptance criterion that is a number",
    content: (b) => setCard(b, 1, { acceptance_criteria: ["ok", 2] }),
    field: "cards[1].acceptance_criteria[1]",
    cardId: "SPEC-002",
    expect: ["expected string"],
  },
  ...wrongTypes("owner", [
    ["number", 1, ["expected string"]],
    ["empty", "", ["Too small"]],
    ["unknown", "ghost-writer", ['unknown owner agent "ghost-writer"']],
    ["prototype-key", "constructor", ['unknown owner agent "constructor"']],
    ["proto", "__proto__", ['unknown owner agent "__proto__"']],
  ]),
  ...wrongTypes("parent_card", [["number", 1, ["expected string"]]]),
  ...wrongTypes("created_at", [["number", 1700000000, ["expected string"]]]),

  // ---- Artifact paths of legacy cards -----------------------------------------------------------------
  ...(
    [
      ["traversal", "../../etc/passwd", 'contains a ".." segment'],
      ["traversal-deep", "../../../../../../../../etc/shadow", 'contains a ".." segment'],
      ["traversal-inner", "docs/../../../secrets.env", 'contains a ".." segment'],
      ["traversal-backslash", "..\\..\\Windows\\win.ini", 'contains a ".." segment'],
      ["absolute", "/etc/passwd", "is absolute"],
      ["absolute-home", "/home/ana/.ssh/id_rsa", "is absolute"],
      ["windows-drive", "C:\\Windows\\System32\\config\\SAM", "is absolute"],
      ["unc", "\\\\fileserver\\share\\spec.md", "is absolute"],
      ["empty", "", "artifact path is empty"],
      ["nul", "docs/spec.md\u0000.png", "NUL character"],
    ] as const
  ).map(([slug, path, message]): Case => ({
    slug: `artifact-${slug}`,
    description: `DONE card SPEC-001 lists the artifact ${JSON.stringify(path)}`,
    content: (b) => setCard(b, 0, { status: "DONE", artifacts: ["docs/spec.md", path] }),
    field: "cards[0].artifacts[1]",
    cardId: "SPEC-001",
    expect: [message],
  })),
  {
    slug: "artifact-object-traversal",
    description: "an artifact object whose path climbs out",
    content: (b) => setCard(b, 0, { status: "DONE", artifacts: [{ path: "../../../root/.bashrc", sha256: "x" }] }),
    field: "cards[0].artifacts[0].path",
    cardId: "SPEC-001",
    expect: ['"../../../root/.bashrc" contains a ".." segment'],
  },
  {
    slug: "artifact-object-absolute",
    description: "an artifact object with an absolute path",
    content: (b) => setCard(b, 0, { status: "DONE", artifacts: [{ path: "/var/run/secrets/token" }] }),
    field: "cards[0].artifacts[0].path",
    cardId: "SPEC-001",
    expect: ['"/var/run/secrets/token" is absolute'],
  },

  // ---- The dependency graph and references ----------------------------------------------------------
  {
    slug: "duplicate-id",
    description: "two cards named SPEC-001",
    content: (b) => setCard(b, 1, { id: "SPEC-001", dependencies: [] }),
    field: "cards[1].id",
    cardId: "SPEC-001",
    expect: ['duplicate card id "SPEC-001"'],
  },
  {
    slug: "duplicate-id-three-times",
    description: "three cards named SPEC-001",
    content: (b) => ({ ...b, cards: [card("SPEC-001"), card("SPEC-001"), card("SPEC-001")] }),
    field: "cards[2].id",
    cardId: "SPEC-001",
    expect: ['duplicate card id "SPEC-001"'],
  },
  {
    slug: "unknown-dependency",
    description: "SPEC-002 depends on a card not in the file",
    content: (b) => setCard(b, 1, { dependencies: ["SPEC-001", "SPEC-404"] }),
    field: "cards[1].dependencies[1]",
    cardId: "SPEC-002",
    expect: ['unknown dependency "SPEC-404"'],
  },
  {
    slug: "unknown-dependency-empty",
    description: 'SPEC-002 depends on ""',
    content: (b) => setCard(b, 1, { dependencies: [""] }),
    field: "cards[1].dependencies[0]",
    cardId: "SPEC-002",
    expect: ['unknown dependency ""'],
  },
  {
    slug: "unknown-dependency-case",
    description: 'SPEC-002 depends on "spec-001" (ids are case-sensitive)',
    content: (b) => setCard(b, 1, { dependencies: ["spec-001"] }),
    field: "cards[1].dependencies[0]",
    cardId: "SPEC-002",
    expect: ['unknown dependency "spec-001"'],
  },
  {
    slug: "self-dependency",
    description: "SPEC-002 depends on itself",
    content: (b) => setCard(b, 1, { dependencies: ["SPEC-002"] }),
    field: "cards[1].dependencies[0]",
    cardId: "SPEC-002",
    expect: ["cannot depend on itself"],
  },
  {
    slug: "cycle-2",
    description: "SPEC-001 ⇄ SPEC-002",
    content: (b) => setCard(b, 0, { dependencies: ["SPEC-002"] }),
    field: "cards[0].dependencies",
    cardId: "SPEC-001",
    expect: ["dependency cycle: SPEC-001 → SPEC-002 → SPEC-001"],
  },
  {
    slug: "cycle-3",
    description: "SPEC-001 → DOC-001 → SPEC-002 → SPEC-001",
    content: (b) => setCard(b, 0, { dependencies: ["DOC-001"] }),
    field: "cards[0].dependencies",
    cardId: "SPEC-001",
    expect: ["dependency cycle: SPEC-001 → DOC-001 → SPEC-002 → SPEC-001"],
  },
  {
    slug: "cycle-long",
    description: "a 25-card chain whose first card depends on the last",
    content: (b) => {
      chain(b, 25);
      setCard(b, 0, { dependencies: ["C25"] });
      return b;
    },
    field: "cards[0].dependencies",
    cardId: "C1",
    expect: ["dependency cycle: C1 → C25 → C24", "C2 → C1"],
  },
  {
    slug: "cycle-among-valid-cards",
    description: "a 2-cycle between the last two of ten otherwise valid cards",
    content: (b) => {
      chain(b, 10);
      setCard(b, 8, { dependencies: ["C8", "C10"] });
      return b;
    },
    field: "cards[8].dependencies",
    cardId: "C9",
    expect: ["dependency cycle: C9 → C10 → C9"],
  },
  {
    slug: "two-cycles",
    description: "two separate cycles: A ⇄ B and C → D → E → C",
    content: (b) => ({
      ...b,
      cards: [
        card("A", { dependencies: ["B"] }),
        card("B", { dependencies: ["A"] }),
        card("C", { dependencies: ["D"] }),
        card("D", { dependencies: ["E"] }),
        card("E", { dependencies: ["C"] }),
      ],
    }),
    field: "cards[2].dependencies",
    cardId: "C",
    expect: ["dependency cycle: C → D → E → C"],
  },
  {
    slug: "cycle-with-schema-error",
    description: "a cycle in a file that also has a schema error (both reported)",
    content: (b) => setCard(setCard(b, 0, { dependencies: ["SPEC-002"] }), 2, { priority: "ASAP" }),
    field: "cards[0].dependencies",
    cardId: "SPEC-001",
    expect: ["dependency cycle: SPEC-001 → SPEC-002 → SPEC-001"],
  },
  {
    slug: "depends-on-correction-card",
    description: "a card depends on a legacy CORRECTION card, which never runs",
    content: (b) => ({
      ...b,
      cards: [
        card("SPEC-001"),
        card("SPEC-001-CORR-1", { type: "CORRECTION", parent_card: "SPEC-001", status: "DONE" }),
        card("SPEC-002", { dependencies: ["SPEC-001-CORR-1"] }),
      ],
    }),
    field: "cards[2].dependencies[0]",
    cardId: "SPEC-002",
    expect: ['"SPEC-001-CORR-1" is a legacy CORRECTION card', 'depend on its parent "SPEC-001"'],
  },
  {
    slug: "correction-without-parent",
    description: "a CORRECTION card without parent_card",
    content: (b) => ({ ...b, cards: [...cards(b), card("SPEC-001-CORR-1", { type: "CORRECTION", status: "DONE" })] }),
    field: "cards[3].parent_card",
    cardId: "SPEC-001-CORR-1",
    expect: ["must name its parent_card"],
  },
  {
    slug: "correction-unknown-parent",
    description: "a CORRECTION card whose parent is not in the file",
    content: (b) => ({
      ...b,
      cards: [...cards(b), card("SPEC-009-CORR-1", { type: "CORRECTION", parent_card: "SPEC-009" })],
    }),
    field: "cards[3].parent_card",
    cardId: "SPEC-009-CORR-1",
    expect: ['unknown parent card "SPEC-009"'],
  },
  {
    slug: "unknown-card-type",
    description: "a card type the squad does not define",
    content: (b) => setCard(b, 1, { type: "QA" }),
    field: "cards[1].type",
    cardId: "SPEC-002",
    expect: ['unknown card type "QA"', "SPEC, DOC"],
  },
  {
    slug: "unknown-card-type-case",
    description: 'card type "spec" (types are case-sensitive)',
    content: (b) => setCard(b, 1, { type: "spec" }),
    field: "cards[1].type",
    cardId: "SPEC-002",
    expect: ['unknown card type "spec"'],
  },
  {
    slug: "card-type-prototype-key",
    description: 'card type "constructor" (an Object.prototype key)',
    content: (b) => setCard(b, 1, { type: "constructor" }),
    field: "cards[1].type",
    cardId: "SPEC-002",
    expect: ['unknown card type "constructor"'],
  },
  {
    slug: "card-type-tostring",
    description: 'card type "toString"',
    content: (b) => setCard(b, 1, { type: "toString" }),
    field: "cards[1].type",
    cardId: "SPEC-002",
    expect: ['unknown card type "toString"'],
  },

  // ---- The squad ---------------------------------------------------------------------------------------
  {
    slug: "squad-agent-unknown-kind",
    description: "an agent of an unknown kind",
    content: (b) => {
      agents(b).writer = { kind: "telepathy", command: "node" };
      return b;
    },
    field: "squad.agents.writer.kind",
    expect: ["Invalid discriminator value", "'command'"],
  },
  {
    slug: "squad-agent-no-kind",
    description: "an agent without kind",
    content: (b) => {
      agents(b).writer = { command: "node" };
      return b;
    },
    field: "squad.agents.writer.kind",
    expect: ["Invalid discriminator value", "'command'"],
  },
  {
    slug: "squad-agent-no-command",
    description: "a command agent without command",
    content: (b) => {
      agents(b).writer = { kind: "command" };
      return b;
    },
    field: "squad.agents.writer.command",
    expect: ["expected string"],
  },
  {
    slug: "squad-agent-empty-command",
    description: "a command agent with an empty command",
    content: (b) => {
      agents(b).writer = { kind: "command", command: "" };
      return b;
    },
    field: "squad.agents.writer.command",
    expect: ["Too small"],
  },
  {
    slug: "squad-agent-negative-timeout",
    description: "a negative agent timeout",
    content: (b) => {
      (agents(b).writer as Obj).timeout_ms = -1000;
      return b;
    },
    field: "squad.agents.writer.timeout_ms",
    expect: ["Too small"],
  },
  {
    slug: "squad-agent-zero-timeout",
    description: "a zero agent timeout",
    content: (b) => {
      (agents(b).writer as Obj).timeout_ms = 0;
      return b;
    },
    field: "squad.agents.writer.timeout_ms",
    expect: ["Too small"],
  },
  {
    slug: "squad-agent-fraction-timeout",
    description: "a fractional agent timeout",
    content: (b) => {
      (agents(b).writer as Obj).timeout_ms = 1.5;
      return b;
    },
    field: "squad.agents.writer.timeout_ms",
    expect: ["expected int"],
  },
  {
    slug: "squad-agent-timeout-string",
    description: 'an agent timeout given as "10m"',
    content: (b) => {
      (agents(b).writer as Obj).timeout_ms = "10m";
      return b;
    },
    field: "squad.agents.writer.timeout_ms",
    expect: ["expected number"],
  },
  {
    slug: "squad-agent-args-string",
    description: "agent args as one string",
    content: (b) => {
      (agents(b).writer as Obj).args = "./agent.mjs --fast";
      return b;
    },
    field: "squad.agents.writer.args",
    expect: ["expected array"],
  },
  {
    slug: "squad-agent-env-number",
    description: "an agent env value that is a number",
    content: (b) => {
      (agents(b).writer as Obj).env = { WORKERS: 4 };
      return b;
    },
    field: "squad.agents.writer.env.WORKERS",
    expect: ["expected string"],
  },
  {
    slug: "squad-agents-array",
    description: "squad.agents is an array",
    content: (b) => {
      sq(b).agents = [agents(b).writer!];
      return b;
    },
    field: "squad.agents",
    expect: ["expected record"],
  },
  {
    slug: "squad-card-types-array",
    description: "squad.card_types is an array",
    content: (b) => {
      sq(b).card_types = [spec(b)];
      return b;
    },
    field: "squad.card_types",
    expect: ["expected record"],
  },
  {
    slug: "squad-type-owner-unknown",
    description: "a card type owned by an agent that does not exist",
    content: (b) => {
      spec(b).owner = "architect";
      return b;
    },
    field: "squad.card_types.SPEC.owner",
    expect: ['unknown owner agent "architect"', "agents: writer"],
  },
  {
    slug: "squad-type-owner-prototype-key",
    description: 'a card type owned by "toString"',
    content: (b) => {
      spec(b).owner = "toString";
      return b;
    },
    field: "squad.card_types.SPEC.owner",
    expect: ['unknown owner agent "toString"'],
  },
  {
    slug: "squad-type-no-judge",
    description: "a card type without judge",
    content: (b) => {
      delete spec(b).judge;
      return b;
    },
    field: "squad.card_types.SPEC.judge",
    expect: ["expected object"],
  },
  {
    slug: "squad-judge-unknown-kind",
    description: "a judge of an unknown kind",
    content: (b) => {
      judge(b).kind = "oracle";
      return b;
    },
    field: "squad.card_types.SPEC.judge.kind",
    expect: ["Invalid discriminator value", "'rubric'"],
  },
  {
    slug: "squad-judge-pass-score-11",
    description: "judge pass_score 11 (scores are 0–10)",
    content: (b) => {
      judge(b).pass_score = 11;
      return b;
    },
    field: "squad.card_types.SPEC.judge.pass_score",
    expect: ["Too big", "10"],
  },
  {
    slug: "squad-judge-pass-score-negative",
    description: "judge pass_score -1",
    content: (b) => {
      judge(b).pass_score = -1;
      return b;
    },
    field: "squad.card_types.SPEC.judge.pass_score",
    expect: ["Too small"],
  },
  {
    slug: "squad-judge-no-criteria",
    description: "a rubric without criteria",
    content: (b) => {
      judge(b).criteria = [];
      return b;
    },
    field: "squad.card_types.SPEC.judge.criteria",
    expect: ["Too small"],
  },
  {
    slug: "squad-criterion-zero-weight",
    description: "a criterion of weight 0",
    content: (b) => {
      (judge(b).criteria as Obj[])[0]!.weight = 0;
      return b;
    },
    field: "squad.card_types.SPEC.judge.criteria[0].weight",
    expect: ["Too small"],
  },
  {
    slug: "squad-criterion-unknown-check",
    description: "a criterion check of an unknown type",
    content: (b) => {
      (judge(b).criteria as Obj[])[0]!.check = { type: "vibes" };
      return b;
    },
    field: "squad.card_types.SPEC.judge.criteria[0].check.type",
    expect: ["Invalid discriminator value", "'section'"],
  },
  {
    slug: "squad-invalid-regex",
    description: "a rubric regex that does not compile",
    content: (b) => {
      (judge(b).criteria as Obj[])[0]!.check = { type: "regex", pattern: "POST /discounts([" };
      return b;
    },
    field: "squad.card_types.SPEC.judge.criteria[0].check.pattern",
    expect: ["invalid regular expression"],
  },
  {
    slug: "squad-invalid-regex-quantifier",
    description: "a rubric regex with a dangling quantifier",
    content: (b) => {
      (((sq(b).card_types as Obj).DOC as Obj).judge as Obj).criteria = [
        { name: "x", check: { type: "regex", pattern: "*discount" } },
      ];
      return b;
    },
    field: "squad.card_types.DOC.judge.criteria[0].check.pattern",
    expect: ["invalid regular expression"],
  },
  {
    slug: "squad-qa-negative-timeout",
    description: "a QA check with a negative timeout",
    content: (b) => {
      ((spec(b).qa as Obj).checks as Obj[])[0]!.timeout_ms = -1;
      return b;
    },
    field: "squad.card_types.SPEC.qa.checks[0].timeout_ms",
    expect: ["Too small"],
  },
  {
    slug: "squad-qa-checks-object",
    description: "QA checks as an object",
    content: (b) => {
      (spec(b).qa as Obj).checks = { unit: "node --test" };
      return b;
    },
    field: "squad.card_types.SPEC.qa.checks",
    expect: ["expected array"],
  },
  {
    slug: "squad-evidence-empty-glob",
    description: "an empty required_evidence glob",
    content: (b) => {
      spec(b).verification = { required_evidence: [""] };
      return b;
    },
    field: "squad.card_types.SPEC.verification.required_evidence[0]",
    expect: ["Too small"],
  },
  {
    slug: "squad-cost-alert-negative",
    description: "a negative cost_alert_usd",
    content: (b) => {
      sq(b).cost_alert_usd = -1;
      return b;
    },
    field: "squad.cost_alert_usd",
    expect: ["Too small"],
  },
  {
    slug: "squad-cost-alert-string",
    description: 'cost_alert_usd as "$1"',
    content: (b) => {
      sq(b).cost_alert_usd = "$1";
      return b;
    },
    field: "squad.cost_alert_usd",
    expect: ["expected number"],
  },

  // ---- A separate squad file (--squad): its issues name that file ------------------------------------------
  {
    slug: "squad-file-invalid-regex",
    description: "a separate squad file with an invalid rubric regex",
    content: (b) => {
      delete b.squad;
      return b;
    },
    squad: (s) => {
      ((((s.card_types as Obj).SPEC as Obj).judge as Obj).criteria as Obj[])[0]!.check = {
        type: "regex",
        pattern: "(unclosed",
      };
      return s;
    },
    inSquadFile: true,
    field: "card_types.SPEC.judge.criteria[0].check.pattern",
    expect: ["invalid regular expression"],
  },
  {
    slug: "squad-file-not-json",
    description: "a separate squad file that is not JSON",
    content: (b) => {
      delete b.squad;
      return b;
    },
    squad: () => "agents:\n  writer: {}\n",
    inSquadFile: true,
    field: "",
    expect: ["not valid JSON"],
  },
  {
    slug: "squad-file-pass-score",
    description: "a separate squad file with judge pass_score 11",
    content: (b) => {
      delete b.squad;
      return b;
    },
    squad: (s) => {
      (((s.card_types as Obj).SPEC as Obj).judge as Obj).pass_score = 11;
      return s;
    },
    inSquadFile: true,
    field: "card_types.SPEC.judge.pass_score",
    expect: ["Too big"],
  },
];

/** Writes the corpus; returns the index. Removes files of an earlier run first. */
export function writeCorpus(dir = CORPUS_DIR): Record<string, CorpusExpectation> {
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) if (f.endsWith(".json")) rmSync(join(dir, f));
  const index: Record<string, CorpusExpectation> = {};
  CASES.forEach((c, i) => {
    const name = `${String(i + 1).padStart(3, "0")}-${c.slug}`;
    const backlogId = `proof-bad-${String(i + 1).padStart(3, "0")}`;
    const content = c.content(backlog(backlogId));
    const bytes = Buffer.isBuffer(content)
      ? content
      : Buffer.from(typeof content === "string" ? content : JSON.stringify(content, null, 2));
    writeFileSync(join(dir, `${name}.json`), bytes);
    // The id `squadflow start` would use: metadata.backlog_id when the file has a usable one, else the file name.
    let id = name;
    try {
      const meta = (JSON.parse(bytes.toString("utf8")) as Obj | null)?.metadata as Obj | undefined;
      if (meta && typeof meta.backlog_id === "string" && /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(meta.backlog_id))
        id = meta.backlog_id;
    } catch {
      // not JSON: the file name it is
    }
    const entry: CorpusExpectation = { description: c.description, field: c.field, expect: c.expect, backlogId: id };
    if (c.cardId !== undefined) entry.cardId = c.cardId;
    if (c.squad) {
      const squadName = `${name}.squad.json`;
      const s = c.squad(squad());
      writeFileSync(join(dir, squadName), typeof s === "string" ? s : JSON.stringify(s, null, 2));
      entry.squad = squadName;
      if (c.inSquadFile) entry.issueFile = squadName;
    }
    index[`${name}.json`] = entry;
  });
  writeFileSync(join(dir, "index.json"), `${JSON.stringify(index, null, 2)}\n`);
  return index;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const index = writeCorpus();
  console.log(`wrote ${Object.keys(index).length} malformed backlogs to ${CORPUS_DIR}`);
}
