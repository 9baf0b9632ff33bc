/**
 * Paged start of big backlogs. Temporal limits one payload to 2 MiB and warns past 10,240 history events
 * per workflow (see docs/benchmark.md), so a backlog of more than {@link PAGE_MAX_CARDS} cards
 * is not started by one workflow: the client sends its cards in pages, and each page is run by a backlog
 * shard workflow (`<backlogId>/~shard-<n>`) that starts and relays for at most one page of cards.
 *
 * Pages are cut from the cards in reverse dependency order (every card after all of its dependents), and
 * the backlog starts page n+1 only once every card of page n has started. So when a card comes to rest,
 * each of its dependents already has a workflow to receive the signal — across pages too — which keeps the
 * rule of PRODUCT.md "a dependency finishing before its dependent starts never loses the signal".
 */
import { PRIORITY_KEYS } from "./priority.js";
import type { CardPlan } from "./card-state.js";
import { dependentsOf } from "./graph.js";

/** Most cards in one page (and one shard): ~13 history events per card keeps a shard near 2,600 events. */
export const PAGE_MAX_CARDS = 200;

/** Most bytes of JSON card plans in one page: half of Temporal's 2 MiB payload limit. */
export const PAGE_MAX_BYTES = 1_000_000;

/** One page of a paged backlog: the cards a shard runs, and who depends on each of them (in any page). */
export interface PlanPage {
  /** 0-based page number; pages are sent and started in this order. */
  index: number;
  cards: CardPlan[];
  /** Card id → ids of the cards that depend on it (in this page or an earlier one). */
  dependents: Record<string, string[]>;
}

/** Limits of {@link planPages}. */
export interface PageLimits {
  /** Most cards per page (default {@link PAGE_MAX_CARDS}). */
  maxCards?: number;
  /** Most JSON bytes of card plans per page (default {@link PAGE_MAX_BYTES}). */
  maxBytes?: number;
}

/** Size of a card plan as a JSON payload, bytes (UTF-8). */
export function planBytes(plan: CardPlan): number {
  return new TextEncoder().encode(JSON.stringify(plan)).length;
}

/**
 * True when a backlog's cards do not fit one backlog workflow and must be started in pages.
 * @param limits page limits (defaults: {@link PAGE_MAX_CARDS} cards, {@link PAGE_MAX_BYTES} bytes).
 */
export function needsPages(cards: readonly CardPlan[], limits: PageLimits = {}): boolean {
  const maxCards = limits.maxCards ?? PAGE_MAX_CARDS;
  const maxBytes = limits.maxBytes ?? PAGE_MAX_BYTES;
  if (cards.length > maxCards) return true;
  let bytes = 0;
  for (const c of cards) if ((bytes += planBytes(c)) > maxBytes) return true;
  return false;
}

/**
 * The cards in rounds: every card in a later round than all of the cards that depend on it (reverse
 * topological order, from the cards nobody depends on), higher priority first within a round.
 * Dependencies outside `cards` (legacy DONE cards, cards of another page) are ignored. The graph must be
 * acyclic (validated by `planBacklog`).
 * @throws Error when a cycle is left (a plan that did not come from `planBacklog`).
 */
export function startRounds(cards: readonly CardPlan[]): CardPlan[][] {
  const byId = new Map(cards.map((c) => [c.card.id, c]));
  const dependents = dependentsOf(cards.map((c) => c.card));
  const waitingDependents = new Map<string, number>(cards.map((c) => [c.card.id, dependents.get(c.card.id)!.length]));
  const byPriority = (a: CardPlan, b: CardPlan) => PRIORITY_KEYS[a.card.priority] - PRIORITY_KEYS[b.card.priority];
  let round = cards.filter((c) => waitingDependents.get(c.card.id) === 0);
  const rounds: CardPlan[][] = [];
  let placed = 0;
  while (round.length > 0) {
    round.sort(byPriority);
    rounds.push(round);
    placed += round.length;
    const next: CardPlan[] = [];
    for (const c of round) {
      for (const d of c.card.dependencies) {
        if (!byId.has(d)) continue;
        const left = waitingDependents.get(d)! - 1;
        waitingDependents.set(d, left);
        if (left === 0) next.push(byId.get(d)!);
      }
    }
    round = next;
  }
  if (placed !== cards.length) throw new Error("startRounds: the dependency graph has a cycle");
  return rounds;
}

/**
 * The cards in start order: {@link startRounds} one after another.
 * @throws Error when a cycle is left (a plan that did not come from `planBacklog`).
 */
export function reverseDependencyOrder(cards: readonly CardPlan[]): CardPlan[] {
  return startRounds(cards).flat();
}

/**
 * The cards of a backlog (or of one page) in the two waves they are started in: first every card that waits
 * for a dependency, in {@link reverseDependencyOrder}; then the cards that can run at once (no dependency,
 * or only dependencies DONE before this run: `resolvedDependencies`). A card of the second wave starts
 * working as soon as it has started (activities, signals to its dependents, its parent's workflow tasks for
 * its end); started only once the first wave has, none of that competes with starting the rest of its page,
 * and every dependent in the page exists before any of them can finish — as the benchmark's bare DAG
 * starts its cards (docs/benchmark.md "The paged start, measured").
 * @throws Error when a cycle is left (a plan that did not come from `planBacklog`).
 */
export function startWaves(cards: readonly CardPlan[]): { waiting: CardPlan[]; ready: CardPlan[] } {
  const waiting: CardPlan[] = [];
  const ready: CardPlan[] = [];
  for (const plan of reverseDependencyOrder(cards)) {
    const done = new Set(plan.resolvedDependencies.map((d) => d.cardId));
    (plan.card.dependencies.some((d) => !done.has(d)) ? waiting : ready).push(plan);
  }
  return { waiting, ready };
}

/**
 * Cuts a backlog's cards into pages for a paged start (see the module comment).
 * @returns pages in start order; each has at most `maxCards` cards and `maxBytes` bytes of plans (a
 *   single card bigger than `maxBytes` gets a page of its own).
 */
export function planPages(cards: readonly CardPlan[], limits: PageLimits = {}): PlanPage[] {
  const maxCards = limits.maxCards ?? PAGE_MAX_CARDS;
  const maxBytes = limits.maxBytes ?? PAGE_MAX_BYTES;
  const dependents = dependentsOf(cards.map((c) => c.card));
  const pages: PlanPage[] = [];
  let current: CardPlan[] = [];
  let bytes = 0;
  const flush = () => {
    if (current.length === 0) return;
    pages.push({
      index: pages.length,
      cards: current,
      dependents: Object.fromEntries(current.map((c) => [c.card.id, dependents.get(c.card.id)!])),
    });
    current = [];
    bytes = 0;
  };
  for (const plan of reverseDependencyOrder(cards)) {
    const size = planBytes(plan);
    if (current.length >= maxCards || (current.length > 0 && bytes + size > maxBytes)) flush();
    current.push(plan);
    bytes += size;
  }
  flush();
  return pages;
}
