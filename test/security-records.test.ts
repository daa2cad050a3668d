// Issue #10 class 8, as real processes: recovery and the package database do not take their own files on trust.
// A journal record naming a path outside the staging folders (or a target outside its package) is refused and
// logged, and nothing of it is done; a damaged package record is reported (log, error text) and a reinstall or a
// remove repairs it, touching only what the package owns.
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode, ErrorText, Stage } from '../status-codes';
import { layout } from '../layout/paths';
import {
  startDaemon, makeRoot, killAllChildren, install, remove, call, makeIpk, type Daemon, type Json,
} from './helpers/appinstall-daemon';

const AM = 'luna://com.webos.applicationManager';
const NOBODY = 65534;
const last = (l: Json[]) => l[l.length - 1];

let work: string;
const daemons: Daemon[] = [];
async function start(root?: string): Promise<Daemon> {
  const d = await startDaemon({ root });
  daemons.push(d);
  return d;
}

beforeAll(() => { work = fs.mkdtempSync('/tmp/ai-w-'); });
afterAll(async () => {
  for (const d of daemons) { await d.stop(); fs.rmSync(d.root, { recursive: true, force: true }); }
  killAllChildren();
  fs.rmSync(work, { recursive: true, force: true });
});

function victimDir(name: string): string {
  const v = path.join(work, name);
  fs.mkdirSync(v, { recursive: true });
  fs.writeFileSync(path.join(v, 'precious.txt'), 'keep me');
  return v;
}

test('recovery refuses a journal record that names anything outside its staging folder or its package, and does nothing of it', async () => {
  const root = makeRoot();
  const l = layout(root);
  const journal = path.join(l.installerState, 'journal');
  fs.mkdirSync(journal, { recursive: true });
  const v1 = victimDir('victim-staging');
  const v2 = victimDir('victim-target');
  const base = { op: 'install', packageId: 'com.example.x', appRoot: l.verifiedApps.base, developer: false };
  const records = [
    // a committed task whose "staging" is any directory: finishing it would delete that directory
    { ...base, taskId: 't1', phase: 'committed', staging: v1, targets: [] },
    // an uncommitted one whose target climbs out of the app root: rolling it back would delete that path
    { ...base, taskId: 't2', phase: 'staged', staging: path.join(l.verifiedApps.base, '.appinstalld-staging', 't2'),
      targets: [{ rel: path.relative(l.verifiedApps.base, v2), existedBefore: false, inNew: true }] },
    // a target that is another package's folder
    { ...base, taskId: 't3', phase: 'staged', staging: path.join(l.verifiedApps.base, '.appinstalld-staging', 't3'),
      targets: [{ rel: 'usr/palm/applications/com.example.other', existedBefore: false, inNew: true }] },
  ];
  for (const r of records) fs.writeFileSync(path.join(journal, `${r.taskId}.json`), JSON.stringify(r));
  const other = path.join(l.verifiedApps.base, 'usr/palm/applications/com.example.other');
  fs.mkdirSync(other, { recursive: true });

  const d = await start(root);
  expect(fs.readFileSync(path.join(v1, 'precious.txt'), 'utf8')).toBe('keep me');
  expect(fs.readFileSync(path.join(v2, 'precious.txt'), 'utf8')).toBe('keep me');
  expect(fs.existsSync(other)).toBe(true);
  for (const id of ['t1', 't2', 't3']) expect(d.stderr()).toMatch(new RegExp(`journal of task "${id}" refused`));
  expect(d.stderr()).toContain(`staging ${JSON.stringify(v1)} is not`);
  // and the daemon serves: install and remove work
  const ipk = await makeIpk(work, 'com.example.after', '1.0.0');
  expect(last((await install(root, 'com.example.after', ipk)).lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue });
  expect(last((await remove(root, 'com.example.after')).lines)).toMatchObject({ statusValue: Stage.REMOVED.statusValue });
});

