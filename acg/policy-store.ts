// Which security files are active: scans the static and volatile trees, applies manifests (added, removed, newest
// version per id), reads every file with readSecurityFile and compiles the result. All of the ACG's file I/O for
// loading lives here; parsing is security-files.ts, decisions are decision.ts.
//
// Files in the .d directories: real luna-service2 loads what manifests list. Here every file a manifest lists is
// loaded, and so is every file in a .d directory that no manifest lists (a hand-dropped file works, as on older
// webOS). A file listed by any manifest follows that manifest: not loaded while the manifest is inactive (an older
// version of the same id) or removed with removeOneManifest.

import fs from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import type { Layout } from '../layout/paths';
import { BusErrorCode, BusErrorText } from '../status-codes';
import type { Denial } from './policy';
import { compileSecurityData, EMPTY_SECURITY_DATA, type LoadedFile, type Origin, type SecurityData } from './security-data';
import {
  listDir, MANIFEST_LIST_KIND, parseDevmodeCertificate, parseManifestFile, readSecurityFile, SecurityFileError,
  type FileKind, type ManifestFile, type ManifestList,
} from './security-files';

export const DEVMODE_CERTIFICATE = 'devmode_certificate.json';

type Tree = Layout['staticBus'];
const KIND_DIRS: [FileKind, keyof Tree][] = [
  ['role', 'rolesD'], ['clientPermissions', 'clientPermissionsD'], ['apiPermissions', 'apiPermissionsD'],
  ['groups', 'groupsD'], ['service', 'servicesD'],
];

interface LoadedManifest { file: string; prefix: string; manifest: ManifestFile; files: { kind: FileKind; file: string }[] }

const within = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);

export class PolicyStore {
  private current: SecurityData = EMPTY_SECURITY_DATA;
  /** Manifests added with addOneManifest from outside the manifests.d directories: re-applied on every reload. */
  private readonly external = new Map<string, string>();
  /** Prefix given with addOneManifest for a manifest inside manifests.d. */
  private readonly prefixes = new Map<string, string>();
  /** Manifests removed with removeOneManifest, with the files they listed: stay out until added again. */
  private readonly removed = new Map<string, string[]>();
  private readonly trees: { tree: Tree; origin: Origin }[];

  constructor(private readonly l: Layout, private readonly log: (line: string) => void = () => {}, private readonly ownerUid?: number) {
    this.trees = [
      { tree: l.staticBus, origin: 'static' },
      { tree: l.volatileBus, origin: 'verified' },
      { tree: l.volatileDevBus, origin: 'developer' },
    ];
  }

  get data(): SecurityData { return this.current; }

  /** Re-read everything; a bad file is logged and left out, the rest loads. */
  reload(): void {
    const manifests: LoadedManifest[] = [];
    const seen = new Set<string>();
    const tryManifest = (file: string, prefix: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      try {
        manifests.push(this.readManifest(file, prefix));
      } catch (e) {
        this.log(`acg: ${file}: ${e instanceof SecurityFileError ? e.text : (e as Error).message}; manifest skipped`);
      }
    };
    for (const { tree } of this.trees) for (const f of listDir(tree.manifestsD, 'manifest')) tryManifest(f, this.prefixes.get(f) ?? '');
    for (const [f, prefix] of this.external) {
      if (!fs.existsSync(f)) { this.log(`acg: ${f}: added manifest no longer exists; dropped`); this.external.delete(f); continue; }
      tryManifest(f, prefix);
    }

    const claimed = new Set<string>();
    for (const m of manifests) m.files.forEach((f) => claimed.add(f.file));
    for (const files of this.removed.values()) files.forEach((f) => claimed.add(f));
    const active = activeManifests(manifests.filter((m) => !this.removed.has(m.file)), (m) => this.originOf(m.file), this.log);

    // Most trusted tree first, so a file two manifests list keeps the origin of the more trusted one.
    const toLoad: { kind: FileKind; file: string; manifest?: string }[] = [];
    for (const m of active) {
      const tree = this.installedTreeOf(m.file);
      for (const f of m.files) {
        // An installed manifest lists only files of its own tree: it never pulls a shipped or other tree's file under its name.
        if (tree && !within(f.file, tree.base)) { this.log(`acg: ${m.file}: listed file ${f.file} is outside its tree ${tree.base}; not loaded`); continue; }
        toLoad.push({ ...f, manifest: m.file });
      }
    }
    for (const { tree } of this.trees) {
      for (const [kind, dir] of KIND_DIRS) {
        for (const f of listDir(tree[dir], kind)) if (!claimed.has(f)) toLoad.push({ kind, file: f });
      }
      for (const f of listDir(tree.containersD, 'container')) toLoad.push({ kind: 'container', file: f });
    }

    const loaded: LoadedFile[] = [];
    const done = new Set<string>();
    for (const item of toLoad) {
      const key = `${item.kind}:${item.file}`;
      if (done.has(key)) continue;
      done.add(key);
      const r = readSecurityFile(item.kind, item.file);
      if (!r.ok) { this.log(`acg: ${r.error}; file skipped`); continue; }
      loaded.push({ file: item.file, origin: this.originOf(item.file, item.manifest), parsed: r.parsed, unit: item.manifest });
    }

    this.current = compileSecurityData(loaded, {
      root: this.l.root,
      appRoots: [this.l.verifiedApps.base, this.l.developerApps.base],
      devmodeGroups: this.readDevmodeGroups(),
      ownerUid: this.ownerUid,
      log: this.log,
    });
  }

