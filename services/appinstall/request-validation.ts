// Checks of an install/remove request beyond its JSON schema (docs/appinstall.md: `id is empty`, `ipkUrl is empty`,
// `invalid ipkUrl`), and the method schemas themselves. The one I/O here is the walk of the ipk path (engine/caller-access.ts).
import fs from 'node:fs';
import path from 'node:path';
import { CodedError, ErrorCode, ErrorText } from '../../status-codes';
import { mayAccess, reachableBy, type Caller } from '../../engine/caller-access';
import { valueDepthOver } from '../../ipk/json-bounds';

/** Schemas of the five methods (extra keys allowed: webOS callers send more). */
export const installSchema = {
  type: 'object',
  required: ['id', 'ipkUrl'],
  properties: {
    id: { type: 'string' },
    ipkUrl: { type: 'string' },
    subscribe: { type: 'boolean' },
    allowDowngrade: { type: 'boolean' },
  },
} as const;

export const removeSchema = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string' }, subscribe: { type: 'boolean' } },
} as const;

export const statusSchema = {
  type: 'object',
  properties: { subscribe: { type: 'boolean' } },
} as const;

/** Deepest request payload the install service takes (json-bounds.ts); deeper is refused at once with -2. */
export const MAX_REQUEST_DEPTH = 32;

export function checkPayloadBounds(payload: Record<string, unknown>): void {
  if (valueDepthOver(payload, MAX_REQUEST_DEPTH)) {
    throw new CodedError(ErrorCode.INVALID_PARAMETER, ErrorText.REQUEST_TOO_DEEP, `more than ${MAX_REQUEST_DEPTH} levels`);
  }
}

export function checkId(id: string): void {
  if (id.trim() === '') throw new CodedError(ErrorCode.INVALID_PARAMETER, ErrorText.ID_EMPTY);
}

/** Pure part of the ipkUrl check: not empty, absolute, ends in .ipk. */
export function checkIpkUrlShape(ipkUrl: string): void {
  if (ipkUrl.trim() === '') throw new CodedError(ErrorCode.INVALID_PARAMETER, ErrorText.IPKURL_EMPTY);
  if (!path.isAbsolute(ipkUrl) || !ipkUrl.endsWith('.ipk') || ipkUrl.includes('\0')) {
    throw new CodedError(ErrorCode.INVALID_PARAMETER, ErrorText.INVALID_IPKURL, `${ipkUrl} is not an absolute path ending in .ipk`);
  }
}

/** Pure: may a process of uid/gid (and supplementary groups) read a file with this owner and mode (uid 0 always may)? */
export function canRead(st: { uid: number; gid: number; mode: number }, who: Caller): boolean {
  return mayAccess(st, who, 4);
}

/**
 * The whole ipkUrl check at request time: the shape, then, for the caller as the kernel would decide it
 * (engine/caller-access.ts: search on every directory of the path, read on the file, supplementary groups counted), an
 * existing regular file. Without `caller` (or for root) an existing regular file, symlinks followed. The install step
 * checks again against the file it actually opened (checkOpenedFor); this early check only answers at once.
 */
export function checkIpkUrl(ipkUrl: string, caller?: Caller): void {
  checkIpkUrlShape(ipkUrl);
  if (caller && caller.uid !== 0) {
    reachableBy(ipkUrl, caller);
    return;
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(ipkUrl);
  } catch (e) {
    throw new CodedError(ErrorCode.INVALID_PARAMETER, ErrorText.INVALID_IPKURL, `${ipkUrl}: ${(e as NodeJS.ErrnoException).code ?? 'cannot stat'}`);
  }
  if (!st.isFile()) throw new CodedError(ErrorCode.INVALID_PARAMETER, ErrorText.INVALID_IPKURL, `${ipkUrl} is not a regular file`);
}

/** webOS privileged name spaces (refused on /dev/install and /dev/remove, -15 / -19): one rule, acg/namespaces.ts. */
export { isPrivilegedName } from '../../acg/namespaces';
