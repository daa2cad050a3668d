// File-system operations that survive a crash or power cut: fsync of files and directories, write-new-then-rename,
// renames followed by fsync of both parents. Nothing here knows about packages or journals.
import { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';

let tmpCounter = 0;

/** fsync one file or directory. */
export async function fsyncPath(p: string): Promise<void> {
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

/** mkdir -p, then fsync each directory created and its parent, so the new entries are durable. */
export async function mkdirDurable(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !(await exists(d)); d = path.dirname(d)) missing.unshift(d);
  if (missing.length === 0) return;
  await fs.mkdir(dir, { recursive: true });
  for (const d of missing) await fsyncPath(path.dirname(d));
  await fsyncPath(missing[missing.length - 1]);
}

/** Writes a new file beside `file`, fsyncs it, renames it over `file` and fsyncs the directory: never rewritten in place. */
export async function writeFileDurable(file: string, data: string | Buffer, mode = 0o644): Promise<void> {
  await mkdirDurable(path.dirname(file));
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${++tmpCounter}`);
  const fh = await fs.open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
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

/** Removes a file if present and fsyncs its directory. */
export async function unlinkDurable(file: string): Promise<boolean> {
  try {
    await fs.unlink(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
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

/** fsync every file and directory of a tree, children before parents (links are not followed). */
export async function syncTree(root: string): Promise<void> {
  const st = await fs.lstat(root);
  if (st.isDirectory()) {
    for (const e of await fs.readdir(root, { withFileTypes: true })) {
      const p = path.join(root, e.name);
      if (e.isDirectory()) await syncTree(p);
      else if (e.isFile()) await fsyncPath(p);
    }
  }
  if (st.isDirectory() || st.isFile()) await fsyncPath(root);
}

/** Is this a "disk full" error (ENOSPC, or EDQUOT for a quota)? */
export function isNoSpace(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
