// The engine's per-app methods over the bus (real daemon, luna-send): locks refusing remove/upgrade across a restart,
// control Depends on install and remove, storage details and reset, aux metadata, /installed, and ACG (root only).
import fs from 'node:fs';
import path from 'node:path';
import { call, daemonsForThisFile, install, makeIpk, remove, type Daemon, type Json, type SendResult } from './helpers/appinstall-daemon';
import { appInfo, buildTar, controlText, controlTgz, gz, ipkOf, type TarEntry } from './helpers/ipk-corpus';

jest.setTimeout(120000);


const S = 'luna://com.webos.appInstallService';
const DM = 'luna://com.webos.service.devmode';
const NOBODY = 65534;
const { tmp, started } = daemonsForThisFile('ai-engine-apps-');
const last = (r: SendResult) => r.lines[r.lines.length - 1];

/** A package with the given control fields (Depends, Section …), built the way opkg-style tools write them. */
function ipkWithControl(id: string, version: string, extra: Record<string, string>): string {
  const a = `usr/palm/applications/${id}`;
  const entries: TarEntry[] = [
    { path: 'usr/', type: 'dir' },
    { path: 'usr/palm/', type: 'dir' },
    { path: 'usr/palm/applications/', type: 'dir' },
    { path: `${a}/`, type: 'dir' },
    { path: `${a}/appinfo.json`, body: appInfo(id, { version }) },
    { path: `${a}/index.html`, body: '<html></html>\n' },
    { path: `${a}/icon.png`, body: 'PNG' },
  ];
  const file = path.join(tmp, `${id}_${version}.ipk`);
  fs.writeFileSync(file, ipkOf(gz(buildTar(entries)), controlTgz(controlText(id, { Version: version, ...extra }))));
  fs.chmodSync(file, 0o644);
  return file;
}

const installedIds = async (root: string): Promise<Json[]> => (await call(root, `${S}/installed`, {})).packages;

