/**
 * The new user's path, end to end: `squadflow dev --start <example>` (what `npm start` runs) prints the
 * portal's login URL; in Chromium, the user opens it, approves the escalated BE-002 from the human-review
 * panel, and QA-001 — which waited for it — then runs to DONE on the live board; the diff of BE-002's
 * merged attempt shows on its card page. Real CLI process, its own embedded Temporal server on free ports,
 * the shipped command agents, a temp example repository (as test/e2e/dev.test.ts).
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { freePort } from "../../src/temporal/dev-server.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { PROJECT_ROOT } from "../../src/temporal/cli-path.js";
import { mergesOf, tempExampleRepository, type TempExampleRepository } from "../helpers/example-repo.js";
import { devServerPids } from "../helpers/processes.js";
import { launchBrowser, screenshot } from "./helpers.js";

const BIN = join(PROJECT_ROOT, "bin", "squadflow.mjs");
const EXAMPLE = join("state", "backlog_master.example.json");

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let browser: Browser | undefined;
let repo: TempExampleRepository | undefined;
let workspaces: string | undefined;
let dev: { pid: number; port: number } | undefined;

afterAll(async () => {
  await browser?.close();
  if (dev) {
    try {
      process.kill(-dev.pid, "SIGKILL");
    } catch {
      // already gone
    }
    for (const pid of devServerPids(dev.port)) process.kill(pid, "SIGKILL");
  }
  if (workspaces) await rm(workspaces, { recursive: true, force: true });
  await repo?.remove();
});

describe("portal under squadflow dev", () => {
  it("prints a login URL; a new user approves BE-002 from the page and QA-001 then runs to DONE", async () => {
    browser = await launchBrowser();
    repo = await tempExampleRepository("portal-dev");
    workspaces = await mkdtemp(join(tmpdir(), "squadflow-portal-dev-"));
    const [port, uiPort, portalPort] = [await freePort(), await freePort(), await freePort()];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SQUADFLOW_WORKSPACES: join(workspaces, "workspaces"),
      SQUADFLOW_WORKTREES: join(workspaces, "worktrees"),
    };
    delete env.SQUADFLOW_PORTAL_TOKENS;
    delete env.SQUADFLOW_PORTAL_TOKENS_FILE;
    delete env.SQUADFLOW_PORTAL_TRUSTED_HEADER;
    const args = [
      "dev",
      "--in-memory",
      "--port",
      String(port),
      "--ui-port",
      String(uiPort),
      "--portal-port",
      String(portalPort),
      "--start",
      EXAMPLE,
      "--repo",
      repo.dir,
    ];
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: PROJECT_ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    dev = { pid: child.pid!, port };
    let out = "";
    let err = "";
    child.stdout!.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

    await until("the login URL", () => /log in \(local token[^)]*\): (\S+)\n/.test(out), 90_000);
    const login = /log in \(local token[^)]*\): (\S+)\n/.exec(out)![1]!;
    expect(login).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${portalPort}/login\\?token=`));
    await until("BE-002 to wait for a human", () => / BE-002 AWAITING_HUMAN\n/.test(out), 150_000);

    const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    await page.goto(login);
    await page.locator('a[href="/backlogs/shop-discounts"]').waitFor();
    await page.goto(`http://127.0.0.1:${portalPort}/backlogs/shop-discounts`);
    await page.locator('[data-column="AWAITING_HUMAN"] [data-card="BE-002"]').waitFor();
    await page.locator('[data-column="TODO"] [data-card="QA-001"]').waitFor();
    await page.screenshot({ path: screenshot("example-board.png") });

    await page.locator("header a", { hasText: "Human review" }).click();
    const item = page.locator('[data-review="shop-discounts/BE-002"]');
    await item.waitFor();
    expect(await item.locator(".reasons").textContent()).toMatch(/qa: /);
    await item.locator("form.review-form input[name=reason]").fill("ledger rounding verified by finance");
    await item.locator("form.review-form button[value=approve]").click();
    await page
      .getByText(/approve by \S+ at .* ledger rounding verified by finance/)
      .first()
      .waitFor();

    await page.goto(`http://127.0.0.1:${portalPort}/backlogs/shop-discounts`);
    await page.locator('[data-column="DONE"] [data-card="QA-001"]').waitFor({ timeout: 120_000 });
    await page.locator(".stats", { hasText: "12/12 final (100%)" }).waitFor({ timeout: 60_000 });
    const merged = (await mergesOf(repo.dir, "squadflow/shop-discounts")).map((m) => m.trailers["Squadflow-Card"]);
    expect(merged).toContain("BE-002");
    expect(merged).toContain("QA-001");

    await page.goto(`http://127.0.0.1:${portalPort}/backlogs/shop-discounts/cards/BE-002`);
    expect(await page.locator("[data-status]").textContent()).toBe("DONE");
    expect(await page.locator("pre.diff .hljs-addition").count()).toBeGreaterThan(0);
    expect(await page.locator("main").textContent()).toContain("ledger rounding verified by finance");
    await page.screenshot({ path: screenshot("example-card.png") });
    await page.locator("pre.diff").scrollIntoViewIfNeeded();
    await page.screenshot({ path: screenshot("example-diff.png") });

    await page.goto(`http://127.0.0.1:${portalPort}/backlogs/shop-discounts/metrics`);
    expect(await page.locator('svg[aria-label="Top 10 rejection reasons"]').textContent()).toMatch(/qa: /);
    expect(await page.locator('svg[aria-label="Time to approval (distribution)"]').textContent()).toContain("cards");
    await page.screenshot({ path: screenshot("example-metrics.png"), fullPage: true });

    process.kill(-child.pid!, "SIGINT");
    expect(await exit, `stdout:\n${out}\nstderr:\n${err}`).toBe(0);
    dev = undefined;
    await until("the dev server to be gone", () => devServerPids(port).length === 0, 10_000);
  }, 300_000);
});
