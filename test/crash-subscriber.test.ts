// A status subscriber across a crash of the install service (hub and service as separate processes: ls-hubd +
// appinstalld): it always ends in a state it can tell — the task's final event, or the service going down
// (registerServerStatus connected:false, and its subscription ended by the hub) — and after the restart `status` shows
// no task and the disk holds the old or the new version, nothing in between.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Stage } from '../status-codes';
import { LunaClient } from '../ipc/client';
import { REPO, killAllChildren, makeIpk, makeRoot, isFinal, type Json } from './helpers/appinstall-daemon';
import { leftovers, runningTasks, runTask, waitForMethods } from './helpers/crash-tree';

const SERVICE = 'com.webos.appInstallService';
const ID = 'com.example.subscrash';
let work: string;
let v1: string;
let v2: string;
const procs = new Set<ChildProcess>();
const roots: string[] = [];

interface Proc {
  proc: ChildProcess;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts dist/<script> --root <root> and waits for `ready` on its stderr. */
async function startProc(script: string, root: string, ready: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<Proc> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
  delete env.APPINSTALLD_ROOT;
  delete env.LUNA_HUB_SOCKET;
  if (!extraEnv.APPINSTALLD_FAULT) delete env.APPINSTALLD_FAULT;
  const proc = spawn(process.execPath, [path.join(REPO, 'dist', script), '--root', root], { stdio: ['ignore', 'ignore', 'pipe'], env });
  procs.add(proc);
  let err = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => {
    procs.delete(proc);
    resolve({ code, signal });
  }));
  await new Promise<void>((resolve, reject) => {
    const limit = setTimeout(() => reject(new Error(`${script} did not get ready; stderr:\n${err}`)), 20000);
    proc.stderr!.on('data', (d) => {
      err += d;
      if (err.includes(ready)) {
        clearTimeout(limit);
        resolve();
      }
    });
    void exited.then((e) => reject(new Error(`${script} exited (${e.code ?? e.signal}); stderr:\n${err}`)));
  });
  return { proc, stderr: () => err, exited };
}

beforeAll(async () => {
  work = fs.mkdtempSync('/tmp/ai-w-');
  v1 = await makeIpk(work, ID, '1.0.0');
  v2 = await makeIpk(work, ID, '2.0.0', { files: { 'new.txt': 'new\n' } });
}, 30000);
afterAll(() => {
  for (const p of procs) p.kill('SIGKILL');
  killAllChildren();
  for (const r of [work, ...roots]) if (r) fs.rmSync(r, { recursive: true, force: true });
});

/** What a status subscriber saw: every push of `status` and of registerServerStatus, and how its calls ended. */
class Subscriber {
  readonly status: Json[] = [];
  readonly server: boolean[] = [];
  statusEnded: Json | 'completed' | null = null;
  private constructor(readonly client: LunaClient) {}

  static async open(root: string): Promise<Subscriber> {
    const s = new Subscriber(await LunaClient.connect({ root }));
    s.client.call('luna://com.webos.service.bus/signal/registerServerStatus', { serviceName: SERVICE }).subscribe({ next: (p) => s.server.push((p as Json).connected), error: () => undefined });
    await waitForMethods(s.client);
    s.subscribeStatus();
    await s.until(() => s.server.length > 0 && s.status.length > 0);
    return s;
  }

  subscribeStatus(): void {
    this.statusEnded = null;
    this.client.call(`luna://${SERVICE}/status`, { subscribe: true }).subscribe({
      next: (p) => {
        this.status.push(p as Json);
        if ((p as Json).returnValue === false) this.statusEnded = p as Json;
      },
      complete: () => (this.statusEnded ??= 'completed'),
      error: () => (this.statusEnded ??= 'completed'),
    });
  }

