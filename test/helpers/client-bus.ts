// Test harness for the client and luna-send tests: a real hub process (dist/ipc/ls-hubd.js) in a temp root, the
// real test service process (test-service.js), and luna-send runs as processes with bounded lifetimes.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { killAllChildren, track } from './child-processes';
import { scriptFor } from './unprivileged';

export const REPO = path.resolve(__dirname, '../..');
export const DIST = path.join(REPO, 'dist');
export const LUNA_SEND = path.join(DIST, 'luna-send/luna-send.js');
export const LUNA_SEND_PUB = path.join(DIST, 'luna-send/luna-send-pub.js');
const TEST_SERVICE = path.join(__dirname, 'test-service.js');

export { killAllChildren as killAll };

export function exited(c: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve({ code: c.exitCode, signal: c.signalCode });
  return new Promise((resolve) => c.once('exit', (code, signal) => resolve({ code, signal })));
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

function canConnect(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection(socketPath);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

export interface HubProcess {
  root: string;
  socketPath: string;
  proc: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
}

/**
 * Start ls-hubd on a fresh temp root (world-traversable so uid 65534 can reach the socket). `extraApiPermissions`
 * is written to the static api-permissions.d before the hub starts (the shipped defaults are added beside it).
 */
export async function startHub(opts: { extraApiPermissions?: Record<string, string[]>; args?: string[]; nodeArgs?: string[] } = {}): Promise<HubProcess> {
  const root = fs.mkdtempSync('/tmp/ai-');
  fs.chmodSync(root, 0o755);
  if (opts.extraApiPermissions) {
    const dir = path.join(root, 'usr/share/luna-service2/api-permissions.d');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'com.example.test.api.json'), JSON.stringify(opts.extraApiPermissions));
  }
  const socketPath = path.join(root, 'var/run/luna-service2/com.palm.hub');
  const proc = track(spawn(process.execPath, [...(opts.nodeArgs ?? []), path.join(DIST, 'ipc/ls-hubd.js'), '--root', root, ...(opts.args ?? [])], { stdio: ['ignore', 'ignore', 'pipe'] }));
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  for (let i = 0; i < 200 && !(await canConnect(socketPath)); i++) {
    if (proc.exitCode !== null) throw new Error(`ls-hubd exited ${proc.exitCode}: ${err}`);
    await sleep(25);
  }
  if (!(await canConnect(socketPath))) throw new Error(`ls-hubd did not listen on ${socketPath}: ${err}`);
  return {
    root,
    socketPath,
    proc,
    stderr: () => err,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await exited(proc);
      }
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

export interface ServiceProcess { proc: ChildProcess; name: string; uniqueId: string; stderr(): string; stop(): Promise<void> }

/** Start the test service and wait for its READY line. */
export async function startTestService(socketPath: string, name = 'com.example.test'): Promise<ServiceProcess> {
  const proc = track(spawn(process.execPath, [TEST_SERVICE, '--socket', socketPath, '--name', name], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const ready = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`test service not ready: ${err}`)), 15000);
    proc.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('READY '));
      if (line) { clearTimeout(timer); resolve(line); }
    });
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`test service exited ${code}: ${err}`)); });
  });
  const [, regName, uniqueId] = ready.split(' ');
  return {
    proc, name: regName, uniqueId, stderr: () => err,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await exited(proc);
      }
    },
  };
}

export interface RunResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

export interface LunaSendRun {
  proc: ChildProcess;
  /** Resolves once stdout holds at least n lines (rejects if the process ends first). */
  lines(n: number): Promise<string[]>;
  /** Resolves when the process exits (killed after `limitMs` so a test never hangs). */
  done: Promise<RunResult>;
}

/** Start luna-send (or luna-send-pub) as a process; stdin stays an open pipe until closed by the test. */
export function startLunaSend(args: string[], opts: { socketPath?: string; pub?: boolean; env?: NodeJS.ProcessEnv; spawn?: SpawnOptions; limitMs?: number } = {}): LunaSendRun {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  if (opts.socketPath) env.LUNA_HUB_SOCKET = opts.socketPath;
  // As another uid, the CLI runs from a world-readable copy (test/helpers/unprivileged.ts): the checkout may be private.
  const script = scriptFor(opts.pub ? LUNA_SEND_PUB : LUNA_SEND, opts.spawn?.uid);
  const proc = track(spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env, cwd: '/tmp', ...opts.spawn }));
  let stdout = '';
  let stderr = '';
  const waiters: { n: number; resolve(l: string[]): void; reject(e: Error): void }[] = [];
  const lineList = () => stdout.split('\n').slice(0, -1);
  const check = () => {
    for (const w of [...waiters]) {
      if (lineList().length >= w.n) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(lineList());
      }
    }
  };
  proc.stdout!.on('data', (d) => { stdout += d; check(); });
  proc.stderr!.on('data', (d) => (stderr += d));
  proc.stdin!.on('error', () => { /* the process may exit before reading stdin */ });
  const limit = setTimeout(() => proc.kill('SIGKILL'), opts.limitMs ?? 20000);
  const done = exited(proc).then(({ code, signal }) => {
    clearTimeout(limit);
    for (const w of waiters.splice(0)) w.reject(new Error(`luna-send exited (${code ?? signal}) with ${lineList().length} lines; stderr: ${stderr}`));
    return { code, signal, stdout, stderr };
  });
  return {
    proc,
    done,
    lines: (n) => new Promise((resolve, reject) => {
      if (lineList().length >= n) return resolve(lineList());
      if (proc.exitCode !== null || proc.signalCode !== null) return reject(new Error(`luna-send already exited; stdout: ${stdout} stderr: ${stderr}`));
      waiters.push({ n, resolve, reject });
    }),
  };
}

/** Run luna-send to completion. */
export function runLunaSend(args: string[], opts: Parameters<typeof startLunaSend>[1] = {}): Promise<RunResult> {
  const run = startLunaSend(args, opts);
  return run.done;
}
