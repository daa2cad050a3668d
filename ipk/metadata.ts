// The JSON metadata inside a package (appinfo.json, packageinfo.json, services.json): schemas compiled once,
// pure validation with messages that name the field, and the package consistency rules. No file access here.
import Ajv, { ErrorObject } from 'ajv';
import { PACKAGE_ID_RE } from './control';
import { MAX_JSON_DEPTH, textDepthOver } from './json-bounds';

export const APP_TYPES = ['web', 'stub', 'native', 'native_builtin', 'native_appshell', 'qml'] as const;

export interface AppInfo {
  id: string;
  version: string;
  type: (typeof APP_TYPES)[number];
  main: string;
  title: string;
  icon: string;
  [key: string]: unknown;
}
export interface PackageInfo {
  id: string;
  version: string;
  app?: string;
  services?: string[];
  [key: string]: unknown;
}
export interface ServicesJson {
  id?: string;
  description?: string;
  services?: Array<{ name: string; [key: string]: unknown }>;
  [key: string]: unknown;
}

const idSchema = { type: 'string', pattern: PACKAGE_ID_RE.source };
const nonEmpty = { type: 'string', minLength: 1 };

const ajv = new Ajv({ allErrors: false, strict: true });
const appInfoValidator = ajv.compile<AppInfo>({
  type: 'object',
  required: ['id', 'version', 'type', 'main', 'title', 'icon'],
  properties: { id: idSchema, version: nonEmpty, type: { type: 'string', enum: [...APP_TYPES] }, main: nonEmpty, title: nonEmpty, icon: nonEmpty },
});
const packageInfoValidator = ajv.compile<PackageInfo>({
  type: 'object',
  required: ['id', 'version'],
  properties: { id: idSchema, version: nonEmpty, app: idSchema, services: { type: 'array', items: idSchema } },
});
const servicesValidator = ajv.compile<ServicesJson>({
  type: 'object',
  properties: {
    id: idSchema,
    services: { type: 'array', items: { type: 'object', required: ['name'], properties: { name: idSchema } } },
  },
});

/** Pure: one readable sentence for an ajv error, naming the field (e.g. `"type" must be one of web, stub, ...`). */
export function describeAjvError(file: string, e: ErrorObject, data: unknown): string {
  const fieldPath = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const name = fieldPath ? `"${fieldPath}"` : 'the top level';
  const value = fieldPath.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), data);
  switch (e.keyword) {
    case 'required': {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      return `${file}: "${fieldPath ? fieldPath + '.' : ''}${missing}" is missing`;
    }
    case 'enum':
      return `${file}: ${name} is ${JSON.stringify(value)}, must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
    case 'pattern':
      return `${file}: ${name} is ${JSON.stringify(value)}, must match ${(e.params as { pattern: string }).pattern}`;
    case 'type':
      return `${file}: ${name} must be ${(e.params as { type: string }).type === 'object' ? 'an object' : 'a ' + (e.params as { type: string }).type}`;
    case 'minLength':
      return `${file}: ${name} must not be empty`;
    default:
      return `${file}: ${name} ${e.message ?? 'is invalid'}`;
  }
}

function check<T>(file: string, validate: ReturnType<typeof ajv.compile<T>>, data: unknown): { ok: true; value: T } | { ok: false; problem: string } {
  if (validate(data)) return { ok: true, value: data as T };
  const e = (validate.errors ?? [])[0];
  return { ok: false, problem: e ? describeAjvError(file, e, data) : `${file} is invalid` };
}

/** Pure: parse JSON text (nesting bounded: json-bounds.ts), naming the file in the problem. */
export function parseJson(file: string, text: string): { ok: true; value: unknown } | { ok: false; problem: string } {
  if (textDepthOver(text, MAX_JSON_DEPTH)) return { ok: false, problem: `${file} is nested deeper than ${MAX_JSON_DEPTH} levels` };
  try {
    return { ok: true, value: JSON.parse(text.replace(/^\uFEFF/, '')) };
  } catch (e) {
    return { ok: false, problem: `${file} is not valid JSON: ${(e as Error).message}` };
  }
}

export const validateAppInfo = (data: unknown) => check<AppInfo>('appinfo.json', appInfoValidator, data);
export const validatePackageInfo = (data: unknown) => check<PackageInfo>('packageinfo.json', packageInfoValidator, data);
export const validateServicesJson = (data: unknown) => check<ServicesJson>('services.json', servicesValidator, data);

/** The id a services.json declares: its `id`, else its first service's name (as ares-package decides). */
export function serviceIdOf(s: ServicesJson): string | undefined {
  return s.id ?? s.services?.[0]?.name;
}

/** What a package's data tree holds, as read from staging, for the consistency rules. */
export interface PackageContents {
  packageName: string;
  apps: Array<{ dir: string; appInfo: AppInfo }>;
  packageInfo?: { dir: string; value: PackageInfo };
  services: Array<{ dir: string; servicesJson: ServicesJson }>;
}

/** Pure: the consistency rules of docs/ipk.md (app id = dir = Package, service ids under `<pkgId>.`, packageinfo agrees). Returns the first problem. */
export function checkConsistency(c: PackageContents): string | undefined {
  const pkg = c.packageName;
  if (c.apps.length === 0) return `missing usr/palm/applications/${pkg}/appinfo.json`;
  for (const a of c.apps) {
    if (a.appInfo.id !== a.dir) return `appinfo.json id "${a.appInfo.id}" differs from its directory "${a.dir}"`;
    if (a.appInfo.id !== pkg) return `appinfo.json id "${a.appInfo.id}" differs from the control Package "${pkg}"`;
  }
  const svcIds = new Set<string>();
  for (const s of c.services) {
    const id = serviceIdOf(s.servicesJson);
    if (!id) return `services.json in "${s.dir}" has neither "id" nor services[0].name`;
    if (!s.dir.startsWith(pkg + '.')) return `service id "${s.dir}" does not start with "${pkg}."`;
    if (id !== s.dir) return `services.json id "${id}" differs from its directory "${s.dir}"`;
    for (const sv of s.servicesJson.services ?? []) {
      if (!sv.name.startsWith(pkg + '.')) return `service name "${sv.name}" does not start with "${pkg}."`;
    }
    svcIds.add(s.dir);
  }
  if (c.packageInfo) {
    const p = c.packageInfo.value;
    if (c.packageInfo.dir !== pkg) return `packageinfo.json directory "${c.packageInfo.dir}" differs from the control Package "${pkg}"`;
    if (p.id !== pkg) return `packageinfo.json id "${p.id}" differs from the control Package "${pkg}"`;
    if (p.app !== undefined && p.app !== c.apps[0].dir) return `packageinfo.json app "${p.app}" is not the package's app "${c.apps[0].dir}"`;
    for (const s of p.services ?? []) if (!svcIds.has(s)) return `packageinfo.json lists service "${s}" that the package does not hold`;
  }
  return undefined;
}
