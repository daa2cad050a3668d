// Crash safety: the daemon SIGKILLs itself at each named step boundary (APPINSTALLD_FAULT) during an upgrade or a
// remove; after a restart (recovery before the methods open) the app is fully at its old or fully at its new version,
// database, files and bus files agreeing, with no staging or journal left.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { Stage } from '../status-codes';
import { FAULT_POINTS } from '../services/appinstall/fault-points';
import { startDaemon, killAllChildren, install, remove, call, makeIpk, listTree, type Json } from './helpers/appinstall-daemon';

const ID = 'com.example.crash';
const SVC = `${ID}.service`;
let work: string;
let golden: string;
let v2: string;
const roots: string[] = [];

beforeAll(async () => {
  work = fs.mkdtempSync('/tmp/ai-w-');
  const v1 = await makeIpk(work, ID, '1.0.0', { services: [SVC] });
  v2 = await makeIpk(work, ID, '2.0.0');
  const d = await startDaemon();
  golden = d.root;
  const r = await install(golden, ID, v1);
  expect(r.lines[r.lines.length - 1].statusValue).toBe(Stage.INSTALLED.statusValue);
  await d.stop();
}, 60000);
afterAll(() => {
  killAllChildren();
  for (const r of [work, golden, ...roots]) if (r) fs.rmSync(r, { recursive: true, force: true });
});

function copyGolden(): string {
  const root = fs.mkdtempSync('/tmp/ai-');
  fs.chmodSync(root, 0o755);
  execFileSync('cp', ['-a', `${golden}/.`, root]);
  fs.rmSync(path.join(root, 'var/run'), { recursive: true, force: true });
  roots.push(root);
  return root;
}

function readJson(p: string): Json | null {
  try {
    return JSON.parse(fs.readFileSync(p, 'utf8'));
  } catch {
    return null;
  }
}

/** What is installed, from every place that says so; throws when they disagree or leftovers exist. */
function installedVersion(root: string): string | null {
  const apps = path.join(root, 'media/cryptofs/apps');
  const bus = path.join(root, 'var/luna-service2');
  const control = fs.existsSync(path.join(apps, `var/lib/opkg/info/${ID}.control`))
    ? /Version: (.*)/.exec(fs.readFileSync(path.join(apps, `var/lib/opkg/info/${ID}.control`), 'utf8'))![1] : null;
  const seen = {
    control,
    appinfo: readJson(path.join(apps, `usr/palm/applications/${ID}/appinfo.json`))?.version ?? null,
    packageinfo: readJson(path.join(apps, `usr/palm/packages/${ID}/packageinfo.json`))?.version ?? null,
    index: fs.existsSync(path.join(apps, `usr/palm/applications/${ID}/index.html`)) ? /(\d+\.\d+\.\d+)/.exec(fs.readFileSync(path.join(apps, `usr/palm/applications/${ID}/index.html`), 'utf8'))![1] : null,
    manifest: readJson(path.join(bus, `manifests.d/${ID}.json`))?.version ?? null,
    list: fs.existsSync(path.join(apps, `var/lib/opkg/info/${ID}.list`)) ? control : null,
  };
  const versions = new Set(Object.values(seen));
  if (versions.size !== 1) throw new Error(`inconsistent after recovery: ${JSON.stringify(seen)}`);
  const v = [...versions][0];
  const service = fs.existsSync(path.join(apps, `usr/palm/services/${SVC}/services.json`));
  const serviceBus = [`roles.d/${SVC}.service.json`, `api-permissions.d/${SVC}.api.json`, `groups.d/${SVC}.group.json`, `services.d/${SVC}.service`].map((f) => fs.existsSync(path.join(bus, f)));
  const wantService = v === '1.0.0';
  if (service !== wantService || serviceBus.some((x) => x !== wantService)) throw new Error(`service files disagree with version ${v}: dir ${service}, bus ${serviceBus}`);
  const appBus = fs.existsSync(path.join(bus, `roles.d/${ID}.app.json`));
  if (appBus !== (v !== null)) throw new Error(`app role file ${appBus} but version ${v}`);
  const leftovers = [...listTree(path.join(apps, '.appinstalld-staging')), ...listTree(path.join(root, 'var/lib/appinstalld/journal'))];
  if (leftovers.length) throw new Error(`leftovers: ${leftovers.join(', ')}`);
  const stray = listTree(bus).filter((f) => !f.endsWith('/') && !f.includes(ID));
  if (stray.length) throw new Error(`stray bus files: ${stray.join(', ')}`);
  return v;
}

