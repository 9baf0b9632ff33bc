import { describe, expect, it } from "vitest";
import { mapPool } from "../../src/cli/map-pool.js";

describe("mapPool", () => {
  it("keeps the input order and never has more than `concurrency` calls in flight", async () => {
    let inFlight = 0;
    let most = 0;
    const out = await mapPool([30, 5, 20, 1, 10, 2], 2, async (ms, i) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, ms));
      inFlight--;
      return `${i}:${ms}`;
    });
    expect(out).toEqual(["0:30", "1:5", "2:20", "3:1", "4:10", "5:2"]);
    expect(most).toBe(2);
    expect(await mapPool([], 4, async () => 1)).toEqual([]);
  });

  it("rejects with the first error", async () => {
    await expect(
      mapPool([1, 2, 3], 3, async (n) => (n === 2 ? Promise.reject(new Error("card 2 unreadable")) : n)),
    ).rejects.toThrow("card 2 unreadable");
  });
});
