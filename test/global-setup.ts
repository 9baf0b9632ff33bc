/**
 * Vitest global setup: once per `vitest run`, before any test file,
 *   - starts ONE Temporal dev server (in memory, random free port, no UI — never clashes with a user's
 *     server on 7233),
 *   - bundles `src/workflows/index.ts` ONCE into a temp file (workers load it with `workflowBundle.codePath`),
 * and provides `temporalAddress`, `temporalNamespace`, `workflowBundlePath`, `workflowBundleError` to tests
 * (`inject('…')`; typed in `test/vitest.d.ts`). The returned teardown stops the server and removes the bundle.
 *
 * A failed bundle does not fail the run here: tests that need workflows fail with the bundler's error
 * (via `test/helpers/temporal.ts`), the others still run.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleWorkflowCode, DefaultLogger } from "@temporalio/worker";
import type { TestProject } from "vitest/node";
import { startDevServer } from "../src/temporal/dev-server.js";

const WORKFLOWS_PATH = resolve(fileURLToPath(new URL(".", import.meta.url)), "../src/workflows/index.ts");

/** Bundles the workflows into `dir`; returns the bundle path, or the reason there is none. */
async function bundleWorkflows(dir: string): Promise<{ path: string; error: string }> {
  if (!existsSync(WORKFLOWS_PATH)) return { path: "", error: `${WORKFLOWS_PATH} does not exist` };
  try {
    const started = Date.now();
    const { code } = await bundleWorkflowCode({
      workflowsPath: WORKFLOWS_PATH,
      logger: new DefaultLogger("WARN"),
    });
    const path = join(dir, "workflow-bundle.js");
    await writeFile(path, code);
    console.log(`[global-setup] bundled workflows in ${Date.now() - started} ms → ${path}`);
    return { path, error: "" };
  } catch (err) {
    const error = `bundling ${WORKFLOWS_PATH} failed: ${err instanceof Error ? err.message : String(err)}`;
    console.error(`[global-setup] ${error}`);
    return { path: "", error };
  }
}

/** Vitest calls this once; the returned function is the global teardown. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), "squadflow-vitest-"));
  const [serverResult, bundle] = await Promise.allSettled([
    startDevServer({ port: 0, dbFilename: null, ui: false, reuseExisting: false }),
    bundleWorkflows(dir),
  ]);
  if (serverResult.status === "rejected") {
    await rm(dir, { recursive: true, force: true });
    throw serverResult.reason;
  }
  const server = serverResult.value;
  const { path, error } = bundle.status === "fulfilled" ? bundle.value : { path: "", error: String(bundle.reason) };
  console.log(`[global-setup] Temporal dev server at ${server.address} (namespace ${server.namespace})`);

  project.provide("temporalAddress", server.address);
  project.provide("temporalNamespace", server.namespace);
  project.provide("workflowBundlePath", path);
  project.provide("workflowBundleError", error);

  return async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