async function crashAt(root: string, fault: string, op: 'install' | 'remove'): Promise<void> {
  const d = await startDaemon({ root, env: { APPINSTALLD_FAULT: fault } });
  if (op === 'install') await install(root, ID, v2);
  else await remove(root, ID);
  const exit = await d.exited;
  expect([fault, exit.signal]).toEqual([fault, 'SIGKILL']);
}

/** Restarts the daemon (recovery runs before its methods open, so once it is open the disk is final). */
async function restartAndCheck(root: string, askListApps = false): Promise<string | null> {
  const d = await startDaemon({ root });
  try {
    const v = installedVersion(root);
    if (askListApps) {
      const list = await call(root, 'luna://com.webos.applicationManager/listApps', {});
      expect(list.apps.map((a: Json) => `${a.id}@${a.version}`)).toEqual(v ? [`${ID}@${v}`] : []);
    }
    return v;
  } finally {
    await d.stop();
  }
}

test('the golden root is consistent at 1.0.0', () => {
  expect(installedVersion(golden)).toBe('1.0.0');
});

test('every fault point is covered by this walk', () => {
  const walked = new Set([...INSTALL_CASES.map((c) => c[0]), ...REMOVE_CASES.map((c) => c[0]), 'rollback.restored'].map((f) => f.split(':')[0]));
  expect([...FAULT_POINTS].filter((p) => !walked.has(p))).toEqual([]);
});

// [fault, version expected after recovery]
const INSTALL_CASES: Array<[string, string]> = [
  ['install.begun', '1.0.0'],
  ['install.extracted', '1.0.0'],
  ['install.staged', '1.0.0'],
  ['install.moved-aside:1', '1.0.0'],
  ['install.moved-aside:3', '1.0.0'],
  ['install.placed:1', '1.0.0'],
  ['install.placed:3', '1.0.0'],
  ['install.bus-files', '1.0.0'],
  ['install.committed', '2.0.0'],
  ['install.hub-told', '2.0.0'],
];
const REMOVE_CASES: Array<[string, string | null]> = [
  ['remove.begun', '1.0.0'],
  ['remove.bus-files', '1.0.0'],
  ['remove.moved-aside:1', '1.0.0'],
  ['remove.committed', null],
];

test.each(INSTALL_CASES)('upgrade killed at %s: after restart the app is fully at %s', async (fault, want) => {
  const root = copyGolden();
  await crashAt(root, fault, 'install');
  expect(await restartAndCheck(root)).toBe(want);
});

test.each(REMOVE_CASES)('remove killed at %s: after restart the app is %s', async (fault, want) => {
  const root = copyGolden();
  await crashAt(root, fault, 'remove');
  expect(await restartAndCheck(root)).toBe(want);
});

test('a crash during the recovery\'s own rollback is finished by the next start', async () => {
  const root = copyGolden();
  await crashAt(root, 'install.placed:2', 'install');
  const d = await startDaemon({ root, env: { APPINSTALLD_FAULT: 'rollback.restored:1' } }).catch((e: Error) => e);
  expect(d).toBeInstanceOf(Error); // killed itself during recovery, before its methods opened
  expect(await restartAndCheck(root, true)).toBe('1.0.0');
  // and the daemon still upgrades it afterwards
  const again = await startDaemon({ root });
  try {
    const r = await install(root, ID, v2);
    expect(r.lines[r.lines.length - 1].statusValue).toBe(Stage.INSTALLED.statusValue);
  } finally {
    await again.stop();
  }
  expect(installedVersion(root)).toBe('2.0.0');
});
