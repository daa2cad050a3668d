// Parsers for luna-service2 security files (roles, client/API permissions, groups, service files, manifests,
// containers, devmode certificate) in their real webOS formats. Text in, typed value or a clear error out;
// reading a file is the only I/O here. Not here: which files are active (acg/policy-store.ts) or decisions.

import fs from 'node:fs';

export type Trust = 'oem' | 'part' | 'dev';
export const TRUST_LEVELS: readonly Trust[] = ['oem', 'part', 'dev'];
export type RoleType = 'regular' | 'privileged' | 'devmode' | 'proxy';
const ROLE_TYPES: readonly RoleType[] = ['regular', 'privileged', 'devmode', 'proxy'];

export interface RolePermission { service: string; inbound?: string[]; outbound?: string[] }

/** One role (roles.d). Both the current format and the old `{"role":{...},"permissions":[...]}` one parse to this. */
export interface RoleFile {
  exeName?: string;
  appId?: string;
  type: RoleType;
  /** Absent in the file = `dev`. */
  trustLevel: Trust;
  allowedNames: string[];
  permissions: RolePermission[];
  /** Product extension: the role applies only to a peer whose kernel-verified uid / gid is this. */
  uid?: number;
  gid?: number;
}
/** client-permissions.d: caller name pattern → groups it holds. */
export type ClientPermissionsFile = Record<string, string[]>;
/** api-permissions.d: group → "service/category/method" patterns. */
export type ApiPermissionsFile = Record<string, string[]>;
/** groups.d: providers the trust levels apply to (null = every service) and group → trust levels. */
export interface GroupsFile { allowedNames: string[] | null; trust: Record<string, Trust[]> }
/** services.d key file, group [D-BUS Service]. */
export interface ServiceFile { names: string[]; exec?: string; type?: string }
export interface ContainersFile { exeNames: string[] }
export interface DevmodeCertificate { devmodeGroups: string[] }
export interface ManifestFile {
  id: string;
  version: string;
  roleFiles: string[];
  clientPermissionFiles: string[];
  apiPermissionFiles: string[];
  serviceFiles: string[];
  groupsFiles: string[];
}

export type FileKind = 'role' | 'clientPermissions' | 'apiPermissions' | 'groups' | 'service' | 'container';
export type ParsedFile =
  | { kind: 'role'; value: RoleFile }
  | { kind: 'clientPermissions'; value: ClientPermissionsFile }
  | { kind: 'apiPermissions'; value: ApiPermissionsFile }
  | { kind: 'groups'; value: GroupsFile }
  | { kind: 'service'; value: ServiceFile }
  | { kind: 'container'; value: ContainersFile };

/** A file that cannot be used: the caller logs `text` (it names nothing but the problem; the path is added by the reader). */
export class SecurityFileError extends Error {
  constructor(public readonly text: string) { super(text); this.name = 'SecurityFileError'; }
}
const bad = (text: string): never => { throw new SecurityFileError(text); };