  /** addOneManifest: the manifest and every file it lists must be readable and valid, else nothing changes. */
  addManifest(manifestPath: string, prefix: string): Denial | null {
    const file = this.resolveManifestPath(manifestPath, prefix, true);
    let m: LoadedManifest;
    try {
      m = this.readManifest(file, prefix);
      for (const f of m.files) {
        const r = readSecurityFile(f.kind, f.file);
        if (!r.ok) throw new SecurityFileError(`listed file ${r.error}`);
      }
    } catch (e) {
      const why = e instanceof SecurityFileError ? e.text : (e as Error).message;
      this.log(`acg: addOneManifest ${file}: ${why}`);
      return { errorCode: BusErrorCode.GENERAL, errorText: BusErrorText.invalidManifest(manifestPath, why) };
    }
    this.removed.delete(file);
    if (this.trees.some(({ tree }) => path.dirname(file) === tree.manifestsD)) {
      if (prefix) this.prefixes.set(file, prefix);
    } else {
      this.external.set(file, prefix);
    }
    this.reload();
    this.log(`acg: manifest ${m.manifest.id} ${m.manifest.version} added (${file})`);
    return null;
  }

  /** removeOneManifest: the manifest and the files it lists stop applying (even if still on disk) until added again. */
  removeManifest(manifestPath: string, prefix: string): Denial | null {
    const file = this.resolveManifestPath(manifestPath, prefix, false);
    let files: string[] = [];
    try {
      files = this.readManifest(file, this.external.get(file) ?? this.prefixes.get(file) ?? prefix).files.map((f) => f.file);
    } catch {
      /* already deleted: what it listed is gone from disk too, or is forgotten with it below */
    }
    const known = this.external.has(file) || this.prefixes.has(file) || fs.existsSync(file);
    this.external.delete(file);
    this.prefixes.delete(file);
    if (!known) this.log(`acg: removeOneManifest ${file}: not loaded; nothing to remove`);
    this.removed.set(file, files);
    this.reload();
    return null;
  }