test('a lock refuses remove, /dev/remove and upgrade naming reason and owner, also after a restart, until unlocked', async () => {
  let d: Daemon = await started();
  try {
    const id = 'com.test.locked';
    const v1 = await makeIpk(tmp, id, '1.0.0');
    const v2 = await makeIpk(tmp, id, '2.0.0');
    expect(await call(d.root, `${S}/lock`, { id, reason: 'recording', owner: 'pvr' })).toMatchObject({ returnValue: false, errorCode: -2, errorText: `app is not installed: ${id}` });
    expect(last(await install(d.root, id, v1)).statusValue).toBe(30);
    const locked = await call(d.root, `${S}/lock`, { id, reason: 'recording in progress', owner: 'com.example.pvr' });
    expect(locked).toMatchObject({ returnValue: true });
    expect(locked.handle).toMatch(/^[1-9][0-9]*$/);
    expect(await call(d.root, `${S}/getLockInfo`, { id })).toEqual({ returnValue: true, reason: 'recording in progress', owner: 'com.example.pvr', handle: locked.handle });
    expect(await call(d.root, `${S}/lock`, { id, reason: 'again', owner: 'x' })).toMatchObject({ returnValue: false, errorCode: -207 });
    expect((await installedIds(d.root)).find((p) => p.id === id)).toMatchObject({ locked: true });

    const refusedText = `app ${id} is locked by com.example.pvr: recording in progress`;
    const checkRefused = async () => {
      const rm = last(await remove(d.root, id));
      expect(rm).toMatchObject({ statusValue: 25, details: { state: 'remove failed', errorCode: -207, reason: refusedText } });
      const up = last(await install(d.root, id, v2));
      expect(up).toMatchObject({ statusValue: 24, details: { state: 'install failed', errorCode: -207, reason: refusedText } });
      const info = JSON.parse(fs.readFileSync(path.join(d.root, 'media/cryptofs/apps/usr/palm/applications', id, 'appinfo.json'), 'utf8'));
      expect(info.version).toBe('1.0.0');
    };
    await checkRefused();
    // A reinstall of the same version replaces the app's files too: refused alike.
    expect(last(await install(d.root, id, v1))).toMatchObject({ statusValue: 24, details: { errorCode: -207, reason: refusedText } });

    await d.stop();
    d = await started({ root: d.root });
    expect(await call(d.root, `${S}/getLockInfo`, { id })).toEqual({ returnValue: true, reason: 'recording in progress', owner: 'com.example.pvr', handle: locked.handle });
    await checkRefused();

    // developer installs are locked alike
    expect(await call(d.root, `${DM}/setDevMode`, { enabled: true })).toMatchObject({ returnValue: true });
    const dev = await makeIpk(tmp, 'com.test.devlocked', '1.0.0');
    expect(last(await install(d.root, 'com.test.devlocked', dev, { dev: true })).statusValue).toBe(30);
    const devLock = await call(d.root, `${S}/lock`, { id: 'com.test.devlocked', reason: 'demo', owner: 'store' });
    expect(last(await remove(d.root, 'com.test.devlocked', { dev: true }))).toMatchObject({ statusValue: 25, details: { errorCode: -207, reason: 'app com.test.devlocked is locked by store: demo' } });
    expect(await call(d.root, `${S}/unlock`, { handle: devLock.handle })).toEqual({ returnValue: true });
    expect(last(await remove(d.root, 'com.test.devlocked', { dev: true })).statusValue).toBe(31);
    // ares-install's request id is no package id: the operation is named by the package
    expect(last(await install(d.root, 'com.ares.defaultName', dev, { dev: true })).statusValue).toBe(30);
    const ops = (await call(d.root, `${S}/operations/list`, {})).operations;
    expect(ops[ops.length - 1]).toMatchObject({ kind: 'install', id: 'com.test.devlocked', version: '1.0.0', state: 'succeeded' });

    expect(await call(d.root, `${S}/unlock`, { handle: '424242' })).toMatchObject({ returnValue: false, errorCode: -202 });
    expect(await call(d.root, `${S}/unlock`, { handle: locked.handle })).toEqual({ returnValue: true });
    expect(await call(d.root, `${S}/getLockInfo`, { id })).toMatchObject({ returnValue: false, errorCode: -208, errorText: `app ${id} is not locked` });
    expect(last(await install(d.root, id, v2)).statusValue).toBe(30);
    expect(last(await remove(d.root, id)).statusValue).toBe(31);
    // bad input: clear errors, nothing changed
    expect(await call(d.root, `${S}/lock`, { id: 'x', reason: 'r'.repeat(300), owner: 'o' })).toMatchObject({ returnValue: false, errorCode: -2 });
    expect(await call(d.root, `${S}/lock`, { id: 'x', reason: 'r' })).toMatchObject({ returnValue: false, errorCode: -2 });
    expect(await call(d.root, `${S}/getLockInfo`, { id: 'Not An Id' })).toMatchObject({ returnValue: false, errorCode: -201 });
  } finally {
    await d.stop();
  }
});

