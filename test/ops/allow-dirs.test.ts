/**
 * `card_types.<T>.permissions.allow_dirs` as the client loads it: made absolute (relative ones against the
 * squad config's directory, or the repository's), refused — naming file, card type and field — when a
 * directory does not exist or is a file; nothing is started on a refusal.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadBacklog } from "../../src/cli/load.js";
import { BacklogValidationError } from "../../src/domain/index.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "allow-dirs-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function backlogWith(allowDirs: string[], squadFile = false): Promise<{ file: string; squad?: string }> {
  const squad = {
    agents: { writer: { kind: "command", command: "node", args: ["agent.mjs"] } },
    card_types: {
      DOC: {
        owner: "writer",
        judge: { kind: "rubric", criteria: [{ name: "intro", check: { type: "section", heading: "Intro" } }] },
        permissions: { allow_dirs: allowDirs },
      },
    },
  };
  const file = join(dir, "backlog.json");
  const cards = [{ id: "A", type: "DOC", title: "Card A" }];
  if (squadFile) {
    await writeFile(file, JSON.stringify({ metadata: { backlog_id: "dirs" }, cards }));
    await mkdir(join(dir, "conf"), { recursive: true });
    const squadPath = join(dir, "conf", "squad.json");
    await writeFile(squadPath, JSON.stringify(squad));
    return { file, squad: squadPath };
  }
  await writeFile(file, JSON.stringify({ metadata: { backlog_id: "dirs" }, cards, squad }));
  return { file };
}

describe("permissions.allow_dirs", () => {
  it("is passed absolute: relative to the squad config, absolute as given", async () => {
    await mkdir(join(dir, "shared"));
    await mkdir(join(dir, "abs"));
    const { file } = await backlogWith(["shared", join(dir, "abs")]);
    const plan = await loadBacklog(file);
    expect(plan.cards[0]!.typeConfig.permissions?.allow_dirs).toEqual([join(dir, "shared"), join(dir, "abs")]);
  });

  it("resolves a relative one against a separate squad file", async () => {
    await mkdir(join(dir, "conf", "shared"), { recursive: true });
    const { file, squad } = await backlogWith(["shared"], true);
    const plan = await loadBacklog(file, { squad: squad! });
    expect(plan.cards[0]!.typeConfig.permissions?.allow_dirs).toEqual([join(dir, "conf", "shared")]);
  });

  it("refuses a missing directory and a file, naming the file, card type and field", async () => {
    await writeFile(join(dir, "notes.txt"), "x");
    const { file } = await backlogWith(["missing", "notes.txt"]);
    const err = await loadBacklog(file).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BacklogValidationError);
    expect((err as BacklogValidationError).issues).toEqual([
      {
        file,
        field: "squad.card_types.DOC.permissions.allow_dirs[0]",
        message: `"missing" does not exist (${join(dir, "missing")})`,
      },
      {
        file,
        field: "squad.card_types.DOC.permissions.allow_dirs[1]",
        message: `"notes.txt" is not a directory (${join(dir, "notes.txt")})`,
      },
    ]);
  });
});
