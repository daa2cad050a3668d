// feeds/feed-store.ts end to end: feeds of 600 packages made as opkg-make-index makes them, served by a real nginx on
// loopback (plain and .gz, signed and unsigned), refreshed, listed as available and upgradable; the 304 path; a
// changed feed; check_signature refusing a tampered index or signature with the previous catalog kept; and a small
// server of our own that answers 500, stalls, sends wrong bytes or too many, without stopping the other feeds.
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { buildCatalog, catalogListReply, feedsListReply } from '../feeds/catalog';
import { FeedStore, feedCacheDir } from '../feeds/feed-store';
import { DEFAULT_INDEX_LIMITS } from '../feeds/packages-index';
import { compareVersions } from '../engine/version-compare';
import { killAllChildren } from './helpers/child-processes';
import { startNginx, type NginxServer } from './helpers/nginx';
import { generatePackages, installKey, makeUsignKey, writeConf, writeFeed, formatIndex, type UsignTestKey } from './helpers/opkg-feed';

const COUNT = 600;
let work: string;
let www: string;
let nginx: NginxServer;
let key: UsignTestKey;

/** fetch that records each URL's status, so tests can see the 304s. */
function recordingFetch(log: string[]): typeof fetch {
  return async (input, init) => {
    const r = await fetch(input, init);
    log.push(`${r.status} ${String(input).replace(/^http:\/\/127\.0\.0\.1:\d+/, '')}`);
    return r;
  };
}

/** Bump a file's mtime so nginx's ETag (mtime-size) changes even when a rewrite keeps the size. */
function touchLater(file: string, seconds: number): void {
  const t = new Date(Date.now() + seconds * 1000);
  fs.utimesSync(file, t, t);
}

const installed = new Map<string, string>();
for (let i = 0; i < 50; i++) installed.set(`pkg-${String(i).padStart(5, '0')}`, '0.1');
for (let i = 50; i < 100; i++) installed.set(`pkg-${String(i).padStart(5, '0')}`, `1.${i % 7}.${i % 3}`);

function catalogOf(store: FeedStore) {
  return buildCatalog(store.indexes(), installed, compareVersions);
}

beforeAll(async () => {
  work = fs.mkdtempSync('/tmp/ai-feeds-');
  www = path.join(work, 'www');
  key = makeUsignKey();
  writeFeed(path.join(www, 'main'), generatePackages(COUNT), { key });
  writeFeed(path.join(www, 'apps'), generatePackages(COUNT, { prefix: 'app' }));
  nginx = await startNginx({ root: www });
}, 600_000);

afterAll(async () => {
  await nginx?.stop();
  killAllChildren();
  fs.rmSync(work, { recursive: true, force: true });
});

test('refresh from nginx: src/gz and src feeds of 600 packages; list available and upgradable; cached atomically', async () => {
  const root = path.join(work, 'r-plain');
  writeConf(root, 'distfeeds.conf', [`src/gz main ${nginx.url}/main`, `src apps ${nginx.url}/apps/`, 'option feed_priority apps 5']);
  const log: string[] = [];
  const store = new FeedStore({ root, fetch: recordingFetch(log) });
  const before = Date.now();
  const feeds = await store.refresh();
  expect(log.sort()).toEqual(['200 /apps/Packages', '200 /main/Packages.gz']);
  expect(feedsListReply(feeds).feeds.map(({ lastRefresh, ...f }) => ({ ...f, fresh: Date.parse(lastRefresh!) >= before - 1000 }))).toEqual([
    { name: 'main', url: `${nginx.url}/main`, priority: 0, gz: true, packages: COUNT, fresh: true },
    { name: 'apps', url: `${nginx.url}/apps/`, priority: 5, gz: false, packages: COUNT, fresh: true },
  ]);
  const cat = catalogOf(store);
  const all = catalogListReply(cat).packages;
  expect(all).toHaveLength(2 * COUNT);
  expect(catalogListReply(cat, { filter: 'upgradable' }).packages.map((p) => p.name)).toEqual([...installed.keys()].slice(0, 50));
  expect(catalogListReply(cat, { filter: 'available' }).packages).toHaveLength(2 * COUNT - 100);
  expect(catalogListReply(cat, { filter: 'installed' }).packages).toHaveLength(100);
  const p0 = all.find((p) => p.name === 'pkg-00000')!;
  expect(p0).toMatchObject({ installedVersion: '0.1', status: 'upgradable', candidate: { version: '1.0.0', feed: 'main', section: 'games', depends: ['pkg-00001 (>= 1.0)', 'libc'] } });
  expect(store.indexes()[0].packages[0].url).toBe(`${nginx.url}/main/pkg-00000_1.0.0_all.ipk`);

  // The cache: the uncompressed index, byte for byte, and no temporary files left.
  const cache = feedCacheDir(root);
  expect(fs.readFileSync(path.join(cache, 'main.Packages'))).toEqual(fs.readFileSync(path.join(www, 'main/Packages')));
  expect(fs.readdirSync(cache).sort()).toEqual(['apps.Packages', 'apps.json', 'main.Packages', 'main.json']);

  // A restart reads the cache without the network.
  const again = new FeedStore({ root, fetch: () => Promise.reject(new Error('no network in this test')) });
  await again.load();
  expect(again.list().map((f) => [f.name, f.packages, f.error])).toEqual([['main', COUNT, undefined], ['apps', COUNT, undefined]]);
});

