// Untrusted JSON nesting and size as a hostile user shapes it: an appinfo.json 150,000 levels deep (refused at install;
// one already on disk does not break listApps/getAppInfo for anyone, across a restart) and request fields nested
// deep or large (refused at once, or not echoed into the events). Every accepted request ends in its final status and
// leaves no staging or journal behind (engine/steps.ts driveSteps).
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode, ErrorText, Stage } from '../status-codes';
import { buildTar, controlText, controlTgz, goodEntries, gz, ipkOf } from './helpers/ipk-corpus';
import { call, install, isFinal, killAllChildren, lunaSend, listTree, makeIpk, startDaemon, type Daemon } from './helpers/appinstall-daemon';
import { MAX_JSON_DEPTH } from '../ipk/json-bounds';

const AM = 'luna://com.webos.applicationManager';
let d: Daemon;
let work: string;
const last = <T>(a: T[]) => a[a.length - 1];
const deepText = (n: number) => '['.repeat(n) + ']'.repeat(n);

beforeAll(async () => {
  d = await startDaemon();
  work = fs.mkdtempSync('/tmp/ai-w-');
  fs.chmodSync(work, 0o755);
});
afterAll(async () => {
  await d?.stop();
  killAllChildren();
  fs.rmSync(work, { recursive: true, force: true });
  if (d) fs.rmSync(d.root, { recursive: true, force: true });
});

function leftovers(): string[] {
  const apps = path.join(d.root, 'media/cryptofs/apps');
  return [...listTree(path.join(apps, '.appinstalld-staging')), ...listTree(path.join(d.root, 'var/lib/appinstalld/journal'))];
}

test('an appinfo.json nested 150,000 deep is refused with the file named; listApps keeps working', async () => {
  const id = 'com.example.deep';
  const appinfo = `{"id":"${id}","version":"1.0.0","type":"web","main":"index.html","title":"t","icon":"icon.png","x":${deepText(150000)}}`;
  const entries = goodEntries(id).map((e) => (e.path.endsWith('/appinfo.json') ? { ...e, body: appinfo } : e));
  const ipk = path.join(work, 'deep.ipk');
  fs.writeFileSync(ipk, ipkOf(gz(buildTar(entries)), controlTgz(controlText(id))));
  const r = await install(d.root, id, ipk);
  expect(last(r.lines)).toMatchObject({
    statusValue: Stage.INSTALL_FAILED.statusValue,
    details: { errorCode: ErrorCode.INSTALL_FAILED, reason: expect.stringContaining(`appinfo.json is nested deeper than ${MAX_JSON_DEPTH} levels`) },
  });
  expect(fs.existsSync(path.join(d.root, 'media/cryptofs/apps/usr/palm/applications', id))).toBe(false);
  expect(leftovers()).toEqual([]);
  expect(await call(d.root, `${AM}/listApps`, {})).toMatchObject({ returnValue: true });
});

test('a deep appinfo.json already on disk (installed before) does not break listApps, dev/listApps or getAppInfo, across a restart', async () => {
  const ok = await makeIpk(work, 'com.example.fine', '1.0.0');
  expect(last((await install(d.root, 'com.example.fine', ok)).lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue });
  const bad = await makeIpk(work, 'com.example.old', '1.0.0');
  expect(last((await install(d.root, 'com.example.old', bad)).lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue });
  const file = path.join(d.root, 'media/cryptofs/apps/usr/palm/applications/com.example.old/appinfo.json');
  fs.writeFileSync(file, `{"id":"com.example.old","version":"1.0.0","type":"web","main":"i","title":"t","icon":"i","x":${deepText(150000)}}`);
  for (let round = 0; round < 2; round++) {
    // dev/listApps exists only while developer mode is on (services/appmanager/appmanager-service.ts).
    expect(await call(d.root, 'luna://com.webos.service.devmode/setDevMode', { enabled: true })).toMatchObject({ returnValue: true });
    const list = await call(d.root, `${AM}/listApps`, {});
    expect(list.returnValue).toBe(true);
    expect(list.apps.map((a: { id: string }) => a.id)).toContain('com.example.fine');
    expect(await call(d.root, `${AM}/dev/listApps`, {})).toMatchObject({ returnValue: true });
    expect(await call(d.root, `${AM}/getAppInfo`, { id: 'com.example.fine' })).toMatchObject({ returnValue: true, appId: 'com.example.fine' });
    if (round === 0) {
      await d.stop();
      d = await startDaemon({ root: d.root });
    }
  }
  fs.writeFileSync(file, JSON.stringify({ id: 'com.example.old', version: '1.0.0', type: 'web', main: 'i', title: 't', icon: 'i' }));
});

test('a request field nested deep is refused at once (-2); nothing is queued and the daemon serves on', async () => {
  const ipk = await makeIpk(work, 'com.example.req', '1.0.0');
  const payload = `{"id":"com.example.req","ipkUrl":${JSON.stringify(ipk)},"subscribe":true,"x":${deepText(3000)}}`;
  const r = await lunaSend(d.root, ['-i', 'luna://com.webos.appInstallService/install', payload], { until: isFinal });
  expect(r.lines[0]).toEqual({ returnValue: false, errorCode: ErrorCode.INVALID_PARAMETER, errorText: ErrorText.REQUEST_TOO_DEEP, subscribed: false });
  expect(leftovers()).toEqual([]);
  const ok = await install(d.root, 'com.example.req', ipk, { extra: { note: 'kept', x: JSON.parse(deepText(20)), big: 'b'.repeat(5000) } });
  const fin = last(ok.lines);
  expect(fin).toMatchObject({ statusValue: Stage.INSTALLED.statusValue, details: { note: 'kept' } });
  for (const l of ok.lines.slice(1)) {
    expect(l.details.x).toBeUndefined();
    expect(l.details.big).toBeUndefined();
  }
  expect(leftovers()).toEqual([]);
});
