import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  BUILTIN_RED_FLAGS,
  createVerifyArtifacts,
  extraRedFlag,
  findRedFlags,
} from "../../src/activities/verification.js";
import type { VerificationConfig } from "../../src/domain/squad.js";
import { rejectionOf, sandbox, type Sandbox } from "./helpers.js";

const WS = "shop/SPEC-001/attempt-1";
const NO_CONFIG: VerificationConfig = { required_evidence: [], extra_red_flags: [] };

let sb: Sandbox;
beforeEach(async () => {
  sb = await sandbox();
  await mkdir(join(sb.root, WS), { recursive: true });
});
afterEach(async () => {
  await sb.cleanup();
});

async function verify(artifacts: string[], config: VerificationConfig = NO_CONFIG) {
  return createVerifyArtifacts(sb.deps)({ workspace: WS, artifacts, config });
}

describe("verifyArtifacts", () => {
  it("passes real, non-empty files inside the workspace that satisfy the required evidence", async () => {
    await sb.writeIn(WS, "docs/spec.md", "# Spec\n\nThe checkout flow.\n");
    await sb.writeIn(WS, "tests/checkout.test.js", 'test("pays", () => {});\n');
    const v = await verify(["docs/spec.md", "./tests/checkout.test.js"], {
      required_evidence: ["tests/**/*.test.*", "docs/*.md"],
      extra_red_flags: [],
    });
    expect(v).toEqual({ validator: "verification", passed: true, reasons: [], at: "2025-01-02T03:04:05.000Z" });
  });

  it("fails when no artifact is reported", async () => {
    const v = await verify([]);
    expect(v.passed).toBe(false);
    expect(v.reasons).toEqual(['no artifacts were reported; the owner must list the files it produced in "artifacts"']);
  });

  it('refuses a path that escapes the workspace with ".."', async () => {
    await sb.writeIn("shop/SPEC-001", "outside.md", "real content");
    const v = await verify(["../outside.md", "docs/../../outside.md"]);
    expect(v.reasons).toEqual([
      'artifact "../outside.md" leaves the workspace (".." segment)',
      'artifact "docs/../../outside.md" leaves the workspace (".." segment)',
    ]);
  });

  it("refuses an absolute path", async () => {
    const abs = await sb.writeIn(WS, "docs/spec.md", "content");
    const v = await verify([abs]);
    expect(v.reasons).toEqual([`artifact "${abs}" is an absolute path; artifacts must be relative to the workspace`]);
  });

  it("refuses a symlink that points outside the workspace", async () => {
    const secret = await sb.write("secret.txt", "the worker secret");
    await symlink(secret, join(sb.root, WS, "link.md"));
    await mkdir(join(sb.root, WS, "docs"));
    await symlink(sb.dir, join(sb.root, WS, "docs", "up"));
    const v = await verify(["link.md", "docs/up/secret.txt"]);
    expect(v.reasons).toEqual([
      'artifact "link.md" resolves outside the workspace',
      'artifact "docs/up/secret.txt" resolves outside the workspace',
    ]);
  });

  it("accepts a symlink to a file inside the workspace", async () => {
    await sb.writeIn(WS, "docs/spec.md", "content");
    await symlink("docs/spec.md", join(sb.root, WS, "spec.md"));
    expect((await verify(["spec.md"])).passed).toBe(true);
  });

  it("refuses a directory, a missing file and the workspace itself", async () => {
    await sb.writeIn(WS, "docs/spec.md", "content");
    const v = await verify(["docs", "docs/missing.md", "."]);
    expect(v.reasons).toEqual([
      'artifact "docs" is not a regular file',
      'artifact "docs/missing.md" does not exist',
      'artifact "." is not a regular file',
    ]);
  });

  it("refuses empty and whitespace-only files", async () => {
    await sb.writeIn(WS, "empty.md", "");
    await sb.writeIn(WS, "blank.md", "  \n\t\n");
    const v = await verify(["empty.md", "blank.md"]);
    expect(v.reasons).toEqual(['artifact "empty.md" is empty', 'artifact "blank.md" is empty']);
  });

  it.each([
    ["TODO", "// TODO: handle refunds"],
    ["FIXME", "FIXME this breaks on Sundays"],
    ["placeholder", "Pricing: [Placeholder]"],
    ["placeholder", "[Placeholder: add the diagram]"],
    ["placeholder", "Use placeholder-text for now"],
    ["placeholder", "This section is placeholder text."],
    ["lorem ipsum", "Lorem  Ipsum dolor sit amet"],
    ["not implemented", "throw new Error('Not implemented');"],
    ["not implemented", "Refunds are not yet implemented."],
  ])("fails on the red flag %s in %j, with a stable reason and the line in details", async (label, line) => {
    await sb.writeIn(WS, "docs/spec.md", `# Spec\n\n${line}\n`);
    const v = await verify(["docs/spec.md"]);
    expect(v.passed).toBe(false);
    expect(v.reasons).toEqual([`artifact "docs/spec.md" contains red flag "${label}"`]);
    expect(v.details).toBe(`docs/spec.md:3: ${line.trim()}`);
  });

  it("does not mistake prose or HTML/CSS code for red flags", async () => {
    await sb.writeIn(
      WS,
      "src/form.html",
      [
        "<p>Keep a list of todos for the sprint; TODOs belong in the tracker.</p>",
        '<input type="email" placeholder="you@example.com">',
        "<style>input::placeholder { color: grey } .x:placeholder-shown {}</style>",
        '<script>el.placeholder = "x"; const o = { placeholder: 1, "placeholder": 2 }; el.getAttribute(\'placeholder\');</script>',
        '<input placeholder = "Name" data-placeholder="x">',
        "<p>The feature is implemented and not a stub.</p>",
      ].join("\n"),
    );
    const v = await verify(["src/form.html"]);
    expect(v.reasons).toEqual([]);
  });

  it("fails on configured extra red flags, any case, as whole words", async () => {
    await sb.writeIn(WS, "docs/spec.md", "We will decide TBD later.\nThe tbdx field is fine.\n");
    const v = await verify(["docs/spec.md"], { required_evidence: [], extra_red_flags: ["tbd", "coming soon"] });
    expect(v.reasons).toEqual(['artifact "docs/spec.md" contains red flag "tbd"']);
  });

  it("fails when a required evidence glob matches no artifact", async () => {
    await sb.writeIn(WS, "docs/spec.md", "# Spec");
    const v = await verify(["docs/spec.md"], { required_evidence: ["tests/**/*.test.*"], extra_red_flags: [] });
    expect(v.reasons).toEqual(['required evidence "tests/**/*.test.*" is missing: no artifact matches it']);
  });

  it("reports every problem of every artifact at once, with the same reasons on a repeated attempt", async () => {
    await sb.writeIn(WS, "a.md", "TODO");
    await sb.writeIn(WS, "b.md", "");
    const first = await verify(["a.md", "b.md", "c.md"]);
    const again = await verify(["a.md", "b.md", "c.md"]);
    expect(first.reasons).toHaveLength(3);
    expect(again.reasons).toEqual(first.reasons);
  });

  it("fails with a retryable WorkspaceNotFoundError when the workspace directory is missing", async () => {
    const err = await rejectionOf(
      createVerifyArtifacts(sb.deps)({ workspace: "shop/X/attempt-1", artifacts: ["a.md"], config: NO_CONFIG }),
    );
    expect(err).toMatchObject({ type: "WorkspaceNotFoundError", nonRetryable: false });
  });

  it("skips binary artifacts when scanning for red flags", async () => {
    await writeFile(join(sb.root, WS, "logo.png"), Buffer.from([0x89, 0x50, 0x00, 0x54, 0x4f, 0x44, 0x4f]));
    expect((await verify(["logo.png"])).passed).toBe(true);
  });
});

describe("red flag rules", () => {
  it("match TODO and FIXME only in upper case", () => {
    expect(findRedFlags("todo: later\nFixme", BUILTIN_RED_FLAGS)).toEqual([]);
    expect(findRedFlags("x\nTODO(ana): y", BUILTIN_RED_FLAGS)).toEqual([
      { label: "TODO", line: 2, text: "TODO(ana): y" },
    ]);
  });

  it("escape regex characters in extra red flags", () => {
    expect(extraRedFlag("$$$").pattern.test("costs $$$")).toBe(true);
    expect(extraRedFlag("a.b").pattern.test("axb")).toBe(false);
  });
});
