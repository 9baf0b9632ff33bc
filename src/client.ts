#!/usr/bin/env node
/**
 * `squadflow`, the command-line client (commander). Commands: dev, start, status, list, history, metrics,
 * review, validate, export, worker, portal, and the ops commands. Every command has `--json` (`dev`: one JSON event per line; errors, usage
 * errors included, then go to stderr as `{"error":{"message","exitCode"}}`). Exit codes: see
 * src/cli/errors.ts (0 ok, 1 failure, 2 bad input, 3 Temporal/worker unavailable). No lifecycle rules here:
 * it validates input, then talks to Temporal.
 */
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { BacklogValidationError, type BacklogPlan } from "./domain/index.js";
import {
  TemporalConfigError,
  connectClient,
  connectWorkerConnection,
  connectionOptions,
  describeConnection,
  type TemporalConnectionOptions,
} from "./temporal/connection.js";
import { TemporalCliNotFoundError } from "./temporal/cli-path.js";
import { DEFAULT_DEV_SERVER_DB, DEFAULT_DEV_SERVER_PORT, DEFAULT_DEV_SERVER_UI_PORT } from "./temporal/dev-server.js";
import { TASK_QUEUES } from "./temporal/queues.js";
import { RuntimeConfigError, parseMetricsPort, startObservability } from "./temporal/runtime.js";
import { isIdle, readBacklogView, reviewCard, startBacklog, type BacklogView } from "./cli/backlogs.js";
import { watchBoard } from "./cli/board.js";
import { runDev } from "./cli/dev.js";
import { registerOpsCommands } from "./cli/ops.js";
import { DEFAULT_PORTAL_PORT, portalAuth, registerPortalCommand } from "./cli/portal.js";
import { CliError, EXIT, errorJson, silenceUsageErrors, usageMessage, wantsJson } from "./cli/errors.js";
import { exportBacklog } from "./cli/export.js";
import { registerInitCommand } from "./cli/init.js";
import { registerPlanCommand } from "./cli/plan.js";
import { readCardHistory, renderHistory } from "./cli/history.js";
import { listCards, parseStatus, renderList } from "./cli/list.js";
import { loadBacklog } from "./cli/load.js";
import { readAttemptDiff } from "./cli/diff.js";
import { metricsReport, renderMetrics } from "./cli/metrics.js";
import { renderStatus } from "./cli/render.js";
import { watchBacklog } from "./cli/watch.js";
import { createWorkers, parseQueueKinds, runWorkers } from "./worker.js";

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError("must be a port number (0–65535)");
  return n;
}

function metricsPort(value: string): number {
  try {
    return parseMetricsPort(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message.replace(/^--metrics-port /, ""));
  }
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be a positive integer");
  return n;
}

/** Connection settings; a broken Temporal config file/profile is bad input (exit 2). */
function connectionSettings(): TemporalConnectionOptions {
  try {
    return connectionOptions();
  } catch (err) {
    if (err instanceof TemporalConfigError) throw new CliError(err.message, EXIT.badInput);
    throw err;
  }
}

function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/** The `status --json` document (kept stable: tooling and tests read it). */
function statusJson(backlogId: string, view: BacklogView) {
  const repo = view.backlog.repository;
  return {
    backlogId,
    running: view.running,
    // The repository the backlog delivers into and its integration branch (issue 9).
    ...(repo
      ? {
          repository: {
            path: repo.path ?? repo.url,
            branch: repo.branch,
            baseBranch: repo.baseBranch,
            ...(repo.push ? { push: repo.push } : {}),
          },
        }
      : {}),
    cards: view.cards.map(({ state, ...row }) => (state?.merge ? { ...row, mergeCommit: state.merge.commit } : row)),
  };
}

/** Aborted on the first Ctrl-C / SIGTERM while `fn` runs (for commands that watch until idle). */
async function untilInterrupted<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const stop = () => abort.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    return await fn(abort.signal);
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}

function uiLink(plan: BacklogPlan, namespace: string): string {
  return `http://127.0.0.1:${DEFAULT_DEV_SERVER_UI_PORT}/namespaces/${namespace}/workflows?query=${encodeURIComponent(`BacklogId="${plan.backlogId}"`)}`;
}

