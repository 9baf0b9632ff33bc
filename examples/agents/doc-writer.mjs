#!/usr/bin/env node
/**
 * doc-writer — the example owner agent of document cards (SPEC, ARCHITECTURE, DOCS): writes one markdown
 * document from the card. Every acceptance criterion becomes a section (`Heading: detail` → `## Heading`),
 * with content built from the criterion (tables of columns, endpoint tables, rule lists), the card's
 * description and the dependencies' artifacts (documents and modules are read, summarized and quoted where
 * they relate).
 *
 * In a correction it reworks its previous document (the worktree continues the last attempt's branch): sections
 * the feedback asks for (`criterion "Rollback plan" not met: no section "Rollback plan" …`) are added with
 * real content derived from the card and its dependencies, sections added in earlier rounds are kept, and a
 * revision history says what changed and why.
 *
 * Args: `--out <path>` overrides the document path (default by card type: docs/spec.md,
 * docs/architecture.md, docs/test-plan.md, else docs/<title-slug>.md).
 */
import { basename } from "node:path";
import { argValue, log, requestedSections, runAgent, sanitize, slugify } from "./lib/agent.mjs";
import {
  describeArtifact,
  firstParagraph,
  mdTable,
  overlap,
  parseEndpoints,
  parseSections,
  parseTableDefinitions,
  splitTopLevel,
} from "./lib/markdown.mjs";

const OUT_BY_TYPE = { SPEC: "docs/spec.md", ARCHITECTURE: "docs/architecture.md", QA: "docs/test-plan.md" };

/** Headings the document always has; anything else found in a previous version was added by a correction. */
const FIXED_HEADINGS = ["Context", "Acceptance criteria", "Revision history"];

/** `Heading: detail` → `{ heading, detail, text }`; a criterion without a short lead-in gets one made up. */
function parseCriterion(text) {
  const m = /^([A-Z][^:]{0,40}):\s+(.+)$/s.exec(text.trim());
  if (m && m[1].split(/\s+/).length <= 5) return { heading: m[1].trim(), detail: m[2].trim(), text };
  const words = text
    .trim()
    .split(/\s+/)
    .slice(0, 6)
    .join(" ")
    .replace(/[,.;:]$/, "");
  return { heading: words.charAt(0).toUpperCase() + words.slice(1), detail: text.trim(), text };
}

function capitalize(s) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function sentence(s) {
  // Identifiers (normalizeCode, order_id) keep their case.
  const t = /^[a-z]+[_A-Z]/.test(s.trim()) ? s.trim() : capitalize(s.trim());
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

/** Dependency artifacts, read: `{ cardId, path, name, text, sections, exports }`. */
function readDependencies(ctx) {
  return ctx.dependencyFiles().map(({ cardId, path }) => {
    const text = ctx.readAbsolute(path);
    const isMd = path.endsWith(".md");
    const isJs = /\.m?js$/.test(path);
    return {
      cardId,
      path,
      name: basename(path),
      text,
      sections: text !== undefined && isMd ? parseSections(text) : [],
      strings: text !== undefined && isJs ? stringTables(text) : [],
    };
  });
}

/** Exported frozen objects of string values, e.g. a module's user-facing messages. */
function stringTables(source) {
  const out = [];
  const re = /\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*export const (\w+) = Object\.freeze\(\{([\s\S]*?)\}\);/g;
  for (const m of source.matchAll(re)) {
    const entries = [...m[3].matchAll(/(\w+):\s*'((?:[^'\\]|\\.)*)'/g)].map((e) => [e[1], e[2].replace(/\\'/g, "'")]);
    const doc = m[1]
      .replace(/^\s*\*\s?/gm, " ")
      .replace(/\s+/g, " ")
      .trim();
    if (entries.length) out.push({ name: m[2], doc, entries });
  }
  return out;
}