  private readManifest(file: string, prefix: string): LoadedManifest {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new SecurityFileError(`cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    const manifest = parseManifestFile(text);
    const files: { kind: FileKind; file: string }[] = [];
    for (const list of Object.keys(MANIFEST_LIST_KIND) as ManifestList[]) {
      for (const entry of manifest[list]) files.push({ kind: MANIFEST_LIST_KIND[list], file: this.resolveListed(entry, prefix) });
    }
    return { file, prefix, manifest, files };
  }

  /** A path a manifest lists: a device path under the prefix (none or "/" = the root prefix); a host path under the root stays. */
  resolveListed(entry: string, prefix: string): string {
    const root = this.l.root;
    if (path.isAbsolute(entry) && root !== '/' && within(path.normalize(entry), root)) return path.normalize(entry);
    let base = root;
    if (prefix && prefix !== '/') base = path.isAbsolute(prefix) ? (within(prefix, root) ? prefix : path.join(root, prefix)) : path.join(root, prefix);
    return path.join(base, entry);
  }

  private resolveManifestPath(p: string, prefix: string, mustExist: boolean): string {
    const direct = path.resolve(p);
    const viaPrefix = this.resolveListed(p, prefix);
    if (path.isAbsolute(p) && (fs.existsSync(direct) || this.external.has(direct) || this.prefixes.has(direct))) return direct;
    if (fs.existsSync(viaPrefix) || this.external.has(viaPrefix) || !mustExist) return viaPrefix;
    return path.isAbsolute(p) ? direct : viaPrefix;
  }

  /** The volatile (installed) tree a manifest lies in; undefined for the static tree and manifests added from elsewhere. */
  private installedTreeOf(manifest: string): Tree | undefined {
    return [this.l.volatileBus, this.l.volatileDevBus].find((t) => within(manifest, t.base));
  }

  private originOf(file: string, manifest?: string): Origin {
    const dev = this.l.volatileDevBus.base;
    if (within(file, dev) || (manifest && within(manifest, dev))) return 'developer';
    if (within(file, this.l.staticBus.base) && (!manifest || within(manifest, this.l.staticBus.base))) return 'static';
    return 'verified';
  }

  /** The devmode certificate: the developer tree's if present, else the static one; none = devmode roles hold no groups. */
  private readDevmodeGroups(): string[] {
    for (const base of [this.l.volatileDevBus.base, this.l.staticBus.base]) {
      const file = path.join(base, DEVMODE_CERTIFICATE);
      let text: string;
      try { text = fs.readFileSync(file, 'utf8'); } catch { continue; }
      try {
        return parseDevmodeCertificate(text).devmodeGroups;
      } catch (e) {
        this.log(`acg: ${file}: ${e instanceof SecurityFileError ? e.text : (e as Error).message}; devmode roles hold no groups`);
        return [];
      }
    }
    this.log('acg: no devmode certificate installed; devmode roles hold no groups');
    return [];
  }
}

const ORIGIN_RANK: Record<Origin, number> = { static: 0, verified: 1, developer: 2 };

/**
 * Per manifest id only one manifest applies: the newest version (as luna-service2 does; equal versions: the later
 * one) among those of the most trusted origin that has the id. A manifest of an id a more trusted origin holds
 * never applies, whatever its version: an installed manifest can never shadow a shipped one, nor a developer
 * install a verified one. The result is ordered most trusted origin first.
 */
export function activeManifests<T extends { manifest: ManifestFile; file?: string }>(ms: T[], originOf: (m: T) => Origin = () => 'static', log: (line: string) => void = () => {}): T[] {
  const byId = new Map<string, T>();
  for (const m of ms) {
    const cur = byId.get(m.manifest.id);
    const rank = ORIGIN_RANK[originOf(m)];
    const curRank = cur ? ORIGIN_RANK[originOf(cur)] : Infinity;
    if (!cur || rank < curRank || (rank === curRank && compareVersions(m.manifest.version, cur.manifest.version) >= 0)) byId.set(m.manifest.id, m);
  }
  for (const m of ms) {
    const winner = byId.get(m.manifest.id)!;
    if (ORIGIN_RANK[originOf(m)] > ORIGIN_RANK[originOf(winner)]) {
      log(`acg: ${m.file ?? m.manifest.id}: manifest id ${JSON.stringify(m.manifest.id)} belongs to the ${originOf(winner)} manifest ${winner.file ?? ''}; this ${originOf(m)} one is not applied`);
    }
  }
  return [...byId.values()].sort((a, b) => ORIGIN_RANK[originOf(a)] - ORIGIN_RANK[originOf(b)]);
}

function compareVersions(a: string, b: string): number {
  const va = semver.coerce(a);
  const vb = semver.coerce(b);
  if (va && vb) return semver.compare(va, vb);
  return a < b ? -1 : a > b ? 1 : 0;
}
