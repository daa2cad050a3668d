// Firmware packages (control Section: firmware; docs/appinstall.md "Firmware packages") through the real daemon and
// luna-send: install at <root>/lib/firmware/<name>/, upgrade, listed apart from apps, remove; the hand-off command;
// hostile firmware packages refused with stage 24 and nothing left; /dev/install and uid 65534 refused; a crash at each
// step boundary of a fresh install, an upgrade and a remove leaves the old or the new firmware whole after restart; the
// engine methods (/lock, /metadata/*, /storage/*) on a firmware id.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Stage, ErrorCode, ErrorText } from '../status-codes';
import { LunaClient } from '../ipc/client';
import { call, install, remove, startDaemon, killAllChildren, makeIpk, makeRoot, type Daemon, type Json } from './helpers/appinstall-daemon';
import { buildTar, controlText, controlTgz, gz, ipkOf, type TarEntry } from './helpers/ipk-corpus';
import { runningTasks, runTask, taskFaultPoints, waitForMethods, withDaemonClient } from './helpers/crash-tree';
import { parseDaemonConfig } from '../services/appinstall/daemon-config';

const FW = 'wifi-fw';
const AS = 'luna://com.webos.appInstallService';
const AM = 'luna://com.webos.applicationManager';
let work: string;
const roots: string[] = [];
const last = (lines: Json[]) => lines[lines.length - 1];

/** Entries of a well-formed firmware package: lib/, lib/firmware/, lib/firmware/<name>/ and its files. */
function fwEntries(name: string, files: Record<string, string>): TarEntry[] {
  return [
    { path: 'lib/', type: 'dir' },
    { path: 'lib/firmware/', type: 'dir' },
    { path: `lib/firmware/${name}/`, type: 'dir' },
    ...Object.entries(files).map(([f, body]) => ({ path: `lib/firmware/${name}/${f}`, body })),
  ];
}

function writeFwIpk(file: string, name: string, version: string, entries: TarEntry[]): string {
  const control = controlTgz(controlText(name, { Version: version, Section: 'firmware', Description: 'Wi-Fi firmware' }));
  fs.writeFileSync(file, ipkOf(gz(buildTar(entries)), control));
  fs.chmodSync(file, 0o644);
  return file;
}

const fwIpk = (version: string, files: Record<string, string>, name = FW) => writeFwIpk(path.join(work, `${name}_${version}.ipk`), name, version, fwEntries(name, files));
const fwDir = (root: string, name = FW) => path.join(root, 'lib/firmware', name);

/** Every path under <root>/lib/firmware with its content hash (the firmware root's empty containers left out). */
function fwSnapshot(root: string): Record<string, string> {
  const base = path.join(root, 'lib/firmware');
  const out: Record<string, string> = {};
  const skip = new Set(['.appinstalld/', '.appinstalld/info/', '.appinstalld-staging/']);
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const rel = path.relative(base, p) + (e.isDirectory() ? '/' : '');
      if (e.isDirectory()) {
        if (!skip.has(rel)) out[rel] = 'dir';
        walk(p);
      } else out[rel] = e.isFile() ? crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex') : 'other';
    }
  };
  if (fs.existsSync(base)) walk(base);
  return out;
}

/** Staging entries and journal records a task must never leave behind. */
function fwLeftovers(root: string): string[] {
  const staging = path.join(root, 'lib/firmware/.appinstalld-staging');
  const journal = path.join(root, 'var/lib/appinstalld/journal');
  return [
    ...(fs.existsSync(staging) ? fs.readdirSync(staging).map((n) => `staging: ${n}`) : []),
    ...(fs.existsSync(journal) ? fs.readdirSync(journal).map((n) => `journal: ${n}`) : []),
  ];
}

let v1: string;
let v2: string;

