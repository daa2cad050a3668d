// Issue #10 class 1, as real processes: a developer package (installed by uid 65534 with luna-send-pub) reaches
// nothing beyond itself. Its manifest id cannot shadow a shipped or verified manifest, its names cannot be a verified
// package's or lie in (or above) a privileged name space, and bus files of such a package, if present from before,
// change nothing for anyone else. Each refusal is a clear code and text; root and others keep the bus; nothing stays.
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode, ErrorText, Stage } from '../status-codes';
import { packApp } from '../ipk/pack';
import { layout } from '../layout/paths';
import { packageBusFiles } from '../engine/bus-files';
import type { InstalledPackage } from '../engine/package-db';
import {
  startDaemon, killAllChildren, install, remove, call, listTree, type Daemon, type Json,
} from './helpers/appinstall-daemon';

const AS = 'luna://com.webos.appInstallService';
const BUS = 'luna://com.webos.service.bus';
const NOBODY = 65534;

let d: Daemon;
let work: string;
const last = (l: Json[]) => l[l.length - 1];

/** An app package with services whose services.json may declare more names (what ares-package would pack). */
async function pkgIpk(id: string, version: string, services: { id: string; names?: string[] }[] = []): Promise<string> {
  const src = fs.mkdtempSync(path.join(work, 'src-'));
  const appDir = path.join(src, id);
  fs.mkdirSync(appDir);
  fs.writeFileSync(path.join(appDir, 'appinfo.json'), JSON.stringify({ id, version, type: 'web', main: 'index.html', title: id, icon: 'icon.png' }));
  fs.writeFileSync(path.join(appDir, 'index.html'), 'x');
  fs.writeFileSync(path.join(appDir, 'icon.png'), 'x');
  const dirs: string[] = [];
  for (const s of services) {
    const sd = path.join(src, s.id);
    fs.mkdirSync(sd);
    fs.writeFileSync(path.join(sd, 'services.json'), JSON.stringify({ id: s.id, services: (s.names ?? [s.id]).map((name) => ({ name })) }));
    fs.writeFileSync(path.join(sd, 'package.json'), JSON.stringify({ name: s.id, main: 'main.js' }));
    fs.writeFileSync(path.join(sd, 'main.js'), '//\n');
    dirs.push(sd);
  }
  const out = path.join(d.root, 'media/developer/temp');
  fs.mkdirSync(out, { recursive: true });
  for (let p = out; p !== d.root; p = path.dirname(p)) fs.chmodSync(p, 0o755);
  const r = await packApp(appDir, dirs, { outDir: src });
  const dest = path.join(out, `${id}_${version}.ipk`);
  fs.renameSync(r.file, dest);
  fs.chmodSync(dest, 0o644);
  return dest;
}

const devInstall = async (ipk: string) => (await install(d.root, 'com.ares.defaultName', ipk, { dev: true, pub: true, uid: NOBODY })).lines;

/** Nothing of a refused developer package anywhere: app root, bus tree, staging, journal. */
function expectNothingLeftOf(id: string): void {
  const devApps = path.join(d.root, 'media/developer/apps');
  expect(listTree(devApps).filter((p) => p.includes(id))).toEqual([]);
  expect(listTree(path.join(d.root, 'var/luna-service2-dev')).filter((p) => p.includes(id))).toEqual([]);
  expect(listTree(path.join(devApps, '.appinstalld-staging'))).toEqual([]);
  expect(listTree(path.join(d.root, 'var/lib/appinstalld/journal'))).toEqual([]);
}

/** Root and an ordinary user are both still served. */
async function expectBusServesEveryone(tag: string): Promise<void> {
  expect(await call(d.root, `${AS}/status`, {})).toMatchObject({ returnValue: true });
  const ok = await install(d.root, `com.example.fine${tag}`, await pkgIpk(`com.example.fine${tag}`, '1.0.0'));
  expect(last(ok.lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue });
  expect(last((await remove(d.root, `com.example.fine${tag}`)).lines)).toMatchObject({ statusValue: Stage.REMOVED.statusValue });
  expect(last(await devInstall(await pkgIpk(`com.example.devfine${tag}`, '1.0.0')))).toMatchObject({ statusValue: Stage.INSTALLED.statusValue });
  expect(last((await remove(d.root, `com.example.devfine${tag}`, { dev: true, pub: true, uid: NOBODY })).lines)).toMatchObject({ statusValue: Stage.REMOVED.statusValue });
}