/** Everything the topic writers can draw on: the card's own text and its dependencies' documents. */
function gatherFacts(ctx, criteria, deps) {
  const ownText = [ctx.card.description, ...ctx.card.acceptanceCriteria].join("\n");
  const depText = deps.map((d) => d.text ?? "").join("\n");
  const tables = parseTableDefinitions(ownText);
  if (tables.length === 0) {
    // A data model documented upstream as "### Table `name`" tables.
    for (const d of deps) {
      for (const s of d.sections) {
        const t = /^Table `(\w+)`$/.exec(s.heading);
        if (t) tables.push({ table: t[1], columns: [] });
      }
    }
  }
  const flags = [...new Set([...`${ownText}\n${depText}`.matchAll(/feature flag `([^`]+)`/gi)].map((m) => m[1]))];
  const components = criteria
    .filter((c) => /component/i.test(c.heading))
    .flatMap((c) => splitTopLevel(c.detail, ";"))
    .map((part) => /^([a-z][a-z0-9]*(?:-[a-z0-9]+)+|the [a-z-]+ service)\b/i.exec(part.trim())?.[1])
    .filter(Boolean);
  const endpoints = criteria.filter((c) => /\bapi\b/i.test(c.heading)).flatMap((c) => parseEndpoints(c.detail));
  return { tables, flags, components, endpoints };
}

/** The prose blocks of a section body: paragraphs and list items, each on one line (tables and code skipped). */
function proseBlocks(body) {
  const blocks = [];
  let fenced = false;
  for (const raw of body.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("```")) fenced = !fenced;
    if (fenced || line.startsWith("```") || line.startsWith("|") || line.startsWith(">") || line.startsWith("#"))
      continue;
    if (!line) blocks.push("");
    else if (/^([-*]|\d+\.)\s/.test(line) || blocks.length === 0 || blocks[blocks.length - 1] === "") blocks.push(line);
    else blocks[blocks.length - 1] += ` ${line}`;
  }
  return blocks.filter(Boolean);
}

/**
 * Related passages of the dependencies' documents for a piece of text: at most two, best first, each
 * dependency section quoted once per document (`used` remembers them).
 */
function relatedPassages(text, deps, used, minShared = 2) {
  const found = [];
  for (const d of deps) {
    let best;
    for (const s of d.sections) {
      if (s.level < 2 || FIXED_HEADINGS.includes(s.heading) || !s.body || used.has(s)) continue;
      const score = overlap(text, `${s.heading} ${s.body}`);
      if (score >= minShared && (!best || score > best.score)) best = { score, dep: d, section: s };
    }
    if (best) found.push(best);
  }
  return found
    .sort((a, b) => b.score - a.score)
    .slice(0, 2)
    .map(({ dep, section }) => {
      used.add(section);
      const quoted = proseBlocks(section.body).slice(0, 3);
      return [
        `From ${dep.cardId} (\`${dep.name}\`, “${section.heading}”):`,
        "",
        quoted.map((l) => `> ${l}`).join("\n>\n"),
      ].join("\n");
    });
}

/**
 * User-facing string tables of dependency modules that relate to the text, as markdown tables; each table
 * is shown once per document (`used` remembers the ones already shown).
 */
function relatedStringTables(text, deps, used) {
  return deps.flatMap((d) =>
    d.strings
      .filter((t) => !used.has(t) && overlap(text, `${t.doc} ${t.name.replace(/([a-z])([A-Z])/g, "$1 $2")}`) >= 1)
      .map((t) => {
        used.add(t);
        const title = `${t.doc.replace(/\.$/, "")} (\`${t.name}\` in ${d.cardId}'s \`${d.name}\`):`;
        return [
          title,
          "",
          mdTable(
            ["Case", "Text"],
            t.entries.map(([k, v]) => [`\`${k}\``, v]),
          ),
        ].join("\n");
      }),
  );
}

function bulletsOrParagraph(detail) {
  const parts = splitTopLevel(detail, ";");
  return parts.length > 1 ? parts.map((p) => `- ${sentence(p)}`).join("\n") : sentence(detail);
}

/** Body of a section built from an acceptance criterion. */
function criterionBody(c, deps, used) {
  const blocks = [];
  if (/data model/i.test(c.heading)) {
    const tables = parseTableDefinitions(c.detail);
    if (tables.length) {
      blocks.push(
        `The feature adds ${tables.length} table${tables.length > 1 ? "s" : ""}; amounts are integer cents, times ISO-8601 text in UTC.`,
      );
      for (const t of tables) {
        blocks.push(
          `### Table \`${t.table}\``,
          mdTable(
            ["Column", "Type", "Constraints"],
            t.columns.map((col) => [`\`${col.name}\``, col.type, col.constraints || "—"]),
          ),
        );
      }
    } else blocks.push(bulletsOrParagraph(c.detail));
  } else if (/\bapi\b/i.test(c.heading)) {
    const endpoints = parseEndpoints(c.detail);
    if (endpoints.length) {
      blocks.push("JSON over HTTPS; every response carries the priced cart or a refusal reason from the spec.");
      blocks.push(
        mdTable(
          ["Method", "Path", "Purpose"],
          endpoints.map((e) => [e.method, `\`${e.path}\``, sentence(e.purpose)]),
        ),
      );
    } else blocks.push(bulletsOrParagraph(c.detail));
  } else if (/business rules/i.test(c.heading)) {
    blocks.push(
      splitTopLevel(c.detail, ";")
        .map((p, i) => `${i + 1}. ${sentence(p)}`)
        .join("\n"),
    );
  } else if (/component/i.test(c.heading)) {
    // "checkout-web shows …; checkout-api validates …" → one bullet per component, named in bold.
    blocks.push(
      splitTopLevel(c.detail, ";")
        .map((p) => {
          const m = /^([a-z][a-z0-9]*(?:-[a-z0-9]+)+)\s+(.+)$/.exec(p.trim());
          return m ? `- **${m[1]}** ${m[2].replace(/\.$/, "")}.` : `- ${sentence(p)}`;
        })
        .join("\n"),
    );
  } else {
    blocks.push(bulletsOrParagraph(c.detail));
  }
  blocks.push(...relatedStringTables(c.text, deps, used.tables));
  blocks.push(...relatedPassages(c.text, deps, used.sections));
  return blocks.join("\n\n");
}

/** Body of a rollback plan, from the feature flags, components, endpoints and tables the document names. */
function rollbackPlan(ctx, facts) {
  const steps = [];
  for (const flag of facts.flags) {
    steps.push(
      `**Switch the feature off.** Turn the feature flag \`${flag}\` off. Nothing is redeployed; new requests stop using the feature within a minute, and carts that already carry a discount keep their price until checkout ends.`,
    );
  }
  if (facts.components.length) {
    steps.push(
      `**Redeploy the previous release** of ${facts.components.map((c) => `\`${c}\``).join(", ")} if switching off is not enough (for example a crash at start-up). Releases are immutable, so the previous one is a known state.`,
    );
  }
  if (facts.endpoints.length) {
    steps.push(
      `**Check the API is back to its old behaviour:** ${facts.endpoints.map((e) => `\`${e.method} ${e.path}\``).join(", ")} answer 404 while the feature is off; the checkout still completes without a discount.`,
    );
  }
  if (facts.tables.length) {
    const reversed = [...facts.tables].reverse().map((t) => `\`${t.table}\``);
    steps.push(
      `**Revert the schema only if the data model itself is wrong.** First export ${reversed.join(" and ")} for finance (redemptions reconcile with paid orders), then run the down migration, which drops ${reversed.join(", then ")}, in reverse order of creation. Leaving the tables in place is safe: nothing reads them while the feature is off.`,
    );
  }
  steps.push(
    `**Confirm the rollback:** order totals match the cart again, the error rate of the checkout is back to its baseline, and the incident channel records which steps were taken.`,
  );
  return [
    `When to roll back: the release of “${ctx.card.title.replace(/^[^:]*:\s*/, "")}” misbehaves in production — wrong totals, a checkout error rate above its baseline, or refusals no campaign can explain. Take the steps in order and stop as soon as the problem is gone.`,
    steps.map((s, i) => `${i + 1}. ${s}`).join("\n"),
  ].join("\n\n");
}

