// File-system operations that survive a crash or power cut: fsync of files and directories, write-new-then-rename,
// renames followed by fsync of both parents. Nothing here knows about packages or journals.
// Benchmark-only: APPINSTALLD_UNSAFE_NO_SYNC=1 turns every fsync here into a no-op (NOT crash-safe; the daemon says so loudly).
import { promises as fs, constants as fsc } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import os from 'node:os';
import path from 'node:path';

const execFileAsync = promisify(execFile);

let tmpCounter = 0;

/** The environment variable that turns the fsyncs off (to measure what durability costs; never for real use). */
export const UNSAFE_NO_SYNC_ENV = 'APPINSTALLD_UNSAFE_NO_SYNC';
/** Read once at load: set to "1" the daemon skips every fsync below (renames and journal order are kept). */
export const UNSAFE_NO_SYNC = process.env[UNSAFE_NO_SYNC_ENV] === '1';

/** The name writeFileDurable's temp files start with, beside `file` (state-file.ts sweeps those a crash left). */
export function tempPrefix(file: string): string {
  return `.${path.basename(file)}.tmp-`;
}

/** How many files are fsynced at once by syncTree: the file system commits concurrent fsyncs together. */
const SYNC_PARALLEL = 64;

/** fsync one file or directory. */
export async function fsyncPath(p: string): Promise<void> {
  if (UNSAFE_NO_SYNC) return;
  const fh = await fs.open(p, fsc.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function exists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
    throw e;
  }
}

/** mkdir -p (new directories get `mode`, less the umask), then fsync each directory created and its parent, so the
 *  new entries are durable. */
export async function mkdirDurable(dir: string, mode = 0o777): Promise<void> {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !(await exists(d)); d = path.dirname(d)) missing.unshift(d);
  if (missing.length === 0) return;
  await fs.mkdir(dir, { recursive: true, mode });
  for (const d of missing) await fsyncPath(path.dirname(d));
  await fsyncPath(missing[missing.length - 1]);
}

/**
 * The one durable writer: writes a new file beside `file` (created, never opened if something stands there), fsyncs
 * it, renames it over `file` and fsyncs the directory. Never rewritten in place: a reader, or a crash, sees the old
 * content or the new whole. A missing directory is made with `dirMode`. The engine's state files go through
 * state-file.ts (root-only modes); package trees, feeds' caches and journals call it directly.
 */
export async function writeFileDurable(file: string, data: string | Buffer, mode = 0o644, dirMode = 0o777): Promise<void> {
  await mkdirDurable(path.dirname(file), dirMode);
  const tmp = path.join(path.dirname(file), `${tempPrefix(file)}${process.pid}-${++tmpCounter}`);
  const fh = await fs.open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    if (!UNSAFE_NO_SYNC) await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await fsyncPath(path.dirname(file));
}

/** Removes a file if present (a parent that is not a directory means absent too) and fsyncs its directory. */
export async function unlinkDurable(file: string): Promise<boolean> {
  try {
    await fs.unlink(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw e;
  }
  await fsyncPath(path.dirname(file)).catch(() => undefined);
  return true;
}

/** rename + fsync of both parent directories (the destination's parent is created first). */
export async function renameDurable(from: string, to: string): Promise<void> {
  await mkdirDurable(path.dirname(to));
  await fs.rename(from, to);
  await fsyncPath(path.dirname(to));
  if (path.dirname(from) !== path.dirname(to)) await fsyncPath(path.dirname(from));
}

/** Removes a tree (absent is fine) and fsyncs the parent. */
export async function removeTreeDurable(p: string): Promise<void> {
  if (!(await exists(p))) return;
  await fs.rm(p, { recursive: true, force: true });
  await fsyncPath(path.dirname(p)).catch(() => undefined);
}

/**
 * File systems whose syncfs(2) writes back every dirty page and inode of the file system, commits its journal and waits
 * (ext2/3/4, xfs, btrfs, f2fs), on kernels that report writeback errors from syncfs (5.8 and later). Elsewhere (FUSE,
 * network file systems, older kernels) syncfs may do less, so each file is fsynced instead.
 */
const SYNCFS_TRUSTED = new Set([0xef53, 0x58465342, 0x9123683e, 0xf2f52010]);
export function kernelReportsSyncfsErrors(release = os.release()): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return !!m && (Number(m[1]) > 5 || (Number(m[1]) === 5 && Number(m[2]) >= 8));
}

/**
 * One syncfs(2) of the file system holding `dir` (coreutils `sync -f`; node has no syncfs), when it is trusted to make
 * everything on it durable. Returns false when it was not used or did not succeed: the caller then fsyncs file by file.
 */
export async function syncFileSystemOf(dir: string): Promise<boolean> {
  if (!kernelReportsSyncfsErrors()) return false;
  try {
    if (!SYNCFS_TRUSTED.has(Number((await fs.statfs(dir)).type))) return false;
    await execFileAsync('sync', ['-f', dir], { timeout: 120000 });
    return true;
  } catch {
    return false; // no sync binary, no -f, or an error: the per-file fsyncs will run (and report a real I/O error)
  }
}

/**
 * Makes every file and directory of a tree durable (links are not followed). On a trusted local file system that is
 * one syncfs (a 2,000-file package: ~20 ms, against ~250 ms for 2,000 fsyncs even when run concurrently); otherwise
 * the files are fsynced up to SYNC_PARALLEL at once (concurrent fsyncs share journal commits), then the directories.
 */
export async function syncTree(root: string): Promise<void> {
  if (UNSAFE_NO_SYNC) return;
  if (await syncFileSystemOf(root)) return;
  const files: string[] = [];
  const dirs: string[] = [];
  const walk = async (p: string, isDir: boolean): Promise<void> => {
    if (!isDir) return void files.push(p);
    dirs.push(p);
    for (const e of await fs.readdir(p, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(path.join(p, e.name), true);
      else if (e.isFile()) files.push(path.join(p, e.name));
    }
  };
  const st = await fs.lstat(root);
  if (!st.isDirectory() && !st.isFile()) return;
  await walk(root, st.isDirectory());
  await fsyncAll(files);
  await fsyncAll(dirs);
}

/** fsync each path, at most SYNC_PARALLEL at once; the first failure rejects (after the running ones end). */
export async function fsyncAll(paths: string[]): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < paths.length) await fsyncPath(paths[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(SYNC_PARALLEL, paths.length) }, worker));
}

/** Is this a "disk full" error (ENOSPC, or EDQUOT for a quota), itself or as the `cause` of a wrapping error? */
export function isNoSpace(e: unknown): boolean {
  for (let err = e, depth = 0; err && typeof err === 'object' && depth < 8; err = (err as { cause?: unknown }).cause, depth++) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  }
  return false;
}