describe('a damaged package record', () => {
  let d: Daemon;
  const info = () => path.join(d.root, 'media/cryptofs/apps/var/lib/opkg/info');
  const damage = (id: string) => fs.writeFileSync(path.join(info(), `${id}.control`), '\u0000garbage: [\n');
  beforeAll(async () => { d = await start(); });

  test('is repaired by a reinstall, with a clear log line', async () => {
    expect(last((await install(d.root, 'com.example.dmg', await makeIpk(work, 'com.example.dmg', '1.0.0'))).lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue });
    damage('com.example.dmg');
    const r = await install(d.root, 'com.example.dmg', await makeIpk(work, 'com.example.dmg', '1.0.1'));
    expect(last(r.lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue, details: { update: true } });
    expect(d.stderr()).toContain(`install com.example.dmg: ${path.join(d.root, 'media/cryptofs/apps')}: ${ErrorText.DAMAGED_RECORD}`);
    const apps = (await call(d.root, `${AM}/listApps`, {})).apps as Json[];
    expect(apps.find((a) => a.id === 'com.example.dmg')).toMatchObject({ version: '1.0.1' });
  });

  test('blocks a developer install of the same package with a clear error, and is repaired by a remove', async () => {
    damage('com.example.dmg');
    expect(await call(d.root, 'luna://com.webos.service.devmode/setDevMode', { enabled: true })).toEqual({ returnValue: true, enabled: true });
    const temp = path.join(d.root, 'media/developer/temp');
    fs.mkdirSync(temp, { recursive: true });
    for (let p = temp; p !== d.root; p = path.dirname(p)) fs.chmodSync(p, 0o755);
    const devIpk = path.join(temp, 'dmg.ipk');
    fs.copyFileSync(await makeIpk(work, 'com.example.dmg', '2.0.0'), devIpk);
    fs.chmodSync(devIpk, 0o644);
    const dev = await install(d.root, 'com.ares.defaultName', devIpk, { dev: true, pub: true, uid: NOBODY });
    expect(last(dev.lines)).toMatchObject({
      statusValue: Stage.INSTALL_FAILED.statusValue,
      details: { errorCode: ErrorCode.INSTALL_FAILED, reason: expect.stringContaining(ErrorText.DAMAGED_RECORD) },
    });
    expect(fs.existsSync(path.join(d.root, 'media/developer/apps/usr/palm/applications/com.example.dmg'))).toBe(false);

    const rm = await remove(d.root, 'com.example.dmg');
    expect(rm.lines[0]).toEqual({ returnValue: true, subscribed: true });
    expect(last(rm.lines)).toMatchObject({ statusValue: Stage.REMOVED.statusValue });
    const apps = path.join(d.root, 'media/cryptofs/apps');
    for (const rel of ['usr/palm/applications/com.example.dmg', 'usr/palm/packages/com.example.dmg', 'var/lib/opkg/info/com.example.dmg.control', 'var/lib/opkg/info/com.example.dmg.list']) {
      expect(fs.existsSync(path.join(apps, rel))).toBe(false);
    }
    expect(fs.existsSync(path.join(d.root, 'var/luna-service2/manifests.d/com.example.dmg.json'))).toBe(false);
    // now the developer install goes through
    expect(last((await install(d.root, 'com.ares.defaultName', devIpk, { dev: true, pub: true, uid: NOBODY })).lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue });
    expect(last((await remove(d.root, 'com.example.dmg', { dev: true, pub: true, uid: NOBODY })).lines)).toMatchObject({ statusValue: Stage.REMOVED.statusValue });
  });

  test('whose list names paths that are not its own: a remove touches only what the package owns; start-up reports it', async () => {
    expect(last((await install(d.root, 'com.example.keep', await makeIpk(work, 'com.example.keep', '1.0.0'))).lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue });
    expect(last((await install(d.root, 'com.example.lst', await makeIpk(work, 'com.example.lst', '1.0.0'))).lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue });
    const v = victimDir('victim-list');
    const apps = path.join(d.root, 'media/cryptofs/apps');
    fs.appendFileSync(path.join(info(), 'com.example.lst.list'), `usr/palm/applications/com.example.keep\n${path.relative(apps, v)}\n`);
    await d.stop();
    d = await start(d.root);
    expect(d.stderr()).toContain(`com.example.lst under ${apps}: ${ErrorText.DAMAGED_RECORD}`);
    const rm = await remove(d.root, 'com.example.lst');
    expect(last(rm.lines)).toMatchObject({ statusValue: Stage.REMOVED.statusValue });
    expect(fs.existsSync(path.join(apps, 'usr/palm/applications/com.example.lst'))).toBe(false);
    expect(fs.existsSync(path.join(apps, 'usr/palm/applications/com.example.keep/appinfo.json'))).toBe(true);
    expect(fs.readFileSync(path.join(v, 'precious.txt'), 'utf8')).toBe('keep me');
    expect(((await call(d.root, `${AM}/listApps`, {})).apps as Json[]).map((a) => a.id)).toContain('com.example.keep');
  });
});

test('an installed package\'s old bus manifest never makes a reinstall or a remove delete files that are not the package\'s own', async () => {
  const d = await start();
  const ok = async (id: string, v = '1.0.0') => expect(last((await install(d.root, id, await makeIpk(work, id, v))).lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue });
  await ok('com.example.keep2');
  await ok('com.example.man');
  const tree = path.join(d.root, 'var/luna-service2');
  const victim = path.join(d.root, 'etc/victim.txt');
  fs.mkdirSync(path.dirname(victim), { recursive: true });
  const keepRole = path.join(tree, 'roles.d/com.example.keep2.app.json');
  const keepManifest = path.join(tree, 'manifests.d/com.example.keep2.json');
  expect(fs.existsSync(keepRole)).toBe(true);
  const plant = () => {
    fs.writeFileSync(victim, 'keep me');
    const mp = path.join(tree, 'manifests.d/com.example.man.json');
    const m = JSON.parse(fs.readFileSync(mp, 'utf8'));
    m.roleFiles.push('/etc/victim.txt', '/var/luna-service2/roles.d/com.example.keep2.app.json', '/var/luna-service2/manifests.d/com.example.keep2.json');
    fs.writeFileSync(mp, JSON.stringify(m));
  };
  plant();
  await ok('com.example.man', '1.0.1');
  plant();
  expect(last((await remove(d.root, 'com.example.man')).lines)).toMatchObject({ statusValue: Stage.REMOVED.statusValue });
  expect(fs.readFileSync(victim, 'utf8')).toBe('keep me');
  expect(fs.existsSync(keepRole)).toBe(true);
  expect(fs.existsSync(keepManifest)).toBe(true);
  expect(fs.existsSync(path.join(tree, 'roles.d/com.example.man.app.json'))).toBe(false);
  expect(fs.existsSync(path.join(tree, 'manifests.d/com.example.man.json'))).toBe(false);
});
