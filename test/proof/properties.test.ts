/**
 * Bad input, part 2: property-based tests of `planBacklog` (fast-check).
 *   (a) any JSON value → a plan or a BacklogValidationError, never another exception; issues always name file and field;
 *   (b) any valid DAG backlog → a plan whose cards and done cards are exactly the non-correction cards;
 *   (c) a back-edge that closes a cycle → an issue naming a real cycle through that edge;
 *   (d) one random mutation of a valid backlog → an issue naming that card and that field.
 * Runs are bounded (150–300 each) so the file stays well under 10 s.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BacklogValidationError,
  CARD_STATUSES,
  PRIORITIES,
  planBacklog,
  type BacklogIssue,
  type BacklogPlan,
} from "../../src/domain/index.js";

const FILE = "proof/backlog.json";
type Obj = Record<string, unknown>;

/** A valid squad: agent `writer` owns card types SPEC and DOC. */
function squad(): Obj {
  return {
    agents: { writer: { kind: "command", command: "node", args: ["./agent.mjs"] } },
    card_types: {
      SPEC: {
        owner: "writer",
        judge: { kind: "rubric", criteria: [{ name: "Overview", check: { type: "section", heading: "Overview" } }] },
      },
      DOC: {
        owner: "writer",
        judge: { kind: "rubric", criteria: [{ name: "API", check: { type: "regex", pattern: "POST /x" } }] },
      },
    },
  };
}

/** `planBacklog` on a value serialized as the file would be: the plan, or the validation error. Other exceptions propagate. */
function run(value: unknown, text = JSON.stringify(value)): BacklogPlan | BacklogValidationError {
  try {
    return planBacklog(text, { file: FILE });
  } catch (err) {
    if (err instanceof BacklogValidationError) return err;
    throw err;
  }
}

function issuesOf(value: unknown): BacklogIssue[] {
  const r = run(value);
  if (!(r instanceof BacklogValidationError))
    throw new Error(`expected a BacklogValidationError, got a plan of ${r.cards.length} cards`);
  return r.issues;
}

// ---- Arbitraries ------------------------------------------------------------------------------------------

/** Values that are sometimes right and often wrong for a card field. */
const fieldValue = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  fc.constantFrom<unknown>(
    "SPEC",
    "DOC",
    "CORRECTION",
    "TODO",
    "DONE",
    "HIGH",
    "writer",
    "constructor",
    "__proto__",
    "toString",
    "",
    "../x",
    "/abs",
    "C1",
    "C2",
  ),
  fc.array(fc.constantFrom("C1", "C2", "C3", "constructor", ""), { maxLength: 3 }),
);

const CARD_KEYS = [
  "id",
  "type",
  "title",
  "description",
  "status",
  "priority",
  "dependencies",
  "attempt",
  "artifacts",
  "validation_history",
  "cost_tracking",
  "acceptance_criteria",
  "owner",
  "parent_card",
  "created_at",
] as const;

/** Objects shaped roughly like cards: some known keys with plausible or wild values. */
const cardish = fc.oneof(
  { weight: 4, arbitrary: fc.dictionary(fc.constantFrom(...CARD_KEYS), fieldValue, { maxKeys: CARD_KEYS.length }) },
  fc
    .record(
      {
        id: fc.constantFrom("C1", "C2", "C3"),
        type: fc.constantFrom("SPEC", "DOC", "CORRECTION", "constructor"),
        title: fc.constant("t"),
      },
      { requiredKeys: ["id", "title"] },
    )
    .chain((c) =>
      fc
        .record({
          dependencies: fc.array(fc.constantFrom("C1", "C2", "C3", "C4"), { maxLength: 3 }),
          status: fc.constantFrom(...CARD_STATUSES),
        })
        .map((x) => ({ ...c, ...x })),
    ),
  fc.jsonValue({ maxDepth: 1 }),
);

/** Squad sections: valid, valid with one part replaced by anything, or anything. */
const squadish = fc.oneof(
  fc.constant(squad()),
  fc
    .record({ key: fc.constantFrom("agents", "card_types", "cost_alert_usd"), value: fc.jsonValue({ maxDepth: 3 }) })
    .map(({ key, value }) => ({ ...squad(), [key]: value })),
  fc.jsonValue({ maxDepth: 3 }),
);

/** Whole files that look like backlogs, from nearly valid to nonsense. */
const backlogish = fc.record(
  {
    metadata: fc.oneof(
      fc.record({
        backlog_id: fc.oneof(fc.constant("proof"), fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 })),
      }),
      fc.jsonValue({ maxDepth: 1 }),
    ),
    cards: fc.oneof({ weight: 4, arbitrary: fc.array(cardish, { maxLength: 6 }) }, fc.jsonValue({ maxDepth: 2 })),
    squad: squadish,
  },
  { requiredKeys: [] },
);