test('Depends: an unmet install is refused listing what is missing; removing a depended-on package names the dependant', async () => {
  const d = await started();
  try {
    const app = ipkWithControl('com.test.app', '1.0.0', { Depends: 'com.test.liba (>= 2.0), com.test.libb | com.test.libc, com.test.libd' });
    const r = last(await install(d.root, 'com.test.app', app));
    expect(r).toMatchObject({ statusValue: 24, details: { state: 'install failed', errorCode: -205 } });
    expect(r.details.reason).toBe('unmet dependencies: com.test.liba (>= 2.0), com.test.libb | com.test.libc, com.test.libd');
    expect(fs.existsSync(path.join(d.root, 'media/cryptofs/apps/usr/palm/applications/com.test.app'))).toBe(false);

    expect(last(await install(d.root, 'com.test.liba', ipkWithControl('com.test.liba', '1.5', {}))).statusValue).toBe(30);
    expect(last(await install(d.root, 'com.test.libc', ipkWithControl('com.test.libc', '1.0', {}))).statusValue).toBe(30);
    const r2 = last(await install(d.root, 'com.test.app', app));
    expect(r2.details.reason).toBe('unmet dependencies: com.test.liba (>= 2.0), com.test.libd');

    expect(last(await install(d.root, 'com.test.liba', ipkWithControl('com.test.liba', '2.0~rc1', {}))).statusValue).toBe(30);
    expect(last(await install(d.root, 'com.test.libd', ipkWithControl('com.test.libd', '1:0.1', {}))).statusValue).toBe(30);
    // 2.0~rc1 sorts before 2.0 (dpkg): still unmet
    expect(last(await install(d.root, 'com.test.app', app)).details.reason).toBe('unmet dependencies: com.test.liba (>= 2.0)');
    expect(last(await install(d.root, 'com.test.liba', ipkWithControl('com.test.liba', '2.0', {}))).statusValue).toBe(30);
    expect(last(await install(d.root, 'com.test.app', app)).statusValue).toBe(30);

    const rm = last(await remove(d.root, 'com.test.liba'));
    expect(rm).toMatchObject({ statusValue: 25, details: { state: 'remove failed', errorCode: -206, reason: 'com.test.liba is needed by installed package: com.test.app' } });
    expect(fs.existsSync(path.join(d.root, 'media/cryptofs/apps/usr/palm/applications/com.test.liba'))).toBe(true);
    // libc is one alternative of "libb | libc": with libb absent it is needed too
    expect(last(await remove(d.root, 'com.test.libc')).details.reason).toBe('com.test.libc is needed by installed package: com.test.app');
    expect(last(await remove(d.root, 'com.test.app')).statusValue).toBe(31);
    expect(last(await remove(d.root, 'com.test.liba')).statusValue).toBe(31);

    const bad = last(await install(d.root, 'com.test.bad', ipkWithControl('com.test.bad', '1.0', { Depends: 'com.test.liba (>= )' })));
    expect(bad).toMatchObject({ statusValue: 24, details: { errorCode: -204 } });
    const sections = await call(d.root, `${S}/installed`, { section: 'misc' });
    expect(sections.packages.map((p: Json) => p.id).sort()).toEqual(['com.test.libc', 'com.test.libd']);
    expect(sections.packages[0]).toEqual({ id: 'com.test.libc', version: '1.0', type: 'web', section: 'misc', developer: false, locked: false });
    expect((await call(d.root, `${S}/installed`, { section: 'games' })).packages).toEqual([]);
  } finally {
    await d.stop();
  }
});

