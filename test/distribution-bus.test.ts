// Feeds, downloads and install from a URL on the bus, end to end: `npm start`'s daemon, luna-send as users type it,
// feeds and ipks served by a real nginx on loopback plus a server that misbehaves (test/helpers/bad-http-server.ts).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { call, killAllChildren, lunaSend, makeIpk, makeRoot, startDaemon, stageSequence, type Daemon, type Json } from './helpers/appinstall-daemon';
import { startNginx, type NginxServer } from './helpers/nginx';
import { startBadServer, type BadServer } from './helpers/bad-http-server';
import { generatePackages, installKey, makeUsignKey, writeConf, writeFeed, type GenPackage, type UsignTestKey, stanzaOf } from './helpers/opkg-feed';

const AIS = 'luna://com.webos.appInstallService';
const DLM = 'luna://com.webos.service.downloadmanager';
let work: string;
let www: string;
let nginx: NginxServer;
let daemon: Daemon;
let key: UsignTestKey;
const ipks: Record<string, string> = {};

const finalInstall = (l: Json) => l.returnValue === false || [23, 24, 30].includes(l.statusValue);

const stanza = stanzaOf;

/** The feed: 600 generated packages plus the real chain com.test.app → com.test.libb → com.test.liba. */
function feedPackages(appVersion: string, extra: GenPackage[] = []): GenPackage[] {
  return [
    ...generatePackages(600),
    stanza('com.test.liba', '1.0.0', ipks['liba-1.0.0']),
    stanza('com.test.libb', '1.0.0', ipks['libb-1.0.0'], 'com.test.liba (>= 1.0)'),
    stanza('com.test.app', appVersion, ipks[`app-${appVersion}`], 'com.test.libb'),
    ...extra,
  ];
}

beforeAll(async () => {
  work = makeRoot();
  www = path.join(work, 'www');
  fs.mkdirSync(path.join(www, 'feed'), { recursive: true });
  const src = path.join(work, 'src');
  for (const [k, id, v] of [['liba-1.0.0', 'com.test.liba', '1.0.0'], ['libb-1.0.0', 'com.test.libb', '1.0.0'], ['app-1.0.0', 'com.test.app', '1.0.0'], ['app-1.1.0', 'com.test.app', '1.1.0']]) {
    const f = await makeIpk(src, id, v);
    ipks[k] = path.join(www, 'feed', path.basename(f));
    fs.copyFileSync(f, ipks[k]);
  }
  // A big app (incompressible bytes) so that a download has many progress steps.
  const big = await makeIpk(src, 'com.test.big', '1.0.0', { files: { 'blob.bin': crypto.randomBytes(24 * 1024 * 1024).toString('base64') } });
  fs.copyFileSync(big, path.join(www, 'big.ipk'));
  nginx = await startNginx({ root: www });
  key = makeUsignKey();
  writeFeed(path.join(www, 'feed'), feedPackages('1.0.0'), { key });
  daemon = await startDaemon({ config: { downloadAttempts: 2, downloadProgressIntervalMs: 20 } });
  installKey(daemon.root, key);
  writeConf(daemon.root, 'feeds.conf', [`src/gz main ${nginx.url}/feed`, 'option check_signature 1', 'option feed_priority main 10']);
}, 120000);

afterAll(async () => {
  await daemon?.stop();
  await nginx?.stop();
  killAllChildren();
});

async function refresh(): Promise<Json[]> {
  const r = await lunaSend(daemon.root, ['-i', `${AIS}/feeds/refresh`, '{"subscribe":true}'], { until: (l) => l.done === true || l.returnValue === false });
  return r.lines;
}

