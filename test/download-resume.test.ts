// The downloader against a server of the tests' own that cuts, ignores Range, changes its ETag or answers a bad
// 206: every download ends with the right bytes, fetching each byte about once.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Downloader } from '../download/downloader';
import { startBadServer, type BadServer } from './helpers/bad-http-server';

const SIZE = 4 * 1024 * 1024 + 123;
const file = crypto.randomBytes(SIZE);
const sha256 = crypto.createHash('sha256').update(file).digest('hex');
const fast = { backoffBaseMs: 5, backoffMaxMs: 20, stallTimeoutMs: 2000, fsync: false };

let dir: string;
let server: BadServer | undefined;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-resume-'));
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

test.each(['never', 'always'] as const)('cut at 10 random points (hash in a worker: %s): resumes with Range/If-Range, right bytes, each byte fetched about once', async (hashInWorker) => {
  const cuts = Array.from({ length: 10 }, () => 1 + Math.floor(Math.random() * (SIZE - 2))).sort((a, b) => a - b);
  let offset = 0;
  server = await startBadServer(file, (n, req) => {
    const start = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? 0);
    offset = start;
    const next = cuts.find((c) => c > offset);
    return next === undefined ? {} : { cutAt: next - start };
  });
  const d = new Downloader({ dir, ...fast, hashInWorker });
  const r = await d.start({ url: `${server.url}/app.ipk`, filename: 'app.ipk', size: SIZE, sha256 }).done;
  if (!r.ok) console.log(JSON.stringify(r), cuts, server.requests);
  expect(r.ok).toBe(true);
  expect(fs.readFileSync(path.join(dir, 'app.ipk')).equals(file)).toBe(true);
  expect(fs.readdirSync(dir)).toEqual(['app.ipk']);
  expect(server.requests.length).toBeGreaterThanOrEqual(11);
  for (const q of server.requests.slice(1)) {
    expect(q.range).toMatch(/^bytes=\d+-$/);
    expect(q.ifRange).toBe('"v1"');
  }
  expect(r.state.restarts).toBe(0);
  expect(server.served()).toBeLessThanOrEqual(SIZE * 1.01);
  expect(r.state.fetchedBytes).toBeLessThanOrEqual(SIZE * 1.01);
});

test('a server that ignores Range gets a full download (restart from 0, counted)', async () => {
  server = await startBadServer(file, (n) => (n === 0 ? { cutAt: SIZE / 2 } : { ignoreRange: true }));
  const d = new Downloader({ dir, ...fast });
  const r = await d.start({ url: `${server.url}/a`, filename: 'a.ipk', size: SIZE, sha256 }).done;
  expect(r.ok).toBe(true);
  expect(r.state.restarts).toBe(1);
  expect(server.requests[1].range).toBeDefined();
  expect(fs.readFileSync(path.join(dir, 'a.ipk')).equals(file)).toBe(true);
});

test('an ETag changed between attempts: If-Range gets the new file whole, and it is the one verified', async () => {
  const v2 = crypto.randomBytes(SIZE);
  server = await startBadServer(file, (n) => (n === 0 ? { cutAt: 1000000 } : { etag: '"v2"', body: v2 }));
  const d = new Downloader({ dir, ...fast });
  const r = await d.start({ url: `${server.url}/a`, filename: 'a.ipk', size: SIZE }).done;
  expect(r.ok).toBe(true);
  expect(server.requests[1].ifRange).toBe('"v1"');
  expect(r.state.restarts).toBe(1);
  expect(fs.readFileSync(path.join(dir, 'a.ipk')).equals(v2)).toBe(true);
});

test('a 206 starting elsewhere than asked is refused and the download restarts from 0', async () => {
  server = await startBadServer(file, (n) => (n === 0 ? { cutAt: 100000 } : n === 1 ? { wrongRangeStart: 0 } : {}));
  const d = new Downloader({ dir, ...fast });
  const r = await d.start({ url: `${server.url}/a`, filename: 'a.ipk', size: SIZE, sha256 }).done;
  expect(r.ok).toBe(true);
  expect(r.state.restarts).toBe(1);
  expect(server.requests[2].range).toBeUndefined();
  expect(fs.readFileSync(path.join(dir, 'a.ipk')).equals(file)).toBe(true);
});

