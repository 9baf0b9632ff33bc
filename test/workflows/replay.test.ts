import { readdir, readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { temporal } from "@temporalio/proto";
import { Worker } from "@temporalio/worker";
import { describe, expect, it } from "vitest";
import { workflowBundlePath } from "../helpers/temporal.js";

/** A recorded history (protobufjs JSON, see scripts/record-histories.ts). */
async function loadHistory(text: Promise<string>) {
  return temporal.api.history.v1.History.fromObject(JSON.parse(await text));
}

const DIR = resolve(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..", "fixtures", "histories");

/**
 * Replays recorded histories (scripts/record-histories.ts) against today's workflow code: a change that
 * would break running workflows (non-determinism) fails here instead of in production.
 */
describe("replay of recorded histories", () => {
  it("covers every workflow type", async () => {
    const types = new Set<string>();
    for (const file of await readdir(DIR)) {
      const history = await loadHistory(readFile(resolve(DIR, file), "utf8"));
      types.add(history.events![0]!.workflowExecutionStartedEventAttributes!.workflowType!.name!);
    }
    expect([...types].sort()).toEqual([
      "backlogShardWorkflow",
      "backlogWorkflow",
      "cardWorkflow",
      "correctionWorkflow",
      "deliberationWorkflow",
    ]);
  });

  it("covers both dependency paths: backlogs that relay every rest, and cards that tell their dependents (patch cards-tell-dependents)", async () => {
    const relayByCards: boolean[] = [];
    for (const file of (await readdir(DIR)).filter((f) => f.startsWith("backlog"))) {
      const history = await loadHistory(readFile(resolve(DIR, file), "utf8"));
      const patches = history.events!.flatMap((e) =>
        Object.values(e.markerRecordedEventAttributes?.details ?? {}).flatMap((d) => d.payloads ?? []),
      );
      relayByCards.push(
        patches.some((p) => new TextDecoder().decode(p.data ?? new Uint8Array()).includes("cards-tell-dependents")),
      );
    }
    expect(relayByCards).toContain(true);
    expect(relayByCards).toContain(false);
  });

  it("covers a council: a card whose attempt started a deliberation child workflow (patch deliberation)", async () => {
    const history = await loadHistory(readFile(resolve(DIR, "card-council.json"), "utf8"));
    const patches = history.events!.flatMap((e) =>
      Object.values(e.markerRecordedEventAttributes?.details ?? {}).flatMap((d) => d.payloads ?? []),
    );
    expect(patches.some((p) => new TextDecoder().decode(p.data ?? new Uint8Array()).includes("deliberation"))).toBe(
      true,
    );
    const children = history.events!.flatMap(
      (e) => e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name ?? [],
    );
    expect(children).toEqual(["deliberationWorkflow"]);
  });

  it("covers councils before and after parallel runs shared the budget (patch council-budget-shares)", async () => {
    const shares: boolean[] = [];
    for (const file of (await readdir(DIR)).filter((f) => f.startsWith("deliberation"))) {
      const history = await loadHistory(readFile(resolve(DIR, file), "utf8"));
      const patches = history.events!.flatMap((e) =>
        Object.values(e.markerRecordedEventAttributes?.details ?? {}).flatMap((d) => d.payloads ?? []),
      );
      shares.push(
        patches.some((p) => new TextDecoder().decode(p.data ?? new Uint8Array()).includes("council-budget-shares")),
      );
    }
    expect(shares.sort()).toEqual([false, true]);
  });

  it("replays every recorded history without non-determinism", async () => {
    const files = (await readdir(DIR)).filter((f) => f.endsWith(".json"));
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const file of files) {
      const history = await loadHistory(readFile(resolve(DIR, file), "utf8"));
      const workflowId = history.events![0]!.workflowExecutionStartedEventAttributes!.workflowId ?? file;
      await expect(
        Worker.runReplayHistory({ workflowBundle: { codePath: workflowBundlePath() } }, history, workflowId),
        file,
      ).resolves.toBeUndefined();
    }
  });
});