/** SIGHUP (reload the security files) and wait until the hub answers again. */
async function reloadPolicy(): Promise<void> {
  d.proc.kill('SIGHUP');
  await new Promise((r) => setTimeout(r, 300));
}

beforeAll(async () => {
  work = fs.mkdtempSync('/tmp/ai-w-');
  d = await startDaemon();
  expect(await call(d.root, 'luna://com.webos.service.devmode/setDevMode', { enabled: true })).toEqual({ returnValue: true, enabled: true });
});
afterAll(async () => {
  await d?.stop();
  killAllChildren();
  fs.rmSync(work, { recursive: true, force: true });
  if (d) fs.rmSync(d.root, { recursive: true, force: true });
});

test('(a) a developer package with the id of the shipped security manifest (higher version) is refused; root keeps the bus, also after a restart', async () => {
  const lines = await devInstall(await pkgIpk('appinstalld-default-policy', '99.0.0'));
  expect(last(lines)).toMatchObject({
    statusValue: Stage.INSTALL_FAILED.statusValue,
    details: { errorCode: ErrorCode.INSTALL_FAILED, reason: expect.stringContaining(ErrorText.NAME_TAKEN) },
  });
  expect(last(lines).details.reason).toContain('appinstalld-default-policy');
  expectNothingLeftOf('appinstalld-default-policy');
  await expectBusServesEveryone('a');
  await d.stop();
  d = await startDaemon({ root: d.root });
  await expectBusServesEveryone('a2');
});

test('(a) a manifest in an installed tree never shadows the shipped one, whatever its version', async () => {
  // as a developer package installed before this rule would have left it
  const devManifests = path.join(d.root, 'var/luna-service2-dev/manifests.d');
  fs.mkdirSync(devManifests, { recursive: true });
  fs.writeFileSync(path.join(devManifests, 'appinstalld-default-policy.json'), JSON.stringify({ id: 'appinstalld-default-policy', version: '99.0.0' }));
  const verManifests = path.join(d.root, 'var/luna-service2/manifests.d');
  fs.mkdirSync(verManifests, { recursive: true });
  fs.writeFileSync(path.join(verManifests, 'appinstalld-default-policy.json'), JSON.stringify({ id: 'appinstalld-default-policy', version: '98.0.0' }));
  await reloadPolicy();
  expect(await call(d.root, `${AS}/status`, {})).toMatchObject({ returnValue: true });
  await expectBusServesEveryone('b');
  fs.rmSync(path.join(devManifests, 'appinstalld-default-policy.json'));
  fs.rmSync(path.join(verManifests, 'appinstalld-default-policy.json'));
  await reloadPolicy();
});

