// What the two daemon entry points (services/main.ts, services/appinstalld.ts) share as command-line programs:
// `--root DIR` / `-h` / `-V` (cli-common/args.ts), logs on stderr (cli-common/log.ts), signals handled from the first moment, a clean stop. Not what they start.
import { resolveRoot } from '../layout/paths';
import { UsageError, parseCommandLine, versionLine } from '../cli-common/args';
import { createLogger, escapeLogText, type Logger } from '../cli-common/log';
import { CodedError } from '../status-codes';
import { ExitCode } from '../status-codes/cli';
import { takeInstanceLock } from './instance-lock';

/** `--root DIR`, -h/--help, -V/--version (cli-common/args.ts). Throws UsageError. */
export function parseArgs(argv: string[]): { root?: string; help?: boolean; version?: boolean } {
  const { values } = parseCommandLine(argv, { root: { type: 'string' } }, { maxPositionals: 0 });
  if (values.root === '') throw new UsageError('--root needs a directory');
  return { root: values.root, help: values.help, version: values.version };
}

/** The escaping of every daemon log line (cli-common/log.ts); exported here too for existing callers. */
export { escapeLogText };

/** The install daemon's log: `<ISO time> <level> appinstalld: <text>` on stderr (cli-common/log.ts). */
export const log: Logger = createLogger('appinstalld');

/**
 * Pure: why a start failed, in one line. A product error says itself; a file-system error names the path that is not
 * what the daemon expects (a state file or directory replaced by something else, unreadable, ...) instead of a stack.
 */
export function startFailure(e: unknown): string {
  if (e instanceof CodedError) return e.message;
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string' && typeof err.path === 'string') {
    return `state path ${err.path} is not what the daemon expects (${err.code}${err.syscall ? ` on ${err.syscall}` : ''}: ${err.message.replace(/^[A-Z]+: /, '')}); fix it or move it aside, then start again`;
  }
  return err instanceof Error ? err.stack ?? err.message : String(e);
}

/** Something started that can be stopped, and optionally reloaded (SIGHUP). */
export interface Running {
  stop(): Promise<void>;
  reload?(): void;
}

/**
 * Runs a daemon in the foreground: parses the arguments, starts it under the resolved root, and stops it on
 * SIGTERM/SIGINT (a signal during start-up stops it right after). One daemon per root: the single-instance lock
 * (instance-lock.ts) is taken first (unless `instanceLock: false`: a front-end such as the standalone gateway, which
 * keeps no state of the daemon's); a second start logs that a daemon runs and exits 1 having changed nothing. SIGHUP calls `reload` (before then: logged).
 */
export function runDaemon(usage: string, start: (root: string) => Promise<Running>, opts: { instanceLock?: boolean; prog?: string } = {}): void {
  const prog = opts.prog ?? 'appinstalld';
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${prog}: ${(e as Error).message}\n${usage}\n`);
    process.exit(ExitCode.USAGE);
  }
  if (args.help) {
    process.stdout.write(usage + '\n');
    return;
  }
  if (args.version) {
    process.stdout.write(versionLine(prog));
    return;
  }
  let running: Running | null = null;
  let stopRequested: string | null = null;
  let stopping = false;
  const stop = async (sig: string) => {
    if (!running) {
      stopRequested = sig;
      return;
    }
    if (stopping) return;
    stopping = true;
    log(`${sig}: stopping`);
    await running.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGHUP', () => (running?.reload ? running.reload() : log('SIGHUP: nothing to reload yet')));
  const root = resolveRoot(args.root);
  if (opts.instanceLock !== false) try {
    takeInstanceLock(root); // before anything reads or changes state under the root: recovery, hub socket, tasks
  } catch (e) {
    log.error(`cannot start: ${e instanceof CodedError ? e.message : (e as Error).stack ?? e}`);
    process.exit(1);
  }
  start(root).then(
    async (r) => {
      running = r;
      if (stopRequested) await stop(stopRequested);
    },
    (e) => {
      log.error(`cannot start: ${startFailure(e)}`);
      process.exit(1);
    },
  );
}
