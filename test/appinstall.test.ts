// The install service end to end as root: real daemon process, luna-send processes, files on disk.
// Install, listApps, upgrade / reinstall / downgrade, validation texts, duplicates, locks, remove, a package with a service.
import fs from 'node:fs';
import path from 'node:path';
import { Stage, ErrorCode, ErrorText, AppManagerErrorCode, AppManagerErrorText, type StageName } from '../status-codes';
import { LunaClient } from '../ipc/client';
import { firstValueFrom } from 'rxjs';
import { filter, takeWhile, toArray } from 'rxjs/operators';
import {
  startDaemon, killAllChildren, install, remove, call, makeIpk, stageSequence, listTree, type Daemon, type Json,
} from './helpers/appinstall-daemon';
import { INSTALL_STEPS } from '../engine/install-steps';
import { REMOVE_STEPS } from '../engine/remove-steps';
import { stagesOf } from '../services/appinstall/stage-map';

const sv = (names: StageName[]) => names.map((n) => Stage[n].statusValue);
const INSTALL_SEQUENCE = sv([
  'PARSE_NEEDED', 'PARSE_COMPLETE', 'UPDATE_CHECK_NEEDED', 'UPDATE_CHECK_REQUESTED', 'UPDATE_CHECK_COMPLETE',
  'CLOSE_APP_NEEDED', 'CLOSE_APP_REQUESTED', 'CLOSE_APP_COMPLETE', 'VERIFY_NEEDED', 'VERIFY_REQUESTED', 'VERIFY_COMPLETE',
  'INSTALL_NEEDED', 'INSTALL_REQUESTED', 'INSTALL_START', 'INSTALL_UNPACKING', 'INSTALL_COMPLETE',
  'ROLES_NEEDED', 'ROLES_REQUESTED', 'ROLES_COMPLETE', 'INSTALLED',
]);
const REMOVE_SEQUENCE = sv([
  'CLOSE_APP_NEEDED', 'CLOSE_APP_REQUESTED', 'CLOSE_APP_COMPLETE', 'REMOVE_START', 'REMOVING',
  'REMOVE_SERVICES_NEEDED', 'REMOVE_SERVICES_COMPLETE', 'REMOVE_IPK_NEEDED', 'REMOVE_IPK_REQUESTED', 'REMOVE_IPK_COMPLETE',
  'REMOVE_DATA_NEEDED', 'REMOVE_DATA', 'REMOVE_DATA_COMPLETE', 'REMOVED',
]);
const AS = 'luna://com.webos.appInstallService';
const AM = 'luna://com.webos.applicationManager';

let d: Daemon;
let work: string;
let apps: string;
let bus: string;

beforeAll(async () => {
  d = await startDaemon();
  work = fs.mkdtempSync('/tmp/ai-w-');
  apps = path.join(d.root, 'media/cryptofs/apps');
  bus = path.join(d.root, 'var/luna-service2');
});
afterAll(async () => {
  await d?.stop();
  killAllChildren();
  fs.rmSync(work, { recursive: true, force: true });
  if (d) fs.rmSync(d.root, { recursive: true, force: true });
});

function last(lines: Json[]): Json {
  return lines[lines.length - 1];
}

test('the engine\'s step tables, in webOS words, pass through exactly the stage orders of docs/appinstall.md', () => {
  expect(sv(stagesOf('install', INSTALL_STEPS.map((s) => s.name)))).toEqual(INSTALL_SEQUENCE);
  expect(sv(stagesOf('remove', REMOVE_STEPS.map((s) => s.name)))).toEqual(REMOVE_SEQUENCE);
});

