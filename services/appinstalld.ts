// `appinstalld [--root DIR]`: the three install services as a standalone daemon on an already running hub
// (ls-hubd). Exits when the hub goes away; SIGTERM/SIGINT stop it cleanly.
import { resolveRoot } from '../ipc/paths';
import { startServices } from './daemon';
import { parseArgs } from './main';
import { CodedError } from '../status-codes';

function log(line: string): void {
  process.stderr.write(`appinstalld: ${line}\n`);
}

async function main(): Promise<void> {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\nusage: appinstalld [--root DIR]\n`);
    process.exit(2);
  }
  if (args.help) {
    process.stdout.write('usage: appinstalld [--root DIR]  (connects to the hub at LUNA_HUB_SOCKET or <root>/var/run/luna-service2/com.palm.hub)\n');
    return;
  }
  let stopRequested: string | null = null;
  let stop: (sig: string) => Promise<void> = async (sig) => {
    stopRequested = sig;
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  const services = await startServices({ root: resolveRoot(args.root), log, onHubGone: () => process.exit(1) });
  let stopping = false;
  stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: stopping`);
    await services.stop();
    process.exit(0);
  };
  if (stopRequested) await stop(stopRequested);
}

main().catch((e) => {
  log(`cannot start: ${e instanceof CodedError ? e.message : (e as Error).stack ?? e}`);
  process.exit(1);
});
