import { chmod } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runProcess, SpawnError, tail } from "../../src/activities/process.js";
import { isGone, sandbox, waitForFile, waitGone, type Sandbox } from "./helpers.js";

const node = process.execPath;

/** A script that starts a grandchild `sleep 30` (sharing our stdout), records its pid, then waits forever. */
const SPAWNS_GRANDCHILD = `
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
const gc = spawn('sleep', ['30'], { stdio: ['ignore', 'inherit', 'inherit'] });
writeFileSync(process.argv[2], JSON.stringify({ child: process.pid, grandchild: gc.pid }));
setInterval(() => {}, 1000);
`;

let sb: Sandbox;
beforeEach(async () => {
  sb = await sandbox();
});
afterEach(async () => {
  await sb.cleanup();
});

describe("runProcess", () => {
  it("returns the exit code, stdout and stderr of a program run without a shell", async () => {
    const r = await runProcess({
      command: node,
      args: ["-e", 'console.log("out $HOME"); console.error("err"); process.exit(3)'],
      cwd: sb.dir,
      timeoutMs: 5_000,
    });
    expect(r).toMatchObject({ exitCode: 3, signal: null, timedOut: false, cancelled: false });
    expect(r.stdout).toBe("out $HOME\n");
    expect(r.stderr).toBe("err\n");
    expect(r.durationMs).toBeGreaterThanOrEqual(0);
  });

  it("writes the stdin string and runs in the given cwd with exactly the given env", async () => {
    const r = await runProcess({
      command: node,
      args: [
        "-e",
        'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.stringify({s,cwd:process.cwd(),env:process.env.ONLY,path:process.env.PATH})))',
      ],
      cwd: sb.base,
      env: { ONLY: "yes" },
      stdin: "hello",
      timeoutMs: 5_000,
    });
    expect(JSON.parse(r.stdout)).toEqual({ s: "hello", cwd: sb.base, env: "yes" });
  });

  it("kills the whole process group after the timeout, leaving no orphan grandchild", async () => {
    const script = await sb.write("spawner.mjs", SPAWNS_GRANDCHILD);
    const pids = join(sb.dir, "pids.json");
    const r = await runProcess({ command: node, args: [script, pids], cwd: sb.dir, timeoutMs: 600, killGraceMs: 300 });
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBeNull();
    expect(r.signal).toBe("SIGTERM");
    const { child, grandchild } = JSON.parse(await waitForFile(pids)) as { child: number; grandchild: number };
    expect(await isGone(child)).toBe(true);
    expect(await waitGone(grandchild, 500)).toBe(true);
  });

  it("escalates to SIGKILL when the group ignores SIGTERM", async () => {
    const r = await runProcess({
      command: node,
      args: ["-e", 'process.on("SIGTERM",()=>{}); console.log("ready"); setInterval(()=>{},1000)'],
      cwd: sb.dir,
      timeoutMs: 300,
      killGraceMs: 200,
    });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe("SIGKILL");
    expect(r.stdout).toBe("ready\n");
  });

  it("kills the whole process group when the abort signal fires and reports it as cancelled", async () => {
    const script = await sb.write("spawner.mjs", SPAWNS_GRANDCHILD);
    const pids = join(sb.dir, "pids.json");
    const ac = new AbortController();
    const running = runProcess({
      command: node,
      args: [script, pids],
      cwd: sb.dir,
      timeoutMs: 10_000,
      signal: ac.signal,
    });
    const { child, grandchild } = JSON.parse(await waitForFile(pids)) as { child: number; grandchild: number };
    ac.abort();
    const r = await running;
    expect(r).toMatchObject({ cancelled: true, timedOut: false });
    expect(await isGone(child)).toBe(true);
    expect(await waitGone(grandchild, 500)).toBe(true);
  });

  it("does not start anything when the signal is already aborted", async () => {
    const ac = new AbortController();
    ac.abort();
    const r = await runProcess({
      command: "definitely-not-a-command",
      cwd: sb.dir,
      timeoutMs: 1_000,
      signal: ac.signal,
    });
    expect(r.cancelled).toBe(true);
  });

  it("stops background processes a leader left behind when it exits normally", async () => {
    const script = await sb.write(
      "leaves-bg.mjs",
      `import { spawn } from 'node:child_process';
       import { writeFileSync } from 'node:fs';
       const gc = spawn('sleep', ['30'], { stdio: 'ignore' });
       gc.unref();
       writeFileSync(process.argv[2], String(gc.pid));
       console.log('done');`,
    );
    const pidFile = join(sb.dir, "bg.pid");
    const r = await runProcess({ command: node, args: [script, pidFile], cwd: sb.dir, timeoutMs: 5_000 });
    expect(r).toMatchObject({ exitCode: 0, timedOut: false, stdout: "done\n" });
    // It did not wait for the 30 s sleep the leader left behind (whatever the machine's load).
    expect(r.durationMs).toBeLessThan(20_000);
    expect(await waitGone(Number(await waitForFile(pidFile)), 1_000)).toBe(true);
  });

  it("calls onTick while the program runs", async () => {
    const ticks: number[] = [];
    await runProcess({
      command: node,
      args: ["-e", "setTimeout(()=>{}, 300)"],
      cwd: sb.dir,
      timeoutMs: 5_000,
      tickMs: 50,
      onTick: (ms) => ticks.push(ms),
    });
    expect(ticks.length).toBeGreaterThanOrEqual(2);
    expect(ticks[1]!).toBeGreaterThan(ticks[0]!);
  });

  it("keeps only the tail of output beyond the cap and flags it as truncated", async () => {
    const r = await runProcess({
      command: node,
      args: ["-e", 'process.stdout.write("a".repeat(5000) + "END")'],
      cwd: sb.dir,
      timeoutMs: 5_000,
      maxOutputBytes: 1_000,
    });
    expect(r.stdout.length).toBe(1_000);
    expect(r.stdout.endsWith("aEND")).toBe(true);
    expect(r.stdoutTruncated).toBe(true);
    expect(r.stderrTruncated).toBe(false);
  });

  it("throws a SpawnError naming the command when the program does not exist", async () => {
    const err = await runProcess({ command: "squadflow-no-such-binary", cwd: sb.dir, timeoutMs: 1_000 }).catch(
      (e) => e,
    );
    expect(err).toBeInstanceOf(SpawnError);
    expect(err).toMatchObject({ code: "ENOENT", command: "squadflow-no-such-binary" });
    expect(err.message).toContain('"squadflow-no-such-binary"');
  });

  it("throws a SpawnError with EACCES when the program is not executable", async () => {
    const script = await sb.write("not-exec.sh", "#!/bin/sh\necho hi\n");
    await chmod(script, 0o644);
    const err = await runProcess({ command: script, cwd: sb.dir, timeoutMs: 1_000 }).catch((e) => e);
    expect(err).toBeInstanceOf(SpawnError);
    expect(err.code).toBe("EACCES");
  });

  it("throws a SpawnError naming the working directory when it does not exist", async () => {
    const err = await runProcess({ command: node, cwd: join(sb.dir, "nope"), timeoutMs: 1_000 }).catch((e) => e);
    expect(err).toBeInstanceOf(SpawnError);
    expect(err.code).toBe("NO_CWD");
    expect(err.message).toContain("nope");
  });
});

describe("tail", () => {
  it("keeps the last n lines, ignoring trailing newlines", () => {
    expect(tail("a\nb\nc\nd\n\n", 2)).toBe("c\nd");
    expect(tail("", 5)).toBe("");
  });

  it("caps the characters of very long lines", () => {
    const t = tail("x".repeat(100), 5, 10);
    expect(t).toHaveLength(10);
    expect(t.startsWith("…")).toBe(true);
  });
});
