#!/usr/bin/env node
/**
 * infra-writer — the example owner agent of INFRA cards: writes a reversible SQL schema migration from the
 * data model documented upstream. It reads the dependencies' markdown artifacts, finds the "Data model"
 * tables (`### Table \`name\`` followed by a Column | Type | Constraints table, as the doc-writer writes
 * them) — or `table name (column TYPE …)` definitions in its own card — and the indexes its card asks for
 * (`Index on table(column)`), then writes:
 *   migrations/001_<first table>.up.sql    CREATE TABLE / CREATE INDEX, in one transaction
 *   migrations/001_<first table>.down.sql  DROP in reverse order, in one transaction
 *   test/migration.test.mjs                node:test checks of both files against the data model, and a real
 *                                          up → insert → down run on SQLite where `node:sqlite` exists
 */
import { basename } from "node:path";
import { log, runAgent, sanitize } from "./lib/agent.mjs";
import { parseSections, parseTableDefinitions } from "./lib/markdown.mjs";

const SQL_KEYWORDS = new Set([
  "primary",
  "key",
  "not",
  "null",
  "default",
  "references",
  "unique",
  "check",
  "in",
  "and",
  "or",
  "autoincrement",
]);

/** Constraint prose in SQL: keywords upper-cased, identifiers and quoted literals kept. */
function sqlConstraints(text) {
  if (!text || text === "—") return "";
  return text.replace(/'[^']*'|[A-Za-z_]+/g, (tok) => (SQL_KEYWORDS.has(tok.toLowerCase()) ? tok.toUpperCase() : tok));
}

/** Tables documented in markdown: `### Table \`name\`` sections holding a Column | Type | Constraints table. */
function tablesFromMarkdown(markdown) {
  const tables = [];
  for (const s of parseSections(markdown)) {
    const name = /^Table `(\w+)`$/.exec(s.heading)?.[1];
    if (!name) continue;
    const columns = s.body
      .split("\n")
      .filter((l) => /^\|/.test(l) && !/^\|\s*-/.test(l))
      .slice(1)
      .map((l) =>
        l
          .split("|")
          .slice(1, -1)
          .map((c) => c.trim().replace(/^`|`$/g, "")),
      )
      .map(([colName, type, constraints]) => ({
        name: colName,
        type: type.toUpperCase(),
        constraints: constraints === "—" ? "" : constraints,
      }));
    tables.push({ table: name, columns });
  }
  return tables;
}

/** Indexes a card asks for: `index on table(col, …)`, optionally `unique index on …`. */
function requestedIndexes(text) {
  return [...text.matchAll(/\b(unique\s+)?index\s+on\s+([a-z_]\w*)\s*\(([\w\s,]+)\)/gi)].map((m) => {
    const columns = m[3].split(",").map((c) => c.trim());
    return { unique: !!m[1], table: m[2], columns, name: `idx_${m[2]}_${columns.join("_")}` };
  });
}

function upSql(ctx, source, tables, indexes) {
  const lines = [
    `-- Up migration: the data model of ${source}.`,
    `-- Card ${ctx.card.id} (${ctx.card.title}) of backlog ${ctx.backlogId}.`,
    "BEGIN;",
    "",
  ];
  for (const t of tables) {
    lines.push(`CREATE TABLE ${t.table} (`);
    lines.push(
      t.columns
        .map((c) => `  ${[c.name, c.type, sqlConstraints(c.constraints)].filter(Boolean).join(" ")}`)
        .join(",\n"),
    );
    lines.push(");", "");
  }
  for (const i of indexes)
    lines.push(`CREATE ${i.unique ? "UNIQUE " : ""}INDEX ${i.name} ON ${i.table} (${i.columns.join(", ")});`, "");
  lines.push("COMMIT;");
  return `${lines.join("\n")}\n`;
}

function downSql(ctx, tables, indexes) {
  const lines = [
    `-- Down migration: drops what the up migration creates, in reverse order.`,
    `-- Card ${ctx.card.id} of backlog ${ctx.backlogId}.`,
    "BEGIN;",
    "",
  ];
  for (const i of [...indexes].reverse()) lines.push(`DROP INDEX IF EXISTS ${i.name};`);
  for (const t of [...tables].reverse()) lines.push(`DROP TABLE IF EXISTS ${t.table};`);
  lines.push("", "COMMIT;");
  return `${lines.join("\n")}\n`;
}

/** A row of test values for each table, respecting types, checks and the foreign keys between the tables. */
function sampleRows(tables) {
  const rows = {};
  for (const t of tables) {
    const row = {};
    for (const c of t.columns) {
      const checkIn = /check\s*\(\s*\w+\s+in\s*\(\s*'([^']*)'/i.exec(c.constraints)?.[1];
      const ref = /references\s+(\w+)\s*\(\s*(\w+)\s*\)/i.exec(c.constraints);
      if (ref && rows[ref[1]]) row[c.name] = rows[ref[1]][ref[2]];
      else if (checkIn !== undefined) row[c.name] = checkIn;
      else if (c.type.startsWith("INT")) row[c.name] = 10;
      else if (/_at$/.test(c.name)) row[c.name] = "2025-03-15T12:00:00Z";
      else row[c.name] = `${c.name.toUpperCase().replace(/_/g, "-")}-1`;
    }
    rows[t.table] = row;
  }
  return rows;
}

