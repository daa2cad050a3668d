// Test harness for the install service: the real daemon (`node dist/services/main.js --root <tmp>`) in a fresh
// world-traversable temp root, luna-send / luna-send-pub runs read line by line until a final event, app folders
// packed with the project's own packer, and ares-cli's rule for reading the output (docs/luna-send.md).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { packApp } from '../../ipk/pack';
import { killAllChildren, track } from './child-processes';
import { scriptFor } from './unprivileged';

export const REPO = path.resolve(__dirname, '../..');
export const MAIN = path.join(REPO, 'dist/services/main.js');
export const LUNA_SEND = path.join(REPO, 'dist/luna-send/luna-send.js');
export const LUNA_SEND_PUB = path.join(REPO, 'dist/luna-send/luna-send-pub.js');

export { killAllChildren };

export type Json = Record<string, any>;

export interface Daemon {
  root: string;
  proc: ChildProcess;
  stderr(): string;
  /** Resolves with the exit of the process (code or signal). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM and wait. */
  stop(): Promise<void>;
}

export function makeRoot(): string {
  const root = fs.mkdtempSync('/tmp/ai-');
  fs.chmodSync(root, 0o755);
  return root;
}

/** Starts the daemon on `root` (fresh if absent) and waits until its methods are open. */
export async function startDaemon(opts: { root?: string; env?: NodeJS.ProcessEnv; config?: Json } = {}): Promise<Daemon> {
  const root = opts.root ?? makeRoot();
  if (opts.config) {
    fs.mkdirSync(path.join(root, 'etc/palm'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/palm/appinstalld.json'), JSON.stringify(opts.config));
  }
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  delete env.APPINSTALLD_ROOT;
  delete env.LUNA_HUB_SOCKET;
  if (!opts.env?.APPINSTALLD_FAULT) delete env.APPINSTALLD_FAULT;
  const proc = track(spawn(process.execPath, [MAIN, '--root', root], { stdio: ['ignore', 'ignore', 'pipe'], env }));
  let err = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  await new Promise<void>((resolve, reject) => {
    const limit = setTimeout(() => reject(new Error(`daemon did not open in time; stderr:\n${err}`)), 20000);
    proc.stderr!.on('data', (d) => {
      err += d;
      if (err.includes('services open')) {
        clearTimeout(limit);
        resolve();
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(limit);
      reject(new Error(`daemon exited (${code ?? signal}) before opening; stderr:\n${err}`));
    });
  });
  return {
    root,
    proc,
    exited,
    stderr: () => err,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

export interface SendResult {
  lines: Json[];
  stdout: string;
  stderr: string;
  code: number | null;
}

/**
 * Runs luna-send (or luna-send-pub) against the daemon's root. With `until`, reads with -i semantics and stops the
 * process (closing stdin) once a line satisfies it; otherwise waits for the process to end. Bounded by limitMs.
 */
export function lunaSend(root: string, args: string[], opts: { pub?: boolean; uid?: number; until?: (line: Json) => boolean; onLine?: (line: Json) => void; limitMs?: number } = {}): Promise<SendResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, APPINSTALLD_ROOT: root };
  delete env.LUNA_HUB_SOCKET;
  const spawnOpts = opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {};
  // With `until`, stdin is a pipe (luna-send -i quits when it closes); otherwise /dev/null, which never "closes".
  // As another uid, the CLI runs from a world-readable copy (test/helpers/unprivileged.ts): the checkout may be private.
  const script = scriptFor(opts.pub ? LUNA_SEND_PUB : LUNA_SEND, opts.uid);
  const proc = track(spawn(process.execPath, [script, ...args], { stdio: [opts.until ? 'pipe' : 'ignore', 'pipe', 'pipe'], env, cwd: '/tmp', ...spawnOpts }));
  let stdout = '', stderr = '';
  const lines: Json[] = [];
  proc.stdin?.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    const limit = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`luna-send ${args.join(' ')} did not finish in time; stdout:\n${stdout}\nstderr:\n${stderr}`));
    }, opts.limitMs ?? 30000);
    let buf = '';
    proc.stdout!.on('data', (d) => {
      stdout += d;
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!text.trim()) continue;
        let line: Json;
        try {
          line = JSON.parse(text);
        } catch {
          line = { unparsable: text };
        }
        lines.push(line);
        opts.onLine?.(line);
        if (opts.until?.(line)) {
          proc.stdin?.end();
          proc.kill('SIGTERM');
        }
      }
    });
    proc.stderr!.on('data', (d) => (stderr += d));
    proc.once('exit', (code) => {
      clearTimeout(limit);
      resolve({ lines, stdout, stderr, code });
    });
  });
}

/** A final line of an install or remove: an error reply, or statusValue 30/24/31/25. */
export function isFinal(line: Json): boolean {
  return line.returnValue === false || [24, 25, 30, 31].includes(line.statusValue);
}