  async until(cond: () => boolean, what = 'condition'): Promise<void> {
    for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 25));
    if (!cond()) throw new Error(`subscriber: ${what} not reached; status ${JSON.stringify(this.status)} server ${JSON.stringify(this.server)}`);
  }

  /** The state the subscriber can tell: the final event of the task for `id`, or the service gone. */
  verdict(id: string): 'final' | 'service down' | 'unknown' {
    if (this.status.some((e) => e.id === id && isFinal(e))) return 'final';
    if (this.server[this.server.length - 1] === false && this.statusEnded !== null) return 'service down';
    return 'unknown';
  }
}

/** Version on disk according to the app's own files (the crash tests compare whole trees; here the version is enough). */
function versionOnDisk(root: string): string | null {
  const p = path.join(root, `media/cryptofs/apps/usr/palm/applications/${ID}/appinfo.json`);
  return fs.existsSync(p) ? JSON.parse(fs.readFileSync(p, 'utf8')).version : null;
}

async function scenario(kill: { fault: string } | 'after the final event'): Promise<{ verdict: string; version: string | null; statusAfter: Json[] }> {
  const root = makeRoot();
  roots.push(root);
  const hub = await startProc('ipc/ls-hubd.js', root, 'listening');
  try {
    let svc = await startProc('services/appinstalld.js', root, 'services open');
    const installer = await LunaClient.connect({ root });
    await waitForMethods(installer);
    const first = await runTask(installer, 'install', { id: ID, ipkUrl: v1 });
    expect([first.pop(), svc.stderr()]).toMatchObject([{ statusValue: Stage.INSTALLED.statusValue }, expect.any(String)]);
    await installer.close();
    await svc.proc.kill('SIGTERM');
    await svc.exited;
    svc = await startProc('services/appinstalld.js', root, 'services open', kill === 'after the final event' ? {} : { APPINSTALLD_FAULT: kill.fault });
    const sub = await Subscriber.open(root);
    const caller = await LunaClient.connect({ root });
    await waitForMethods(caller);
    const task = runTask(caller, 'install', { id: ID, ipkUrl: v2 }).catch((e: Error) => [{ error: e.message }]);
    if (kill === 'after the final event') {
      await sub.until(() => sub.verdict(ID) === 'final', 'final event');
      svc.proc.kill('SIGKILL');
    }
    expect((await svc.exited).signal).toBe('SIGKILL');
    const callerLines = await task;
    // the service went down: the hub says so to the watcher and ends its open status subscription
    await sub.until(() => sub.server[sub.server.length - 1] === false && sub.statusEnded !== null, 'service down');
    const verdict = sub.verdict(ID);
    if (verdict === 'service down') {
      expect(sub.statusEnded).toMatchObject({ returnValue: false, errorText: `${SERVICE} is not running.` });
      expect(callerLines[callerLines.length - 1]).toMatchObject({ returnValue: false, errorText: `${SERVICE} is not running.` });
    }
    await caller.close();
    // restart: the watcher hears it is back; status then shows no task; the disk is old or new
    await startProc('services/appinstalld.js', root, 'services open');
    await sub.until(() => sub.server[sub.server.length - 1] === true, 'service back');
    await waitForMethods(sub.client);
    const statusAfter = await runningTasks(sub.client);
    expect(leftovers(root)).toEqual([]);
    await sub.client.close();
    return { verdict, version: versionOnDisk(root), statusAfter };
  } finally {
    for (const p of procs) if (p !== hub.proc) p.kill('SIGTERM');
    hub.proc.kill('SIGTERM');
    await hub.exited;
  }
}

test.each([
  ['install.staged', '1.0.0'],
  ['install.committed', '2.0.0'],
])('service killed at %s: the subscriber sees it go down; after restart no task, version %s', async (fault, version) => {
  expect(await scenario({ fault })).toEqual({ verdict: 'service down', version, statusAfter: [] });
}, 60000);

test('service killed after the final event: the subscriber has the final event; after restart no task, the new version', async () => {
  expect(await scenario('after the final event')).toEqual({ verdict: 'final', version: '2.0.0', statusAfter: [] });
}, 60000);
