// The ipkUrl as a hostile local user (uid 65534) can shape it: a package in a directory the caller cannot search,
// reached directly or through the caller's own symlink, and a path swapped between a regular file and a FIFO while
// requests run. The daemon opens the path once, non-blocking, and checks the opened inode against what the caller
// could reach itself (engine/caller-access.ts); it never hangs, and keeps serving root and the user.
import fs from 'node:fs';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { ErrorCode, ErrorText, Stage } from '../status-codes';
import { call, install, isFinal, killAllChildren, lunaSend, makeIpk, startDaemon, type Daemon } from './helpers/appinstall-daemon';
import { track } from './helpers/child-processes';

const NOBODY = 65534;
let d: Daemon;
let work: string;

beforeAll(async () => {
  d = await startDaemon();
  work = fs.mkdtempSync('/tmp/ai-w-');
  fs.chmodSync(work, 0o755);
  expect(await call(d.root, 'luna://com.webos.service.devmode/setDevMode', { enabled: true })).toMatchObject({ returnValue: true });
});
afterAll(async () => {
  await d?.stop();
  killAllChildren();
  fs.rmSync(work, { recursive: true, force: true });
  if (d) fs.rmSync(d.root, { recursive: true, force: true });
});

const devApp = (id: string) => path.join(d.root, 'media/developer/apps/usr/palm/applications', id);

test('a 0644 package inside a root-only directory is refused to a caller who cannot search it (directly or via its symlink)', async () => {
  const vault = path.join(work, 'vault');
  fs.mkdirSync(vault, { mode: 0o700 });
  const ipk = path.join(vault, 'secret.ipk');
  fs.copyFileSync(await makeIpk(work, 'com.example.secret', '1.0.0'), ipk);
  fs.chmodSync(ipk, 0o644);
  const r = await install(d.root, 'com.ares.defaultName', ipk, { dev: true, pub: true, uid: NOBODY });
  expect(r.lines[0]).toEqual({ returnValue: false, errorCode: ErrorCode.INVALID_PARAMETER, errorText: ErrorText.INVALID_IPKURL, subscribed: false });
  // the caller's own symlink into the vault
  const mine = path.join(work, 'mine');
  fs.mkdirSync(mine, { mode: 0o755 });
  fs.chownSync(mine, NOBODY, NOBODY);
  const link = path.join(mine, 'link.ipk');
  fs.symlinkSync(ipk, link);
  fs.lchownSync(link, NOBODY, NOBODY);
  const r2 = await install(d.root, 'com.ares.defaultName', link, { dev: true, pub: true, uid: NOBODY });
  expect(r2.lines[0]).toMatchObject({ returnValue: false, errorCode: ErrorCode.INVALID_PARAMETER, errorText: ErrorText.INVALID_IPKURL });
  expect(fs.existsSync(devApp('com.example.secret'))).toBe(false);
  // root may, and the same package in a searchable directory installs for the user
  fs.chmodSync(vault, 0o755);
  const ok = await install(d.root, 'com.ares.defaultName', link, { dev: true, pub: true, uid: NOBODY });
  expect(ok.lines[ok.lines.length - 1]).toMatchObject({ statusValue: Stage.INSTALLED.statusValue });
});

test('a path swapped between a package and a FIFO never hangs the daemon: every request ends, then root and the user install, SIGTERM stops it', async () => {
  const dir = path.join(work, 'swap');
  fs.mkdirSync(dir, { mode: 0o755 });
  fs.chownSync(dir, NOBODY, NOBODY);
  const reg = path.join(dir, 'reg');
  fs.copyFileSync(await makeIpk(work, 'com.example.swap', '1.0.0'), reg);
  fs.chmodSync(reg, 0o644);
  expect(spawnSync('mkfifo', ['-m', '0644', path.join(dir, 'fifo')]).status).toBe(0);
  const target = path.join(dir, 't.ipk');
  fs.copyFileSync(reg, target);
  for (const f of ['reg', 'fifo', 't.ipk']) fs.chownSync(path.join(dir, f), NOBODY, NOBODY);
  // The swapper (uid 65534): t.ipk flips between the package and the FIFO as fast as rename allows.
  const swapper = track(spawn(process.execPath, ['-e', `
    const fs = require('fs'), p = require('path'), d = ${JSON.stringify(dir)};
    for (;;) for (const src of ['reg', 'fifo']) { const tmp = p.join(d, 'tmp-' + src); try { fs.unlinkSync(tmp); } catch {} fs.linkSync(p.join(d, src), tmp); fs.renameSync(tmp, p.join(d, 't.ipk')); }
  `], { uid: NOBODY, gid: NOBODY, cwd: '/tmp', stdio: 'ignore' }));
  try {
    const finals: Array<Record<string, unknown>> = [];
    for (let round = 0; round < 5; round++) {
      const batch = await Promise.all([0, 1, 2, 3, 4].map((i) => lunaSend(d.root, ['-i', 'luna://com.webos.appInstallService/dev/install', JSON.stringify({ id: `swap-${round}-${i}`, ipkUrl: target, subscribe: true })], { pub: true, uid: NOBODY, until: isFinal, limitMs: 15000 })));
      for (const b of batch) finals.push(b.lines[b.lines.length - 1]);
    }
    expect(finals.every((l) => isFinal(l))).toBe(true);
    // the FIFO was hit after the request was accepted at least once: refused as not a regular file, not hung
    expect(finals.some((l) => (l as { details?: { errorCode?: number } }).details?.errorCode === ErrorCode.INVALID_PARAMETER)).toBe(true);
  } finally {
    swapper.kill('SIGKILL');
  }
  const rootIpk = await makeIpk(work, 'com.example.after', '1.0.0');
  const r = await install(d.root, 'com.example.after', rootIpk);
  expect(r.lines[r.lines.length - 1]).toMatchObject({ statusValue: Stage.INSTALLED.statusValue });
  const t0 = Date.now();
  await d.stop();
  expect(await d.exited).toEqual({ code: 0, signal: null });
  expect(Date.now() - t0).toBeLessThan(10000);
  d = await startDaemon({ root: d.root });
}, 180000);