test('304 keeps the cache; a changed feed is fetched again and shows new upgrades', async () => {
  const root = path.join(work, 'r-304');
  const dir = path.join(www, 'changing');
  writeFeed(dir, generatePackages(COUNT));
  writeConf(root, 'feeds.conf', [`src/gz changing ${nginx.url}/changing`]);
  const log: string[] = [];
  const store = new FeedStore({ root, fetch: recordingFetch(log) });
  const [first] = await store.refresh();
  const cached = path.join(feedCacheDir(root), 'changing.Packages');
  const inode = fs.statSync(cached).ino;
  const [second] = await store.refresh();
  expect(log).toEqual(['200 /changing/Packages.gz', '304 /changing/Packages.gz']);
  expect(second.packages).toBe(COUNT);
  expect(second.error).toBeUndefined();
  expect(Date.parse(second.lastRefresh!)).toBeGreaterThanOrEqual(Date.parse(first.lastRefresh!));
  expect(fs.statSync(cached).ino).toBe(inode);
  expect(catalogListReply(catalogOf(store), { filter: 'upgradable' }).packages).toHaveLength(50);

  // The feed changes: ten more packages get a newer version.
  writeFeed(dir, generatePackages(COUNT, { version: (i) => (i >= 50 && i < 60 ? '9.0' : `1.${i % 7}.${i % 3}`) }));
  touchLater(path.join(dir, 'Packages.gz'), 5);
  const [third] = await store.refresh();
  expect(log[2]).toBe('200 /changing/Packages.gz');
  expect(third.error).toBeUndefined();
  expect(fs.statSync(cached).ino).not.toBe(inode);
  const up = catalogListReply(catalogOf(store), { filter: 'upgradable' }).packages;
  expect(up).toHaveLength(60);
  expect(up.find((p) => p.name === 'pkg-00055')).toMatchObject({ installedVersion: '1.6.1', candidate: { version: '9.0' }, status: 'upgradable' });
});

