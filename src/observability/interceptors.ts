/**
 * The activity interceptor of squadflow's activity workers (registered by `createWorkers`):
 * - adds the card context (backlog id, card id, card attempt) to every log line of the activity — the
 *   SDK's own ("Activity failed" …) and the activity's `log.*` calls (see src/observability/logging.ts);
 * - logs one INFO line per completed activity with what it decided (verdict, score, cost);
 * - fills the Prometheus metrics (src/observability/metrics.ts) from the activities' inputs and results,
 *   whatever the activity's name: a result shaped like a Verdict counts as a validator verdict, an
 *   OwnerResult as an owner run with its cost; the first execution of an owner run as an attempt started.
 */
import type { ActivityInterceptorsFactory } from "@temporalio/worker";
import {
  activityLogAttributes,
  cardContextFromArgs,
  cardContextFromWorkflowId,
  type CardLogContext,
} from "./logging.js";
import { squadflowMetrics, type SquadflowMetrics } from "./metrics.js";

/** Creates the interceptors factory: `Worker.create({ interceptors: { activity: [squadflowActivityInterceptors()] } })`. */
export function squadflowActivityInterceptors(
  metrics: SquadflowMetrics = squadflowMetrics,
): ActivityInterceptorsFactory {
  return (ctx) => {
    // Known before the arguments are: the SDK logs "Activity started" before any inbound interceptor runs.
    let card: CardLogContext = cardContextFromWorkflowId(ctx.info.workflowExecution?.workflowId);
    return {
      inbound: {
        async execute(input, next) {
          card = { ...card, ...cardContextFromArgs(input.args) };
          const arg = input.args[0];
          const cardType = cardTypeOf(arg);
          if (isOwnerInput(arg) && ctx.info.attempt === 1) metrics.attemptStarted(cardType);
          const started = process.hrtime.bigint();
          const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
          let result: unknown;
          try {
            result = await next(input);
          } catch (err) {
            metrics.activityExecuted(ctx.info.activityType, "error", seconds());
            throw err;
          }
          const elapsed = seconds();
          metrics.activityExecuted(ctx.info.activityType, "ok", elapsed);
          const summary = observeResult(metrics, cardType, result);
          ctx.log.info("Activity completed", { durationMs: Math.round(elapsed * 1000), ...summary });
          return result;
        },
      },
      outbound: {
        getLogAttributes(attrs, next) {
          return next(activityLogAttributes(attrs, card));
        },
      },
    };
  };
}

/** Counts what a result says and returns the fields worth logging. */
function observeResult(
  metrics: SquadflowMetrics,
  cardType: string | undefined,
  result: unknown,
): Record<string, unknown> {
  if (!isObject(result)) return {};
  if (typeof result.validator === "string" && typeof result.passed === "boolean") {
    const v = {
      validator: result.validator as never,
      passed: result.passed,
      score: typeof result.score === "number" ? result.score : undefined,
    };
    metrics.validatorVerdict(v);
    return { validator: v.validator, passed: v.passed, ...(v.score !== undefined ? { score: v.score } : {}) };
  }
  const cost = result.cost;
  if (isObject(cost) && typeof cost.usd === "number") {
    const c = { usd: cost.usd, inputTokens: num(cost.inputTokens), outputTokens: num(cost.outputTokens) };
    metrics.ownerCost(cardType, c);
    return {
      costUsd: c.usd,
      inputTokens: c.inputTokens,
      outputTokens: c.outputTokens,
      ...(Array.isArray(result.artifacts) ? { artifacts: result.artifacts.length } : {}),
    };
  }
  if (typeof result.rootCause === "string") return { rootCause: result.rootCause };
  if (Array.isArray(result.delivered)) return { delivered: result.delivered.length };
  return {};
}

function isOwnerInput(arg: unknown): boolean {
  return isObject(arg) && typeof arg.backlogId === "string" && typeof arg.attempt === "number" && isObject(arg.agent);
}

function cardTypeOf(arg: unknown): string | undefined {
  return isObject(arg) && isObject(arg.card) && typeof arg.card.type === "string" ? arg.card.type : undefined;
}

function num(v: unknown): number {
  return typeof v === "number" && Number.isFinite(v) ? v : 0;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
