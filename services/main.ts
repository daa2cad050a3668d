// `npm start`: the hub and the three install services in one foreground process, logs on stderr.
// `node dist/services/main.js [--root DIR]`; SIGTERM/SIGINT stop it cleanly (running tasks finish first); SIGHUP reloads the bus policy.
import { resolveRoot, layout as layoutOf } from '../ipc/paths';
import { startHub } from '../ipc/ls-hubd';
import { startServices } from './daemon';
import { CodedError } from '../status-codes';
import { recover } from './appinstall/recovery';

const USAGE = `usage: appinstalld-main [--root DIR]
  Runs the bus hub, com.webos.appInstallService, com.webos.service.devmode and com.webos.applicationManager.
  --root DIR  root prefix (default: APPINSTALLD_ROOT, else $XDG_STATE_HOME/appinstalld, else ~/.local/state/appinstalld)
  Environment: LUNA_HUB_SOCKET (hub socket path), APPINSTALLD_FAULT (tests: crash at a step boundary),
  APPINSTALLD_UNSAFE_NO_SYNC=1 (benchmarks only: no fsyncs, NOT crash-safe).
  Signals: SIGTERM/SIGINT stop, SIGHUP reloads the bus security files.`;

export function parseArgs(argv: string[]): { root?: string; help?: boolean } {
  const out: { root?: string; help?: boolean } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--root') {
      const v = argv[++i];
      if (!v) throw new Error('--root needs a directory');
      out.root = v;
    } else if (a.startsWith('--root=')) out.root = a.slice(7);
    else if (a === '-h' || a === '--help') out.help = true;
    else throw new Error(`unknown argument "${a}"`);
  }
  return out;
}

function log(line: string): void {
  process.stderr.write(`appinstalld: ${line}\n`);
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (args.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const root = resolveRoot(args.root);
  // Signals are handled from the first moment: one arriving during start-up stops right after it.
  let stopRequested: string | null = null;
  let stop: (sig: string) => Promise<void> = async (sig) => {
    stopRequested = sig;
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  let reload = () => log('SIGHUP before the hub started: nothing to reload');
  process.on('SIGHUP', () => reload());
  // Crash recovery runs before the hub starts as well, so the hub's first scan of the bus trees already sees them
  // matching the apps on disk (a bus file left by a crash is never loaded). The services' own recovery then finds nothing.
  for (const line of await recover(layoutOf(root), null)) log(`recovery: ${line}`);
  const hub = await startHub({ root, log: (l) => process.stderr.write(`ls-hubd: ${l}\n`) });
  reload = () => hub.reload();
  let services;
  try {
    services = await startServices({ root, log, onHubGone: () => process.exit(1) });
  } catch (e) {
    await hub.stop();
    throw e;
  }
  let stopping = false;
  stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: stopping`);
    await services.stop();
    await hub.stop();
    process.exit(0);
  };
  if (stopRequested) await stop(stopRequested);
}

if (require.main === module) {
  main().catch((e) => {
    log(`cannot start: ${e instanceof CodedError ? e.message : (e as Error).stack ?? e}`);
    process.exit(1);
  });
}
