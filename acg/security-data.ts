// The active security data the decisions read, compiled from parsed files with this product's rules on where a
// file comes from (static tree, verified installs, developer installs). Pure: no I/O, no decisions.

import path from 'node:path';
import { isGlob } from './glob';
import type { ParsedFile, RoleFile, Trust } from './security-files';

/** Where a file comes from: the static tree (shipped), verified installs, developer installs. */
export type Origin = 'static' | 'verified' | 'developer';

export interface Role extends RoleFile {
  source: string;
  origin: Origin;
  /** exeName patterns matched against the kernel exe path (the name as written, and under the root prefix); empty = not by exe. */
  exePatterns: string[];
  /** May this role be chosen from a peer's kernel identity (exe, uid, gid)? Else only by appId / name. */
  kernelMatch: boolean;
}
export interface ClientPermission { pattern: string; groups: string[]; source: string; origin: Origin }
export interface ApiPermission { group: string; pattern: string; source: string; origin: Origin }
export interface GroupTrust { group: string; providers: string[] | null; trust: Trust[]; source: string }
export interface ServiceEntry { name: string; exec?: string; type?: string; source: string }

export interface SecurityData {
  roles: Role[];
  clientPermissions: ClientPermission[];
  apiPermissions: ApiPermission[];
  groupTrust: GroupTrust[];
  services: ServiceEntry[];
  /** Interpreter executables (containers.d): their exe path identifies no program. */
  containers: string[];
  /** Groups a devmode role keeps; empty when no certificate is installed. */
  devmodeGroups: string[];
}

export const EMPTY_SECURITY_DATA: SecurityData = {
  roles: [], clientPermissions: [], apiPermissions: [], groupTrust: [], services: [], containers: [], devmodeGroups: [],
};

/** One parsed file; `unit` is what installed it together with its siblings (its manifest, else its tree's loose files). */
export interface LoadedFile { file: string; origin: Origin; parsed: ParsedFile; unit?: string }
export interface CompileOptions {
  /** The root prefix (device `/`): exeName paths are also looked for under it. */
  root: string;
  /** App roots: a role from an install may match a kernel exe only when it names an executable inside one. */
  appRoots: string[];
  devmodeGroups: string[];
  /**
   * The uid the hub runs as, when not root: that user owns the bus (its socket and every file), so its processes get
   * the same privileged role root has. Without it a hub started by an ordinary user could not run its own services.
   */
  ownerUid?: number;
  log?: (line: string) => void;
}

const within = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);

/**
 * Compile parsed files into the active data. Rules for installed (volatile) files, so that a package can never
 * widen access beyond itself:
 * - a developer-install role is at most `regular` with trust `dev` (privileged becomes devmode);
 * - an installed role is matched by kernel identity only through an exact exeName inside an app root (else only by appId/name);
 * - a service name belongs to the first unit (manifest) that declares it (service file Name, exact allowedNames, appId),
 *   static files first, then verified, then developer installs; installed API permissions may only describe
 *   services of their own unit;
 * - installed client permissions apply to exact names only (no `*` keys); developer ones grant only the devmode
 *   certificate's groups and the groups their own unit's API permissions define.
 */
