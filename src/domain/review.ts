/**
 * The human-review message — PRODUCT.md "Escalation blocks on a human decision … every decision is
 * audited (who, when, decision, reason)". One zod schema, used by the client before sending and by the
 * card workflow's update validator and signal handler on receipt.
 */
import { z } from 'zod';

/** Longest accepted reason / context, characters (keeps history small and the audit log readable). */
export const MAX_REVIEW_TEXT = 4000;

/** A human decision on a card awaiting review. `context` is required for `clarify`. */
export const HumanReviewSchema = z
  .object({
    decision: z.enum(['approve', 'reject', 'clarify']),
    reviewer: z.string().trim().min(1, 'reviewer is required').max(200),
    reason: z.string().trim().min(1, 'reason is required').max(MAX_REVIEW_TEXT),
    /** For `clarify`: the context the owner gets in one more correction round. */
    context: z.string().trim().min(1).max(MAX_REVIEW_TEXT).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.decision === 'clarify' && !r.context) {
      ctx.addIssue({ code: 'custom', path: ['context'], message: 'clarify needs the context to add' });
    }
  });
/** A human decision, as sent by `squadflow review` or a raw `temporal workflow update execute`. */
export type HumanReview = z.infer<typeof HumanReviewSchema>;

/**
 * Parses a human review payload.
 * @throws Error whose message lists every problem (`reviewer: reviewer is required; …`).
 */
export function parseHumanReview(input: unknown): HumanReview {
  return parsePayload(HumanReviewSchema, input, 'human review');
}

/**
 * `schema.parse(input)`, failing with one message that lists every problem:
 * `invalid <what>: reviewer: reviewer is required; reason: …`.
 */
function parsePayload<T>(schema: z.ZodType<T>, input: unknown, what: string): T {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  throw new Error(`invalid ${what}: ` + r.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; '));
}

/**
 * An ops decision on a card (`retry`, `skip`) or a backlog (`pause`, `resume`, `cancel`): who and why,
 * both audited — the operations issue.
 */
export const OpsDecisionSchema = z
  .object({
    reviewer: z.string().trim().min(1, 'reviewer is required').max(200),
    reason: z.string().trim().min(1, 'reason is required').max(MAX_REVIEW_TEXT),
  })
  .strict();
/** Who decided an ops action, and why. */
export type OpsDecision = z.infer<typeof OpsDecisionSchema>;

/**
 * Parses an ops decision payload.
 * @throws Error whose message lists every problem.
 */
export function parseOpsDecision(input: unknown): OpsDecision {
  return parsePayload(OpsDecisionSchema, input, 'ops decision');
}

/**
 * A `retry` / `skip` of a FAILED card, sent to the backlog (or shard) that runs it: the card's workflow
 * has ended, so its backlog starts a new run of it — `{ cardId, reviewer, reason }`.
 */
export const FailedCardDecisionSchema = z
  .object({ cardId: z.string().trim().min(1, 'cardId is required').max(200) })
  .extend(OpsDecisionSchema.shape)
  .strict();
/** Which FAILED card, who decided, and why. */
export type FailedCardDecision = z.infer<typeof FailedCardDecisionSchema>;

/**
 * Parses a FAILED-card decision payload.
 * @throws Error whose message lists every problem.
 */
export function parseFailedCardDecision(input: unknown): FailedCardDecision {
  return parsePayload(FailedCardDecisionSchema, input, 'decision on a failed card');
}
