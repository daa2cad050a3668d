// What is installed: read from the app roots (opkg-style var/lib/opkg/info/<pkg>.control and .list, plus
// usr/palm/packages/<pkg>/packageinfo.json and each app's appinfo.json). Reading only; these files are
// only ever replaced by renames (package-switch.ts), never rewritten in place.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Layout } from '../layout/paths';
import { parseControlText } from '../ipk/control';
import { parseBoundedJson } from '../ipk/json-bounds';

/** Largest JSON file of an installed package the database reads (appinfo.json, packageinfo.json). */
const MAX_STATE_JSON_BYTES = 1024 * 1024;

export type AppRootLayout = Layout['verifiedApps'];

export interface InstalledApp {
  id: string;
  dir: string;
  appInfo: Record<string, unknown>;
}
export interface InstalledService {
  id: string;
  dir: string;
  servicesJson: Record<string, unknown>;
}
export interface InstalledPackage {
  packageId: string;
  version: string;
  developer: boolean;
  /** The app root base directory (details.installBasePath). */
  base: string;
  control: Record<string, string>;
  packageInfo: Record<string, unknown>;
  apps: InstalledApp[];
  services: InstalledService[];
  /** Paths relative to the base that belong to this package (from <pkg>.list). */
  targets: string[];
  /**
   * Set when the package's database record is damaged (control file unreadable or malformed, list naming paths a
   * package cannot own): what is wrong. Such a record is still found by its package id, so that a reinstall or a
   * remove repairs it; everything else (listings, bus files) leaves it out.
   */
  damaged?: string;
}

/**
 * The shapes of a path a package may own in its app root (relative; what <pkg>.list and journal targets hold): its
 * app, service and package folders, its two database files, its apps' data folders, each named by the package id or
 * a name under it (services are `<pkg>.<name>`). Nothing else is ever touched on a record's word.
 */
export function isPackageTarget(packageId: string, rel: unknown): rel is string {
  if (typeof rel !== 'string') return false;
  const m = /^(?:usr\/palm\/(?:applications|services|packages)\/([^/]+)|var\/palm\/data\/([^/]+)|var\/lib\/opkg\/info\/([^/]+)\.(?:control|list))$/.exec(rel);
  const name = m ? m[1] ?? m[2] ?? m[3] : '';
  return !!m && isSafeName(name) && (name === packageId || name.startsWith(`${packageId}.`));
}

/** Relative paths of the package database entries of one package. */
export function dbFiles(packageId: string): { control: string; list: string } {
  return { control: `var/lib/opkg/info/${packageId}.control`, list: `var/lib/opkg/info/${packageId}.list` };
}

/** Where an app's runtime data lives inside its app root (removed with the app). */
export function appDataRel(appId: string): string {
  return `var/palm/data/${appId}`;
}

