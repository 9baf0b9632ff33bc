import { describe, expect, it } from "vitest";
import { EPOCH_END, isNewerMessage } from "../../src/domain/index.js";

describe("dependency message order (src/domain/dependency-order.ts)", () => {
  it("applies a message only when it is newer: a later seq of the same run, or a later run", () => {
    expect(isNewerMessage(undefined, { epoch: 0, seq: 1 })).toBe(true);
    expect(isNewerMessage({ epoch: 0, seq: 2 }, { epoch: 0, seq: 3 })).toBe(true);
    expect(isNewerMessage({ epoch: 0, seq: 2 }, { epoch: 0, seq: 2 })).toBe(false);
    expect(isNewerMessage({ epoch: 0, seq: 3 }, { epoch: 0, seq: 2 })).toBe(false);
    expect(isNewerMessage({ epoch: 0, seq: EPOCH_END }, { epoch: 1, seq: 0 })).toBe(true);
    expect(isNewerMessage({ epoch: 1, seq: 0 }, { epoch: 0, seq: EPOCH_END })).toBe(false);
  });

  it("applies messages without an order (workflows started before messages were ordered) as they come", () => {
    expect(isNewerMessage({ epoch: 3, seq: 9 }, {})).toBe(true);
    expect(isNewerMessage({}, { epoch: 0, seq: 1 })).toBe(true);
  });
});