test('install as root: call return first, every stage in order, files and bus files in place, listApps shows it', async () => {
  const ipk = await makeIpk(work, 'com.example.one', '1.0.0');
  const r = await install(d.root, 'com.example.one', ipk);
  expect(r.lines[0]).toEqual({ returnValue: true, subscribed: true });
  expect(stageSequence(r.lines)).toEqual(INSTALL_SEQUENCE);
  const events = r.lines.slice(1);
  for (const e of events) {
    expect(Object.keys(e).sort()).toEqual(['details', 'id', 'statusValue']);
    expect(e.id).toBe('com.example.one');
    expect(e.details).toMatchObject({ ipkUrl: ipk, verified: true, installBasePath: apps });
    expect(e.details.client).toMatch(/^com\.webos\.lunasend-\d+$/);
    expect(e.details).not.toHaveProperty('subscribe');
    expect(e.details).not.toHaveProperty('id');
  }
  // details are sticky: packageId from parsing on, update from the update check on
  const afterParse = events.slice(events.findIndex((e) => e.statusValue === Stage.PARSE_COMPLETE.statusValue));
  for (const e of afterParse) expect(e.details.packageId).toBe('com.example.one');
  expect(last(events).details).toMatchObject({ state: Stage.INSTALLED.state, progress: 100, update: false, signature: 'unsigned' });
  const progress = events.filter((e) => e.statusValue === Stage.INSTALL_UNPACKING.statusValue).map((e) => e.details.progress);
  expect(progress.length).toBeGreaterThan(0);
  expect([...progress].sort((a, b) => a - b)).toEqual(progress);
  expect(progress[progress.length - 1]).toBe(100);

  expect(fs.readFileSync(path.join(apps, 'usr/palm/applications/com.example.one/index.html'), 'utf8')).toContain('1.0.0');
  expect(fs.readFileSync(path.join(apps, 'var/lib/opkg/info/com.example.one.control'), 'utf8')).toMatch(/^Package: com\.example\.one\nVersion: 1\.0\.0\n/);
  expect(JSON.parse(fs.readFileSync(path.join(apps, 'usr/palm/packages/com.example.one/packageinfo.json'), 'utf8'))).toMatchObject({ id: 'com.example.one' });
  expect(JSON.parse(fs.readFileSync(path.join(bus, 'roles.d/com.example.one.app.json'), 'utf8'))).toMatchObject({ appId: 'com.example.one' });
  expect(JSON.parse(fs.readFileSync(path.join(bus, 'client-permissions.d/com.example.one.app.json'), 'utf8'))).toEqual({ 'com.example.one': ['public'] });
  const manifest = JSON.parse(fs.readFileSync(path.join(bus, 'manifests.d/com.example.one.json'), 'utf8'));
  expect(manifest).toMatchObject({ id: 'com.example.one', version: '1.0.0', roleFiles: ['/var/luna-service2/roles.d/com.example.one.app.json'] });
  // nothing left in staging or the journal
  expect(listTree(path.join(apps, '.appinstalld-staging'))).toEqual([]);
  expect(listTree(path.join(d.root, 'var/lib/appinstalld/journal'))).toEqual([]);

  const list = await call(d.root, `${AM}/listApps`, {});
  expect(list.apps).toEqual(expect.arrayContaining([expect.objectContaining({ id: 'com.example.one', version: '1.0.0', title: 'App com.example.one', type: 'web', visible: true })]));
  const info = await call(d.root, `${AM}/getAppInfo`, { id: 'com.example.one' });
  expect(info).toMatchObject({ returnValue: true, appId: 'com.example.one', appInfo: { version: '1.0.0' } });
});

test('upgrade and reinstall succeed; a downgrade is refused unless allowDowngrade', async () => {
  const v1 = await makeIpk(work, 'com.example.up', '1.0.0');
  const v2 = await makeIpk(work, 'com.example.up', '1.2.0');
  const appDir = path.join(apps, 'usr/palm/applications/com.example.up');
  expect(last((await install(d.root, 'com.example.up', v1)).lines).statusValue).toBe(Stage.INSTALLED.statusValue);
  const up = await install(d.root, 'com.example.up', v2);
  expect(last(up.lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue, details: { update: true } });
  expect(fs.readFileSync(path.join(appDir, 'index.html'), 'utf8')).toContain('1.2.0');
  const again = await install(d.root, 'com.example.up', v2);
  expect(last(again.lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue, details: { update: true } });

  const down = await install(d.root, 'com.example.up', v1);
  expect(last(down.lines)).toMatchObject({
    statusValue: Stage.INSTALL_FAILED.statusValue,
    details: { state: Stage.INSTALL_FAILED.state, errorCode: ErrorCode.INSTALL_FAILED, reason: expect.stringContaining(ErrorText.DOWNGRADE_REFUSED) },
  });
  expect(fs.readFileSync(path.join(appDir, 'index.html'), 'utf8')).toContain('1.2.0');
  expect(fs.readFileSync(path.join(apps, 'var/lib/opkg/info/com.example.up.control'), 'utf8')).toContain('Version: 1.2.0');

  const forced = await install(d.root, 'com.example.up', v1, { extra: { allowDowngrade: true } });
  expect(last(forced.lines).statusValue).toBe(Stage.INSTALLED.statusValue);
  expect(fs.readFileSync(path.join(appDir, 'index.html'), 'utf8')).toContain('1.0.0');
  expect((await call(d.root, `${AM}/getAppInfo`, { id: 'com.example.up' })).appInfo.version).toBe('1.0.0');
});

