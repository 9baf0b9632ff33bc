/**
 * The review queue when a card's state cannot be read: its worker is gone, so its query is never answered.
 * The queue still lists the card (from visibility) and says why its details are missing, instead of
 * stalling the page.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PortalHandle } from "../../src/portal/server.js";
import { testEnv } from "../helpers/temporal.js";
import { until } from "../helpers/until.js";
import { waitForStatus } from "../workflows/fakes.js";
import { TOKENS, runningWorker, startTestBacklog, testPortal } from "./helpers.js";

let portal: PortalHandle;
beforeAll(async () => {
  portal = await testPortal();
});
afterAll(async () => {
  await portal?.close();
});

interface Item {
  cardId: string;
  reasons: string[];
  unavailable?: string;
}

async function queue(backlogId: string): Promise<Item[]> {
  const res = await fetch(`${portal.url}/api/review-queue?backlog=${backlogId}`, {
    headers: { authorization: `Bearer ${TOKENS.reviewer}` },
  });
  return ((await res.json()) as { cards: Item[] }).cards;
}

describe("review queue", () => {
  it("lists an escalated card whose worker is gone, saying its state could not be read", async () => {
    const w = await runningWorker({ GONE: { judge: [["never good enough"]] } });
    const backlogId = await startTestBacklog(w.taskQueue, [{ id: "GONE" }]);
    const { client } = await testEnv();
    await waitForStatus(client.workflow.getHandle(`${backlogId}/GONE`), "AWAITING_HUMAN");
    // With its worker: the reasons (once visibility lists the card).
    const live = await until("the card in the queue", async () =>
      (await queue(backlogId)).find((i) => i.cardId === "GONE"),
    );
    expect(live.reasons).toEqual(["llm_judge: never good enough"]);

    await w.stop();
    const [item] = await queue(backlogId);
    expect(item).toMatchObject({ cardId: "GONE", reasons: [] });
    expect(item!.unavailable).toMatch(/^its state could not be read \(.*\); is a worker running\?$/);
  });
});