test('check_signature: a signed feed verifies; a tampered index or signature is refused and the previous catalog kept', async () => {
  const root = path.join(work, 'r-signed');
  const dir = path.join(www, 'signed');
  const original = generatePackages(COUNT);
  writeFeed(dir, original, { key });
  installKey(root, key);
  writeConf(root, 'opkg.conf', ['option check_signature 1', `src/gz signed ${nginx.url}/signed`, `src plain ${nginx.url}/signed`]);
  const store = new FeedStore({ root });
  let feeds = await store.refresh();
  expect(feeds.map((f) => [f.name, f.packages, f.error])).toEqual([['signed', COUNT, undefined], ['plain', COUNT, undefined]]);
  expect(fs.readFileSync(path.join(feedCacheDir(root), 'signed.sig'), 'utf8')).toBe(fs.readFileSync(path.join(dir, 'Packages.sig'), 'utf8'));
  const firstRefresh = feeds.map((f) => f.lastRefresh);

  // Tampered index (one package made "newer"), the old signature left in place.
  const evil = formatIndex(original).replace('Version: 1.6.1\n', 'Version: 99.0\n');
  fs.writeFileSync(path.join(dir, 'Packages'), evil);
  fs.writeFileSync(path.join(dir, 'Packages.gz'), zlib.gzipSync(evil));
  touchLater(path.join(dir, 'Packages'), 10);
  touchLater(path.join(dir, 'Packages.gz'), 10);
  feeds = await store.refresh();
  expect(feeds.map((f) => [f.error, f.packages, f.lastRefresh])).toEqual(
    firstRefresh.map((t) => [`Signature verification failed (key ${key.fingerprintHex})`, COUNT, t]));
  expect(catalogListReply(catalogOf(store), { search: 'pkg-00055' }).packages[0].candidate.version).toBe('1.6.1');
  expect(fs.readFileSync(path.join(feedCacheDir(root), 'signed.Packages'))).toEqual(Buffer.from(formatIndex(original)));

  // Index back, signature tampered; then the signature missing; then signed by a key we do not hold.
  writeFeed(dir, original, { key });
  const sigFile = path.join(dir, 'Packages.sig');
  const [comment, b64] = fs.readFileSync(sigFile, 'utf8').split('\n');
  const blob = Buffer.from(b64, 'base64');
  blob[20] ^= 1;
  fs.writeFileSync(sigFile, `${comment}\n${blob.toString('base64')}\n`);
  touchLater(path.join(dir, 'Packages.gz'), 20);
  touchLater(path.join(dir, 'Packages'), 20);
  expect((await store.refresh()).map((f) => f.error)).toEqual([`Signature verification failed (key ${key.fingerprintHex})`, `Signature verification failed (key ${key.fingerprintHex})`]);
  fs.rmSync(sigFile);
  expect((await store.refresh())[0].error).toBe(`${nginx.url}/signed/Packages.sig: HTTP 404`);
  const stranger = makeUsignKey();
  writeFeed(dir, original, { key: stranger });
  // A time of its own, so the server's validators (nginx: mtime in seconds and size) differ from every earlier state.
  touchLater(path.join(dir, 'Packages.gz'), 30);
  touchLater(path.join(dir, 'Packages'), 30);
  expect((await store.refresh())[0].error).toBe(`no public key ${stranger.fingerprintHex} in ${path.join(root, 'etc/opkg/keys')}`);
  expect(store.list().map((f) => f.packages)).toEqual([COUNT, COUNT]);

  // Signed properly again: accepted, the error cleared.
  writeFeed(dir, original, { key });
  touchLater(path.join(dir, 'Packages.gz'), 40);
  touchLater(path.join(dir, 'Packages'), 40);
  feeds = await store.refresh();
  expect(feeds.map((f) => [f.packages, f.error])).toEqual([[COUNT, undefined], [COUNT, undefined]]);
});

