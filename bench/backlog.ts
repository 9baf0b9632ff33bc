/**
 * The benchmark's backlogs: a layered DAG of `size` cards, built in memory in the `backlog_master.json`
 * shape and planned with the product's own `planBacklog` (so the workflows get exactly what
 * `squadflow start` would give them).
 *
 * Shape: `layers` layers of `ceil(size / layers)` cards. A card of layer 0 has no dependency; card `j` of
 * layer `k > 0` depends on cards `j` and `j + 1` (mod the width of layer k-1) of the layer before: two
 * dependencies per card. A fixed depth (10 by default) keeps the critical path the same at every size, so
 * wall time measures throughput rather than the length of a chain.
 */
import { planBacklog, type BacklogPlan } from "../src/domain/index.js";

/** Default number of layers of the DAG. */
export const DEFAULT_LAYERS = 10;

/** Card type of every benchmark card. */
export const BENCH_CARD_TYPE = "TASK";

/** Options of {@link layeredBacklog}. */
export interface LayeredBacklogOptions {
  /** Backlog id (`metadata.backlog_id`). */
  backlogId: string;
  /** Number of cards, ≥ 1. */
  size: number;
  /** Number of layers (default {@link DEFAULT_LAYERS}; capped at `size`). */
  layers?: number;
}

/** The id of card `index` (0-based): `C-00001`… */
export function benchCardId(index: number): string {
  return `C-${String(index + 1).padStart(5, "0")}`;
}

/**
 * A squad with one `command` owner and a rubric judge. Neither ever runs: the benchmark's activities are
 * instant stand-ins. The config still travels in every card's plan, as in a real backlog.
 */
export function benchSquad(): Record<string, unknown> {
  return {
    agents: { instant: { kind: "command", command: "true" } },
    card_types: {
      [BENCH_CARD_TYPE]: {
        owner: "instant",
        judge: { kind: "rubric", criteria: [{ name: "Overview", check: { type: "section", heading: "Overview" } }] },
      },
    },
  };
}

/** The layer of every card: `layerOf[i]` and the cards of each layer, for `size` cards in `layers` layers. */
export function layerPlan(size: number, layers = DEFAULT_LAYERS): number[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`size must be a positive integer, got ${size}`);
  const depth = Math.max(1, Math.min(layers, size));
  const width = Math.ceil(size / depth);
  const result: number[][] = [];
  for (let start = 0; start < size; start += width) {
    const layer: number[] = [];
    for (let i = start; i < Math.min(start + width, size); i++) layer.push(i);
    result.push(layer);
  }
  return result;
}

/**
 * The backlog file (as a JSON-ready object) of a layered DAG: every card of layer k > 0 has two
 * dependencies in layer k-1 (one when that layer has a single card).
 */
export function layeredBacklog(opts: LayeredBacklogOptions): Record<string, unknown> {
  const layers = layerPlan(opts.size, opts.layers);
  const cards: Record<string, unknown>[] = [];
  layers.forEach((layer, k) => {
    const previous = k > 0 ? layers[k - 1]! : [];
    layer.forEach((index, j) => {
      const deps = new Set<string>();
      if (previous.length > 0) {
        deps.add(benchCardId(previous[j % previous.length]!));
        deps.add(benchCardId(previous[(j + 1) % previous.length]!));
      }
      cards.push({
        id: benchCardId(index),
        type: BENCH_CARD_TYPE,
        title: `Benchmark card ${index + 1} (layer ${k + 1})`,
        description: `Layer ${k + 1}, position ${j + 1}: produce the card's artifact from its dependencies' artifacts.`,
        status: "TODO",
        priority: "MEDIUM",
        dependencies: [...deps],
        acceptance_criteria: ["The artifact exists and has an Overview section."],
      });
    });
  });
  return { metadata: { backlog_id: opts.backlogId, project: "squadflow-bench" }, cards, squad: benchSquad() };
}

/**
 * Builds and plans a layered backlog with `planBacklog` (the same validation and resolution as
 * `squadflow start`).
 * @throws BacklogValidationError if the generated backlog were invalid (a bug in this file).
 */
export function planLayeredBacklog(opts: LayeredBacklogOptions): BacklogPlan {
  return planBacklog(JSON.stringify(layeredBacklog(opts)), { file: `${opts.backlogId}.json` });
}
