// What is installed: read from the app roots (opkg-style var/lib/opkg/info/<pkg>.control and .list, plus
// usr/palm/packages/<pkg>/packageinfo.json and each app's appinfo.json). Reading only; these files are
// only ever replaced by renames (package-switch.ts), never rewritten in place.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Layout } from '../../ipc/paths';
import { parseControlText } from '../../ipk/control';
import { parseBoundedJson } from '../../ipk/json-bounds';

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

/** Reads one package from an app root (or a staging tree laid out the same way); null when its control file is absent. */
export async function readPackage(base: string, packageId: string, developer: boolean): Promise<InstalledPackage | null> {
  const db = dbFiles(packageId);
  let controlText: string;
  try {
    controlText = await fs.readFile(path.join(base, db.control), 'utf8');
  } catch {
    return null;
  }
  let control: Record<string, string>;
  try {
    control = parseControlText(controlText);
  } catch {
    return null; // we only ever write well-formed control files; anything else is not one of ours
  }
  let targets: string[] = [];
  try {
    targets = (await fs.readFile(path.join(base, db.list), 'utf8')).split('\n').filter((l) => l.trim() !== '');
  } catch {
    /* a package without a list still has its control file; its targets are derived below */
  }
  const packageInfo = (await readJson(path.join(base, 'usr/palm/packages', packageId, 'packageinfo.json'))) ?? {};
  const appIds = ([] as unknown[]).concat(packageInfo.app ?? [], packageInfo.apps ?? []).filter((x): x is string => typeof x === 'string');
  const serviceIds = (Array.isArray(packageInfo.services) ? packageInfo.services : []).filter((x): x is string => typeof x === 'string');
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
  if (targets.length === 0) {
    targets = [
      `usr/palm/packages/${packageId}`,
      ...appIds.map((a) => `usr/palm/applications/${a}`),
      ...serviceIds.map((s) => `usr/palm/services/${s}`),
      db.list,
      db.control,
    ];
  }
  return { packageId, version: control.Version ?? '', developer, base, control, packageInfo, apps, services, targets };
}

/** Every package installed in one app root. */
export async function listPackages(root: AppRootLayout, developer: boolean): Promise<InstalledPackage[]> {
  let names: string[];
  try {
    names = await fs.readdir(root.opkgInfo);
  } catch {
    return [];
  }
  const out: InstalledPackage[] = [];
  for (const n of names.sort()) {
    if (!n.endsWith('.control') || n.startsWith('.')) continue;
    const pkg = await readPackage(root.base, n.slice(0, -'.control'.length), developer);
    if (pkg) out.push(pkg);
  }
  return out;
}

/** A single path component that cannot climb out of its directory. */
export function isSafeName(name: string): boolean {
  return /^[A-Za-z0-9._+-]+$/.test(name) && name !== '.' && name !== '..';
}

/** The package in this root whose package id or one of whose app ids is `id`. */
export async function findPackage(root: AppRootLayout, developer: boolean, id: string): Promise<InstalledPackage | null> {
  if (!isSafeName(id)) return null;
  const direct = await readPackage(root.base, id, developer);
  if (direct) return direct;
  for (const p of await listPackages(root, developer)) if (p.apps.some((a) => a.id === id)) return p;
  return null;
}
