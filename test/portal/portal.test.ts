/**
 * The review portal in a real browser (Debian's Chromium via playwright-core): the live board, the human
 * review panel, refusals, escaping — against the run's Temporal server, with scripted activities. Tests
 * wait for the DOM state they need (Playwright's waitFor), never a fixed time.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { OwnerInput } from "../../src/domain/index.js";
import type { PortalHandle } from "../../src/portal/server.js";
import { testEnv } from "../helpers/temporal.js";
import { gate, uniqueBacklogId, waitForStatus } from "../workflows/fakes.js";
import {
  TOKENS,
  launchBrowser,
  runningWorker,
  screenshot,
  startTestBacklog,
  testBacklogFile,
  testPortal,
} from "./helpers.js";

let browser: Browser;
let portal: PortalHandle;
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  [browser, portal] = await Promise.all([launchBrowser(), testPortal()]);
});

afterAll(async () => {
  await portal?.close();
  await browser?.close();
  for (const stop of stops) await stop();
});

/** A logged-in page (the reviewer "tess", through the login URL). */
async function reviewerPage(on: PortalHandle = portal): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  await page.goto(`${on.url}/login?token=${TOKENS.reviewer}`);
  await page.waitForURL(`${on.url}/`);
  return { context, page };
}

async function worker(...args: Parameters<typeof runningWorker>) {
  const w = await runningWorker(...args);
  stops.push(w.stop);
  return w;
}