/** JSON parse allowing the `//` comments some webOS files carry. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (first) {
    const stripped = text.replace(/("(?:[^"\\]|\\.)*")|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (_m, str) => str ?? '');
    try {
      return JSON.parse(stripped);
    } catch {
      return bad(`not valid JSON (${(first as Error).message})`);
    }
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringArray(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) bad(`${what} must be an array of strings`);
  return v as string[];
}

function parseTrust(v: unknown, what: string): Trust {
  if (typeof v !== 'string' || !TRUST_LEVELS.includes(v as Trust)) bad(`${what} must be one of "oem", "part", "dev" (got ${JSON.stringify(v)})`);
  return v as Trust;
}

function parseId(v: unknown, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) bad(`${what} must be a non-negative integer (got ${JSON.stringify(v)})`);
  return v as number;
}

function parsePermissions(v: unknown): RolePermission[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) bad('"permissions" must be an array');
  return (v as unknown[]).map((p, i) => {
    if (!isObject(p) || typeof p.service !== 'string' || !p.service) bad(`"permissions"[${i}] must be an object with a "service" string`);
    const perm = p as Record<string, unknown>;
    const out: RolePermission = { service: perm.service as string };
    if (perm.inbound !== undefined) out.inbound = stringArray(perm.inbound, `"permissions"[${i}].inbound`);
    if (perm.outbound !== undefined) out.outbound = stringArray(perm.outbound, `"permissions"[${i}].outbound`);
    return out;
  });
}

export function parseRoleFile(text: string): RoleFile {
  const json = parseJson(text);
  if (!isObject(json)) return bad('a role file must be a JSON object');
  // Old format: {"role": {"exeName","type","allowedNames"}, "permissions": [...]}
  const r = isObject(json.role) ? { ...json.role, permissions: json.permissions } as Record<string, unknown> : json;
  const role: RoleFile = { type: 'regular', trustLevel: 'dev', allowedNames: [], permissions: [] };
  if (r.exeName !== undefined) {
    if (typeof r.exeName !== 'string' || !r.exeName) bad('"exeName" must be a non-empty string');
    role.exeName = r.exeName as string;
  }
  if (r.appId !== undefined) {
    if (typeof r.appId !== 'string' || !r.appId) bad('"appId" must be a non-empty string');
    role.appId = r.appId as string;
  }
  if (r.type !== undefined) {
    if (typeof r.type !== 'string' || !ROLE_TYPES.includes(r.type as RoleType)) bad(`"type" must be one of ${ROLE_TYPES.map((t) => `"${t}"`).join(', ')} (got ${JSON.stringify(r.type)})`);
    role.type = r.type as RoleType;
  }
  if (r.trustLevel !== undefined) role.trustLevel = parseTrust(r.trustLevel, '"trustLevel"');
  if (r.allowedNames === undefined) bad('"allowedNames" is missing');
  role.allowedNames = stringArray(r.allowedNames, '"allowedNames"');
  role.permissions = parsePermissions(r.permissions);
  role.uid = parseId(r.uid, '"uid"');
  role.gid = parseId(r.gid, '"gid"');
  if (role.exeName === undefined && role.appId === undefined && role.uid === undefined && role.gid === undefined) {
    bad('a role must name an "exeName" or an "appId" (or, as this product\'s extension, a "uid"/"gid")');
  }
  return role;
}

/** `{"<group>": ["pattern", ...]}` shared by client and API permission files. */
function parseGroupLists(text: string, what: string): Record<string, string[]> {
  const json = parseJson(text);
  if (!isObject(json)) return bad(`${what} file must be a JSON object`);
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(json)) out[k] = stringArray(v, `"${k}"`);
  return out;
}

export function parseClientPermissionsFile(text: string): ClientPermissionsFile {
  return parseGroupLists(text, 'a client-permissions');
}

export function parseApiPermissionsFile(text: string): ApiPermissionsFile {
  return parseGroupLists(text, 'an api-permissions');
}

/** groups.d. The old descriptive form `{"group": {"description", "public"}}` (no trust levels) is accepted and sets no trust. */
export function parseGroupsFile(text: string): GroupsFile {
  const json = parseJson(text);
  if (!isObject(json)) return bad('a groups file must be a JSON object');
  const out: GroupsFile = { allowedNames: null, trust: {} };
  for (const [k, v] of Object.entries(json)) {
    if (k === 'allowedNames') { out.allowedNames = stringArray(v, '"allowedNames"'); continue; }
    if (isObject(v)) continue; // descriptive old form: no trust levels given
    const levels = stringArray(v, `"${k}"`);
    out.trust[k] = levels.map((t) => parseTrust(t, `"${k}"`));
  }
  return out;
}

