// The smaller hostile cases, as real processes: tar entry types the parser does not know, control characters in a
// request id (log forging), a remove on a really full disk (a small tmpfs), a developer mode flag path that is a
// directory, and state files that are not what the daemon expects at start.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ErrorCode, ErrorText, Stage } from '../status-codes';
import { buildTar, controlText, controlTgz, goodEntries, gz, ipkOf, tarHeader, CORPUS_PKG } from './helpers/ipk-corpus';
import { MAIN, call, install, killAllChildren, listTree, makeIpk, makeRoot, remove, startDaemon, type Daemon } from './helpers/appinstall-daemon';

const DM = 'luna://com.webos.service.devmode';
let work: string;
const roots: string[] = [];
const mounts: string[] = [];
const last = <T>(a: T[]) => a[a.length - 1];

beforeAll(() => {
  work = fs.mkdtempSync('/tmp/ai-w-');
  fs.chmodSync(work, 0o755);
});
afterAll(() => {
  killAllChildren();
  for (const m of mounts) spawnSync('umount', ['-l', m]);
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
});

async function daemon(opts: Parameters<typeof startDaemon>[0] = {}): Promise<Daemon> {
  const d = await startDaemon(opts);
  roots.push(d.root);
  return d;
}

/** A raw tar header with any type flag (checksum recomputed). */
function typedHeader(name: string, flag: string): Buffer {
  const h = tarHeader({ name, type: 'file', mode: 0o644, size: 0 });
  h.write(flag, 156, 'latin1');
  h.write('        ', 148, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return h;
}

test('tar entries of types the parser does not know (GNU sparse, volume header, ...) refuse the package, in data and control', async () => {
  const d = await daemon();
  try {
    const app = `usr/palm/applications/${CORPUS_PKG}`;
    for (const [flag, word] of [['S', 'SparseFile'], ['V', 'TapeVolumeHeader'], ['M', 'ContinuationFile']]) {
      const data = gz(Buffer.concat([buildTar(goodEntries(), true), typedHeader(`${app}/part.bin`, flag), Buffer.alloc(1024)]));
      const file = path.join(work, `type-${flag}.ipk`);
      fs.writeFileSync(file, ipkOf(data));
      const r = await install(d.root, CORPUS_PKG, file);
      expect(last(r.lines)).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { errorCode: ErrorCode.INSTALL_FAILED, reason: expect.stringContaining(`"${app}/part.bin" is of unsupported type ${word}`) } });
      expect(fs.existsSync(path.join(d.root, 'media/cryptofs/apps', app))).toBe(false);
    }
    const ctrl = gz(Buffer.concat([buildTar([{ path: 'control', body: controlText() }], true), typedHeader('postinst', 'S'), Buffer.alloc(1024)]));
    const file = path.join(work, 'ctrl-S.ipk');
    fs.writeFileSync(file, ipkOf(gz(buildTar(goodEntries())), ctrl));
    const r = await install(d.root, CORPUS_PKG, file);
    expect(last(r.lines)).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { reason: expect.stringContaining('"postinst" is of unsupported type SparseFile') } });
    expect(last((await install(d.root, CORPUS_PKG, (fs.writeFileSync(file, ipkOf(gz(buildTar(goodEntries())), controlTgz(controlText()))), file))).lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue });
  } finally {
    await d.stop();
  }
});

test('a newline or other control character in a request id cannot forge daemon log lines', async () => {
  const d = await daemon();
  try {
    const ipk = await makeIpk(work, 'com.example.logged', '1.0.0');
    await install(d.root, 'com.example.logged\nappinstalld: FORGED install ok\u001b[2J', ipk);
    await remove(d.root, 'nope\r\nappinstalld: FORGED remove');
    await new Promise((r) => setTimeout(r, 200));
    const lines = d.stderr().split('\n');
    expect(lines.filter((l) => l.startsWith('appinstalld: FORGED'))).toEqual([]);
    expect(d.stderr()).not.toContain('\u001b');
    expect(d.stderr()).toContain('com.example.logged\\nappinstalld: FORGED install ok\\x1b[2J');
  } finally {
    await d.stop();
  }
});

