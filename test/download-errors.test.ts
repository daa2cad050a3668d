// The downloader's refusals and bounded failures: wrong bytes, 404, 500, stalls, more than Size, Content-Length
// mismatches, no free space, hostile names, URLs and redirects. Each ends in a clear error and leaves nothing behind.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Downloader } from '../download/downloader';
import { retryAfterMs } from '../download/attempt';
import { checkFilename, checkUrl } from '../download/names';
import { DownloadErrorCode } from '../status-codes';
import { startBadServer, type BadServer } from './helpers/bad-http-server';

const SIZE = 1024 * 1024 + 7;
const file = crypto.randomBytes(SIZE);
const sha256 = crypto.createHash('sha256').update(file).digest('hex');
const md5 = crypto.createHash('md5').update(file).digest('hex');
const fast = { backoffBaseMs: 5, backoffMaxMs: 20, stallTimeoutMs: 2000, fsync: false };

let dir: string;
let server: BadServer | undefined;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-errors-'));
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

test('wrong bytes are refused by the SHA-256 (or the MD5) and nothing is left', async () => {
  const wrong = Buffer.from(file);
  wrong[12345] ^= 1;
  server = await startBadServer(file, () => ({ body: wrong }));
  const d = new Downloader({ dir, ...fast, hashInWorker: 'always' });
  const r = await d.start({ url: `${server.url}/a`, filename: 'a.ipk', size: SIZE, sha256 }).done;
  expect(r.ok).toBe(false);
  if (r.ok) return;
  expect(r.error.code).toBe(DownloadErrorCode.CHECKSUM_MISMATCH);
  const got = crypto.createHash('sha256').update(wrong).digest('hex');
  expect(r.error.text).toBe(`checksum mismatch: expected sha256 ${sha256}, got ${got}`);
  const r2 = await d.start({ url: `${server.url}/b`, filename: 'b.ipk', size: SIZE, md5 }).done;
  expect(!r2.ok && r2.error.text.startsWith(`checksum mismatch: expected md5 ${md5}, got `)).toBe(true);
  expect(fs.readdirSync(dir)).toEqual([]);
});

test('404 fails at once; 500 after the bounded attempts, with backoff between them', async () => {
  server = await startBadServer(file, (n, req) => ({ status: req.url === '/missing' ? 404 : 500 }));
  const d = new Downloader({ dir, ...fast, attempts: 4 });
  const r404 = await d.start({ url: `${server.url}/missing`, filename: 'm.ipk' }).done;
  expect(!r404.ok && r404.error.text).toBe('download failed after 1 attempt: HTTP 404 Not Found');
  expect(server.requests.length).toBe(1);
  const t0 = Date.now();
  const r500 = await d.start({ url: `${server.url}/broken`, filename: 'b.ipk', size: SIZE }).done;
  expect(!r500.ok && r500.error.text).toBe('download failed after 4 attempts: HTTP 500 Internal Server Error');
  expect(!r500.ok && r500.error.httpStatus).toBe(500);
  expect(server.requests.length).toBe(5);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(3 * 2); // three backoffs of at least half of 5 ms
  expect(fs.readdirSync(dir)).toEqual([]);
});

test('a stalled server: each attempt aborted after the stall timeout, then a clear error', async () => {
  server = await startBadServer(file, (n) => ({ stallAfter: n === 0 ? 1000 : 0 }));
  const d = new Downloader({ dir, ...fast, attempts: 2, stallTimeoutMs: 200 });
  const r = await d.start({ url: `${server.url}/a`, filename: 'a.ipk', size: SIZE, sha256 }).done;
  expect(r.ok).toBe(false);
  if (r.ok) return;
  expect(r.error.code).toBe(DownloadErrorCode.STALLED);
  expect(r.error.text).toBe('download failed after 2 attempts: no data received for 0.2 s');
  // The second attempt resumed after the 1000 bytes the first one got, and it did not count as progress.
  expect(server.requests[1].range).toBe('bytes=1000-');
  expect(fs.readdirSync(dir)).toEqual([]);
});

test('a server sending more than Size is cut and refused; a Content-Length other than Size is refused before the body', async () => {
  server = await startBadServer(file, (n, req) => (req.url === '/more' ? { extra: 5000 } : { contentLength: SIZE + 1, body: Buffer.concat([file, Buffer.from('x')]) }));
  const d = new Downloader({ dir, ...fast });
  const more = await d.start({ url: `${server.url}/more`, filename: 'a.ipk', size: SIZE }).done;
  expect(!more.ok && more.error.text).toBe(`the server sent more than the expected ${SIZE} bytes; download refused`);
  const cl = await d.start({ url: `${server.url}/cl`, filename: 'b.ipk', size: SIZE }).done;
  expect(!cl.ok && cl.error.text).toBe(`size mismatch: expected ${SIZE} bytes, the server announces ${SIZE + 1}`);
  expect(fs.readdirSync(dir)).toEqual([]);
});