export function compileSecurityData(files: LoadedFile[], opts: CompileOptions): SecurityData {
  const log = opts.log ?? (() => {});
  const data: SecurityData = { ...EMPTY_SECURITY_DATA, roles: [], clientPermissions: [], apiPermissions: [], groupTrust: [], services: [], containers: [], devmodeGroups: [...opts.devmodeGroups] };
  const order: Origin[] = ['static', 'verified', 'developer'];
  const sorted = [...files].sort((a, b) => order.indexOf(a.origin) - order.indexOf(b.origin));
  const unitOf = (f: LoadedFile) => f.unit ?? `loose:${f.origin}`;

  // Who owns each service name; the static tree owns every name its files mention.
  const owner = new Map<string, string>();
  const own = (name: string, unit: string) => { if (!isGlob(name) && !owner.has(name)) owner.set(name, unit); };
  for (const f of sorted) {
    const unit = f.origin === 'static' ? 'static' : unitOf(f);
    if (f.parsed.kind === 'service') f.parsed.value.names.forEach((n) => own(n, unit));
    if (f.parsed.kind === 'role') {
      f.parsed.value.allowedNames.forEach((n) => own(n, unit));
      if (f.parsed.value.appId) own(f.parsed.value.appId, unit);
    }
    if (f.origin === 'static' && f.parsed.kind === 'apiPermissions') {
      for (const pats of Object.values(f.parsed.value)) for (const p of pats) own(serviceOfPattern(p), unit);
    }
  }
  // Groups each unit's accepted API permissions define (a developer package may hand its own groups to its apps).
  const unitGroups = new Map<string, Set<string>>();
  const accepted = (f: LoadedFile, pattern: string) => {
    if (f.origin === 'static') return true;
    return owner.get(serviceOfPattern(pattern)) === unitOf(f);
  };
  for (const f of sorted) {
    if (f.parsed.kind !== 'apiPermissions') continue;
    for (const [group, pats] of Object.entries(f.parsed.value)) {
      if (pats.some((p) => accepted(f, p))) {
        if (!unitGroups.has(unitOf(f))) unitGroups.set(unitOf(f), new Set());
        unitGroups.get(unitOf(f))!.add(group);
      }
    }
  }

  for (const f of sorted) {
    const { file, origin, parsed } = f;
    switch (parsed.kind) {
      case 'role': {
        const r = { ...parsed.value };
        if (origin === 'developer') {
          if (r.type === 'privileged') r.type = 'devmode';
          r.trustLevel = 'dev';
        }
        const exePatterns = r.exeName === undefined ? [] : exePatternsFor(r.exeName, opts.root);
        let kernelMatch = origin === 'static';
        if (origin !== 'static' && r.exeName !== undefined) {
          kernelMatch = !isGlob(r.exeName) && exePatterns.some((p) => opts.appRoots.some((a) => within(p, a)));
          if (!kernelMatch) log(`acg: ${file}: exeName ${JSON.stringify(r.exeName)} is outside the app roots; the role applies by appId/name only`);
        }
        data.roles.push({ ...r, source: file, origin, exePatterns, kernelMatch });
        break;
      }
      case 'clientPermissions':
        for (const [pattern, groups0] of Object.entries(parsed.value)) {
          if (origin !== 'static' && isGlob(pattern)) { log(`acg: ${file}: pattern key ${JSON.stringify(pattern)} ignored: installed client permissions name exact callers`); continue; }
          const mine = unitGroups.get(unitOf(f));
          const groups = origin === 'developer' ? groups0.filter((g) => opts.devmodeGroups.includes(g) || mine?.has(g)) : groups0;
          if (groups.length < groups0.length) log(`acg: ${file}: groups neither in the devmode certificate nor the package's own ignored for ${pattern}: ${groups0.filter((g) => !groups.includes(g)).join(', ')}`);
          data.clientPermissions.push({ pattern, groups, source: file, origin });
        }
        break;
      case 'apiPermissions':
        for (const [group, patterns] of Object.entries(parsed.value)) {
          for (const pattern of patterns) {
            if (!accepted(f, pattern)) { log(`acg: ${file}: ${JSON.stringify(pattern)} ignored: an installed file may describe only its own package's services`); continue; }
            data.apiPermissions.push({ group, pattern, source: file, origin });
          }
        }
        break;
      case 'groups':
        for (const [group, trust] of Object.entries(parsed.value.trust)) {
          data.groupTrust.push({ group, providers: parsed.value.allowedNames, trust, source: file });
        }
        break;
      case 'service':
        for (const name of parsed.value.names) data.services.push({ name, exec: parsed.value.exec, type: parsed.value.type, source: file });
        break;
      case 'container':
        data.containers.push(...parsed.value.exeNames.flatMap((e) => exePatternsFor(e, opts.root)));
        break;
    }
  }
  if (opts.ownerUid !== undefined && opts.ownerUid !== 0) {
    data.roles.push({
      exeName: '*', uid: opts.ownerUid, type: 'privileged', trustLevel: 'oem', allowedNames: ['*'], permissions: [],
      source: `(the hub's own uid ${opts.ownerUid})`, origin: 'static', exePatterns: ['*'], kernelMatch: true,
    });
  }
  return data;
}

/** The service part of an API pattern "service/category/method". */
export function serviceOfPattern(pattern: string): string {
  const i = pattern.indexOf('/');
  return i < 0 ? pattern : pattern.slice(0, i);
}

function exePatternsFor(exeName: string, root: string): string[] {
  if (!exeName.startsWith('/') || root === '/' || within(exeName, root)) return [exeName];
  return [exeName, path.join(root, exeName)];
}