(process.getuid?.() === 0 ? test : test.skip)('remove works on a really full disk (8 MB tmpfs): the space reserve makes room for its records', async () => {
  const root = makeRoot();
  roots.push(root);
  expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0755', 'tmpfs', root]).status).toBe(0);
  mounts.push(root);
  const d = await daemon({ root });
  try {
    const ipk = await makeIpk(work, 'com.example.full', '1.0.0', { files: { 'data.bin': crypto.randomBytes(768 * 1024).toString('base64') } });
    expect(last((await install(root, 'com.example.full', ipk)).lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue });
    const filler = path.join(root, 'filler');
    const fd = fs.openSync(filler, 'w');
    try {
      for (;;) fs.writeSync(fd, Buffer.alloc(64 * 1024, 1));
    } catch (e) {
      expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
    }
    try {
      for (;;) fs.writeSync(fd, Buffer.alloc(512, 1));
    } catch {
      /* full to the last block */
    }
    fs.closeSync(fd);
    const r = await remove(root, 'com.example.full');
    expect(last(r.lines)).toMatchObject({ statusValue: Stage.REMOVED.statusValue });
    expect(fs.existsSync(path.join(root, 'media/cryptofs/apps/usr/palm/applications/com.example.full'))).toBe(false);
    expect(listTree(path.join(root, 'var/lib/appinstalld/journal'))).toEqual([]);
    // the daemon serves on, and once there is room again the reserve is back
    fs.rmSync(filler);
    expect(last((await install(root, 'com.example.full', ipk)).lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue });
    const reserve = path.join(root, 'var/lib/appinstalld/space-reserve');
    for (let i = 0; i < 50 && !fs.existsSync(reserve); i++) await new Promise((r) => setTimeout(r, 20));
    expect(fs.statSync(reserve).size).toBeGreaterThan(0);
  } finally {
    await d.stop();
  }
}, 60000);

test('a developer mode flag path that is a directory: off at start with a clear log line; setDevMode replaces an empty one, refuses clearly otherwise', async () => {
  const root = makeRoot();
  const flag = path.join(root, 'var/luna/preferences/devmode_enabled');
  fs.mkdirSync(flag, { recursive: true });
  const d = await daemon({ root });
  try {
    expect(d.stderr()).toContain(`developer mode flag ${flag} is a directory, not a file`);
    expect(await call(root, `${DM}/getDevMode`, {})).toEqual({ returnValue: true, enabled: false });
    expect(await call(root, `${DM}/setDevMode`, { enabled: true })).toEqual({ returnValue: true, enabled: true });
    expect(fs.statSync(flag).isFile()).toBe(true);
    expect(await call(root, `${DM}/setDevMode`, { enabled: false })).toEqual({ returnValue: true, enabled: false });
    fs.mkdirSync(path.join(flag, 'keep'), { recursive: true });
    expect(await call(root, `${DM}/setDevMode`, { enabled: true })).toMatchObject({ returnValue: false, errorCode: ErrorCode.GENERAL, errorText: ErrorText.DEVMODE_FLAG_BAD });
    expect(fs.existsSync(path.join(flag, 'keep'))).toBe(true);
    expect(await call(root, `${DM}/getDevMode`, {})).toEqual({ returnValue: true, enabled: false });
  } finally {
    await d.stop();
  }
});

test('a state directory replaced by a file stops the start with one clear line naming it, not a stack trace', () => {
  const root = makeRoot();
  roots.push(root);
  const journal = path.join(root, 'var/lib/appinstalld/journal');
  fs.mkdirSync(path.dirname(journal), { recursive: true });
  fs.writeFileSync(journal, 'not a directory');
  const env = { ...process.env };
  delete env.APPINSTALLD_ROOT;
  delete env.LUNA_HUB_SOCKET;
  const r = spawnSync(process.execPath, [MAIN, '--root', root], { encoding: 'utf8', env, timeout: 20000 });
  expect(r.status).toBe(1);
  expect(r.stderr).toContain(`cannot start: state path ${journal} is not what the daemon expects (ENOTDIR`);
  expect(r.stderr).not.toMatch(/\bat (async )?[\w.]+ \(|\\n\s+at /);
});
