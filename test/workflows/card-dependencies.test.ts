/**
 * What a card hears of its dependencies (src/workflows/card-dependencies.ts), without a server: it has no
 * Temporal calls, so its message-order rules are checked directly.
 */
import { describe, expect, it } from "vitest";
import { CardDependencies } from "../../src/workflows/card-dependencies.js";

describe("CardDependencies", () => {
  it("waits for every dependency not DONE at start, and names the first one that came to rest otherwise", () => {
    let changes = 0;
    const deps = new CardDependencies(["A", "B", "C"], [{ cardId: "A", artifacts: ["a.md"] }], () => changes++);
    expect(deps.unresolved()).toEqual(["B", "C"]);
    deps.resolve({ cardId: "C", status: "REJECTED", artifacts: [] });
    deps.resolve({ cardId: "B", status: "DONE", artifacts: ["b.md"] });
    expect(deps.unresolved()).toEqual([]);
    expect(deps.blocking()).toEqual({ cardId: "C", status: "REJECTED" });
    expect(deps.artifacts()).toEqual([
      { cardId: "A", artifacts: ["a.md"] },
      { cardId: "B", artifacts: ["b.md"] },
      { cardId: "C", artifacts: [] },
    ]);
    expect(changes).toBe(2);
  });

  it("ignores a message older than one it applied: a late reopen never undoes a newer DONE", () => {
    const deps = new CardDependencies(["A"], []);
    deps.resolve({ cardId: "A", status: "DONE", artifacts: [], epoch: 1, seq: 3 });
    deps.reopen({ cardId: "A", epoch: 1, seq: 2 });
    expect(deps.unresolved()).toEqual([]);
    // A newer reopen (the dependency was retried after it) is applied.
    deps.reopen({ cardId: "A", epoch: 1, seq: 4 });
    expect(deps.unresolved()).toEqual(["A"]);
  });

  it("ignores cards it does not depend on, and repeats of the same status", () => {
    let changes = 0;
    const deps = new CardDependencies(["A"], [], () => changes++);
    deps.resolve({ cardId: "Z", status: "DONE", artifacts: [] });
    deps.resolve({ cardId: "A", status: "BLOCKED", artifacts: [] });
    deps.resolve({ cardId: "A", status: "BLOCKED", artifacts: [] });
    expect(changes).toBe(1);
    expect(deps.settled()).toEqual([{ cardId: "A", status: "BLOCKED", artifacts: [] }]);
  });
});
