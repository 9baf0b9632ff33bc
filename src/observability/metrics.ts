/**
 * squadflow's own Prometheus metrics (prom-client), beside the Temporal SDK's (which the core runtime
 * serves itself, see src/temporal/runtime.ts). One registry per process, filled worker-side:
 * - by the activity interceptor (src/observability/interceptors.ts): activity executions and durations,
 *   attempts started, validator verdicts, judge scores, owner cost and tokens, notifications;
 * - by the workflow sinks `squadflowMetrics.cardFinished` / `cardRested` (src/observability/sinks.ts), or
 *   by any code that calls {@link SquadflowMetrics.cardFinished} / {@link SquadflowMetrics.cardRested}:
 *   cards by final status (DONE, CANCELLED, FAILED — once per card), attempts and cost per finished card,
 *   and REJECTED / BLOCKED rests (not final: each rest counts).
 *
 * Served as text at `http://<host>:<port>/metrics` by {@link startMetricsServer}. Node-only.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { InjectedSinks } from "@temporalio/worker";
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Verdict } from "../domain/attempt.js";
import type { CardFinishedEvent, CardRestedEvent, SquadflowSinks } from "./sinks.js";

/** The metrics of one process; use the {@link squadflowMetrics} singleton unless a test wants its own. */
export class SquadflowMetrics {
  /** The registry every squadflow metric is registered in (not prom-client's global one). */
  readonly registry = new Registry();

  /** `squadflow_activity_executions_total{activity, outcome}` — outcome `ok` or `error` (per activity attempt). */
  readonly activityExecutions = new Counter({
    name: "squadflow_activity_executions_total",
    help: "Activity executions (each retry counts), by activity type and outcome (ok|error).",
    labelNames: ["activity", "outcome"] as const,
    registers: [this.registry],
  });

  /** `squadflow_activity_duration_seconds{activity}`. */
  readonly activityDuration = new Histogram({
    name: "squadflow_activity_duration_seconds",
    help: "Duration of activity executions, seconds.",
    labelNames: ["activity"] as const,
    buckets: [0.05, 0.25, 1, 5, 15, 60, 300, 900, 3600],
    registers: [this.registry],
  });

  /** `squadflow_attempts_total{card_type}` — card attempts started (owner runs; activity retries excluded). */
  readonly attempts = new Counter({
    name: "squadflow_attempts_total",
    help: "Card attempts started (first execution of the owner activity of an attempt), by card type.",
    labelNames: ["card_type"] as const,
    registers: [this.registry],
  });

  /** `squadflow_validator_verdicts_total{validator, passed}`. */
  readonly verdicts = new Counter({
    name: "squadflow_validator_verdicts_total",
    help: "Validator verdicts, by validator (verification|llm_judge|qa) and passed (true|false).",
    labelNames: ["validator", "passed"] as const,
    registers: [this.registry],
  });

  /** `squadflow_judge_score` — LLM-judge scores, 0–10. */
  readonly judgeScore = new Histogram({
    name: "squadflow_judge_score",
    help: "LLM-judge scores (0-10).",
    buckets: [2, 4, 6, 7, 8, 9, 10],
    registers: [this.registry],
  });

  /** `squadflow_cost_usd_total{card_type}` — USD spent by owner runs. */
  readonly costUsd = new Counter({
    name: "squadflow_cost_usd_total",
    help: "USD spent by owner agents, by card type.",
    labelNames: ["card_type"] as const,
    registers: [this.registry],
  });

  /** `squadflow_tokens_total{kind}` — kind `input` or `output`. */
  readonly tokens = new Counter({
    name: "squadflow_tokens_total",
    help: "Tokens used by owner agents, by kind (input|output).",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });

  /**
   * `squadflow_cards_finished_total{status, card_type}` — status DONE, CANCELLED or FAILED; a card counts
   * once (a retried card counts once, when it ends).
   */
  readonly cardsFinished = new Counter({
    name: "squadflow_cards_finished_total",
    help: "Card workflows that reached a final status (DONE|CANCELLED|FAILED), once per card, by status and card type.",
    labelNames: ["status", "card_type"] as const,
    registers: [this.registry],
  });

  /**
   * `squadflow_card_rests_total{status, card_type}` — status REJECTED or BLOCKED: a card came to rest and
   * waits for an ops `retry` or `skip`. Not final; a card that rests twice counts twice.
   */
  readonly cardRests = new Counter({
    name: "squadflow_card_rests_total",
    help: "Times a card came to rest REJECTED or BLOCKED, waiting for an ops retry or skip (not final), by status and card type.",
    labelNames: ["status", "card_type"] as const,
    registers: [this.registry],
  });

  /** `squadflow_card_attempts` — attempts per finished card. */
  readonly cardAttempts = new Histogram({
    name: "squadflow_card_attempts",
    help: "Attempts per finished card.",
    buckets: [1, 2, 3, 4, 5, 6, 8],
    registers: [this.registry],
  });

  /** `squadflow_card_cost_usd` — USD per finished card. */
  readonly cardCost = new Histogram({
    name: "squadflow_card_cost_usd",
    help: "Cost per finished card, USD.",
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    registers: [this.registry],
  });

