/**
 * Rules added by the PROOF issue to backlog validation: legacy artifact paths stay inside the workspaces root,
 * descriptions have a size limit, squad lookups never find Object.prototype members, and no card depends on a
 * legacy CORRECTION card (which never runs).
 */
import { describe, expect, it } from "vitest";
import { MAX_DESCRIPTION_CHARS, artifactPathProblem } from "../../src/domain/index.js";
import { FILE, card, issuesOf, plan, validBacklog, withCard } from "./fixtures.js";

describe("artifactPathProblem", () => {
  it("accepts relative paths inside the workspaces root", () => {
    for (const p of [
      "docs/spec.md",
      "shop/SPEC-001/attempt-1/docs/spec.md",
      "a..b/c.md",
      ".hidden/x",
      "x/./y.md",
      "file:name.md",
    ]) {
      expect(artifactPathProblem(p), p).toBeUndefined();
    }
  });

  it('refuses absolute paths, ".." segments with either separator, empty paths and NUL characters', () => {
    const cases: [string, RegExp][] = [
      ["/etc/passwd", /"\/etc\/passwd" is absolute/],
      ["\\\\server\\share\\x", /is absolute/],
      ["C:\\Windows\\win.ini", /is absolute/],
      ["c:relative", /is absolute/],
      ["../../etc/passwd", /"\.\.\/\.\.\/etc\/passwd" contains a "\.\." segment/],
      ["docs/../../x", /contains a "\.\." segment/],
      ["..\\x", /contains a "\.\." segment/],
      ["..", /contains a "\.\." segment/],
      ["", /artifact path is empty/],
      ["  ", /artifact path is empty/],
      ["a\u0000b", /"a\\0b" contains a NUL character/],
    ];
    for (const [p, message] of cases) expect(artifactPathProblem(p), JSON.stringify(p)).toMatch(message);
  });
});

describe("planBacklog safety rules", () => {
  it("refuses a legacy artifact path outside the workspaces root, string or {path}, naming card and field", () => {
    const issues = issuesOf(
      withCard(0, { status: "DONE", artifacts: ["docs/ok.md", "../../etc/passwd", { path: "/etc/shadow" }] }),
    );
    expect(issues).toEqual([
      {
        file: FILE,
        cardId: "SPEC-001",
        field: "cards[0].artifacts[1]",
        message: expect.stringContaining('"../../etc/passwd" contains a ".." segment'),
      },
      {
        file: FILE,
        cardId: "SPEC-001",
        field: "cards[0].artifacts[2].path",
        message: expect.stringContaining('"/etc/shadow" is absolute'),
      },
    ]);
  });

  it("says what an artifact is when it is neither a string nor an object with a path", () => {
    expect(issuesOf(withCard(0, { artifacts: [3] }))).toEqual([
      {
        file: FILE,
        cardId: "SPEC-001",
        field: "cards[0].artifacts[0]",
        message: 'an artifact is a path string or an object with a "path" string',
      },
    ]);
  });

  it(`refuses a description over ${MAX_DESCRIPTION_CHARS} characters and accepts one of exactly that many`, () => {
    expect(issuesOf(withCard(1, { description: "x".repeat(MAX_DESCRIPTION_CHARS + 1) }))).toEqual([
      {
        file: FILE,
        cardId: "SPEC-002",
        field: "cards[1].description",
        message: `must be at most ${MAX_DESCRIPTION_CHARS} characters`,
      },
    ]);
    expect(plan(withCard(1, { description: "x".repeat(MAX_DESCRIPTION_CHARS) })).cards).toHaveLength(2);
  });

  it("never takes an Object.prototype member for a card type or an owner agent", () => {
    for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      expect(issuesOf(withCard(0, { type: name })).map((i) => i.message)).toEqual([
        expect.stringContaining(`unknown card type "${name}"`),
      ]);
      expect(issuesOf(withCard(0, { owner: name })).map((i) => i.message)).toEqual([`unknown owner agent "${name}"`]);
      const b = validBacklog();
      b.squad!.card_types.SPEC!.owner = name;
      expect(issuesOf(b)).toEqual([
        {
          file: FILE,
          field: "squad.card_types.SPEC.owner",
          message: expect.stringContaining(`unknown owner agent "${name}"`),
        },
      ]);
    }
  });

  it("refuses a dependency on a legacy CORRECTION card, pointing at its parent", () => {
    const b = validBacklog();
    b.cards = [
      card("SPEC-001", { status: "DONE" }),
      card("SPEC-001-CORR-1", { type: "CORRECTION", parent_card: "SPEC-001", status: "DONE" }),
      card("SPEC-002", { dependencies: ["SPEC-001-CORR-1"] }),
    ];
    expect(issuesOf(b)).toEqual([
      {
        file: FILE,
        cardId: "SPEC-002",
        field: "cards[2].dependencies[0]",
        message:
          'dependency "SPEC-001-CORR-1" is a legacy CORRECTION card, which never runs; depend on its parent "SPEC-001"',
      },
    ]);
  });

  it("lets a DONE card keep a dependency on a correction card (it does not run again)", () => {
    const b = validBacklog();
    b.cards = [
      card("SPEC-001", { status: "DONE" }),
      card("SPEC-001-CORR-1", { type: "CORRECTION", parent_card: "SPEC-001", status: "DONE" }),
      card("SPEC-002", { status: "DONE", dependencies: ["SPEC-001-CORR-1"] }),
      card("SPEC-003", { dependencies: ["SPEC-002"] }),
    ];
    expect(plan(b).cards.map((c) => c.card.id)).toEqual(["SPEC-003"]);
  });
});
