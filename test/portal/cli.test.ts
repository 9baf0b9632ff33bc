/**
 * `squadflow portal` as a user runs it: the real CLI in a process of its own against the run's Temporal
 * server (TEMPORAL_ADDRESS); bad auth settings are refused before anything listens.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { PROJECT_ROOT } from "../../src/temporal/cli-path.js";
import { cli } from "../helpers/cli.js";

const BIN = join(PROJECT_ROOT, "bin", "squadflow.mjs");

function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    TEMPORAL_ADDRESS: inject("temporalAddress"),
    TEMPORAL_NAMESPACE: inject("temporalNamespace"),
    ...extra,
  };
  for (const k of ["SQUADFLOW_PORTAL_TOKENS", "SQUADFLOW_PORTAL_TOKENS_FILE", "SQUADFLOW_PORTAL_TRUSTED_HEADER"])
    if (!(k in extra)) delete env[k];
  return env;
}

describe("squadflow portal", () => {
  it("serves on a free port, prints its login URL (a local token when none is configured), and stops on SIGTERM", async () => {
    const child = spawn(process.execPath, [BIN, "portal", "--port", "0", "--json", "--read-only"], {
      cwd: PROJECT_ROOT,
      env: cleanEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    let err = "";
    child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    const line = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (c: Buffer) => {
        out += c.toString();
        if (out.includes("\n")) resolve(out.split("\n")[0]!);
      });
      child.once("exit", (code) => reject(new Error(`portal exited ${code}: ${err}`)));
    });
    const started = JSON.parse(line) as { url: string; loginUrl: string; readOnly: boolean };
    expect(started).toMatchObject({ url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), readOnly: true });
    expect(started.loginUrl).toMatch(new RegExp(`^${started.url}/login\\?token=[\\w-]{32}$`));

    const login = await fetch(started.loginUrl, { redirect: "manual" });
    expect(login.status).toBe(303);
    const cookie = login.headers
      .getSetCookie()
      .map((c) => c.split(";")[0])
      .join("; ");
    const me = await fetch(`${started.url}/api/me`, { headers: { cookie } });
    expect(await me.json()).toMatchObject({ role: "reviewer", via: "session", readOnly: true });
    const list = await fetch(`${started.url}/api/backlogs`, { headers: { cookie } });
    expect(list.status).toBe(200);
    expect(Array.isArray(((await list.json()) as { backlogs: unknown[] }).backlogs)).toBe(true);

    child.kill("SIGTERM");
    expect(await exit, err).toBe(0);
  });

  it("refuses malformed auth settings with exit 2, naming the variable, before listening", async () => {
    const prev = process.env.SQUADFLOW_PORTAL_TOKENS;
    process.env.SQUADFLOW_PORTAL_TOKENS = "ana:long-enough-token,bob";
    try {
      const run = await cli("portal", "--port", "0");
      expect(run.code).toBe(2);
      expect(run.err).toBe("squadflow: SQUADFLOW_PORTAL_TOKENS entry 2: expected name:token[:role]");
    } finally {
      if (prev === undefined) delete process.env.SQUADFLOW_PORTAL_TOKENS;
      else process.env.SQUADFLOW_PORTAL_TOKENS = prev;
    }
  });
});