test('(b) a developer package cannot ship a verified package\'s service, nor be credited with its API group', async () => {
  const bank = await install(d.root, 'com.example.bank', await pkgIpk('com.example.bank', '1.0.0', [{ id: 'com.example.bank.svc' }]));
  expect(last(bank.lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue });
  const allowed = () => call(d.root, `${BUS}/isCallAllowed`, { uri: 'luna://com.example.bank.svc/pay', requester: 'com.example' });
  expect(await allowed()).toEqual({ returnValue: true, allowed: false });

  // package "com.example" may ship services under "com.example.": it names the bank's service and one more of its own
  const lines = await devInstall(await pkgIpk('com.example', '1.0.0', [{ id: 'com.example.bank.svc', names: ['com.example.bank.svc', 'com.example.bank.svc.evil'] }]));
  expect(last(lines)).toMatchObject({
    statusValue: Stage.INSTALL_FAILED.statusValue,
    details: { errorCode: ErrorCode.INSTALL_FAILED, reason: expect.stringContaining(`${ErrorText.NAME_TAKEN}: "com.example.bank.svc" belongs to the verified package com.example.bank`) },
  });
  expectNothingLeftOf('com.example.bank.svc');
  expect(await allowed()).toEqual({ returnValue: true, allowed: false });

  // the same package's bus files, as an installer without this rule wrote them: they credit nothing
  const l = layout(d.root);
  const base = l.developerApps.base;
  const pkg: InstalledPackage = {
    packageId: 'com.example', version: '1.0.0', developer: true, base, control: {}, packageInfo: {},
    apps: [{ id: 'com.example', dir: path.join(base, 'usr/palm/applications/com.example'), appInfo: {} }],
    services: [{ id: 'com.example.bank.svc', dir: path.join(base, 'usr/palm/services/com.example.bank.svc'), servicesJson: { services: [{ name: 'com.example.bank.svc' }, { name: 'com.example.bank.svc.evil' }] } }],
    targets: [],
  };
  const files = packageBusFiles(pkg, l.volatileDevBus, d.root);
  for (const f of [...files.files, files.manifest]) { fs.mkdirSync(path.dirname(f.path), { recursive: true }); fs.writeFileSync(f.path, f.content); }
  await reloadPolicy();
  expect(await allowed()).toEqual({ returnValue: true, allowed: false });
  // the bank's own app still reaches its service
  expect(await call(d.root, `${BUS}/isCallAllowed`, { uri: 'luna://com.example.bank.svc/pay', requester: 'com.example.bank' })).toEqual({ returnValue: true, allowed: true });
  for (const f of [...files.files, files.manifest]) fs.rmSync(f.path);
  await reloadPolicy();

  // and the other way round: a verified package cannot take a developer package's service
  expect(last(await devInstall(await pkgIpk('com.example.devsvc', '1.0.0', [{ id: 'com.example.devsvc.s' }])))).toMatchObject({ statusValue: Stage.INSTALLED.statusValue });
  const clash = await install(d.root, 'com.example.devsvc.s', await pkgIpk('com.example.devsvc.s', '1.0.0'));
  expect(last(clash.lines)).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { reason: expect.stringContaining(ErrorText.NAME_TAKEN) } });
  expect(last((await remove(d.root, 'com.example.devsvc', { dev: true, pub: true, uid: NOBODY })).lines)).toMatchObject({ statusValue: Stage.REMOVED.statusValue });
  expect(last((await remove(d.root, 'com.example.bank')).lines)).toMatchObject({ statusValue: Stage.REMOVED.statusValue });
});

test.each(['com.webos', 'com.palm', 'com.lge', 'com'])('(c) a developer package "%s" (a privileged prefix itself, or above one) is refused with -15', async (id) => {
  const lines = await devInstall(await pkgIpk(id, '1.0.0'));
  expect(last(lines)).toMatchObject({
    statusValue: Stage.INSTALL_FAILED.statusValue,
    details: { errorCode: ErrorCode.PRIVILEGED_INSTALL_IN_DEVMODE, reason: expect.stringContaining(ErrorText.PRIVILEGED_INSTALL_IN_DEVMODE) },
  });
  expectNothingLeftOf(`applications/${id}`);
  const rm = await remove(d.root, id, { dev: true, pub: true, uid: NOBODY });
  expect(rm.lines[0]).toEqual({ returnValue: false, errorCode: ErrorCode.PRIVILEGED_REMOVE_IN_DEVMODE, errorText: ErrorText.PRIVILEGED_REMOVE_IN_DEVMODE, subscribed: false });
});

test('(c) a developer package cannot ship a service in a privileged name space under an ordinary-looking app', async () => {
  // package "com" may ship services under "com.": here com.webos.fake
  const lines = await devInstall(await pkgIpk('com', '1.0.0', [{ id: 'com.webos.fake' }]));
  expect(last(lines)).toMatchObject({ details: { errorCode: ErrorCode.PRIVILEGED_INSTALL_IN_DEVMODE } });
  expectNothingLeftOf('com.webos.fake');
  await expectBusServesEveryone('c');
});
