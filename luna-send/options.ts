// luna-send's command line (getopt-style, docs/luna-send.md) through the shared cli-common/args.ts: argv → options, or a clear error. Pure.
// What the options do is cli.ts's business; how replies look is output.ts's.
import { tokenize } from '../cli-common/args';
import { parseQueryPath } from './output';

export interface LunaSendOptions {
  /** -n N: exit after N replies (cancelling the call). */
  count?: number;
  /** -i: print replies until stdin closes or SIGINT/SIGTERM. */
  interactive: boolean;
  /** -f: pretty-print with a 4-space indent. */
  pretty: boolean;
  /** -l: prefix each reply with its index (`%2d: `). */
  lineNumbers: boolean;
  /** -q PATH (repeatable): print only {"PATH": value, ...}. */
  queries: string[];
  /** -w MS: quit after MS milliseconds. */
  waitMs?: number;
  /** -t N: call N times sequentially and print the timing. */
  timing?: number;
  /** -s: send a signal instead of a call. */
  signal: boolean;
  /** -a APPID: call as this app. */
  appId?: string;
  /** -m NAME: register under NAME. */
  name?: string;
  /** -d: debug log on stderr. */
  debug: boolean;
  /** -h / --help. */
  help: boolean;
  /** -V / --version. */
  version: boolean;
  /** -P was given (deprecated, ignored). */
  deprecatedPublic: boolean;
  /** --root DIR: root prefix used to find the hub socket. */
  root?: string;
  uri?: string;
  payload?: string;
}

export type ParsedArgs = { ok: true; options: LunaSendOptions } | { ok: false; error: string };

const FLAGS = new Set(['h', 'd', 'i', 's', 'l', 'f', 'P', 'V']);
const WITH_ARG = new Set(['n', 't', 'm', 'a', 'q', 'w']);
/** For util.parseArgs (through cli-common/args.ts): the one-letter options by their letter, and the three long ones. */
const OPTIONS = Object.fromEntries([
  ...[...FLAGS].map((f) => [f, { type: 'boolean' as const }]),
  ...[...WITH_ARG].map((f) => [f, { type: 'string' as const }]),
  ['help', { type: 'boolean' as const }], ['version', { type: 'boolean' as const }], ['root', { type: 'string' as const }],
]);

function integer(opt: string, text: string, min: number): number | string {
  if (!/^\d+$/.test(text)) return `option -${opt} needs a whole number, got "${text}"`;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < min) return `option -${opt} needs a number of at least ${min}, got "${text}"`;
  return n;
}

/**
 * Parse argv (without node and script). Options may come before or after URI and JSON, as with GNU getopt; "--" ends
 * them; clusters (-if) and attached values (-n1) as getopt. Tokens from util.parseArgs; messages are luna-send's own.
 */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const o: LunaSendOptions = {
    interactive: false, pretty: false, lineNumbers: false, queries: [], signal: false, debug: false, help: false, version: false, deprecatedPublic: false,
  };
  const positional: string[] = [];
  const apply = (opt: string, value: string | undefined): string | null => {
    switch (opt) {
      case 'h': o.help = true; return null;
      case 'V': o.version = true; return null;
      case 'd': o.debug = true; return null;
      case 'i': o.interactive = true; return null;
      case 's': o.signal = true; return null;
      case 'l': o.lineNumbers = true; return null;
      case 'f': o.pretty = true; return null;
      case 'P': o.deprecatedPublic = true; return null;
      case 'n': { const n = integer(opt, value!, 1); if (typeof n === 'string') return n; o.count = n; return null; }
      case 't': { const n = integer(opt, value!, 1); if (typeof n === 'string') return n; o.timing = n; return null; }
      case 'w': { const n = integer(opt, value!, 0); if (typeof n === 'string') return n; o.waitMs = n; return null; }
      case 'm': if (value === '') return 'option -m needs a service name'; o.name = value; return null;
      case 'a': if (value === '') return 'option -a needs an app id'; o.appId = value; return null;
      case 'q': {
        const why = parseQueryPath(value!).error;
        if (why) return `option -q: ${why}`;
        o.queries.push(value!);
        return null;
      }
    }
    return `unknown option -${opt}`;
  };
  for (const t of tokenize(argv, OPTIONS)) {
    if (t.kind === 'positional') { positional.push(t.value); continue; }
    if (t.kind === 'option-terminator') continue;
    const raw = t.rawName;
    if (raw === '--help' || raw === '--version') {
      if (t.value !== undefined) return { ok: false, error: `unknown option ${raw}=${t.value}` };
      if (raw === '--help') o.help = true; else o.version = true;
      continue;
    }
    if (raw === '--root') {
      if (!t.value) return { ok: false, error: 'option --root needs a directory' };
      o.root = t.value;
      continue;
    }
    const opt = raw.slice(1);
    if (raw.startsWith('--')) return { ok: false, error: `unknown option ${raw}${t.inlineValue ? `=${t.value}` : ''}` };
    if (!(FLAGS.has(opt) || WITH_ARG.has(opt))) return { ok: false, error: `unknown option ${raw}` };
    if (WITH_ARG.has(opt) && t.value === undefined) return { ok: false, error: `option -${opt} needs a value` };
    const err = apply(opt, t.value);
    if (err) return { ok: false, error: err };
  }
  if (positional.length > 2) return { ok: false, error: `too many arguments: ${positional.slice(2).map((a) => JSON.stringify(a)).join(' ')} (quote the JSON payload)` };
  [o.uri, o.payload] = positional;
  return { ok: true, options: o };
}

export function usage(prog: string, defaultNamePrefix: string): string {
  return `Usage: ${prog} [options] URI JSON
Call a bus method (URI luna://<service>/<category>/<method>, palm:// accepted) with a JSON object payload
and print each reply on its own line.
  -h         this help (also --help);  -V  the version (also --version)
  -i         interactive: print replies until stdin closes (after the first reply) or SIGINT/SIGTERM
  -n N       exit after N replies, cancelling the call
  -f         pretty-print replies with a 4-space indent
  -l         prefix each reply with its index
  -q PATH    print only {"PATH": value} (repeatable; paths like a.b[2].c)
  -w MS      quit after MS milliseconds
  -t N       call N times, one after another, then print the timing
  -s         send a signal (URI names its category and method) instead of calling
  -a APPID   call as the app APPID (privileged callers only)
  -m NAME    register on the bus as NAME (default ${defaultNamePrefix}-<pid>)
  -d         debug log of bus frames on stderr
  -P         deprecated (public bus); ignored
  --root DIR root prefix (default $APPINSTALLD_ROOT, else $XDG_STATE_HOME/appinstalld, else ~/.local/state/appinstalld)
The hub socket is $LUNA_HUB_SOCKET, else <root>/var/run/luna-service2/com.palm.hub.
`;
}