test('storage details and reset on an app with data; aux metadata survives a restart and goes with the app', async () => {
  let d: Daemon = await started({ config: { storageQuotas: { apps: 10240, persistent: 2048 } } });
  const id = 'com.test.data';
  try {
    const ipk = await makeIpk(tmp, id, '1.0.0', { files: { 'big.txt': 'x'.repeat(200 * 1024) } });
    expect(last(await install(d.root, id, ipk)).statusValue).toBe(30);
    const dataDir = path.join(d.root, 'media/internal/appdata', id);
    expect(fs.statSync(dataDir).isDirectory()).toBe(true);
    fs.mkdirSync(path.join(dataDir, 'db'));
    fs.writeFileSync(path.join(dataDir, 'db/state.bin'), Buffer.alloc(300 * 1024, 1));
    fs.writeFileSync(path.join(dataDir, 'prefs.json'), '{}');

    const det = await call(d.root, `${S}/storage/details`, { id });
    expect(det.returnValue).toBe(true);
    expect(det.apps).toMatchObject({ path: path.join(d.root, 'media/cryptofs/apps/usr/palm/applications', id), quotaKB: 10240 });
    expect(det.apps.usedKB).toBeGreaterThanOrEqual(200);
    expect(det.persistent).toMatchObject({ path: dataDir, quotaKB: 2048 });
    expect(det.persistent.usedKB).toBeGreaterThanOrEqual(300);
    const all = await call(d.root, `${S}/storage/details`, {});
    expect(all.persistent).toMatchObject({ path: path.join(d.root, 'media/internal/appdata'), quotaKB: null });

    expect(await call(d.root, `${S}/storage/reset`, { id })).toEqual({ returnValue: true, removed: 2 });
    expect(fs.readdirSync(dataDir)).toEqual([]);
    expect((await call(d.root, `${S}/storage/details`, { id })).persistent.usedKB).toBeLessThan(16);
    expect(await call(d.root, `${S}/storage/reset`, { id: 'com.test.none' })).toMatchObject({ returnValue: false, errorCode: -2, errorText: 'app is not installed: com.test.none' });
    expect(await call(d.root, `${S}/storage/details`, { id: '../../etc' })).toMatchObject({ returnValue: false, errorCode: -2 });

    // aux metadata
    expect(await call(d.root, `${S}/metadata/setAux`, { id, key: 'channel', value: 'beta' })).toEqual({ returnValue: true });
    expect(await call(d.root, `${S}/metadata/setAux`, { id, key: 'rating', value: '5' })).toEqual({ returnValue: true });
    expect(await call(d.root, `${S}/metadata/clearAux`, { id, key: 'rating', value: '4' })).toEqual({ returnValue: true, cleared: false });
    expect(await call(d.root, `${S}/metadata/setAux`, { id: 'com.test.none', key: 'k', value: 'v' })).toMatchObject({ returnValue: false, errorCode: -2 });
    expect(await call(d.root, `${S}/metadata/setAux`, { id, key: 'k', value: 'v'.repeat(2000) })).toMatchObject({ returnValue: false, errorCode: -2 });
    await d.stop();
    d = await started({ root: d.root });
    const md = await call(d.root, `${S}/metadata/get`, { id });
    expect(md.aux).toEqual({ channel: 'beta', rating: '5' });
    expect(md.metadata.appinfo).toMatchObject({ id, version: '1.0.0', type: 'web' });
    expect(md.metadata.packageinfo).toMatchObject({ id, version: '1.0.0' });
    expect(md.metadata.control).toMatchObject({ Package: id, Version: '1.0.0', Section: 'misc' });
    expect(await call(d.root, `${S}/metadata/clearAux`, { id, key: 'rating' })).toEqual({ returnValue: true, cleared: true });
    expect((await call(d.root, `${S}/metadata/get`, { id })).aux).toEqual({ channel: 'beta' });

    // removed with the app: aux metadata and persistent data
    expect(last(await remove(d.root, id)).statusValue).toBe(31);
    expect(fs.existsSync(dataDir)).toBe(false);
    expect(await call(d.root, `${S}/metadata/get`, { id })).toMatchObject({ returnValue: false, errorCode: -2 });
    expect(last(await install(d.root, id, ipk)).statusValue).toBe(30);
    expect((await call(d.root, `${S}/metadata/get`, { id })).aux).toEqual({});
    expect(fs.readdirSync(dataDir)).toEqual([]);
  } finally {
    await d.stop();
  }
});

test('a uid 65534 caller (luna-send-pub) is denied every new method; root is allowed', async () => {
  const d = await started();
  try {
    const calls: Array<[string, Json]> = [
      ['operations/list', {}], ['operations/get', { handle: '1' }], ['operations/cancel', { handle: '1' }],
      ['lock', { id: 'a.b', reason: 'r', owner: 'o' }], ['unlock', { handle: '1' }], ['getLockInfo', { id: 'a.b' }],
      ['metadata/get', { id: 'a.b' }], ['metadata/setAux', { id: 'a.b', key: 'k', value: 'v' }], ['metadata/clearAux', { id: 'a.b', key: 'k' }],
      ['storage/details', {}], ['storage/reset', { id: 'a.b' }], ['installed', {}],
    ];
    for (const [m, p] of calls) {
      const r = await call(d.root, `${S}/${m}`, p, { pub: true, uid: NOBODY });
      const method = m.split('/').pop();
      expect([m, r.returnValue, r.errorCode, r.errorText]).toEqual([m, false, -1, expect.stringMatching(new RegExp(`^Denied method call "${method}" for category`))]);
    }
    expect(await call(d.root, `${S}/installed`, {})).toEqual({ returnValue: true, packages: [] });
    expect(await call(d.root, `${S}/operations/list`, {})).toEqual({ returnValue: true, subscribed: false, operations: [] });
  } finally {
    await d.stop();
  }
});