test('validation errors are -2 with the texts of docs/appinstall.md and subscribed:false', async () => {
  const err = (code: number, text: string | RegExp) => ({ returnValue: false, errorCode: code, errorText: typeof text === 'string' ? text : expect.stringMatching(text), subscribed: false });
  const ipk = await makeIpk(work, 'com.example.val', '1.0.0');
  expect(await call(d.root, `${AM.replace('applicationManager', 'appInstallService')}/install`, { ipkUrl: ipk })).toEqual(err(ErrorCode.INVALID_PARAMETER, /"id"/));
  expect(await call(d.root, `${AS}/install`, { id: 'com.example.val' })).toEqual(err(ErrorCode.INVALID_PARAMETER, /"ipkUrl"/));
  expect(await call(d.root, `${AS}/install`, { id: 5, ipkUrl: ipk })).toEqual(err(ErrorCode.INVALID_PARAMETER, /id/));
  expect(await call(d.root, `${AS}/install`, { id: '', ipkUrl: ipk })).toEqual(err(ErrorCode.INVALID_PARAMETER, ErrorText.ID_EMPTY));
  expect(await call(d.root, `${AS}/install`, { id: 'com.example.val', ipkUrl: '' })).toEqual(err(ErrorCode.INVALID_PARAMETER, ErrorText.IPKURL_EMPTY));
  expect(await call(d.root, `${AS}/install`, { id: 'com.example.val', ipkUrl: 'relative/x.ipk' })).toEqual(err(ErrorCode.INVALID_PARAMETER, ErrorText.INVALID_IPKURL));
  expect(await call(d.root, `${AS}/install`, { id: 'com.example.val', ipkUrl: '/nonexistent/x.ipk' })).toEqual(err(ErrorCode.INVALID_PARAMETER, ErrorText.INVALID_IPKURL));
  expect(await call(d.root, `${AS}/install`, { id: 'com.example.val', ipkUrl: ipk.replace(/\.ipk$/, '.zip') })).toEqual(err(ErrorCode.INVALID_PARAMETER, ErrorText.INVALID_IPKURL));
  const dirIpk = path.join(work, 'dir.ipk');
  fs.mkdirSync(dirIpk, { recursive: true });
  expect(await call(d.root, `${AS}/install`, { id: 'com.example.val', ipkUrl: dirIpk })).toEqual(err(ErrorCode.INVALID_PARAMETER, ErrorText.INVALID_IPKURL));
  expect(await call(d.root, `${AS}/remove`, { id: 'com.example.notthere' })).toEqual(err(ErrorCode.INVALID_PARAMETER, ErrorText.NO_SUCH_ID));
  expect(await call(d.root, `${AS}/remove`, { id: '' })).toEqual(err(ErrorCode.INVALID_PARAMETER, ErrorText.ID_EMPTY));
  // extra keys are allowed
  const ok = await install(d.root, 'com.example.val', ipk, { extra: { somethingElse: { a: 1 } } });
  expect(last(ok.lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue, details: { somethingElse: { a: 1 } } });
});

test('/install refuses a package whose id differs from the request id ("appId is wrong"), leaving nothing', async () => {
  const ipk = await makeIpk(work, 'com.example.real', '1.0.0');
  const r = await install(d.root, 'com.example.claimed', ipk);
  expect(last(r.lines)).toMatchObject({
    id: 'com.example.claimed',
    statusValue: Stage.INSTALL_FAILED.statusValue,
    details: { errorCode: ErrorCode.INSTALL_FAILED, reason: expect.stringMatching(new RegExp(`^${ErrorText.APPID_WRONG}: `)), packageId: 'com.example.real' },
  });
  expect(fs.existsSync(path.join(apps, 'usr/palm/applications/com.example.real'))).toBe(false);
});

