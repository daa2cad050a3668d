// com.webos.service.downloadmanager across restarts and its cleanup methods, end to end: the real daemon (npm start's
// main.js), the real luna-send, files served by test/helpers/bad-http-server.ts. History and tickets survive a
// restart (and a damaged state file), a download running at a kill -9 reads interrupted and resumes from its partial
// file, cancelAllDownloads ends every pending download, deleteDownloadedFile removes only a completed download's file.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { call, daemonsForThisFile, lunaSend, makeRoot, type Daemon, type Json } from './helpers/appinstall-daemon';
import { startBadServer, type Behaviour, type BadServer } from './helpers/bad-http-server';

const DLM = 'luna://com.webos.service.downloadmanager';
const { tmp, started } = daemonsForThisFile('dlm-state-');
const blob = crypto.randomBytes(4 * 1024 * 1024);
let server: BadServer;
/** Requests seen per path: the first of a `/slow…` path is sent at 1 MiB/s, of a `/stall…` path stops after 64 KiB. */
const seen = new Map<string, number>();

beforeAll(async () => {
  server = await startBadServer(blob, (_n, req): Behaviour => {
    const p = String(req.url);
    const n = (seen.get(p) ?? 0) + 1;
    seen.set(p, n);
    if (p.startsWith('/missing')) return { status: 404 };
    if (p.startsWith('/slow') && n === 1) return { bytesPerSecond: 1024 * 1024 };
    if (p.startsWith('/stall')) return { stallAfter: 64 * 1024 };
    return {};
  });
});
afterAll(async () => server?.close());

const dirOf = (d: Daemon) => path.join(d.root, 'var/cache/appinstalld/downloads');
const stateFile = (d: Daemon) => path.join(d.root, 'var/lib/appinstalld/downloadmanager/state.json');
const ended = (l: Json) => 'completed' in l || l.returnValue === false;
const record = (item: Json) => JSON.parse(item.recordString) as Json;

/** download with subscribe, read to its final record. */
async function download(d: Daemon, payload: Json): Promise<{ first: Json; last: Json; lines: Json[] }> {
  const r = await lunaSend(d.root, ['-i', `${DLM}/download`, JSON.stringify({ subscribe: true, ...payload })], { until: ended, limitMs: 60000 });
  return { first: r.lines[0], last: r.lines[r.lines.length - 1], lines: r.lines };
}