beforeAll(() => {
  work = fs.mkdtempSync('/tmp/ai-fw-');
  fs.chmodSync(work, 0o755); // uid 65534 must be able to read the packages it is refused for
  v1 = fwIpk('1.0.0', { 'blob.bin': 'firmware one\n', 'only-in-1.txt': 'one\n' });
  v2 = fwIpk('2.0.0', { 'blob.bin': 'firmware two\n', 'only-in-2.txt': 'two\n' });
});

afterAll(() => {
  killAllChildren();
  for (const r of [work, ...roots]) if (r) fs.rmSync(r, { recursive: true, force: true });
});

describe('a firmware package end to end (one daemon, hand-off configured)', () => {
  let d: Daemon;
  let handoffLog: string;
  beforeAll(async () => {
    const root = makeRoot();
    roots.push(root);
    handoffLog = path.join(work, 'handoff.log');
    const script = path.join(work, 'handoff.sh');
    fs.writeFileSync(script, `#!/bin/sh\necho "dir=$1" >> '${handoffLog}'\nls "$1" >> '${handoffLog}'\n`, { mode: 0o755 });
    d = await startDaemon({ root, config: { firmwareHandoff: [script] } });
  });
  afterAll(async () => d?.stop());

  test('installs at <root>/lib/firmware/<name>/, handed off, listed apart from apps; upgrades; removes', async () => {
    const app = await makeIpk(work, 'com.example.fwneighbour', '1.0.0');
    expect(last((await install(d.root, 'com.example.fwneighbour', app)).lines).statusValue).toBe(Stage.INSTALLED.statusValue);

    const inst = await install(d.root, FW, v1);
    expect(last(inst.lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue, details: { packageId: FW } });
    // the same webOS stage stream as an app install
    expect(inst.lines.map((l) => l.statusValue)).toEqual(expect.arrayContaining([Stage.VERIFY_COMPLETE.statusValue, Stage.INSTALL_COMPLETE.statusValue]));
    expect(fs.readFileSync(path.join(fwDir(d.root), 'blob.bin'), 'utf8')).toBe('firmware one\n');
    expect(fs.readdirSync(fwDir(d.root)).sort()).toEqual(['blob.bin', 'only-in-1.txt']);
    expect(fs.existsSync(path.join(d.root, 'media/cryptofs/apps/usr/palm/applications', FW))).toBe(false);
    expect(fs.existsSync(path.join(d.root, 'media/internal/appdata', FW))).toBe(false);
    expect(fs.readFileSync(handoffLog, 'utf8')).toBe(`dir=${fwDir(d.root)}\nblob.bin\nonly-in-1.txt\n`);

    const fwOnly = await call(d.root, `${AS}/installed`, { section: 'firmware' });
    expect(fwOnly).toEqual({ returnValue: true, packages: [{ id: FW, version: '1.0.0', type: 'firmware', section: 'firmware', developer: false, locked: false }] });
    const all = await call(d.root, `${AS}/installed`, {});
    expect(all.packages.find((p: Json) => p.id === FW)).toMatchObject({ section: 'firmware' });
    expect(all.packages.find((p: Json) => p.id === 'com.example.fwneighbour')).toMatchObject({ section: expect.not.stringMatching(/^firmware$/) });
    const apps = await call(d.root, `${AM}/listApps`, {});
    expect(apps.returnValue).toBe(true);
    expect(apps.apps.map((a: Json) => a.id)).toContain('com.example.fwneighbour');
    expect(apps.apps.map((a: Json) => a.id)).not.toContain(FW);
    const ops = await call(d.root, `${AS}/operations/list`, {});
    expect(ops.operations.filter((o: Json) => o.id === FW)).toEqual([expect.objectContaining({ kind: 'firmware', state: 'succeeded', version: '1.0.0' })]);

    const up = await install(d.root, FW, v2);
    expect(last(up.lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue });
    expect(fs.readdirSync(fwDir(d.root)).sort()).toEqual(['blob.bin', 'only-in-2.txt']);
    expect(fs.readFileSync(path.join(fwDir(d.root), 'blob.bin'), 'utf8')).toBe('firmware two\n');
    expect((await call(d.root, `${AS}/installed`, { section: 'firmware' })).packages).toEqual([expect.objectContaining({ id: FW, version: '2.0.0' })]);
    // a downgrade is refused as for apps, the installed firmware kept
    const down = await install(d.root, FW, v1);
    expect(last(down.lines)).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { reason: expect.stringContaining(ErrorText.DOWNGRADE_REFUSED) } });
    expect(fs.readFileSync(path.join(fwDir(d.root), 'blob.bin'), 'utf8')).toBe('firmware two\n');

    const rm = await remove(d.root, FW);
    expect(last(rm.lines)).toMatchObject({ statusValue: Stage.REMOVED.statusValue });
    expect(fs.existsSync(fwDir(d.root))).toBe(false);
    expect((await call(d.root, `${AS}/installed`, { section: 'firmware' })).packages).toEqual([]);
    expect(fwSnapshot(d.root)).toEqual({});
    expect(fwLeftovers(d.root)).toEqual([]);
    // the app next to it is untouched
    expect((await call(d.root, `${AS}/installed`, {})).packages.map((p: Json) => p.id)).toEqual(['com.example.fwneighbour']);
  });

  test('an app package and a firmware package cannot share a name', async () => {
    const clash = fwIpk('1.0.0', { 'x.bin': 'x' }, 'com.example.fwneighbour');
    const r = await install(d.root, 'com.example.fwneighbour', clash);
    expect(last(r.lines)).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { reason: expect.stringContaining(ErrorText.FIRMWARE_NAME_TAKEN) } });
    expect(fs.existsSync(fwDir(d.root, 'com.example.fwneighbour'))).toBe(false);
  });

  const hostile: Array<[string, TarEntry[]]> = [
    ['a path outside lib/firmware/<name>/', [...fwEntries(FW, { 'a.bin': 'a' }), { path: 'lib/firmware/other-fw/', type: 'dir' }, { path: 'lib/firmware/other-fw/x.bin', body: 'x' }]],
    ['a file beside lib/firmware/', [...fwEntries(FW, { 'a.bin': 'a' }), { path: 'lib/evil.so', body: 'x' }]],
    ['etc/ in the data tree', [...fwEntries(FW, { 'a.bin': 'a' }), { path: 'etc/', type: 'dir' }, { path: 'etc/passwd', body: 'root::0:0::/:/bin/sh\n' }]],
    ['a symlink in its own folder', [...fwEntries(FW, { 'a.bin': 'a' }), { path: `lib/firmware/${FW}/link`, type: 'symlink', linkpath: '/etc/shadow' }]],
    ['a hard link in its own folder', [...fwEntries(FW, { 'a.bin': 'a' }), { path: `lib/firmware/${FW}/hard`, type: 'link', linkpath: `lib/firmware/${FW}/a.bin` }]],
    ['an app path mixed in', [...fwEntries(FW, { 'a.bin': 'a' }), { path: 'usr/', type: 'dir' }, { path: 'usr/palm/', type: 'dir' }, { path: 'usr/palm/applications/', type: 'dir' }, { path: `usr/palm/applications/${FW}/`, type: 'dir' }, { path: `usr/palm/applications/${FW}/appinfo.json`, body: '{}' }]],
    ['a file named lib/firmware/<name>', [{ path: 'lib/', type: 'dir' }, { path: 'lib/firmware/', type: 'dir' }, { path: `lib/firmware/${FW}`, body: 'not a folder' }]],
    ['a ../ path', [...fwEntries(FW, { 'a.bin': 'a' }), { path: `lib/firmware/${FW}/../../../x`, body: 'x' }]],
    ['no lib/firmware/<name>/ at all', [{ path: 'lib/', type: 'dir' }, { path: 'lib/firmware/', type: 'dir' }]],
  ];
  test.each(hostile)('hostile: %s is refused with stage 24, nothing left, the installed firmware kept', async (what, entries) => {
    expect(last((await install(d.root, FW, v1)).lines).statusValue).toBe(Stage.INSTALLED.statusValue);
    const before = fwSnapshot(d.root);
    const bad = writeFwIpk(path.join(work, `hostile-${what.replace(/\W+/g, '_')}.ipk`), FW, '9.0.0', entries);
    const r = await install(d.root, FW, bad);
    expect(last(r.lines)).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { errorCode: ErrorCode.INSTALL_FAILED } });
    expect(fwSnapshot(d.root)).toEqual(before);
    expect(fwLeftovers(d.root)).toEqual([]);
    expect(fs.existsSync(path.join(d.root, 'etc/passwd'))).toBe(false);
    expect(fs.existsSync(path.join(d.root, 'lib/evil.so'))).toBe(false);
    expect(last((await remove(d.root, FW)).lines).statusValue).toBe(Stage.REMOVED.statusValue);
  });

  test('a developer cannot install firmware: /dev/install refuses it (-15), a uid 65534 caller is refused either way', async () => {
    const c = await LunaClient.connect({ root: d.root });
    try {
      await c.callOne('luna://com.webos.service.devmode/setDevMode', { enabled: true });
      const dev = await install(d.root, 'com.ares.defaultName', v1, { dev: true, pub: true, uid: 65534 });
      expect(last(dev.lines)).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { errorCode: ErrorCode.PRIVILEGED_INSTALL_IN_DEVMODE, reason: expect.stringContaining(ErrorText.FIRMWARE_IN_DEVMODE) } });
      const devRoot = await install(d.root, FW, v1, { dev: true });
      expect(last(devRoot.lines)).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { errorCode: ErrorCode.PRIVILEGED_INSTALL_IN_DEVMODE } });
      // /install itself is not open to uid 65534 (ACG: applicationinstall.management), firmware or not
      const direct = await install(d.root, FW, v1, { pub: true, uid: 65534 });
      expect(last(direct.lines)).toMatchObject({ returnValue: false, errorText: expect.stringContaining('Denied method call') });
      expect(last(direct.lines).statusValue).toBeUndefined();
      expect(fs.existsSync(fwDir(d.root))).toBe(false);
      expect(fs.existsSync(path.join(d.root, 'media/developer/apps/lib'))).toBe(false);
      expect(fwLeftovers(d.root)).toEqual([]);
    } finally {
      await c.callOne('luna://com.webos.service.devmode/setDevMode', { enabled: false }).catch(() => undefined);
      await c.close();
    }
  });
});