function migrationTest(ctx, name, tables, indexes) {
  const schema = JSON.stringify(
    tables.map((t) => ({ table: t.table, columns: t.columns.map((c) => c.name) })),
    null,
    2,
  );
  return `// Checks of migration ${name} (card ${ctx.card.id}) against the documented data model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const up = readFileSync(new URL('../migrations/${name}.up.sql', import.meta.url), 'utf8');
const down = readFileSync(new URL('../migrations/${name}.down.sql', import.meta.url), 'utf8');

/** The data model the migration must create: tables and their columns. */
const SCHEMA = ${schema};
const INDEXES = ${JSON.stringify(indexes.map((i) => i.name))};
const SAMPLE_ROWS = ${JSON.stringify(sampleRows(tables), null, 2)};

/** Column names of each CREATE TABLE in a script. */
function createdTables(sql) {
  const out = {};
  for (const m of sql.matchAll(/CREATE TABLE (\\w+) \\(([\\s\\S]*?)\\n\\);/g)) {
    out[m[1]] = m[2].split('\\n').map((l) => l.trim().split(/\\s+/)[0]).filter(Boolean);
  }
  return out;
}

test('the up migration creates every table and column of the data model', () => {
  const created = createdTables(up);
  for (const { table, columns } of SCHEMA) assert.deepEqual(created[table], columns, table);
});

test('the up migration creates the requested indexes', () => {
  for (const index of INDEXES) assert.match(up, new RegExp('^CREATE (UNIQUE )?INDEX ' + index + ' ', 'm'));
});

test('the down migration drops every index and table, in reverse order of creation', () => {
  const drops = [...down.matchAll(/^DROP (?:TABLE|INDEX) IF EXISTS (\\w+);$/gm)].map((m) => m[1]);
  assert.deepEqual(drops, [...INDEXES].reverse().concat(SCHEMA.map((t) => t.table).reverse()));
});

test('each migration runs in one transaction', () => {
  for (const sql of [up, down]) {
    assert.match(sql, /^BEGIN;$/m);
    assert.match(sql, /^COMMIT;$/m);
    assert.ok(sql.indexOf('BEGIN;') < sql.indexOf('COMMIT;'));
  }
});

test('up, insert and down run for real on SQLite', async (t) => {
  let sqlite;
  try {
    sqlite = await import('node:sqlite');
  } catch {
    t.skip('node:sqlite is not available in this Node version');
    return;
  }
  const db = new sqlite.DatabaseSync(':memory:');
  db.exec('PRAGMA foreign_keys = ON;');
  db.exec(up);
  for (const { table } of SCHEMA) {
    const row = SAMPLE_ROWS[table];
    const names = Object.keys(row);
    db.prepare('INSERT INTO ' + table + ' (' + names.join(', ') + ') VALUES (' + names.map(() => '?').join(', ') + ')').run(
      ...names.map((n) => row[n]),
    );
    assert.equal(db.prepare('SELECT COUNT(*) AS n FROM ' + table).get().n, 1, table);
  }
  db.exec(down);
  const left = db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%'").all();
  assert.deepEqual(left, []);
  db.close();
});
`;
}

runAgent(async (ctx) => {
  let tables = [];
  let source = "";
  for (const f of ctx.dependencyFiles().filter((x) => x.path.endsWith(".md"))) {
    const text = ctx.readAbsolute(f.path);
    const found = text ? tablesFromMarkdown(text) : [];
    if (found.length) {
      tables = found;
      source = `${f.cardId}'s ${basename(f.path)}`;
      break;
    }
  }
  const ownText = [ctx.card.description, ...ctx.card.acceptanceCriteria].join("\n");
  if (tables.length === 0) {
    tables = parseTableDefinitions(ownText);
    source = `card ${ctx.card.id}`;
  }
  if (tables.length === 0) {
    throw new Error(
      `card ${ctx.card.id}: no data model found — neither "### Table \`name\`" tables in the dependencies' documents nor "table name (…)" in the card`,
    );
  }
  const known = new Set(tables.map((t) => t.table));
  const indexes = requestedIndexes(ownText).filter((i) => known.has(i.table));
  log(
    `data model from ${source}: ${tables.map((t) => `${t.table}(${t.columns.length})`).join(", ")}; indexes: ${indexes.map((i) => i.name).join(", ") || "none"}`,
  );

  const name = `001_${tables[0].table}`;
  ctx.write(`migrations/${name}.up.sql`, sanitize(upSql(ctx, source, tables, indexes)));
  ctx.write(`migrations/${name}.down.sql`, sanitize(downSql(ctx, tables, indexes)));
  ctx.write("test/migration.test.mjs", migrationTest(ctx, name, tables, indexes));
  return `Wrote migration ${name} (${tables.length} tables, ${indexes.length} indexes, from ${source}) and its checks.`;
});
