/** The zod schema of a {@link Cost} (activities read costs back from files; workflow code never needs it). */
import { z } from "zod";
import type { Cost } from "./cost.js";

/**
 * The zod schema of a `Cost` read back from a file (e.g. the owner record beside an attempt workspace):
 * every field of `Cost`, optional ones included, so a re-read cost equals the one written.
 */
export const CostSchema = z.object({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  usd: z.number().nonnegative(),
  cacheCreationTokens: z.number().int().nonnegative().optional(),
  cacheReadTokens: z.number().int().nonnegative().optional(),
  reportedUsd: z.number().nonnegative().optional(),
}) satisfies z.ZodType<Cost>;