test('the engine methods take a firmware id: a lock refuses remove and upgrade across a restart until unlocked; metadata, aux, storage; reset refused; unknown ids refused', async () => {
  const root = makeRoot();
  roots.push(root);
  const config = { storageQuotas: { apps: 10240, persistent: 2048 } };
  let d = await startDaemon({ root, config });
  try {
    const notInstalled = (id: string) => ({ returnValue: false, errorCode: ErrorCode.INVALID_PARAMETER, errorText: `${ErrorText.NOT_INSTALLED}: ${id}` });
    // not installed yet: refused as any unknown id
    expect(await call(root, `${AS}/lock`, { id: FW, reason: 'flashing', owner: 'fw-updater' })).toEqual(notInstalled(FW));
    expect(last((await install(root, FW, v1)).lines).statusValue).toBe(Stage.INSTALLED.statusValue);

    const locked = await call(root, `${AS}/lock`, { id: FW, reason: 'radio calibration running', owner: 'com.example.fwtool' });
    expect(locked).toEqual({ returnValue: true, handle: expect.stringMatching(/^[1-9][0-9]*$/) });
    expect(await call(root, `${AS}/getLockInfo`, { id: FW })).toEqual({ returnValue: true, reason: 'radio calibration running', owner: 'com.example.fwtool', handle: locked.handle });
    expect((await call(root, `${AS}/installed`, { section: 'firmware' })).packages).toEqual([expect.objectContaining({ id: FW, locked: true })]);
    const lockedText = `app ${FW} is locked by com.example.fwtool: radio calibration running`;
    const refusedWhileLocked = async () => {
      expect(last((await remove(root, FW)).lines)).toMatchObject({ statusValue: Stage.REMOVE_FAILED.statusValue, details: { errorCode: -207, reason: lockedText } });
      expect(last((await install(root, FW, v2)).lines)).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { errorCode: -207, reason: lockedText } });
      expect(last((await install(root, FW, v1)).lines)).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { errorCode: -207, reason: lockedText } });
      expect(fs.readFileSync(path.join(fwDir(root), 'blob.bin'), 'utf8')).toBe('firmware one\n');
      expect(fwLeftovers(root)).toEqual([]);
    };
    await refusedWhileLocked();

    // metadata: the control fields (no appinfo or packageinfo), and aux
    expect(await call(root, `${AS}/metadata/setAux`, { id: FW, key: 'region', value: 'eu' })).toEqual({ returnValue: true });
    expect(await call(root, `${AS}/metadata/setAux`, { id: FW, key: 'board', value: 'rev-b' })).toEqual({ returnValue: true });
    expect(await call(root, `${AS}/metadata/clearAux`, { id: FW, key: 'board' })).toEqual({ returnValue: true, cleared: true });
    const md = await call(root, `${AS}/metadata/get`, { id: FW });
    expect(md).toEqual({ returnValue: true, metadata: { appinfo: {}, packageinfo: {}, control: expect.objectContaining({ Package: FW, Version: '1.0.0', Section: 'firmware' }) }, aux: { region: 'eu' } });

    // storage: the firmware folder is its `apps` usage (no per-app quota); it has no persistent data
    const det = await call(root, `${AS}/storage/details`, { id: FW });
    const du = Number(execFileSync('du', ['-sk', fwDir(root)], { encoding: 'utf8' }).split('\t')[0]);
    expect(det).toEqual({ returnValue: true, apps: { path: fwDir(root), quotaKB: null, usedKB: du }, persistent: { path: null, quotaKB: null, usedKB: 0 } });
    expect(du).toBeGreaterThan(0);
    // reset is refused and changes nothing
    const before = fwSnapshot(root);
    expect(await call(root, `${AS}/storage/reset`, { id: FW })).toEqual({ returnValue: false, errorCode: ErrorCode.INVALID_PARAMETER, errorText: `${ErrorText.FIRMWARE_NO_DATA}: ${FW}` });
    expect(fwSnapshot(root)).toEqual(before);
    expect(fs.existsSync(path.join(root, 'media/internal/appdata', FW))).toBe(false);
    expect((await call(root, `${AS}/metadata/get`, { id: FW })).aux).toEqual({ region: 'eu' });

    // unknown ids are refused as before, by every method that takes an id
    for (const [m, p] of [['lock', { reason: 'r', owner: 'o' }], ['metadata/get', {}], ['metadata/setAux', { key: 'k', value: 'v' }], ['storage/details', {}], ['storage/reset', {}]] as Array<[string, Json]>) {
      expect([m, await call(root, `${AS}/${m}`, { id: 'no-such-fw', ...p })]).toEqual([m, notInstalled('no-such-fw')]);
    }

    // after a restart: still locked (remove and upgrade refused), the aux kept
    await d.stop();
    d = await startDaemon({ root, config });
    expect(await call(root, `${AS}/getLockInfo`, { id: FW })).toEqual({ returnValue: true, reason: 'radio calibration running', owner: 'com.example.fwtool', handle: locked.handle });
    expect((await call(root, `${AS}/metadata/get`, { id: FW })).aux).toEqual({ region: 'eu' });
    await refusedWhileLocked();

    expect(await call(root, `${AS}/unlock`, { handle: locked.handle })).toEqual({ returnValue: true });
    expect((await call(root, `${AS}/getLockInfo`, { id: FW })).errorCode).toBe(-208);
    expect(last((await install(root, FW, v2)).lines).statusValue).toBe(Stage.INSTALLED.statusValue);
    expect(fs.readFileSync(path.join(fwDir(root), 'blob.bin'), 'utf8')).toBe('firmware two\n');
    expect((await call(root, `${AS}/metadata/get`, { id: FW })).metadata.control).toMatchObject({ Version: '2.0.0' });
    // the aux goes with the firmware: gone once it is removed, absent when it comes back
    expect(last((await remove(root, FW)).lines).statusValue).toBe(Stage.REMOVED.statusValue);
    expect(await call(root, `${AS}/metadata/get`, { id: FW })).toEqual(notInstalled(FW));
    expect(fs.readFileSync(path.join(root, 'var/lib/appinstalld/engine/aux-metadata.json'), 'utf8')).not.toContain(FW);
    expect(last((await install(root, FW, v1)).lines).statusValue).toBe(Stage.INSTALLED.statusValue);
    expect((await call(root, `${AS}/metadata/get`, { id: FW })).aux).toEqual({});
  } finally {
    await d.stop();
  }
});