describe('a misbehaving server of our own', () => {
  let server: http.Server;
  let base: string;
  const mode: Record<string, string> = {};
  const good = Buffer.from(formatIndex(generatePackages(20, { prefix: 'odd' })));
  const goodGz = zlib.gzipSync(good);
  const sockets = new Set<import('node:net').Socket>();

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const [, feed, file] = (req.url ?? '').split('/');
      const m = mode[feed] ?? 'good';
      const body = file === 'Packages.gz' ? goodGz : good;
      if (m === 'good') res.writeHead(200, { 'content-length': body.length }).end(body);
      else if (m === '500') res.writeHead(500).end('oops');
      else if (m === 'stall') {
        res.writeHead(200);
        res.write(body.subarray(0, 100));
      } else if (m === 'stall-headers') {
        /* never answers */
      } else if (m === 'wrong-bytes') res.writeHead(200).end(Buffer.from('this is not gzip at all, just text\n'.repeat(50)));
      else if (m === 'truncated-gz') res.writeHead(200).end(goodGz.subarray(0, goodGz.length - 30));
      else if (m === 'bomb') res.writeHead(200).end(zlib.gzipSync('Package: a\nVersion: 1\nFilename: a.ipk\n\n'.repeat(80_000)));
      else if (m === 'endless') {
        res.writeHead(200);
        const chunk = Buffer.from('Package: a\nVersion: 1\nFilename: a.ipk\n\n'.repeat(1600));
        const pump = () => {
          while (res.write(chunk)) if (res.destroyed) return;
          res.once('drain', pump);
        };
        res.on('close', () => res.removeAllListeners('drain'));
        pump();
      } else if (m === 'garbage-index') res.writeHead(200).end(zlib.gzipSync('Package: a\nthis line is not a field\n'));
      else if (m === 'hostile') res.writeHead(200).end(zlib.gzipSync('Package: evil\nVersion: 1\nFilename: ../../etc/passwd\n\nPackage: fine\nVersion: 1\nFilename: fine.ipk\n'));
    });
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  });

  test('each failure keeps the previous index, says why, and does not stop the other feeds', async () => {
    const root = path.join(work, 'r-odd');
    const names = ['e500', 'stall', 'stallhdr', 'wrong', 'trunc', 'endless', 'bomb', 'garbage', 'hostile'];
    // "endless" is a plain (src) feed: its size bound is the download bound; "bomb" inflates past the index bound.
    writeConf(root, 'odd.conf', [...names.map((n) => `${n === 'endless' ? 'src' : 'src/gz'} ${n} ${base}/${n}`), `src/gz nginx ${nginx.url}/apps`]);
    const store = new FeedStore({ root, stallMs: 700, timeoutMs: 5000, maxDownloadBytes: 1024 * 1024, indexLimits: { ...DEFAULT_INDEX_LIMITS, maxIndexBytes: 2 * 1024 * 1024 } });
    const first = await store.refresh();
    expect(first.map((f) => [f.name, f.packages, f.error])).toEqual([...names.map((n) => [n, 20, undefined]), ['nginx', COUNT, undefined]]);

    Object.assign(mode, { e500: '500', stall: 'stall', stallhdr: 'stall-headers', wrong: 'wrong-bytes', trunc: 'truncated-gz', endless: 'endless', bomb: 'bomb', garbage: 'garbage-index', hostile: 'hostile' });
    const t = Date.now();
    const heard: string[] = [];
    const joined: string[] = [];
    const running = store.refresh((f) => heard.push(`${f.name}:${f.error ? 'error' : 'ok'}`));
    // A second call while one runs joins it, and hears the same feeds.
    const after = await store.refresh((f) => joined.push(f.name));
    expect(await running).toEqual(after);
    expect(heard.sort()).toEqual([...names.map((n) => `${n}:${n === 'hostile' ? 'ok' : 'error'}`), 'nginx:ok'].sort());
    expect(joined.sort()).toEqual([...names, 'nginx'].sort());
    expect(Date.now() - t).toBeLessThan(5000);
    const err = Object.fromEntries(after.map((f) => [f.name, f.error]));
    expect(err).toEqual({
      e500: `${base}/e500/Packages.gz: HTTP 500`,
      stall: `${base}/stall/Packages.gz: no data for 700 ms`,
      stallhdr: `${base}/stallhdr/Packages.gz: no data for 700 ms`,
      wrong: expect.stringMatching(new RegExp(`^${base}/wrong/Packages.gz: not a valid gzip stream: `)),
      trunc: expect.stringMatching(new RegExp(`^${base}/trunc/Packages.gz: (not a valid gzip stream: )?unexpected end of file`)),
      endless: `${base}/endless/Packages: larger than the 1048576-byte limit`,
      bomb: 'Packages: larger than the 2097152-byte limit',
      garbage: 'Packages line 2: neither "Field: value" nor a continuation line',
      hostile: undefined,
      nginx: undefined,
    });
    // Every failing feed still offers the 20 packages of its previous index; the hostile stanza alone was refused.
    expect(after.map((f) => f.packages)).toEqual([20, 20, 20, 20, 20, 20, 20, 20, 1, COUNT]);
    expect(store.rejected('hostile')).toBe(1);
    expect(store.indexes().find((i) => i.feed === 'hostile')!.packages.map((p) => p.url)).toEqual([`${base}/hostile/fine.ipk`]);

    // The errors survive a restart (kept in the cache's meta), with the previous indexes.
    const again = new FeedStore({ root });
    await again.load();
    expect(again.list().find((f) => f.name === 'e500')).toMatchObject({ packages: 20, error: `${base}/e500/Packages.gz: HTTP 500` });

    // Healthy again: errors cleared.
    for (const k of Object.keys(mode)) delete mode[k];
    expect((await store.refresh()).map((f) => f.error)).toEqual(names.map(() => undefined).concat([undefined]));
  }, 60_000);

  test('a feed removed from the config loses its cache files (and crash leftovers go); a changed URL does not reuse the old index', async () => {
    const root = path.join(work, 'r-prune');
    writeConf(root, 'a.conf', [`src/gz one ${base}/one`, `src/gz two ${base}/two`]);
    await new FeedStore({ root }).refresh();
    expect(fs.readdirSync(feedCacheDir(root)).filter((n) => n.startsWith('two'))).toHaveLength(2);
    writeConf(root, 'a.conf', [`src/gz one ${base}/moved`]);
    fs.writeFileSync(path.join(feedCacheDir(root), '.one.Packages.tmp-99999-1'), 'left by a crash');
    mode.moved = '500';
    const store = new FeedStore({ root });
    const feeds = await store.refresh();
    expect(fs.readdirSync(feedCacheDir(root)).filter((n) => n.startsWith('two') || n.startsWith('.'))).toEqual([]);
    expect(feeds).toEqual([expect.objectContaining({ name: 'one', url: `${base}/moved`, packages: 0, lastRefresh: null, error: `${base}/moved/Packages.gz: HTTP 500` })]);
    delete mode.moved;
  });
});
