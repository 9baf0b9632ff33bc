/**
 * Owner agents in attempt worktrees (issue 9): CLI agents run with the worktree as cwd and are told it is
 * a git checkout (codex without --skip-git-repo-check), a command agent whose answer survived its worker
 * keeps its worktree, several attempts of a backlog are made at once.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { agentResultFile } from "../../../src/activities/agents/command.js";
import { createRunOwner, ownerRecordPath } from "../../../src/activities/owner.js";
import type { Sandbox } from "../helpers.js";
import { fakeCli } from "../agents/helpers.js";
import { agentRuns, gitSandbox, ownerInput, planCard, sh, worktreeOf, type GitSandbox } from "./helpers.js";

let sb: GitSandbox;
beforeEach(async () => {
  sb = await gitSandbox({ "README.md": "# Shop\n", "docs/old-name.md": "# Old\n" });
});
afterEach(async () => {
  await sb.cleanup();
});

describe("CLI agents in a worktree", () => {
  it("runs codex in the worktree without --skip-git-repo-check, tells it the checkout holds the dependencies' work, and takes the diff as artifacts", async () => {
    const codex = await fakeCli({ dir: sb.dir } as Sandbox, "codex");
    const record = join(sb.dir, "record.json");
    const agent = {
      kind: "codex",
      binary: codex,
      model: "gpt-5-codex",
      extra_args: ["--scenario", "success"],
      set_env: { FAKE_RECORD: record },
    };
    const input = ownerInput(sb, planCard("FE-001", {}, { dependencies: ["BE-001"] }), 1, {
      agent: agent as never,
      dependencies: [{ cardId: "BE-001", artifacts: ["src/api.ts"] }],
    });
    const result = await createRunOwner(sb.deps)(input);
    const rec = JSON.parse(await readFile(record, "utf8"));
    expect(rec.argv).toEqual([
      "exec",
      "--json",
      "--sandbox",
      "workspace-write",
      "--model",
      "gpt-5-codex",
      "--scenario",
      "success",
      "-",
    ]);
    expect(rec.cwd).toBe(worktreeOf(sb, "FE-001"));
    expect(rec.stdin).toContain(
      "is a git checkout of the project (a worktree on branch squadflow-attempts/shop/FE-001/attempt-1, made from the integration branch squadflow/shop) with the work of every finished dependency already in it",
    );
    expect(rec.stdin).toContain("- BE-001: src/api.ts");
    expect(result.artifacts).toEqual(["docs/spec.md"]);
    expect(result.git?.headCommit).toBe(await sh(sb.repo, "rev-parse", "squadflow-attempts/shop/FE-001/attempt-1"));
  });
});

describe("a command agent in a worktree", () => {
  it("keeps the worktree when the agent answered but its worker died before the owner record: no second run, its work committed", async () => {
    const runOwner = createRunOwner(sb.deps);
    const input = ownerInput(sb, planCard("BE-001", { write: { "src/a.ts": "a\n" } }));
    await runOwner(input);
    // The state a worker killed after the agent's answer leaves: the result file, the work, no owner record,
    // and (here) the work not committed yet.
    const root = sb.deps.worktreesRoot!;
    await rm(ownerRecordPath(root, input.workspace));
    const wt = worktreeOf(sb, "BE-001");
    await sh(wt, "reset", "--quiet", "--soft", "HEAD~1");
    await writeFile(
      agentResultFile(root, input.workspace),
      JSON.stringify({ artifacts: ["src/a.ts"], summary: "answered before the crash" }),
    );
    const again = await runOwner(input);
    expect(await agentRuns(sb)).toEqual(["BE-001 1"]);
    expect(again.summary).toBe("answered before the crash");
    expect(again.artifacts).toEqual(["src/a.ts"]);
    expect(await sh(wt, "status", "--porcelain")).toBe("");
  });

  it("starts clean when a result file is left but the worktree is gone", async () => {
    const runOwner = createRunOwner(sb.deps);
    const input = ownerInput(sb, planCard("BE-001", { write: { "src/a.ts": "a\n" } }));
    await runOwner(input);
    const root = sb.deps.worktreesRoot!;
    await rm(ownerRecordPath(root, input.workspace));
    await writeFile(
      agentResultFile(root, input.workspace),
      JSON.stringify({ artifacts: ["src/a.ts"], summary: "stale" }),
    );
    await rm(worktreeOf(sb, "BE-001"), { recursive: true });
    const again = await runOwner(input);
    expect(await agentRuns(sb)).toEqual(["BE-001 1", "BE-001 1"]);
    expect(again.summary).toBe("did BE-001");
    expect(again.artifacts).toEqual(["src/a.ts"]);
  });

  it("reports a rename as the new path, with the old one deleted", async () => {
    const card = planCard("BE-001", { write: { "docs/new-name.md": "# Old\n" }, delete: ["docs/old-name.md"] });
    const r = await createRunOwner(sb.deps)(ownerInput(sb, card));
    expect(r.artifacts).toEqual(["docs/new-name.md"]);
    expect(r.git?.deleted).toEqual(["docs/old-name.md"]);
  });

  it("makes several attempts of a backlog at once in the same repository", async () => {
    const runOwner = createRunOwner(sb.deps);
    const cards = ["BE-001", "BE-002", "BE-003", "FE-001"].map((id) =>
      planCard(id, { write: { [`src/${id}.ts`]: `${id}\n` } }),
    );
    const results = await Promise.all(cards.map((c) => runOwner(ownerInput(sb, c))));
    expect(results.map((r) => r.artifacts)).toEqual(cards.map((c) => [`src/${c.id}.ts`]));
    expect(new Set(results.map((r) => r.git!.baseCommit)).size).toBe(1);
    expect((await sh(sb.repo, "worktree", "list", "--porcelain")).match(/^worktree /gm)).toHaveLength(5);
  });
});
