/**
 * The `squadflow` CLI run in-process (`main()` from src/client.ts) for tests, with TEMPORAL_ADDRESS set by
 * the caller to the run's dev server: exit code and what it printed.
 */
import { vi } from "vitest";
import { main } from "../../src/client.js";

/** What a CLI run printed and returned. */
export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** Runs the CLI in-process; returns its exit code and what it printed (console and stdout). */
export async function cli(...args: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void out.push(a.join(" ")));
  const error = vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => void err.push(a.join(" ")));
  const write = vi
    .spyOn(process.stdout, "write")
    .mockImplementation((chunk: string | Uint8Array) => (out.push(String(chunk).replace(/\n$/, "")), true));
  // commander reports usage errors on stderr directly.
  const writeErr = vi
    .spyOn(process.stderr, "write")
    .mockImplementation((chunk: string | Uint8Array) => (err.push(String(chunk).replace(/\n$/, "")), true));
  try {
    process.exitCode = undefined;
    const code = await main(["node", "squadflow", ...args]);
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
    writeErr.mockRestore();
    process.exitCode = undefined;
  }
}
