// `appinstall`: the person-facing CLI of com.webos.appInstallService over the bus (install, remove, list, info, search,
// refresh, upgrade, tasks, log, cancel, lock, unlock, feeds). Argument handling and output here; bus calls in bus.ts.
import fs from 'node:fs';
import path from 'node:path';
import type { Payload } from '../ipc/protocol';
import { COMMON_OPTIONS, UsageError, parseCommandLine, printUsageError, tokenize, versionLine } from '../cli-common/args';
import { AppManagerErrorCode, Stage } from '../status-codes';
import { CliText, ExitCode } from '../status-codes/cli';
import { APPINSTALL, APPMANAGER, Bus, CliError } from './bus';
import { BarRenderer, DownloadStage, JsonLinesRenderer, LineRenderer, overallPercent, type Renderer } from './render';

const PROG = 'appinstall';

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;
interface Ctx { json: boolean; tty: boolean; root?: string; bus(): Promise<Bus> }
interface Command {
  args: string;
  summary: string;
  details?: string;
  options?: Record<string, { type: 'string' | 'boolean'; short?: string }>;
  min: number;
  max: number;
  run(ctx: Ctx, values: Values, positionals: string[]): Promise<number>;
}

const GLOBAL_OPTIONS = { json: { type: 'boolean' }, root: { type: 'string' } } as const;

function out(text: string): void { process.stdout.write(text.endsWith('\n') ? text : text + '\n'); }
function printJson(value: unknown): void { out(JSON.stringify(value)); }