  /** `squadflow_notifications_total{event, format, outcome}` — outcome `ok`, `retryable` or `rejected`. */
  readonly notifications = new Counter({
    name: "squadflow_notifications_total",
    help: "Webhook notification requests, by event, format (json|slack) and outcome (ok|retryable|rejected).",
    labelNames: ["event", "format", "outcome"] as const,
    registers: [this.registry],
  });

  private defaultsCollected = false;

  /** Records a card that reached a final status (the hook behind the `cardFinished` sink). */
  cardFinished(e: CardFinishedEvent): void {
    this.cardsFinished.inc({ status: e.status, card_type: e.cardType ?? "unknown" });
    if (e.attempts !== undefined) this.cardAttempts.observe(e.attempts);
    if (e.costUsd !== undefined) this.cardCost.observe(e.costUsd);
  }

  /** Records a card that came to rest REJECTED or BLOCKED (the hook behind the `cardRested` sink). */
  cardRested(e: CardRestedEvent): void {
    this.cardRests.inc({ status: e.status, card_type: e.cardType ?? "unknown" });
  }

  /** Records one validator verdict (and the judge's score). */
  validatorVerdict(v: Pick<Verdict, "validator" | "passed" | "score">): void {
    this.verdicts.inc({ validator: v.validator, passed: String(v.passed) });
    if (v.validator === "llm_judge" && typeof v.score === "number") this.judgeScore.observe(v.score);
  }

  /** Records what an owner run cost. */
  ownerCost(cardType: string | undefined, cost: { usd: number; inputTokens: number; outputTokens: number }): void {
    const card_type = cardType ?? "unknown";
    this.costUsd.inc({ card_type }, Math.max(0, cost.usd));
    if (cost.inputTokens > 0) this.tokens.inc({ kind: "input" }, cost.inputTokens);
    if (cost.outputTokens > 0) this.tokens.inc({ kind: "output" }, cost.outputTokens);
  }

  /** Records a card attempt that started. */
  attemptStarted(cardType: string | undefined): void {
    this.attempts.inc({ card_type: cardType ?? "unknown" });
  }

  /** Records one activity execution, its outcome and duration (seconds). */
  activityExecuted(activity: string, outcome: "ok" | "error", seconds: number): void {
    this.activityExecutions.inc({ activity, outcome });
    this.activityDuration.observe({ activity }, seconds);
  }

  /** Records one webhook request of the `notify` activity (pass as `createNotify({ onDelivery })`). */
  notification = (n: { event: string; format: string; outcome: "ok" | "retryable" | "rejected" }): void => {
    this.notifications.inc(n);
  };

  /** Adds Node's process metrics (CPU, memory, event loop lag) with the `squadflow_` prefix; once. */
  collectProcessMetrics(): void {
    if (this.defaultsCollected) return;
    this.defaultsCollected = true;
    collectDefaultMetrics({ register: this.registry, prefix: "squadflow_" });
  }
}

/** The process-wide squadflow metrics. */
export const squadflowMetrics = new SquadflowMetrics();

/**
 * The worker side of {@link SquadflowSinks}: pass as `Worker.create({ sinks: metricsSinks() })`. Not called
 * during replay.
 */
export function metricsSinks(metrics: SquadflowMetrics = squadflowMetrics): InjectedSinks<SquadflowSinks> {
  return {
    squadflowMetrics: {
      cardFinished: { fn: (_info, event) => metrics.cardFinished(event), callDuringReplay: false },
      cardRested: { fn: (_info, event) => metrics.cardRested(event), callDuringReplay: false },
    },
  };
}

/** A running metrics HTTP server. */
export interface MetricsServer {
  /** The port it listens on (useful with port 0). */
  port: number;
  /** Stops it (resolves once closed). */
  close(): Promise<void>;
}

/** Options of {@link startMetricsServer}. */
export interface MetricsServerOptions {
  /** TCP port; 0 picks a free one. */
  port: number;
  /** Interface to bind (default `0.0.0.0`, so Prometheus can scrape a container). */
  host?: string;
  /** Default {@link squadflowMetrics}. */
  metrics?: SquadflowMetrics;
  /** Also export Node process metrics (default true). */
  processMetrics?: boolean;
}

/**
 * Serves `GET /metrics` (Prometheus text format) and `GET /healthz` (`ok`).
 * @throws the listen error (e.g. EADDRINUSE) naming the address.
 */
export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const metrics = opts.metrics ?? squadflowMetrics;
  if (opts.processMetrics !== false) metrics.collectProcessMetrics();
  const host = opts.host ?? "0.0.0.0";
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/metrics") {
      metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": metrics.registry.contentType });
          res.end(text);
        },
        (err: Error) => {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end(`metrics failed: ${err.message}\n`);
        },
      );
    } else if (req.method === "GET" && path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok\n");
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found; metrics are at /metrics\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err) =>
      reject(new Error(`cannot serve squadflow metrics on ${host}:${opts.port}: ${err.message}`)),
    );
    server.listen(opts.port, host, () => resolve());
  });
  server.unref();
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