describe("portal in a browser", () => {
  it("shows a backlog on its board and moves a card live, without reloading, when its owner finishes", async () => {
    const owner = gate();
    const heartbeat = {
      phase: "owner",
      elapsedMs: 65_000,
      progress: { turns: 3, inputTokens: 20000, outputTokens: 550, lastTool: "Write" },
    };
    const w = await worker({ A: { hold: owner.hold, heartbeat } });
    const backlogId = await startTestBacklog(w.taskQueue, [
      { id: "A", priority: "HIGH" },
      { id: "B", dependencies: ["A"] },
    ]);
    const { context, page } = await reviewerPage();
    await page.goto(`${portal.url}/`);
    await page.locator(`a[href="/backlogs/${backlogId}"]`).click();
    await page.locator('[data-column="IN_PROGRESS"] [data-card="A"]').waitFor();
    await page.locator('[data-column="TODO"] [data-card="B"]').waitFor();
    expect(await page.locator('[data-card="B"] .why').textContent()).toContain("waiting for A");
    expect(await page.locator('[data-card="A"] .meta').first().textContent()).toContain("HIGH");
    // What the working owner's last heartbeat said.
    await page
      .locator('[data-card="A"] .progress', {
        hasText: "owner: 3 turns · 20000 in / 550 out tokens so far · last tool Write",
      })
      .waitFor();
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));

    owner.release();
    await page.locator('[data-column="DONE"] [data-card="B"]').waitFor();
    await page.locator('[data-column="DONE"] [data-card="A"]').waitFor();
    // The same document (no reload): the board changed through Server-Sent Events.
    expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(42);
    // DONE shows as soon as the card says so; it counts as final once its workflow has ended.
    await page.locator(".stats", { hasText: "2/2 final (100%)" }).waitFor();
    await context.close();
  });

  it("approves an escalated card from the review panel, after which its dependent runs; a refused decision shows the validator message", async () => {
    const w = await worker({ ESC: { judge: [["ledger rounds half-up instead of half-even"]] } });
    const backlogId = await startTestBacklog(w.taskQueue, [
      { id: "ESC", type: "DOC" },
      { id: "NEXT", dependencies: ["ESC"] },
    ]);
    const { client } = await testEnv();
    await waitForStatus(client.workflow.getHandle(`${backlogId}/ESC`), "AWAITING_HUMAN");

    const { context, page } = await reviewerPage();
    await page.goto(`${portal.url}/backlogs/${backlogId}`);
    await page.locator('[data-column="AWAITING_HUMAN"] [data-card="ESC"]').waitFor();
    expect(await page.locator('[data-card="ESC"] .why').textContent()).toBe(
      "waits for a human review: llm_judge: ledger rounds half-up instead of half-even",
    );
    await page.screenshot({ path: screenshot("board.png") });
    // The queue of this backlog: the test server also holds other test files' escalated cards.
    await page.goto(`${portal.url}/review?backlog=${backlogId}`);
    const item = page.locator(`[data-review="${backlogId}/ESC"]`);
    await item.waitFor();
    expect(await item.locator(".reasons").textContent()).toContain(
      "llm_judge: ledger rounds half-up instead of half-even",
    );
    expect(await item.locator(".root-cause").textContent()).toBe("root cause for ESC");

    // Retry is refused by the card's update validator: its message is shown inline.
    const retry = item.locator('form[data-api$="/retry"]');
    await retry.locator("input[name=reason]").fill("once more");
    await retry.locator("button").click();
    await retry.locator("output.bad", { hasText: "cannot be retried in status AWAITING_HUMAN" }).waitFor();

    // Clarify needs the context it adds to the next correction: refused without it.
    const review = item.locator("form.review-form");
    await review.locator("input[name=reason]").fill("which rounding?");
    await review.locator("button[value=clarify]").click();
    await review.locator("output.bad", { hasText: /^Refused: invalid human review: .*context/ }).waitFor();

    await review.locator("input[name=reason]").fill("half-up is what finance wants");
    await review.locator("button[value=approve]").click();
    await page
      .getByText(/approve by tess at .* half-up is what finance wants/)
      .first()
      .waitFor();
    await page.screenshot({ path: screenshot("review.png") });

    await page.goto(`${portal.url}/backlogs/${backlogId}`);
    await page.locator('[data-column="DONE"] [data-card="NEXT"]').waitFor();

    const res = await fetch(`${portal.url}/api/backlogs/${backlogId}/cards/ESC`, {
      headers: { authorization: `Bearer ${TOKENS.reviewer}` },
    });
    const history = (await res.json()) as { state: { auditLog: { actor: string; action: string; reason: string }[] } };
    // The audited reviewer is the authenticated one.
    expect(history.state.auditLog.filter((e) => e.actor !== "squadflow")).toEqual([
      expect.objectContaining({ actor: "tess", action: "approve", reason: "half-up is what finance wants" }),
    ]);

    await page.goto(`${portal.url}/backlogs/${backlogId}/cards/ESC`);
    await page.locator('[data-attempt="4"]').waitFor();
    expect(await page.locator("[data-status]").textContent()).toBe("DONE");
    await page.screenshot({ path: screenshot("card.png"), fullPage: true });
    await page.goto(`${portal.url}/backlogs/${backlogId}/metrics`);
    expect(await page.locator('svg[aria-label="Attempts per card"]').textContent()).toContain("ESC");
    await context.close();
  });

  it("renders agent output with HTML in it as text: an artifact containing <script> is shown, not run", async () => {
    const w = await worker({ X: { judge: [["<b>bold</b> claim"], "pass"] } }, (a) => ({
      ...a,
      async runOwner(input: OwnerInput) {
        const r = await a.runOwner(input);
        return {
          ...r,
          summary: "<script>window.pwned = 1</script> summary",
          artifacts: ['<img src=x onerror="window.pwned=2">.md'],
        };
      },
    }));
    const backlogId = await startTestBacklog(w.taskQueue, [{ id: "X" }]);
    const { client } = await testEnv();
    await client.workflow.getHandle(backlogId).result();

    const { context, page } = await reviewerPage();
    await page.goto(`${portal.url}/backlogs/${backlogId}/cards/X`);
    await page.locator('[data-attempt="2"]').waitFor();
    expect(await page.locator('[data-attempt="1"] .summary').textContent()).toBe(
      "<script>window.pwned = 1</script> summary",
    );
    expect(await page.locator('[data-attempt="1"] code.artifact').textContent()).toBe(
      '<img src=x onerror="window.pwned=2">.md',
    );
    expect(await page.locator('[data-attempt="1"]').textContent()).toContain("<b>bold</b> claim");
    expect(await page.locator("main img, main b").count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as unknown as { pwned?: number }).pwned)).toBeUndefined();
    await context.close();
  });

  it("starts a backlog from a file on the server: a refused file shows its problems inline, a valid one opens its board", async () => {
    const w = await worker({});
    const dir = await mkdtemp(join(tmpdir(), "portal-start-"));
    const own = await testPortal({ taskQueue: w.taskQueue, backlogRoot: dir });
    stops.push(() => own.close());
    const backlogId = uniqueBacklogId("started");
    const bad = join(dir, "bad.json");
    const good = join(dir, "good.json");
    await writeFile(bad, JSON.stringify(testBacklogFile(backlogId, [{ id: "S-1", dependencies: ["NOPE"] }])));
    await writeFile(
      good,
      JSON.stringify(testBacklogFile(backlogId, [{ id: "S-1" }, { id: "S-2", dependencies: ["S-1"] }])),
    );

    const { context, page } = await reviewerPage(own);
    const form = page.locator("form.start-form");
    // Only backlog files inside the portal's folder: the form is no way to read the server's other files.
    await form.locator("input[name=file]").fill("/etc/passwd");
    await form.locator("button").click();
    await form
      .locator("output.bad", {
        hasText: `"/etc/passwd" must be a backlog (.json) or a plan (.md, .yaml, .yml, .json) inside ${dir}`,
      })
      .waitFor();

    await form.locator("input[name=file]").fill("bad.json");
    await form.locator("button").click();
    await form.locator("output.bad", { hasText: "nothing was started" }).waitFor();
    expect(await form.locator("output").textContent()).toContain("NOPE");

    await form.locator("input[name=file]").fill(good);
    await form.locator("button").click();
    await page.waitForURL(`${own.url}/backlogs/${backlogId}`);
    await page.locator('[data-column="DONE"] [data-card="S-2"]').waitFor();
    await context.close();
  });

  it("pauses, resumes and cancels a backlog from its board, each with a reason, showing each answer inline", async () => {
    const owner = gate();
    const w = await worker({ P: { hold: owner.hold } });
    const lines: string[] = [];
    const own = await testPortal({ log: (line) => lines.push(line) });
    stops.push(() => own.close());
    const backlogId = await startTestBacklog(w.taskQueue, [{ id: "P" }, { id: "Q", dependencies: ["P"] }]);
    const { context, page } = await reviewerPage(own);
    await page.goto(`${own.url}/backlogs/${backlogId}`);
    await page.locator('[data-column="IN_PROGRESS"] [data-card="P"]').waitFor();

    const act = async (action: string, reason: string, answer: RegExp) => {
      const form = page.locator(`form[data-api="/api/backlogs/${backlogId}/${action}"]`);
      await form.locator("input[name=reason]").fill(reason);
      await form.locator("button").click();
      await form.locator("output.ok", { hasText: answer }).waitFor();
    };
    await act("pause", "release freeze", /^pause by tess at .* — release freeze$/);
    await page.locator("[data-state]", { hasText: "paused" }).waitFor();
    await act("resume", "freeze over", /^resume by tess at .* — freeze over$/);
    await page.locator("[data-state]", { hasText: "running" }).waitFor();
    await act("cancel", "wrong repository", new RegExp(`^cancellation requested: ${backlogId}$`));
    await page.locator('[data-column="CANCELLED"] [data-card="P"]').waitFor();
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      expect.objectContaining({
        event: "portal.cancel",
        workflowId: backlogId,
        reviewer: "tess",
        reason: "wrong repository",
      }),
    ]);
    owner.release();
    await context.close();
  });
});