test('a failing hand-off command fails the operation with its reason, but the firmware stays installed', async () => {
  const script = path.join(work, 'handoff-fails.sh');
  fs.writeFileSync(script, '#!/bin/sh\necho "no device for $1" >&2\nexit 3\n', { mode: 0o755 });
  const d = await startDaemon({ config: { firmwareHandoff: [script] } });
  roots.push(d.root);
  try {
    const r = await install(d.root, FW, v1);
    expect(last(r.lines)).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { errorCode: ErrorCode.INSTALL_FAILED, reason: expect.stringContaining(ErrorText.FIRMWARE_HANDOFF_FAILED) } });
    expect(last(r.lines).details.reason).toContain('exit 3');
    expect(fs.readFileSync(path.join(fwDir(d.root), 'blob.bin'), 'utf8')).toBe('firmware one\n');
    expect((await call(d.root, `${AS}/installed`, { section: 'firmware' })).packages).toEqual([expect.objectContaining({ id: FW, version: '1.0.0' })]);
    const op = (await call(d.root, `${AS}/operations/list`, {})).operations.find((o: Json) => o.id === FW);
    expect(op).toMatchObject({ kind: 'firmware', state: 'failed', errorText: expect.stringContaining(ErrorText.FIRMWARE_HANDOFF_FAILED) });
    expect(fwLeftovers(d.root)).toEqual([]);
  } finally {
    await d.stop();
  }
});

