/**
 * Builders for the domain tests: a valid backlog (the seed's `backlog_master.json` shape plus a `squad`
 * section) that each test mutates in one place, and helpers to run `planBacklog` on it.
 */
import { expect } from "vitest";
import {
  BacklogValidationError,
  planBacklog,
  type BacklogIssue,
  type BacklogPlan,
  type PlanOptions,
} from "../../src/domain/index.js";

/** A card as written in the file: any field, any value (tests put wrong ones in on purpose). */
export interface RawCard {
  [field: string]: unknown;
}

/** A rubric criterion as written in the file. */
export interface RawCriterion {
  name: unknown;
  weight?: unknown;
  check: Record<string, unknown>;
}

/** A card type as written in the file. */
export interface RawCardType {
  owner: unknown;
  judge: { kind: unknown; pass_score?: unknown; criteria: RawCriterion[] };
  [field: string]: unknown;
}

/** The squad section as written in the file. */
export interface RawSquad {
  agents: Record<string, unknown>;
  card_types: Record<string, RawCardType>;
  cost_alert_usd?: unknown;
  [field: string]: unknown;
}

/** A backlog file as written. */
export interface RawBacklog {
  metadata?: Record<string, unknown>;
  cards: RawCard[];
  squad?: RawSquad;
  [field: string]: unknown;
}

/** The file name every test uses unless it says otherwise. */
export const FILE = "backlog_master.json";

/** A valid squad: one `command` agent `writer` owning card type `SPEC`, judged by a one-criterion rubric. */
export function validSquad(): RawSquad {
  return {
    agents: { writer: { kind: "command", command: "node", args: ["./examples/agents/x.mjs"] } },
    card_types: {
      SPEC: {
        owner: "writer",
        judge: {
          kind: "rubric",
          criteria: [{ name: "has an overview", check: { type: "section", heading: "Overview" } }],
        },
      },
    },
  };
}

/** A minimal valid card of type SPEC. */
export function card(id: string, fields: RawCard = {}): RawCard {
  return { id, type: "SPEC", title: `Card ${id}`, ...fields };
}

/**
 * A valid backlog: `SPEC-001` (no dependencies) and `SPEC-002` (depends on `SPEC-001`), both TODO,
 * with metadata.backlog_id `shop` and the squad of `validSquad()`.
 */
export function validBacklog(): RawBacklog {
  return {
    metadata: { backlog_id: "shop" },
    cards: [card("SPEC-001"), card("SPEC-002", { dependencies: ["SPEC-001"] })],
    squad: validSquad(),
  };
}

/** Runs `planBacklog` on a backlog object serialized as the file would be. */
export function plan(backlog: RawBacklog, opts: Partial<PlanOptions> = {}): BacklogPlan {
  return planBacklog(JSON.stringify(backlog, null, 2), { file: FILE, ...opts });
}

/** The error `planBacklog` throws on the given text; fails the test when it does not throw one. */
export function validationErrorOf(text: string, opts: Partial<PlanOptions> = {}): BacklogValidationError {
  try {
    planBacklog(text, { file: FILE, ...opts });
  } catch (err) {
    expect(err).toBeInstanceOf(BacklogValidationError);
    return err as BacklogValidationError;
  }
  throw new Error("expected planBacklog to throw a BacklogValidationError, but it returned a plan");
}

/** The issues `planBacklog` reports for a backlog object. */
export function issuesOf(backlog: RawBacklog, opts: Partial<PlanOptions> = {}): BacklogIssue[] {
  return validationErrorOf(JSON.stringify(backlog, null, 2), opts).issues;
}

/** The fields of the issues, for order-insensitive comparisons. */
export function fieldsOf(issues: readonly BacklogIssue[]): string[] {
  return issues.map((i) => i.field).sort();
}

/** A backlog with one card-level mutation applied to card `index` of the valid backlog. */
export function withCard(index: number, fields: RawCard): RawBacklog {
  const b = validBacklog();
  b.cards[index] = { ...b.cards[index], ...fields };
  return b;
}
