// Developer mode and the ares-cli flow, as ares-cli does it on a device: luna-send-pub as an unprivileged user
// (uid 65534) calling dev/install with the constant id "com.ares.defaultName", read by ares-cli's rule (docs/luna-send.md).
import fs from 'node:fs';
import path from 'node:path';
import { Stage, ErrorCode, ErrorText, BusErrorText, AppManagerErrorCode, AppManagerErrorText } from '../status-codes';
import {
  startDaemon, killAllChildren, install, remove, call, makeIpk, aresVerdict, type Daemon, type Json,
} from './helpers/appinstall-daemon';
import { NOBODY as NOBODY_USER } from './helpers/unprivileged';

const AS = 'luna://com.webos.appInstallService';
const DM = 'luna://com.webos.service.devmode';
const NOBODY = NOBODY_USER.uid;

let d: Daemon;
let work: string;
let temp: string;
const last = (l: Json[]) => l[l.length - 1];

/** Copies an ipk into <root>/media/developer/temp readable by uid 65534 (what ares-install does). */
function upload(ipk: string, name: string): string {
  fs.mkdirSync(temp, { recursive: true });
  for (let p = temp; p !== d.root; p = path.dirname(p)) fs.chmodSync(p, 0o755);
  const dest = path.join(temp, name);
  fs.copyFileSync(ipk, dest);
  fs.chmodSync(dest, 0o644);
  return dest;
}

beforeAll(async () => {
  d = await startDaemon();
  work = fs.mkdtempSync('/tmp/ai-w-');
  temp = path.join(d.root, 'media/developer/temp');
});
afterAll(async () => {
  await d?.stop();
  killAllChildren();
  fs.rmSync(work, { recursive: true, force: true });
  if (d) fs.rmSync(d.root, { recursive: true, force: true });
});

test('developer mode off: /dev methods are unknown; getDevMode says false', async () => {
  expect(await call(d.root, `${DM}/getDevMode`, {})).toEqual({ returnValue: true, enabled: false });
  const ipk = upload(await makeIpk(work, 'com.example.devapp', '1.0.0'), 'x.ipk');
  const r = await call(d.root, `${AS}/dev/install`, { id: 'com.ares.defaultName', ipkUrl: ipk, subscribe: true });
  expect(r).toMatchObject({ returnValue: false, errorCode: -1, errorText: BusErrorText.unknownMethod('install', '/dev') });
  expect((await call(d.root, `${AS}/dev/remove`, { id: 'com.example.devapp' })).errorText).toBe(BusErrorText.unknownMethod('remove', '/dev'));
  // and as the unprivileged user it is refused too
  const pub = await install(d.root, 'com.ares.defaultName', ipk, { dev: true, pub: true, uid: NOBODY });
  expect(aresVerdict(pub.lines, 'install')).toBe('failure');
});

test('the ares-cli flow as uid 65534 with developer mode on: dev/install then dev/remove succeed by ares-cli\'s rule', async () => {
  expect(await call(d.root, `${DM}/setDevMode`, { enabled: true })).toEqual({ returnValue: true, enabled: true });
  expect(fs.existsSync(path.join(d.root, 'var/luna/preferences/devmode_enabled'))).toBe(true);
  expect(await call(d.root, `${DM}/getDevMode`, {})).toEqual({ returnValue: true, enabled: true });

  const ipk = upload(await makeIpk(work, 'com.example.devapp', '1.0.0'), 'x.ipk');
  const r = await install(d.root, 'com.ares.defaultName', ipk, { dev: true, pub: true, uid: NOBODY });
  expect(r.lines[0]).toEqual({ returnValue: true, subscribed: true });
  expect(aresVerdict(r.lines, 'install')).toBe('success');
  for (const l of r.lines.slice(1)) expect(l).toMatchObject({ id: 'com.ares.defaultName', details: { verified: false } });
  expect(last(r.lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue, details: { packageId: 'com.example.devapp', installBasePath: path.join(d.root, 'media/developer/apps') } });
  const devApps = path.join(d.root, 'media/developer/apps');
  expect(fs.existsSync(path.join(devApps, 'usr/palm/applications/com.example.devapp/appinfo.json'))).toBe(true);
  expect(fs.existsSync(path.join(devApps, 'var/lib/opkg/info/com.example.devapp.control'))).toBe(true);
  expect(fs.existsSync(path.join(d.root, 'media/cryptofs/apps/usr/palm/applications/com.example.devapp'))).toBe(false);
  const devBus = path.join(d.root, 'var/luna-service2-dev');
  expect(fs.existsSync(path.join(devBus, 'roles.d/com.example.devapp.app.json'))).toBe(true);
  expect(fs.existsSync(path.join(devBus, 'manifests.d/com.example.devapp.json'))).toBe(true);
  expect(fs.existsSync(path.join(d.root, 'var/luna-service2/manifests.d/com.example.devapp.json'))).toBe(false);

  const devList = await call(d.root, 'luna://com.webos.applicationManager/dev/listApps', {});
  expect(devList.apps).toEqual([expect.objectContaining({ id: 'com.example.devapp', version: '1.0.0', developer: true })]);

  // the verified methods stay closed to the unprivileged user
  const denied = await call(d.root, `${AS}/install`, { id: 'com.example.devapp', ipkUrl: ipk }, { pub: true, uid: NOBODY });
  expect(denied.returnValue).toBe(false);

  const rm = await remove(d.root, 'com.example.devapp', { dev: true, pub: true, uid: NOBODY });
  expect(rm.lines[0]).toEqual({ returnValue: true, subscribed: true });
  expect(aresVerdict(rm.lines, 'remove')).toBe('success');
  expect(last(rm.lines)).toMatchObject({ statusValue: Stage.REMOVED.statusValue, details: { verified: false } });
  expect(fs.existsSync(path.join(devApps, 'usr/palm/applications/com.example.devapp'))).toBe(false);
  expect(fs.existsSync(path.join(devBus, 'roles.d/com.example.devapp.app.json'))).toBe(false);
  expect(fs.existsSync(path.join(devBus, 'manifests.d/com.example.devapp.json'))).toBe(false);
});

