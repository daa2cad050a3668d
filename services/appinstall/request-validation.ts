// Checks of an install/remove request beyond its JSON schema (docs/appinstall.md: `id is empty`, `ipkUrl is empty`,
// `invalid ipkUrl`), and the method schemas themselves. The one I/O here is a stat of the ipk path.
import fs from 'node:fs';
import path from 'node:path';
import { CodedError, ErrorCode, ErrorText } from '../../status-codes';

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

/** Pure: may a process of uid/gid read a file with this owner and mode (uid 0 always may)? */
export function canRead(st: { uid: number; gid: number; mode: number }, who: { uid: number; gid: number }): boolean {
  if (who.uid === 0) return true;
  if (st.uid === who.uid) return (st.mode & 0o400) !== 0;
  if (st.gid === who.gid) return (st.mode & 0o040) !== 0;
  return (st.mode & 0o004) !== 0;
}

/**
 * The whole ipkUrl check: the shape, then an existing regular file (symlinks followed). With `caller`, the file must
 * also be readable by the caller's kernel identity, so the root daemon never reads on a user's behalf what that user cannot.
 */
export function checkIpkUrl(ipkUrl: string, caller?: { uid: number; gid: number }): void {
  checkIpkUrlShape(ipkUrl);
  let st: fs.Stats;
  try {
    st = fs.statSync(ipkUrl);
  } catch (e) {
    throw new CodedError(ErrorCode.INVALID_PARAMETER, ErrorText.INVALID_IPKURL, `${ipkUrl}: ${(e as NodeJS.ErrnoException).code ?? 'cannot stat'}`);
  }
  if (!st.isFile()) throw new CodedError(ErrorCode.INVALID_PARAMETER, ErrorText.INVALID_IPKURL, `${ipkUrl} is not a regular file`);
  if (caller && !canRead(st, caller)) throw new CodedError(ErrorCode.INVALID_PARAMETER, ErrorText.INVALID_IPKURL, `${ipkUrl} is not readable by uid ${caller.uid}`);
}

/** webOS privileged package ids: refused on /dev/install and /dev/remove (-15 / -19). */
export function isPrivilegedPackageId(id: string): boolean {
  return /^(com\.palm\.|com\.webos\.|com\.lge\.)/.test(id);
}
