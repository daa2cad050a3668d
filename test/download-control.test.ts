// Pause, resume and cancel, the bounded queue, throttled progress with speed, the cache cleaner, and the
// luna-downloadmgr ticket records built from the downloader's states.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cleanCache } from '../download/cache';
import { backoffMs, defaultDownloadDir, Downloader } from '../download/downloader';
import { addToHistory, clearHistory, downloadReply, finalRecord, issueTicket, newTicketBook, pendingTickets, progressDue, progressRecord, statusItem, updateIntervalBytes } from '../download/tickets';
import type { DownloadState } from '../download/types';
import { DownloadCompletionStatus, DownloadErrorText } from '../status-codes';
import { startBadServer, type BadServer } from './helpers/bad-http-server';

const SIZE = 2 * 1024 * 1024;
const file = crypto.randomBytes(SIZE);
const sha256 = crypto.createHash('sha256').update(file).digest('hex');
const fast = { backoffBaseMs: 5, backoffMaxMs: 20, stallTimeoutMs: 5000, fsync: false };

let dir: string;
let server: BadServer | undefined;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-control-'));
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  fs.rmSync(dir, { recursive: true, force: true });
});

const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

test('pause keeps the partial file, resume continues with Range, cancel removes the partial and its sidecar', async () => {
  // The first reply sends half and then holds the connection open (as a slow network would).
  server = await startBadServer(file, (n) => (n === 0 ? { stallAfter: SIZE / 2 } : {}));
  const d = new Downloader({ dir, ...fast });
  const h = d.start({ url: `${server.url}/a`, filename: 'a.ipk', size: SIZE, sha256 });
  await until(() => (d.get(h.id)?.received ?? 0) >= SIZE / 2);
  expect(d.pause(h.id)).toBeNull();
  await until(() => fs.existsSync(path.join(dir, 'a.ipk.part')) && fs.statSync(path.join(dir, 'a.ipk.part')).size === SIZE / 2);
  expect(d.get(h.id)!.phase).toBe('paused');
  expect(d.pause(h.id)).toEqual({ code: expect.any(Number), text: DownloadErrorText.notDownloading });
  expect(d.resume(h.id)).toBeNull();
  const r = await h.done;
  expect(r.ok).toBe(true);
  expect(server.requests[1].range).toBe(`bytes=${SIZE / 2}-`);
  expect(r.state.fetchedBytes).toBe(SIZE);
  expect(fs.readFileSync(path.join(dir, 'a.ipk')).equals(file)).toBe(true);

  const h2 = d.start({ url: `${server.url}/b`, filename: 'b.ipk', size: SIZE, sha256 });
  server.requests.length = 0;
  await new Promise((r) => setTimeout(r, 0));
  expect(d.pause(h2.id)).toBeNull(); // paused while queued or just started
  expect(await d.cancel(h2.id)).toBeNull();
  const r2 = await h2.done;
  expect(!r2.ok && r2.error.text).toBe('download cancelled');
  expect(r2.state.phase).toBe('cancelled');
  expect(fs.readdirSync(dir)).toEqual(['a.ipk']);
});

test('cancel of a running download: partial file and sidecar gone', async () => {
  server = await startBadServer(file, () => ({ stallAfter: SIZE / 4 }));
  const d = new Downloader({ dir, ...fast });
  const h = d.start({ url: `${server.url}/a`, filename: 'a.ipk', size: SIZE, sha256 });
  await until(() => (d.get(h.id)?.received ?? 0) >= SIZE / 4);
  await until(() => fs.existsSync(path.join(dir, 'a.ipk.part.meta')));
  expect(await d.cancel(h.id)).toBeNull();
  const r = await h.done;
  expect(r.state.phase).toBe('cancelled');
  expect(fs.readdirSync(dir)).toEqual([]);
});