/** ares-cli's reading of luna-send output (docs/luna-send.md). */
export function aresVerdict(lines: Json[], op: 'install' | 'remove'): 'success' | 'failure' | 'pending' {
  for (const l of lines) {
    if (l.returnValue === false) return 'failure';
    const state = l.details?.state;
    if (typeof state !== 'string') continue;
    if (/FAILED/i.test(state)) return 'failure';
    if (op === 'install' ? /installed|^SUCCESS/i.test(state) : /removed/i.test(state)) return 'success';
  }
  return 'pending';
}

/** install / remove with subscribe through luna-send -i, read until the final event. */
export function install(root: string, id: string, ipkUrl: string, opts: { dev?: boolean; pub?: boolean; uid?: number; extra?: Json } = {}): Promise<SendResult> {
  const uri = `luna://com.webos.appInstallService/${opts.dev ? 'dev/' : ''}install`;
  return lunaSend(root, ['-i', uri, JSON.stringify({ id, ipkUrl, subscribe: true, ...opts.extra })], { pub: opts.pub, uid: opts.uid, until: isFinal });
}
export function remove(root: string, id: string, opts: { dev?: boolean; pub?: boolean; uid?: number } = {}): Promise<SendResult> {
  const uri = `luna://com.webos.appInstallService/${opts.dev ? 'dev/' : ''}remove`;
  return lunaSend(root, ['-i', uri, JSON.stringify({ id, subscribe: true })], { pub: opts.pub, uid: opts.uid, until: isFinal });
}
/** One call, first reply. */
export async function call(root: string, uri: string, payload: Json, opts: { pub?: boolean; uid?: number } = {}): Promise<Json> {
  const r = await lunaSend(root, ['-n', '1', uri, JSON.stringify(payload)], opts);
  if (r.lines.length === 0) throw new Error(`no reply from ${uri} (luna-send exit ${r.code}); stdout: ${r.stdout}; stderr: ${r.stderr}`);
  return r.lines[0];
}

/** Writes an app folder (and optional service folders) and packs it; returns the ipk path. */
export async function makeIpk(dir: string, id: string, version: string, opts: { services?: string[]; appInfo?: Json; files?: Record<string, string> } = {}): Promise<string> {
  const appDir = path.join(dir, `src-${id}-${version}`, 'app');
  fs.mkdirSync(appDir, { recursive: true });
  fs.writeFileSync(path.join(appDir, 'appinfo.json'), JSON.stringify({ id, version, type: 'web', main: 'index.html', title: `App ${id}`, icon: 'icon.png', ...opts.appInfo }));
  fs.writeFileSync(path.join(appDir, 'index.html'), `<html><body>${id} ${version}</body></html>\n`);
  fs.writeFileSync(path.join(appDir, 'icon.png'), Buffer.from('89504e470d0a1a0a', 'hex'));
  for (const [name, body] of Object.entries(opts.files ?? {})) fs.writeFileSync(path.join(appDir, name), body);
  const serviceDirs: string[] = [];
  for (const svc of opts.services ?? []) {
    const sd = path.join(dir, `src-${id}-${version}`, svc);
    fs.mkdirSync(sd, { recursive: true });
    fs.writeFileSync(path.join(sd, 'services.json'), JSON.stringify({ id: svc, description: 'test service', services: [{ name: svc, description: 'test service' }] }));
    fs.writeFileSync(path.join(sd, 'package.json'), JSON.stringify({ name: svc, main: 'main.js' }));
    fs.writeFileSync(path.join(sd, 'main.js'), '// test service\n');
    serviceDirs.push(sd);
  }
  const out = path.join(dir, 'ipks');
  fs.mkdirSync(out, { recursive: true });
  const r = await packApp(appDir, serviceDirs, { outDir: out });
  const dest = path.join(out, `${id}_${version}.ipk`);
  fs.renameSync(r.file, dest);
  return dest;
}

/** statusValues of the event lines (call return and errors left out). */
export function statusValues(lines: Json[]): number[] {
  return lines.filter((l) => typeof l.statusValue === 'number').map((l) => l.statusValue);
}

/** The statusValues with consecutive repeats (progress pushes) collapsed. */
export function stageSequence(lines: Json[]): number[] {
  return statusValues(lines).filter((v, i, a) => i === 0 || a[i - 1] !== v);
}

/** Every file under a directory (relative), sorted; [] when absent. */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      out.push(path.relative(dir, p) + (e.isDirectory() ? '/' : ''));
      if (e.isDirectory()) walk(p);
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out.sort();
}

/**
 * For a test file: a world-readable scratch directory and `started` (startDaemon whose root is remembered), both
 * removed, and every child killed, after the file's tests.
 */
export function daemonsForThisFile(prefix: string): { tmp: string; started(opts?: Parameters<typeof startDaemon>[0]): Promise<Daemon> } {
  const tmp = fs.mkdtempSync(`/tmp/${prefix}`);
  fs.chmodSync(tmp, 0o755);
  const roots: string[] = [];
  afterAll(() => {
    killAllChildren();
    for (const dir of [tmp, ...roots]) fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    tmp,
    async started(opts = {}) {
      const d = await startDaemon(opts);
      if (!roots.includes(d.root)) roots.push(d.root);
      return d;
    },
  };
}
