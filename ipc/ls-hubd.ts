// Entry point of the standalone hub (`ls-hubd [--root DIR] [--socket PATH] [--max-... N]`) and startHub() for
// the combined `npm start` process. Only wiring: paths from paths.ts, the policy from acg/, routing in hub.ts.
import { createPolicy } from '../acg';
import { UsageError, parseCommandLine, versionLine } from '../cli-common/args';
import { createLogger } from '../cli-common/log';
import { CodedError } from '../status-codes';
import { Hub } from './hub';
import { layout, resolveHubSocket, resolveRoot } from '../layout/paths';
import { peerCredentialsUnavailable } from './peer-credentials';
import type { HubLimits } from './protocol';

export interface StartHubOptions {
  root: string;
  socketPath?: string;
  log?: (line: string) => void;
  limits?: Partial<HubLimits>;
  verbose?: boolean;
}

/** The hub's log: `<ISO time> <level> ls-hubd: <text>` on stderr (cli-common/log.ts). */
const stderrLog = createLogger('ls-hubd');

/** Build the policy for `root` (installing the default security files if absent) and start a hub on its socket. */
export async function startHub(opts: StartHubOptions): Promise<Hub> {
  const root = resolveRoot(opts.root);
  const log = opts.log ?? stderrLog;
  const socketPath = opts.socketPath ?? resolveHubSocket(root);
  const noCredentials = peerCredentialsUnavailable();
  if (noCredentials) log(`WARNING: cannot read peer credentials (${noCredentials}): every peer is treated as nobody (least privilege)`);
  const policy = createPolicy(layout(root), log);
  const hub = new Hub({ socketPath, policy, limits: opts.limits, log, verbose: opts.verbose });
  await hub.start();
  return hub;
}

const USAGE = `usage: ls-hubd [--root DIR] [--socket PATH] [--verbose]
               [--max-frame-bytes N] [--max-connections N] [--max-outstanding-calls N] [--max-queued-bytes N]
               [--max-drain-wait-ms N] [--reserved-connections N] [--max-connections-per-uid N] [--hello-timeout-ms N]
               [--max-outstanding-calls-per-uid N] [--max-subscriptions-per-uid N] [--max-queued-bytes-per-uid N]
               [--max-hub-queued-bytes N] [--max-method-table-bytes-per-uid N]
  Limits are per connection unless named per uid; per-uid quotas and the reserved connections do not apply to root.
  --root DIR    root prefix (default: APPINSTALLD_ROOT, else $XDG_STATE_HOME/appinstalld, else ~/.local/state/appinstalld)
  --socket PATH hub socket (default: LUNA_HUB_SOCKET, else <root>/var/run/luna-service2/com.palm.hub)
  -h, --help    this help; -V, --version the version. Exit codes: 0 stopped cleanly, 1 failure, 2 usage error.
  SIGHUP reloads the security files; SIGTERM/SIGINT stop the hub and remove its socket; SIGUSR2 logs counts and memory.`;

const LIMIT_FLAGS: Record<string, keyof HubLimits> = {
  'max-frame-bytes': 'maxFrameBytes',
  'max-connections': 'maxConnections',
  'max-outstanding-calls': 'maxOutstandingCallsPerConnection',
  'max-queued-bytes': 'maxQueuedBytesPerConnection',
  'max-drain-wait-ms': 'maxDrainWaitMs',
  'reserved-connections': 'reservedConnections',
  'max-connections-per-uid': 'maxConnectionsPerUid',
  'hello-timeout-ms': 'helloTimeoutMs',
  'max-outstanding-calls-per-uid': 'maxOutstandingCallsPerUid',
  'max-subscriptions-per-uid': 'maxSubscriptionsPerUid',
  'max-queued-bytes-per-uid': 'maxQueuedBytesPerUid',
  'max-hub-queued-bytes': 'maxQueuedBytes',
  'max-method-table-bytes-per-uid': 'maxMethodTableBytesPerUid',
};
const OPTIONS = {
  root: { type: 'string' }, socket: { type: 'string' }, verbose: { type: 'boolean' },
  ...Object.fromEntries(Object.keys(LIMIT_FLAGS).map((k) => [k, { type: 'string' as const }])),
} as const;

/** Parse the command line (pure; cli-common/args.ts). Throws UsageError. */
export function parseHubArgs(argv: string[]): StartHubOptions & { help?: boolean; version?: boolean } {
  const { values } = parseCommandLine(argv, OPTIONS, { maxPositionals: 0 });
  const v = values as Record<string, string | boolean | undefined>;
  const out: StartHubOptions & { help?: boolean; version?: boolean } = { root: '' };
  for (const k of ['root', 'socket'] as const) if (v[k] === '') throw new UsageError(`--${k} needs a value`);
  if (typeof v.socket === 'string') out.socketPath = v.socket;
  if (v.verbose) out.verbose = true;
  if (v.help) out.help = true;
  if (v.version) out.version = true;
  const limits: Partial<HubLimits> = {};
  for (const [flag, key] of Object.entries(LIMIT_FLAGS)) {
    const text = v[flag];
    if (typeof text !== 'string') continue;
    const n = Number(text);
    if (flag === 'reserved-connections') {
      if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${flag} needs a non-negative integer, got "${text}"`);
    } else if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${flag} needs a positive integer, got "${text}"`);
    limits[key] = n;
  }
  out.root = resolveRoot(v.root as string | undefined);
  if (Object.keys(limits).length > 0) out.limits = limits;
  return out;
}

async function main(): Promise<void> {
  let opts;
  try {
    opts = parseHubArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`ls-hubd: ${e.message}\n${USAGE}\n`);
    process.exit(e.exitCode);
  }
  if (opts.help) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  if (opts.version) {
    process.stdout.write(versionLine('ls-hubd'));
    return;
  }
  // SIGHUP's default action kills the process: take it over before the hub starts, so a reload
  // asked for while the policy loads is not fatal (it is moot then: the policy is being read anew).
  let started: Hub | null = null;
  process.on('SIGHUP', () => started?.reload());
  // Diagnostics: SIGUSR2 logs the hub's counts and memory (after a full GC when node runs with --expose-gc); taken over
  // before the hub starts too, since its default action would kill the hub.
  process.on('SIGUSR2', () => {
    const hub = started;
    if (hub === null) return;
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc) gc();
    const s = hub.stats();
    const m = process.memoryUsage();
    stderrLog(`stats: connections ${s.connections} services ${s.services} openCalls ${s.openCalls} hubServiceCalls ${s.hubServiceCalls}` +
      ` queuedBytes ${s.queuedBytes} uids ${s.uids}` +
      ` rss ${m.rss} heapUsed ${m.heapUsed} heapTotal ${m.heapTotal} external ${m.external}${gc ? ' (after gc)' : ''}`);
  });
  let hub: Hub;
  try {
    hub = started = await startHub(opts);
  } catch (e) {
    const text = e instanceof CodedError ? e.text : (e as Error).message;
    stderrLog.error(`cannot start: ${text}`);
    process.exit(1);
  }
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    stderrLog(`${sig}: stopping`);
    hub.stop().then(
      () => process.exit(0),
      (e) => {
        stderrLog(`stop failed: ${(e as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

if (require.main === module) {
  main().catch((e) => {
    stderrLog.error(String((e as Error).stack ?? e));
    process.exit(1);
  });
}