/** Names that exist on every plain object through Object.prototype. */
const PROTOTYPE_KEYS = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "isPrototypeOf"] as const;

/** A valid two-card backlog with one card field (or squad reference) replaced: mostly near misses. */
const nearlyValid = fc
  .record({
    card: fc.nat(1),
    key: fc.constantFrom(...CARD_KEYS),
    value: fieldValue,
    prototypeKey: fc.constantFrom(...PROTOTYPE_KEYS),
    where: fc.constantFrom("field", "type", "owner", "squad-owner"),
  })
  .map(({ card, key, value, prototypeKey, where }) => {
    const b: Obj = {
      metadata: { backlog_id: "proof" },
      cards: [
        { id: "C1", type: "SPEC", title: "one" },
        { id: "C2", type: "DOC", title: "two", dependencies: ["C1"] },
      ],
      squad: squad(),
    };
    const target = (b.cards as Obj[])[card]!;
    if (where === "field") target[key] = value;
    else if (where === "type") target.type = prototypeKey;
    else if (where === "owner") target.owner = prototypeKey;
    else (((b.squad as Obj).card_types as Obj).SPEC as Obj).owner = prototypeKey;
    return b;
  });

/** Card ids that never look like legacy corrections (those get `-CORR-n`). */
const cardId = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._]{0,9}$/);

/** A valid backlog whose dependencies form a DAG (each card depends only on cards generated before it). */
interface Dag {
  cards: Obj[];
  /** Ids of the non-correction cards, in generation (topological) order. */
  ids: string[];
}

function dagArb(
  opts: { minCards?: number; statuses?: readonly string[]; corrections?: boolean } = {},
): fc.Arbitrary<Dag> {
  const statuses = opts.statuses ?? CARD_STATUSES;
  return fc
    .uniqueArray(cardId, { minLength: opts.minCards ?? 1, maxLength: 20 })
    .chain((ids) =>
      fc.record({
        ids: fc.constant(ids),
        // deps[i] ⊆ ids[0..i-1]; card 1 always depends on card 0, so there is at least one edge when n ≥ 2.
        deps: fc.tuple(
          ...ids.map((_, i) =>
            fc.subarray(ids.slice(0, i)).map((d) => (i === 1 && !d.includes(ids[0]!) ? [ids[0]!, ...d] : d)),
          ),
        ),
        status: fc.tuple(...ids.map(() => fc.constantFrom(...statuses))),
        priority: fc.tuple(...ids.map(() => fc.constantFrom(...PRIORITIES))),
        type: fc.tuple(...ids.map(() => fc.constantFrom("SPEC", "DOC"))),
        corrections:
          opts.corrections === false
            ? fc.constant([])
            : fc.array(fc.record({ parent: fc.nat(ids.length - 1), status: fc.constantFrom(...CARD_STATUSES) }), {
                maxLength: 3,
              }),
        order: fc.shuffledSubarray(
          ids.map((_, i) => i),
          { minLength: ids.length, maxLength: ids.length },
        ),
      }),
    )
    .map(({ ids, deps, status, priority, type, corrections, order }) => {
      const cards: Obj[] = order.map((i) => ({
        id: ids[i],
        type: type[i],
        title: `Card ${ids[i]}`,
        status: status[i],
        priority: priority[i],
        dependencies: deps[i],
        ...(status[i] === "DONE" ? { artifacts: [`docs/${ids[i]}.md`] } : {}),
      }));
      const rounds = new Map<string, number>();
      for (const c of corrections) {
        const parent = ids[c.parent]!;
        const n = (rounds.get(parent) ?? 0) + 1;
        rounds.set(parent, n);
        cards.push({
          id: `${parent}-CORR-${n}`,
          type: "CORRECTION",
          title: `Correction ${n} of ${parent}`,
          parent_card: parent,
          status: c.status,
        });
      }
      return { cards, ids };
    });
}

function backlogOf(cards: Obj[]): Obj {
  return { metadata: { backlog_id: "proof" }, cards, squad: squad() };
}

function depsOf(cards: Obj[]): Map<string, string[]> {
  return new Map(cards.map((c) => [c.id as string, (c.dependencies as string[] | undefined) ?? []]));
}

// ---- (a) ---------------------------------------------------------------------------------------------------

