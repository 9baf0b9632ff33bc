/** The board of a paged backlog whose pages are still arriving (docs/architecture.md "Big backlogs"). */
import { describe, expect, it } from "vitest";
import { isIdle, type BacklogView } from "../../src/cli/backlogs.js";
import { boardOf, renderBoard } from "../../src/cli/board.js";

function view(received: number, expected: number): BacklogView {
  return {
    running: true,
    backlog: {
      backlogId: "big",
      startedAt: "2026-11-21T10:00:00.000Z",
      cards: [],
      done: [],
      source: { file: "big.json", metadata: {}, legacyCards: [] },
      paused: false,
      auditLog: [],
      spentUsd: 0,
      budgetExhausted: false,
      finished: false,
      pages: { expected, received },
      shards: [],
    },
    cards: [{ cardId: "A", workflowId: "big/A", final: true, legacy: false, status: "DONE", attempt: 1, costUsd: 0 }],
  };
}

describe("board of a paged backlog", () => {
  it("says how many pages arrived and is not idle until all have", () => {
    const arriving = boardOf(view(3, 50));
    expect(arriving.pages).toEqual({ expected: 50, received: 3 });
    expect(arriving.idle).toBe(false);
    expect(renderBoard(arriving)).toContain("pages 3/50 received — the cards of the others are not listed yet");
    const all = boardOf(view(50, 50));
    expect(all.idle).toBe(true);
    expect(isIdle(view(50, 50))).toBe(true);
    expect(renderBoard(all)).not.toContain("pages");
  });
});

describe("isIdle", () => {
  const todo = (cardId: string, waitingFor: string[]) =>
    ({
      cardId,
      workflowId: `big/${cardId}`,
      final: false,
      legacy: false,
      status: "TODO",
      attempt: 0,
      costUsd: 0,
      state: { waitingFor, settled: false },
    }) as unknown as BacklogView["cards"][number];

  it("counts a card waiting for a dependency that is not DONE as idle, and one whose awaited dependency is DONE (news not yet relayed) as not", () => {
    const base = view(50, 50);
    const waitingOnHuman = { ...base.cards[0]!, cardId: "H", status: "AWAITING_HUMAN", final: false };
    expect(isIdle({ ...base, cards: [...base.cards, waitingOnHuman, todo("B", ["H"])] })).toBe(true);
    expect(isIdle({ ...base, cards: [...base.cards, todo("B", ["A"])] })).toBe(false); // A is DONE
    expect(isIdle({ ...base, cards: [...base.cards, waitingOnHuman, todo("B", ["A", "H"])] })).toBe(true);
  });
});