test('firmwareHandoff and firmwareHandoffTimeoutSec in appinstalld.json: checked, a bad value is a clear error', () => {
  expect(parseDaemonConfig({ firmwareHandoff: ['/bin/fw-load', '-q'], firmwareHandoffTimeoutSec: 5 })).toMatchObject({ firmwareHandoff: ['/bin/fw-load', '-q'], firmwareHandoffTimeoutSec: 5 });
  expect(parseDaemonConfig({})).toMatchObject({ firmwareHandoff: null, firmwareHandoffTimeoutSec: 60 });
  for (const bad of [{ firmwareHandoff: '/bin/fw-load' }, { firmwareHandoff: [] }, { firmwareHandoff: [''] }, { firmwareHandoff: [1] }, { firmwareHandoffTimeoutSec: 0 }, { firmwareHandoffTimeoutSec: 1.5 }]) {
    expect(() => parseDaemonConfig(bad)).toThrow(new RegExp(`${ErrorText.BAD_DAEMON_CONFIG}.*${Object.keys(bad)[0]}`));
  }
});

test('a hand-off command that runs too long is killed after firmwareHandoffTimeoutSec; the firmware stays installed', async () => {
  const script = path.join(work, 'handoff-hangs.sh');
  fs.writeFileSync(script, '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
  const d = await startDaemon({ config: { firmwareHandoff: [script], firmwareHandoffTimeoutSec: 1 } });
  roots.push(d.root);
  try {
    const t0 = Date.now();
    const r = await install(d.root, FW, v1);
    expect(Date.now() - t0).toBeLessThan(15000);
    expect(last(r.lines)).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { reason: expect.stringContaining('killed after 1 s') } });
    expect(fs.readFileSync(path.join(fwDir(d.root), 'blob.bin'), 'utf8')).toBe('firmware one\n');
  } finally {
    await d.stop();
  }
});