describe('with a bus client in the test process', () => {
  let c: LunaClient;
  beforeAll(async () => {
    c = await LunaClient.connect({ root: d.root });
  });
  afterAll(async () => {
    await c?.close();
  });

  test('a second request for an id with a task running gets -5 (install) / -7 (remove) duplicate command', async () => {
    const ipk = await makeIpk(work, 'com.example.dup', '1.0.0');
    const first = c.call(`${AS}/install`, { id: 'com.example.dup', ipkUrl: ipk, subscribe: true });
    const finalOfFirst = firstValueFrom(first.pipe(filter((p) => p.statusValue === Stage.INSTALLED.statusValue || p.statusValue === Stage.INSTALL_FAILED.statusValue)));
    const dupInstall = c.callOne(`${AS}/install`, { id: 'com.example.dup', ipkUrl: ipk });
    const dupRemove = c.callOne(`${AS}/remove`, { id: 'com.example.dup' });
    expect(await dupInstall).toEqual({ returnValue: false, errorCode: ErrorCode.INSTALL_FAILED, errorText: ErrorText.DUPLICATE_COMMAND, subscribed: false });
    // remove of a not-yet-installed id: No such id or duplicate; both are refusals without a task
    expect((await dupRemove).returnValue).toBe(false);
    expect((await finalOfFirst).statusValue).toBe(Stage.INSTALLED.statusValue);

    const rm = c.call(`${AS}/remove`, { id: 'com.example.dup', subscribe: true });
    const rmFinal = firstValueFrom(rm.pipe(filter((p) => p.statusValue === Stage.REMOVED.statusValue || p.statusValue === Stage.REMOVE_FAILED.statusValue)));
    const dupRm = c.callOne(`${AS}/remove`, { id: 'com.example.dup' });
    const dupIn = c.callOne(`${AS}/install`, { id: 'com.example.dup', ipkUrl: ipk });
    expect(await dupRm).toEqual({ returnValue: false, errorCode: ErrorCode.REMOVE_FAILED, errorText: ErrorText.DUPLICATE_COMMAND, subscribed: false });
    expect(await dupIn).toEqual({ returnValue: false, errorCode: ErrorCode.INSTALL_FAILED, errorText: ErrorText.DUPLICATE_COMMAND, subscribed: false });
    expect((await rmFinal).statusValue).toBe(Stage.REMOVED.statusValue);
  });

  test('/status lists the running tasks and, subscribed, pushes their events', async () => {
    const ipk = await makeIpk(work, 'com.example.st', '1.0.0');
    const idle = await c.callOne(`${AS}/status`, {});
    expect(idle).toEqual({ returnValue: true, subscribed: false, status: { apps: [] } });
    const sub = c.call(`${AS}/status`, { subscribe: true });
    const seen = firstValueFrom(sub.pipe(takeWhile((e) => e.statusValue !== Stage.INSTALLED.statusValue, true), toArray()));
    const inst = c.call(`${AS}/install`, { id: 'com.example.st', ipkUrl: ipk });
    expect(await firstValueFrom(inst)).toEqual({ returnValue: true, subscribed: false });
    const during = await c.callOne(`${AS}/status`, {});
    expect(during.returnValue).toBe(true);
    const got = await seen;
    expect(got[0]).toMatchObject({ returnValue: true, subscribed: true, status: { apps: [] } });
    expect(got.slice(1).map((e) => e.statusValue).filter((v, i, a) => i === 0 || a[i - 1] !== v)).toEqual(INSTALL_SEQUENCE);
    expect(got.every((e, i) => i === 0 || (e.id === 'com.example.st' && !('returnValue' in e)))).toBe(true);
  });

  test('lockApp: a locked app is neither removed nor installed over (clear error), unlocked it is', async () => {
    const ipk = await makeIpk(work, 'com.example.lock', '1.0.0');
    expect(last((await install(d.root, 'com.example.lock', ipk)).lines).statusValue).toBe(Stage.INSTALLED.statusValue);
    expect(await c.callOne(`${AM}/lockApp`, { id: 'com.example.lock', lock: true })).toEqual({ returnValue: true, id: 'com.example.lock', locked: true });
    const rm = await remove(d.root, 'com.example.lock');
    expect(last(rm.lines)).toMatchObject({ statusValue: Stage.REMOVE_FAILED.statusValue, details: { errorCode: ErrorCode.REMOVE_FAILED, reason: expect.stringContaining(ErrorText.APP_LOCKED) } });
    const inst = await install(d.root, 'com.example.lock', ipk);
    expect(last(inst.lines)).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { errorCode: ErrorCode.INSTALL_FAILED, reason: expect.stringContaining(ErrorText.APP_LOCKED) } });
    expect(fs.existsSync(path.join(apps, 'usr/palm/applications/com.example.lock/index.html'))).toBe(true);
    expect(await c.callOne(`${AM}/closeByAppId`, { id: 'com.example.lock' })).toMatchObject({ returnValue: false, errorText: AppManagerErrorText.APP_LOCKED });
    await c.callOne(`${AM}/lockApp`, { id: 'com.example.lock', lock: false });
    expect(last((await remove(d.root, 'com.example.lock')).lines).statusValue).toBe(Stage.REMOVED.statusValue);
  });

  test('two requests with different ids for one package never run at once (/dev/install ids are free-form)', async () => {
    const ipk = await makeIpk(work, 'com.example.samepkg', '1.0.0');
    await c.callOne('luna://com.webos.service.devmode/setDevMode', { enabled: true });
    try {
      const events: Json[] = [];
      const run = (id: string) => firstValueFrom(c.call(`${AS}/dev/install`, { id, ipkUrl: ipk, subscribe: true }).pipe(
        filter((p) => {
          if (typeof p.statusValue === 'number') events.push(p);
          return p.statusValue === Stage.INSTALLED.statusValue || p.statusValue === Stage.INSTALL_FAILED.statusValue;
        }),
      ));
      const [a, b] = await Promise.all([run('com.ares.defaultName'), run('com.example.other-request')]);
      const failed = [a, b].filter((f) => f.statusValue === Stage.INSTALL_FAILED.statusValue);
      if (failed.length === 1) {
        expect(failed[0].details).toMatchObject({ errorCode: ErrorCode.INSTALL_FAILED, reason: expect.stringContaining(ErrorText.PACKAGE_BUSY) });
      } else {
        // both succeeded: then one finished before the other got past parsing
        expect(failed).toEqual([]);
        const firstDone = events.findIndex((e) => e.statusValue === Stage.INSTALLED.statusValue);
        const doneId = events[firstDone].id;
        const otherParsed = events.findIndex((e) => e.id !== doneId && e.statusValue === Stage.PARSE_COMPLETE.statusValue);
        expect(otherParsed).toBeGreaterThan(firstDone);
      }
    } finally {
      await c.callOne('luna://com.webos.service.devmode/setDevMode', { enabled: false });
    }
  });

  test('applicationManager: unknown ids are clear errors', async () => {
    expect(await c.callOne(`${AM}/getAppInfo`, { id: 'com.example.nothing' })).toEqual({ returnValue: false, errorCode: AppManagerErrorCode.APP_NOT_FOUND, errorText: AppManagerErrorText.APP_NOT_FOUND });
    expect(await c.callOne(`${AM}/launch`, { id: 'com.example.nothing' })).toMatchObject({ returnValue: false, errorCode: AppManagerErrorCode.APP_NOT_FOUND });
    expect(await c.callOne(`${AM}/closeByAppId`, { id: 'com.example.nothing' })).toEqual({ returnValue: true, appId: 'com.example.nothing', closed: false });
    expect((await c.callOne(`${AM}/getAppInfo`, {})).errorCode).toBe(ErrorCode.INVALID_PARAMETER);
  });

  test('a running app is closed by the installer (launch is bookkeeping only: there is no app runtime)', async () => {
    const ipk = await makeIpk(work, 'com.example.run', '1.0.0');
    await install(d.root, 'com.example.run', ipk);
    expect(await c.callOne(`${AM}/running`, {})).toEqual({ returnValue: true, running: [] });
    await c.callOne(`${AM}/launch`, { id: 'com.example.run' });
    expect((await c.callOne(`${AM}/running`, {})).running).toEqual([expect.objectContaining({ id: 'com.example.run' })]);
    expect(last((await install(d.root, 'com.example.run', ipk)).lines).statusValue).toBe(Stage.INSTALLED.statusValue);
    expect(await c.callOne(`${AM}/running`, {})).toEqual({ returnValue: true, running: [] });
  });
});

