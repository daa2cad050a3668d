// feeds/catalog.ts: candidates across feeds, the chosen one (priority, then version, through an injected compare),
// status beside the installed set, filters, search, reverse dependencies, and the /feeds/list and /catalog/list shapes.
import { CatalogStatus } from '../status-codes/feeds';
import { buildCatalog, catalogListReply, dependsEntries, dependsNames, feedsListReply, isCatalogFilter, reverseDependencies, type FeedPackages } from '../feeds/catalog';
import type { IndexPackage } from '../feeds/packages-index';
import { compareVersions } from '../engine/version-compare';

const pkg = (name: string, version: string, more: Partial<IndexPackage> = {}): IndexPackage => ({
  name,
  version,
  filename: `${name}_${version}_all.ipk`,
  url: `http://h/${name}_${version}_all.ipk`,
  ...more,
});

const feeds: FeedPackages[] = [
  {
    feed: 'base',
    priority: 0,
    packages: [
      pkg('player', '1.0', { size: 100, section: 'multimedia', description: 'Media player\nplays streams', depends: 'codec (>= 1.0), libc' }),
      pkg('codec', '2.0', { section: 'libs', depends: 'libc | musl' }),
      pkg('libc', '1.0', { section: 'libs' }),
      pkg('game', '0.9', { section: 'games', description: 'A little game' }),
    ],
  },
  {
    feed: 'extra',
    priority: 10,
    packages: [pkg('player', '0.8', { size: 80, section: 'multimedia', description: 'Pinned player' }), pkg('weather', '3.1', { section: 'utils', depends: 'libc' })],
  },
  { feed: 'newer', priority: 0, packages: [pkg('codec', '2.1', { section: 'libs' }), pkg('game', '0.9', { section: 'games', description: 'same version, later feed' })] },
];

test('chosen candidate: highest feed priority first, then highest version, then the earlier feed', () => {
  const c = buildCatalog(feeds, new Map(), compareVersions);
  expect([...c.entries.keys()]).toEqual(['codec', 'game', 'libc', 'player', 'weather']);
  expect(c.entries.get('player')!.chosen).toMatchObject({ feed: 'extra', pkg: { version: '0.8' } });
  expect(c.entries.get('player')!.candidates.map((x) => `${x.feed}:${x.pkg.version}`)).toEqual(['extra:0.8', 'base:1.0']);
  expect(c.entries.get('codec')!.chosen).toMatchObject({ feed: 'newer', pkg: { version: '2.1' } });
  expect(c.entries.get('game')!.chosen.feed).toBe('base');
  // The comparison is the injected one: a reversed compare picks the lowest version.
  const rev = buildCatalog(feeds, new Map(), (a, b) => -compareVersions(a, b));
  expect(rev.entries.get('codec')!.chosen.pkg.version).toBe('2.0');
});

test('status beside the installed set, and the filters', () => {
  const installed = new Map([['codec', '2.0'], ['libc', '1.0'], ['game', '1.5'], ['not-in-any-feed', '1']]);
  const c = buildCatalog(feeds, installed, compareVersions);
  const status = Object.fromEntries([...c.entries.values()].map((e) => [e.name, e.status]));
  expect(status).toEqual({ codec: CatalogStatus.UPGRADABLE, game: CatalogStatus.UP_TO_DATE, libc: CatalogStatus.UP_TO_DATE, player: CatalogStatus.NOT_INSTALLED, weather: CatalogStatus.NOT_INSTALLED });
  const names = (q: Parameters<typeof catalogListReply>[1]) => catalogListReply(c, q).packages.map((p) => p.name);
  expect(names({})).toEqual(['codec', 'game', 'libc', 'player', 'weather']);
  expect(names({ filter: 'all' })).toEqual(['codec', 'game', 'libc', 'player', 'weather']);
  expect(names({ filter: 'available' })).toEqual(['player', 'weather']);
  expect(names({ filter: 'upgradable' })).toEqual(['codec']);
  expect(names({ filter: 'installed' })).toEqual(['codec', 'game', 'libc']);
  expect(names({ section: 'LIBS' })).toEqual(['codec', 'libc']);
  expect(names({ filter: 'installed', section: 'libs' })).toEqual(['codec', 'libc']);
  expect(names({ search: 'PLAY' })).toEqual(['player']);
  expect(names({ search: 'little' })).toEqual(['game']);
  expect(names({ search: 'nothing matches this' })).toEqual([]);
  expect(['all', 'available', 'upgradable', 'installed', 'everything', 1].map(isCatalogFilter)).toEqual([true, true, true, true, false, false]);
});