/** Columns padded to their widest cell; missing values as "-". */
function table(header: string[], rows: unknown[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === undefined || c === null || c === '' ? '-' : String(c))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ')).join('\n') + '\n';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FINAL_OK = /^(succeeded|success|done|completed|installed|removed)$/i;
const FINAL_BAD = /^(failed|failure|error|cancell?ed|aborted)$/i;

// ---- install / remove / upgrade: a status stream until its final event ----

const INSTALL_FINAL_OK: number[] = [Stage.INSTALLED.statusValue];
const REMOVE_FINAL_OK: number[] = [Stage.REMOVED.statusValue];
const FINAL_FAIL: number[] = [Stage.INSTALL_FAILED.statusValue, Stage.REMOVE_FAILED.statusValue, Stage.INSTALL_CANCELLED.statusValue, DownloadStage.FAILED];

/**
 * Follows one install or remove stream, drawing it; resolves to the exit code (the failure reason is printed). A
 * /catalog/install is one engine operation for its whole chain (dependencies first): one bar for it, its percent
 * spread over the packages (each its equal span), its phase naming the package at work; only the operation's last
 * event (the one with its `handle`) ends the stream, and the exit code and final line come from it.
 */
async function follow(ctx: Ctx, kind: 'install' | 'remove', uri: string, payload: Payload, label: string, renderer: Renderer | null): Promise<number> {
  const bus = await ctx.bus();
  const json = ctx.json ? new JsonLinesRenderer() : null;
  const seen = new Map<string, { downloaded: boolean; percent: number; details: Record<string, unknown> }>();
  let outcome: { ok: boolean; reason: string } | undefined;
  const keyOf = (id: string) => `${kind}:${id}`;
  /** The chain of a catalog install (from the call's return), in order; empty for one package. */
  let chain: string[] = [];
  let chainPercent = 0;
  try {
    await bus.stream(uri, { ...payload, subscribe: true }, (reply) => {
      json?.event(reply);
      if (typeof reply.statusValue !== 'number') {
        if (Array.isArray(reply.packages) && typeof reply.handle === 'string') chain = (reply.packages as Payload[]).map((p) => String(p.name));
        return false; // the call return
      }
      const sv = reply.statusValue;
      const id = typeof reply.id === 'string' ? reply.id : label;
      let s = seen.get(id);
      if (!s) seen.set(id, (s = { downloaded: false, percent: 0, details: {} }));
      const details = Object.assign(s.details, reply.details ?? {});
      if (sv === DownloadStage.START || sv === DownloadStage.PROGRESS || sv === DownloadStage.DONE) s.downloaded = true;
      const p = overallPercent(kind, sv, details.progress as number | undefined, s.downloaded);
      if (p >= 0) s.percent = Math.max(s.percent, p);
      const phase = typeof details.state === 'string' ? details.state : `stage ${sv}`;
      const bytes = sv === DownloadStage.PROGRESS && typeof details.bytes === 'number' ? details.bytes : undefined;
      const total = typeof details.size === 'number' ? details.size : typeof details.total === 'number' ? details.total : undefined;
      const end = chain.length > 1 ? typeof reply.handle === 'string' : true; // a chain ends with its operation's last event only
      if (chain.length > 1) {
        const i = chain.indexOf(id);
        if (i >= 0) chainPercent = Math.max(chainPercent, ((i + s.percent / 100) / chain.length) * 100);
        renderer?.update(keyOf(label), { label, phase: i >= 0 ? CliText.chainPhase(i + 1, chain.length, id, phase) : phase, percent: chainPercent, bytes, total });
      } else renderer?.update(keyOf(id), { label: id, phase, percent: s.percent, bytes, total });
      if (!end) return false;
      if ((kind === 'install' ? INSTALL_FINAL_OK : REMOVE_FINAL_OK).includes(sv)) {
        if (id !== label) { renderer?.end(keyOf(id), true); return false; } // a dependency is in; the target follows
        outcome = { ok: true, reason: '' };
      } else if (FINAL_FAIL.includes(sv)) {
        const reason = [details.reason, details.errorText, details.state].find((x) => typeof x === 'string' && x) as string | undefined;
        outcome = { ok: false, reason: `${reason ?? `status ${sv}`}${typeof details.errorCode === 'number' ? ` (error ${details.errorCode})` : ''}` };
        if (sv === Stage.INSTALL_CANCELLED.statusValue) outcome.reason = chain.length > 1 && reason ? CliText.chainCancelled(label, reason) : CliText.cancelled(id);
      }
      if (outcome) renderer?.end(keyOf(chain.length > 1 ? label : id), outcome.ok);
      return outcome !== undefined;
    });
  } finally {
    if (!outcome) for (const id of chain.length > 1 ? [label] : seen.keys()) renderer?.end(keyOf(id), false);
  }
  if (!outcome!.ok) {
    renderer?.stop();
    throw new CliError(outcome!.reason.startsWith('install of') ? outcome!.reason : (kind === 'install' ? CliText.installFailed : CliText.removeFailed)(label, outcome!.reason));
  }
  return ExitCode.OK;
}

function newRenderer(ctx: Ctx): Renderer | null {
  if (ctx.json) return null;
  return ctx.tty ? new BarRenderer() : new LineRenderer();
}

/** The package id in an ipk's control file (the service refuses an /install whose id differs from it). */
async function packageIdOf(file: string): Promise<string> {
  const { openIpk } = require('../ipk/ipk-reader') as typeof import('../ipk/ipk-reader');
  try {
    return (await openIpk(file)).control.packageName;
  } catch (e) {
    throw new CliError(CliText.unreadablePackage(file, (e as Error).message));
  }
}

/** `com.example.app_1.0.0_all.ipk` → `com.example.app` (opkg's file naming). */
export function idFromFileName(name: string): string {
  return path.basename(name).replace(/\.ipk$/i, '').split('_')[0];
}

/** What `install TARGET` asks for: a path, an http(s) URL, or a package name from the feeds. */
async function installRequest(target: string): Promise<{ uri: string; payload: Payload; label: string }> {
  if (/^https?:\/\//i.test(target)) {
    const id = idFromFileName(new URL(target).pathname);
    return { uri: `${APPINSTALL}/install`, payload: { id, ipkUrl: target }, label: id };
  }
  if (target.includes('/') || /\.ipk$/i.test(target) || fs.existsSync(target)) {
    const file = path.resolve(target);
    const id = await packageIdOf(file);
    return { uri: `${APPINSTALL}/install`, payload: { id, ipkUrl: file }, label: id };
  }
  return { uri: `${APPINSTALL}/catalog/install`, payload: { name: target }, label: target };
}

async function installOne(ctx: Ctx, target: string, renderer: Renderer | null): Promise<string> {
  const r = await installRequest(target);
  await follow(ctx, 'install', r.uri, r.payload, r.label, renderer);
  return r.label;
}

// ---- operations (engine): polling /operations/get ----

interface Op { handle: string; kind?: string; id?: string; state?: string; progress?: number; phase?: string; errorCode?: number; errorText?: string }

/** Why an ended operation did not succeed, in words. */
function opError(handle: string, op: Op): CliError {
  if (op.state === 'cancelled') return new CliError(CliText.operationCancelled(handle));
  return new CliError(CliText.operationFailed(handle, op.state ?? '?', op.errorText ?? `error ${op.errorCode ?? '?'}`));
}

function opEnded(op: Op): boolean {
  return FINAL_OK.test(op.state ?? '') || FINAL_BAD.test(op.state ?? '');
}

/**
 * Polls an operation until it ends, drawing it; throws CliError when it did not succeed. Null when the daemon has no
 * /operations/get (a feeds service without the engine): the operation was started, it cannot be followed.
 */
async function waitForOperation(ctx: Ctx, handle: string, label: string): Promise<Op | null> {
  const bus = await ctx.bus();
  if (!(await bus.callIfOffered(`${APPINSTALL}/operations/get`, { handle, logStart: 0, logEnd: 0 }))) return null;
  const renderer = newRenderer(ctx);
  let op: Op;
  try {
    for (;;) {
      op = (await bus.call(`${APPINSTALL}/operations/get`, { handle, logStart: 0, logEnd: 0 })).operation as Op;
      renderer?.update(handle, { label, phase: op.phase ?? op.state ?? '', percent: typeof op.progress === 'number' ? op.progress : 0 });
      if (opEnded(op)) break;
      await sleep(300);
    }
    renderer?.end(handle, FINAL_OK.test(op.state ?? ''));
  } finally {
    renderer?.stop();
  }
  if (!FINAL_OK.test(op.state ?? '')) throw opError(handle, op);
  return op;
}

// ---- the commands ----

const COMMANDS: Record<string, Command> = {
  install: {
    args: 'FILE.ipk|URL|NAME', min: 1, max: 1,
    summary: 'install a package file, a package at an http(s) URL, or a package from the feeds by name',
    details: 'A path (anything with a "/" or ending in .ipk) is sent to /install as an absolute path; an http(s) URL to /install as\n' +
      'ipkUrl (downloaded by the daemon); anything else is a package name for /catalog/install.',
    async run(ctx, _v, [target]) {
      const renderer = newRenderer(ctx);
      try {
        const id = await installOne(ctx, target, renderer);
        renderer?.stop();
        if (!ctx.json) out(CliText.installed(id));
      } finally {
        renderer?.stop();
      }
      return ExitCode.OK;
    },
  },
  remove: {
    args: 'ID', min: 1, max: 1, summary: 'remove an installed package',
    async run(ctx, _v, [id]) {
      const renderer = newRenderer(ctx);
      try {
        await follow(ctx, 'remove', `${APPINSTALL}/remove`, { id }, id, renderer);
        renderer?.stop();
        if (!ctx.json) out(CliText.removed(id));
      } finally {
        renderer?.stop();
      }
      return ExitCode.OK;
    },
  },
  list: {
    args: '[--available|--upgradable] [--firmware]', min: 0, max: 0,
    summary: 'list installed packages (default), those the feeds offer, or those with an upgrade; --firmware: only firmware',
    options: { available: { type: 'boolean' }, upgradable: { type: 'boolean' }, firmware: { type: 'boolean' } },
    async run(ctx, v) {
      if (v.available && v.upgradable) throw new UsageError('--available and --upgradable exclude each other');
      const bus = await ctx.bus();
      const section = v.firmware ? { section: 'firmware' } : {};
      if (v.available || v.upgradable) {
        const reply = await bus.call(`${APPINSTALL}/catalog/list`, { filter: v.available ? 'available' : 'upgradable', ...section });
        if (ctx.json) printJson(reply);
        else out(catalogTable(reply.packages as Payload[]));
        return ExitCode.OK;
      }
      const reply = await bus.call(`${APPINSTALL}/installed`, section);
      if (ctx.json) printJson(reply);
      else {
        const pk = (reply.packages ?? []) as Payload[];
        out(table(['ID', 'VERSION', 'TYPE', 'SECTION', 'DEVELOPER', 'LOCKED'], pk.map((p) => [p.id, p.version, p.type, p.section, p.developer ? 'yes' : 'no', p.locked ? 'yes' : 'no'])));
      }
      return ExitCode.OK;
    },
  },
  info: {
    args: 'ID|NAME', min: 1, max: 1, summary: 'what is known of a package: installed app (applicationManager), package record and metadata, feed candidate',
    async run(ctx, _v, [name]) {
      const bus = await ctx.bus();
      let appInfo: Payload | undefined;
      try {
        appInfo = (await bus.call(`${APPMANAGER}/getAppInfo`, { id: name })).appInfo as Payload;
      } catch (e) {
        if (!(e instanceof CliError && e.reply?.errorCode === AppManagerErrorCode.APP_NOT_FOUND)) throw e;
      }
      const installed = ((await bus.callIfOffered(`${APPINSTALL}/installed`, {}))?.packages as Payload[] | undefined)?.find((p) => p.id === name);
      let metadata: Payload | undefined;
      if (installed || appInfo) {
        try {
          metadata = ((await bus.callIfOffered(`${APPINSTALL}/metadata/get`, { id: name }))?.metadata ?? undefined) as Payload | undefined;
        } catch (e) {
          if (!(e instanceof CliError && e.exitCode === ExitCode.FAILURE)) throw e; // e.g. an app id that is not a package id
        }
      }
      const catalog = ((await bus.callIfOffered(`${APPINSTALL}/catalog/list`, { filter: 'all', search: name }))?.packages as Payload[] | undefined)?.find((p) => p.name === name);
      if (!appInfo && !installed && !catalog) throw new CliError(CliText.notFound(name));
      if (ctx.json) { printJson({ id: name, appInfo, package: installed, metadata, catalog }); return ExitCode.OK; }
      const lines: string[] = [`${name}`];
      if (appInfo) lines.push(`  title:       ${appInfo.title ?? '-'}`, `  version:     ${appInfo.version ?? '-'}`, `  type:        ${appInfo.type ?? '-'}`);
      if (installed) lines.push(`  installed:   ${installed.version} (${installed.section ?? '-'}${installed.developer ? ', developer' : ''}${installed.locked ? ', locked' : ''})`);
      else if (appInfo) lines.push('  installed:   yes');
      else lines.push('  installed:   no');
      const control = (metadata?.control ?? {}) as Record<string, unknown>;
      const description = Object.entries(control).find(([k]) => k.toLowerCase() === 'description')?.[1];
      if (typeof description === 'string' && description) lines.push(`  description: ${description.split('\n')[0]}`);
      const cand = catalog?.candidate as Payload | undefined;
      if (cand) {
        lines.push(`  candidate:   ${cand.version} from ${cand.feed} (${cand.size ?? '?'} bytes, ${catalog!.status})`);
        if (cand.description && !description) lines.push(`  description: ${cand.description}`);
        if (Array.isArray(cand.depends) && cand.depends.length) lines.push(`  depends:     ${cand.depends.join(', ')}`);
      }
      out(lines.join('\n'));
      return ExitCode.OK;
    },
  },
  search: {
    args: 'TEXT', min: 1, max: 1, summary: 'search the feeds\' packages by name and description',
    async run(ctx, _v, [text]) {
      const reply = await (await ctx.bus()).call(`${APPINSTALL}/catalog/list`, { filter: 'all', search: text });
      if (ctx.json) printJson(reply);
      else out(catalogTable(reply.packages as Payload[]));
      return ExitCode.OK;
    },
  },
  refresh: {
    args: '', min: 0, max: 0, summary: 'download the feeds\' package indexes again',
    async run(ctx) {
      const { handle } = await (await ctx.bus()).call(`${APPINSTALL}/feeds/refresh`, {});
      const op = await waitForOperation(ctx, String(handle), 'feeds');
      if (ctx.json) printJson({ handle, operation: op });
      else out(op ? CliText.feedsRefreshed : CliText.refreshStarted(String(handle)));
      return ExitCode.OK;
    },
  },
  upgrade: {
    args: '[NAME...|--all]', min: 0, max: Infinity, summary: 'install the feeds\' newer version of the named packages, or of every upgradable one',
    options: { all: { type: 'boolean' } },
    async run(ctx, v, names) {
      if (Boolean(v.all) === (names.length > 0)) throw new UsageError(CliText.upgradeNeedsNames);
      if (v.all) {
        const reply = await (await ctx.bus()).call(`${APPINSTALL}/catalog/list`, { filter: 'upgradable' });
        names = ((reply.packages ?? []) as Payload[]).map((p) => String(p.name));
        if (names.length === 0) { if (ctx.json) printJson({ upgraded: [] }); else out(CliText.nothingToUpgrade); return ExitCode.OK; }
      }
      const renderer = newRenderer(ctx);
      const failures: string[] = [];
      const done: string[] = [];
      try {
        for (const name of names) {
          try {
            await follow(ctx, 'install', `${APPINSTALL}/catalog/install`, { name }, name, renderer);
            done.push(name);
          } catch (e) {
            if (!(e instanceof CliError) || e.exitCode !== ExitCode.FAILURE || /^this daemon does not offer/.test(e.message)) throw e;
            failures.push(e.message);
          }
        }
      } finally {
        renderer?.stop();
      }
      if (!ctx.json) for (const n of done) out(CliText.installed(n));
      if (failures.length) throw new CliError(failures.join('\n'));
      return ExitCode.OK;
    },
  },
  tasks: {
    args: '[--state STATE]', min: 0, max: 0, summary: 'the daemon\'s operations (installs, removes, refreshes), running and recent',
    options: { state: { type: 'string' } },
    async run(ctx, v) {
      const reply = await (await ctx.bus()).call(`${APPINSTALL}/operations/list`, v.state ? { state: v.state } : {});
      if (ctx.json) printJson(reply);
      else {
        const ops = (reply.operations ?? []) as Payload[];
        out(table(['HANDLE', 'KIND', 'ID', 'VERSION', 'STATE', 'PROGRESS', 'PHASE', 'ERROR'],
          ops.map((o) => [o.handle, o.kind, o.id, o.version, o.state, typeof o.progress === 'number' ? `${o.progress}%` : '', o.phase, o.errorText])));
      }
      return ExitCode.OK;
    },
  },
  log: {
    args: 'HANDLE [-f]', min: 1, max: 1, summary: 'an operation\'s log; -f follows it until the operation ends (exit code: the operation\'s)',
    options: { follow: { type: 'boolean', short: 'f' } },
    async run(ctx, v, [handle]) {
      const bus = await ctx.bus();
      // logStart/logSize count UTF-16 code units of the log text (the engine's), so does pos. moreData stays true while
      // the operation runs; what is there now is what pos < logSize says.
      let pos = 0;
      for (;;) {
        const reply = await bus.call(`${APPINSTALL}/operations/get`, { handle, logStart: pos });
        const text = typeof reply.log === 'string' ? reply.log : '';
        const op = (reply.operation ?? {}) as Op;
        const ended = opEnded(op) && !reply.moreData;
        if (ctx.json) { if (text || ended || !v.follow || pos === 0) printJson(reply); }
        else if (text) process.stdout.write(text);
        pos += text.length;
        const size = typeof reply.logSize === 'number' ? reply.logSize : pos;
        if (text !== '' && pos < size) continue;
        if (pos > size) pos = size;
        if (!v.follow) return ExitCode.OK;
        if (ended) {
          if (!FINAL_OK.test(op.state ?? '')) throw opError(handle, op);
          return ExitCode.OK;
        }
        await sleep(300);
      }
    },
  },
  cancel: {
    args: 'HANDLE', min: 1, max: 1, summary: 'cancel a queued or running operation',
    async run(ctx, _v, [handle]) {
      const reply = await (await ctx.bus()).call(`${APPINSTALL}/operations/cancel`, { handle });
      if (ctx.json) printJson(reply); else out(`${handle}: ${typeof reply.state === 'string' ? reply.state : 'cancel requested'}`);
      return ExitCode.OK;
    },
  },
  lock: {
    args: 'ID --reason R --owner O', min: 1, max: 1, summary: 'lock a package against install and remove; prints the lock handle',
    options: { reason: { type: 'string' }, owner: { type: 'string' } },
    async run(ctx, v, [id]) {
      if (typeof v.reason !== 'string' || typeof v.owner !== 'string') throw new UsageError(CliText.missingArgument('--reason R and --owner O'));
      const reply = await (await ctx.bus()).call(`${APPINSTALL}/lock`, { id, reason: v.reason, owner: v.owner });
      if (ctx.json) printJson(reply); else out(`${id} locked; handle ${reply.handle}`);
      return ExitCode.OK;
    },
  },
  unlock: {
    args: 'HANDLE|ID', min: 1, max: 1, summary: 'release a lock by its handle, or the lock of a package by its id',
    async run(ctx, _v, [arg]) {
      const bus = await ctx.bus();
      // A lock handle is a number; anything else is a package id, whose lock's handle the daemon tells.
      const handle = /^\d+$/.test(arg) ? arg : String((await bus.call(`${APPINSTALL}/getLockInfo`, { id: arg })).handle);
      const reply = await bus.call(`${APPINSTALL}/unlock`, { handle });
      if (ctx.json) printJson(reply); else out(`lock ${handle}${handle === arg ? '' : ` of ${arg}`} released`);
      return ExitCode.OK;
    },
  },
  feeds: {
    args: '', min: 0, max: 0, summary: 'the configured feeds and the state of their last refresh',
    async run(ctx) {
      const reply = await (await ctx.bus()).call(`${APPINSTALL}/feeds/list`, {});
      if (ctx.json) printJson(reply);
      else out(table(['NAME', 'URL', 'PRIORITY', 'PACKAGES', 'LAST REFRESH', 'ERROR'],
        ((reply.feeds ?? []) as Payload[]).map((f) => [f.name, f.url, f.priority, f.packages, f.lastRefresh, f.error])));
      return ExitCode.OK;
    },
  },
};

function catalogTable(packages: Payload[] = []): string {
  return table(['NAME', 'INSTALLED', 'CANDIDATE', 'STATUS', 'FEED', 'DESCRIPTION'], packages.map((p) => {
    const c = (p.candidate ?? {}) as Payload;
    return [p.name, p.installedVersion, c.version, p.status, c.feed, c.description];
  }));
}

const GLOBAL_HELP = `  --json       machine-readable output: one JSON document (the daemon's reply), or JSON lines for streams
               (install, remove, upgrade: every status event; log: every /operations/get reply); a failure
               ends with {"returnValue":false,"exitCode":N,"errorText":"..."} (the words also go to stderr)
  --root DIR   root prefix used to find the hub socket (as luna-send; default $APPINSTALLD_ROOT, ...)
  -h, --help   this help;  -V, --version  the version`;

function commandHelp(name: string): string {
  const c = COMMANDS[name];
  return `usage: ${PROG} ${name}${c.args ? ' ' + c.args : ''} [--json]\n${c.summary}\n${c.details ? c.details + '\n' : ''}${GLOBAL_HELP}\n`;
}

export function usage(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  return `usage: ${PROG} [--json] [--root DIR] COMMAND [ARGS]
Install and manage apps through com.webos.appInstallService (progress bars on a terminal, plain lines otherwise).
Commands:
${Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(w)}  ${c.args ? c.args + ': ' : ''}${c.summary}`).join('\n')}
  ${'help'.padEnd(w)}  CMD: the help of one command