describe("planBacklog on arbitrary input", () => {
  function check(value: unknown, text?: string): void {
    const r = run(value, text);
    if (r instanceof BacklogValidationError) {
      expect(r.issues.length).toBeGreaterThan(0);
      for (const i of r.issues) {
        expect(i.file).toBe(FILE);
        expect(typeof i.field).toBe("string");
        expect(typeof i.message).toBe("string");
        expect(i.message).not.toBe("");
        if (/^cards\[\d+\]/.test(i.field)) expect(typeof i.cardId).toBe("string");
      }
    } else {
      // A plan is only ever made of real squad configs (never Object.prototype members).
      for (const c of r.cards) {
        expect(typeof c.agent).toBe("object");
        expect(c.agent.kind).toBe("command");
        expect(Object.keys(squad().card_types as Obj)).toContain(c.card.type);
        expect(c.typeConfig.judge).toBeDefined();
      }
    }
  }

  it("returns a plan or throws a BacklogValidationError for any JSON value, and every issue names file and field", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => check(v)),
      { numRuns: 300 },
    );
  });

  it("does the same for backlog-shaped values with wrong and prototype-named fields", () => {
    fc.assert(
      fc.property(backlogish, (v) => check(v)),
      { numRuns: 300 },
    );
  });

  it("does the same for valid backlogs with one field wrong, and never plans an Object.prototype member as a type or owner", () => {
    fc.assert(
      fc.property(nearlyValid, (v) => check(v)),
      { numRuns: 300 },
    );
  });

  it("does the same for arbitrary text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 60 }), (t) => check(undefined, t)),
      { numRuns: 200 },
    );
  });
});

// ---- (b) ---------------------------------------------------------------------------------------------------

describe("planBacklog on valid DAG backlogs", () => {
  it("plans every non-correction card exactly once: not DONE → plan.cards, DONE → plan.done", () => {
    fc.assert(
      fc.property(dagArb(), ({ cards, ids }) => {
        const plan = run(backlogOf(cards));
        if (plan instanceof BacklogValidationError) throw new Error(plan.message);
        const planned = plan.cards.map((c) => c.card.id);
        const done = plan.done.map((d) => d.cardId);
        expect([...planned, ...done].sort()).toEqual([...ids].sort());
        expect(new Set([...planned, ...done]).size).toBe(ids.length);
        const status = new Map(cards.map((c) => [c.id as string, c.status]));
        for (const id of done) expect(status.get(id)).toBe("DONE");
        for (const id of planned) expect(status.get(id)).not.toBe("DONE");
        // Each planned card starts with exactly its DONE dependencies resolved, and its own legacy corrections.
        const deps = depsOf(cards);
        for (const c of plan.cards) {
          expect(c.resolvedDependencies.map((d) => d.cardId).sort()).toEqual(
            deps
              .get(c.card.id)!
              .filter((d) => status.get(d) === "DONE")
              .sort(),
          );
          expect(c.legacyCorrections.map((l) => l.cardId).sort()).toEqual(
            cards
              .filter((x) => x.type === "CORRECTION" && x.parent_card === c.card.id)
              .map((x) => x.id as string)
              .sort(),
          );
        }
      }),
      { numRuns: 200 },
    );
  });
});

// ---- (c) ---------------------------------------------------------------------------------------------------

/** Pairs (a, b) where b reaches a through dependencies (b → … → a), a ≠ b: adding b to a's dependencies closes a cycle. */
function closablePairs(cards: Obj[]): [string, string][] {
  const deps = depsOf(cards);
  const pairs: [string, string][] = [];
  for (const b of deps.keys()) {
    const seen = new Set<string>();
    const stack = [...deps.get(b)!];
    while (stack.length > 0) {
      const x = stack.pop()!;
      if (seen.has(x)) continue;
      seen.add(x);
      stack.push(...(deps.get(x) ?? []));
    }
    for (const a of seen) if (a !== b) pairs.push([a, b]);
  }
  return pairs;
}

