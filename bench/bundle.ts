/**
 * The workflow bundle's size and what is in it: `npx tsx bench/bundle.ts` bundles src/workflows (as the
 * worker does) and prints its bytes and its largest modules (bytes of source each), so that an import
 * that drags a library into workflow code (zod, a schema, Node code) shows up. Every cached workflow
 * evaluates the bundle's modules in its own context, so the bundle's size is paid once per workflow.
 */
import { bundleWorkflowCode } from "@temporalio/worker";
import { WORKFLOWS_PATH } from "../src/worker.js";

const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

async function main(): Promise<void> {
  const { code } = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quiet as never });
  // webpack's development bundle: each module starts with a line `/***/ "<path>"`.
  const starts = [...code.matchAll(/^\/\*\*\*\/ "([^"]+)"/gm)];
  const sizes = new Map<string, number>();
  starts.forEach((m, i) => {
    const path = m[1]!.replace(/^\.\//, "");
    const group = path.startsWith("node_modules/")
      ? path
          .split("/")
          .slice(0, path.startsWith("node_modules/@") ? 3 : 2)
          .join("/")
      : path;
    const end = i + 1 < starts.length ? starts[i + 1]!.index! : code.length;
    sizes.set(group, (sizes.get(group) ?? 0) + end - m.index!);
  });
  console.log(`workflow bundle: ${(code.length / 1024).toFixed(1)} KiB, ${starts.length} modules`);
  for (const [group, bytes] of [...sizes].sort((a, b) => b[1] - a[1]).slice(0, 25))
    console.log(`${(bytes / 1024).toFixed(1).padStart(8)} KiB  ${group}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