test('an unprivileged caller cannot make the root daemon read an ipk it cannot read itself', async () => {
  const secret = upload(await makeIpk(work, 'com.example.secret', '1.0.0'), 'secret.ipk');
  fs.chmodSync(secret, 0o600);
  const r = await install(d.root, 'com.ares.defaultName', secret, { dev: true, pub: true, uid: NOBODY });
  expect(r.lines[0]).toEqual({ returnValue: false, errorCode: ErrorCode.INVALID_PARAMETER, errorText: ErrorText.INVALID_IPKURL, subscribed: false });
  expect(aresVerdict(r.lines, 'install')).toBe('failure');
});

test('privileged package ids are refused on /dev/*: -15 install, -19 remove (texts ares-cli matches)', async () => {
  const ipk = upload(await makeIpk(work, 'com.webos.sneaky', '1.0.0'), 'sneaky.ipk');
  const r = await install(d.root, 'com.ares.defaultName', ipk, { dev: true, pub: true, uid: NOBODY });
  expect(aresVerdict(r.lines, 'install')).toBe('failure');
  expect(last(r.lines)).toMatchObject({
    statusValue: Stage.INSTALL_FAILED.statusValue,
    details: { errorCode: ErrorCode.PRIVILEGED_INSTALL_IN_DEVMODE, reason: expect.stringContaining(ErrorText.PRIVILEGED_INSTALL_IN_DEVMODE) },
  });
  expect(fs.existsSync(path.join(d.root, 'media/developer/apps/usr/palm/applications/com.webos.sneaky'))).toBe(false);
  const rm = await remove(d.root, 'com.lge.thing', { dev: true, pub: true, uid: NOBODY });
  expect(rm.lines[0]).toEqual({ returnValue: false, errorCode: ErrorCode.PRIVILEGED_REMOVE_IN_DEVMODE, errorText: ErrorText.PRIVILEGED_REMOVE_IN_DEVMODE, subscribed: false });
});

