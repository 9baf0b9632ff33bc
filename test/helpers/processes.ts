/** Process helpers shared by tests that start Temporal dev servers (Linux: they read /proc). */
import { readFileSync, readdirSync } from "node:fs";

/** PIDs of `temporal server start-dev` processes listening on `port` (reads /proc; Linux only). */
export function devServerPids(port: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
    } catch {
      continue; // the process ended while we looked
    }
    const portAt = argv.indexOf("--port");
    if (argv.includes("start-dev") && portAt >= 0 && argv[portAt + 1] === String(port)) pids.push(Number(entry));
  }
  return pids;
}