async function withClient<T>(fn: (client: Awaited<ReturnType<typeof connectClient>>) => Promise<T>): Promise<T> {
  const opts = connectionSettings();
  let client: Awaited<ReturnType<typeof connectClient>>;
  try {
    client = await connectClient(opts);
  } catch (err) {
    throw new CliError(
      `cannot reach Temporal at ${describeConnection(opts)}: ${(err as Error).message}. Start it with "npx squadflow dev" or set TEMPORAL_ADDRESS (or a TEMPORAL_PROFILE).`,
      EXIT.unavailable,
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}

function parseStatusOption(value: string) {
  try {
    return parseStatus(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** Builds the `squadflow` command tree. */
export function buildProgram(): Command {
  const program = new Command("squadflow")
    .description("Run a backlog of cards through a squad of AI agents, every card a durable Temporal workflow.")
    .showHelpAfterError()
    .exitOverride();

  program
    .command("dev")
    .description("start a Temporal dev server (or use the one on the port) and workers for every task queue")
    .option("--start <file>", "validate and start this backlog")
    .option("--squad <file>", "squad config in a separate file")
    .option("--id <backlogId>", "backlog id (default: metadata.backlog_id)")
    .option("--repo <path|url>", "deliver into this git repository (overrides metadata.repository)")
    .option(
      "--keep-branches",
      "keep the attempt branches after the backlog ends (default: deleted; the integration branch stays)",
      false,
    )
    .option("--exit-when-idle", "exit once every card has ended or waits for a human", false)
    .option("--port <port>", "gRPC port", port, DEFAULT_DEV_SERVER_PORT)
    .option("--ui-port <port>", "Web UI port", port, DEFAULT_DEV_SERVER_UI_PORT)
    .option("--db <file>", "SQLite file that persists the server state", DEFAULT_DEV_SERVER_DB)
    .option("--in-memory", "do not persist the server state", false)
    .option(
      "--metrics-port <port>",
      "serve Prometheus metrics: Temporal SDK on <port>, squadflow on <port>+1 (default: SQUADFLOW_METRICS_PORT, else off)",
      metricsPort,
    )
    .option("--portal-port <port>", "port of the review portal (docs/portal.md)", port, DEFAULT_PORTAL_PORT)
    .option("--no-portal", "do not start the review portal")
    .option(
      "--json",
      "machine-readable output: one JSON event per line (NDJSON: server, workers, portal, backlog, live board, idle, shutdown, stopped); JSON logs on stderr",
      false,
    )
    .action(async (o) => {
      const portal =
        o.portal === false ? undefined : { port: o.portalPort as number, host: "127.0.0.1", auth: portalAuth({}) };
      const backlog = o.start
        ? {
            plan: await loadBacklog(o.start, {
              squad: o.squad,
              backlogId: o.id,
              repo: o.repo,
              keepBranches: o.keepBranches,
            }),
            file: o.start as string,
          }
        : undefined;
      const obs = await startObservability({ metricsPort: o.metricsPort, format: o.json ? "json" : undefined });
      if (obs.temporalMetrics) {
        console.log(
          o.json
            ? JSON.stringify({
                event: "metrics.started",
                at: new Date().toISOString(),
                temporalMetrics: obs.temporalMetrics,
                squadflowMetrics: obs.squadflowMetricsAddress,
              })
            : `Prometheus metrics: Temporal SDK on ${obs.temporalMetrics}/metrics, squadflow on ${obs.squadflowMetricsAddress}/metrics`,
        );
      }
      try {
        process.exitCode = await runDev({
          port: o.port,
          uiPort: o.uiPort,
          db: o.inMemory ? null : o.db,
          backlog,
          exitWhenIdle: o.exitWhenIdle,
          json: o.json,
          portal,
        });
      } finally {
        await obs.close();
      }
    });

  program
    .command("start <file>")
    .description("validate a backlog and start it on the Temporal server (TEMPORAL_ADDRESS)")
    .option("--squad <file>", "squad config in a separate file")
    .option("--id <backlogId>", "backlog id (default: metadata.backlog_id)")
    .option("--repo <path|url>", "deliver into this git repository (overrides metadata.repository)")
    .option(
      "--keep-branches",
      "keep the attempt branches after the backlog ends (default: deleted; the integration branch stays)",
      false,
    )
    .option("--wait", "show live progress until every card has ended or waits for a human", false)
    .option("--json", "machine-readable output (with --wait: one document once idle)", false)
    .action(async (file: string, o) => {
      const plan = await loadBacklog(file, {
        squad: o.squad,
        backlogId: o.id,
        repo: o.repo,
        keepBranches: o.keepBranches,
      });
      await withClient(async (client) => {
        const r = await startBacklog(client, plan, file);
        if (!r.started) {
          throw new CliError(
            `backlog "${plan.backlogId}" already exists (${r.existingStatus}); use --id to start a new run`,
          );
        }
        const ui = uiLink(plan, client.options.namespace);
        if (o.json) {
          const started = {
            backlogId: plan.backlogId,
            workflowId: r.workflowId,
            started: true,
            cards: plan.cards.map((c) => ({ cardId: c.card.id, workflowId: `${plan.backlogId}/${c.card.id}` })),
            done: plan.done.map((d) => d.cardId),
            uiUrl: ui,
          };
          if (!o.wait) return printJson(started);
          const view = await untilInterrupted((signal) =>
            watchBacklog(client, plan.backlogId, { print: () => undefined, signal }),
          );
          return printJson({ ...started, idle: isIdle(view), status: statusJson(plan.backlogId, view) });
        }
        console.log(
          `Started backlog ${plan.backlogId} (workflow ID ${r.workflowId}): ${plan.cards.length} cards, ${plan.done.length} already DONE`,
        );
        for (const c of plan.cards) console.log(`  ${c.card.id}  workflow ID ${plan.backlogId}/${c.card.id}`);
        console.log(`Web UI: ${ui}`);
        if (o.wait) await watchBacklog(client, plan.backlogId);
      });
    });

  program
    .command("status <backlog>")
    .description("one line per card: status, attempt, score, cost; --watch: a live board until idle")
    .option("--json", "machine-readable output (with --watch: one JSON board per line, NDJSON)", false)
    .option("--watch", "live board (counts, progress, cards waiting for a human, cost) redrawn until idle", false)
    .option("--interval <ms>", "poll interval of --watch, ms", positiveInt, 1000)
    .action(async (backlogId: string, o) => {
      await withClient(async (client) => {
        if (o.watch) {
          await untilInterrupted((signal) =>
            watchBoard(client, backlogId, { intervalMs: o.interval, json: o.json, signal }),
          );
          return;
        }
        const view = await readBacklogView(client, backlogId);
        if (o.json) printJson(statusJson(backlogId, view));
        else console.log(renderStatus(view));
      });
    });

  program
    .command("list")
    .description("cards across backlogs from a visibility query; --status AWAITING_HUMAN is the human-review queue")
    .option(
      "--status <status>",
      "only cards in this status (TODO, IN_PROGRESS, …, AWAITING_HUMAN, DONE, …)",
      parseStatusOption,
    )
    .option("--type <type>", "only cards of this card type")
    .option("--backlog <backlogId>", "only cards of this backlog")
    .option("--corrections", "include correction workflows (<card>-CORR-<n>)", false)
    .option("--limit <n>", "read at most n cards", positiveInt)
    .option("--json", "machine-readable output", false)
    .action(async (o) => {
      await withClient(async (client) => {
        const { query, cards } = await listCards(
          client,
          { status: o.status, type: o.type, backlog: o.backlog, corrections: o.corrections },
          o.limit,
        );
        if (o.json) printJson({ query, count: cards.length, cards });
        else console.log(renderList(cards, query));
      });
    });

  program
    .command("diff <backlog> <card>")
    .description(
      "the change an attempt made in the backlog's repository (git diff of its branch); default: the merged attempt",
    )
    .option("--attempt <n>", "this attempt instead of the merged (or latest) one", positiveInt)
    .option("--json", "machine-readable output: { attempt, branch, baseCommit, headCommit, merged, diff }", false)
    .action(async (backlogId: string, cardId: string, o) => {
      await withClient(async (client) => {
        const d = await readAttemptDiff(client, backlogId, cardId, { attempt: o.attempt });
        if (o.json) printJson(d);
        else process.stdout.write(d.diff.endsWith("\n") || d.diff === "" ? d.diff : `${d.diff}\n`);
      });
    });

  program
    .command("history <backlog> <card>")
    .description(
      "a card's attempts, every verdict (score, reasons, details), feedback, debug reports, audit log, timeline",
    )
    .option("--json", "machine-readable output", false)
    .action(async (backlogId: string, cardId: string, o) => {
      await withClient(async (client) => {
        const history = await readCardHistory(client, backlogId, cardId);
        if (o.json) printJson(history);
        else console.log(renderHistory(history));
      });
    });

  program
    .command("metrics <backlog>")
    .description(
      "the seed's success metrics of a backlog run: rejection rate, attempts, escalations, time to approval, cost…",
    )
    .option("--json", "machine-readable output", false)
    .action(async (backlogId: string, o) => {
      await withClient(async (client) => {
        const report = metricsReport(await readBacklogView(client, backlogId));
        if (o.json) printJson(report);
        else console.log(renderMetrics(report));
      });
    });

  program
    .command("review <backlog> <card>")
    .description("decide on a card awaiting human review (sent as the humanReview update)")
    .addOption(new Option("--approve", "approve the card (override → DONE)").conflicts(["reject", "clarify"]))
    .addOption(
      new Option(
        "--reject",
        "reject the card: it rests REJECTED until retried or skipped; dependents BLOCKED",
      ).conflicts(["clarify"]),
    )
    .option("--clarify <context>", "add context and run one more correction round")
    .requiredOption("--reviewer <name>", "who decides (audited)")
    .requiredOption("--reason <text>", "why (audited)")
    .option("--json", "machine-readable output (the audit entry)", false)
    .action(async (backlogId: string, cardId: string, o) => {
      const decision = o.approve ? "approve" : o.reject ? "reject" : o.clarify !== undefined ? "clarify" : undefined;
      if (!decision) throw new CliError("choose one of --approve, --reject, --clarify <context>");
      await withClient(async (client) => {
        const entry = await reviewCard(client, backlogId, cardId, {
          decision,
          reviewer: o.reviewer,
          reason: o.reason,
          ...(decision === "clarify" ? { context: o.clarify } : {}),
        });
        if (o.json) printJson({ backlogId, cardId, decision, entry });
        else console.log(`${cardId}: ${entry.action} by ${entry.actor} at ${entry.at} — ${entry.reason}`);
      });
    });

  program
    .command("validate <file>")
    .description(
      "validate a backlog (syntax, schema, ids, dependencies, types, its repository) without starting anything",
    )
    .option("--squad <file>", "squad config in a separate file")
    .option("--repo <path|url>", "check this git repository instead of metadata.repository")
    .option(
      "--json",
      "machine-readable output: { valid, backlogId, cards, done } or { valid: false, issues } (exit 2)",
      false,
    )
    .action(async (file: string, o) => {
      let plan: BacklogPlan;
      try {
        plan = await loadBacklog(file, { squad: o.squad, repo: o.repo });
      } catch (err) {
        if (!(o.json && err instanceof BacklogValidationError)) throw err;
        printJson({ file, valid: false, issues: err.issues });
        process.exitCode = EXIT.badInput;
        return;
      }
      if (o.json) {
        const repo = plan.repository;
        printJson({
          file,
          valid: true,
          backlogId: plan.backlogId,
          cards: plan.cards.map((c) => c.card.id),
          done: plan.done.map((d) => d.cardId),
          ...(repo
            ? {
                repository: {
                  path: repo.path ?? repo.url,
                  baseBranch: repo.baseBranch,
                  branch: repo.integrationBranch,
                },
              }
            : {}),
        });
      } else {
        const repo = plan.repository;
        const into = repo ? `, into ${repo.path ?? repo.url} (${repo.integrationBranch} from ${repo.baseBranch})` : "";
        console.log(
          `${file}: valid — backlog ${plan.backlogId}, ${plan.cards.length} cards to run, ${plan.done.length} already DONE${into}`,
        );
      }
    });

  program
    .command("export <backlog>")
    .description("write the backlog in the seed's backlog_master.json shape, read from Temporal")
    .option("--out <file>", "write to this file instead of stdout")
    .option(
      "--json",
      "accepted for scripts that pass it to every command: the export is JSON anyway; with --out, prints { backlogId, out }",
      false,
    )
    .action(async (backlogId: string, o) => {
      await withClient(async (client) => {
        const json = JSON.stringify(exportBacklog(await readBacklogView(client, backlogId)), null, 2) + "\n";
        if (!o.out) {
          process.stdout.write(json);
          return;
        }
        await writeFile(o.out, json);
        if (o.json) printJson({ backlogId, out: o.out });
        else console.log(`wrote ${o.out}`);
      });
    });

  program
    .command("worker")
    .description("run workers (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE) for some or all task queues")
    .option("--queues <kinds>", `comma-separated: ${Object.keys(TASK_QUEUES).join(",")}`)
    .option(
      "--metrics-port <port>",
      "serve Prometheus metrics: Temporal SDK on <port>, squadflow on <port>+1 (default: SQUADFLOW_METRICS_PORT, else off)",
      metricsPort,
    )
    .option("--json", "JSON logs (same as SQUADFLOW_LOG_FORMAT=json) and a JSON startup line", false)
    .action(async (o) => {
      let queues;
      try {
        queues = parseQueueKinds(o.queues);
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      const conn = connectionSettings();
      const obs = await startObservability({ metricsPort: o.metricsPort, format: o.json ? "json" : undefined });
      try {
        const connection = await connectWorkerConnection(conn).catch((err: Error) => {
          throw new CliError(`cannot reach Temporal at ${describeConnection(conn)}: ${err.message}`, EXIT.unavailable);
        });
        try {
          const workers = await createWorkers({ connection, namespace: conn.namespace, queues });
          const taskQueues = workers.map((w) => w.options.taskQueue);
          if (o.json) {
            console.log(
              JSON.stringify({
                event: "worker.started",
                address: conn.address,
                namespace: conn.namespace,
                taskQueues,
                temporalMetrics: obs.temporalMetrics,
                squadflowMetrics: obs.squadflowMetricsAddress,
              }),
            );
          } else {
            const metrics = obs.temporalMetrics
              ? `; metrics: Temporal ${obs.temporalMetrics}, squadflow ${obs.squadflowMetricsAddress}`
              : "";
            console.log(`squadflow worker on ${describeConnection(conn)}: ${taskQueues.join(", ")}${metrics}`);
          }
          await runWorkers(workers);
        } finally {
          await connection.close();
        }
      } finally {
        await obs.close();
      }
    });

  registerInitCommand(program);
  registerPlanCommand(program);
  registerPortalCommand(program, withClient);
  registerOpsCommands(program, withClient, (json, value, text) => (json ? printJson(value) : console.log(text)));

  return program;
}

/** Runs the CLI with `argv` (node-style) and returns the exit code; never throws. */
export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  const json = wantsJson(argv);
  // With --json, errors are one JSON object on stderr, so that stdout only ever holds the result; commander
  // then stays quiet about usage errors and they are reported here like any other error.
  if (json) silenceUsageErrors(program);
  const fail = (message: string, exitCode: number, extra: Record<string, unknown> = {}): number => {
    console.error(json ? errorJson(message, exitCode, extra) : message);
    return exitCode;
  };
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return EXIT.ok;
      // Without --json, commander has already printed the message and the command's help.
      return json ? fail(usageMessage(err), EXIT.badInput) : EXIT.badInput;
    }
    const e = err as { message: string };
    if (err instanceof BacklogValidationError) return fail(err.message, EXIT.badInput, { issues: err.issues });
    if (err instanceof CliError) return fail(`squadflow: ${err.message}`, err.exitCode);
    if (err instanceof RuntimeConfigError || err instanceof TemporalConfigError)
      return fail(`squadflow: ${err.message}`, EXIT.badInput);
    if (err instanceof TemporalCliNotFoundError) return fail(err.message, EXIT.unavailable);
    return fail(`squadflow: ${e.message}`, EXIT.failure);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().then((code) => process.exit(code));
}
