/**
 * `planBacklog` refuses an invalid backlog before anything starts, reporting every problem at once, each
 * naming the file, the card and the field.
 */
import { describe, expect, it } from "vitest";
import { BacklogValidationError, formatIssue, planBacklog } from "../../src/domain/index.js";
import { FILE, card, fieldsOf, issuesOf, validBacklog, validSquad, validationErrorOf, withCard } from "./fixtures.js";

describe("planBacklog on a file that is not JSON", () => {
  it('reports a syntax error as "not valid JSON", naming the file, as the only issue', () => {
    const err = validationErrorOf('{"cards": [ { "id": "A", }', { file: "team/backlog.json" });
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toEqual({
      file: "team/backlog.json",
      field: "",
      message: expect.stringMatching(/^not valid JSON: /),
    });
    expect(err.message).toContain("team/backlog.json: field (root): not valid JSON");
  });

  it("reports an empty file as not valid JSON", () => {
    const err = validationErrorOf("", { file: "empty.json" });
    expect(err.issues).toEqual([{ file: "empty.json", field: "", message: expect.stringMatching(/^not valid JSON/) }]);
  });
});

describe("planBacklog schema errors", () => {
  it("reports a field of the wrong type with the card id and the field path", () => {
    const issues = issuesOf(withCard(1, { title: 42 }));
    expect(issues).toEqual([
      { file: FILE, cardId: "SPEC-002", field: "cards[1].title", message: expect.stringMatching(/expected string/) },
    ]);
  });

  it("reports dependencies that are not an array", () => {
    const issues = issuesOf(withCard(1, { dependencies: "SPEC-001" }));
    expect(issues).toEqual([
      {
        file: FILE,
        cardId: "SPEC-002",
        field: "cards[1].dependencies",
        message: expect.stringMatching(/expected array/),
      },
    ]);
  });

  it("reports a missing id and names the card by its 1-based position instead", () => {
    const b = validBacklog();
    delete b.cards[1]!.id;
    expect(issuesOf(b)).toEqual([
      { file: FILE, cardId: "#2", field: "cards[1].id", message: expect.stringMatching(/expected string/) },
    ]);
  });

  it("reports a missing title", () => {
    const b = validBacklog();
    delete b.cards[0]!.title;
    expect(issuesOf(b)).toEqual([
      { file: FILE, cardId: "SPEC-001", field: "cards[0].title", message: expect.any(String) },
    ]);
  });

  it("reports a missing type", () => {
    const b = validBacklog();
    delete b.cards[0]!.type;
    expect(issuesOf(b)).toEqual([
      { file: FILE, cardId: "SPEC-001", field: "cards[0].type", message: expect.any(String) },
    ]);
  });

  it("reports an empty title as invalid", () => {
    expect(fieldsOf(issuesOf(withCard(0, { title: "" })))).toEqual(["cards[0].title"]);
  });

  it('reports a priority outside CRITICAL/HIGH/MEDIUM/LOW, such as "URGENT", listing the allowed values', () => {
    const issues = issuesOf(withCard(0, { priority: "URGENT" }));
    expect(issues).toEqual([
      { file: FILE, cardId: "SPEC-001", field: "cards[0].priority", message: expect.stringContaining('"CRITICAL"') },
    ]);
    expect(issues[0]!.message).toContain('"LOW"');
  });

  it("reports a lower-case priority as invalid (priorities are exact)", () => {
    expect(fieldsOf(issuesOf(withCard(0, { priority: "high" })))).toEqual(["cards[0].priority"]);
  });

  it("reports a status that is not a card status", () => {
    const issues = issuesOf(withCard(1, { status: "WIP" }));
    expect(issues).toEqual([
      {
        file: FILE,
        cardId: "SPEC-002",
        field: "cards[1].status",
        message: expect.stringContaining('"AWAITING_HUMAN"'),
      },
    ]);
  });

  it("reports a negative attempt", () => {
    expect(issuesOf(withCard(0, { attempt: -1 }))).toEqual([
      { file: FILE, cardId: "SPEC-001", field: "cards[0].attempt", message: expect.stringMatching(/>=0/) },
    ]);
  });

  it("reports a fractional attempt", () => {
    expect(fieldsOf(issuesOf(withCard(0, { attempt: 1.5 })))).toEqual(["cards[0].attempt"]);
  });

  it.each(["SPEC 001", "shop/SPEC-1", "-SPEC-1", "SPÉC-1", "x".repeat(101)])(
    "reports card id %j, which cannot be used in workflow ids and paths",
    (id) => {
      const b = validBacklog();
      b.cards[0]!.id = id;
      b.cards[1]!.dependencies = [];
      expect(issuesOf(b)).toEqual([
        { file: FILE, cardId: id, field: "cards[0].id", message: expect.stringContaining("letters, digits") },
      ]);
    },
  );

  it("reports a file whose cards are not an array", () => {
    expect(issuesOf({ cards: {} as never })).toEqual([
      { file: FILE, field: "cards", message: expect.stringMatching(/expected array/) },
    ]);
  });

  it("reports a file without cards", () => {
    expect(fieldsOf(issuesOf({} as never))).toEqual(["cards"]);
  });

  it("reports a metadata.backlog_id that cannot be used in workflow ids", () => {
    const b = validBacklog();
    b.metadata = { backlog_id: "my shop" };
    expect(issuesOf(b)).toEqual([{ file: FILE, field: "metadata.backlog_id", message: expect.any(String) }]);
  });

  it("reports errors inside the squad section with their full path under squad", () => {
    const b = validBacklog();
    b.squad!.agents.writer = { kind: "http", command: "node" };
    b.squad!.card_types.SPEC!.judge.pass_score = 11;
    b.squad!.card_types.SPEC!.judge.criteria = [];
    expect(fieldsOf(issuesOf(b))).toEqual([
      "squad.agents.writer.kind",
      "squad.card_types.SPEC.judge.criteria",
      "squad.card_types.SPEC.judge.pass_score",
    ]);
  });

  it("reports the schema errors of several cards together", () => {
    const b = validBacklog();
    b.cards[0]!.priority = "URGENT";
    b.cards[0]!.attempt = -2;
    b.cards[1]!.status = "WIP";
    const issues = issuesOf(b);
    expect(issues).toHaveLength(3);
    expect(issues).toContainEqual(expect.objectContaining({ cardId: "SPEC-001", field: "cards[0].priority" }));
    expect(issues).toContainEqual(expect.objectContaining({ cardId: "SPEC-001", field: "cards[0].attempt" }));
    expect(issues).toContainEqual(expect.objectContaining({ cardId: "SPEC-002", field: "cards[1].status" }));
  });
});

