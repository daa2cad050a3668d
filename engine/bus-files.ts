// The luna-service2 security files of an installed package (docs/acg.md, docs/appinstall.md), computed from what is installed.
// Pure: returns paths and contents; writing them and telling the hub is bus-file-sync.ts's job.
import path from 'node:path';
import type { Layout } from '../layout/paths';
import type { InstalledPackage } from './package-db';

/** One luna-service2 tree (static, verified or developer), as layout/paths.ts lays it out. */
export type BusTree = Layout['volatileBus'];

export interface BusFile {
  /** Absolute path. */
  path: string;
  content: string;
}

export interface PackageBusFiles {
  /** Every file but the manifest. */
  files: BusFile[];
  manifest: BusFile;
}

/** The ACG group holding every method of a package's service. */
export function serviceGroup(serviceId: string): string {
  return `${serviceId}.api`;
}

function json(v: unknown): string {
  return JSON.stringify(v, null, 4) + '\n';
}

function stringList(v: unknown): string[] | null {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string') ? (v as string[]) : null;
}

/** Service names a services.json declares (webOS: {"id", "services":[{"name"}]}), always including the service id itself. */
export function serviceNames(serviceId: string, servicesJson: Record<string, unknown>): string[] {
  const names = new Set<string>([serviceId]);
  if (Array.isArray(servicesJson.services)) {
    for (const s of servicesJson.services) {
      const n = (s as Record<string, unknown>)?.name;
      if (typeof n === 'string' && n.startsWith(serviceId)) names.add(n);
    }
  }
  return [...names];
}

/**
 * Files for one package: per app a role and client permissions (requiredPermissions, else ["public"], plus the groups
 * of the package's own services so the app can call them); per service a role, client permissions, API permissions
 * (all its methods in one group), a groups file (that group at trust "dev") and a service file; then the manifest.
 * `root` is the root prefix: manifest entries are paths as seen on the device (without the prefix), as luna-service2
 * expects with addOneManifest {"path","prefix"}.
 */
export function packageBusFiles(pkg: InstalledPackage, tree: BusTree, root: string): PackageBusFiles {
  const files: BusFile[] = [];
  const roleFiles: string[] = [], clientPermissionFiles: string[] = [], apiPermissionFiles: string[] = [], serviceFiles: string[] = [], groupsFiles: string[] = [];
  const add = (list: string[], p: string, content: string) => {
    files.push({ path: p, content });
    list.push('/' + path.relative(root, p));
  };
  const ownGroups = pkg.services.map((s) => serviceGroup(s.id));
  for (const app of pkg.apps) {
    add(roleFiles, path.join(tree.rolesD, `${app.id}.app.json`), json({
      appId: app.id,
      type: 'regular',
      trustLevel: 'dev',
      allowedNames: [app.id, `${app.id}-*`],
      permissions: [{ service: app.id, outbound: ['*'], inbound: ['*'] }],
    }));
    const required = stringList(app.appInfo.requiredPermissions) ?? ['public'];
    add(clientPermissionFiles, path.join(tree.clientPermissionsD, `${app.id}.app.json`), json({ [app.id]: [...new Set([...required, ...ownGroups])] }));
  }
  for (const svc of pkg.services) {
    const names = serviceNames(svc.id, svc.servicesJson);
    const group = serviceGroup(svc.id);
    add(roleFiles, path.join(tree.rolesD, `${svc.id}.service.json`), json({
      exeName: svc.dir,
      type: 'regular',
      trustLevel: 'dev',
      allowedNames: names,
      permissions: names.map((n) => ({ service: n, outbound: ['*'], inbound: ['*'] })),
    }));
    const required = stringList(svc.servicesJson.requiredPermissions) ?? ['public'];
    add(clientPermissionFiles, path.join(tree.clientPermissionsD, `${svc.id}.service.json`), json(Object.fromEntries(names.map((n) => [n, required]))));
    add(apiPermissionFiles, path.join(tree.apiPermissionsD, `${svc.id}.api.json`), json({ [group]: names.flatMap((n) => [`${n}/*`, `${n}/*/*`]) }));
    add(groupsFiles, path.join(tree.groupsD, `${svc.id}.group.json`), json({ allowedNames: names, [group]: ['dev'] }));
    add(serviceFiles, path.join(tree.servicesD, `${svc.id}.service`),
      `[D-BUS Service]\nName=${names.join(';')}\nExec=/usr/bin/run-js-service -k -n ${svc.dir}\nType=dynamic\n`);
  }
  const manifest: BusFile = {
    path: path.join(tree.manifestsD, `${pkg.packageId}.json`),
    content: json({ id: pkg.packageId, version: pkg.version, roleFiles, clientPermissionFiles, apiPermissionFiles, serviceFiles, groupsFiles }),
  };
  return { files, manifest };
}

/** The file lists of a manifest's content (for deletion of what an old manifest lists). */
export function manifestEntries(manifest: Record<string, unknown>): string[] {
  const keys = ['roleFiles', 'clientPermissionFiles', 'apiPermissionFiles', 'serviceFiles', 'groupsFiles'];
  return keys.flatMap((k) => (Array.isArray(manifest[k]) ? (manifest[k] as unknown[]).filter((x): x is string => typeof x === 'string') : []));
}
