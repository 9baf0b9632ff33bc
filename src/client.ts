#!/usr/bin/env node
/**
 * `squadflow`, the command-line client (commander). Commands: dev, start, status, review, validate,
 * export, worker. Exit codes: see src/cli/errors.ts (0 ok, 1 failure, 2 bad input, 3 Temporal/worker
 * unavailable). No lifecycle rules here: it validates input, then talks to Temporal.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { BacklogValidationError } from './domain/index.js';
import { connectClient, connectWorkerConnection, connectionOptions } from './temporal/connection.js';
import { TemporalCliNotFoundError } from './temporal/cli-path.js';
import { DEFAULT_DEV_SERVER_DB, DEFAULT_DEV_SERVER_PORT, DEFAULT_DEV_SERVER_UI_PORT } from './temporal/dev-server.js';
import { TASK_QUEUES } from './temporal/queues.js';
import { installRuntime } from './temporal/runtime.js';
import { readBacklogView, reviewCard, startBacklog } from './cli/backlogs.js';
import { runDev } from './cli/dev.js';
import { registerOpsCommands } from './cli/ops.js';
import { CliError, EXIT } from './cli/errors.js';
import { exportBacklog } from './cli/export.js';
import { loadBacklog } from './cli/load.js';
import { renderStatus } from './cli/render.js';
import { watchBacklog } from './cli/watch.js';
import { createWorkers, parseQueueKinds, runWorkers } from './worker.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number (0–65535)');
  return n;
}

async function withClient<T>(fn: (client: Awaited<ReturnType<typeof connectClient>>) => Promise<T>): Promise<T> {
  const opts = connectionOptions();
  let client: Awaited<ReturnType<typeof connectClient>>;
  try {
    client = await connectClient(opts);
  } catch (err) {
    throw new CliError(
      `cannot reach Temporal at ${opts.address}: ${(err as Error).message}. Start it with "npx squadflow dev" or set TEMPORAL_ADDRESS.`,
      EXIT.unavailable,
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.connection.close();
  }
}

/** Builds the `squadflow` command tree. */
export function buildProgram(): Command {
  const program = new Command('squadflow')
    .description('Run a backlog of cards through a squad of AI agents, every card a durable Temporal workflow.')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('dev')
    .description('start a Temporal dev server (or use the one on the port) and workers for every task queue')
    .option('--start <file>', 'validate and start this backlog')
    .option('--squad <file>', 'squad config in a separate file')
    .option('--id <backlogId>', 'backlog id (default: metadata.backlog_id)')
    .option('--exit-when-idle', 'exit once every card has ended or waits for a human', false)
    .option('--port <port>', 'gRPC port', port, DEFAULT_DEV_SERVER_PORT)
    .option('--ui-port <port>', 'Web UI port', port, DEFAULT_DEV_SERVER_UI_PORT)
    .option('--db <file>', 'SQLite file that persists the server state', DEFAULT_DEV_SERVER_DB)
    .option('--in-memory', 'do not persist the server state', false)
    .action(async (o) => {
      installRuntime();
      const backlog = o.start
        ? { plan: await loadBacklog(o.start, { squad: o.squad, backlogId: o.id }), file: o.start as string }
        : undefined;
      process.exitCode = await runDev({
        port: o.port,
        uiPort: o.uiPort,
        db: o.inMemory ? null : o.db,
        backlog,
        exitWhenIdle: o.exitWhenIdle,
      });
    });

  program
    .command('start <file>')
    .description('validate a backlog and start it on the Temporal server (TEMPORAL_ADDRESS)')
    .option('--squad <file>', 'squad config in a separate file')
    .option('--id <backlogId>', 'backlog id (default: metadata.backlog_id)')
    .option('--wait', 'show live progress until every card has ended or waits for a human', false)
    .action(async (file: string, o) => {
      const plan = await loadBacklog(file, { squad: o.squad, backlogId: o.id });
      await withClient(async (client) => {
        const r = await startBacklog(client, plan, file);
        if (!r.started) {
          throw new CliError(`backlog "${plan.backlogId}" already exists (${r.existingStatus}); use --id to start a new run`);
        }
        console.log(`Started backlog ${plan.backlogId} (workflow ID ${r.workflowId}): ${plan.cards.length} cards, ${plan.done.length} already DONE`);
        for (const c of plan.cards) console.log(`  ${c.card.id}  workflow ID ${plan.backlogId}/${c.card.id}`);
        console.log(`Web UI: http://127.0.0.1:${DEFAULT_DEV_SERVER_UI_PORT}/namespaces/${connectionOptions().namespace}/workflows?query=${encodeURIComponent(`BacklogId="${plan.backlogId}"`)}`);
        if (o.wait) await watchBacklog(client, plan.backlogId);
      });
    });

  program
    .command('status <backlog>')
    .description('one line per card: status, attempt, score, cost')
    .option('--json', 'machine-readable output', false)
    .action(async (backlogId: string, o) => {
      await withClient(async (client) => {
        const view = await readBacklogView(client, backlogId);
        if (o.json) {
          console.log(
            JSON.stringify(
              {
                backlogId,
                running: view.running,
                cards: view.cards.map(({ state: _state, ...row }) => row),
              },
              null,
              2,
            ),
          );
        } else console.log(renderStatus(view));
      });
    });

  program
    .command('review <backlog> <card>')
    .description('decide on a card awaiting human review (sent as the humanReview update)')
    .addOption(new Option('--approve', 'approve the card (override → DONE)').conflicts(['reject', 'clarify']))
    .addOption(new Option('--reject', 'reject the card (final; dependents BLOCKED)').conflicts(['clarify']))
    .option('--clarify <context>', 'add context and run one more correction round')
    .requiredOption('--reviewer <name>', 'who decides (audited)')
    .requiredOption('--reason <text>', 'why (audited)')
    .action(async (backlogId: string, cardId: string, o) => {
      const decision = o.approve ? 'approve' : o.reject ? 'reject' : o.clarify !== undefined ? 'clarify' : undefined;
      if (!decision) throw new CliError('choose one of --approve, --reject, --clarify <context>');
      await withClient(async (client) => {
        const entry = await reviewCard(client, backlogId, cardId, {
          decision,
          reviewer: o.reviewer,
          reason: o.reason,
          ...(decision === 'clarify' ? { context: o.clarify } : {}),
        });
        console.log(`${cardId}: ${entry.action} by ${entry.actor} at ${entry.at} — ${entry.reason}`);
      });
    });

  program
    .command('validate <file>')
    .description('validate a backlog (syntax, schema, ids, dependencies, types) without starting anything')
    .option('--squad <file>', 'squad config in a separate file')
    .action(async (file: string, o) => {
      const plan = await loadBacklog(file, { squad: o.squad });
      console.log(`${file}: valid — backlog ${plan.backlogId}, ${plan.cards.length} cards to run, ${plan.done.length} already DONE`);
    });

  program
    .command('export <backlog>')
    .description("write the backlog in the seed's backlog_master.json shape, read from Temporal")
    .option('--out <file>', 'write to this file instead of stdout')
    .action(async (backlogId: string, o) => {
      await withClient(async (client) => {
        const json = JSON.stringify(exportBacklog(await readBacklogView(client, backlogId)), null, 2) + '\n';
        if (o.out) {
          await writeFile(o.out, json);
          console.log(`wrote ${o.out}`);
        } else process.stdout.write(json);
      });
    });

  program
    .command('worker')
    .description('run workers (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE) for some or all task queues')
    .option('--queues <kinds>', `comma-separated: ${Object.keys(TASK_QUEUES).join(',')}`)
    .action(async (o) => {
      let queues;
      try {
        queues = parseQueueKinds(o.queues);
      } catch (err) {
        throw new CliError((err as Error).message);
      }
      installRuntime();
      const conn = connectionOptions();
      const connection = await connectWorkerConnection(conn).catch((err: Error) => {
        throw new CliError(`cannot reach Temporal at ${conn.address}: ${err.message}`, EXIT.unavailable);
      });
      const workers = await createWorkers({ connection, namespace: conn.namespace, queues });
      console.log(`squadflow worker on ${conn.address}: ${workers.map((w) => w.options.taskQueue).join(', ')}`);
      try {
        await runWorkers(workers);
      } finally {
        await connection.close();
      }
    });

  registerOpsCommands(program, withClient, (json, value, text) => (json ? console.log(JSON.stringify(value, null, 2)) : console.log(text)));

  return program;
}

/** Runs the CLI with `argv` (node-style) and returns the exit code; never throws. */
export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    const e = err as { code?: string; exitCode?: number; message: string };
    if (e.code?.startsWith('commander.')) {
      return e.code === 'commander.helpDisplayed' || e.code === 'commander.version' ? EXIT.ok : EXIT.badInput;
    }
    if (err instanceof BacklogValidationError) {
      console.error(err.message);
      return EXIT.badInput;
    }
    if (err instanceof CliError) {
      console.error(`squadflow: ${err.message}`);
      return err.exitCode;
    }
    if (err instanceof TemporalCliNotFoundError) {
      console.error(err.message);
      return EXIT.unavailable;
    }
    console.error(`squadflow: ${e.message}`);
    return EXIT.failure;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().then((code) => process.exit(code));
}
