// The catalog: every package name across the feeds, its candidates, the chosen one (feed priority, then version),
// its status beside the installed set, reverse dependencies, and the /feeds/list and /catalog/list reply shapes.
// Pure functions only: no I/O. The version comparison is injected (the dpkg-exact one lives with the engine).
import { CatalogFilters, CatalogStatus, type CatalogFilter, type CatalogStatusValue } from '../status-codes/feeds';
import type { FeedInfo } from './feed-store';
import type { IndexPackage } from './packages-index';

/** `compare(a, b)` < 0, 0, > 0 as version a is lower, equal, higher than b. */
export type VersionCompare = (a: string, b: string) => number;

export interface FeedPackages {
  feed: string;
  priority: number;
  packages: IndexPackage[];
}

export interface Candidate {
  feed: string;
  priority: number;
  pkg: IndexPackage;
}

export interface CatalogEntry {
  name: string;
  /** Best first: the first one is the chosen candidate. */
  candidates: Candidate[];
  chosen: Candidate;
  installedVersion?: string;
  status: CatalogStatusValue;
}

export interface Catalog {
  /** Sorted by name. */
  entries: Map<string, CatalogEntry>;
  /** name → names of catalog packages whose chosen candidate depends on it (Depends and Pre-Depends, any alternative). */
  reverseDeps: Map<string, string[]>;
}

/** A /catalog/list entry. */
export interface CatalogListEntry {
  name: string;
  installedVersion?: string;
  candidate: { version: string; feed: string; size: number | null; section: string; description: string; depends: string[] };
  status: CatalogStatusValue;
}

/**
 * Entries of a Depends value ("a (>= 1), b | c") as written, split at top-level commas. The engine parses them
 * fully; the catalog only needs them listed and their names.
 */
export function dependsEntries(depends: string | undefined): string[] {
  if (!depends) return [];
  return depends.split(',').map((s) => s.trim()).filter(Boolean);
}

/** Package names a Depends value mentions (every alternative), without version constraints or :arch qualifiers. */
export function dependsNames(depends: string | undefined): string[] {
  const names: string[] = [];
  for (const entry of dependsEntries(depends)) {
    for (const alt of entry.split('|')) {
      const m = /^\s*([^\s(:]+)/.exec(alt);
      if (m) names.push(m[1]);
    }
  }
  return names;
}

/** Order candidates best first: higher feed priority, then higher version, then earlier feed (config order). */
function better(a: Candidate & { order: number }, b: Candidate & { order: number }, compare: VersionCompare): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  const v = compare(b.pkg.version, a.pkg.version);
  if (v !== 0) return v;
  return a.order - b.order;
}

/** Build the catalog from the feeds' indexes (in config order) and the installed packages (name → version). */
export function buildCatalog(feeds: FeedPackages[], installed: ReadonlyMap<string, string>, compare: VersionCompare): Catalog {
  const byName = new Map<string, (Candidate & { order: number })[]>();
  let order = 0;
  for (const f of feeds) {
    for (const pkg of f.packages) {
      let list = byName.get(pkg.name);
      if (!list) byName.set(pkg.name, (list = []));
      list.push({ feed: f.feed, priority: f.priority, pkg, order: order++ });
    }
  }
  const entries = new Map<string, CatalogEntry>();
  const reverse = new Map<string, Set<string>>();
  for (const name of [...byName.keys()].sort()) {
    const list = byName.get(name)!.sort((a, b) => better(a, b, compare));
    const candidates: Candidate[] = list.map(({ feed, priority, pkg }) => ({ feed, priority, pkg }));
    const chosen = candidates[0];
    const installedVersion = installed.get(name);
    let status: CatalogStatusValue = CatalogStatus.NOT_INSTALLED;
    if (installedVersion !== undefined) status = compare(chosen.pkg.version, installedVersion) > 0 ? CatalogStatus.UPGRADABLE : CatalogStatus.UP_TO_DATE;
    const entry: CatalogEntry = { name, candidates, chosen, status };
    if (installedVersion !== undefined) entry.installedVersion = installedVersion;
    entries.set(name, entry);
    for (const dep of [...dependsNames(chosen.pkg.depends), ...dependsNames(chosen.pkg.preDepends)]) {
      let set = reverse.get(dep);
      if (!set) reverse.set(dep, (set = new Set()));
      set.add(name);
    }
  }
  const reverseDeps = new Map<string, string[]>();
  for (const [k, v] of reverse) reverseDeps.set(k, [...v].sort());
  return { entries, reverseDeps };
}

/** Catalog packages whose chosen candidate depends on `name` (directly). */
export function reverseDependencies(catalog: Catalog, name: string): string[] {
  return catalog.reverseDeps.get(name) ?? [];
}

export interface CatalogQuery {
  filter?: CatalogFilter;
  section?: string;
  search?: string;
}

export function isCatalogFilter(x: unknown): x is CatalogFilter {
  return typeof x === 'string' && (CatalogFilters as readonly string[]).includes(x);
}

/**
 * Does an entry pass the query? Filters: all; available = not installed; upgradable; installed (installed and in a
 * feed). section: exact, case-insensitive. search: case-insensitive substring of the name or the description.
 */
export function matches(e: CatalogEntry, q: CatalogQuery): boolean {
  const filter = q.filter ?? 'all';
  if (filter === 'available' && e.status !== CatalogStatus.NOT_INSTALLED) return false;
  if (filter === 'upgradable' && e.status !== CatalogStatus.UPGRADABLE) return false;
  if (filter === 'installed' && e.installedVersion === undefined) return false;
  if (q.section !== undefined && (e.chosen.pkg.section ?? '').toLowerCase() !== q.section.toLowerCase()) return false;
  if (q.search) {
    const s = q.search.toLowerCase();
    if (!e.name.toLowerCase().includes(s) && !(e.chosen.pkg.description ?? '').toLowerCase().includes(s)) return false;
  }
  return true;
}

/** The summary line of a Description (what a list shows; the full text stays in the index). */
export function summary(description: string | undefined): string {
  if (!description) return '';
  const nl = description.indexOf('\n');
  return nl < 0 ? description : description.slice(0, nl);
}

export function catalogListEntry(e: CatalogEntry): CatalogListEntry {
  const p = e.chosen.pkg;
  const out: CatalogListEntry = {
    name: e.name,
    candidate: { version: p.version, feed: e.chosen.feed, size: p.size ?? null, section: p.section ?? '', description: summary(p.description), depends: dependsEntries(p.depends) },
    status: e.status,
  };
  if (e.installedVersion !== undefined) out.installedVersion = e.installedVersion;
  // Key order as the reply documents it: name, installedVersion, candidate, status.
  return e.installedVersion !== undefined ? { name: out.name, installedVersion: out.installedVersion, candidate: out.candidate, status: out.status } : out;
}

/** `/catalog/list` reply. */
export function catalogListReply(catalog: Catalog, q: CatalogQuery = {}): { packages: CatalogListEntry[] } {
  const packages: CatalogListEntry[] = [];
  for (const e of catalog.entries.values()) if (matches(e, q)) packages.push(catalogListEntry(e));
  return { packages };
}

/** `/feeds/list` reply: `error` only on feeds whose last refresh failed. */
export function feedsListReply(feeds: FeedInfo[]): { feeds: FeedInfo[] } {
  return {
    feeds: feeds.map((f) => {
      const o: FeedInfo = { name: f.name, url: f.url, priority: f.priority, gz: f.gz, lastRefresh: f.lastRefresh, packages: f.packages };
      if (f.error) o.error = f.error;
      return o;
    }),
  };
}
