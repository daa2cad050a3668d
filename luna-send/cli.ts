// The one implementation of luna-send and luna-send-pub (docs/luna-send.md): check the command line, connect, call (or
// signal, or time calls) and print replies. Option syntax is options.ts's, reply text is output.ts's.
import fs from 'node:fs';
import type { LunaClient } from '../ipc/client';
import { resolveClientHubSocket } from '../layout/paths';
import type { Payload } from '../ipc/protocol';
import { parsePayload, parseUri } from '../ipc/uri';
import { CodedError, LunaSendText } from '../status-codes';
import { versionLine } from '../cli-common/args';
import { parseArgs, usage, type LunaSendOptions } from './options';
import { formatReply, formatTiming } from './output';

/** What differs between luna-send and luna-send-pub: the program name and the default service name. */
export interface Variant { prog: string; namePrefix: string }
export const LUNA_SEND: Variant = { prog: 'luna-send', namePrefix: 'com.webos.lunasend' };
export const LUNA_SEND_PUB: Variant = { prog: 'luna-send-pub', namePrefix: 'com.webos.lunasendpub' };


function out(text: string): void { process.stdout.write(text + '\n'); }
function errLine(text: string): void { process.stderr.write(text + '\n'); }

function textOf(e: unknown): string {
  if (e instanceof CodedError) return e.text;
  return e instanceof Error ? e.message : String(e);
}

/** Is stdin something that can be closed by the other side (pipe, socket, terminal)? A file or /dev/null never "closes". */
function stdinCanClose(): boolean {
  try {
    const st = fs.fstatSync(0);
    return st.isFIFO() || st.isSocket() || st.isCharacterDevice() && process.stdin.isTTY === true;
  } catch {
    return false;
  }
}

/** Run one invocation; resolves to the exit code. Never calls process.exit itself. */
export async function main(variant: Variant, argv: readonly string[]): Promise<number> {
  const { prog } = variant;
  const parsed = parseArgs(argv);
  if (!parsed.ok) {
    errLine(`${prog}: ${parsed.error}`);
    errLine(`Try '${prog} -h' for help.`);
    return 1;
  }
  const o = parsed.options;
  if (o.help) {
    process.stdout.write(usage(prog, variant.namePrefix));
    return 0;
  }
  if (o.version) {
    process.stdout.write(versionLine(prog));
    return 0;
  }
  if (o.deprecatedPublic) errLine(`${prog}: warning: -P is deprecated and ignored (there is one bus)`);
  if (o.uri === undefined || o.payload === undefined) {
    errLine(`${prog}: ${o.uri === undefined ? 'missing URI and JSON payload' : 'missing JSON payload'}`);
    errLine(`Usage: ${prog} [options] URI JSON   (try '${prog} -h')`);
    return 1;
  }
  let payload: Payload;
  try {
    parseUri(o.uri);
    payload = parsePayload(o.payload);
  } catch (e) {
    errLine(`${prog}: ${textOf(e)}`);
    return 1;
  }
  if (!o.interactive && o.count === undefined && !o.signal && o.timing === undefined) {
    errLine(LunaSendText.MISSING_MODE_WARNING);
    return 1;
  }

  let socketPath: string;
  try {
    socketPath = resolveClientHubSocket(o.root);
  } catch (e) {
    errLine(`${prog}: ${textOf(e)}`);
    return 1;
  }
  const log = o.debug ? (line: string) => errLine(`${prog}: ${line}`) : undefined;
  const name = o.name ?? `${variant.namePrefix}-${process.pid}`;
  // The client (and rxjs) load only now: -h and bad input stay fast.
  const { LunaClient: Client } = require('../ipc/client') as typeof import('../ipc/client');
  let client: LunaClient;
  try {
    client = await Client.connect({ socketPath, name, log });
  } catch (e) {
    const text = textOf(e);
    errLine(`${prog}: cannot register as "${name}" on the bus: ${text.includes(socketPath) ? text : `${text} (hub socket ${socketPath})`}`);
    return 1;
  }
  log?.(`registered as ${client.name} (${client.uniqueId})`);
  try {
    if (o.signal) {
      client.sendSignal(o.uri, payload);
      return 0;
    }
    if (o.timing !== undefined) return await runTiming(client, o, o.uri, payload, prog);
    return await runCall(client, o, o.uri, payload, prog, log);
  } finally {
    await client.close();
  }
}