async function readJson(p: string): Promise<Record<string, unknown> | null> {
  try {
    // Bounded: a file nested past MAX_JSON_DEPTH is read as absent, never handed to a reply serialiser.
    const v = parseBoundedJson(await fs.readFile(p, 'utf8'), MAX_STATE_JSON_BYTES);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Reads one package from an app root (or a staging tree laid out the same way); null when absent or its record is damaged. */
export async function readPackage(base: string, packageId: string, developer: boolean): Promise<InstalledPackage | null> {
  const pkg = await readPackageRecord(base, packageId, developer);
  return pkg && !pkg.damaged ? pkg : null;
}

/**
 * Reads one package's record; null when the package has neither a control nor a list file. A damaged record comes
 * back with `damaged` saying what is wrong, its version empty, and as targets only paths a package can own (the valid
 * lines of its list, and its own folders).
 */
export async function readPackageRecord(base: string, packageId: string, developer: boolean): Promise<InstalledPackage | null> {
  if (!isSafeName(packageId)) return null;
  const db = dbFiles(packageId);
  const problems: string[] = [];
  let controlText: string | null = null;
  try {
    controlText = await fs.readFile(path.join(base, db.control), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`${db.control} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let control: Record<string, string> = {};
  if (controlText !== null) {
    try {
      control = parseControlText(controlText);
      if (control.Package !== packageId) problems.push(`${db.control} names package ${JSON.stringify(control.Package)}`);
    } catch (e) {
      problems.push(`${db.control} is malformed (${(e as Error).message})`);
    }
  }
  let listed: string[] | null = null;
  try {
    listed = (await fs.readFile(path.join(base, db.list), 'utf8')).split('\n').filter((l) => l.trim() !== '');
  } catch {
    /* a package without a list still has its control file; its targets are derived below */
  }
  if (controlText === null && problems.length === 0) {
    if (listed === null) return null;
    problems.push(`${db.control} is missing`);
  }
  const badLines = (listed ?? []).filter((l) => !isPackageTarget(packageId, l));
  if (badLines.length) problems.push(`${db.list} names paths that are not the package's own (ignored): ${badLines.slice(0, 3).map((l) => JSON.stringify(l)).join(', ')}${badLines.length > 3 ? ', ...' : ''}`);
  let targets = (listed ?? []).filter((l) => isPackageTarget(packageId, l));
  const packageInfo = (await readJson(path.join(base, 'usr/palm/packages', packageId, 'packageinfo.json'))) ?? {};
  const appIds = ([] as unknown[]).concat(packageInfo.app ?? [], packageInfo.apps ?? []).filter((x): x is string => typeof x === 'string' && isSafeName(x));
  const serviceIds = (Array.isArray(packageInfo.services) ? packageInfo.services : []).filter((x): x is string => typeof x === 'string' && isSafeName(x));
  const apps: InstalledApp[] = [];
  for (const id of appIds) {
    const dir = path.join(base, 'usr/palm/applications', id);
    const appInfo = await readJson(path.join(dir, 'appinfo.json'));
    if (appInfo) apps.push({ id, dir, appInfo });
  }
  const services: InstalledService[] = [];
  for (const id of serviceIds) {
    const dir = path.join(base, 'usr/palm/services', id);
    const servicesJson = await readJson(path.join(dir, 'services.json'));
    if (servicesJson) services.push({ id, dir, servicesJson });
  }
  const derived = [
    `usr/palm/packages/${packageId}`,
    ...appIds.map((a) => `usr/palm/applications/${a}`),
    ...serviceIds.map((s) => `usr/palm/services/${s}`),
    db.list,
    db.control,
  ];
  if (targets.length === 0) targets = derived.filter((rel) => isPackageTarget(packageId, rel));
  if (problems.length) {
    // Everything the package may own goes with it on a repair, its app folder too (the app id is the package id).
    const own = [...derived, `usr/palm/applications/${packageId}`].filter((rel) => isPackageTarget(packageId, rel));
    targets = [...new Set([...targets, ...own])];
    return { packageId, version: '', developer, base, control, packageInfo, apps, services, targets, damaged: problems.join('; ') };
  }
  return { packageId, version: control.Version ?? '', developer, base, control, packageInfo, apps, services, targets };
}

/** Every package installed in one app root (with `damaged: true`, also those whose record is damaged). */
export async function listPackages(root: AppRootLayout, developer: boolean, opts: { damaged?: boolean } = {}): Promise<InstalledPackage[]> {
  let names: string[];
  try {
    names = await fs.readdir(root.opkgInfo);
  } catch {
    return [];
  }
  const out: InstalledPackage[] = [];
  for (const n of names.sort()) {
    if (!n.endsWith('.control') || n.startsWith('.')) continue;
    const pkg = await readPackageRecord(root.base, n.slice(0, -'.control'.length), developer);
    if (pkg && (!pkg.damaged || opts.damaged)) out.push(pkg);
  }
  return out;
}

/** A single path component that cannot climb out of its directory. */
export function isSafeName(name: string): boolean {
  return /^[A-Za-z0-9._+-]+$/.test(name) && name !== '.' && name !== '..';
}

/** The package in this root whose package id (its record even if damaged) or one of whose app ids is `id`. */
export async function findPackage(root: AppRootLayout, developer: boolean, id: string): Promise<InstalledPackage | null> {
  if (!isSafeName(id)) return null;
  const direct = await readPackageRecord(root.base, id, developer);
  if (direct) return direct;
  for (const p of await listPackages(root, developer)) if (p.apps.some((a) => a.id === id)) return p;
  return null;
}
