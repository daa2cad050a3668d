// The distribution layer's pure parts: the shipped policy agrees with the declared groups of the download manager and
// the /feeds and /catalog methods; the catalog install plan (dependencies first); the config keys; download names.
import fs from 'node:fs';
import path from 'node:path';
import { buildCatalog } from '../feeds/catalog';
import type { IndexPackage } from '../feeds/packages-index';
import { catalogCompare, planInstall, OPERATIONS_GROUP } from '../services/appinstall/feed-methods';
import { parseDaemonConfig } from '../services/appinstall/daemon-config';
import { DownloadManagerService, fileNameOfUrl } from '../services/downloadmanager/downloadmanager-service';
import { FeedMethods } from '../services/appinstall/feed-methods';
import { parseVersion } from '../engine/dpkg-version';
import { Stage } from '../status-codes';
import { parseTicket } from '../download/tickets';
import { checkState, loadBook, StateWriter, stateOf, ticketAfterDamage } from '../services/downloadmanager/ticket-store';

const POLICY = path.join(__dirname, '../acg/default-policy');

function apiPermissions(): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of fs.readdirSync(path.join(POLICY, 'api-permissions.d'))) {
    for (const [g, pats] of Object.entries(JSON.parse(fs.readFileSync(path.join(POLICY, 'api-permissions.d', f), 'utf8')) as Record<string, string[]>)) out[g] = [...(out[g] ?? []), ...pats];
  }
  return out;
}

function declarations(open: (client: any) => void): Record<string, Record<string, { groups?: string[] }>> {
  const seen: Record<string, Record<string, { groups?: string[] }>> = {};
  open({ registerCategory: (c: string, m: Record<string, { groups?: string[] }>) => (seen[c] = m), subscriptions: {} });
  return seen;
}

function problems(service: string, decl: Record<string, Record<string, { groups?: string[] }>>): string[] {
  const api = apiPermissions();
  const out: string[] = [];
  for (const [category, methods] of Object.entries(decl)) {
    for (const [m, spec] of Object.entries(methods)) {
      const name = category === '/' ? `${service}/${m}` : `${service}${category}/${m}`;
      const holders = Object.entries(api).filter(([, pats]) => pats.includes(name)).map(([g]) => g).sort();
      if (JSON.stringify(holders) !== JSON.stringify([...(spec.groups ?? [])].sort())) out.push(`${name}: declared ${spec.groups} but shipped in ${holders}`);
    }
  }
  return out;
}

test('the shipped policy: download.management/download.operation and applicationinstall.operations, oem (root) only', async () => {
  const downloader = { on: () => undefined, options: { dir: '/nonexistent' } } as any;
  const dm = declarations((c) => new DownloadManagerService(c, downloader, () => undefined).open());
  expect(Object.keys(dm['/']).sort()).toEqual([
    'cancelAllDownloads', 'cancelDownload', 'clearHistory', 'deleteDownloadedFile', 'download', 'downloadStatusQuery', 'getAllHistory', 'listPending', 'pauseDownload', 'resumeDownload',
  ]);
  // As luna-downloadmgr ships them: deleteDownloadedFile with the per-download methods, cancelAllDownloads with the history.
  expect(dm['/'].deleteDownloadedFile.groups).toEqual(['download.management']);
  expect(dm['/'].cancelAllDownloads.groups).toEqual(['download.operation']);
  expect(problems('com.webos.service.downloadmanager', dm)).toEqual([]);
  let feeds: Record<string, Record<string, { groups?: string[] }>> = {};
  const store = { load: async () => undefined, list: () => [] } as any;
  await new Promise<void>((resolve) => {
    feeds = declarations((c) => void new FeedMethods(c, {} as any, store, downloader, { layout: {} as any, operations: {} as any, log: () => undefined }).open().then(resolve));
  });
  expect(Object.keys(feeds).sort()).toEqual(['/catalog', '/feeds']);
  expect(problems('com.webos.appInstallService', feeds)).toEqual([]);
  const groups = (f: string) => JSON.parse(fs.readFileSync(path.join(POLICY, 'groups.d', f), 'utf8'));
  expect(groups('com.webos.service.downloadmanager.groups.json')).toEqual({ allowedNames: ['com.webos.service.downloadmanager'], 'download.management': ['oem'], 'download.operation': ['oem'] });
  expect(groups('com.webos.appInstallService.groups.json')[OPERATIONS_GROUP[0]]).toEqual(['oem']);
  const manifest = fs.readFileSync(path.join(POLICY, 'manifests.d/appinstalld-default-policy.json'), 'utf8');
  for (const f of ['com.webos.service.downloadmanager.api.json', 'com.webos.appInstallService.feeds.api.json', 'com.webos.service.downloadmanager.groups.json', 'com.webos.service.downloadmanager.service']) expect(manifest).toContain(f);
});