/** -t N: N sequential calls, each ended at its first reply; then the summary. */
async function runTiming(client: LunaClient, o: LunaSendOptions, uri: string, payload: Payload, prog: string): Promise<number> {
  const n = o.timing!;
  const sentPerCall = Buffer.byteLength(uri) + Buffer.byteLength(o.payload!);
  let totalNs = 0n;
  let received = 0;
  for (let k = 0; k < n; k++) {
    const t0 = process.hrtime.bigint();
    let reply: Payload;
    try {
      reply = await client.callOne(uri, payload, o.appId !== undefined ? { appId: o.appId } : {});
    } catch (e) {
      errLine(`${prog}: ${textOf(e)}`);
      return 1;
    }
    totalNs += process.hrtime.bigint() - t0;
    const text = JSON.stringify(reply);
    received += Buffer.byteLength(text);
    if (o.debug) errLine(`${prog}: reply ${k}: ${text}`);
  }
  out(formatTiming(Number(totalNs) / 1e6, n, sentPerCall * n, received));
  return 0;
}

/** A call whose replies are printed until: N replies (-n), the call ends, stdin closes (-i), a signal, or -w expires. */
function runCall(client: LunaClient, o: LunaSendOptions, uri: string, payload: Payload, prog: string, log?: (line: string) => void): Promise<number> {
  return new Promise<number>((resolve) => {
    const fmt = { pretty: o.pretty, lineNumbers: o.lineNumbers, queries: o.queries };
    const cleanups: (() => void)[] = [];
    let finished = false;
    let stdinClosed = false;
    let index = 0;
    let subscription: { unsubscribe(): void } | undefined;
    const finish = (code: number, why: string) => {
      if (finished) return;
      finished = true;
      log?.(`done: ${why}`);
      subscription?.unsubscribe(); // sends the cancel when the call is still open
      for (const fn of cleanups) fn();
      resolve(code);
    };
    subscription = client.call(uri, payload, o.appId !== undefined ? { appId: o.appId } : {}).subscribe({
      next: (reply) => {
        if (finished) return;
        out(formatReply(reply, index++, fmt));
        if (o.count !== undefined && index >= o.count) finish(0, `${index} replies (-n)`);
        else if (stdinClosed) finish(0, 'stdin closed (before the first reply)');
      },
      complete: () => finish(0, 'the call ended (last reply)'),
      error: (e) => {
        errLine(`${prog}: ${textOf(e)}`);
        finish(1, 'error');
      },
    });
    if (finished) {
      // Ended synchronously (e.g. the connection was already gone): nothing else to wait for.
      subscription.unsubscribe();
      return;
    }

    const onSignal = (sig: NodeJS.Signals) => finish(0, sig);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    cleanups.push(() => {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    });
    if (o.waitMs !== undefined) {
      const timer = setTimeout(() => finish(0, `${o.waitMs} ms passed (-w)`), o.waitMs);
      cleanups.push(() => clearTimeout(timer));
    }
    // -i ends when stdin closes. A stdin closed from the start (execFileSync without input, `echo | luna-send -i`)
    // still lets the call return be printed: the end then takes effect after the first reply.
    if (o.interactive && stdinCanClose()) {
      const onEnd = () => {
        if (index > 0) finish(0, 'stdin closed');
        else stdinClosed = true;
      };
      const onError = (e: Error) => (index > 0 ? finish(0, `stdin: ${e.message}`) : (stdinClosed = true));
      process.stdin.on('end', onEnd);
      process.stdin.on('close', onEnd);
      process.stdin.on('error', onError);
      process.stdin.on('data', () => { /* input is not used; only its end matters */ });
      cleanups.push(() => {
        process.stdin.removeListener('end', onEnd);
        process.stdin.removeListener('close', onEnd);
        process.stdin.pause();
      });
    }
  });
}

/** Entry point of the bin scripts: run, flush stdout, exit with the code. */
export function run(variant: Variant): void {
  // A reader that goes away (luna-send ... | head -1) is not an error of ours.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  main(variant, process.argv.slice(2)).then(
    (code) => process.stdout.write('', () => process.exit(code)),
    (e) => {
      errLine(`${variant.prog}: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
      process.exit(1);
    },
  );
}
