/**
 * An agent must not outlive a worker killed with SIGKILL: Temporal retries the attempt elsewhere, and an
 * orphan finishing its work would be the same side effect twice (found by `npm run chaos`).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "squadflow-worker-death-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** True while `pid` runs (a zombie waiting for its reaper counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\S+\s+\S+\s+Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8").replace(/\(.*\)/, "x"));
  } catch {
    return false;
  }
}

describe("an agent started by runProcess", () => {
  it.runIf(process.platform === "linux" && existsSync("/usr/bin/setpriv"))(
    "dies with a worker killed by SIGKILL",
    async () => {
      const pidFile = join(dir, "agent.pid");
      // A stand-in worker: runs an agent that records its pid and sleeps, through the real runProcess.
      const code = `import('${join(ROOT, "src/activities/process.ts")}').then((m) => m.runProcess({ command: 'sh', args: ['-c', 'echo $$ > ${pidFile}; exec sleep 30'], cwd: '${dir}', timeoutMs: 60000 }))`;
      const worker = spawn(process.execPath, ["--import", "tsx", "-e", code], { cwd: ROOT, stdio: "ignore" });
      for (let i = 0; i < 100 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 100));
      const agentPid = Number(readFileSync(pidFile, "utf8").trim());
      expect(alive(agentPid)).toBe(true);
      worker.kill("SIGKILL");
      let gone = false;
      for (let i = 0; i < 50 && !gone; i++) {
        await new Promise((r) => setTimeout(r, 100));
        gone = !alive(agentPid);
      }
      expect(gone).toBe(true);
    },
  );
});
