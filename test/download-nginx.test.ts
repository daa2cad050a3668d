// The downloader against a real nginx from Debian on loopback: a verified download, resume through 10 cuts made
// by a proxy in front of it (bytes counted), a 206 to If-Range from a partial file, a changed file, and a 404.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startCuttingProxy } from '../bench/cutting-proxy';
import { Downloader } from '../download/downloader';
import { bytesServed, startNginx, type LocalNginx } from './helpers/nginx';

const SIZE = 24 * 1024 * 1024 + 3;
const fast = { backoffBaseMs: 5, backoffMaxMs: 20, stallTimeoutMs: 5000, fsync: false };
let www: string;
let dir: string;
let nginx: LocalNginx;
let file: Buffer;
let sha256: string;

beforeAll(async () => {
  www = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-www-'));
  file = crypto.randomBytes(SIZE);
  sha256 = crypto.createHash('sha256').update(file).digest('hex');
  fs.writeFileSync(path.join(www, 'app.ipk'), file);
  nginx = await startNginx({ root: www });
}, 300000);
afterAll(async () => {
  await nginx?.stop();
  fs.rmSync(www, { recursive: true, force: true });
});
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-nginx-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const logLines = () => fs.readFileSync(nginx.accessLog, 'utf8').trim().split('\n');

test('a download from nginx: right bytes, SHA-256 verified, renamed into place', async () => {
  const r = await new Downloader({ dir, ...fast }).start({ url: `${nginx.url}/app.ipk`, filename: 'app.ipk', size: SIZE, sha256 }).done;
  expect(r.ok).toBe(true);
  expect(r.state.sha256).toBe(sha256);
  expect(fs.readdirSync(dir)).toEqual(['app.ipk']);
  expect(fs.readFileSync(path.join(dir, 'app.ipk')).equals(file)).toBe(true);
});

test('nginx behind a proxy that cuts 10 times: resumes with 206s and fetches each byte about once', async () => {
  const budgets = Array.from({ length: 10 }, () => 100000 + Math.floor(Math.random() * (SIZE / 12)));
  const proxy = await startCuttingProxy(nginx.port, budgets);
  try {
    const before = logLines().length;
    const r = await new Downloader({ dir, ...fast }).start({ url: `${proxy.url}/app.ipk`, filename: 'app.ipk', size: SIZE, sha256 }).done;
    expect(r.ok).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'app.ipk')).equals(file)).toBe(true);
    const lines = logLines().slice(before);
    expect(lines.length).toBeGreaterThanOrEqual(11);
    expect(lines[0]).toMatch(/^200 /);
    for (const l of lines.slice(1)) expect(l).toMatch(/^206 \d+ "GET \/app.ipk HTTP\/1.1" "bytes=\d+-"$/);
    expect(r.state.restarts).toBe(0);
    // Bytes that reached the downloader (headers included) beside the file's size.
    expect(proxy.forwarded()).toBeLessThanOrEqual(SIZE * 1.01);
    expect(r.state.fetchedBytes).toBeLessThanOrEqual(SIZE * 1.01);
  } finally {
    await proxy.close();
  }
});

test("a partial file resumes with If-Range on nginx's ETag (206); a changed file on the server restarts from 0 (200)", async () => {
  const head = await fetch(`${nginx.url}/app.ipk`, { method: 'HEAD' });
  const etag = head.headers.get('etag')!;
  fs.writeFileSync(path.join(dir, 'app.ipk.part'), file.subarray(0, 10000000));
  fs.writeFileSync(path.join(dir, 'app.ipk.part.meta'), JSON.stringify({ url: `${nginx.url}/app.ipk`, etag, size: SIZE, sha256 }));
  const servedBefore = bytesServed(nginx.accessLog);
  const r = await new Downloader({ dir, ...fast }).start({ url: `${nginx.url}/app.ipk`, filename: 'app.ipk', size: SIZE, sha256 }).done;
  expect(r.ok).toBe(true);
  expect(r.state.httpStatus).toBe(206);
  expect(logLines().pop()).toBe(`206 ${SIZE - 10000000} "GET /app.ipk HTTP/1.1" "bytes=10000000-"`);
  expect(bytesServed(nginx.accessLog) - servedBefore).toBe(SIZE - 10000000);

  fs.writeFileSync(path.join(dir, 'b.ipk.part'), file.subarray(0, 5000000));
  fs.writeFileSync(path.join(dir, 'b.ipk.part.meta'), JSON.stringify({ url: `${nginx.url}/app.ipk`, etag: '"0-0"', sha256 }));
  const r2 = await new Downloader({ dir, ...fast }).start({ url: `${nginx.url}/app.ipk`, filename: 'b.ipk', sha256 }).done;
  expect(r2.ok).toBe(true);
  expect(r2.state.httpStatus).toBe(200);
  expect(r2.state.restarts).toBe(1);
  expect(fs.readFileSync(path.join(dir, 'b.ipk')).equals(file)).toBe(true);
});

test('a 404 from nginx is a clear error and leaves nothing', async () => {
  const r = await new Downloader({ dir, ...fast }).start({ url: `${nginx.url}/nope.ipk`, filename: 'nope.ipk' }).done;
  expect(!r.ok && r.error.text).toBe('download failed after 1 attempt: HTTP 404 Not Found');
  expect(fs.readdirSync(dir)).toEqual([]);
});
