#!/usr/bin/env node
/**
 * code-writer — the example owner agent of code cards (BACKEND, FRONTEND): writes a small ES module from its
 * library (lib/modules.mjs) into the project, with its `node:test` unit tests and a usage document:
 *   src/<module>.mjs   test/<module>.test.mjs   docs/<module>.md
 * (one set of paths per module, so the merges of several code cards never touch the same file).
 *
 * It works in the attempt's git worktree, a checkout of the project with every DONE dependency's work
 * merged in: a module it builds on (e.g. checkout-discount-field on discount-codes) is imported from where
 * that card put it, `./<used>.mjs` beside it in src/; a missing one fails the run, naming the module.
 * The product owner's acceptance specs (examples/acceptance/) are not written into the project: they are
 * the squad's QA check of BACKEND cards, held outside the owner's reach.
 *
 * Which module: `--module <slug>`, else the card description's `Module: \`<slug>\`` line.
 * In a correction it reads the previous attempt's module and the feedback, and lets the library entry
 * choose what to change (e.g. discount-pricing tries another rounding strategy when QA keeps failing, and
 * uses the one a reviewer names in `clarify`).
 */
import { argValue, log, runAgent, sanitize } from "./lib/agent.mjs";
import { moduleExports } from "./lib/markdown.mjs";
import { MODULES } from "./lib/modules.mjs";

/** The module slug of the card: the `--module` arg, else `Module: \`slug\`` in the description. */
function moduleSlug(ctx) {
  const slug =
    argValue(process.argv, "module") ?? /\bmodule:\s*`?([a-z0-9][a-z0-9-]*)`?/i.exec(ctx.card.description)?.[1];
  if (!slug)
    throw new Error(
      `card ${ctx.card.id} names no module: add "Module: \`<slug>\`" to its description or --module to the agent's args`,
    );
  if (!MODULES[slug])
    throw new Error(`card ${ctx.card.id}: unknown module "${slug}" (library: ${Object.keys(MODULES).join(", ")})`);
  return slug;
}

/** Checks that every module the entry builds on is in the project (src/<used>.mjs), where its card put it. */
function checkDependencies(ctx, entry) {
  for (const used of entry.uses) {
    if (!ctx.has(`src/${used}.mjs`)) {
      throw new Error(
        `card ${ctx.card.id} builds on module "${used}", but src/${used}.mjs is not in the project; the card that writes it must be a DONE dependency`,
      );
    }
  }
}

/** Names of the QA checks and rubric criteria the feedback cites, for the revision history. */
function citedChecks(feedback) {
  return [
    ...new Set(feedback.reasons.flatMap((r) => [...r.matchAll(/\b(?:check|criterion)\s+"([^"]+)"/g)].map((m) => m[1]))),
  ];
}

function usageDoc(ctx, slug, entry, source, variant, previousDoc) {
  const intro = ctx.card.description.replace(/^\s*Module:\s*`?[a-z0-9-]+`?\.?\s*/i, "").trim();
  const api = moduleExports(source)
    .map((e) => `- \`${e.name}${e.kind === "function" ? "()" : ""}\`${e.doc ? ` — ${e.doc}` : ""}`)
    .join("\n");
  const parts = [
    `# ${entry.title} (\`${slug}\`)`,
    `Card ${ctx.card.id} · ${ctx.card.type} · backlog \`${ctx.backlogId}\``,
    intro,
    "## Usage",
    `\`\`\`js\n${entry.usage}\n\`\`\``,
    `Tests: \`node --test test/${slug}.test.mjs\` (or \`npm test\` for the whole project).`,
    "## API",
    api,
  ];
  if (entry.notes) parts.push(entry.notes(ctx, variant));
  if (ctx.card.acceptanceCriteria.length) {
    parts.push("## Acceptance criteria", ctx.card.acceptanceCriteria.map((c) => `- ${c}`).join("\n"));
  }
  const history = (/## Revision history\n\n([\s\S]*)$/.exec(previousDoc ?? "")?.[1] ?? "")
    .split("\n")
    .filter((l) => l.startsWith("- "));
  if (ctx.feedback) {
    const checks = citedChecks(ctx.feedback);
    const change =
      variant.previous && variant.rounding && variant.previous !== variant.rounding
        ? `rounding changed from \`${variant.previous}\` to \`${variant.rounding}\``
        : "module regenerated from the card";
    // The debugging agent's first sentence is its diagnosis; the rest is a timeline the history does not need.
    const diagnosis = ctx.feedback.rootCause?.trim().split(/(?<=\.)\s/)[0];
    const cause = diagnosis ? `; debugging agent: ${diagnosis.replace(/\.$/, "")}` : "";
    history.push(
      `- Correction round ${ctx.feedback.round}: ${checks.length ? `failing ${checks.map((c) => `“${c}”`).join(", ")}` : "validator feedback"} — ${change}${cause}.`,
    );
  }
  if (history.length) parts.push("## Revision history", history.join("\n"));
  return `${sanitize(parts.filter(Boolean).join("\n\n"))}\n`;
}

runAgent(async (ctx) => {
  const slug = moduleSlug(ctx);
  const entry = MODULES[slug];
  const srcPath = `src/${slug}.mjs`;
  const docPath = `docs/${slug}.md`;
  const previousSource = ctx.attempt > 1 && ctx.has(srcPath) ? ctx.readOwn(srcPath) : undefined;
  const previousDoc = ctx.attempt > 1 && ctx.has(docPath) ? ctx.readOwn(docPath) : undefined;
  const variant = entry.choose ? entry.choose(ctx, previousSource) : {};
  if (ctx.feedback) {
    log(`feedback round ${ctx.feedback.round}: ${ctx.feedback.reasons.join(" | ")}`);
    if (ctx.feedback.humanContext) log(`reviewer's context: ${ctx.feedback.humanContext}`);
  }
  if (variant.rounding) log(`rounding: ${variant.previous ?? "(none)"} → ${variant.rounding}`);

  checkDependencies(ctx, entry);
  const source = entry.source(ctx, variant);
  const testPath = `test/${slug}.test.mjs`;
  ctx.write(srcPath, source);
  ctx.write(testPath, entry.unitTest(ctx, variant));
  ctx.write(docPath, usageDoc(ctx, slug, entry, source, variant, previousDoc));

  const api = moduleExports(source).map((e) => e.name);
  const what = variant.rounding ? ` with ${variant.rounding} rounding` : "";
  return `${ctx.attempt > 1 ? "Reworked" : "Wrote"} ${srcPath}${what} (exports ${api.join(", ")}), ${testPath} and ${docPath}.`;
});