async function until<T>(what: string, get: () => Promise<T | undefined> | T | undefined, ms = 20000): Promise<T> {
  for (const end = Date.now() + ms; ; ) {
    const v = await get();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const pendingOf = async (d: Daemon, url: string) => ((await call(d.root, `${DLM}/listPending`, {})).downloads as Json[]).find((x) => record(x).url === url);
const history = async (d: Daemon) => (await call(d.root, `${DLM}/getAllHistory`, {})).items as Json[];

test('the history and the ticket count survive a restart; secrets never reach the disk; a damaged state file is set aside and logged', async () => {
  const d1 = await started();
  const ok = await download(d1, { target: `${server.url}/one.bin`, authToken: 'secret-token-1', cookieHeader: 'sid=secret-cookie' });
  expect(ok.last).toEqual(expect.objectContaining({ completed: true, completionStatusCode: 0, authToken: 'secret-token-1' }));
  const bad = await download(d1, { target: `${server.url}/missing.bin` });
  expect(bad.last).toEqual(expect.objectContaining({ completed: false, completionStatusCode: -5, httpStatus: 404 }));
  const before = await history(d1);
  expect(before.map((h) => [h.ticket, h.state])).toEqual([[ok.first.ticket, 'completed'], [bad.first.ticket, 'interrupted']]);
  for (const h of before) {
    expect(h).toEqual(expect.objectContaining({ startTime: expect.stringMatching(/Z$/), endTime: expect.stringMatching(/Z$/), interface: 'ANY' }));
    expect(h).not.toHaveProperty('owner');
  }
  await d1.stop();
  const onDisk = fs.readFileSync(stateFile(d1), 'utf8');
  expect(onDisk).not.toMatch(/secret-token-1|secret-cookie/);

  const d2 = await started({ root: d1.root });
  const after = await history(d2);
  expect(after.map((h) => [h.ticket, h.state, h.startTime, h.endTime])).toEqual(before.map((h) => [h.ticket, h.state, h.startTime, h.endTime]));
  expect(record(after[0])).toEqual({ ...record(before[0]), authToken: '', cookieHeader: '' });
  expect(record(after[1])).toEqual(record(before[1]));
  expect(await call(d2.root, `${DLM}/downloadStatusQuery`, { ticket: ok.first.ticket })).toEqual(expect.objectContaining({ returnValue: true, state: 'completed' }));
  // Ticket numbers go on from the last run's: never one handed out before.
  const next = await download(d2, { target: `${server.url}/two.bin` });
  expect(next.first.ticket).toBe(bad.first.ticket + 1);
  await d2.stop();

  // A damaged file: logged, set aside, the daemon starts with an empty history and tickets above every earlier one.
  fs.writeFileSync(stateFile(d1), '{"nextTicket": 3, "history": [tru');
  const d3 = await started({ root: d1.root });
  expect(d3.stderr()).toMatch(/downloadmanager: state file .*state\.json is damaged and was set aside: not JSON/);
  expect(fs.existsSync(`${stateFile(d1)}.damaged`)).toBe(true);
  expect(await history(d3)).toEqual([]);
  const third = await download(d3, { target: `${server.url}/three.bin` });
  expect(third.last.completed).toBe(true);
  expect(third.first.ticket).toBeGreaterThan(next.first.ticket);

  // A bad record is skipped and named; the good ones stay.
  await d3.stop();
  const saved = JSON.parse(fs.readFileSync(stateFile(d1), 'utf8'));
  saved.history.push({ ticket: 'x', state: 'completed' });
  fs.writeFileSync(stateFile(d1), JSON.stringify(saved));
  const d4 = await started({ root: d1.root });
  expect(d4.stderr()).toMatch(/downloadmanager: history record x: bad ticket/);
  expect((await history(d4)).map((h) => h.ticket)).toEqual([third.first.ticket]);
  await d4.stop();
}, 120000);

test('a download running when the daemon is killed (-9) reads interrupted after the restart; the same URL again resumes its partial file', async () => {
  const d1 = await started();
  const url = `${server.url}/slow.bin`;
  const sub = lunaSend(d1.root, ['-i', `${DLM}/download`, JSON.stringify({ target: url, subscribe: true })], { until: ended, limitMs: 60000 });
  const item = await until('download running', () => pendingOf(d1, url));
  const part = path.join(dirOf(d1), 'slow.bin.part');
  await until('1 MiB on disk', () => (fs.existsSync(part) && fs.statSync(part).size >= 1024 * 1024 ? true : undefined));
  d1.proc.kill('SIGKILL');
  await d1.exited;
  await sub.catch(() => undefined); // its luna-send ends with the hub
  const kept = fs.statSync(part).size;
  expect(fs.existsSync(path.join(dirOf(d1), 'slow.bin.part.meta'))).toBe(true);

  const d2 = await started({ root: d1.root });
  expect(d2.stderr()).toContain(`download ticket ${item.ticket}: interrupted: the daemon stopped before the download ended; its partial file (${kept} bytes) is kept`);
  const q = await call(d2.root, `${DLM}/downloadStatusQuery`, { ticket: item.ticket });
  expect(q).toEqual(expect.objectContaining({ returnValue: true, ticket: item.ticket, state: 'interrupted' }));
  expect(record(q)).toEqual(expect.objectContaining({
    ticket: item.ticket, url, completed: false, interrupted: true, aborted: false, completionStatusCode: 11, errorCode: -418,
    errorText: 'interrupted: the daemon stopped before the download ended', amountReceived: kept, target: path.join(dirOf(d1), 'slow.bin'),
  }));
  expect((await history(d2)).map((h) => [h.ticket, h.state])).toEqual([[item.ticket, 'interrupted']]);
  expect((await call(d2.root, `${DLM}/listPending`, {})).count).toBe(0);
  // The partial file and its sidecar stay (the downloader resumes them); the same URL again continues at that byte.
  expect(fs.statSync(part).size).toBe(kept);
  const again = await download(d2, { target: url });
  expect(again.first.ticket).toBe(item.ticket + 1);
  expect(again.last).toEqual(expect.objectContaining({ completed: true, completionStatusCode: 0, initialOffset: kept, target: path.join(dirOf(d1), 'slow.bin') }));
  expect(fs.readFileSync(again.last.target).equals(blob)).toBe(true);
  expect(server.requests.filter((r) => r.url === '/slow.bin').map((r) => r.range)).toEqual([undefined, `bytes=${kept}-`]);

  // A second restart records it once only.
  await d2.stop();
  const d3 = await started({ root: d1.root });
  expect((await history(d3)).map((h) => [h.ticket, h.state])).toEqual([[item.ticket, 'interrupted'], [again.first.ticket, 'completed']]);
  await d3.stop();
}, 120000);

test('resumeDownload of a ticket a crash interrupted goes on under the same ticket from its partial file; other ended tickets are refused', async () => {
  const d1 = await started();
  const url = `${server.url}/slow-resume.bin`;
  const sub = lunaSend(d1.root, ['-i', `${DLM}/download`, JSON.stringify({ target: url, subscribe: true })], { until: ended, limitMs: 60000 });
  const item = await until('download running', () => pendingOf(d1, url));
  const part = path.join(dirOf(d1), 'slow-resume.bin.part');
  await until('1 MiB on disk', () => (fs.existsSync(part) && fs.statSync(part).size >= 1024 * 1024 ? true : undefined));
  d1.proc.kill('SIGKILL');
  await d1.exited;
  await sub.catch(() => undefined);
  const kept = fs.statSync(part).size;

  const d2 = await started({ root: d1.root });
  const notDownloading = expect.objectContaining({ returnValue: false, errorCode: '-4', errorText: 'Ticket provided does not correspond to a downloading transfer' });
  expect(await call(d2.root, `${DLM}/resumeDownload`, { ticket: item.ticket + 500 })).toEqual(notDownloading);
  expect(await call(d2.root, `${DLM}/resumeDownload`, { ticket: `${item.ticket}/../1` })).toEqual(notDownloading);
  expect(await call(d2.root, `${DLM}/resumeDownload`, { ticket: item.ticket })).toEqual({ returnValue: true, ticket: item.ticket });
  const done = await until('the resumed download completed', async () => {
    const q = await call(d2.root, `${DLM}/downloadStatusQuery`, { ticket: item.ticket });
    return q.state === 'completed' ? q : undefined;
  }, 30000);
  expect(record(done)).toEqual(expect.objectContaining({ ticket: item.ticket, url, completed: true, initialOffset: kept, target: path.join(dirOf(d1), 'slow-resume.bin') }));
  expect(fs.readFileSync(path.join(dirOf(d1), 'slow-resume.bin')).equals(blob)).toBe(true);
  expect(server.requests.filter((r) => r.url === '/slow-resume.bin').map((r) => r.range)).toEqual([undefined, `bytes=${kept}-`]);
  expect((await history(d2)).filter((h) => h.ticket === item.ticket).map((h) => h.state)).toEqual(['completed']);
  // A completed ticket is not resumed again.
  expect(await call(d2.root, `${DLM}/resumeDownload`, { ticket: item.ticket })).toEqual(notDownloading);
  await d2.stop();
}, 120000);

test('a clean stop (SIGTERM) leaves the running download interrupted with its partial file, as a crash does, not cancelled', async () => {
  const d1 = await started();
  const url = `${server.url}/slow-term.bin`;
  const sub = lunaSend(d1.root, ['-i', `${DLM}/download`, JSON.stringify({ target: url, subscribe: true })], { until: ended, limitMs: 60000 });
  const item = await until('download running', () => pendingOf(d1, url));
  const part = path.join(dirOf(d1), 'slow-term.bin.part');
  await until('1 MiB on disk', () => (fs.existsSync(part) && fs.statSync(part).size >= 1024 * 1024 ? true : undefined));
  await d1.stop();
  await sub.catch(() => undefined);
  expect(fs.existsSync(part)).toBe(true);
  const d2 = await started({ root: d1.root });
  expect((await history(d2)).map((h) => [h.ticket, h.state, record(h).completionStatusCode])).toEqual([[item.ticket, 'interrupted', 11]]);
  expect(fs.statSync(part).size).toBeGreaterThanOrEqual(1024 * 1024);
  await d2.stop();
}, 120000);

test('cancelAllDownloads: every pending download (running or paused) ends cancelled, its partial file removed; the history says so after a restart', async () => {
  const d = await started();
  const urls = [`${server.url}/stall-a.bin`, `${server.url}/stall-b.bin`];
  const subs = urls.map((u) => lunaSend(d.root, ['-i', `${DLM}/download`, JSON.stringify({ target: u, subscribe: true })], { until: ended, limitMs: 60000 }));
  const items = await Promise.all(urls.map((u) => until('download running', async () => {
    const x = await pendingOf(d, u);
    return x && record(x).amountReceived > 0 ? x : undefined;
  })));
  expect(await call(d.root, `${DLM}/pauseDownload`, { ticket: items[1].ticket })).toEqual(expect.objectContaining({ returnValue: true }));
  expect(await call(d.root, `${DLM}/cancelAllDownloads`, {})).toEqual({ returnValue: true });
  for (const s of await Promise.all(subs)) {
    expect(s.lines[s.lines.length - 1]).toEqual(expect.objectContaining({ aborted: true, completed: false, completionStatusCode: 12 }));
  }
  expect(await call(d.root, `${DLM}/listPending`, {})).toEqual(expect.objectContaining({ returnValue: true, count: 0, downloads: [] }));
  expect(fs.readdirSync(dirOf(d)).filter((f) => f.startsWith('stall-'))).toEqual([]);
  expect(await call(d.root, `${DLM}/cancelAllDownloads`, {})).toEqual({ returnValue: true }); // nothing pending: still fine
  await d.stop();
  const d2 = await started({ root: d.root });
  const byTicket = (a: Json[]) => [...a].sort((x, y) => x[0] - y[0]);
  expect(byTicket((await history(d2)).map((h) => [h.ticket, h.state]))).toEqual(byTicket(items.map((i) => [i.ticket, 'cancelled'])));
  await d2.stop();
}, 120000);

test('deleteDownloadedFile: only the file a completed download of that ticket placed, never a hostile or stale ticket\'s', async () => {
  const d = await started();
  const dir = dirOf(d);
  const canary = path.join(tmp, 'canary');
  fs.writeFileSync(canary, 'keep me');
  const del = (ticket: unknown) => call(d.root, `${DLM}/deleteDownloadedFile`, { ticket });
  const refused = (code: number, text: RegExp) => expect.objectContaining({ returnValue: false, errorCode: String(code), errorText: expect.stringMatching(text) });

  const one = await download(d, { target: `${server.url}/del-one.bin` });
  const file = one.last.target as string;
  expect(file).toBe(path.join(dir, 'del-one.bin'));

  // Hostile ticket values: refused before anything is looked up.
  for (const t of ['../../etc/passwd', `${one.first.ticket}/../x`, -1, 0, '1e3', ' 1', '0x1', 2 ** 60]) {
    expect(await del(t)).toEqual(refused(-1, /^ticket must be a positive whole number/));
  }
  for (const payload of [{ ticket: 1.5 }, { ticket: { $gt: 0 } }, { ticket: [one.first.ticket] }, { ticket: 'x'.repeat(21) }, {}]) {
    expect(await call(d.root, `${DLM}/deleteDownloadedFile`, payload)).toEqual(expect.objectContaining({ returnValue: false, errorText: expect.stringMatching(/^Invalid parameter/) }));
  }
  // A ticket never handed out, a failed download, a download still running, a cancelled one.
  expect(await del(one.first.ticket + 1000)).toEqual(refused(-4, /^no download with ticket/));
  const failed = await download(d, { target: `${server.url}/missing-del.bin` });
  expect(await del(failed.first.ticket)).toEqual(refused(-6, /ended interrupted, not completed/));
  const stallUrl = `${server.url}/stall-del.bin`;
  const sub = lunaSend(d.root, ['-i', `${DLM}/download`, JSON.stringify({ target: stallUrl, subscribe: true })], { until: ended, limitMs: 60000 });
  const running = await until('download running', () => pendingOf(d, stallUrl));
  expect(await del(running.ticket)).toEqual(refused(-5, /has not ended/));
  await call(d.root, `${DLM}/cancelDownload`, { ticket: running.ticket });
  await sub;
  expect(await del(running.ticket)).toEqual(refused(-6, /ended cancelled, not completed/));

  // Something else in the file's place: a symbolic link to a file outside, or other bytes: refused, both kept.
  fs.renameSync(file, `${file}.saved`);
  fs.symlinkSync(canary, file);
  expect(await del(one.first.ticket)).toEqual(refused(-8, /is not a regular file/));
  fs.rmSync(file);
  fs.writeFileSync(file, 'other bytes');
  expect(await del(one.first.ticket)).toEqual(refused(-8, /is 11 bytes, the download was 4194304/));
  fs.renameSync(`${file}.saved`, file);
  expect(fs.readFileSync(canary, 'utf8')).toBe('keep me');

  // The real thing: deleted; a second time: already deleted.
  expect(await del(one.first.ticket)).toEqual({ returnValue: true, ticket: one.first.ticket });
  expect(fs.existsSync(file)).toBe(false);
  expect(await del(String(one.first.ticket))).toEqual(refused(-7, /was already deleted/));

  // The same name downloaded again belongs to the new ticket: the old one cannot delete it, even when the file was
  // removed behind the service's back before the name was taken again.
  const two = await download(d, { target: `${server.url}/del-one.bin` });
  expect(two.last.target).toBe(file);
  expect(await del(one.first.ticket)).toEqual(refused(-7, /was already deleted/));
  fs.rmSync(file);
  expect(await del(two.first.ticket)).toEqual(refused(-7, /is no longer there/));
  const three = await download(d, { target: `${server.url}/del-one.bin` });
  expect(three.last.target).toBe(file);
  expect(await del(two.first.ticket)).toEqual(refused(-8, new RegExp(`now belongs to download ${three.first.ticket}`)));
  expect(fs.existsSync(file)).toBe(true);

  // After a restart the history still knows the file's owner and what was deleted.
  await d.stop();
  const d2 = await started({ root: d.root });
  expect(await call(d2.root, `${DLM}/deleteDownloadedFile`, { ticket: one.first.ticket })).toEqual(refused(-7, /was already deleted/));
  expect(await call(d2.root, `${DLM}/deleteDownloadedFile`, { ticket: three.first.ticket })).toEqual({ returnValue: true, ticket: three.first.ticket });
  expect(fs.existsSync(file)).toBe(false);
  expect(fs.readFileSync(canary, 'utf8')).toBe('keep me');
  await d2.stop();
}, 180000);

test('a device made before cancelAllDownloads and deleteDownloadedFile gets them: its untouched policy file is updated at start, an edited one is kept', async () => {
  const root = makeRoot();
  const api = path.join(root, 'usr/share/luna-service2/api-permissions.d/com.webos.service.downloadmanager.api.json');
  fs.mkdirSync(path.dirname(api), { recursive: true });
  // The file as an earlier version of this product shipped it (acg/shipped-policy-history.json has its sha256).
  const earlier = {
    'download.management': ['download', 'downloadStatusQuery', 'pauseDownload', 'resumeDownload', 'cancelDownload', 'listPending'].map((m) => `com.webos.service.downloadmanager/${m}`),
    'download.operation': ['getAllHistory', 'clearHistory'].map((m) => `com.webos.service.downloadmanager/${m}`),
  };
  fs.writeFileSync(api, JSON.stringify(earlier, null, 4) + '\n');
  const d = await started({ root });
  expect(fs.readFileSync(api, 'utf8')).toContain('com.webos.service.downloadmanager/deleteDownloadedFile');
  expect(d.stderr()).toMatch(/acg: installed \d+ and updated 1 default policy file/);
  expect(await call(root, `${DLM}/cancelAllDownloads`, {})).toEqual({ returnValue: true });
  expect(await call(root, `${DLM}/deleteDownloadedFile`, { ticket: 424242 })).toEqual(expect.objectContaining({ returnValue: false, errorCode: '-4' }));
  await d.stop();
  // The device owner's own edit (a method taken out of every group) stays, and the log says why.
  const mine = JSON.parse(fs.readFileSync(api, 'utf8'));
  mine['download.operation'] = mine['download.operation'].filter((m: string) => !m.endsWith('/cancelAllDownloads'));
  fs.writeFileSync(api, JSON.stringify(mine));
  const again = await started({ root });
  expect(JSON.parse(fs.readFileSync(api, 'utf8'))).toEqual(mine);
  expect(again.stderr()).toContain(`acg: kept ${api}: edited on this device`);
  await again.stop();
}, 60000);
