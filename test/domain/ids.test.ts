/** Workflow ids derived from the backlog id and card id (PRODUCT.md "Contracts"). */
import { describe, expect, it } from "vitest";
import {
  BACKLOG_ID_PATTERN,
  CARD_ID_PATTERN,
  attemptWorkspace,
  backlogWorkflowId,
  cardWorkflowId,
  correctionCardId,
  correctionWorkflowId,
  escalationCardId,
} from "../../src/domain/index.js";

describe("workflow ids", () => {
  it("names a backlog workflow by the backlog id itself", () => {
    expect(backlogWorkflowId("shop")).toBe("shop");
  });

  it("names a card workflow <backlogId>/<cardId>", () => {
    expect(cardWorkflowId("shop", "ARQ-001")).toBe("shop/ARQ-001");
  });

  it("names correction round n <backlogId>/<cardId>-CORR-<n>", () => {
    expect(correctionWorkflowId("shop", "ARQ-001", 1)).toBe("shop/ARQ-001-CORR-1");
    expect(correctionWorkflowId("shop", "ARQ-001", 3)).toBe("shop/ARQ-001-CORR-3");
  });

  it("gives correction round n the card id <cardId>-CORR-<n>", () => {
    expect(correctionCardId("ARQ-001", 2)).toBe("ARQ-001-CORR-2");
  });

  it("gives an escalation the card id <cardId>-ESC", () => {
    expect(escalationCardId("ARQ-001")).toBe("ARQ-001-ESC");
  });

  it("puts attempt n of a card in <backlogId>/<cardId>/attempt-<n>", () => {
    expect(attemptWorkspace("shop", "ARQ-001", 1)).toBe("shop/ARQ-001/attempt-1");
    expect(attemptWorkspace("shop", "ARQ-001", 4)).toBe("shop/ARQ-001/attempt-4");
  });
});

describe("id patterns", () => {
  it.each(["ARQ-001", "ARQ-001-CORR-1", "a", "v1.2_final", "x".repeat(100)])(
    "accepts %j as a card and backlog id",
    (id) => {
      expect(CARD_ID_PATTERN.test(id)).toBe(true);
      expect(BACKLOG_ID_PATTERN.test(id)).toBe(true);
    },
  );

  it.each(["", "a b", "a/b", "-a", ".a", "x".repeat(101), "a\nb", "ñ"])("rejects %j as a card and backlog id", (id) => {
    expect(CARD_ID_PATTERN.test(id)).toBe(false);
    expect(BACKLOG_ID_PATTERN.test(id)).toBe(false);
  });
});
