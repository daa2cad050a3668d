// The names a package takes on the bus (its package id, which is also its security manifest's id, its app ids,
// service ids, service names and its services' ACG groups) and the checks that it takes none that is not free for
// it: a developer package none in a privileged name space (-15), and no package one that another package, in
// either app root, or a security manifest of another package or of the system already holds.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Layout } from '../layout/paths';
import { CodedError, ErrorCode, ErrorText } from '../status-codes';
import { isPrivilegedName } from '../acg/namespaces';
import { listDir, parseManifestFile, parseServiceFile } from '../acg/security-files';
import { serviceGroup, serviceNames } from './bus-files';
import { manifestPath } from './bus-file-sync';
import { listPackages, type InstalledPackage } from './package-db';

/**
 * Every bus name of a package: package id (= manifest id), app ids, service ids, the service names they declare
 * and the ACG group of each service (bus-files.ts serviceGroup).
 */
export function packageNames(pkg: InstalledPackage): string[] {
  const names = new Set<string>([pkg.packageId, ...pkg.apps.map((a) => a.id)]);
  for (const s of pkg.services) {
    serviceNames(s.id, s.servicesJson).forEach((n) => names.add(n));
    names.add(serviceGroup(s.id));
  }
  for (const id of ([] as unknown[]).concat(pkg.packageInfo.app ?? [], pkg.packageInfo.apps ?? [], pkg.packageInfo.services ?? [])) {
    if (typeof id === 'string') names.add(id);
  }
  return [...names];
}

/** -15 for a developer package that takes any name in a privileged name space (not only its package id). */
export function checkDeveloperNames(pkg: InstalledPackage): void {
  const bad = packageNames(pkg).filter(isPrivilegedName);
  if (bad.length) throw new CodedError(ErrorCode.PRIVILEGED_INSTALL_IN_DEVMODE, ErrorText.PRIVILEGED_INSTALL_IN_DEVMODE, bad.join(', '));
}

async function readText(p: string): Promise<string | null> {
  try { return await fs.readFile(p, 'utf8'); } catch { return null; }
}

/**
 * Refuses (-5, `ErrorText.NAME_TAKEN`) a package any of whose names another holds: another package of either app
 * root (its package, app, service ids and service names), a security manifest of another package or of the system
 * (by manifest id, in any tree), or a service the shipped policy declares.
 */
export async function checkNamesFree(layout: Layout, pkg: InstalledPackage, developer: boolean): Promise<void> {
  const mine = packageNames(pkg);
  const taken = (name: string, holder: string) => {
    throw new CodedError(ErrorCode.INSTALL_FAILED, ErrorText.NAME_TAKEN, `"${name}" belongs to ${holder}`);
  };
  for (const [root, dev] of [[layout.verifiedApps, false], [layout.developerApps, true]] as const) {
    for (const other of await listPackages(root, dev, { damaged: true })) {
      if (other.packageId === pkg.packageId && dev === developer) continue; // the package itself (an update)
      const theirs = new Set(packageNames(other));
      const hit = mine.find((n) => theirs.has(n));
      if (hit) taken(hit, `the ${dev ? 'developer' : 'verified'} package ${other.packageId}`);
    }
  }
  const own = manifestPath(developer ? layout.volatileDevBus : layout.volatileBus, pkg.packageId);
  for (const tree of [layout.staticBus, layout.volatileBus, layout.volatileDevBus]) {
    for (const file of listDir(tree.manifestsD, 'manifest')) {
      if (file === own) continue;
      const text = await readText(file);
      let id: string | undefined;
      try { id = text === null ? undefined : parseManifestFile(text).id; } catch { id = undefined; }
      if (id !== undefined && mine.includes(id)) taken(id, `the security manifest ${file}`);
    }
  }
  for (const file of listDir(layout.staticBus.servicesD, 'service')) {
    const text = await readText(file);
    let names: string[] = [];
    try { names = text === null ? [] : parseServiceFile(text).names; } catch { names = []; }
    const hit = mine.find((n) => names.includes(n));
    if (hit) taken(hit, `the system service file ${path.basename(file)}`);
  }
}