test('recovery refuses a planted firmware journal that names anything but its own folder and record', async () => {
  const root = makeRoot();
  roots.push(root);
  const victim = path.join(root, 'etc/victim');
  fs.mkdirSync(path.dirname(victim), { recursive: true });
  fs.writeFileSync(victim, 'keep\n');
  const journal = path.join(root, 'var/lib/appinstalld/journal');
  fs.mkdirSync(journal, { recursive: true });
  const base = path.join(root, 'lib/firmware');
  const planted = { taskId: 'evil', op: 'install', phase: 'staged', packageId: FW, appRoot: base, developer: false, firmware: true,
    staging: path.join(base, '.appinstalld-staging/evil'), targets: [{ rel: '../../etc/victim', existedBefore: false, inNew: true }] };
  fs.writeFileSync(path.join(journal, 'evil.json'), JSON.stringify(planted));
  const d = await startDaemon({ root });
  await d.stop();
  expect(fs.readFileSync(victim, 'utf8')).toBe('keep\n');
  expect(fs.existsSync(path.join(journal, 'evil.json'))).toBe(true);
  expect(d.stderr()).toMatch(/journal of task "evil" refused.*not a path firmware wifi-fw owns/);
});

describe('a crash at each step boundary leaves the old or the new firmware whole', () => {
  type Op = 'fresh' | 'upgrade' | 'remove';
  const golden: { empty?: string; v1?: string } = {};
  const ref: Record<'absent' | 'v1' | 'v2', Record<string, string>> = {} as never;
  const trace: Record<Op, string[]> = { fresh: [], upgrade: [], remove: [] };
  const OPS: Record<Op, { from: () => string; old: 'absent' | 'v1'; target: 'absent' | 'v1' | 'v2'; commit: string; run: (c: LunaClient) => Promise<Json[]> }> = {
    fresh: { from: () => golden.empty!, old: 'absent', target: 'v1', commit: 'install.committed', run: (c) => runTask(c, 'install', { id: FW, ipkUrl: v1 }) },
    upgrade: { from: () => golden.v1!, old: 'v1', target: 'v2', commit: 'install.committed', run: (c) => runTask(c, 'install', { id: FW, ipkUrl: v2 }) },
    remove: { from: () => golden.v1!, old: 'v1', target: 'absent', commit: 'remove.committed', run: (c) => runTask(c, 'remove', { id: FW }) },
  };
  const copyRoot = (from: string) => {
    const root = makeRoot();
    execFileSync('cp', ['-a', `${from}/.`, root]);
    fs.rmSync(path.join(root, 'var/run'), { recursive: true, force: true });
    roots.push(root);
    return root;
  };
  const stateOf = (root: string): string => {
    const snap = fwSnapshot(root);
    for (const [k, r] of Object.entries(ref)) if (JSON.stringify(snap) === JSON.stringify(r)) return k;
    return `neither: ${JSON.stringify(snap)}`;
  };

  beforeAll(async () => {
    golden.empty = makeRoot();
    roots.push(golden.empty);
    await (await startDaemon({ root: golden.empty })).stop();
    ref.absent = fwSnapshot(golden.empty);
    const traced = (op: Op, root: string) => withDaemonClient(root, { APPINSTALLD_FAULT_TRACE: '1' }, async (c, stderr) => {
      const lines = await OPS[op].run(c);
      expect(last(lines).statusValue).toBe(op === 'remove' ? Stage.REMOVED.statusValue : Stage.INSTALLED.statusValue);
      trace[op] = taskFaultPoints(stderr());
    });
    golden.v1 = copyRoot(golden.empty);
    await traced('fresh', golden.v1);
    ref.v1 = fwSnapshot(golden.v1);
    const up = copyRoot(golden.v1);
    await traced('upgrade', up);
    ref.v2 = fwSnapshot(up);
    await traced('remove', copyRoot(golden.v1));
  }, 60000);

  test('the reference states differ and every run crosses its commit point', () => {
    expect(Object.keys(ref.v1)).toEqual(expect.arrayContaining([`${FW}/`, `${FW}/only-in-1.txt`, `.appinstalld/info/${FW}.control`, `.appinstalld/info/${FW}.list`]));
    expect(ref.v1[`${FW}/blob.bin`]).not.toBe(ref.v2[`${FW}/blob.bin`]);
    expect(ref.absent).toEqual({});
    for (const op of Object.keys(OPS) as Op[]) expect(trace[op]).toContain(`${OPS[op].commit}:1`);
    expect(trace.upgrade.filter((f) => f.startsWith('install.moved-aside')).length).toBe(3);
  });

  async function crashCase(op: Op, fault: string): Promise<string[]> {
    const o = OPS[op];
    const root = copyRoot(o.from());
    try {
      const d = await startDaemon({ root, env: { APPINSTALLD_FAULT: fault } });
      const c = await LunaClient.connect({ root });
      await waitForMethods(c);
      await o.run(c).catch(() => undefined);
      await c.close().catch(() => undefined);
      const exit = await d.exited;
      if (exit.signal !== 'SIGKILL') return [`${op} ${fault}: daemon did not die: ${JSON.stringify(exit)}`];
      const committed = trace[op].indexOf(fault) >= trace[op].indexOf(`${o.commit}:1`);
      return await withDaemonClient(root, {}, async (c2) => {
        const problems: string[] = [];
        const state = stateOf(root);
        const want = committed ? o.target : o.old;
        if (state !== want) problems.push(`${op} killed at ${fault}: ${state}, expected ${want}`);
        if (fwLeftovers(root).length) problems.push(`${op} killed at ${fault}: left ${fwLeftovers(root).join(', ')}`);
        if ((await runningTasks(c2)).length) problems.push(`${op} killed at ${fault}: tasks still running`);
        const listed = (await call(root, `${AS}/installed`, { section: 'firmware' })).packages.map((p: Json) => `${p.id} ${p.version}`);
        const wantListed = want === 'absent' ? [] : [`${FW} ${want === 'v1' ? '1.0.0' : '2.0.0'}`];
        if (JSON.stringify(listed) !== JSON.stringify(wantListed)) problems.push(`${op} killed at ${fault}: listed ${JSON.stringify(listed)}`);
        // installing again works and leaves exactly the clean result
        const again = await runTask(c2, 'install', { id: FW, ipkUrl: v2 });
        if (last(again).statusValue !== Stage.INSTALLED.statusValue || stateOf(root) !== 'v2') problems.push(`${op} killed at ${fault}: install afterwards: ${JSON.stringify(last(again))} ${stateOf(root)}`);
        return problems;
      });
    } catch (e) {
      return [`${op} killed at ${fault}: ${(e as Error).message}`];
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  }

  test.each(['fresh', 'upgrade', 'remove'] as Op[])('%s killed at every boundary: old before the commit point, new from it, nothing left', async (op) => {
    expect(trace[op].length).toBeGreaterThan(4);
    const problems: string[] = [];
    const queue = [...trace[op]];
    await Promise.all([0, 1].map(async () => {
      for (let f = queue.shift(); f; f = queue.shift()) problems.push(...(await crashCase(op, f)));
    }));
    expect(problems).toEqual([]);
  }, 180000);
});
