// Feeds refresh, catalog downloads and the download phase of URL installs as engine operations, end to end: `npm
// start`'s daemon, luna-send, a feed on a real nginx and a slow feed on test/helpers/bad-http-server.ts (cancel mid-way).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { call, killAllChildren, lunaSend, makeIpk, makeRoot, startDaemon, stageSequence, type Daemon, type Json } from './helpers/appinstall-daemon';
import { startNginx, type NginxServer } from './helpers/nginx';
import { startBadServer, type BadServer, type Behaviour } from './helpers/bad-http-server';
import { formatIndex, writeConf, writeFeed, stanzaOf } from './helpers/opkg-feed';

const AIS = 'luna://com.webos.appInstallService';
let work: string;
let nginx: NginxServer;
let bad: BadServer;
let daemon: Daemon;
/** How the slow feed's server answers its index request just now. */
let indexMode: 'serve' | 'stall' | 'error' = 'serve';
let slowIndex: Buffer;

const stanza = stanzaOf;

beforeAll(async () => {
  work = makeRoot();
  const www = path.join(work, 'www');
  fs.mkdirSync(path.join(www, 'feed'), { recursive: true });
  const src = path.join(work, 'src');
  const liba = await makeIpk(src, 'com.test.liba', '1.0.0');
  const libb = await makeIpk(src, 'com.test.libb', '1.0.0');
  // A chain of three (libc → libb → liba), and one whose middle stalls on the slow feed (top → big → libx).
  const libc = await makeIpk(src, 'com.test.libc', '1.0.0', { files: { 'blob.bin': crypto.randomBytes(256 * 1024).toString('base64') } });
  const libx = await makeIpk(src, 'com.test.libx', '1.0.0');
  const top = await makeIpk(src, 'com.test.top', '1.0.0');
  for (const f of [liba, libb, libc, libx, top]) fs.copyFileSync(f, path.join(www, 'feed', path.basename(f)));
  writeFeed(path.join(www, 'feed'), [
    stanza('com.test.liba', '1.0.0', liba), stanza('com.test.libb', '1.0.0', libb, 'com.test.liba'), stanza('com.test.libc', '1.0.0', libc, 'com.test.libb'),
    stanza('com.test.libx', '1.0.0', libx), stanza('com.test.top', '1.0.0', top, 'com.test.big'),
  ]);
  nginx = await startNginx({ root: www });
  // The slow feed: its index names one big package; the package stalls after 1 MiB on every request (cancel it).
  const big = await makeIpk(src, 'com.test.big', '1.0.0', { files: { 'blob.bin': crypto.randomBytes(6 * 1024 * 1024).toString('base64') } });
  const bigData = fs.readFileSync(big);
  slowIndex = Buffer.from(formatIndex([{ ...stanza('com.test.big', '1.0.0', big, 'com.test.libx'), filename: 'com.test.big_1.0.0.ipk' }]));
  bad = await startBadServer(bigData, (_n, req): Behaviour => {
    if (String(req.url).endsWith('/Packages')) return indexMode === 'serve' ? { body: slowIndex } : indexMode === 'stall' ? { body: slowIndex, stallAfter: 10 } : { status: 500 };
    return { stallAfter: 1024 * 1024 };
  });
  daemon = await startDaemon({ config: { downloadAttempts: 2, downloadProgressIntervalMs: 20, downloadConcurrency: 1 } }); // one download at a time: a second one waits
  writeConf(daemon.root, 'feeds.conf', [`src/gz main ${nginx.url}/feed`, `src slow ${bad.url}/slow`]);
}, 120000);

afterAll(async () => {
  await daemon?.stop();
  await nginx?.stop();
  await bad?.close();
  killAllChildren();
});

const downloads = () => { try { return fs.readdirSync(path.join(daemon.root, 'var/cache/appinstalld/downloads')); } catch { return []; } };

async function operation(handle: string): Promise<{ operation: Json; log: string }> {
  const r = await call(daemon.root, `${AIS}/operations/get`, { handle });
  expect(r.returnValue).toBe(true);
  return { operation: r.operation, log: r.log };
}

