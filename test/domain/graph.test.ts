/** The dependency graph: cycles and dependents. */
import { describe, expect, it } from "vitest";
import { dependentsOf, findCycles, type GraphNode } from "../../src/domain/index.js";

const node = (id: string, ...dependencies: string[]): GraphNode => ({ id, dependencies });

describe("findCycles", () => {
  it("finds no cycle in an empty graph", () => {
    expect(findCycles([])).toEqual([]);
  });

  it("finds no cycle in a DAG with a diamond", () => {
    expect(findCycles([node("A"), node("B", "A"), node("C", "A"), node("D", "B", "C")])).toEqual([]);
  });

  it("finds no cycle when nodes are listed before their dependencies", () => {
    expect(findCycles([node("D", "B", "C"), node("C", "A"), node("B", "A"), node("A")])).toEqual([]);
  });

  it("finds a 2-cycle as the closed path of ids", () => {
    expect(findCycles([node("A", "B"), node("B", "A")])).toEqual([["A", "B", "A"]]);
  });

  it("finds a 3-cycle as the closed path A → B → C → A", () => {
    expect(findCycles([node("A", "B"), node("B", "C"), node("C", "A")])).toEqual([["A", "B", "C", "A"]]);
  });

  it("returns only the cycle, not the path that led into it", () => {
    expect(findCycles([node("X", "A"), node("A", "B"), node("B", "A")])).toEqual([["A", "B", "A"]]);
  });

  it("finds each of two disjoint cycles", () => {
    const cycles = findCycles([node("A", "B"), node("B", "A"), node("C", "D"), node("D", "C")]);
    expect(cycles).toEqual([
      ["A", "B", "A"],
      ["C", "D", "C"],
    ]);
  });

  it("reports a cycle once when a dependency is listed twice", () => {
    expect(findCycles([node("A", "B"), node("B", "A", "A")])).toEqual([["A", "B", "A"]]);
  });

  it("ignores self-dependencies, which the caller reports", () => {
    expect(findCycles([node("A", "A"), node("B", "A", "B")])).toEqual([]);
  });

  it("ignores unknown dependencies, which the caller reports", () => {
    expect(findCycles([node("A", "GHOST"), node("B", "A", "ELSEWHERE")])).toEqual([]);
  });

  it("handles a 10,000-card chain without overflowing the stack", () => {
    const n = 10_000;
    const chain = Array.from({ length: n }, (_, i) => node(`C${i}`, ...(i + 1 < n ? [`C${i + 1}`] : [])));
    expect(findCycles(chain)).toEqual([]);
  });

  it("finds the cycle that closes a 10,000-card chain", () => {
    const n = 10_000;
    const ring = Array.from({ length: n }, (_, i) => node(`C${i}`, `C${(i + 1) % n}`));
    const cycles = findCycles(ring);
    expect(cycles).toHaveLength(1);
    expect(cycles[0]).toHaveLength(n + 1);
    expect(cycles[0]![0]).toBe("C0");
    expect(cycles[0]![n - 1]).toBe(`C${n - 1}`);
    expect(cycles[0]![n]).toBe("C0");
  });
});

describe("dependentsOf", () => {
  it("maps each card to the cards that depend on it, and cards without dependents to []", () => {
    const m = dependentsOf([node("A"), node("B", "A"), node("C", "A"), node("D", "B", "C")]);
    expect(Object.fromEntries(m)).toEqual({ A: ["B", "C"], B: ["D"], C: ["D"], D: [] });
  });

  it("leaves unknown dependencies out of the map", () => {
    const m = dependentsOf([node("A", "GHOST")]);
    expect([...m.keys()]).toEqual(["A"]);
    expect(m.get("A")).toEqual([]);
  });

  it("returns an empty map for no cards", () => {
    expect(dependentsOf([]).size).toBe(0);
  });
});