test('remove: stages in order, app files, database entries and bus files gone, listApps no longer shows it', async () => {
  const ipk = await makeIpk(work, 'com.example.rm', '1.0.0');
  await install(d.root, 'com.example.rm', ipk);
  fs.mkdirSync(path.join(apps, 'var/palm/data/com.example.rm'), { recursive: true });
  fs.writeFileSync(path.join(apps, 'var/palm/data/com.example.rm/state.json'), '{}');
  const r = await remove(d.root, 'com.example.rm');
  expect(r.lines[0]).toEqual({ returnValue: true, subscribed: true });
  expect(stageSequence(r.lines)).toEqual(REMOVE_SEQUENCE);
  expect(last(r.lines).details).toMatchObject({ state: Stage.REMOVED.state, progress: 100, packageId: 'com.example.rm', verified: true });
  for (const rel of ['usr/palm/applications/com.example.rm', 'usr/palm/packages/com.example.rm', 'var/lib/opkg/info/com.example.rm.control', 'var/lib/opkg/info/com.example.rm.list', 'var/palm/data/com.example.rm']) {
    expect(fs.existsSync(path.join(apps, rel))).toBe(false);
  }
  expect(listTree(bus).filter((f) => f.includes('com.example.rm'))).toEqual([]);
  const list = await call(d.root, `${AM}/listApps`, {});
  expect(list.apps.map((a: Json) => a.id)).not.toContain('com.example.rm');
});

