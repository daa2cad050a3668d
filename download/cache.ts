// The download cache's cleaner: removes from the download directory what no feed or operation still needs (files
// outside a keep-set) and partial files left too long. Not the downloading (downloader.ts); directories are left alone.
import fs from 'node:fs';
import path from 'node:path';
import { META_SUFFIX, PART_SUFFIX } from './names';

export interface CleanOptions {
  /** Final file names to keep (what feeds and operations still need). */
  keep: Iterable<string>;
  /** File names being downloaded now (their partial files are never touched): Downloader.busyFilenames(). */
  busy?: Iterable<string>;
  /** A partial file untouched for this long is stale even when its name is kept (default 7 days). */
  staleMs?: number;
  now?: number;
}

export interface CleanResult {
  removed: string[];
  freedBytes: number;
}

/** The final file name a directory entry belongs to (`x.ipk.part.meta` → `x.ipk`), and whether it is a partial. */
export function ownerOf(entry: string): { name: string; partial: boolean } {
  for (const suffix of [META_SUFFIX, `${META_SUFFIX}.tmp`, PART_SUFFIX]) {
    if (entry.endsWith(suffix)) return { name: entry.slice(0, -suffix.length), partial: true };
  }
  return { name: entry, partial: false };
}

export async function cleanCache(dir: string, opts: CleanOptions): Promise<CleanResult> {
  const keep = new Set(opts.keep);
  const busy = new Set(opts.busy ?? []);
  const staleMs = opts.staleMs ?? 7 * 24 * 3600 * 1000;
  const now = opts.now ?? Date.now();
  const result: CleanResult = { removed: [], freedBytes: 0 };
  let entries: fs.Dirent[];
  try {
    entries = await fs.promises.readdir(dir, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return result;
    throw e;
  }
  for (const e of entries) {
    if (e.isDirectory()) continue;
    const { name, partial } = ownerOf(e.name);
    if (busy.has(name)) continue;
    const file = path.join(dir, e.name);
    let st: fs.Stats;
    try {
      st = await fs.promises.lstat(file);
    } catch {
      continue;
    }
    const stale = now - st.mtimeMs > staleMs;
    const remove = partial ? stale || !keep.has(name) : !keep.has(name);
    if (!remove) continue;
    try {
      await fs.promises.unlink(file);
      result.removed.push(e.name);
      if (st.isFile()) result.freedBytes += st.size;
    } catch {
      // gone meanwhile, or not ours to remove: leave it
    }
  }
  result.removed.sort();
  return result;
}