/** Body of a section a correction added, for a heading no acceptance criterion covered. */
function extraSectionBody(heading, ctx, facts, deps, used) {
  if (/rollback/i.test(heading)) return rollbackPlan(ctx, facts);
  const own = splitTopLevel(ctx.card.description, ".")
    .filter((s) => overlap(heading, s) >= 1)
    .map((s) => `- ${sentence(s)}`);
  const related = relatedPassages(heading, deps, used.sections, 1);
  const intro = `${heading} of ${ctx.card.title}: what the card and its inputs say about it.`;
  const body = [intro, own.join("\n"), ...related].filter(Boolean);
  if (body.length === 1) {
    body.push(
      `The card's acceptance criteria do not cover ${heading.toLowerCase()} directly; the parts it concerns are ${ctx.card.acceptanceCriteria
        .map((c) => `“${parseCriterion(c).heading}”`)
        .join(", ")}, and each of them is reviewed for it before release.`,
    );
  }
  return body.join("\n\n");
}

/** Revision entries of the previous version of the document, as bullet lines. */
function previousRevisions(previousSections) {
  const s = previousSections.find((x) => x.heading === "Revision history");
  return s ? s.body.split("\n").filter((l) => l.startsWith("- ")) : [];
}

runAgent(async (ctx) => {
  const out =
    argValue(process.argv, "out") ?? OUT_BY_TYPE[ctx.card.type] ?? `docs/${slugify(ctx.card.title) || "document"}.md`;
  const deps = readDependencies(ctx);
  const criteria = ctx.card.acceptanceCriteria.map(parseCriterion);
  const facts = gatherFacts(ctx, criteria, deps);

  // A correction reworks the previous document: keep what earlier rounds added, add what is asked for.
  const previous = ctx.attempt > 1 && ctx.has(out) ? ctx.readOwn(out) : undefined;
  const previousSections = previous ? parseSections(previous) : [];
  const known = new Set([...FIXED_HEADINGS, ...criteria.map((c) => c.heading)].map((h) => h.toLowerCase()));
  const kept = previousSections
    .filter((s) => s.level === 2 && !known.has(s.heading.toLowerCase()))
    .map((s) => s.heading);
  const asked = requestedSections(ctx.feedback).filter((h) => !known.has(h.toLowerCase()));
  const added = asked.filter((h) => !kept.some((k) => k.toLowerCase() === h.toLowerCase()));
  const extras = [...kept, ...added];
  if (ctx.feedback)
    log(
      `feedback round ${ctx.feedback.round}: ${ctx.feedback.reasons.length} reason(s); sections asked for: ${asked.join(", ") || "none"}`,
    );

  const parts = [
    `# ${ctx.card.title}`,
    `Card ${ctx.card.id} · ${ctx.card.type} · priority ${ctx.card.priority} · backlog \`${ctx.backlogId}\``,
  ];

  const context = [ctx.card.description.trim() || `${ctx.card.title}.`];
  if (deps.length) {
    // A dependency's tests are part of its change, not what this document builds on.
    const inputs = deps.filter((d) => !/\/test\/|\.test\.m?js$/.test(d.path));
    context.push(
      "This document builds on:",
      inputs.map((d) => `- **${d.cardId}** — ${describeArtifact(d.path, d.text)}`).join("\n"),
    );
    const brief = deps.find((d) => d.sections.length && d.path.endsWith(".md"));
    const intro = brief?.sections.find((s) => s.level === 2 && s.body);
    if (intro) context.push(`In short (${brief.cardId}, “${intro.heading}”): ${firstParagraph(intro.body)}`);
  }
  parts.push("## Context", context.join("\n\n"));

  const used = { tables: new Set(), sections: new Set() };
  for (const c of criteria) parts.push(`## ${c.heading}`, criterionBody(c, deps, used));
  for (const h of extras) parts.push(`## ${h}`, extraSectionBody(h, ctx, facts, deps, used));

  parts.push("## Acceptance criteria", criteria.map((c) => `- [x] ${sentence(c.text)} See “${c.heading}”.`).join("\n"));

  const revisions = previousRevisions(previousSections);
  if (ctx.feedback) {
    const what = added.length
      ? `added ${added.map((h) => `“${h}”`).join(", ")}, asked for by ${ctx.feedback.reasons.some((r) => /^\s*llm_judge/i.test(r)) ? "the LLM-judge" : "the validators"}`
      : `reworked the document after ${ctx.feedback.reasons.length} validator reason(s)`;
    const human = ctx.feedback.humanContext
      ? `; reviewer's context taken into account: “${ctx.feedback.humanContext.trim()}”`
      : "";
    revisions.push(`- Correction round ${ctx.feedback.round}: ${what}${human}.`);
  }
  if (revisions.length) parts.push("## Revision history", revisions.join("\n"));

  const doc = `${sanitize(parts.join("\n\n"))
    .replace(/\n{3,}/g, "\n\n")
    .trim()}\n`;
  ctx.write(out, doc);
  ctx.milestone(`${out} written`);
  const sections = criteria.length + extras.length;
  return added.length
    ? `Reworked ${out}: added ${added.map((h) => `"${h}"`).join(", ")} (${sections} topic sections).`
    : `Wrote ${out}: ${sections} topic sections from ${criteria.length} acceptance criteria and ${deps.length} dependency artifact(s).`;
});
