/**
 * Starting a plan from the portal's start form (issue 13 with `squadflow plan`), in a real browser (Debian's
 * Chromium via playwright-core) against the run's Temporal server and a worker with scripted activities.
 * Tests wait for the DOM or Temporal state they need, never a fixed time.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WorkflowNotFoundError } from "@temporalio/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import type { PortalHandle } from "../../src/portal/server.js";
import { testEnv } from "../helpers/temporal.js";
import { uniqueBacklogId } from "../workflows/fakes.js";
import { TOKENS, launchBrowser, runningWorker, testBacklogFile, testPortal } from "./helpers.js";

let browser: Browser;
let portal: PortalHandle;
let dir: string;
let stopWorker: (() => Promise<void>) | undefined;

beforeAll(async () => {
  const w = await runningWorker({});
  stopWorker = w.stop;
  dir = await mkdtemp(join(tmpdir(), "portal-plan-"));
  [browser, portal] = await Promise.all([launchBrowser(), testPortal({ taskQueue: w.taskQueue, backlogRoot: dir })]);
});

afterAll(async () => {
  await portal?.close();
  await browser?.close();
  await stopWorker?.();
});

/** A Markdown plan in seed 004's shape: two DOC tasks, the second depending on `dependency`. */
function markdownPlan(dependency: string): string {
  return [
    "# Plan: the guide", // 1
    "", // 2
    "## DOC Tasks", // 3
    "", // 4
    "- [ ] G-1: Write the intro", // 5
    "  - Priority: high", // 6
    "  - The intro section of the guide.", // 7
    "- [ ] G-2: Write the usage", // 8
    `  - Depends on: ${dependency}`, // 9
    "  - The usage section of the guide.", // 10
    "",
  ].join("\n");
}

async function reviewerPage(): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${portal.url}/login?token=${TOKENS.reviewer}`);
  await page.waitForURL(`${portal.url}/`);
  return page;
}

/** Fills the start form and submits it. */
async function submit(page: Page, fields: { file: string; squad?: string; backlogId?: string }): Promise<void> {
  const form = page.locator("form.start-form");
  await form.locator("input[name=file]").fill(fields.file);
  await form.locator("input[name=squad]").fill(fields.squad ?? "");
  await form.locator("input[name=backlogId]").fill(fields.backlogId ?? "");
  await form.locator("button").click();
}

describe("portal: start a plan", () => {
  it("derives a Markdown plan with its squad file, writes it where plan --start does, starts it and lands on its board", async () => {
    const backlogId = uniqueBacklogId("plan");
    await writeFile(join(dir, "guide.md"), markdownPlan("G-1"));
    await writeFile(join(dir, "squad.json"), JSON.stringify(testBacklogFile("unused", []).squad));

    const page = await reviewerPage();
    // A plan without its squad file is refused, naming the field.
    await submit(page, { file: "guide.md", backlogId });
    await page
      .locator("form.start-form output.bad", { hasText: 'squad: "guide.md" is a plan; give its squad file' })
      .waitFor();
    // The squad file is held to the same folder rule as the plan.
    await submit(page, { file: "guide.md", squad: "../squad.json", backlogId });
    await page
      .locator("form.start-form output.bad", { hasText: `squad: "../squad.json" must be a .json file inside ${dir}` })
      .waitFor();

    await submit(page, { file: "guide.md", squad: "squad.json", backlogId });
    await page.waitForURL(`${portal.url}/backlogs/${backlogId}`);
    await page.locator('[data-column="DONE"] [data-card="G-1"]').waitFor();
    await page.locator('[data-column="DONE"] [data-card="G-2"]').waitFor();
    const written = JSON.parse(await readFile(join(dir, "guide.backlog.json"), "utf8")) as {
      metadata: { backlog_id: string };
      cards: { id: string; dependencies: string[] }[];
    };
    expect(written.metadata.backlog_id).toBe(backlogId);
    expect(written.cards.map((c) => [c.id, c.dependencies])).toEqual([
      ["G-1", []],
      ["G-2", ["G-1"]],
    ]);
    await page.context().close();
  });

  it("shows a plan with an unknown dependency as file:line inline and starts nothing", async () => {
    const backlogId = uniqueBacklogId("badplan");
    await writeFile(join(dir, "bad-guide.md"), markdownPlan("NOPE"));
    // A backlog file with a squad section serves as the squad too (as `plan --squad` takes it).
    await writeFile(join(dir, "with-squad.json"), JSON.stringify(testBacklogFile("unused", [{ id: "U-1" }])));

    const page = await reviewerPage();
    await submit(page, { file: "bad-guide.md", squad: "with-squad.json", backlogId });
    const out = page.locator("form.start-form output.bad", { hasText: "nothing was started" });
    await out.waitFor();
    expect(await out.textContent()).toMatch(
      new RegExp(`${join(dir, "bad-guide.md")}:9: card G-2, field Depends on: .*NOPE`),
    );
    expect(page.url()).toBe(`${portal.url}/`);
    expect(existsSync(join(dir, "bad-guide.backlog.json"))).toBe(false);
    const { client } = await testEnv();
    await expect(client.workflow.getHandle(backlogId).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    await page.context().close();
  });

  it("tells a .json plan from a .json backlog by its content, as squadflow plan reads them", async () => {
    const backlogId = uniqueBacklogId("jsonplan");
    const plan = { title: "JSON plan", tasks: [{ id: "J-1", role: "DOC", description: "One section." }] };
    await writeFile(join(dir, "plan.json"), JSON.stringify(plan));
    await writeFile(join(dir, "squad-only.json"), JSON.stringify(testBacklogFile("unused", []).squad));
    const headers = { authorization: `Bearer ${TOKENS.reviewer}`, "content-type": "application/json" };
    const post = (body: object) =>
      fetch(`${portal.url}/api/backlogs`, { method: "POST", headers, body: JSON.stringify(body) });

    // A backlog file takes no squad file: its squad is its own.
    const backlog = uniqueBacklogId("jsonbacklog");
    await writeFile(join(dir, "backlog.json"), JSON.stringify(testBacklogFile(backlog, [{ id: "B-1" }])));
    const refused = await post({ file: "backlog.json", squad: "squad-only.json" });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: string }).error).toContain("only a plan takes a squad file");

    const res = await post({ file: "plan.json", squad: "squad-only.json", backlogId });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      backlogId,
      started: true,
      plan: "plan.json",
      file: "plan.backlog.json",
      location: `/backlogs/${backlogId}`,
    });
    const { client } = await testEnv();
    await client.workflow.getHandle(backlogId).result();
  });
});
