// One daemon per root (services/instance-lock.ts): a second `npm start` on a root whose daemon runs says so, exits
// non-zero and changes nothing (no recovery over the live daemon's tasks, no socket taken over); the first keeps
// serving. A daemon killed with -9 leaves no lock behind.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ErrorText } from '../status-codes';
import { MAIN, call, killAllChildren, makeRoot, startDaemon } from './helpers/appinstall-daemon';
import { stagingRoot } from '../engine/package-switch';
import { layout } from '../layout/paths';

const roots: string[] = [];
afterAll(() => {
  killAllChildren();
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

function secondStart(root: string) {
  const env = { ...process.env };
  delete env.APPINSTALLD_ROOT;
  delete env.LUNA_HUB_SOCKET;
  return spawnSync(process.execPath, [MAIN, '--root', root], { encoding: 'utf8', env, timeout: 20000 });
}

test('a second start on a live root is refused before it touches state; the first keeps serving', async () => {
  const d = await startDaemon();
  roots.push(d.root);
  try {
    // What a running task of the first daemon has on disk: its staging folder (recovery would sweep it as a leftover).
    const live = path.join(stagingRoot(layout(d.root).verifiedApps.base), 'live-task');
    fs.mkdirSync(path.join(live, 'new'), { recursive: true });
    fs.writeFileSync(path.join(live, 'new/file'), 'in flight');
    const socket = path.join(d.root, 'var/run/luna-service2/com.palm.hub');
    const socketIno = fs.statSync(socket).ino;
    const r = secondStart(d.root);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(ErrorText.DAEMON_RUNNING);
    expect(r.stderr).toContain(`pid ${d.proc.pid}`);
    expect(r.stderr).not.toMatch(/recovery|ENOTEMPTY|EADDRINUSE|\n\s+at /);
    expect(fs.readFileSync(path.join(live, 'new/file'), 'utf8')).toBe('in flight');
    expect(fs.statSync(socket).ino).toBe(socketIno);
    expect(await call(d.root, 'luna://com.webos.appInstallService/status', {})).toEqual({ returnValue: true, subscribed: false, status: { apps: [] } });
    expect(await call(d.root, 'luna://com.webos.service.devmode/getDevMode', {}, { pub: true, uid: 65534 })).toEqual({ returnValue: true, enabled: false });
    fs.rmSync(live, { recursive: true });
  } finally {
    await d.stop();
  }
});

test('after kill -9 the lock is gone: the next start runs', async () => {
  const root = makeRoot();
  roots.push(root);
  const d = await startDaemon({ root });
  d.proc.kill('SIGKILL');
  await d.exited;
  const d2 = await startDaemon({ root });
  expect(d2.stderr()).not.toContain(ErrorText.DAEMON_RUNNING);
  await d2.stop();
});
