// Checks of untrusted download inputs: target file names (never outside the download directory) and URLs
// (http/https only, bounded). Not the fetching itself (attempt.ts).
import path from 'node:path';
import { DownloadErrorCode, DownloadErrorText } from '../status-codes';
import type { DownloadFailure } from './types';

export const MAX_FILENAME_BYTES = 200;
export const MAX_URL_LENGTH = 4096;
export const PART_SUFFIX = '.part';
export const META_SUFFIX = '.part.meta';

const bad = (why: string): DownloadFailure => ({ code: DownloadErrorCode.INVALID_FILENAME, text: DownloadErrorText.invalidFilename(why) });

/** null when `name` is a plain file name that stays inside a directory, else why not. */
export function checkFilename(name: unknown): DownloadFailure | null {
  if (typeof name !== 'string' || name.length === 0) return bad('empty');
  if (Buffer.byteLength(name) > MAX_FILENAME_BYTES) return bad(`longer than ${MAX_FILENAME_BYTES} bytes`);
  if (name.includes('\0')) return bad('contains NUL');
  if (name.includes('/') || name.includes('\\')) return bad('contains a path separator');
  if (name === '.' || name === '..' || name.startsWith('.')) return bad('starts with a dot');
  if (/[\x00-\x1f\x7f]/.test(name)) return bad('contains a control character');
  if (name.endsWith(PART_SUFFIX) || name.endsWith(META_SUFFIX)) return bad(`ends with ${PART_SUFFIX}, the downloader's own suffix`);
  return null;
}

/** The parsed URL when `raw` is an absolute http/https URL of bounded length, else why not. */
export function checkUrl(raw: unknown): URL | DownloadFailure {
  const fail = (why: string): DownloadFailure => ({ code: DownloadErrorCode.INVALID_URL, text: DownloadErrorText.invalidUrl(why) });
  if (typeof raw !== 'string' || raw.length === 0) return fail('empty');
  if (raw.length > MAX_URL_LENGTH) return fail(`longer than ${MAX_URL_LENGTH} characters`);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return fail('not an absolute URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return fail(`scheme ${u.protocol.replace(/:$/, '')} is not http or https`);
  return u;
}

/** Paths of a download's final file, partial file and the partial's sidecar, all inside `dir`. */
export function targetPaths(dir: string, filename: string): { final: string; part: string; meta: string } {
  const final = path.resolve(dir, filename);
  if (path.dirname(final) !== path.resolve(dir)) throw new Error(`file name escapes ${dir}`); // checkFilename makes this unreachable
  return { final, part: final + PART_SUFFIX, meta: final + META_SUFFIX };
}

/** A file name from a URL's last path segment (for callers without a name), made safe or null. */
export function filenameFromUrl(u: URL): string | null {
  let last = '';
  try {
    last = decodeURIComponent(u.pathname.split('/').pop() ?? '');
  } catch {
    return null;
  }
  const name = last.replace(/[\x00-\x1f\x7f/\\]/g, '_').slice(0, MAX_FILENAME_BYTES);
  return checkFilename(name) ? null : name;
}