test('ares-launch as uid 65534: launch, dev/running and dev/closeByAppId work for apps installed in developer mode, and for no other app', async () => {
  const AM = 'luna://com.webos.applicationManager';
  const asDev = { pub: true, uid: NOBODY };
  // one app installed in developer mode by the developer, one verified app installed by root
  const devIpk = upload(await makeIpk(work, 'com.example.mine', '1.0.0'), 'mine.ipk');
  expect(aresVerdict((await install(d.root, 'com.ares.defaultName', devIpk, { dev: true, ...asDev })).lines, 'install')).toBe('success');
  const sysIpk = path.join(work, 'sys.ipk');
  fs.copyFileSync(await makeIpk(work, 'com.example.system', '1.0.0'), sysIpk);
  expect(last((await install(d.root, 'com.example.system', sysIpk)).lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue });

  // what ares-launch sends: {"id","subscribe":false,"params":{"displayAffinity":0}}, and ares-cli's "//" URI for launch
  const launchMine = await call(d.root, `${AM}//launch`, { id: 'com.example.mine', subscribe: false, params: { displayAffinity: 0 } }, asDev);
  expect(launchMine).toEqual({ returnValue: true, appId: 'com.example.mine' });
  const notMine = { returnValue: false, errorCode: AppManagerErrorCode.NOT_DEVELOPER_APP, errorText: AppManagerErrorText.notDeveloperApp('com.example.system') };
  expect(await call(d.root, `${AM}//launch`, { id: 'com.example.system', subscribe: false }, asDev)).toEqual(notMine);
  // root launches the verified app; the developer does not see it running, nor can close it
  expect(await call(d.root, `${AM}/launch`, { id: 'com.example.system' })).toEqual({ returnValue: true, appId: 'com.example.system' });
  const devRunning = await call(d.root, `${AM}/dev/running`, { subscribe: false }, asDev);
  expect(devRunning).toEqual({ returnValue: true, running: [expect.objectContaining({ id: 'com.example.mine' })] });
  expect((await call(d.root, `${AM}/running`, {})).running.map((r: Json) => r.id).sort()).toEqual(['com.example.mine', 'com.example.system']);
  expect(await call(d.root, `${AM}/dev/closeByAppId`, { id: 'com.example.system', subscribe: false }, asDev)).toEqual(notMine);
  expect(await call(d.root, `${AM}/dev/closeByAppId`, { id: 'com.example.unknown' }, asDev))
    .toEqual({ ...notMine, errorText: AppManagerErrorText.notDeveloperApp('com.example.unknown') });
  // the developer's other ways in stay shut: root-category running, closeByAppId and listApps are management only
  for (const m of ['running', 'closeByAppId', 'listApps', 'getAppInfo']) {
    expect(await call(d.root, `${AM}/${m}`, { id: 'com.example.system' }, asDev)).toEqual({ returnValue: false, errorCode: -1, errorText: BusErrorText.deniedMethodCall(m, '/') });
  }
  expect((await call(d.root, `${AM}/running`, {})).running.map((r: Json) => r.id).sort()).toEqual(['com.example.mine', 'com.example.system']);
  // closing its own app works, and only that one went
  expect(await call(d.root, `${AM}/dev/closeByAppId`, { id: 'com.example.mine', subscribe: false }, asDev)).toEqual({ returnValue: true, appId: 'com.example.mine', closed: true });
  expect(await call(d.root, `${AM}/dev/running`, {}, asDev)).toEqual({ returnValue: true, running: [] });
  expect((await call(d.root, `${AM}/running`, {})).running.map((r: Json) => r.id)).toEqual(['com.example.system']);

  // with developer mode off, the developer can do none of it, not even for its own app
  await call(d.root, `${DM}/setDevMode`, { enabled: false });
  expect(await call(d.root, `${AM}/launch`, { id: 'com.example.mine' }, asDev))
    .toEqual({ returnValue: false, errorCode: AppManagerErrorCode.DEVMODE_OFF, errorText: AppManagerErrorText.DEVMODE_OFF });
  expect((await call(d.root, `${AM}/dev/running`, {}, asDev)).errorText).toBe(BusErrorText.unknownMethod('running', '/dev'));
  expect((await call(d.root, `${AM}/dev/closeByAppId`, { id: 'com.example.mine' }, asDev)).errorText).toBe(BusErrorText.unknownMethod('closeByAppId', '/dev'));
  await call(d.root, `${DM}/setDevMode`, { enabled: true });
  await call(d.root, `${AM}/closeByAppId`, { id: 'com.example.system' });
});

test('turning developer mode off closes /dev at once; the flag persists across a restart', async () => {
  expect(await call(d.root, `${DM}/setDevMode`, { enabled: false })).toEqual({ returnValue: true, enabled: false });
  expect(fs.existsSync(path.join(d.root, 'var/luna/preferences/devmode_enabled'))).toBe(false);
  expect((await call(d.root, `${AS}/dev/install`, { id: 'x', ipkUrl: '/tmp/x.ipk' })).errorText).toBe(BusErrorText.unknownMethod('install', '/dev'));
  expect((await call(d.root, `${DM}/setDevMode`, {})).errorCode).toBe(ErrorCode.INVALID_PARAMETER);

  await call(d.root, `${DM}/setDevMode`, { enabled: true });
  await d.stop();
  d = await startDaemon({ root: d.root });
  expect(await call(d.root, `${DM}/getDevMode`, {})).toEqual({ returnValue: true, enabled: true });
  const ipk = upload(await makeIpk(work, 'com.example.after', '1.0.0'), 'after.ipk');
  expect(aresVerdict((await install(d.root, 'com.ares.defaultName', ipk, { dev: true, pub: true, uid: NOBODY })).lines, 'install')).toBe('success');
});