test('at most `concurrency` downloads run at once; the rest wait in order', async () => {
  let open = 0;
  let maxOpen = 0;
  server = await startBadServer(file, () => ({}));
  const d = new Downloader({ dir, ...fast, concurrency: 2 });
  d.on('state', () => {
    open = d.list().filter((s) => s.phase === 'running').length;
    maxOpen = Math.max(maxOpen, open);
  });
  const hs = Array.from({ length: 6 }, (_, i) => d.start({ url: `${server!.url}/f${i}`, filename: `f${i}.ipk`, size: SIZE, sha256 }));
  expect(d.list().filter((s) => s.phase === 'queued').length).toBe(4);
  // The same file name twice at once is refused (the bytes of two downloads would interleave in one partial file).
  const twice = await d.start({ url: `${server.url}/other`, filename: 'f5.ipk' }).done;
  expect(!twice.ok && twice.error.text).toBe('a download to f5.ipk is already in progress');
  const full = new Downloader({ dir, ...fast, concurrency: 1, maxQueued: 1 });
  const first = full.start({ url: `${server!.url}/q0`, filename: 'q0.ipk', size: SIZE, sha256 });
  full.start({ url: `${server!.url}/q1`, filename: 'q1.ipk', size: SIZE, sha256 });
  const refused = await full.start({ url: `${server!.url}/q2`, filename: 'q2.ipk', size: SIZE, sha256 }).done;
  expect(!refused.ok && refused.error.text).toBe('too many downloads waiting (limit 1)');
  await full.close();
  await first.done;
  const rs = await Promise.all(hs.map((h) => h.done));
  expect(rs.every((r) => r.ok)).toBe(true);
  expect(maxOpen).toBe(2);
  const small = new Downloader({ dir, ...fast, maxEndedKept: 2 });
  for (let i = 0; i < 4; i++) await small.start({ url: 'file:///x', filename: 'x' }).done;
  expect(small.list().map((s) => s.id)).toEqual([3, 4]);
  expect(fs.readdirSync(dir).sort()).toEqual(['f0.ipk', 'f1.ipk', 'f2.ipk', 'f3.ipk', 'f4.ipk', 'f5.ipk']);
});

test('progress events: bytes, total and a smoothed speed, throttled', async () => {
  const big = crypto.randomBytes(16 * 1024 * 1024);
  server = await startBadServer(big, () => ({}));
  const d = new Downloader({ dir, ...fast, progressIntervalMs: 20 });
  const events: DownloadState[] = [];
  d.on('progress', (s: DownloadState) => events.push(s));
  const t0 = Date.now();
  const r = await d.start({ url: `${server.url}/big`, filename: 'big.ipk', size: big.length }).done;
  const ms = Date.now() - t0;
  expect(r.ok).toBe(true);
  expect(events.length).toBeGreaterThanOrEqual(2);
  expect(events.length).toBeLessThanOrEqual(ms / 20 + 3);
  for (let i = 1; i < events.length; i++) expect(events[i].received).toBeGreaterThanOrEqual(events[i - 1].received);
  const last = events[events.length - 1];
  expect(last).toMatchObject({ received: big.length, total: big.length, phase: 'completed' });
  expect(events.every((e) => e.total === big.length)).toBe(true);
  if (ms > 300) expect(events.some((e) => e.speed > 0)).toBe(true);
});

test('backoff grows exponentially with jitter and is capped', () => {
  expect(backoffMs(1, 100, 1000, () => 0)).toBe(50);
  expect(backoffMs(1, 100, 1000, () => 1)).toBe(100);
  expect(backoffMs(3, 100, 1000, () => 1)).toBe(400);
  expect(backoffMs(10, 100, 1000, () => 1)).toBe(1000);
  expect(defaultDownloadDir('/r')).toBe('/r/var/cache/appinstalld/downloads');
});

test('cache cleaner: keeps the keep-set and busy partials, removes the rest and stale partials', async () => {
  const w = (name: string, ageDays = 0) => {
    fs.writeFileSync(path.join(dir, name), 'x');
    const t = Date.now() / 1000 - ageDays * 86400;
    fs.utimesSync(path.join(dir, name), t, t);
  };
  w('keep.ipk');
  w('old.ipk');
  w('kept-partial.ipk.part');
  w('kept-partial.ipk.part.meta');
  w('stale.ipk.part', 30);
  w('stale.ipk.part.meta', 30);
  w('busy.ipk.part', 30);
  w('orphan.ipk.part');
  fs.mkdirSync(path.join(dir, 'subdir'));
  const r = await cleanCache(dir, { keep: ['keep.ipk', 'kept-partial.ipk', 'stale.ipk'], busy: ['busy.ipk'] });
  expect(r.removed).toEqual(['old.ipk', 'orphan.ipk.part', 'stale.ipk.part', 'stale.ipk.part.meta']);
  expect(r.freedBytes).toBe(4);
  expect(fs.readdirSync(dir).sort()).toEqual(['busy.ipk.part', 'keep.ipk', 'kept-partial.ipk.part', 'kept-partial.ipk.part.meta', 'subdir']);
  expect(await cleanCache(path.join(dir, 'none'), { keep: [] })).toEqual({ removed: [], freedBytes: 0 });
});

