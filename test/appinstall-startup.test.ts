// Start-up and stop of `npm start` (dist/services/main.js): a bad daemon config is a clear start-up error,
// bad arguments print the usage, SIGTERM stops cleanly and removes the hub socket.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ErrorText } from '../status-codes';
import { MAIN, makeRoot, startDaemon, killAllChildren } from './helpers/appinstall-daemon';

const roots: string[] = [];
afterAll(() => {
  killAllChildren();
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

test('a bad daemon config stops the start with a message naming the file and the key', async () => {
  const root = makeRoot();
  roots.push(root);
  const err = await startDaemon({ root, config: { maxConcurrentTasks: 'many' } }).catch((e: Error) => e);
  expect(err).toBeInstanceOf(Error);
  expect((err as Error).message).toContain(ErrorText.BAD_DAEMON_CONFIG);
  expect((err as Error).message).toContain(path.join(root, 'etc/palm/appinstalld.json'));
  expect((err as Error).message).toContain('"maxConcurrentTasks"');
  fs.writeFileSync(path.join(root, 'etc/palm/appinstalld.json'), '{not json');
  const err2 = await startDaemon({ root }).catch((e: Error) => e);
  expect((err2 as Error).message).toMatch(/not valid JSON/);
});

test('bad arguments print the usage and exit 2; -h prints it and exits 0', () => {
  const bad = spawnSync(process.execPath, [MAIN, '--bogus'], { encoding: 'utf8' });
  expect(bad.status).toBe(2);
  expect(bad.stderr).toMatch(/^appinstalld: unknown option --bogus\n[\s\S]*usage:/);
  const help = spawnSync(process.execPath, [MAIN, '-h'], { encoding: 'utf8' });
  expect(help.status).toBe(0);
  expect(help.stdout).toMatch(/--root DIR/);
});

test('SIGTERM stops hub and services cleanly (exit 0, socket removed)', async () => {
  const d = await startDaemon();
  roots.push(d.root);
  const socket = path.join(d.root, 'var/run/luna-service2/com.palm.hub');
  expect(fs.existsSync(socket)).toBe(true);
  d.proc.kill('SIGTERM');
  expect(await d.exited).toEqual({ code: 0, signal: null });
  expect(fs.existsSync(socket)).toBe(false);
  expect(d.stderr()).toMatch(/SIGTERM: stopping/);
});

/** Resolves with a reader of everything the process logged, once it logs `pattern`; fails with that log if it exits first or takes too long. */
function untilLogged(proc: import('node:child_process').ChildProcess, pattern: RegExp, what: string, ms = 30000): Promise<() => string> {
  let log = '';
  proc.stderr!.on('data', (d) => (log += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not log ${pattern} within ${ms} ms; it logged:\n${log}`)), ms);
    const check = () => {
      if (pattern.test(log)) {
        clearTimeout(timer);
        resolve(() => log);
      }
    };
    proc.stderr!.on('data', check);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code ?? signal}) before logging ${pattern}; it logged:\n${log}`));
    });
  });
}

test('standalone appinstalld serves on an existing ls-hubd and exits when the hub goes', async () => {
  const { spawn } = await import('node:child_process');
  const { REPO, call } = await import('./helpers/appinstall-daemon');
  const root = makeRoot();
  roots.push(root);
  const env = { ...process.env };
  delete env.APPINSTALLD_ROOT;
  delete env.LUNA_HUB_SOCKET;
  const hub = spawn(process.execPath, [path.join(REPO, 'dist/ipc/ls-hubd.js'), '--root', root], { stdio: ['ignore', 'ignore', 'pipe'], env });
  await untilLogged(hub, /listening on/, 'ls-hubd');
  const daemon = spawn(process.execPath, [path.join(REPO, 'dist/services/appinstalld.js'), '--root', root], { stdio: ['ignore', 'ignore', 'pipe'], env });
  const err = await untilLogged(daemon, /services open/, 'appinstalld');
  const exited = new Promise<number | null>((resolve) => daemon.once('exit', (code) => resolve(code)));
  try {
    expect(await call(root, 'luna://com.webos.service.devmode/getDevMode', {})).toEqual({ returnValue: true, enabled: false });
    expect(await call(root, 'luna://com.webos.appInstallService/status', {})).toEqual({ returnValue: true, subscribed: false, status: { apps: [] } });
  } finally {
    hub.kill('SIGTERM');
  }
  expect(await exited).toBe(1);
  expect(err()).toMatch(/lost the hub connection/);
});
