import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { workflowBundlePath } from "../helpers/temporal.js";

/** The modules of the workflow bundle this test run's workers load (webpack marks each `/***\/ "<path>"`). */
async function bundledModules(): Promise<string[]> {
  const code = await readFile(workflowBundlePath(), "utf8");
  return [...code.matchAll(/^\/\*\*\*\/ "([^"]+)"/gm)].map((m) => m[1]!);
}

describe("workflow bundle", () => {
  it("holds only what workflow code runs: no zod, no config schemas, no activity or CLI code", async () => {
    const modules = await bundledModules();
    expect(modules.length).toBeGreaterThan(20);
    expect(modules.filter((m) => m.includes("node_modules/zod/"))).toEqual([]);
    const own = modules.filter((m) => m.startsWith("./src/"));
    expect(own).toContain("./src/workflows/card.ts");
    for (const schemaModule of ["squad", "backlog", "validate", "cost-schema", "notifications", "index"]) {
      expect(own, `src/domain/${schemaModule}.ts`).not.toContain(`./src/domain/${schemaModule}.ts`);
    }
    expect(own.filter((m) => m.startsWith("./src/activities/") || m.startsWith("./src/cli/"))).toEqual([]);
  });
});
