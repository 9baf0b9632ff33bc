/**
 * The human-review and ops-decision messages — PRODUCT.md "Escalation blocks on a human decision … every
 * decision is audited (who, when, decision, reason)". One parser per message, used by the client before
 * sending and by the workflows' update validators and signal handlers on receipt. Hand-written (no schema
 * library): workflow code imports it, and every cached workflow would otherwise evaluate a schema library
 * of its own. The messages name each problem the way the client's zod schemas do (`reviewer: reviewer is
 * required; reason: Too big: …`).
 */

/** Longest accepted reason / context, characters (keeps history small and the audit log readable). */
export const MAX_REVIEW_TEXT = 4000;

/** Longest accepted reviewer name or card id, characters. */
const MAX_NAME = 200;

/** The decisions a human can take on a card awaiting review. */
export const REVIEW_DECISIONS = ["approve", "reject", "clarify"] as const;

/** A human decision, as sent by `squadflow review` or a raw `temporal workflow update execute`. `context` is required for `clarify`. */
export interface HumanReview {
  decision: (typeof REVIEW_DECISIONS)[number];
  reviewer: string;
  reason: string;
  /** For `clarify`: the context the owner gets in one more correction round. */
  context?: string;
}

/**
 * An ops decision on a card (`retry`, `skip`) or a backlog (`pause`, `resume`, `cancel`): who and why,
 * both audited — the operations issue.
 */
export interface OpsDecision {
  reviewer: string;
  reason: string;
}

/**
 * A `retry` / `skip` of a FAILED card, sent to the backlog (or shard) that runs it: the card's workflow
 * has ended, so its backlog starts a new run of it — `{ cardId, reviewer, reason }`.
 */
export interface FailedCardDecision extends OpsDecision {
  cardId: string;
}

/** The problems found in one payload, as `path: message`. */
type Problems = string[];

function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/**
 * A trimmed string field of `min`–`max` characters, or undefined with the problem recorded.
 * @param required the message when the trimmed string is empty (absent: the generic "Too small").
 */
function text(
  obj: Record<string, unknown>,
  key: string,
  problems: Problems,
  max: number,
  required?: string,
): string | undefined {
  const value = obj[key];
  if (typeof value !== "string") {
    problems.push(`${key}: Invalid input: expected string, received ${typeName(value)}`);
    return undefined;
  }
  const trimmed = value.trim();
  if (trimmed.length < 1) problems.push(`${key}: ${required ?? "Too small: expected string to have >=1 characters"}`);
  else if (trimmed.length > max) problems.push(`${key}: Too big: expected string to have <=${max} characters`);
  return trimmed;
}

/**
 * The payload as an object (its fields are checked one by one).
 * @throws Error naming the payload when it is not an object at all.
 */
function fields(input: unknown, what: string): Record<string, unknown> {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new Error(`invalid ${what}: payload: Invalid input: expected object, received ${typeName(input)}`);
  }
  return input as Record<string, unknown>;
}

function unknownKeys(obj: Record<string, unknown>, keys: readonly string[], problems: Problems): void {
  const extra = Object.keys(obj).filter((k) => !keys.includes(k));
  if (extra.length === 1) problems.push(`payload: Unrecognized key: "${extra[0]}"`);
  else if (extra.length > 1) problems.push(`payload: Unrecognized keys: ${extra.map((k) => `"${k}"`).join(", ")}`);
}

function fail(what: string, problems: Problems): never {
  throw new Error(`invalid ${what}: ${problems.join("; ")}`);
}

/**
 * Parses a human review payload (strings trimmed).
 * @throws Error whose message lists every problem (`invalid human review: reviewer: reviewer is required; …`).
 */
export function parseHumanReview(input: unknown): HumanReview {
  const what = "human review";
  const obj = fields(input, what);
  const problems: Problems = [];
  const decision = obj.decision;
  if (!REVIEW_DECISIONS.includes(decision as HumanReview["decision"])) {
    problems.push(`decision: Invalid option: expected one of ${REVIEW_DECISIONS.map((d) => `"${d}"`).join("|")}`);
  }
  const reviewer = text(obj, "reviewer", problems, MAX_NAME, "reviewer is required");
  const reason = text(obj, "reason", problems, MAX_REVIEW_TEXT, "reason is required");
  const context = obj.context === undefined ? undefined : text(obj, "context", problems, MAX_REVIEW_TEXT);
  unknownKeys(obj, ["decision", "reviewer", "reason", "context"], problems);
  // As zod did: the clarify rule is checked unless a field has the wrong type (or decision is unknown); a
  // length problem or an unknown key does not stop it.
  const wrongType =
    !REVIEW_DECISIONS.includes(decision as HumanReview["decision"]) ||
    reviewer === undefined ||
    reason === undefined ||
    (obj.context !== undefined && context === undefined);
  if (!wrongType && decision === "clarify" && !context) problems.push("context: clarify needs the context to add");
  if (problems.length > 0) fail(what, problems);
  const review: HumanReview = { decision: decision as HumanReview["decision"], reviewer: reviewer!, reason: reason! };
  if (context !== undefined) review.context = context;
  return review;
}

/**
 * Parses an ops decision payload (strings trimmed).
 * @throws Error whose message lists every problem.
 */
export function parseOpsDecision(input: unknown): OpsDecision {
  const what = "ops decision";
  const obj = fields(input, what);
  const problems: Problems = [];
  const reviewer = text(obj, "reviewer", problems, MAX_NAME, "reviewer is required");
  const reason = text(obj, "reason", problems, MAX_REVIEW_TEXT, "reason is required");
  unknownKeys(obj, ["reviewer", "reason"], problems);
  if (problems.length > 0) fail(what, problems);
  return { reviewer: reviewer!, reason: reason! };
}

/**
 * Parses a FAILED-card decision payload (strings trimmed).
 * @throws Error whose message lists every problem.
 */
export function parseFailedCardDecision(input: unknown): FailedCardDecision {
  const what = "decision on a failed card";
  const obj = fields(input, what);
  const problems: Problems = [];
  const cardId = text(obj, "cardId", problems, MAX_NAME, "cardId is required");
  const reviewer = text(obj, "reviewer", problems, MAX_NAME, "reviewer is required");
  const reason = text(obj, "reason", problems, MAX_REVIEW_TEXT, "reason is required");
  unknownKeys(obj, ["cardId", "reviewer", "reason"], problems);
  if (problems.length > 0) fail(what, problems);
  return { cardId: cardId!, reviewer: reviewer!, reason: reason! };
}