/** Key file with a `[D-BUS Service]` group: Name= (one or more, `;`-separated), Exec=, Type=. */
export function parseServiceFile(text: string): ServiceFile {
  let group: string | null = null;
  let sawGroup = false;
  const out: ServiceFile = { names: [] };
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) return;
    const g = /^\[(.+)\]$/.exec(line);
    if (g) { group = g[1].trim(); if (group === 'D-BUS Service') sawGroup = true; return; }
    const eq = line.indexOf('=');
    if (eq < 0) bad(`line ${i + 1} is neither a [group] nor key=value: ${JSON.stringify(line)}`);
    if (group !== 'D-BUS Service') return;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (key === 'Name') out.names.push(...value.split(';').map((s) => s.trim()).filter(Boolean));
    else if (key === 'Exec') out.exec = value;
    else if (key === 'Type') out.type = value;
  });
  if (!sawGroup) bad('no [D-BUS Service] group');
  if (out.names.length === 0) bad('no Name= in [D-BUS Service]');
  return out;
}

export function parseContainersFile(text: string): ContainersFile {
  const json = parseJson(text);
  if (!isObject(json)) return bad('a containers file must be a JSON object');
  return { exeNames: json.exeNames === undefined ? [] : stringArray(json.exeNames, '"exeNames"') };
}

export function parseDevmodeCertificate(text: string): DevmodeCertificate {
  const json = parseJson(text);
  if (!isObject(json)) return bad('a devmode certificate must be a JSON object');
  return { devmodeGroups: stringArray(json.devmodeGroups, '"devmodeGroups"') };
}

const MANIFEST_LISTS = ['roleFiles', 'clientPermissionFiles', 'apiPermissionFiles', 'serviceFiles', 'groupsFiles'] as const;
export type ManifestList = (typeof MANIFEST_LISTS)[number];
export const MANIFEST_LIST_KIND: Record<ManifestList, FileKind> = {
  roleFiles: 'role',
  clientPermissionFiles: 'clientPermissions',
  apiPermissionFiles: 'apiPermissions',
  serviceFiles: 'service',
  groupsFiles: 'groups',
};

export function parseManifestFile(text: string): ManifestFile {
  const json = parseJson(text);
  if (!isObject(json)) return bad('a manifest must be a JSON object');
  if (typeof json.id !== 'string' || !json.id) bad('"id" must be a non-empty string');
  if (typeof json.version !== 'string') bad('"version" must be a string');
  const m = { id: json.id as string, version: json.version as string } as ManifestFile;
  for (const k of MANIFEST_LISTS) {
    m[k] = json[k] === undefined ? [] : stringArray(json[k], `"${k}"`);
    if (m[k].some((p) => !p)) bad(`"${k}" holds an empty path`);
  }
  // Public/private-bus role lists of older manifests are roles too.
  for (const k of ['roleFilesPub', 'roleFilesPrv']) if (json[k] !== undefined) m.roleFiles.push(...stringArray(json[k], `"${k}"`));
  return m;
}

export function parseSecurityFile(kind: FileKind, text: string): ParsedFile {
  switch (kind) {
    case 'role': return { kind, value: parseRoleFile(text) };
    case 'clientPermissions': return { kind, value: parseClientPermissionsFile(text) };
    case 'apiPermissions': return { kind, value: parseApiPermissionsFile(text) };
    case 'groups': return { kind, value: parseGroupsFile(text) };
    case 'service': return { kind, value: parseServiceFile(text) };
    case 'container': return { kind, value: parseContainersFile(text) };
  }
}

/** Read and parse one file; a problem comes back as a one-line text naming the file and what is wrong. */
export function readSecurityFile(kind: FileKind, file: string): { ok: true; parsed: ParsedFile } | { ok: false; error: string } {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return { ok: false, error: `${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  }
  try {
    return { ok: true, parsed: parseSecurityFile(kind, text) };
  } catch (e) {
    if (e instanceof SecurityFileError) return { ok: false, error: `${file}: ${e.text}` };
    throw e;
  }
}

/** File names a directory of this kind holds (`.json`, or `.service` for services.d), sorted; none when it is absent. */
export function listDir(dir: string, kind: FileKind | 'manifest'): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const ext = kind === 'service' ? '.service' : '.json';
  return names.filter((n) => n.endsWith(ext)).sort().map((n) => `${dir}/${n}`);
}
