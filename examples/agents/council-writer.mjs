#!/usr/bin/env node
/**
 * council-writer — the example council agent (issue 12): an offline, deterministic stand-in for one member
 * of a council deciding an architecture question. `--option <postgres|redis|config>` is the stance it
 * argues for. By the `council.step` of its input (src/activities/agents/command.ts):
 * - `propose` (and a plain owner run, e.g. a correction): writes the decision record
 *   docs/adr/001-discount-code-storage.md for its option — each option's record has a different set of sections;
 * - `critique`: reads the other proposal's diff (in the card's description) and names the sections an
 *   architecture decision record needs that it lacks (`missing section "…"`), as its summary;
 * - `revise`: adds the first missing section its critique named, and a revision-history line;
 * - `choose` (as an architect): picks the first candidate listed (they come best-scored first).
 * Prints `{ artifacts, summary, usage }` (usage from what it read and wrote, lib/agent.mjs).
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { argValue, checkInput, log, usageOf } from "./lib/agent.mjs";

const DOC = "docs/adr/001-discount-code-storage.md";
/** The sections of a decision record, in order. */
const SECTIONS = ["Context", "Decision", "Consequences", "Alternatives considered"];

const CONTEXT = "Checkout must look up a discount code, check its limits and record its redemption once per order.";
const OPTIONS = {
  postgres: {
    Decision:
      "Store discount codes in the PostgreSQL table `discount_codes` beside the orders: durable, and a redemption is one transaction with the order.",
    Consequences: "Codes survive restarts and backups cover them; lookups use the unique index on `code`.",
    "Alternatives considered":
      "A Redis hash (fast, but not durable) and a versioned config file (durable, but marketing cannot edit it).",
  },
  redis: {
    Decision: "Keep discount codes in a Redis hash keyed by code: the fastest lookup at checkout.",
    Consequences: "Codes live in memory; a flush or failover loses them and they must be loaded again.",
    "Alternatives considered": "A PostgreSQL table (slower lookups) and a config file (a deploy per new code).",
  },
  config: {
    Decision: "Ship discount codes as a versioned YAML file in the repository, read at start-up.",
    Consequences: "Every new code is a commit and a deploy; redemptions are counted elsewhere.",
    "Alternatives considered": "A database table and a Redis hash, both editable without a deploy.",
  },
};
/** The sections each option's first proposal has: the council's critiques and revisions fill the gaps. */
const FIRST_DRAFT = {
  postgres: SECTIONS,
  redis: ["Context", "Decision", "Consequences"],
  config: ["Context", "Decision"],
};

function section(option, heading) {
  return `## ${heading}\n\n${heading === "Context" ? CONTEXT : OPTIONS[option][heading]}\n`;
}

async function main() {
  const option = argValue(process.argv, "option");
  if (!OPTIONS[option]) throw new Error(`--option must be one of ${Object.keys(OPTIONS).join(", ")}`);
  const stdin = readFileSync(0, "utf8");
  const input = JSON.parse(stdin);
  checkInput(input);
  const step = input.council?.step ?? "propose";
  let written = "";
  let summary;
  const artifacts = [];
  const write = (text, append = false) => {
    mkdirSync(dirname(DOC), { recursive: true });
    (append ? appendFileSync : writeFileSync)(DOC, text);
    written += text;
    if (!artifacts.includes(DOC)) artifacts.push(DOC);
  };
  if (step === "propose") {
    write(
      `# ADR 001: where discount codes are stored (${option})\n\n${FIRST_DRAFT[option].map((h) => section(option, h)).join("\n")}`,
    );
    summary = `${option}: ${OPTIONS[option].Decision}`;
  } else if (step === "critique") {
    const present = new Set([...input.card.description.matchAll(/^\+## (.+)$/gm)].map((m) => m[1].trim()));
    const missing = SECTIONS.filter((s) => !present.has(s));
    summary = missing.length
      ? missing.map((s) => `missing section "${s}"`).join("; ")
      : `complete: every section of a decision record is there (${option}'s view)`;
  } else if (step === "revise") {
    const reasons = input.feedback?.reasons ?? [];
    const wanted = reasons.flatMap((r) => [...r.matchAll(/missing section "([^"]+)"/g)].map((m) => m[1]));
    const current = existsSync(DOC) ? readFileSync(DOC, "utf8") : "";
    const add = wanted.find((h) => SECTIONS.includes(h) && !current.includes(`## ${h}\n`));
    const history = current.includes("## Revision history") ? "" : "\n## Revision history\n\n";
    write(
      `${add ? `\n${section(option, add)}` : ""}${history}- Round ${input.council.round}: ${add ? `added "${add}"` : "no change asked"} after the council's critique.\n`,
      true,
    );
    summary = add ? `${option}: added the section "${add}"` : `${option}: nothing to add`;
  } else if (step === "choose") {
    const first = /^- ([A-Za-z0-9._-]+): rank 1\b/m.exec(input.card.description)?.[1];
    if (!first) throw new Error("no candidate of rank 1 in the card description");
    summary = JSON.stringify({ winner: first, rationale: `${first} has the best score and a durable design` });
  } else {
    throw new Error(`unknown council step "${step}"`);
  }
  log(`${option}: ${step} done`);
  process.stdout.write(
    `${JSON.stringify({ artifacts, summary, usage: usageOf(stdin.length, written.length + summary.length) })}\n`,
  );
}

main().catch((err) => {
  log(`failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