test.each(['never', 'always'] as const)('pause keeps the partial and its sidecar; a later run re-hashes it (in a worker: %s) and resumes with Range', async (hashInWorker) => {
  let stalled = false;
  server = await startBadServer(file, (n) => (n === 0 ? { cutAt: 3000000 } : stalled ? {} : ((stalled = true), { stallAfter: 0 })));
  const first = new Downloader({ dir, ...fast, hashInWorker });
  const h = first.start({ url: `${server.url}/a`, filename: 'a.ipk', size: SIZE, sha256 });
  while (server.requests.length < 2) await new Promise((r) => setTimeout(r, 10));
  expect(first.pause(h.id)).toBeNull();
  expect(first.get(h.id)!.phase).toBe('paused');
  await new Promise((r) => setTimeout(r, 50));
  expect(fs.statSync(path.join(dir, 'a.ipk.part')).size).toBe(3000000);
  expect(fs.existsSync(path.join(dir, 'a.ipk.part.meta'))).toBe(true);

  // A new downloader (as after a restart of the service) on the same directory and URL.
  const second = new Downloader({ dir, ...fast, hashInWorker });
  const r = await second.start({ url: `${server.url}/a`, filename: 'a.ipk', size: SIZE, sha256 }).done;
  expect(r.ok).toBe(true);
  expect(r.state.initialOffset).toBe(3000000);
  expect(server.requests[2].range).toBe('bytes=3000000-');
  expect(r.state.fetchedBytes).toBe(SIZE - 3000000);
  expect(fs.readFileSync(path.join(dir, 'a.ipk')).equals(file)).toBe(true);
  await first.close();
});

test('a partial file from another URL is not mixed in: a fresh download', async () => {
  server = await startBadServer(file, () => ({}));
  fs.writeFileSync(path.join(dir, 'a.ipk.part'), file.subarray(0, 1000));
  fs.writeFileSync(path.join(dir, 'a.ipk.part.meta'), JSON.stringify({ url: 'http://elsewhere.invalid/a', etag: '"v1"', size: SIZE, sha256 }));
  const r = await new Downloader({ dir, ...fast }).start({ url: `${server.url}/a`, filename: 'a.ipk', size: SIZE, sha256 }).done;
  expect(r.ok).toBe(true);
  expect(server.requests[0].range).toBeUndefined();
});

test('a partial file already complete gets a 416 with the full length and is verified without a byte more', async () => {
  server = await startBadServer(file, () => ({}));
  fs.writeFileSync(path.join(dir, 'd.ipk.part'), file);
  fs.writeFileSync(path.join(dir, 'd.ipk.part.meta'), JSON.stringify({ url: `${server.url}/d`, etag: '"v1"' }));
  const r = await new Downloader({ dir, ...fast }).start({ url: `${server.url}/d`, filename: 'd.ipk' }).done;
  expect(r.ok).toBe(true);
  expect(server.requests[0].range).toBe(`bytes=${SIZE}-`);
  expect(r.state.httpStatus).toBe(416);
  expect(server.served()).toBe(0);
  expect(r.state.sha256).toBe(sha256);
  expect(fs.readdirSync(dir)).toEqual(['d.ipk']);
});

test('a 416 for a partial file longer than the server\'s file: the part is dropped and the download restarts from 0', async () => {
  server = await startBadServer(file, () => ({}));
  fs.writeFileSync(path.join(dir, 'e.ipk.part'), Buffer.concat([file, Buffer.from('stale tail')]));
  fs.writeFileSync(path.join(dir, 'e.ipk.part.meta'), JSON.stringify({ url: `${server.url}/e`, etag: '"v1"' }));
  const r = await new Downloader({ dir, ...fast }).start({ url: `${server.url}/e`, filename: 'e.ipk' }).done;
  expect(r.ok).toBe(true);
  expect(server.requests.map((q) => q.range)).toEqual([`bytes=${SIZE + 10}-`, undefined]);
  expect(r.state.restarts).toBe(1);
  expect(fs.readFileSync(path.join(dir, 'e.ipk')).equals(file)).toBe(true);
});

test('one hash worker serves download after download (kept between them): SHA-256, MD5 only, then wrong bytes, each hashed afresh', async () => {
  const md5 = crypto.createHash('md5').update(file).digest('hex');
  const wrong = Buffer.from(file);
  wrong[SIZE >> 1] ^= 1;
  server = await startBadServer(file, (n, req) => (req.url === '/wrong' ? { body: wrong } : {}));
  const d = new Downloader({ dir, ...fast, hashInWorker: 'always', concurrency: 1 });
  const a = await d.start({ url: `${server.url}/a`, filename: 'a.ipk', size: SIZE, sha256 }).done;
  const b = await d.start({ url: `${server.url}/b`, filename: 'b.ipk', size: SIZE, md5 }).done;
  const c = await d.start({ url: `${server.url}/wrong`, filename: 'c.ipk', size: SIZE, sha256 }).done;
  const e = await d.start({ url: `${server.url}/e`, filename: 'e.ipk', size: SIZE, sha256 }).done;
  expect([a.ok, b.ok, c.ok, e.ok]).toEqual([true, true, false, true]);
  expect(!c.ok && c.error.text).toBe(`checksum mismatch: expected sha256 ${sha256}, got ${crypto.createHash('sha256').update(wrong).digest('hex')}`);
  expect(fs.readdirSync(dir).sort()).toEqual(['a.ipk', 'b.ipk', 'e.ipk']);
});
