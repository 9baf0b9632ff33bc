/**
 * Weighted owner routing (issue 11, seed 003's workload split): a card type's `owner` may be a pool,
 * `{ "pool": [{ "agent": "gemini-dev", "weight": 40 }, { "agent": "claude-dev", "weight": 40 },
 * { "agent": "codex-dev", "weight": 20 }], "fallback": "command-dev" }`. Each card goes to one member, chosen
 * deterministically from a hash of its backlog and card id (so a replay, a restart or a re-plan picks the
 * same agent), with probability weight / sum of weights. The choice is the card plan's `agentName`; the
 * other members (heaviest first) and the fallback follow it in `ownerCandidates`, the order in which a
 * worker tries them when an agent's binary or API key is missing there. Pure: no I/O, no randomness.
 */
import type { OwnerRef } from "./squad.js";

/** The routing of one card: the chosen agent and every candidate in the order a worker tries them. */
export interface OwnerRoute {
  /** Name of the chosen agent (a key of `squad.agents`). */
  chosen: string;
  /** `chosen`, then the other pool members by descending weight (ties: pool order), then `fallback`; no repeats. */
  order: string[];
}

/**
 * A 32-bit FNV-1a hash of a string's UTF-16 code units, as a fraction in [0, 1). Stable across Node
 * versions and machines (no crypto, no locale).
 */
export function routingFraction(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // Murmur3's finaliser spreads ids that differ only in their last characters (CARD-001, CARD-002, …).
  // (`^` yields a signed 32-bit integer: `>>> 0` keeps every step unsigned.)
  h = Math.imul((h ^ (h >>> 16)) >>> 0, 0x85ebca6b) >>> 0;
  h = Math.imul((h ^ (h >>> 13)) >>> 0, 0xc2b2ae35) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return h / 0x1_0000_0000;
}

/** Every agent name an owner reference mentions (pool members, then the fallback). */
export function ownerNames(owner: OwnerRef): string[] {
  if (typeof owner === "string") return [owner];
  return [...owner.pool.map((m) => m.agent), ...(owner.fallback !== undefined ? [owner.fallback] : [])];
}

/**
 * Routes a card: a plain owner name is its own route; a pool picks the member whose cumulative weight
 * band holds `routingFraction("<backlogId>/<cardId>")`.
 */
export function routeOwner(owner: OwnerRef, backlogId: string, cardId: string): OwnerRoute {
  if (typeof owner === "string") return { chosen: owner, order: [owner] };
  const total = owner.pool.reduce((sum, m) => sum + m.weight, 0);
  const point = routingFraction(`${backlogId}/${cardId}`) * total;
  let chosen = owner.pool[owner.pool.length - 1]!.agent;
  let upTo = 0;
  for (const m of owner.pool) {
    upTo += m.weight;
    if (point < upTo) {
      chosen = m.agent;
      break;
    }
  }
  const rest = owner.pool
    .map((m, i) => ({ ...m, i }))
    .sort((a, b) => b.weight - a.weight || a.i - b.i)
    .map((m) => m.agent);
  const order = [...new Set([chosen, ...rest, ...(owner.fallback !== undefined ? [owner.fallback] : [])])];
  return { chosen, order };
}