describe("planBacklog on a DAG plus one back-edge", () => {
  it("reports a dependency cycle whose path is a real cycle through the new edge, on the card where it starts", () => {
    fc.assert(
      fc.property(dagArb({ minCards: 2, corrections: false }), fc.nat(), ({ cards }, pick) => {
        const pairs = closablePairs(cards);
        expect(pairs.length).toBeGreaterThan(0);
        const [a, b] = pairs[pick % pairs.length]!;
        const mutated = structuredClone(cards);
        const cardA = mutated.find((c) => c.id === a)!;
        cardA.dependencies = [...(cardA.dependencies as string[]), b];
        const deps = depsOf(mutated);

        const cycles = issuesOf(backlogOf(mutated)).filter((i) => i.message.startsWith("dependency cycle: "));
        expect(cycles.length).toBeGreaterThan(0);
        for (const issue of cycles) {
          const path = issue.message.slice("dependency cycle: ".length).split(" → ");
          expect(path.length).toBeGreaterThanOrEqual(3);
          expect(path[0]).toBe(path[path.length - 1]);
          expect(new Set(path.slice(0, -1)).size).toBe(path.length - 1);
          for (let k = 0; k + 1 < path.length; k++) expect(deps.get(path[k]!)).toContain(path[k + 1]);
          // The file was a DAG before: every cycle uses the new edge a → b.
          expect(path.some((x, k) => x === a && path[k + 1] === b)).toBe(true);
          expect(issue.cardId).toBe(path[0]);
          expect(issue.field).toBe(`cards[${mutated.findIndex((c) => c.id === path[0])}].dependencies`);
        }
      }),
      { numRuns: 200 },
    );
  });
});

// ---- (d) ---------------------------------------------------------------------------------------------------

/** Values of the wrong type (or out of range) for each card field. */
const WRONG: Record<string, unknown[]> = {
  id: [5, null, "", "has space", ["A"], { id: "A" }, "a/b"],
  type: [5, null, "", [], { t: 1 }],
  title: [42, null, "", ["t"], { t: 1 }, true],
  description: [5, null, [], {}],
  status: ["NOPE", "done", 7, null, []],
  priority: ["URGENT", "high", 1, null],
  dependencies: ["x", 5, {}, [1], [null], null],
  attempt: [-1, 1.5, "2", null, []],
  artifacts: ["x", [5], [{}], ["../x"], ["/abs/path"], [{ path: "../../etc/passwd" }], null],
  acceptance_criteria: ["x", [1], null],
  validation_history: ["x", [1], ["a"], null],
  cost_tracking: [[], "x", { cost_usd: -1 }, { tokens_input: 1.5 }, null],
  owner: [5, "", "nobody", "constructor", []],
  parent_card: [5, [], {}],
};
const REQUIRED = ["id", "type", "title"] as const;

type Mutation =
  | { kind: "delete"; field: (typeof REQUIRED)[number] }
  | { kind: "retype"; field: string; value: unknown }
  | { kind: "unknown-dependency"; dep: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constantFrom(...REQUIRED).map((field): Mutation => ({ kind: "delete", field })),
  fc
    .constantFrom(...Object.keys(WRONG))
    .chain((field) => fc.constantFrom(...WRONG[field]!).map((value): Mutation => ({ kind: "retype", field, value }))),
  fc.stringMatching(/^[A-Z]{2}-[0-9]{3}$/).map((d): Mutation => ({ kind: "unknown-dependency", dep: `missing-${d}` })),
);

describe("planBacklog on a valid backlog with one mutation", () => {
  it("names the mutated card and field (delete a required field, change a type, inject an unknown dependency)", () => {
    fc.assert(
      fc.property(
        dagArb({ statuses: ["TODO", "IN_PROGRESS"], corrections: false }),
        fc.nat(),
        mutation,
        ({ cards }, pick, m) => {
          const k = pick % cards.length;
          const mutated = structuredClone(cards);
          const target = mutated[k]!;
          const originalId = target.id as string;
          let field = "";
          let expectedCard = originalId;
          let message: string | undefined;
          if (m.kind === "delete") {
            delete target[m.field];
            field = `cards[${k}].${m.field}`;
            if (m.field === "id") expectedCard = `#${k + 1}`;
          } else if (m.kind === "retype") {
            target[m.field] = m.value;
            field = `cards[${k}].${m.field}`;
            if (m.field === "id") expectedCard = typeof m.value === "string" && m.value !== "" ? m.value : `#${k + 1}`;
          } else {
            const deps = target.dependencies as string[];
            target.dependencies = [...deps, m.dep];
            field = `cards[${k}].dependencies[${deps.length}]`;
            message = `unknown dependency "${m.dep}"`;
          }
          const issues = issuesOf(backlogOf(mutated));
          const hit = issues.find(
            (i) =>
              i.cardId === expectedCard &&
              (i.field === field || i.field.startsWith(`${field}.`) || i.field.startsWith(`${field}[`)) &&
              (message === undefined || i.message === message),
          );
          expect(
            hit,
            `${JSON.stringify(m)} on card ${k}: no issue for ${expectedCard} / ${field} in\n${issues.map((i) => `${i.cardId} ${i.field}: ${i.message}`).join("\n")}`,
          ).toBeDefined();
        },
      ),
      { numRuns: 300 },
    );
  });
});