describe("planBacklog cross-card errors", () => {
  it("reports a duplicate card id at the second occurrence", () => {
    const b = validBacklog();
    b.cards.push(card("SPEC-001", { title: "again" }));
    expect(issuesOf(b)).toEqual([
      { file: FILE, cardId: "SPEC-001", field: "cards[2].id", message: 'duplicate card id "SPEC-001"' },
    ]);
  });

  it("reports an unknown dependency with the index of the dependency in the field path", () => {
    const b = validBacklog();
    b.cards.push(card("SPEC-003", { dependencies: ["NOPE-9"] }));
    expect(issuesOf(b)).toEqual([
      { file: FILE, cardId: "SPEC-003", field: "cards[2].dependencies[0]", message: 'unknown dependency "NOPE-9"' },
    ]);
  });

  it("reports only the unknown one of several dependencies", () => {
    const issues = issuesOf(withCard(1, { dependencies: ["SPEC-001", "GHOST"] }));
    expect(fieldsOf(issues)).toEqual(["cards[1].dependencies[1]"]);
  });

  it("reports a self-dependency once, and not also as a cycle", () => {
    expect(issuesOf(withCard(1, { dependencies: ["SPEC-001", "SPEC-002"] }))).toEqual([
      { file: FILE, cardId: "SPEC-002", field: "cards[1].dependencies[1]", message: "a card cannot depend on itself" },
    ]);
  });

  it("reports a 2-cycle once, naming the cycle path", () => {
    const issues = issuesOf(withCard(0, { dependencies: ["SPEC-002"] }));
    expect(issues).toEqual([
      {
        file: FILE,
        cardId: "SPEC-001",
        field: "cards[0].dependencies",
        message: "dependency cycle: SPEC-001 → SPEC-002 → SPEC-001",
      },
    ]);
  });

  it("reports a 3-cycle once, naming the cycle path A → B → C → A", () => {
    const b = validBacklog();
    b.cards = [
      card("A", { dependencies: ["B"] }),
      card("B", { dependencies: ["C"] }),
      card("C", { dependencies: ["A"] }),
    ];
    expect(issuesOf(b)).toEqual([
      { file: FILE, cardId: "A", field: "cards[0].dependencies", message: "dependency cycle: A → B → C → A" },
    ]);
  });

  it("points the cycle issue at the card where the cycle is found, not at the first card of the file", () => {
    const b = validBacklog();
    b.cards = [
      card("ROOT", { dependencies: ["B"] }),
      card("C", { dependencies: ["B"] }),
      card("B", { dependencies: ["C"] }),
    ];
    expect(issuesOf(b)).toEqual([
      { file: FILE, cardId: "B", field: "cards[2].dependencies", message: "dependency cycle: B → C → B" },
    ]);
  });

  it("reports each of two separate cycles", () => {
    const b = validBacklog();
    b.cards = [
      card("A", { dependencies: ["B"] }),
      card("B", { dependencies: ["A"] }),
      card("X", { dependencies: ["Y"] }),
      card("Y", { dependencies: ["X"] }),
    ];
    expect(issuesOf(b).map((i) => i.message)).toEqual(["dependency cycle: A → B → A", "dependency cycle: X → Y → X"]);
  });

  it("reports a card type the squad does not define, listing the defined ones", () => {
    expect(issuesOf(withCard(0, { type: "DESIGN" }))).toEqual([
      {
        file: FILE,
        cardId: "SPEC-001",
        field: "cards[0].type",
        message: 'unknown card type "DESIGN" (squad card_types: SPEC)',
      },
    ]);
  });

  it("reports an owner override that is not a squad agent", () => {
    expect(issuesOf(withCard(1, { owner: "ghost" }))).toEqual([
      { file: FILE, cardId: "SPEC-002", field: "cards[1].owner", message: 'unknown owner agent "ghost"' },
    ]);
  });

  it("reports a squad card type whose owner agent does not exist, naming the agents that do", () => {
    const b = validBacklog();
    b.squad!.card_types.SPEC!.owner = "ghost";
    expect(issuesOf(b)).toEqual([
      {
        file: FILE,
        field: "squad.card_types.SPEC.owner",
        message: 'unknown owner agent "ghost" (agents: writer)',
      },
    ]);
  });

  it("reports an invalid regular expression in a rubric criterion with the criterion index", () => {
    const b = validBacklog();
    b.squad!.card_types.SPEC!.judge.criteria.push({
      name: "mentions a status code",
      check: { type: "regex", pattern: "(unclosed" },
    });
    expect(issuesOf(b)).toEqual([
      {
        file: FILE,
        field: "squad.card_types.SPEC.judge.criteria[1].check.pattern",
        message: expect.stringMatching(/^invalid regular expression: /),
      },
    ]);
  });

  it("accepts a valid regular expression in a rubric criterion", () => {
    const b = validBacklog();
    b.squad!.card_types.SPEC!.judge.criteria.push({
      name: "status code",
      check: { type: "regex", pattern: "^##\\s+\\d{3}" },
    });
    expect(() => planBacklog(JSON.stringify(b), { file: FILE })).not.toThrow();
  });

  it("reports a backlog with neither a squad section nor a squad file", () => {
    const b = validBacklog();
    delete b.squad;
    expect(issuesOf(b)).toEqual([{ file: FILE, field: "squad", message: expect.stringMatching(/^missing/) }]);
  });

  it("reports a backlog with no cards", () => {
    const b = validBacklog();
    b.cards = [];
    expect(issuesOf(b)).toEqual([{ file: FILE, field: "cards", message: "no cards" }]);
  });

  it("reports an invalid backlog id given as an override", () => {
    expect(issuesOf(validBacklog(), { backlogId: "a/b" })).toEqual([
      { file: FILE, field: "metadata.backlog_id", message: expect.stringContaining('"a/b"') },
    ]);
  });

  it("reports a CORRECTION card without parent_card", () => {
    const b = validBacklog();
    b.cards.push(card("SPEC-002-CORR-1", { type: "CORRECTION" }));
    expect(issuesOf(b)).toEqual([
      {
        file: FILE,
        cardId: "SPEC-002-CORR-1",
        field: "cards[2].parent_card",
        message: "a CORRECTION card must name its parent_card",
      },
    ]);
  });

  it("reports a CORRECTION card whose parent_card is not in the backlog", () => {
    const b = validBacklog();
    b.cards.push(card("SPEC-009-CORR-1", { type: "CORRECTION", parent_card: "SPEC-009" }));
    expect(issuesOf(b)).toEqual([
      {
        file: FILE,
        cardId: "SPEC-009-CORR-1",
        field: "cards[2].parent_card",
        message: 'unknown parent card "SPEC-009"',
      },
    ]);
  });
});

