// Free-space check before a download writes its first byte (statfs of the download directory). Not quota or
// cache eviction (cache.ts).
import fs from 'node:fs';
import { DownloadErrorCode, DownloadErrorText } from '../status-codes';
import type { DownloadFailure } from './types';

/** Bytes available to this (unprivileged-equivalent) process on the file system holding `dir`. */
export async function availableBytes(dir: string): Promise<number> {
  const s = await fs.promises.statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/** Margin kept free beyond a download: `minMargin` or 1 % of the size, whichever is larger. */
export function neededBytes(remaining: number, minMargin: number): number {
  return remaining + Math.max(minMargin, Math.ceil(remaining / 100));
}

/** null when `remaining` more bytes fit in `dir` with the margin, else the refusal. */
export async function checkSpace(dir: string, remaining: number, minMargin: number): Promise<DownloadFailure | null> {
  if (remaining <= 0) return null;
  const need = neededBytes(remaining, minMargin);
  let avail: number;
  try {
    avail = await availableBytes(dir);
  } catch (e) {
    return { code: DownloadErrorCode.FILESYSTEM, text: DownloadErrorText.filesystem((e as Error).message) };
  }
  return need > avail ? { code: DownloadErrorCode.NO_SPACE, text: DownloadErrorText.noSpace(need, avail) } : null;
}