test('stages 7, 8, 10, 23 as webOS numbers them', () => {
  expect([Stage.DOWNLOAD_REQUESTED, Stage.DOWNLOAD_CURRENT, Stage.DOWNLOAD_COMPLETE, Stage.DOWNLOAD_FAILED].map((s) => s.statusValue)).toEqual([7, 8, 10, 23]);
});

const pkg = (name: string, version: string, depends?: string): IndexPackage => ({ name, version, filename: `${name}.ipk`, url: `http://x/${name}.ipk`, depends });

describe('planInstall: missing dependencies first', () => {
  const catalog = buildCatalog([{ feed: 'f', priority: 0, packages: [
    pkg('app', '2.0', 'libb (>= 1.0), libc | musl'), pkg('libb', '1.5', 'liba'), pkg('liba', '1.0'), pkg('liba', '0.9'), pkg('musl', '1.0'),
    pkg('cyc1', '1', 'cyc2'), pkg('cyc2', '1', 'cyc1'), pkg('broken', '1', 'nowhere (>= 2)'), pkg('old', '1', 'liba (>= 3)'),
  ] }], new Map(), catalogCompare);
  const v = (s: string) => { const r = parseVersion(s); if (!r.ok) throw new Error(s); return r.value; };
  const names = (name: string, installed = new Map()) => planInstall(catalog, catalog.entries.get(name)!.chosen, installed).map((c) => `${c.pkg.name}=${c.pkg.version}`);

  test('a chain of three, alternatives, the installed set', () => {
    expect(names('app')).toEqual(['liba=1.0', 'libb=1.5', 'musl=1.0', 'app=2.0']);
    expect(names('app', new Map([['liba', v('1.0')], ['libc', v('2')]]))).toEqual(['libb=1.5', 'app=2.0']);
    expect(names('app', new Map([['libb', v('0.5')]]))).toEqual(['liba=1.0', 'libb=1.5', 'musl=1.0', 'app=2.0']);
  });
  test('a cycle ends; an unmet clause is a clear refusal', () => {
    expect(names('cyc1')).toEqual(['cyc2=1', 'cyc1=1']);
    expect(() => names('broken')).toThrow(/cannot satisfy "nowhere \(>= 2\)" of broken/);
    expect(() => names('old')).toThrow(/cannot satisfy "liba \(>= 3\)"/);
  });
  test('the catalog compares as dpkg does', () => {
    expect(catalogCompare('1.0~rc1', '1.0')).toBe(-1);
    expect(catalogCompare('1:0.1', '2.0')).toBe(1);
  });
});

test('appinstalld.json: download and feed keys are bounded', () => {
  expect(parseDaemonConfig({ downloadConcurrency: 3, downloadAttempts: 2, feedRefreshTimeoutMs: 5000, feedMaxDownloadBytes: 4096, downloadProgressIntervalMs: 50 })).toEqual(
    expect.objectContaining({ downloadConcurrency: 3, downloadAttempts: 2, feedRefreshTimeoutMs: 5000, feedMaxDownloadBytes: 4096, downloadProgressIntervalMs: 50 }));
  expect(() => parseDaemonConfig({ downloadConcurrency: 0 })).toThrow(/"downloadConcurrency" must be an integer from 1 to 16/);
  expect(() => parseDaemonConfig({ downloadAttempts: 'many' })).toThrow(/downloadAttempts/);
});

test('download manager file names come from the URL and stay plain names', () => {
  expect(fileNameOfUrl('http://h/a/b/app_1.0.ipk?x=1')).toBe('app_1.0.ipk');
  expect(fileNameOfUrl('http://h/%2e%2e%2fetc%2fpasswd')).toBe('_etc_passwd');
  expect(fileNameOfUrl('http://h/')).toBe('download');
});

test('download manager tickets: only positive whole numbers or their digits', () => {
  expect([7, '7', '123456789012'].map(parseTicket)).toEqual([7, 7, 123456789012]);
  for (const bad of [0, -1, 1.5, '07', ' 7', '7 ', '1e3', '0x7', '../7', '', '12345678901234567', 2 ** 60, null, true, {}, [7]]) expect(parseTicket(bad)).toBeNull();
});

