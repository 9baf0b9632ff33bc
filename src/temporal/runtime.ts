/**
 * The Temporal core runtime as squadflow's processes install it: SDK logs at WARN (the INFO stream of
 * worker state changes drowns the progress a user watches), minus the expected warnings that a
 * workflow-only or activity-only worker has nothing of the other kind to poll — by design, one worker per
 * task queue kind. Node-only; call once, before the first connection or worker.
 */
import { DefaultLogger, Runtime, type LogEntry, type LogLevel } from '@temporalio/worker';

const EXPECTED = /^No (activities|workflows) registered, not polling/;

/** Installs the runtime with a quiet logger; `level` defaults to `SQUADFLOW_LOG_LEVEL` or WARN. */
export function installRuntime(level: LogLevel = (process.env.SQUADFLOW_LOG_LEVEL as LogLevel | undefined) ?? 'WARN'): void {
  const print = new DefaultLogger(level);
  const logger = new DefaultLogger(level, (entry: LogEntry) => {
    if (EXPECTED.test(entry.message)) return;
    print.log(entry.level, entry.message, entry.meta);
  });
  Runtime.install({ logger });
}