describe("planBacklog with a separate squad file", () => {
  const squadFile = "config/squad.json";

  it("reports the squad file's own errors naming that file, with paths relative to it", () => {
    const b = validBacklog();
    delete b.squad;
    const squad = validSquad();
    squad.card_types.SPEC!.owner = "ghost";
    squad.card_types.SPEC!.judge.criteria[0]!.check = { type: "regex", pattern: "[a-" };
    const issues = issuesOf(b, { squad: { file: squadFile, text: JSON.stringify(squad) } });
    expect(issues).toEqual([
      { file: squadFile, field: "card_types.SPEC.owner", message: 'unknown owner agent "ghost" (agents: writer)' },
      {
        file: squadFile,
        field: "card_types.SPEC.judge.criteria[0].check.pattern",
        message: expect.stringMatching(/^invalid regular expression/),
      },
    ]);
  });

  it("reports schema errors of the squad file naming that file", () => {
    const b = validBacklog();
    delete b.squad;
    const squad = validSquad();
    squad.agents.writer = { kind: "command", command: "" };
    const issues = issuesOf(b, { squad: { file: squadFile, text: JSON.stringify(squad) } });
    expect(issues).toEqual([{ file: squadFile, field: "agents.writer.command", message: expect.any(String) }]);
  });

  it("reports a squad file that is not JSON, naming that file", () => {
    const b = validBacklog();
    delete b.squad;
    const issues = issuesOf(b, { squad: { file: squadFile, text: "{ agents: " } });
    expect(issues).toEqual([{ file: squadFile, field: "", message: expect.stringMatching(/^not valid JSON/) }]);
  });

  it("reports the squad file's errors together with the backlog file's, each naming its own file", () => {
    const b = withCard(1, { dependencies: ["GHOST"] });
    delete b.squad;
    const squad = validSquad();
    squad.card_types.SPEC!.owner = "ghost";
    const issues = issuesOf(b, { squad: { file: squadFile, text: JSON.stringify(squad) } });
    expect(issues).toHaveLength(2);
    expect(issues).toContainEqual(
      expect.objectContaining({ file: FILE, cardId: "SPEC-002", field: "cards[1].dependencies[0]" }),
    );
    expect(issues).toContainEqual(expect.objectContaining({ file: squadFile, field: "card_types.SPEC.owner" }));
  });

  it("checks card types against the squad file, not the backlog's own squad section", () => {
    const b = validBacklog(); // its squad section defines SPEC
    const squad = validSquad();
    squad.card_types = { DOC: squad.card_types.SPEC! };
    const issues = issuesOf(b, { squad: { file: squadFile, text: JSON.stringify(squad) } });
    expect(fieldsOf(issues)).toEqual(["cards[0].type", "cards[1].type"]);
    expect(issues[0]!.message).toBe('unknown card type "SPEC" (squad card_types: DOC)');
  });

  it("does not attribute problems of the overridden squad section to an invalid squad file", () => {
    const b = validBacklog();
    b.squad!.card_types.SPEC!.owner = "ghost"; // stale section, overridden by the squad file
    const issues = issuesOf(b, { squad: { file: squadFile, text: "{" } });
    expect(issues).toEqual([{ file: squadFile, field: "", message: expect.stringMatching(/^not valid JSON/) }]);
  });
});

