// Storage of an app: how much a directory uses (KiB, like `du -sk`: lstat only, never following a symbolic link,
// hard links counted once, bounded walk), the details {apps, persistent} with their quotas, and reset (emptying an
// app's persistent data directory, keeping the directory). Not where the paths come from (the product's layout and the
// config give them) and not quota enforcement.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { EngineErrorCode, EngineErrorText } from '../status-codes/engine';
import { fsyncPath } from './durable-fs';
import { fail, ok, Result } from './result';

/** Most entries a usage walk visits before it gives up (so a hostile tree cannot keep the daemon busy). */
export const DEFAULT_MAX_ENTRIES = 200000;

export interface StorageArea {
  readonly path: string;
  /** The configured quota in KiB; null when none is configured. */
  readonly quotaKB: number | null;
  readonly usedKB: number;
}

export interface StorageDetails {
  readonly apps: StorageArea;
  readonly persistent: StorageArea;
}

/** Pure: bytes on disk (512-byte blocks, as st_blocks counts them) in KiB, rounded up. */
export function blocksToKB(blocks: number): number {
  return Math.ceil((blocks * 512) / 1024);
}

async function lstatOrNull(p: string) {
  try {
    return await fs.lstat(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw e;
  }
}

/**
 * KiB used by the tree at `dir` (the directory itself included). A missing directory uses 0. `dir` being a symbolic
 * link or not a directory is BAD_PATH; more than `maxEntries` entries is TOO_MANY. Entries that vanish during the
 * walk are skipped; other I/O errors are thrown.
 */
export async function usageKB(dir: string, maxEntries = DEFAULT_MAX_ENTRIES): Promise<Result<number>> {
  const top = await lstatOrNull(dir);
  if (top === null) return ok(0);
  if (top.isSymbolicLink()) return fail(EngineErrorCode.BAD_PATH, EngineErrorText.isSymlink(dir));
  if (!top.isDirectory()) return fail(EngineErrorCode.BAD_PATH, EngineErrorText.notADirectory(dir));
  const seen = new Set<string>();
  let blocks = 0;
  let entries = 0;
  const stack: string[] = [dir];
  seen.add(`${top.dev}:${top.ino}`);
  blocks += top.blocks;
  while (stack.length > 0) {
    const d = stack.pop()!;
    let names: string[];
    try {
      names = await fs.readdir(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      throw e;
    }
    for (const name of names) {
      if (++entries > maxEntries) return fail(EngineErrorCode.TOO_MANY, EngineErrorText.walkTooLarge(dir, maxEntries));
      const p = path.join(d, name);
      const st = await lstatOrNull(p);
      if (st === null) continue;
      const key = `${st.dev}:${st.ino}`;
      if (seen.has(key)) continue;
      seen.add(key);
      blocks += st.blocks;
      if (st.isDirectory()) stack.push(p);
    }
  }
  return ok(blocksToKB(blocks));
}

function checkQuota(name: string, q: unknown): Result<number | null> {
  if (q === undefined || q === null) return ok(null);
  if (typeof q !== 'number' || !Number.isSafeInteger(q) || q < 0) return fail(EngineErrorCode.WRONG_PARAMS, EngineErrorText.fieldBad(name, 'must be a non-negative integer (KiB)'));
  return ok(q);
}

function checkAbsolute(name: string, p: unknown): Result<string> {
  if (typeof p !== 'string' || p === '' || p.length > 4096 || !path.isAbsolute(p) || p.includes('\0')) {
    return fail(EngineErrorCode.WRONG_PARAMS, EngineErrorText.fieldBad(name, 'must be an absolute path'));
  }
  return ok(path.normalize(p));
}

/** Storage details of an app (or of all apps: pass the roots), given the paths and the configured quotas. */
export async function storageDetails(input: {
  appsPath: string;
  appsQuotaKB?: number | null;
  persistentPath: string;
  persistentQuotaKB?: number | null;
  maxEntries?: number;
}): Promise<Result<StorageDetails>> {
  const areas: StorageArea[] = [];
  for (const [p, q, pn, qn] of [
    [input.appsPath, input.appsQuotaKB, 'appsPath', 'appsQuotaKB'],
    [input.persistentPath, input.persistentQuotaKB, 'persistentPath', 'persistentQuotaKB'],
  ] as const) {
    const abs = checkAbsolute(pn, p);
    if (!abs.ok) return abs;
    const quota = checkQuota(qn, q);
    if (!quota.ok) return quota;
    const used = await usageKB(abs.value, input.maxEntries);
    if (!used.ok) return used;
    areas.push({ path: abs.value, quotaKB: quota.value, usedKB: used.value });
  }
  return ok({ apps: areas[0], persistent: areas[1] });
}

let trashCounter = 0;

/**
 * Empties `dir` (an app's persistent data directory) and keeps the directory itself. `dir` must be inside `root`
 * (the directory of all apps' data), with no symbolic link on the way from `root` to it, and be a real directory; a
 * missing `dir` is fine (nothing to reset). The entries are first moved into a trash directory beside `dir` (a rename
 * never follows a link, and the app cannot reach the trash), then the trash is deleted (removal unlinks symbolic links,
 * it never follows them), so nothing outside `dir` is touched. Returns how many top-level entries were removed.
 */
export async function resetDir(dir: string, root: string): Promise<Result<{ removed: number }>> {
  const d = checkAbsolute('dir', dir);
  if (!d.ok) return d;
  const r = checkAbsolute('root', root);
  if (!r.ok) return r;
  const rel = path.relative(r.value, d.value);
  if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) return fail(EngineErrorCode.BAD_PATH, EngineErrorText.fieldBad('dir', `must be inside ${r.value}`));
  // every component from root down to dir: a real directory (or dir missing: nothing to do)
  let cur = r.value;
  for (const part of ['', ...rel.split(path.sep)]) {
    cur = part === '' ? cur : path.join(cur, part);
    const st = await lstatOrNull(cur);
    if (st === null) return ok({ removed: 0 });
    if (st.isSymbolicLink()) return fail(EngineErrorCode.BAD_PATH, EngineErrorText.isSymlink(cur));
    if (!st.isDirectory()) return fail(EngineErrorCode.BAD_PATH, EngineErrorText.notADirectory(cur));
  }
  const names = await fs.readdir(d.value);
  if (names.length === 0) return ok({ removed: 0 });
  const trash = path.join(path.dirname(d.value), `.${path.basename(d.value)}.reset-${process.pid}-${++trashCounter}`);
  await fs.mkdir(trash, { mode: 0o700 });
  try {
    for (const name of names) await fs.rename(path.join(d.value, name), path.join(trash, name));
    await fsyncPath(d.value);
  } finally {
    await fs.rm(trash, { recursive: true, force: true });
    await fsyncPath(path.dirname(d.value));
  }
  return ok({ removed: names.length });
}