test('a package with a service: service files, all five kinds of bus files, the hub applies them; all gone after remove', async () => {
  const svc = 'com.example.svcapp.service';
  const ipk = await makeIpk(work, 'com.example.svcapp', '1.0.0', { services: [svc] });
  const other = await makeIpk(work, 'com.example.other', '1.0.0');
  expect(last((await install(d.root, 'com.example.other', other)).lines).statusValue).toBe(Stage.INSTALLED.statusValue);
  expect(last((await install(d.root, 'com.example.svcapp', ipk)).lines).statusValue).toBe(Stage.INSTALLED.statusValue);
  expect(fs.existsSync(path.join(apps, `usr/palm/services/${svc}/services.json`))).toBe(true);
  const files = [
    'roles.d/com.example.svcapp.app.json', 'client-permissions.d/com.example.svcapp.app.json',
    `roles.d/${svc}.service.json`, `client-permissions.d/${svc}.service.json`, `api-permissions.d/${svc}.api.json`,
    `groups.d/${svc}.group.json`, `services.d/${svc}.service`, 'manifests.d/com.example.svcapp.json',
  ];
  for (const f of files) expect(fs.existsSync(path.join(bus, f))).toBe(true);
  expect(fs.readFileSync(path.join(bus, `services.d/${svc}.service`), 'utf8')).toMatch(new RegExp(`^\\[D-BUS Service\\]\\nName=${svc.replace(/\./g, '\\.')}\\n`));
  const manifest = JSON.parse(fs.readFileSync(path.join(bus, 'manifests.d/com.example.svcapp.json'), 'utf8'));
  expect(manifest.groupsFiles).toEqual([`/var/luna-service2/groups.d/${svc}.group.json`]);
  const allowed = (requester: string) => call(d.root, 'luna://com.webos.service.bus/isCallAllowed', { uri: `luna://${svc}/hello`, requester });
  expect(await allowed('com.example.svcapp')).toMatchObject({ returnValue: true, allowed: true });
  expect(await allowed('com.example.other')).toMatchObject({ returnValue: true, allowed: false });
  // the service is known to the hub from its service file
  expect((await call(d.root, `luna://${svc}/hello`, {})).errorText).toBe(`${svc} is not running.`);

  expect(last((await remove(d.root, 'com.example.svcapp')).lines).statusValue).toBe(Stage.REMOVED.statusValue);
  for (const f of files) expect(fs.existsSync(path.join(bus, f))).toBe(false);
  expect(fs.existsSync(path.join(apps, `usr/palm/services/${svc}`))).toBe(false);
  expect((await allowed('com.example.svcapp')).allowed).not.toBe(true);
  expect((await call(d.root, `luna://${svc}/hello`, {})).errorText).toBe(`Service does not exist: ${svc}.`);
});
