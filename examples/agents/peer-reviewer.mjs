#!/usr/bin/env node
/**
 * peer-reviewer — the example peer reviewer (a `command` agent, deterministic, offline): reads the review
 * request on stdin (src/activities/peer-review.ts: the card, the attempt's diff in a repository, else its
 * artifacts) and answers `{ "verdict", "comments" }` on stdout.
 *
 * What it looks at, in the lines the change adds (the diff's `+` lines; all artifact text without a diff):
 * - a **blocker**: a private key block, or a secret written as a value (`password = "…"`, `api_key: "…"`);
 * - a **concern**: code files (.js, .mjs, .ts, .py) changed without any test file among the changed files;
 * - **approve** otherwise, with a comment naming what it reviewed.
 */
import { readFileSync } from "node:fs";

const request = JSON.parse(readFileSync(0, "utf8"));
if (
  typeof request.card?.id !== "string" ||
  !Array.isArray(request.artifacts) ||
  (request.diff !== null && typeof request.diff?.text !== "string")
) {
  process.stderr.write(
    "bad review input: expected { card: { id }, diff: { text } | null, artifacts: [] } (src/activities/peer-review.ts)\n",
  );
  process.exit(1);
}

/** `[{ path, lines }]` of what the change adds: the diff's added lines per file, else each artifact's text. */
function addedByFile(req) {
  if (!req.diff) return req.artifacts.map((a) => ({ path: a.path, lines: a.text.split("\n") }));
  const files = [];
  for (const line of req.diff.text.split("\n")) {
    const header = /^\+\+\+ b\/(.+)$/.exec(line);
    if (header) files.push({ path: header[1], lines: [] });
    else if (line.startsWith("+") && !line.startsWith("+++") && files.length > 0)
      files[files.length - 1].lines.push(line.slice(1));
  }
  return files;
}

const SECRET_VALUE = /\b(password|passwd|secret|api[_-]?key|token)\b\s*[:=]\s*["'][^"'\s]{6,}["']/i;
const PRIVATE_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
const CODE = /\.(m?js|ts|py)$/;
const TEST = /(^|\/)(test|tests|__tests__)\/|\.(test|spec)\.[a-z]+$/;

const files = addedByFile(request);
const blockers = [];
for (const f of files) {
  f.lines.forEach((line, i) => {
    if (PRIVATE_KEY.test(line))
      blockers.push(`${f.path}: a private key is committed (added line ${i + 1}); remove it and rotate the key`);
    else if (SECRET_VALUE.test(line))
      blockers.push(
        `${f.path}: a secret is written as a value (added line ${i + 1}); read it from the environment instead`,
      );
  });
}

let answer;
if (blockers.length > 0) {
  answer = { verdict: "blocker", comments: blockers.slice(0, 5) };
} else {
  const code = files.filter((f) => CODE.test(f.path) && !TEST.test(f.path));
  const tests = files.filter((f) => TEST.test(f.path));
  if (code.length > 0 && tests.length === 0) {
    answer = {
      verdict: "concern",
      comments: [`${code.map((f) => f.path).join(", ")} changed without a test; add one that covers the change`],
    };
  } else {
    const what = request.diff ? `the diff ${request.diff.range}` : `${files.length} artifact(s)`;
    answer = {
      verdict: "approve",
      comments: [
        `Reviewed ${what} of ${request.card.id}: no committed secret, ${tests.length} test file(s) with the change.`,
      ],
    };
  }
}
process.stdout.write(JSON.stringify(answer) + "\n");
