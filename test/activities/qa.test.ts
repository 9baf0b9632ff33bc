import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createRunQa } from "../../src/activities/qa.js";
import type { QaCheck } from "../../src/domain/squad.js";
import { rejectionOf, sandbox, type Sandbox } from "./helpers.js";

const WS = "shop/API-001/attempt-1";
const node = process.execPath;

let sb: Sandbox;
beforeEach(async () => {
  sb = await sandbox();
  await mkdir(join(sb.root, WS), { recursive: true });
  await sb.writeIn(WS, "src/sum.js", "module.exports = (a, b) => a + b;\n");
});
afterEach(async () => {
  await sb.cleanup();
});

const check = (name: string, script: string, timeout_ms = 5_000): QaCheck => ({
  name,
  command: node,
  args: ["-e", script],
  timeout_ms,
});

async function qa(checks: QaCheck[]) {
  return createRunQa(sb.deps)({ workspace: WS, checks });
}

describe("runQa", () => {
  it("passes with no reasons when no checks are configured", async () => {
    expect(await qa([])).toEqual({ validator: "qa", passed: true, reasons: [], at: "2025-01-02T03:04:05.000Z" });
  });

  it("passes when every check exits 0 in the workspace", async () => {
    const v = await qa([check("unit", 'process.exit(require("./src/sum.js")(1, 2) === 3 ? 0 : 1)')]);
    expect(v).toMatchObject({ passed: true, reasons: [] });
    expect(v.details).toBeUndefined();
  });

  it("redacts the worker's secret values from the output a failing check prints (verdicts go into workflow history)", async () => {
    const secret = "sk-live-0123456789abcdef";
    await sb.writeIn(WS, ".env", `VENDOR_API_KEY=${secret}\n`); // a file the owner left, not an artifact
    const runQa = createRunQa({ ...sb.deps, workerEnv: { ...process.env, VENDOR_API_KEY: secret } });
    const v = await runQa({
      workspace: WS,
      checks: [
        check(
          "env",
          'process.stdout.write(require("fs").readFileSync(".env", "utf8")); console.error("bad key"); process.exit(1)',
        ),
      ],
    });
    expect(v.details).toContain("VENDOR_API_KEY=[REDACTED:VENDOR_API_KEY]");
    expect(v.details).not.toContain(secret);
  });

  it("runs every check and reports each failing one with its exit code, command line and output tail", async () => {
    const lines = Array.from({ length: 60 }, (_, i) => `line ${i + 1}`).join("\\n");
    const v = await qa([
      check("lint", `console.log("${lines}"); console.error("sum.js: missing semicolon"); process.exit(2)`),
      check("unit", "process.exit(0)"),
      check("types", "process.exit(1)"),
    ]);
    expect(v.passed).toBe(false);
    expect(v.reasons).toEqual(['check "lint" failed: exit 2', 'check "types" failed: exit 1']);
    expect(v.details).toContain(`check "lint":\n$ ${node} -e console.log(`);
    expect(v.details).toContain("line 60");
    expect(v.details).toContain("line 21");
    expect(v.details).not.toContain("line 20\n");
    expect(v.details).toContain("sum.js: missing semicolon");
    expect(v.details).toContain(`check "types":\n$ ${node} -e process.exit(1)\n(no output)`);
  });

  it("fails a check that runs past its timeout and kills it", async () => {
    const started = Date.now();
    const v = await qa([check("e2e", "setInterval(() => {}, 1000)", 300)]);
    expect(v.reasons).toEqual(['check "e2e" timed out after 300 ms']);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it("throws a non-retryable ValidatorConfigError naming the check when its program is missing", async () => {
    const err = await rejectionOf(
      qa([{ name: "pytest", command: "squadflow-no-pytest", args: ["-q"], timeout_ms: 1_000 }]),
    );
    expect(err).toMatchObject({ type: "ValidatorConfigError", nonRetryable: true });
    expect(err.message).toContain('QA check "pytest" cannot start');
    expect(err.message).toContain("squadflow-no-pytest -q");
  });
});
