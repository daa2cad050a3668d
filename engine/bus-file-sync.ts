// Puts the bus security files of installed packages on disk and tells the hub (addOneManifest/removeOneManifest);
// also reconciles a whole volatile bus tree with the packages on disk (start-up recovery). What the files say is bus-files.ts's.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { packageBusFiles, manifestEntries, type BusTree, type BusFile } from './bus-files';
import type { InstalledPackage } from './package-db';
import { faultPoint } from './fault-points';
import { fsyncPath, mkdirDurable, unlinkDurable, UNSAFE_NO_SYNC } from './durable-fs';

/** The hub's manifest calls; null when there is no hub to tell (it reads the directories when it starts). */
export interface HubManifests {
  addManifest(manifestPath: string, prefix: string): Promise<void>;
  removeManifest(manifestPath: string, prefix: string): Promise<void>;
}

let batchCounter = 0;

/**
 * Writes several files so that either all are replaced or none is: every new content goes to a temp file first
 * (fsynced); only when all exist are they renamed into place. A full disk thus leaves the old files untouched.
 */
export async function writeFilesAllOrNothing(files: BusFile[]): Promise<void> {
  const tmps: { tmp: string; dest: string }[] = [];
  const id = `${process.pid}-${++batchCounter}`;
  try {
    for (const f of files) {
      await mkdirDurable(path.dirname(f.path));
      const tmp = path.join(path.dirname(f.path), `.${path.basename(f.path)}.tmp-${id}`);
      tmps.push({ tmp, dest: f.path });
      const fh = await fs.open(tmp, 'w', 0o644);
      try {
        await fh.writeFile(f.content);
        if (!UNSAFE_NO_SYNC) await fh.sync();
      } finally {
        await fh.close();
      }
    }
  } catch (e) {
    for (const t of tmps) await fs.rm(t.tmp, { force: true });
    throw e;
  }
  for (const t of tmps) await fs.rename(t.tmp, t.dest);
  for (const d of new Set(tmps.map((t) => path.dirname(t.dest)))) await fsyncPath(d);
}

async function readManifest(p: string): Promise<Record<string, unknown> | null> {
  try {
    const v = JSON.parse(await fs.readFile(p, 'utf8'));
    return v && typeof v === 'object' ? v : null;
  } catch {
    return null;
  }
}

async function readOr(p: string): Promise<string | null> {
  try {
    return await fs.readFile(p, 'utf8');
  } catch {
    return null;
  }
}

/**
 * A file an old manifest of the package lists that may be deleted on its word: one of the package's own files
 * (named after the package or one of its apps or services, all `<packageId>` or under it) directly in one of the
 * tree's .d directories other than manifests.d. Anything else a manifest names is left alone.
 */
function ownBusFile(tree: BusTree, packageId: string, p: string): boolean {
  const name = path.basename(p);
  return SUBDIRS.some((k) => k !== 'manifestsD' && path.dirname(p) === tree[k]) && name.startsWith(`${packageId}.`);
}

export function manifestPath(tree: BusTree, packageId: string): string {
  return path.join(tree.manifestsD, `${packageId}.json`);
}

/**
 * Writes (or rewrites) the bus files of an installed package and tells the hub. Order, so that a failure or crash at
 * any point leaves nothing that no manifest names: files the previous manifest lists but the new set lacks are deleted
 * first (still listed), then the manifest is written (it lists the whole new set), then the files themselves.
 */
export async function installPackageBusFiles(pkg: InstalledPackage, tree: BusTree, root: string, hub: HubManifests | null): Promise<void> {
  const want = packageBusFiles(pkg, tree, root);
  const prev = await readManifest(want.manifest.path);
  const stale = prev ? manifestEntries(prev).map((e) => path.join(root, e)).filter((p) => ownBusFile(tree, pkg.packageId, p) && !want.files.some((f) => f.path === p)) : [];
  const changed: BusFile[] = [];
  for (const f of [...want.files, want.manifest]) if ((await readOr(f.path)) !== f.content) changed.push(f);
  if (changed.length === 0 && stale.length === 0) return;
  if (prev && hub) await hub.removeManifest(want.manifest.path, root).catch(() => undefined);
  for (const p of stale) await unlinkDurable(p);
  if (changed.includes(want.manifest)) await writeFilesAllOrNothing([want.manifest]);
  faultPoint('bus.manifest-written');
  await writeFilesAllOrNothing(want.files.filter((f) => changed.includes(f)));
  if (hub) await hub.addManifest(want.manifest.path, root);
}

/** Deletes the bus files of a package (everything its manifest lists, then the manifest), telling the hub first. */
export async function removePackageBusFiles(packageId: string, tree: BusTree, root: string, hub: HubManifests | null): Promise<void> {
  const mp = manifestPath(tree, packageId);
  const prev = await readManifest(mp);
  if (!prev && !(await readOr(mp))) return;
  if (hub) await hub.removeManifest(mp, root).catch(() => undefined);
  for (const e of prev ? manifestEntries(prev) : []) {
    const p = path.join(root, e);
    if (!ownBusFile(tree, packageId, p)) continue; // a manifest never makes us delete outside its tree
    await unlinkDurable(p);
  }
  await unlinkDurable(mp);
}

const SUBDIRS: (keyof BusTree)[] = ['rolesD', 'clientPermissionsD', 'apiPermissionsD', 'groupsD', 'servicesD', 'manifestsD'];

/**
 * Makes a volatile bus tree say exactly what the packages on disk need, both ways: files of packages that are gone
 * (or that no manifest lists: leftovers of a crash) are deleted and unloaded, missing or outdated ones written and loaded.
 * Returns what it changed, for the log.
 */
export async function reconcileBusTree(packages: InstalledPackage[], tree: BusTree, root: string, hub: HubManifests | null): Promise<string[]> {
  const changes: string[] = [];
  const wanted = new Map<string, InstalledPackage>(packages.map((p) => [manifestPath(tree, p.packageId), p]));
  const wantedFiles = new Set<string>();
  for (const p of packages) {
    const w = packageBusFiles(p, tree, root);
    for (const f of [...w.files, w.manifest]) wantedFiles.add(f.path);
  }
  // Manifests of packages no longer installed: unload and delete what they list.
  for (const name of await fs.readdir(tree.manifestsD).catch(() => [] as string[])) {
    const mp = path.join(tree.manifestsD, name);
    if (name.endsWith('.json') && !name.startsWith('.') && !wanted.has(mp)) {
      await removePackageBusFiles(name.slice(0, -5), tree, root, hub);
      changes.push(`removed bus files of ${name.slice(0, -5)} (not installed)`);
    }
  }
  // Stray files: not part of any installed package (temp files of a crashed write, files of a half-removed package).
  for (const k of SUBDIRS) {
    const dir = tree[k];
    for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
      const p = path.join(dir, name);
      if (!wantedFiles.has(p)) {
        await fs.rm(p, { recursive: true, force: true });
        changes.push(`removed stray ${p}`);
      }
    }
  }
  for (const p of packages) {
    const before = await readOr(manifestPath(tree, p.packageId));
    await installPackageBusFiles(p, tree, root, hub);
    if (before !== (await readOr(manifestPath(tree, p.packageId)))) changes.push(`wrote bus files of ${p.packageId}`);
  }
  return changes;
}
