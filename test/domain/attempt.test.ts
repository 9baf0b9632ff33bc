/** Failure reasons of an attempt and the repeated-reasons trigger of the debugging agent. */
import { describe, expect, it } from "vitest";
import {
  failureReasons,
  repeatedReasons,
  resumableSessionOf,
  type AttemptRecord,
  type Verdict,
} from "../../src/domain/index.js";

const AT = "2025-01-01T00:00:00.000Z";

function verdict(validator: Verdict["validator"], passed: boolean, reasons: string[] = []): Verdict {
  return { validator, passed, reasons, at: AT };
}

function attempt(n: number, verdicts: Verdict[]): AttemptRecord {
  return {
    attempt: n,
    workflowId: n === 1 ? "shop/ARQ-001" : `shop/ARQ-001-CORR-${n - 1}`,
    workspace: `shop/ARQ-001/attempt-${n}`,
    artifacts: [],
    summary: "",
    verdicts,
    passed: verdicts.every((v) => v.passed),
    cost: { inputTokens: 0, outputTokens: 0, usd: 0 },
    startedAt: AT,
    finishedAt: AT,
  };
}

describe("failureReasons", () => {
  it("prefixes each reason of a failed verdict with its validator name", () => {
    expect(
      failureReasons([
        verdict("llm_judge", false, ['criterion "has an overview" not met', "score 6.0 < 8.0"]),
        verdict("qa", false, ["unit tests exited 1"]),
      ]),
    ).toEqual([
      'llm_judge: criterion "has an overview" not met',
      "llm_judge: score 6.0 < 8.0",
      "qa: unit tests exited 1",
    ]);
  });

  it("ignores passed verdicts, even when they carry reasons", () => {
    expect(
      failureReasons([
        verdict("verification", true, ["note: 1 artifact"]),
        verdict("qa", false, ["lint exited 2"]),
        verdict("llm_judge", true),
      ]),
    ).toEqual(["qa: lint exited 2"]);
  });

  it('prefixes an owner that failed to run with "owner"', () => {
    expect(failureReasons([verdict("owner", false, ["Owner execution failed: exit 1"])])).toEqual([
      "owner: Owner execution failed: exit 1",
    ]);
  });

  it("returns no reasons when every verdict passed or there are none", () => {
    expect(failureReasons([verdict("verification", true), verdict("qa", true)])).toEqual([]);
    expect(failureReasons([])).toEqual([]);
  });
});

describe("repeatedReasons", () => {
  it("is empty with no attempt or a single attempt", () => {
    expect(repeatedReasons([])).toEqual([]);
    expect(repeatedReasons([attempt(1, [verdict("qa", false, ["tests exited 1"])])])).toEqual([]);
  });

  it("returns only the reasons present in both of the last two attempts", () => {
    const history = [
      attempt(1, [
        verdict("qa", false, ["tests exited 1", "lint exited 2"]),
        verdict("llm_judge", false, ["score 5 < 8"]),
      ]),
      attempt(2, [verdict("qa", false, ["tests exited 1"]), verdict("llm_judge", false, ["score 7 < 8"])]),
    ];
    expect(repeatedReasons(history)).toEqual(["qa: tests exited 1"]);
  });

  it("is empty when the last two attempts fail for different reasons", () => {
    const history = [attempt(1, [verdict("qa", false, ["a"])]), attempt(2, [verdict("qa", false, ["b"])])];
    expect(repeatedReasons(history)).toEqual([]);
  });

  it("looks only at the last two attempts", () => {
    const history = [
      attempt(1, [verdict("qa", false, ["tests exited 1"])]),
      attempt(2, [verdict("llm_judge", false, ["score 7 < 8"])]),
      attempt(3, [verdict("qa", false, ["tests exited 1"])]),
    ];
    expect(repeatedReasons(history)).toEqual([]);
  });

  it("does not count the same text from different validators as a repeat", () => {
    const history = [
      attempt(1, [verdict("qa", false, ["missing README"])]),
      attempt(2, [verdict("verification", false, ["missing README"])]),
    ];
    expect(repeatedReasons(history)).toEqual([]);
  });

  it("ignores reasons of verdicts that passed", () => {
    const history = [attempt(1, [verdict("qa", true, ["flaky"])]), attempt(2, [verdict("qa", false, ["flaky"])])];
    expect(repeatedReasons(history)).toEqual([]);
  });
});

describe("resumableSessionOf", () => {
  const session = { id: "sess-1", turns: 4 };
  it("gives the last attempt's session when the planned agent ran it", () => {
    expect(resumableSessionOf([{ ...attempt(1, []), session }], "writer")).toEqual(session);
    expect(resumableSessionOf([{ ...attempt(1, []), session, agentName: "writer" }], "writer")).toEqual(session);
  });
  it("gives none without a session id, without attempts, or when another agent of a pool ran the last attempt", () => {
    expect(resumableSessionOf([{ ...attempt(1, []), session: { turns: 2 } }], "writer")).toBeUndefined();
    expect(resumableSessionOf([], "writer")).toBeUndefined();
    expect(resumableSessionOf([{ ...attempt(1, []), session, agentName: "fallback" }], "writer")).toBeUndefined();
    // Only the last attempt counts: an older session is not what the feedback is about.
    expect(resumableSessionOf([{ ...attempt(1, []), session }, attempt(2, [])], "writer")).toBeUndefined();
  });
});
