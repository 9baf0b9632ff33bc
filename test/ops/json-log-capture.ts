/**
 * Installs the Temporal core runtime the way a worker with `SQUADFLOW_LOG_FORMAT=json` and
 * `SQUADFLOW_LOG_LEVEL=INFO` does (`installRuntime`, src/temporal/runtime.ts), but writing each JSON line
 * into {@link jsonLogLines} instead of stderr — so a test sees exactly what the worker would print.
 *
 * Import it FIRST in a test file, before test/helpers/temporal.ts (whose own install is then skipped):
 * the runtime is installed once per process (vitest runs each file in its own process).
 * @throws the SDK's error at import when a runtime is already installed (the import came too late).
 */
import { installRuntime } from "../../src/temporal/runtime.js";

/** Every JSON log line the process wrote since this module was imported, in order. */
export const jsonLogLines: string[] = [];

installRuntime({ level: "INFO", format: "json", write: (line) => void jsonLogLines.push(line) });
