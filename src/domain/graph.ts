/**
 * The dependency graph of a backlog: unknown and self dependencies, cycles, dependents.
 * Pure functions over `{ id, dependencies }` records.
 */

/** A node of the dependency graph. */
export interface GraphNode {
  id: string;
  dependencies: readonly string[];
}

/**
 * Every dependency cycle, each as the path of card ids that closes it, e.g. `['A', 'B', 'C', 'A']`.
 * Self-dependencies and unknown ids are ignored here (reported by the caller). Iterative DFS, so a deep
 * chain of 10,000 cards does not overflow the stack.
 */
export function findCycles(nodes: readonly GraphNode[]): string[][] {
  const deps = new Map(nodes.map((n) => [n.id, n.dependencies.filter((d) => d !== n.id)]));
  const state = new Map<string, "visiting" | "done">();
  const cycles: string[][] = [];
  const seen = new Set<string>();
  for (const start of deps.keys()) {
    if (state.has(start)) continue;
    const path: string[] = [];
    const stack: { id: string; next: number }[] = [{ id: start, next: 0 }];
    state.set(start, "visiting");
    path.push(start);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const children = deps.get(top.id) ?? [];
      if (top.next < children.length) {
        const child = children[top.next++]!;
        if (!deps.has(child)) continue;
        const s = state.get(child);
        if (s === "visiting") {
          const cycle = [...path.slice(path.indexOf(child)), child];
          const key = [...cycle.slice(0, -1)].sort().join("\u0000");
          if (!seen.has(key)) {
            seen.add(key);
            cycles.push(cycle);
          }
        } else if (s === undefined) {
          state.set(child, "visiting");
          path.push(child);
          stack.push({ id: child, next: 0 });
        }
      } else {
        state.set(top.id, "done");
        path.pop();
        stack.pop();
      }
    }
  }
  return cycles;
}

/** Map of card id → ids of the cards that depend on it. */
export function dependentsOf(nodes: readonly GraphNode[]): Map<string, string[]> {
  const out = new Map<string, string[]>(nodes.map((n) => [n.id, []]));
  for (const n of nodes) for (const d of n.dependencies) out.get(d)?.push(n.id);
  return out;
}
