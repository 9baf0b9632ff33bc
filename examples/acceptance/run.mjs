#!/usr/bin/env node
/**
 * The BACKEND QA check `acceptance tests` of the example squad: runs the product owner's acceptance spec
 * (`<module>.acceptance.mjs` beside this file) of every module the attempt changed, with `node --test`, in
 * the working directory — the attempt's git worktree, where the spec imports `src/<module>.mjs`.
 *
 * The attempt's change is `git diff --name-only <fork point>..HEAD`, the fork point being where the attempt
 * branch (`squadflow-attempts/<backlogId>/<cardId>/attempt-<n>`, docs/repository.md) left the integration
 * branch `squadflow/<backlogId>`: a module merged by another card is that card's to answer for. Outside an
 * attempt branch (a run by hand) every module in src/ with a spec is checked.
 *
 * Exit: `node --test`'s exit code; 0 with a note on stdout when no changed module has a spec.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";

const SPECS = fileURLToPath(new URL("./", import.meta.url));
const ATTEMPT_BRANCH = /^squadflow-attempts\/([^/]+)\/[^/]+\/attempt-\d+$/;

function git(...args) {
  return execFileSync("git", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

/** Modules (slugs) of src/*.mjs this attempt changed, or every module in src/ outside an attempt branch. */
function changedModules() {
  let branch = "";
  try {
    branch = git("symbolic-ref", "--quiet", "--short", "HEAD");
  } catch {
    // Detached HEAD or not a git checkout: a run by hand.
  }
  const backlogId = ATTEMPT_BRANCH.exec(branch)?.[1];
  const files = backlogId
    ? git("diff", "--name-only", git("merge-base", "HEAD", `refs/heads/squadflow/${backlogId}`), "HEAD").split("\n")
    : existsSync("src")
      ? readdirSync("src").map((f) => `src/${f}`)
      : [];
  return files.map((f) => /^src\/([a-z0-9-]+)\.mjs$/.exec(f)?.[1]).filter(Boolean);
}

const modules = changedModules();
const specs = modules.map((m) => `${SPECS}${m}.acceptance.mjs`).filter((f) => existsSync(f));
if (specs.length === 0) {
  console.log(`no acceptance spec for the modules changed (${modules.join(", ") || "none"}): nothing to check`);
} else {
  const run = spawnSync(process.execPath, ["--test", ...specs], { stdio: "inherit" });
  process.exitCode = run.status ?? 1;
}