describe("planBacklog reports every problem at once", () => {
  it("yields one issue per problem for a file with 4 different problems", () => {
    const b = validBacklog();
    b.cards = [card("SPEC-001", { type: "DESIGN" }), card("SPEC-002", { dependencies: ["GHOST-1"] }), card("SPEC-001")];
    b.squad!.card_types.SPEC!.judge.criteria[0]!.check = { type: "regex", pattern: "*" };
    const err = validationErrorOf(JSON.stringify(b));
    expect(err.issues).toHaveLength(4);
    expect(err.issues).toEqual(
      expect.arrayContaining([
        { file: FILE, cardId: "SPEC-001", field: "cards[2].id", message: 'duplicate card id "SPEC-001"' },
        {
          file: FILE,
          cardId: "SPEC-001",
          field: "cards[0].type",
          message: expect.stringContaining('unknown card type "DESIGN"'),
        },
        { file: FILE, cardId: "SPEC-002", field: "cards[1].dependencies[0]", message: 'unknown dependency "GHOST-1"' },
        {
          file: FILE,
          field: "squad.card_types.SPEC.judge.criteria[0].check.pattern",
          message: expect.stringMatching(/^invalid regular expression/),
        },
      ]),
    );
  });

  it("reports dependency problems together with schema errors in other fields", () => {
    const b = validBacklog();
    b.cards = [
      card("A", { priority: "URGENT", dependencies: ["A", "B"] } as never),
      card("B", { dependencies: ["C"] }),
      card("C", { dependencies: ["B"] }),
    ];
    const issues = issuesOf(b);
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ cardId: "A", field: "cards[0].priority" }),
        { file: FILE, cardId: "A", field: "cards[0].dependencies[0]", message: "a card cannot depend on itself" },
        expect.objectContaining({ message: expect.stringMatching(/^dependency cycle: (B → C → B|C → B → C)$/) }),
      ]),
    );
    expect(issues).toHaveLength(3);
  });

  it("throws a BacklogValidationError whose type, name and message say what is wrong and where", () => {
    const b = validBacklog();
    b.cards.push(card("SPEC-003", { dependencies: ["GHOST"], owner: "nobody" }));
    let thrown: unknown;
    try {
      planBacklog(JSON.stringify(b), { file: FILE });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(BacklogValidationError);
    expect(thrown).toBeInstanceOf(Error);
    const err = thrown as BacklogValidationError;
    expect(err.type).toBe("BacklogValidationError");
    expect(err.name).toBe("BacklogValidationError");
    expect(err.issues).toHaveLength(2);
    expect(err.message).toBe(
      "Backlog is invalid (2 problems); nothing was started:\n" +
        `  - ${FILE}: card SPEC-003, field cards[2].dependencies[0]: unknown dependency "GHOST"\n` +
        `  - ${FILE}: card SPEC-003, field cards[2].owner: unknown owner agent "nobody"`,
    );
  });

  it('says "1 problem" in the singular', () => {
    expect(validationErrorOf("nope").message).toMatch(/^Backlog is invalid \(1 problem\); nothing was started:/);
  });
});

describe("formatIssue", () => {
  it("formats an issue as one line naming the file, card and field", () => {
    expect(formatIssue({ file: "b.json", cardId: "ARQ-003", field: "cards[2].priority", message: "bad" })).toBe(
      "b.json: card ARQ-003, field cards[2].priority: bad",
    );
  });

  it("leaves out the card when the issue is not about a card and names an empty field (root)", () => {
    expect(formatIssue({ file: "b.json", field: "", message: "not valid JSON: x" })).toBe(
      "b.json: field (root): not valid JSON: x",
    );
  });
});