test("download manager state: an unfinished download is recovered as interrupted (partial kept) or completed (file in place); bad records named; secrets not written", async () => {
  const dir = fs.mkdtempSync('/tmp/dlm-units-');
  try {
    const downloads = path.join(dir, 'downloads');
    fs.mkdirSync(downloads);
    fs.writeFileSync(path.join(downloads, 'half.bin.part'), Buffer.alloc(1000));
    fs.writeFileSync(path.join(downloads, 'done.bin'), Buffer.alloc(300));
    const at = '2026-01-02T03:04:05.000Z';
    const entry = (ticket: number, filename: string) => ({ ticket, url: `http://h/${filename}`, filename, owner: 1000, startTime: at });
    const file = path.join(dir, 'state.json');
    fs.writeFileSync(file, JSON.stringify({
      nextTicket: 10,
      history: [{ ticket: 1, state: 'completed', interface: 'ANY', recordString: '{}' }, { ticket: 12, state: 'completed', interface: 'ANY', recordString: '{}' }],
      active: [entry(5, 'half.bin'), entry(6, 'done.bin'), entry(7, 'queued.bin'), entry(8, '../escape'), entry(1, 'dup.bin')],
    }));
    const { book, problems } = await loadBook(file, downloads, Date.parse('2026-01-02T03:05:00.000Z'));
    expect(problems).toEqual(['history record 12: bad ticket', 'active download 8: bad file name', 'ticket 1: listed twice']);
    expect(book.nextTicket).toBe(10);
    expect(book.tickets.size).toBe(0);
    const rec = (t: number) => JSON.parse(book.history.find((h) => h.ticket === t)!.recordString);
    expect(book.history.map((h) => [h.ticket, h.state, h.owner])).toEqual([[1, 'completed', undefined], [5, 'interrupted', 1000], [6, 'completed', 1000], [7, 'interrupted', 1000]]);
    expect(rec(5)).toMatchObject({ completionStatusCode: 11, interrupted: true, completed: false, errorCode: -418, amountReceived: 1000, target: path.join(downloads, 'half.bin') });
    expect(rec(6)).toMatchObject({ completionStatusCode: 0, completed: true, amountReceived: 300, e_amountReceived: '300', target: path.join(downloads, 'done.bin') });
    expect(rec(7)).toMatchObject({ completionStatusCode: 11, amountReceived: 0 });
    expect(book.history.find((h) => h.ticket === 5)).toMatchObject({ startTime: at, endTime: '2026-01-02T03:05:00.000Z' });
    expect(fs.statSync(path.join(downloads, 'half.bin.part')).size).toBe(1000); // kept for a resume

    // Written back without the request's secrets; a save asked while one waits joins it.
    const secret = { ...book, history: [{ ticket: 2, state: 'completed' as const, interface: 'ANY', recordString: JSON.stringify({ authToken: 'tok', cookieHeader: 'c=1', url: 'u' }) }] };
    let reads = 0;
    const w = new StateWriter(file, () => (reads++, stateOf(secret, [])));
    await Promise.all([w.save(), w.save(), w.save()]);
    expect(reads).toBeLessThanOrEqual(2);
    const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(JSON.parse(saved.history[0].recordString)).toEqual({ authToken: '', cookieHeader: '', url: 'u' });
    expect('value' in checkState(saved)).toBe(true);
    // Not a state at all: a damaged file (set aside by the reader); tickets after it stay 32-bit.
    expect(checkState({ nextTicket: 0, history: [], active: [] })).toEqual({ problem: 'nextTicket is not a positive integer' });
    expect(ticketAfterDamage(Date.parse('2030-01-01T00:00:00Z'))).toBe(1893456000);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('/catalog/list of a 20,000-package catalog: pages within the bus frame limit, total given', async () => {
  const { generatePackages } = await import('./helpers/opkg-feed');
  const { DEFAULT_LIMITS } = await import('../ipc/protocol');
  const packages: IndexPackage[] = generatePackages(20000).map((p) => ({ ...pkg(p.name, p.version, p.depends), section: p.section, size: p.size, description: `${'long summary '.repeat(80)}\nmore` }));
  const store = { load: async () => undefined, list: () => [], indexes: () => [{ feed: 'big', priority: 0, packages }] } as any;
  const downloader = { on: () => undefined, options: { dir: '/nonexistent' } } as any;
  let decl: Record<string, Record<string, any>> = {};
  await new Promise<void>((resolve) => {
    decl = declarations((c) => void new FeedMethods(c, {} as any, store, downloader, { layout: { verifiedApps: { opkgInfo: '/nonexistent', base: '/nonexistent' } } as any, operations: {} as any, log: () => undefined }).open().then(resolve));
  });
  const list = (payload: Record<string, unknown>) => decl['/catalog'].list.handler({ payload, peer: { pid: 0, uid: 0, gid: 0 } });
  const first = await list({});
  expect(first.total).toBe(20000);
  expect(first.packages).toHaveLength(500);
  const big = await list({ limit: 1000 });
  expect(big.packages.length).toBeGreaterThan(0);
  expect(big.packages.length).toBeLessThan(1000); // the byte cap, not the limit, ended this page
  expect(JSON.stringify(big).length).toBeLessThan(DEFAULT_LIMITS.maxFrameBytes);
  const next = await list({ limit: 1000, offset: big.packages.length }); // the next page starts where this one ended
  expect(next.packages[0].name).toBe(`pkg-${String(big.packages.length).padStart(5, '0')}`);
  const games = await list({ section: 'games', limit: 10 });
  expect(games.total).toBe(4000);
});
