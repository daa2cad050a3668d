// Issue #10 class 5, as real processes: a task's subscribed call hears that task only and ends with it. A /dev/install
// caller (uid 65534) must never receive an event of root's verified install or remove of the same id, whatever it
// did before; a refused request never subscribes; /status subscribers (root) still see every task.
import fs from 'node:fs';
import path from 'node:path';
import { Stage } from '../status-codes';
import {
  startDaemon, killAllChildren, install, remove, call, lunaSend, makeIpk, isFinal, type Daemon, type Json,
} from './helpers/appinstall-daemon';

const AS = 'luna://com.webos.appInstallService';
const NOBODY = 65534;
const VICTIM = 'com.example.victim';

let d: Daemon;
let work: string;

function upload(ipk: string, name: string): string {
  const temp = path.join(d.root, 'media/developer/temp');
  fs.mkdirSync(temp, { recursive: true });
  for (let p = temp; p !== d.root; p = path.dirname(p)) fs.chmodSync(p, 0o755);
  const dest = path.join(temp, name);
  fs.copyFileSync(ipk, dest);
  fs.chmodSync(dest, 0o644);
  return dest;
}

/** luna-send-pub -i as uid 65534; stops early (so the test fails fast) if any verified event reaches it. */
function devCall(method: 'install' | 'remove', payload: Json, seen: (l: Json) => void) {
  return lunaSend(d.root, ['-i', `${AS}/dev/${method}`, JSON.stringify({ ...payload, subscribe: true })], {
    pub: true, uid: NOBODY, onLine: seen, until: (l) => l.details?.verified === true, limitMs: 30000,
  });
}

beforeAll(async () => {
  d = await startDaemon();
  work = fs.mkdtempSync('/tmp/ai-w-');
  expect(await call(d.root, 'luna://com.webos.service.devmode/setDevMode', { enabled: true })).toEqual({ returnValue: true, enabled: true });
});
afterAll(async () => {
  await d?.stop();
  killAllChildren();
  fs.rmSync(work, { recursive: true, force: true });
  if (d) fs.rmSync(d.root, { recursive: true, force: true });
});

test('a /dev/install call under the id of a verified package hears its own task only, and ends with it', async () => {
  const devIpk = upload(await makeIpk(work, 'com.example.devthing', '1.0.0'), 'devthing.ipk');
  const lines: Json[] = [];
  let ownFinal!: () => void;
  const ownFinalP = new Promise<void>((r) => (ownFinal = r));
  const dev = devCall('install', { id: VICTIM, ipkUrl: devIpk }, (l) => { lines.push(l); if (isFinal(l)) ownFinal(); });
  await ownFinalP;

  // root installs, updates and removes the verified package of that id; its own subscriber hears every stage
  const verifiedIpk = await makeIpk(work, VICTIM, '1.0.0', { appInfo: { secretField: 'x' } });
  const r1 = await install(d.root, VICTIM, verifiedIpk, { extra: { secret: 'root-only' } });
  expect(r1.lines[r1.lines.length - 1]).toMatchObject({ statusValue: Stage.INSTALLED.statusValue, details: { verified: true, secret: 'root-only' } });
  const r2 = await remove(d.root, VICTIM);
  expect(r2.lines[r2.lines.length - 1]).toMatchObject({ statusValue: Stage.REMOVED.statusValue, details: { verified: true } });

  const res = await dev;
  expect(lines.filter((l) => l.details?.verified === true)).toEqual([]);
  expect(lines.filter((l) => JSON.stringify(l).includes('root-only'))).toEqual([]);
  // its own task: the call return, then its own events only, the last of them final; the call ended by itself
  expect(lines[0]).toEqual({ returnValue: true, subscribed: true });
  expect(lines.slice(1).every((l) => l.id === VICTIM && l.details?.verified === false)).toBe(true);
  expect(lines[lines.length - 1]).toMatchObject({ statusValue: Stage.INSTALLED.statusValue, details: { packageId: 'com.example.devthing' } });
  expect(res.code).toBe(0);
  // and the dev package is still there to be removed by its owner
  const rm = await remove(d.root, 'com.example.devthing', { dev: true, pub: true, uid: NOBODY });
  expect(rm.lines[rm.lines.length - 1]).toMatchObject({ statusValue: Stage.REMOVED.statusValue, details: { verified: false } });
});

test('a /dev call that fails or is refused leaves no subscription behind: root\'s later tasks reach no one else', async () => {
  const lines: Json[] = [];
  // accepted but failing (not a package): ends with its own 24
  const junk = path.join(d.root, 'media/developer/temp/junk.ipk');
  fs.writeFileSync(junk, 'not an ipk');
  fs.chmodSync(junk, 0o644);
  const failed = await devCall('install', { id: VICTIM, ipkUrl: junk }, (l) => lines.push(l));
  expect(failed.lines[failed.lines.length - 1]).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { verified: false } });
  expect(failed.code).toBe(0);
  // refused (no such id): no subscription at all
  const refused = await devCall('remove', { id: VICTIM }, (l) => lines.push(l));
  expect(refused.lines).toEqual([expect.objectContaining({ returnValue: false, subscribed: false })]);

  // while a /dev caller is subscribed to its own running task, a root task of another id never reaches it
  const devIpk = upload(await makeIpk(work, 'com.example.devslow', '1.0.0', { files: { 'big.bin': 'x'.repeat(2_000_000) } }), 'devslow.ipk');
  const devLines: Json[] = [];
  const dev = devCall('install', { id: VICTIM, ipkUrl: devIpk }, (l) => devLines.push(l));
  const other = await install(d.root, 'com.example.other', await makeIpk(work, 'com.example.other', '1.0.0'));
  expect(other.lines[other.lines.length - 1]).toMatchObject({ statusValue: Stage.INSTALLED.statusValue });
  const res = await dev;
  expect(devLines.every((l) => l.returnValue === true || (l.id === VICTIM && l.details?.verified === false))).toBe(true);
  expect(res.code).toBe(0);

  // root's verified install of the id, after all that: nobody else hears it (every /dev call above has ended)
  const r = await install(d.root, VICTIM, await makeIpk(work, VICTIM, '1.0.1'));
  expect(r.lines[r.lines.length - 1]).toMatchObject({ statusValue: Stage.INSTALLED.statusValue });
  expect([...lines, ...devLines].filter((l) => l.details?.verified === true)).toEqual([]);
});

test('/status subscribers (root) still see every task, verified and developer', async () => {
  const seen: Json[] = [];
  let subscribed!: () => void;
  const subscribedP = new Promise<void>((r) => (subscribed = r));
  const watcher = lunaSend(d.root, ['-i', `${AS}/status`, '{"subscribe":true}'], {
    onLine: (l) => { seen.push(l); if (l.returnValue === true) subscribed(); },
    until: (l) => l.id === 'com.example.devlast' && isFinal(l),
  });
  await subscribedP;
  await remove(d.root, VICTIM);
  const devIpk = upload(await makeIpk(work, 'com.example.devlast', '1.0.0'), 'devlast.ipk');
  await install(d.root, 'com.example.devlast', devIpk, { dev: true, pub: true, uid: NOBODY });
  await watcher;
  expect(seen.some((l) => l.id === VICTIM && l.statusValue === Stage.REMOVED.statusValue && l.details.verified === true)).toBe(true);
  expect(seen.some((l) => l.id === 'com.example.devlast' && l.statusValue === Stage.INSTALLED.statusValue && l.details.verified === false)).toBe(true);
});