test("tickets: luna-downloadmgr's replies, progress and final records, query items and a bounded history", async () => {
  server = await startBadServer(file, (n, req) => (req.url === '/missing' ? { status: 404 } : {}));
  const d = new Downloader({ dir, ...fast });
  let book = newTicketBook(2);
  const h = d.start({ url: `${server.url}/a.ipk`, filename: 'a.ipk', size: SIZE });
  const issued = issueTicket(book, { downloadId: h.id, url: `${server.url}/a.ipk` });
  book = issued.book;
  const t = issued.ticket;
  expect(t.ticket).toBe(1);
  expect(downloadReply(t, d.get(h.id)!, true)).toEqual({ returnValue: true, ticket: 1, url: `${server.url}/a.ipk`, target: path.join(dir, 'a.ipk'), subscribed: true });
  expect(pendingTickets(book, (id) => d.get(id)).map((p) => p.ticket.ticket)).toEqual([1]);
  const running = progressRecord(t, { ...d.get(h.id)!, phase: 'running', received: 1000 });
  expect(running).toMatchObject({ ticket: 1, amountReceived: 1000, e_amountReceived: '1000', amountTotal: SIZE, e_amountTotal: String(SIZE), target: path.join(dir, 'a.ipk.part'), destPath: dir + '/', destFile: 'a.ipk' });
  expect(running).not.toHaveProperty('completed');
  const r = await h.done;
  const fin = finalRecord(t, r.state);
  expect(fin).toMatchObject({ completed: true, interrupted: false, aborted: false, completionStatusCode: 0, httpStatus: 200, amountReceived: SIZE, target: path.join(dir, 'a.ipk') });
  const item = statusItem(t, r.state, { exists: true, size: SIZE });
  expect(item).toMatchObject({ ticket: 1, state: 'completed', interface: 'ANY', fileExistsOnFilesys: true, fileSizeOnFilesys: SIZE });
  expect(JSON.parse(item.recordString as string)).toEqual(fin);
  book = addToHistory(book, t, r.state);
  expect(pendingTickets(book, (id) => d.get(id))).toEqual([]);

  const h404 = d.start({ url: `${server.url}/missing`, filename: 'm.ipk' });
  const i404 = issueTicket(book, { downloadId: h404.id, url: `${server.url}/missing` });
  book = i404.book;
  const r404 = await h404.done;
  expect(finalRecord(i404.ticket, r404.state)).toMatchObject({ completed: false, aborted: false, completionStatusCode: DownloadCompletionStatus.HTTP_ERROR, httpStatus: 404, errorText: 'download failed after 1 attempt: HTTP 404 Not Found' });
  book = addToHistory(book, i404.ticket, r404.state);
  const cancelled = { ...r404.state, phase: 'cancelled' as const, error: undefined };
  expect(finalRecord(i404.ticket, cancelled)).toMatchObject({ aborted: true, completed: false, interrupted: false, completionStatusCode: 12 });
  const stalled = { ...r404.state, error: { code: -405 as const, text: 'x' } };
  expect(finalRecord(i404.ticket, stalled)).toMatchObject({ interrupted: true, completed: false, completionStatusCode: 11 });
  expect(finalRecord(i404.ticket, stalled)).not.toHaveProperty('httpStatus');
  book = addToHistory(issueTicket(book, { downloadId: 99, url: 'http://x/y' }).book, { ticket: 3, downloadId: 99, url: 'http://x/y' }, cancelled);
  expect(book.history.map((x) => [x.ticket, x.state])).toEqual([[2, 'interrupted'], [3, 'cancelled']]);
  expect(clearHistory(book).history).toEqual([]);
});

test('a pause while the finished file is being verified: resume verifies it again and places it', async () => {
  server = await startBadServer(file, () => ({}));
  const d = new Downloader({ dir, ...fast });
  const h = d.start({ url: `${server.url}/a`, filename: 'a.ipk', size: SIZE, sha256 });
  await until(() => (d.get(h.id)?.received ?? 0) === SIZE);
  if (d.pause(h.id) === null) {
    await new Promise((r) => setTimeout(r, 20));
    if (d.get(h.id)!.phase === 'paused') expect(d.resume(h.id)).toBeNull();
  }
  const r = await h.done;
  expect(r.ok).toBe(true);
  expect(fs.readdirSync(dir)).toEqual(['a.ipk']);
  expect(fs.readFileSync(path.join(dir, 'a.ipk')).equals(file)).toBe(true);
});

test("luna-downloadmgr's progress cadence: total/20 bytes, between 100 KiB and 2000 KiB", () => {
  expect(updateIntervalBytes(undefined)).toBe(102400);
  expect(updateIntervalBytes(1000000)).toBe(102400);
  expect(updateIntervalBytes(20 * 1024 * 1024)).toBe(1024 * 1024);
  expect(updateIntervalBytes(10 ** 10)).toBe(2048000);
  expect(progressDue(0, 102399, undefined)).toBe(false);
  expect(progressDue(0, 102400, undefined)).toBe(true);
  expect(progressDue(950000, 1000000, 1000000)).toBe(true); // the last bytes always make an event
});