Options:
${GLOBAL_HELP}
Exit codes: 0 done, 1 the operation failed (reason on stderr), 2 usage error, 3 cannot reach the bus, 4 denied.
`;
}

/** Runs one command line; resolves to the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  // The command is the first positional; options may come before or after it.
  const allOptions = { ...COMMON_OPTIONS, ...GLOBAL_OPTIONS, ...Object.assign({}, ...Object.values(COMMANDS).map((c) => c.options ?? {})) };
  const first = tokenize(argv, allOptions).find((t) => t.kind === 'positional' || t.kind === 'option-terminator');
  const cmdName = first?.kind === 'positional' ? first.value : undefined;
  const rest = first?.kind === 'positional' ? argv.filter((_, i) => i !== first.index) : [...argv];
  if (cmdName === 'help') {
    const { positionals } = parseCommandLine(rest, GLOBAL_OPTIONS, { maxPositionals: 1 });
    if (positionals[0] && !COMMANDS[positionals[0]]) throw new UsageError(CliText.unknownCommand(positionals[0]));
    out(positionals[0] ? commandHelp(positionals[0]) : usage());
    return ExitCode.OK;
  }
  const cmd = cmdName !== undefined ? COMMANDS[cmdName] : undefined;
  if (cmdName !== undefined && !cmd) throw new UsageError(CliText.unknownCommand(cmdName));
  const { values, positionals } = parseCommandLine(rest, { ...GLOBAL_OPTIONS, ...(cmd?.options ?? {}) });
  if (values.version) { process.stdout.write(versionLine(PROG)); return ExitCode.OK; }
  if (values.help) { out(cmd ? commandHelp(cmdName!) : usage()); return ExitCode.OK; }
  if (!cmd) throw new UsageError(CliText.noCommand);
  if (positionals.length < cmd.min) throw new UsageError(CliText.missingArgument(cmd.args.split(' ')[positionals.length] ?? 'an argument'));
  if (positionals.length > cmd.max) throw new UsageError(CliText.unexpectedArgument(positionals[cmd.max]));
  const empty = positionals.findIndex((p) => p.trim() === '');
  if (empty >= 0) throw new UsageError(CliText.emptyArgument(cmd.args.split(' ')[empty] ?? 'an argument'));
  let bus: Promise<Bus> | undefined;
  const ctx: Ctx = {
    json: values.json === true,
    tty: process.stdout.isTTY === true,
    root: values.root as string | undefined,
    bus: () => (bus ??= Bus.open(values.root as string | undefined)),
  };
  try {
    return await cmd.run(ctx, values as Values, positionals);
  } catch (e) {
    // --json: a failure is a JSON document too (last on stdout), besides the words on stderr.
    if (ctx.json && e instanceof CliError) printJson({ returnValue: false, exitCode: e.exitCode, errorText: e.message, ...(e.reply ? { reply: e.reply } : {}) });
    throw e;
  } finally {
    if (bus) await (await bus.catch(() => null))?.close();
  }
}

if (require.main === module) {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(ExitCode.OK);
    throw e;
  });
  // Ctrl-C during a bar: give the cursor back (cli-progress hides it) and say what happens to the operation.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      if (process.stdout.isTTY) process.stdout.write('\x1b[?25h\n');
      process.stderr.write(`${PROG}: ${CliText.interrupted}\n`);
      process.exit(ExitCode.INTERRUPTED);
    });
  }
  main(process.argv.slice(2)).then(
    (code) => process.stdout.write('', () => process.exit(code)),
    (e: unknown) => {
      if (e instanceof UsageError) { printUsageError(PROG, e); process.exit(e.exitCode); }
      if (e instanceof CliError) { process.stderr.write(`${PROG}: ${e.message}\n`); process.exit(e.exitCode); }
      process.stderr.write(`${PROG}: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exit(ExitCode.FAILURE);
    },
  );
}