test('/catalog/list reply shape', () => {
  const c = buildCatalog(feeds, new Map([['codec', '2.0']]), compareVersions);
  const reply = catalogListReply(c, { filter: 'all' });
  expect(reply.packages[0]).toEqual({
    name: 'codec',
    installedVersion: '2.0',
    candidate: { version: '2.1', feed: 'newer', size: null, section: 'libs', description: '', depends: [] },
    status: 'upgradable',
  });
  expect(Object.keys(reply.packages[0])).toEqual(['name', 'installedVersion', 'candidate', 'status']);
  const player = reply.packages.find((p) => p.name === 'player')!;
  expect(player).toEqual({ name: 'player', candidate: { version: '0.8', feed: 'extra', size: 80, section: 'multimedia', description: 'Pinned player', depends: [] }, status: 'not installed' });
  const base = buildCatalog([feeds[0]], new Map(), compareVersions);
  expect(catalogListReply(base).packages.find((p) => p.name === 'player')!.candidate).toEqual({
    version: '1.0', feed: 'base', size: 100, section: 'multimedia', description: 'Media player', depends: ['codec (>= 1.0)', 'libc'],
  });
  expect(JSON.parse(JSON.stringify(reply))).toEqual(reply);
});

test('reverse dependencies follow the chosen candidates, every alternative counted', () => {
  const c = buildCatalog(feeds, new Map(), compareVersions);
  // player's chosen candidate (extra 0.8) has no Depends; base's 1.0 (not chosen) depends on codec.
  expect(reverseDependencies(c, 'codec')).toEqual([]);
  expect(reverseDependencies(c, 'libc')).toEqual(['weather']);
  const base = buildCatalog([feeds[0]], new Map(), compareVersions);
  expect(reverseDependencies(base, 'codec')).toEqual(['player']);
  expect(reverseDependencies(base, 'libc')).toEqual(['codec', 'player']);
  expect(reverseDependencies(base, 'musl')).toEqual(['codec']);
  expect(reverseDependencies(base, 'nobody')).toEqual([]);
  expect(dependsNames('a (>= 1.0), b:any | c (<< 2), d')).toEqual(['a', 'b', 'c', 'd']);
  expect(dependsEntries(' a (>= 1.0) ,b | c,, ')).toEqual(['a (>= 1.0)', 'b | c']);
});

test('/feeds/list reply shape: error only when there is one', () => {
  const r = feedsListReply([
    { name: 'base', url: 'http://h/base', priority: 0, gz: true, lastRefresh: '2026-01-01T00:00:00.000Z', packages: 3 },
    { name: 'bad', url: 'http://h/bad', priority: 5, gz: false, lastRefresh: null, packages: 0, error: 'http://h/bad/Packages: HTTP 500' },
  ]);
  expect(r).toEqual({
    feeds: [
      { name: 'base', url: 'http://h/base', priority: 0, gz: true, lastRefresh: '2026-01-01T00:00:00.000Z', packages: 3 },
      { name: 'bad', url: 'http://h/bad', priority: 5, gz: false, lastRefresh: null, packages: 0, error: 'http://h/bad/Packages: HTTP 500' },
    ],
  });
  expect('error' in r.feeds[0]).toBe(false);
});