const downloads = () => { try { return fs.readdirSync(path.join(daemon.root, 'var/cache/appinstalld/downloads')); } catch { return []; } };

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !cond(); ) {
    if (Date.now() > end) throw new Error(`condition not met in ${ms} ms; downloads: ${downloads().join(' ')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function catalogList(payload: Json): Promise<Json> {
  return call(daemon.root, `${AIS}/catalog/list`, payload);
}

test('install from an http URL: 7, 8 with rising progress, 10, then the install stages to 30', async () => {
  const r = await lunaSend(daemon.root, ['-i', `${AIS}/install`, JSON.stringify({ id: 'com.test.big', ipkUrl: `${nginx.url}/big.ipk`, subscribe: true })], { until: finalInstall, limitMs: 60000 });
  const seq = stageSequence(r.lines);
  expect(seq.slice(0, 4)).toEqual([7, 8, 10, 35]);
  expect(seq[seq.length - 1]).toBe(30);
  const eights = r.lines.filter((l) => l.statusValue === 8 && typeof l.details.progress === 'number');
  const progress = eights.map((l) => l.details.progress as number);
  expect(new Set(progress).size).toBeGreaterThanOrEqual(2);
  expect([...progress].sort((a, b) => a - b)).toEqual(progress);
  expect(eights[eights.length - 1].details).toEqual(expect.objectContaining({ bytes: expect.any(Number), total: expect.any(Number), speed: expect.any(Number) }));
  const ten = r.lines.find((l) => l.statusValue === 10)!;
  expect(ten.details.progress).toBe(100);
  expect(r.lines.find((l) => l.statusValue === 35)!.details.progress).toBe(0);
  const apps = await call(daemon.root, 'luna://com.webos.applicationManager/listApps', {});
  expect(apps.apps.map((a: Json) => a.id)).toContain('com.test.big');
  // The download cache cleaner ran after the install: the downloaded ipk is gone.
  await waitFor(() => downloads().filter((f) => f.startsWith('url-')).length === 0);
}, 90000);

test('/dev/install refuses an http URL as before (-2 invalid ipkUrl)', async () => {
  expect((await call(daemon.root, 'luna://com.webos.service.devmode/setDevMode', { enabled: true })).returnValue).toBe(true);
  const r = await call(daemon.root, `${AIS}/dev/install`, { id: 'com.test.big', ipkUrl: `${nginx.url}/big.ipk` });
  expect(r).toEqual(expect.objectContaining({ returnValue: false, errorCode: -2, errorText: expect.stringMatching(/^invalid ipkUrl/) }));
  await call(daemon.root, 'luna://com.webos.service.devmode/setDevMode', { enabled: false });
});

test('a dead URL ends in 23 with a reason; nothing installed', async () => {
  const r = await lunaSend(daemon.root, ['-i', `${AIS}/install`, JSON.stringify({ id: 'com.test.dead', ipkUrl: 'http://127.0.0.1:9/x.ipk', subscribe: true })], { until: finalInstall, limitMs: 60000 });
  const last = r.lines[r.lines.length - 1];
  expect(stageSequence(r.lines)).toEqual([7, 8, 23]);
  expect(last.details.state).toBe('ipk download failed');
  expect(last.details.reason).toMatch(/download failed/);
  const apps = await call(daemon.root, 'luna://com.webos.applicationManager/listApps', {});
  expect(apps.apps.map((a: Json) => a.id)).not.toContain('com.test.dead');
  // Its engine operation ended with it: failed, with the download's reason (never left running).
  const ops = (await call(daemon.root, `${AIS}/operations/list`, {})).operations as Json[];
  expect(ops.filter((o) => o.id === 'com.test.dead')).toEqual([expect.objectContaining({ state: 'failed', errorText: expect.stringMatching(/download failed/) })]);
}, 90000);

test('feeds: refresh a signed feed of 600+ packages, list, page the catalog, install a chain of three by name, upgrade', async () => {
  const lines = await refresh();
  expect(lines[0]).toEqual(expect.objectContaining({ returnValue: true, handle: expect.stringMatching(/^\d+$/) }));
  expect(lines.some((l) => l.feed?.name === 'main')).toBe(true);
  const end = lines[lines.length - 1];
  expect(end).toEqual(expect.objectContaining({ done: true, returnValue: true }));
  const feeds = await call(daemon.root, `${AIS}/feeds/list`, {});
  expect(feeds.feeds).toEqual([expect.objectContaining({ name: 'main', url: `${nginx.url}/feed`, priority: 10, gz: true, packages: 603, lastRefresh: expect.any(String) })]);
  expect(feeds.feeds[0].error).toBeUndefined();

  const page1 = await catalogList({ filter: 'available', limit: 100 });
  expect(page1.total).toBe(603);
  expect(page1.packages).toHaveLength(100);
  const page7 = await catalogList({ filter: 'available', limit: 100, offset: 600 });
  expect(page7.packages.map((p: Json) => p.name)).toEqual(expect.arrayContaining(['pkg-00599']));
  const app = (await catalogList({ search: 'com.test.app' })).packages[0];
  expect(app).toEqual(expect.objectContaining({ name: 'com.test.app', status: 'not installed', candidate: expect.objectContaining({ version: '1.0.0', feed: 'main', depends: ['com.test.libb'] }) }));

  const r = await lunaSend(daemon.root, ['-i', `${AIS}/catalog/install`, '{"name":"com.test.app","subscribe":true}'], { until: (l) => l.returnValue === false || (l.id === 'com.test.app' && finalInstall(l)), limitMs: 90000 });
  expect(r.lines[0].packages.map((p: Json) => p.name)).toEqual(['com.test.liba', 'com.test.libb', 'com.test.app']);
  const handle = r.lines[0].handle;
  expect(handle).toMatch(/^\d+$/);
  const last = r.lines[r.lines.length - 1];
  expect(last).toEqual(expect.objectContaining({ id: 'com.test.app', statusValue: 30, handle }));
  // One engine operation for the request (the chain of three), none per package.
  const chainOps = ((await call(daemon.root, `${AIS}/operations/list`, {})).operations as Json[]).filter((o) => o.kind === 'install' && ['com.test.liba', 'com.test.libb', 'com.test.app'].includes(o.id));
  expect(chainOps.map((o) => [o.handle, o.id, o.version, o.state, o.progress])).toEqual([[handle, 'com.test.app', '1.0.0', 'succeeded', 100]]);
  for (const id of ['com.test.liba', 'com.test.libb', 'com.test.app']) {
    const seq = stageSequence(r.lines.filter((l) => l.id === id));
    expect(seq.slice(0, 4)).toEqual([7, 8, 10, 35]);
    expect(seq[seq.length - 1]).toBe(30);
  }
  await waitFor(() => downloads().filter((f) => f.startsWith('com.test.')).length === 0);
  const installed = await catalogList({ filter: 'installed' });
  expect(installed.packages.map((p: Json) => [p.name, p.installedVersion, p.status])).toEqual([
    ['com.test.app', '1.0.0', 'up to date'], ['com.test.liba', '1.0.0', 'up to date'], ['com.test.libb', '1.0.0', 'up to date'],
  ]);

  // The feed changes: a newer app. Refresh, it is upgradable; a catalog install upgrades it (the libraries stay).
  writeFeed(path.join(www, 'feed'), feedPackages('1.1.0'), { key });
  const t = new Date(Date.now() + 5000);
  fs.utimesSync(path.join(www, 'feed', 'Packages.gz'), t, t);
  await refresh();
  const up = await catalogList({ filter: 'upgradable' });
  expect(up.packages.map((p: Json) => [p.name, p.installedVersion, p.candidate.version])).toEqual([['com.test.app', '1.0.0', '1.1.0']]);
  const u = await lunaSend(daemon.root, ['-i', `${AIS}/catalog/install`, '{"name":"com.test.app","subscribe":true}'], { until: (l) => l.returnValue === false || (l.id === 'com.test.app' && finalInstall(l)), limitMs: 90000 });
  expect(u.lines[0].packages.map((p: Json) => p.name)).toEqual(['com.test.app']);
  expect(u.lines[u.lines.length - 1].statusValue).toBe(30);
  const upgradeOp = (await call(daemon.root, `${AIS}/operations/get`, { handle: u.lines[0].handle })).operation;
  expect(upgradeOp).toEqual(expect.objectContaining({ kind: 'install', id: 'com.test.app', version: '1.1.0', state: 'succeeded', progress: 100 }));
  expect((await catalogList({ filter: 'upgradable' })).total).toBe(0);

  // /catalog/download fetches and verifies for a later install; the cleaner keeps that file.
  const d = await lunaSend(daemon.root, ['-i', `${AIS}/catalog/download`, '{"name":"com.test.liba","subscribe":true}'], { until: (l) => l.done === true || l.returnValue === false });
  expect(d.lines[0]).toEqual(expect.objectContaining({ returnValue: true, handle: expect.stringMatching(/^\d+$/) }));
  expect(d.lines[d.lines.length - 1]).toEqual(expect.objectContaining({ returnValue: true, done: true, name: 'com.test.liba', version: '1.0.0' }));
  await refresh(); // runs the cleaner
  expect(downloads()).toContain('com.test.liba_1.0.0.ipk');
  expect((await catalogList({ search: 'com.test.liba' })).packages[0].status).toBe('download done');
}, 180000);

test('wrong bytes: refused by the checksum, nothing installed; as a dependency, the chain\'s one operation fails naming it', async () => {
  const wrong = stanza('com.test.wrong', '1.0.0', ipks['liba-1.0.0']);
  wrong.filename = 'wrong.ipk';
  const data = fs.readFileSync(ipks['liba-1.0.0']);
  const bad = Buffer.from(data);
  bad[bad.length - 10] ^= 0xff; // same size, other bytes
  fs.writeFileSync(path.join(www, 'feed', 'wrong.ipk'), bad);
  writeFeed(path.join(www, 'feed'), feedPackages('1.1.0', [wrong]), { key });
  const t = new Date(Date.now() + 10000);
  fs.utimesSync(path.join(www, 'feed', 'Packages.gz'), t, t);
  await refresh();
  const r = await lunaSend(daemon.root, ['-i', `${AIS}/catalog/install`, '{"name":"com.test.wrong","subscribe":true}'], { until: (l) => l.returnValue === false || finalInstall(l), limitMs: 60000 });
  const last = r.lines[r.lines.length - 1];
  expect(last.statusValue).toBe(23);
  expect(last.details.reason).toMatch(/checksum mismatch/);
  expect((await catalogList({ search: 'com.test.wrong' })).packages[0]).toEqual(expect.objectContaining({ status: 'download failed' }));
  expect((await catalogList({ search: 'com.test.wrong' })).packages[0].installedVersion).toBeUndefined();
  expect(fs.readdirSync(path.join(daemon.root, 'var/cache/appinstalld/downloads')).filter((f) => f.includes('wrong'))).toEqual([]);

  // A dependency with wrong bytes: the chain's one operation fails naming that package and why; the target is not installed.
  writeFeed(path.join(www, 'feed'), feedPackages('1.1.0', [wrong, stanza('com.test.needy', '1.0.0', ipks['libb-1.0.0'], 'com.test.wrong')]), { key });
  const t2 = new Date(Date.now() + 15000);
  fs.utimesSync(path.join(www, 'feed', 'Packages.gz'), t2, t2);
  await refresh();
  const n = await lunaSend(daemon.root, ['-i', `${AIS}/catalog/install`, '{"name":"com.test.needy","subscribe":true}'], { until: (l) => l.returnValue === false || (l.handle !== undefined && finalInstall(l)), limitMs: 60000 });
  const end = n.lines[n.lines.length - 1];
  expect(end).toEqual(expect.objectContaining({ statusValue: 23, handle: n.lines[0].handle }));
  expect(end.details.reason).toMatch(/^dependency com\.test\.wrong failed to install: .*checksum mismatch/);
  const needy = (await call(daemon.root, `${AIS}/operations/get`, { handle: n.lines[0].handle })).operation;
  expect(needy).toEqual(expect.objectContaining({ kind: 'install', id: 'com.test.needy', state: 'failed' }));
  expect(needy.errorText).toMatch(/^package 1 of 2 \(com\.test\.wrong\) failed: .*checksum mismatch/);
  expect((await catalogList({ search: 'com.test.needy' })).packages[0].installedVersion).toBeUndefined();
}, 90000);

test('a tampered index with check_signature: refused, the previous catalog kept', async () => {
  const before = await catalogList({ limit: 1 });
  const feedDir = path.join(www, 'feed');
  const text = fs.readFileSync(path.join(feedDir, 'Packages'), 'utf8').replace('Package: pkg-00001\n', 'Package: pkg-evil1\n');
  fs.writeFileSync(path.join(feedDir, 'Packages'), text);
  fs.writeFileSync(path.join(feedDir, 'Packages.gz'), require('node:zlib').gzipSync(Buffer.from(text)));
  const t = new Date(Date.now() + 15000);
  fs.utimesSync(path.join(feedDir, 'Packages.gz'), t, t);
  await refresh();
  const feeds = await call(daemon.root, `${AIS}/feeds/list`, {});
  expect(feeds.feeds[0].error).toMatch(/Signature verification failed/);
  expect(feeds.feeds[0].packages).toBe(605); // 600 + liba, libb, app, wrong and needy (the feed as the last test left it)
  const after = await catalogList({ limit: 1 });
  expect(after.total).toBe(before.total);
  expect((await catalogList({ search: 'pkg-evil1' })).total).toBe(0);
  expect((await catalogList({ search: 'pkg-00001' })).total).toBe(1);
}, 60000);

describe('com.webos.service.downloadmanager as luna-downloadmgr clients drive it', () => {
  let bad: BadServer;
  const blob = crypto.randomBytes(3 * 1024 * 1024);
  afterAll(async () => bad?.close());

  test('download with progress events and a final record; history; clearHistory', async () => {
    const r = await lunaSend(daemon.root, ['-i', `${DLM}/download`, JSON.stringify({ target: `${nginx.url}/big.ipk`, subscribe: true })], { until: (l) => 'completed' in l || l.returnValue === false, limitMs: 60000 });
    const first = r.lines[0];
    expect(first).toEqual(expect.objectContaining({ returnValue: true, ticket: expect.any(Number), url: `${nginx.url}/big.ipk`, target: expect.stringMatching(/downloads\/big\.ipk$/), subscribed: true }));
    const progress = r.lines.filter((l) => 'amountReceived' in l && !('completed' in l));
    expect(progress.length).toBeGreaterThanOrEqual(2);
    const last = r.lines[r.lines.length - 1];
    expect(last).toEqual(expect.objectContaining({ ticket: first.ticket, completed: true, interrupted: false, aborted: false, completionStatusCode: 0 }));
    expect(fs.statSync(last.target).size).toBe(fs.statSync(path.join(www, 'big.ipk')).size);
    const q = await call(daemon.root, `${DLM}/downloadStatusQuery`, { ticket: first.ticket });
    expect(q).toEqual(expect.objectContaining({ returnValue: true, ticket: first.ticket, state: 'completed' }));
    const h = await call(daemon.root, `${DLM}/getAllHistory`, {});
    expect(h.items.map((i: Json) => i.ticket)).toContain(first.ticket);
    // Targets stay inside the download directory: another targetDir, or a file name with a path, is refused.
    expect(await call(daemon.root, `${DLM}/download`, { target: `${nginx.url}/big.ipk`, targetDir: '/etc' })).toEqual(expect.objectContaining({ returnValue: false, errorCode: expect.any(String) }));
    expect(await call(daemon.root, `${DLM}/download`, { target: `${nginx.url}/big.ipk`, targetFilename: '../../etc/passwd' })).toEqual(expect.objectContaining({ returnValue: false, errorText: expect.stringMatching(/invalid download file name/) }));
    expect(fs.existsSync(path.join(daemon.root, 'var/cache/appinstalld/etc'))).toBe(false);
    expect(await call(daemon.root, `${DLM}/clearHistory`, {})).toEqual({ returnValue: true });
    expect((await call(daemon.root, `${DLM}/getAllHistory`, {})).items).toEqual([]);
    await refresh(); // the install cache cleaner leaves the download manager's files alone
    expect(fs.existsSync(last.target)).toBe(true);
  }, 90000);

  test('pause and resume; cancel removes the partial file', async () => {
    // Every first request of a path stalls after 1 MiB; later ones (the resume's Range request) are served.
    const seen = new Map<string, number>();
    bad = await startBadServer(blob, (_n, req) => {
      const k = String(req.url);
      seen.set(k, (seen.get(k) ?? 0) + 1);
      return seen.get(k) === 1 ? { stallAfter: 1024 * 1024 } : {};
    });
    const r1 = lunaSend(daemon.root, ['-i', `${DLM}/download`, JSON.stringify({ target: `${bad.url}/a.bin`, subscribe: true })], { until: (l) => 'completed' in l || l.returnValue === false, limitMs: 60000 });
    const pending = async () => (await call(daemon.root, `${DLM}/listPending`, {})).downloads as Json[];
    let item: Json | undefined;
    for (let i = 0; i < 100 && !(item && JSON.parse(item.recordString).amountReceived >= 1024 * 1024); i++) {
      await new Promise((res) => setTimeout(res, 100));
      item = (await pending()).find((d) => JSON.parse(d.recordString).url === `${bad.url}/a.bin`);
    }
    expect(item).toBeDefined();
    expect(await call(daemon.root, `${DLM}/pauseDownload`, { ticket: item!.ticket })).toEqual(expect.objectContaining({ returnValue: true }));
    expect((await call(daemon.root, `${DLM}/downloadStatusQuery`, { ticket: item!.ticket })).state).toBe('paused');
    expect(await call(daemon.root, `${DLM}/resumeDownload`, { ticket: item!.ticket })).toEqual(expect.objectContaining({ returnValue: true }));
    const done = await r1;
    const last = done.lines[done.lines.length - 1];
    expect(last).toEqual(expect.objectContaining({ completed: true, completionStatusCode: 0 }));
    expect(fs.readFileSync(last.target).equals(blob)).toBe(true);
    expect(bad.requests.filter((q) => q.url === '/a.bin').some((q) => q.range?.startsWith('bytes='))).toBe(true);

    const r2 = lunaSend(daemon.root, ['-i', `${DLM}/download`, JSON.stringify({ target: `${bad.url}/b.bin`, subscribe: true })], { until: (l) => 'completed' in l || l.returnValue === false, limitMs: 60000 });
    let b: Json | undefined;
    for (let i = 0; i < 100 && !(b && JSON.parse(b.recordString).amountReceived > 0); i++) {
      await new Promise((res) => setTimeout(res, 100));
      b = (await pending()).find((d) => JSON.parse(d.recordString).url === `${bad.url}/b.bin`);
    }
    const part = JSON.parse(b!.recordString).target as string;
    expect(fs.existsSync(part)).toBe(true);
    expect(await call(daemon.root, `${DLM}/cancelDownload`, { ticket: b!.ticket })).toEqual(expect.objectContaining({ returnValue: true }));
    const c = await r2;
    expect(c.lines[c.lines.length - 1]).toEqual(expect.objectContaining({ aborted: true, completed: false, completionStatusCode: 12 }));
    expect(fs.existsSync(part)).toBe(false);
  }, 90000);
});

test('a uid 65534 caller (luna-send-pub) is denied every feed, catalog, URL-install and download-manager method', async () => {
  const denied = async (uri: string, payload: Json) => {
    const r = await call(daemon.root, uri, payload, { pub: true, uid: 65534 });
    expect(r).toEqual(expect.objectContaining({ returnValue: false, errorText: expect.stringMatching(/^Denied method call/) }));
  };
  await denied(`${AIS}/feeds/list`, {});
  await denied(`${AIS}/feeds/refresh`, {});
  await denied(`${AIS}/catalog/list`, {});
  await denied(`${AIS}/catalog/install`, { name: 'com.test.app' });
  await denied(`${AIS}/catalog/download`, { name: 'com.test.app' });
  await denied(`${AIS}/install`, { id: 'com.test.x', ipkUrl: `${nginx.url}/big.ipk` });
  for (const m of ['download', 'downloadStatusQuery', 'pauseDownload', 'resumeDownload', 'cancelDownload', 'deleteDownloadedFile', 'listPending', 'getAllHistory', 'cancelAllDownloads', 'clearHistory']) {
    await denied(`${DLM}/${m}`, { target: `${nginx.url}/big.ipk`, ticket: 1 });
  }
}, 60000);