test('a connection that ends short of Content-Length is retried, not taken as complete', async () => {
  server = await startBadServer(file, (n) => (n === 0 ? { cutAt: 5000 } : {}));
  const r = await new Downloader({ dir, ...fast }).start({ url: `${server.url}/a`, filename: 'a.ipk' }).done;
  expect(r.ok).toBe(true);
  expect(r.state.attempts).toBe(2);
  expect(fs.readFileSync(path.join(dir, 'a.ipk')).equals(file)).toBe(true);
});

test('a Size larger than the free space is refused before any request', async () => {
  server = await startBadServer(file, () => ({}));
  const d = new Downloader({ dir, ...fast });
  const r = await d.start({ url: `${server.url}/a`, filename: 'a.ipk', size: 2 ** 52 }).done;
  expect(r.ok).toBe(false);
  if (r.ok) return;
  expect(r.error.code).toBe(DownloadErrorCode.NO_SPACE);
  expect(r.error.text).toMatch(/^not enough free space: need \d+\.\d MiB, \d+\.\d MiB available$/);
  expect(server.requests.length).toBe(0);
  expect(fs.readdirSync(dir)).toEqual([]);
});

const asRoot = process.getuid?.() === 0 ? test : test.skip;
asRoot('on a 4 MiB tmpfs: a 6 MiB Size is refused before the download, a 1 MiB one fits', async () => {
  const mnt = path.join(dir, 'small');
  fs.mkdirSync(mnt);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt]);
  } catch {
    console.warn('cannot mount a tmpfs here (no CAP_SYS_ADMIN); the statfs refusal is shown by the test above');
    return;
  }
  try {
    const big = crypto.randomBytes(6 * 1024 * 1024);
    server = await startBadServer(big, (n, req) => (req.url === '/small' ? { body: file } : {}));
    const d = new Downloader({ dir: mnt, ...fast, spaceMarginBytes: 64 * 1024 });
    const r = await d.start({ url: `${server.url}/big`, filename: 'big.ipk', size: big.length }).done;
    expect(!r.ok && r.error.text).toMatch(/^not enough free space: need 6\.\d MiB, [34]\.\d MiB available$/);
    expect(server.requests.length).toBe(0);
    // Without a Size, the server's Content-Length is checked before the first byte is written.
    const unsized = await d.start({ url: `${server.url}/big`, filename: 'big.ipk' }).done;
    expect(!unsized.ok && unsized.error.text).toMatch(/^not enough free space: need 6\.\d MiB, [34]\.\d MiB available$/);
    expect(fs.readdirSync(mnt)).toEqual([]);
    const ok = await d.start({ url: `${server.url}/small`, filename: 'small.ipk', size: SIZE, sha256 }).done;
    expect(ok.ok).toBe(true);
  } finally {
    execFileSync('umount', [mnt]);
  }
});

test('hostile file names and URLs are refused before anything is fetched', async () => {
  for (const name of ['', '.', '..', '../x', 'a/b', 'a\\b', 'a\0b', '.hidden', 'x'.repeat(201), 'a.ipk.part', 'a.ipk.part.meta', 'a\nb']) {
    expect(checkFilename(name)).not.toBeNull();
  }
  expect(checkFilename('com.example.app_1.0.0_all.ipk')).toBeNull();
  for (const url of ['file:///etc/passwd', 'ftp://x/y', 'javascript:alert(1)', 'not a url', '', `http://x/${'a'.repeat(5000)}`]) {
    expect(checkUrl(url)).not.toBeInstanceOf(URL);
  }
  const d = new Downloader({ dir, ...fast });
  const r = await d.start({ url: 'file:///etc/passwd', filename: 'p' }).done;
  expect(!r.ok && r.error).toEqual({ code: DownloadErrorCode.INVALID_URL, text: 'invalid download URL: scheme file is not http or https' });
  const r2 = await d.start({ url: 'http://127.0.0.1:1/x', filename: '../../etc/passwd' }).done;
  expect(!r2.ok && r2.error.code).toBe(DownloadErrorCode.INVALID_FILENAME);
  const r3 = await d.start({ url: 'http://127.0.0.1:1/x', filename: 'x', sha256: 'abc' }).done;
  expect(!r3.ok && r3.error.code).toBe(DownloadErrorCode.INVALID_CHECKSUM);
  const r4 = await d.start({ url: 'http://127.0.0.1:1/x', filename: 'x', size: -1 }).done;
  expect(!r4.ok && r4.error.text).toBe('invalid expected size -1 (not a whole number of bytes)');
  expect(fs.readdirSync(dir)).toEqual([]);
});

