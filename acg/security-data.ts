// The active security data the decisions read, compiled from parsed files with this product's rules on where a
// file comes from (static tree, verified installs, developer installs). Pure: no I/O, no decisions.

import path from 'node:path';
import { isGlob } from './glob';
import { isPrivilegedName } from './namespaces';
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
 * Compile parsed files into the active data. Rules for installed (volatile) files, so that nothing a package
 * installs changes what any other identity may do:
 * - a service or app name belongs to the first unit (manifest) that declares it (service file Name, exact
 *   allowedNames, appId), static files first, then verified, then developer installs; a developer unit never owns
 *   a name in a privileged name space (acg/namespaces.ts);
 * - installed API permissions may put only their own unit's services' methods into a group (any group: that opens
 *   only their own methods); a group belongs to the static files when they mention it anywhere (API and client
 *   permissions, groups files, the devmode certificate), else to the first unit whose API permissions define it
 *   with only its own services; a developer unit grants only groups it owns (and the certificate's, below);
 * - an installed role is dropped when its appId is not its unit's, keeps only allowedNames and permissions of its
 *   unit's names, is at most `regular` with trust `dev` from a developer install (privileged becomes devmode), and is
 *   matched by kernel identity only through an exact exeName inside an app root (else only by appId/name);
 * - installed client permissions apply to exact names of their own unit only (no `*` keys); developer ones grant
 *   only the devmode certificate's groups and the groups their own unit owns;
 * - installed groups files set trust only on their unit's services; installed service files
 *   declare only their unit's names.
 */
export function compileSecurityData(files: LoadedFile[], opts: CompileOptions): SecurityData {
  const log = opts.log ?? (() => {});
  const data: SecurityData = { ...EMPTY_SECURITY_DATA, roles: [], clientPermissions: [], apiPermissions: [], groupTrust: [], services: [], containers: [], devmodeGroups: [...opts.devmodeGroups] };
  const order: Origin[] = ['static', 'verified', 'developer'];
  const sorted = [...files].sort((a, b) => order.indexOf(a.origin) - order.indexOf(b.origin));
  const unitOf = (f: LoadedFile) => (f.origin === 'static' ? 'static' : f.unit ?? `loose:${f.origin}`);

  // Who owns each service or app name; the static tree owns every name its files mention.
  const owner = new Map<string, string>();
  const own = (name: string, f: LoadedFile) => {
    if (isGlob(name) || owner.has(name)) return;
    if (f.origin === 'developer' && isPrivilegedName(name)) { log(`acg: ${f.file}: ${JSON.stringify(name)} is in a privileged name space; a developer install cannot own it`); return; }
    owner.set(name, unitOf(f));
  };
  for (const f of sorted) {
    if (f.parsed.kind === 'service') f.parsed.value.names.forEach((n) => own(n, f));
    if (f.parsed.kind === 'role') {
      f.parsed.value.allowedNames.forEach((n) => own(n, f));
      if (f.parsed.value.appId) own(f.parsed.value.appId, f);
    }
    if (f.origin === 'static' && f.parsed.kind === 'apiPermissions') {
      for (const pats of Object.values(f.parsed.value)) for (const p of pats) own(serviceOfPattern(p), f);
    }
  }
  const ownsName = (f: LoadedFile, name: string) => f.origin === 'static' || owner.get(name) === unitOf(f);
  /** An installed unit's name pattern: an exact name it owns, or a glob only below one (`<own name>-*`, `<own name>.*`). */
  const ownsPattern = (f: LoadedFile, pattern: string) => {
    if (f.origin === 'static') return true;
    if (!isGlob(pattern)) return ownsName(f, pattern);
    const literal = pattern.slice(0, pattern.indexOf('*'));
    for (const [name, unit] of owner) if (unit === unitOf(f) && (literal.startsWith(`${name}-`) || literal.startsWith(`${name}.`))) return true;
    return false;
  };

  // Who owns each group: the static files every group they mention, then the first unit whose API permissions define it.
  const groupOwner = new Map<string, string>();
  for (const g of opts.devmodeGroups) groupOwner.set(g, 'static');
  for (const f of sorted) {
    if (f.origin !== 'static') continue;
    const p = f.parsed;
    if (p.kind === 'apiPermissions' || p.kind === 'groups') Object.keys(p.kind === 'groups' ? p.value.trust : p.value).forEach((g) => groupOwner.set(g, 'static'));
    if (p.kind === 'clientPermissions') Object.values(p.value).forEach((gs) => gs.forEach((g) => groupOwner.set(g, 'static')));
  }
  for (const f of sorted) {
    if (f.origin === 'static' || f.parsed.kind !== 'apiPermissions') continue;
    for (const [group, pats] of Object.entries(f.parsed.value)) {
      if (groupOwner.has(group)) continue;
      if (f.origin === 'developer' && isPrivilegedName(group)) continue;
      if (pats.length > 0 && pats.every((p) => ownsName(f, serviceOfPattern(p)))) groupOwner.set(group, unitOf(f));
    }
  }

  for (const f of sorted) {
    const { file, origin, parsed } = f;
    switch (parsed.kind) {
      case 'role': {
        const r = { ...parsed.value };
        if (origin !== 'static') {
          if (r.appId !== undefined && !ownsPattern(f, r.appId)) { log(`acg: ${file}: appId ${JSON.stringify(r.appId)} belongs to another package; role ignored`); break; }
          const names = r.allowedNames.filter((n) => ownsPattern(f, n));
          if (names.length < r.allowedNames.length) log(`acg: ${file}: allowedNames of other packages ignored: ${r.allowedNames.filter((n) => !names.includes(n)).join(', ')}`);
          r.allowedNames = names;
          const perms = r.permissions.filter((p) => ownsPattern(f, p.service));
          if (perms.length < r.permissions.length) log(`acg: ${file}: permissions for services of other packages ignored: ${r.permissions.filter((p) => !perms.includes(p)).map((p) => p.service).join(', ')}`);
          r.permissions = perms;
        }
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
          if (!ownsName(f, pattern)) { log(`acg: ${file}: ${JSON.stringify(pattern)} ignored: an installed file may grant groups only to its own package's names`); continue; }
          const groups = origin === 'developer' ? groups0.filter((g) => opts.devmodeGroups.includes(g) || (groupOwner.get(g) === unitOf(f))) : groups0;
          if (groups.length < groups0.length) log(`acg: ${file}: groups neither in the devmode certificate nor the package's own ignored for ${pattern}: ${groups0.filter((g) => !groups.includes(g)).join(', ')}`);
          data.clientPermissions.push({ pattern, groups, source: file, origin });
        }
        break;
      case 'apiPermissions':
        for (const [group, patterns] of Object.entries(parsed.value)) {
          for (const pattern of patterns) {
            if (!ownsName(f, serviceOfPattern(pattern))) { log(`acg: ${file}: ${JSON.stringify(pattern)} ignored: an installed file may describe only its own package's services`); continue; }
            data.apiPermissions.push({ group, pattern, source: file, origin });
          }
        }
        break;
      case 'groups': {
        let providers = parsed.value.allowedNames;
        if (origin !== 'static') {
          providers = (providers ?? []).filter((n) => ownsPattern(f, n));
          if (providers.length === 0) { log(`acg: ${file}: names no service of its own package; ignored`); break; }
        }
        for (const [group, trust] of Object.entries(parsed.value.trust)) {
          data.groupTrust.push({ group, providers, trust, source: file });
        }
        break;
      }
      case 'service':
        for (const name of parsed.value.names) {
          if (!ownsName(f, name)) { log(`acg: ${file}: service name ${JSON.stringify(name)} ignored: it belongs to another package`); continue; }
          data.services.push({ name, exec: parsed.value.exec, type: parsed.value.type, source: file });
        }
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
