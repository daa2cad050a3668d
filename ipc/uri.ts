// Pure parsing of bus URIs (luna://service/category/method) and of JSON payload text given on a command line.
// No I/O and no policy here: the hub and the CLIs decide what to do with the result or the CodedError.
import { BusErrorCode, BusErrorText, CodedError } from '../status-codes';
import type { Payload } from './protocol';

/** The three parts of a bus URI; `category` starts with "/" and is "/" for the root category. */
export interface ParsedUri { service: string; category: string; method: string }

const SCHEMES = ['luna://', 'palm://'];
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Service name components also allow "-" after the first character (as D-Bus names do): luna-send registers
 *  as com.webos.lunasend-<pid> (docs/luna-send.md), and that name must be valid wherever names are checked. */
const SERVICE_COMPONENT = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** Category path segments are looser than method names in real webOS (e.g. "/com/palm/x", "/1.0", "/dev-tools"). */
const CATEGORY_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

function invalid(uri: string, why: string): CodedError {
  return new CodedError(BusErrorCode.GENERAL, BusErrorText.invalidUri(uri, why));
}

/** Why `name` is not a valid service name, or null when it is (at least one '.', components [A-Za-z_][A-Za-z0-9_-]*). */
export function serviceNameProblem(name: string): string | null {
  if (name === '') return 'the service name is empty';
  if (!name.includes('.')) return `service name "${name}" must contain at least one "."`;
  for (const part of name.split('.')) {
    if (!SERVICE_COMPONENT.test(part)) {
      return `service name "${name}" has an invalid component "${part}" (each must match [A-Za-z_][A-Za-z0-9_-]*)`;
    }
  }
  return null;
}

/** Why `name` is not a valid method name, or null when it is. */
export function methodNameProblem(name: string): string | null {
  if (name === '') return 'the method name is empty';
  if (!IDENTIFIER.test(name)) return `method name "${name}" must match [A-Za-z_][A-Za-z0-9_]*`;
  return null;
}

/** Why `category` ("/" or "/a/b") is not a valid category, or null when it is. */
export function categoryProblem(category: string): string | null {
  if (category === '/') return null;
  if (!category.startsWith('/')) return `category "${category}" must start with "/"`;
  for (const seg of category.slice(1).split('/')) {
    if (seg === '') return `category "${category}" has an empty path segment`;
    if (!CATEGORY_SEGMENT.test(seg)) return `category "${category}" has an invalid segment "${seg}"`;
  }
  return null;
}

/** glib's g_path_get_dirname: the path before the last "/", with the slashes before it dropped ("/" when none is left). */
export function pathDirname(p: string): string {
  let i = p.lastIndexOf('/');
  if (i < 0) return '.';
  while (i > 0 && p[i] === '/') i--;
  return p.slice(0, i + 1);
}

/** glib's g_path_get_basename: the last component, trailing slashes ignored ("/" for a path of slashes only). */
export function pathBasename(p: string): string {
  if (p === '') return '.';
  let end = p.length - 1;
  while (end >= 0 && p[end] === '/') end--;
  if (end < 0) return '/';
  let start = end;
  while (start >= 0 && p[start] !== '/') start--;
  return p.slice(start + 1, end + 1);
}

/**
 * Split `luna://<service>/<category path>/<method>` (palm:// accepted) as luna-service2 does (its LSUriParse): service
 * up to the first "/", then of the rest (which starts with "/") the method is g_path_get_basename and the category
 * g_path_get_dirname. So `luna://s//m` is category "/" and `luna://s/a//m` category "/a" (ares-cli builds such URIs
 * when a method has no folder), and trailing slashes are ignored (`luna://s/a/m/` is method "m" in "/a"). A category
 * with an empty segment inside (`/a//b`) is still refused, as luna-service2 refuses it. Throws CodedError(-1, invalidUri).
 */
export function parseUri(uri: string): ParsedUri {
  if (typeof uri !== 'string') throw invalid(String(uri), 'the URI must be a string');
  const scheme = SCHEMES.find((s) => uri.startsWith(s));
  if (!scheme) throw invalid(uri, 'it must start with luna:// or palm://');
  const rest = uri.slice(scheme.length);
  const slash = rest.indexOf('/');
  if (slash < 0) throw invalid(uri, 'it has no method (expected luna://<service>/<category>/<method>)');
  const service = rest.slice(0, slash);
  const serviceWhy = serviceNameProblem(service);
  if (serviceWhy) throw invalid(uri, serviceWhy);
  const pathPart = rest.slice(slash);
  const base = pathBasename(pathPart);
  const method = base === '/' ? '' : base;
  const methodWhy = methodNameProblem(method);
  if (methodWhy) throw invalid(uri, methodWhy);
  const category = pathDirname(pathPart);
  const categoryWhy = categoryProblem(category);
  if (categoryWhy) throw invalid(uri, categoryWhy);
  return { service, category, method };
}

/** The URI of a method: luna://service/method for the root category, else luna://service/category/method. */
export function formatUri(target: ParsedUri): string {
  const cat = target.category === '/' ? '' : target.category;
  return `luna://${target.service}${cat}/${target.method}`;
}

/**
 * Parse payload text from a command line: empty → emptyPayload, bad JSON → malformedJson, anything
 * but a JSON object → payloadNotObject (all CodedError -1).
 */
export function parsePayload(text: string): Payload {
  if (text.trim() === '') throw new CodedError(BusErrorCode.GENERAL, BusErrorText.emptyPayload);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new CodedError(BusErrorCode.GENERAL, BusErrorText.malformedJson((e as Error).message));
  }
  if (!isPayload(value)) throw new CodedError(BusErrorCode.GENERAL, BusErrorText.payloadNotObject);
  return value;
}

/** A payload is a JSON object: not null, not an array. */
export function isPayload(value: unknown): value is Payload {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