test('redirects: followed to http, bounded in number, never to another scheme', async () => {
  server = await startBadServer(file, (n, req) => {
    if (req.url === '/r1') return { redirect: '/r2' };
    if (req.url === '/r2') return { redirect: '/file' };
    if (req.url === '/loop') return { redirect: '/loop' };
    if (req.url === '/evil') return { redirect: 'file:///etc/passwd' };
    return {};
  });
  const d = new Downloader({ dir, ...fast, maxRedirects: 3 });
  const ok = await d.start({ url: `${server.url}/r1`, filename: 'a.ipk', size: SIZE, sha256 }).done;
  expect(ok.ok).toBe(true);
  const loop = await d.start({ url: `${server.url}/loop`, filename: 'b.ipk' }).done;
  expect(!loop.ok && loop.error.text).toBe('more than 3 redirects');
  const evil = await d.start({ url: `${server.url}/evil`, filename: 'c.ipk' }).done;
  expect(!evil.ok && evil.error.text).toBe('redirect to a location that is not http or https: file:///etc/passwd');
  expect(fs.readdirSync(dir)).toEqual(['a.ipk']);
});

test("a caller's headers (Auth-Token) follow a redirect on the same origin only; Retry-After is read in seconds", async () => {
  const other = await startBadServer(file, () => ({}));
  try {
    server = await startBadServer(file, (n, req) => (req.url === '/away' ? { redirect: `${other.url}/file` } : req.url === '/here' ? { redirect: '/file' } : {}));
    const d = new Downloader({ dir, ...fast });
    const headers = { 'Auth-Token': 'secret', 'Device-Id': 'tv1' };
    expect((await d.start({ url: `${server.url}/here`, filename: 'a.ipk', size: SIZE, headers }).done).ok).toBe(true);
    expect(server.requests[1].headers['auth-token']).toBe('secret');
    expect((await d.start({ url: `${server.url}/away`, filename: 'b.ipk', size: SIZE, headers }).done).ok).toBe(true);
    expect(server.requests[2].headers['auth-token']).toBe('secret');
    expect(other.requests[0].headers['auth-token']).toBeUndefined();
    expect(other.requests[0].headers['device-id']).toBeUndefined();
  } finally {
    await other.close();
  }
  expect(retryAfterMs('3')).toBe(3000);
  expect(retryAfterMs('Wed, 21 Oct 2015 07:28:00 GMT')).toBeUndefined();
});

test('a refused connection is a network error retried a bounded number of times', async () => {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  const r = await new Downloader({ dir, ...fast, attempts: 3 }).start({ url: `http://127.0.0.1:${port}/x`, filename: 'x' }).done;
  expect(!r.ok && r.error.text).toBe(`download failed after 3 attempts: network error: ECONNREFUSED (connect ECONNREFUSED 127.0.0.1:${port})`);
});

test('a body sent with a Content-Encoding anyway (we ask for identity) is decoded; a cut mid-body is a network error, retried', async () => {
  const gz = zlib.gzipSync(file);
  const seen: (string | undefined)[] = [];
  let n = 0;
  const s = http.createServer((req, res) => {
    seen.push(req.headers['accept-encoding']);
    res.writeHead(200, { 'content-encoding': 'gzip' }); // chunked: a Content-Length would count the encoded bytes
    // The first reply is cut half way: the retry gets it whole.
    if (n++ === 0) res.write(gz.subarray(0, gz.length >> 1), () => res.socket?.destroy());
    else res.end(gz);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  try {
    const port = (s.address() as net.AddressInfo).port;
    const r = await new Downloader({ dir, ...fast }).start({ url: `http://127.0.0.1:${port}/z`, filename: 'z.ipk', size: SIZE, sha256 }).done;
    expect(r.ok ? 'ok' : r.error.text).toBe('ok');
    expect(r.state.attempts).toBe(2);
    expect(fs.readFileSync(path.join(dir, 'z.ipk')).equals(file)).toBe(true);
    expect(seen).toEqual(['identity', 'identity']);
  } finally {
    await new Promise((r) => s.close(r));
  }
});