async function waitFor<T>(what: string, get: () => Promise<T | undefined>, ms = 20000): Promise<T> {
  for (const end = Date.now() + ms; ; ) {
    const v = await get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function refresh(): Promise<Json[]> {
  return (await lunaSend(daemon.root, ['-i', `${AIS}/feeds/refresh`, '{"subscribe":true}'], { until: (l) => l.done === true || l.returnValue === false, limitMs: 60000 })).lines;
}

test('/feeds/refresh is an operation of kind refresh: a log line per feed (fetched, not modified, failed and why), in /operations/list', async () => {
  const first = await refresh();
  const handle = first[0].handle as string;
  expect(first[first.length - 1]).toEqual(expect.objectContaining({ returnValue: true, done: true, handle }));
  const a = await operation(handle);
  expect(a.operation).toEqual(expect.objectContaining({ handle, kind: 'refresh', id: 'feeds', state: 'succeeded', progress: 100 }));
  expect(a.log).toContain(`feed main (${nginx.url}/feed): fetched, 5 packages`);
  expect(a.log).toContain(`feed slow (${bad.url}/slow): fetched, 1 packages`);
  const list = await call(daemon.root, `${AIS}/operations/list`, {});
  expect(list.operations).toEqual(expect.arrayContaining([expect.objectContaining({ handle, kind: 'refresh', state: 'succeeded' })]));

  indexMode = 'error';
  const second = await refresh();
  const h2 = second[0].handle as string;
  expect(h2).not.toBe(handle);
  const b = await operation(h2);
  expect(b.operation.state).toBe('succeeded');
  expect(b.log).toContain(`feed main (${nginx.url}/feed): not modified`);
  expect(b.log).toMatch(new RegExp(`feed slow \\(${bad.url.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}/slow\\): failed: .*HTTP 500`));
  expect(b.log).toContain('0 fetched, 1 not modified, 1 failed, of 2 feeds');
  indexMode = 'serve';
}, 120000);

test('/catalog/download is an operation of kind download with URL, bytes and checksum in its log', async () => {
  const d = await lunaSend(daemon.root, ['-i', `${AIS}/catalog/download`, '{"name":"com.test.liba","subscribe":true}'], { until: (l) => l.done === true || l.returnValue === false, limitMs: 60000 });
  const handle = d.lines[0].handle as string;
  expect(d.lines[d.lines.length - 1]).toEqual(expect.objectContaining({ returnValue: true, done: true, handle, name: 'com.test.liba' }));
  const { operation: op, log } = await operation(handle);
  expect(op).toEqual(expect.objectContaining({ kind: 'download', id: 'com.test.liba', version: '1.0.0', state: 'succeeded', progress: 100 }));
  expect(log).toContain(`download ${nginx.url}/feed/com.test.liba_1.0.0`);
  expect(log).toMatch(/downloaded \d+ bytes \(\d+ fetched from the network\); size verified; sha256 checksum verified/);
}, 60000);

test('/operations/cancel of a running /catalog/download: the download stops, its partial file goes, the operation reads cancelled', async () => {
  const r = lunaSend(daemon.root, ['-i', `${AIS}/catalog/download`, '{"name":"com.test.big","subscribe":true}'], { until: (l) => l.done === true || l.returnValue === false, limitMs: 60000 });
  const handle = await waitFor('the download operation', async () => {
    const ops = (await call(daemon.root, `${AIS}/operations/list`, { state: 'running' })).operations as Json[];
    return ops.find((o) => o.kind === 'download' && o.id === 'com.test.big' && o.progress > 0)?.handle as string | undefined;
  });
  expect(downloads().some((f) => f.startsWith('com.test.big_1.0.0.ipk'))).toBe(true); // the partial file
  expect(await call(daemon.root, `${AIS}/operations/cancel`, { handle })).toEqual({ returnValue: true, state: 'cancelling' });
  const lines = (await r).lines;
  expect(lines[lines.length - 1]).toEqual(expect.objectContaining({ returnValue: false, done: true, handle, errorCode: -20, errorText: 'download cancelled' }));
  const { operation: op, log } = await operation(handle);
  expect(op.state).toBe('cancelled');
  expect(log).toContain('cancel requested');
  expect(downloads().filter((f) => f.startsWith('com.test.big'))).toEqual([]);
}, 60000);

test('/operations/cancel of a /catalog/download still waiting for a download slot: cancelled, nothing fetched', async () => {
  const big = lunaSend(daemon.root, ['-i', `${AIS}/catalog/download`, '{"name":"com.test.big","subscribe":true}'], { until: (l) => l.done === true || l.returnValue === false, limitMs: 60000 });
  const a = await waitFor('the download holding the one slot', async () => {
    const ops = (await call(daemon.root, `${AIS}/operations/list`, { state: 'running' })).operations as Json[];
    return ops.find((o) => o.kind === 'download' && o.id === 'com.test.big' && o.progress > 0)?.handle as string | undefined;
  });
  const waiting = lunaSend(daemon.root, ['-i', `${AIS}/catalog/download`, '{"name":"com.test.libb","subscribe":true}'], { until: (l) => l.done === true || l.returnValue === false, limitMs: 60000 });
  const b = await waitFor('the waiting download', async () => {
    const ops = (await call(daemon.root, `${AIS}/operations/list`, { state: 'running' })).operations as Json[];
    return ops.find((o) => o.kind === 'download' && o.id === 'com.test.libb')?.handle as string | undefined;
  });
  await new Promise((r) => setTimeout(r, 300));
  expect((await operation(b)).operation.progress).toBe(0); // still waiting behind the stalled one
  expect(await call(daemon.root, `${AIS}/operations/cancel`, { handle: b })).toEqual({ returnValue: true, state: 'cancelling' });
  const wl = (await waiting).lines;
  expect(wl[wl.length - 1]).toEqual(expect.objectContaining({ returnValue: false, done: true, handle: b, errorCode: -20 }));
  expect((await operation(b)).operation.state).toBe('cancelled');
  expect(downloads().filter((f) => f.startsWith('com.test.libb'))).toEqual([]);
  expect(await call(daemon.root, `${AIS}/operations/cancel`, { handle: a })).toEqual({ returnValue: true, state: 'cancelling' });
  await big;
  expect((await operation(a)).operation.state).toBe('cancelled');
}, 60000);

test('/operations/cancel during the download of a URL install: 22 on the bus, the operation cancelled, the partial file gone, nothing installed', async () => {
  const r = lunaSend(daemon.root, ['-i', `${AIS}/install`, JSON.stringify({ id: 'com.test.big', ipkUrl: `${bad.url}/x/big.ipk`, subscribe: true })], { until: (l) => l.returnValue === false || [22, 23, 24, 30].includes(l.statusValue), limitMs: 60000 });
  const running = await waitFor('the install in its download phase', async () => {
    const ops = (await call(daemon.root, `${AIS}/operations/list`, { state: 'running' })).operations as Json[];
    return ops.find((o) => o.kind === 'install' && o.id === 'com.test.big' && o.phase === 'download' && o.progress > 0);
  });
  // The download weighs 80 % of an install that downloads: 1 MiB of ~8 MiB is a few percent, never the verify phase's 80.
  expect(running.progress).toBeLessThan(80);
  expect(downloads().some((f) => f.startsWith('url-'))).toBe(true);
  expect(await call(daemon.root, `${AIS}/operations/cancel`, { handle: running.handle })).toEqual({ returnValue: true, state: 'cancelling' });
  const lines = (await r).lines;
  expect(stageSequence(lines)).toEqual([7, 8, 22]);
  expect(lines[lines.length - 1].details).toEqual(expect.objectContaining({ errorCode: -20, reason: 'install cancelled' }));
  const { operation: op, log } = await operation(running.handle);
  expect(op.state).toBe('cancelled');
  expect(log).toContain(`download ${bad.url}/x/big.ipk -> url-`);
  expect(log).toMatch(/\d+ of \d+ bytes/);
  expect(downloads().filter((f) => f.startsWith('url-'))).toEqual([]);
  const apps = await call(daemon.root, 'luna://com.webos.applicationManager/listApps', {});
  expect(apps.apps.map((a: Json) => a.id)).not.toContain('com.test.big');
}, 60000);

/** Every event of /operations/list's subscription until `stop` says so (the engine's view of all operations). */
function watchOperations(stop: (op: Json) => boolean) {
  return lunaSend(daemon.root, ['-i', `${AIS}/operations/list`, '{"subscribe":true}'], { until: (l) => Boolean(l.operation && stop(l.operation)), limitMs: 90000 });
}

const appIds = async () => ((await call(daemon.root, 'luna://com.webos.applicationManager/listApps', {})).apps as Json[]).map((a) => a.id);

test('a catalog install of a chain of three is one install operation: one handle, progress monotonic over all packages, each package\'s part in the log', async () => {
  const watched = watchOperations((o) => o.id === 'com.test.libc' && ['succeeded', 'failed', 'cancelled'].includes(o.state));
  await new Promise((res) => setTimeout(res, 300)); // the subscription is in place
  const r = await lunaSend(daemon.root, ['-i', `${AIS}/catalog/install`, '{"name":"com.test.libc","subscribe":true}'], { until: (l) => l.returnValue === false || (l.id === 'com.test.libc' && [22, 23, 24, 30].includes(l.statusValue)), limitMs: 60000 });
  const handle = r.lines[0].handle as string;
  expect(r.lines[0]).toEqual(expect.objectContaining({ returnValue: true, handle: expect.any(String), packages: [{ name: 'com.test.liba', version: '1.0.0' }, { name: 'com.test.libb', version: '1.0.0' }, { name: 'com.test.libc', version: '1.0.0' }] }));
  // The stage stream still shows each package's statusValues (webOS clients read those); the last is the target's 30.
  expect(r.lines.filter((l) => l.statusValue === 30).map((l) => l.id)).toEqual(['com.test.liba', 'com.test.libb', 'com.test.libc']);
  expect(r.lines[r.lines.length - 1]).toEqual(expect.objectContaining({ id: 'com.test.libc', statusValue: 30, handle }));
  const events = (await watched).lines.map((l) => l.operation).filter(Boolean) as Json[];
  // One operation for the request: no package of the chain appears as an operation of its own.
  expect([...new Set(events.filter((o) => ['com.test.liba', 'com.test.libb', 'com.test.libc'].includes(o.id)).map((o) => o.handle))]).toEqual([handle]);
  const progress = events.filter((o) => o.handle === handle).map((o) => o.progress as number);
  expect(progress).toEqual([...progress].sort((a, b) => a - b));
  expect(progress.filter((p) => p > 0 && p < 100).length).toBeGreaterThan(3);
  expect(progress[progress.length - 1]).toBe(100);
  const ops = ((await call(daemon.root, `${AIS}/operations/list`, {})).operations as Json[]).filter((o) => o.kind === 'install' && ['com.test.liba', 'com.test.libb', 'com.test.libc'].includes(o.id));
  expect(ops.map((o) => [o.handle, o.id, o.version, o.state, o.progress])).toEqual([[handle, 'com.test.libc', '1.0.0', 'succeeded', 100]]);
  const { log } = await operation(handle);
  const at = (s: string) => { const i = log.indexOf(s); expect(i).toBeGreaterThanOrEqual(0); return i; };
  const parts = [
    at('catalog install of com.test.libc: package 1 of 3 (com.test.liba, a dependency)'),
    at(`download ${nginx.url}/feed/com.test.liba_1.0.0`),
    at('catalog install of com.test.libc: package 2 of 3 (com.test.libb, a dependency)'),
    at('catalog install of com.test.libc: package 3 of 3 (com.test.libc, the target, after its dependencies)'),
    at(`download ${nginx.url}/feed/com.test.libc_1.0.0`),
    at('catalog install of com.test.libc: 3 package(s) installed'),
  ];
  expect(parts).toEqual([...parts].sort((a, b) => a - b));
  // The log read by ranges (byte offsets; the log is ASCII here): the lines of package 2 alone.
  const from = log.lastIndexOf('\n', log.indexOf('package 2 of 3')) + 1;
  const to = log.lastIndexOf('\n', log.indexOf('package 3 of 3')) + 1;
  const part = await call(daemon.root, `${AIS}/operations/get`, { handle, logStart: from, logEnd: to });
  expect(part.log).toContain('package 2 of 3 (com.test.libb, a dependency)');
  expect(part.log).toContain(`download ${nginx.url}/feed/com.test.libb_1.0.0`);
  expect(part.log).not.toContain('com.test.liba_1.0.0');
  expect(part.log).not.toContain('package 3 of 3');
  expect(await appIds()).toEqual(expect.arrayContaining(['com.test.liba', 'com.test.libb', 'com.test.libc']));
}, 90000);

test('/operations/cancel of a catalog install in the middle of its chain stops the whole chain: the committed dependency stays (said in the log), nothing else installed', async () => {
  const r = lunaSend(daemon.root, ['-i', `${AIS}/catalog/install`, '{"name":"com.test.top","subscribe":true}'], { until: (l) => l.returnValue === false || (l.id === 'com.test.top' && [22, 23, 24, 30].includes(l.statusValue)), limitMs: 60000 });
  // Package 2 of 3 (com.test.big, from the slow feed) is downloading: its server stalls after 1 MiB.
  const running = await waitFor('the chain in the download of its second package', async () => {
    const ops = (await call(daemon.root, `${AIS}/operations/list`, { state: 'running' })).operations as Json[];
    const op = ops.find((o) => o.kind === 'install' && o.id === 'com.test.top');
    if (!op || op.phase !== 'download') return undefined;
    return (await operation(op.handle)).log.includes(`download ${bad.url}/slow/com.test.big_1.0.0.ipk`) ? op : undefined;
  });
  const listed = ((await call(daemon.root, `${AIS}/operations/list`, { state: 'running' })).operations as Json[]).filter((o) => o.kind === 'install');
  expect(listed.map((o) => o.handle)).toEqual([running.handle]); // one operation, not one per package
  expect(await call(daemon.root, `${AIS}/operations/cancel`, { handle: running.handle })).toEqual({ returnValue: true, state: 'cancelling' });
  const lines = (await r).lines;
  expect(lines[0].handle).toBe(running.handle);
  const last = lines[lines.length - 1];
  expect(last).toEqual(expect.objectContaining({ id: 'com.test.top', statusValue: 22, handle: running.handle }));
  expect(last.details).toEqual(expect.objectContaining({ errorCode: -20 }));
  expect(last.details.reason).toContain('com.test.libx 1.0.0');
  const { operation: op, log } = await operation(running.handle);
  expect(op.state).toBe('cancelled');
  expect(log).toContain('package 1 of 3 (com.test.libx, a dependency)');
  expect(log).toContain('package 2 of 3 (com.test.big, a dependency)');
  expect(log).not.toContain('package 3 of 3');
  expect(log).toContain('catalog install cancelled; already installed before the cancel and kept (past their commit point, nothing half-installed): com.test.libx 1.0.0');
  const apps = await appIds();
  expect(apps).toContain('com.test.libx');
  expect(apps).not.toContain('com.test.big');
  expect(apps).not.toContain('com.test.top');
  expect(downloads().filter((f) => f.startsWith('com.test.big'))).toEqual([]);
}, 90000);

test('/operations/cancel of a running /feeds/refresh: it stops fetching, every feed keeps its previous index', async () => {
  const before = (await call(daemon.root, `${AIS}/feeds/list`, {})).feeds as Json[];
  expect(before.find((f) => f.name === 'slow')).toEqual(expect.objectContaining({ packages: 1 }));
  indexMode = 'stall';
  const r = lunaSend(daemon.root, ['-i', `${AIS}/feeds/refresh`, '{"subscribe":true}'], { until: (l) => l.done === true || l.returnValue === false, limitMs: 60000 });
  const handle = await waitFor('the refresh operation', async () => {
    const ops = (await call(daemon.root, `${AIS}/operations/list`, { state: 'running' })).operations as Json[];
    return ops.find((o) => o.kind === 'refresh')?.handle as string | undefined;
  });
  // A second /feeds/refresh joins the running one (one refresh at a time): same handle.
  expect((await call(daemon.root, `${AIS}/feeds/refresh`, {})).handle).toBe(handle);
  await new Promise((res) => setTimeout(res, 300)); // the slow feed's index request is under way and stalled
  expect(await call(daemon.root, `${AIS}/operations/cancel`, { handle })).toEqual({ returnValue: true, state: 'cancelling' });
  const lines = (await r).lines;
  expect(lines[lines.length - 1]).toEqual(expect.objectContaining({ returnValue: false, done: true, handle, errorCode: -20 }));
  const { operation: op, log } = await operation(handle);
  expect(op.state).toBe('cancelled');
  expect(log).toContain('refresh stopped; every feed not refreshed keeps its previous index');
  const after = (await call(daemon.root, `${AIS}/feeds/list`, {})).feeds as Json[];
  expect(after.find((f) => f.name === 'slow')).toEqual(expect.objectContaining({ packages: 1 }));
  expect(after.find((f) => f.name === 'slow')!.error).toBe(before.find((f) => f.name === 'slow')!.error); // not "cancelled"
  const big = await call(daemon.root, `${AIS}/catalog/list`, { search: 'com.test.big' });
  expect(big.packages.map((p: Json) => p.name)).toEqual(['com.test.big']);
  indexMode = 'serve';
}, 60000);

test('a catalog install waiting for a free task slot reads queued, and a cancel ends it at once: 22 on the bus, nothing changed', async () => {
  const appsBefore = await appIds();
  // Every task slot (maxConcurrentTasks, 4 by default) held by a URL install whose download stalls or waits for the one download slot.
  const holders = [1, 2, 3, 4].map((i) => lunaSend(daemon.root, ['-i', `${AIS}/install`, JSON.stringify({ id: `com.test.hold${i}`, ipkUrl: `${bad.url}/x/hold${i}.ipk`, subscribe: true })], { until: (l) => l.returnValue === false || [22, 23, 24, 30].includes(l.statusValue), limitMs: 60000 }));
  const holding = await waitFor('four installs holding the task slots', async () => {
    const ops = ((await call(daemon.root, `${AIS}/operations/list`, { state: 'running' })).operations as Json[]).filter((o) => String(o.id).startsWith('com.test.hold'));
    return ops.length === 4 ? ops : undefined;
  });
  const r = lunaSend(daemon.root, ['-i', `${AIS}/catalog/install`, '{"name":"com.test.liba","subscribe":true}'], { until: (l) => l.returnValue === false || (l.id === 'com.test.liba' && [22, 23, 24, 30].includes(l.statusValue)), limitMs: 60000 });
  const queued = await waitFor('the catalog install\'s operation', async () => {
    const ops = (await call(daemon.root, `${AIS}/operations/list`, {})).operations as Json[];
    return ops.find((o) => o.kind === 'install' && o.id === 'com.test.liba' && o.state !== 'succeeded');
  });
  await new Promise((res) => setTimeout(res, 300));
  expect((await operation(queued.handle)).operation).toEqual(expect.objectContaining({ state: 'queued', progress: 0 }));
  expect(await call(daemon.root, `${AIS}/operations/cancel`, { handle: queued.handle })).toEqual({ returnValue: true, state: 'cancelled' });
  const lines = (await r).lines; // ends while the four still hold their slots
  expect(lines[lines.length - 1]).toEqual(expect.objectContaining({ id: 'com.test.liba', statusValue: 22, handle: queued.handle }));
  expect(((await call(daemon.root, `${AIS}/operations/list`, { state: 'running' })).operations as Json[]).filter((o) => String(o.id).startsWith('com.test.hold'))).toHaveLength(4);
  for (const o of holding) await call(daemon.root, `${AIS}/operations/cancel`, { handle: o.handle });
  for (const h of holders) expect(stageSequence((await h).lines).pop()).toBe(22);
  expect((await operation(queued.handle)).operation.state).toBe('cancelled');
  expect(await appIds()).toEqual(appsBefore);
}, 90000);
