/**
 * The shared poller behind the portal's SSE streams: one read loop per watched key whatever the number of
 * watchers, changes only, and no loop once nobody watches. The test decides when each next read is due.
 */
import { describe, expect, it } from "vitest";
import { SharedPoller, type LiveUpdate } from "../../src/portal/live.js";
import { until } from "../helpers/until.js";

/** A poller whose reads return `values[key]` and whose next read happens when the test calls `tick()`. */
function manualPoller(values: Record<string, unknown>) {
  const reads: string[] = [];
  let due: (() => void)[] = [];
  const poller = new SharedPoller<unknown>(
    async (key) => {
      reads.push(key);
      const v = values[key];
      if (v instanceof Error) throw v;
      return v;
    },
    (signal) =>
      new Promise<void>((resolve) => {
        due.push(resolve);
        signal.addEventListener("abort", () => resolve(), { once: true });
      }),
  );
  const waiting = () => due.length;
  const tick = () => {
    const next = due;
    due = [];
    next.forEach((r) => r());
  };
  return { poller, reads, tick, waiting };
}

describe("SharedPoller", () => {
  it("reads once per interval for all watchers of a key, tells them of changes only, and stops when the last one leaves", async () => {
    const values: Record<string, unknown> = { b1: { n: 1 } };
    const { poller, reads, tick, waiting } = manualPoller(values);
    const heard: [string, LiveUpdate<unknown>][] = [];
    const offA = poller.subscribe("b1", (u) => heard.push(["A", u]));
    await until("the first read", async () => (waiting() === 1 ? true : undefined));
    const offB = poller.subscribe("b1", (u) => heard.push(["B", u]));
    expect(heard).toEqual([
      ["A", { value: { n: 1 } }],
      ["B", { value: { n: 1 } }],
    ]);

    tick(); // same value: nobody hears anything
    await until("the second read", async () => (reads.length === 2 && waiting() === 1 ? true : undefined));
    expect(heard).toHaveLength(2);

    values.b1 = { n: 2 };
    tick();
    await until("the change to reach both", async () => (heard.length === 4 ? true : undefined));
    expect(heard.slice(2)).toEqual([
      ["A", { value: { n: 2 } }],
      ["B", { value: { n: 2 } }],
    ]);
    expect(reads).toEqual(["b1", "b1", "b1"]);

    offA();
    expect(poller.running).toBe(1);
    offB();
    expect(poller.running).toBe(0);
  });

  it("passes a failed read on as an error, then the next good value", async () => {
    const values: Record<string, unknown> = { q: new Error("no worker") };
    const { poller, tick, waiting } = manualPoller(values);
    const heard: LiveUpdate<unknown>[] = [];
    const off = poller.subscribe("q", (u) => heard.push(u));
    await until("the failed read", async () => (waiting() === 1 ? true : undefined));
    expect((heard[0]!.error as Error).message).toBe("no worker");
    values.q = [];
    tick();
    await until("the good read", async () => (heard.length === 2 ? true : undefined));
    expect(heard[1]).toEqual({ value: [] });
    off();
  });
});
