// The engine's one way to keep small state files across crashes: write a temp file beside, fsync, rename over, fsync
// the directory; writes to one file strictly in order; bounded reads that set a damaged file aside instead of crashing.
// Not for package trees (engine/durable-fs.ts does those) and not a database: whole-file rewrites only.
import { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';
import { EngineErrorText } from '../status-codes/engine';

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

/** Creates `dir` (and parents) if missing and makes the new entries durable. */
export async function ensureDir(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    try {
      await fs.lstat(d);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || d === path.dirname(d)) throw e;
      missing.unshift(d);
    }
  }
  if (missing.length === 0) return;
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  for (const d of missing) await fsyncPath(path.dirname(d));
}

/** Replaces `file` with `data` atomically and durably: readers see the old or the new content whole, never a mix. */
export async function writeFileAtomic(file: string, data: string | Buffer, mode = 0o600): Promise<void> {
  await ensureDir(path.dirname(file));
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${++tmpCounter}`);
  const fh = await fs.open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    await fs.rename(tmp, file);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await fsyncPath(path.dirname(file));
}

/** Removes the temp files writeFileAtomic left beside `file` when a process died mid-write (call before first use). */
export async function removeStaleTemps(file: string): Promise<number> {
  const prefix = `.${path.basename(file)}.tmp-`;
  let names: string[];
  try {
    names = await fs.readdir(path.dirname(file));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
  const stale = names.filter((n) => n.startsWith(prefix));
  for (const n of stale) await fs.rm(path.join(path.dirname(file), n), { force: true });
  return stale.length;
}

/** Removes `file` if present and makes that durable. */
export async function removeFileDurable(file: string): Promise<void> {
  try {
    await fs.unlink(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  await fsyncPath(path.dirname(file));
}

/** What a bounded read of a state file found. */
export type StateRead<T> =
  | { readonly kind: 'absent' }
  | { readonly kind: 'ok'; readonly value: T }
  /** Unreadable, too large, not JSON or not the right shape: `problem` says what, the file was renamed to `setAsideTo`. */
  | { readonly kind: 'damaged'; readonly problem: string; readonly setAsideTo?: string };

/** A state file's content checked: the value, or why it is not acceptable. */
export type Checked<T> = { readonly value: T } | { readonly problem: string };

/**
 * Reads a JSON state file of at most `maxBytes` and checks it with `check` (which returns the value or a reason).
 * A damaged file is renamed to `<file>.damaged` (replacing an older one) so the next write starts clean and the
 * evidence is kept; the problem is returned, never thrown. Other I/O errors (EACCES, EIO) are thrown.
 */
export async function readJsonState<T>(file: string, maxBytes: number, check: (json: unknown) => Checked<T>): Promise<StateRead<T>> {
  let fh;
  try {
    fh = await fs.open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'absent' };
    if (code === 'ELOOP') return setAside(file, 'it is a symbolic link');
    throw e;
  }
  let text: string;
  try {
    const st = await fh.stat();
    if (!st.isFile()) return await setAside(file, 'it is not a regular file');
    if (st.size > maxBytes) return await setAside(file, `it is ${st.size} bytes, more than the ${maxBytes} allowed`);
    const buf = Buffer.alloc(maxBytes + 1);
    const { bytesRead } = await fh.read(buf, 0, maxBytes + 1, 0);
    if (bytesRead > maxBytes) return await setAside(file, `it is more than the ${maxBytes} bytes allowed`);
    text = buf.subarray(0, bytesRead).toString('utf8');
  } finally {
    await fh.close();
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return setAside(file, `not JSON (${(e as Error).message.slice(0, 100)})`);
  }
  const checked = check(json);
  if ('problem' in checked) return setAside(file, checked.problem);
  return { kind: 'ok', value: checked.value };
}

async function setAside(file: string, why: string): Promise<StateRead<never>> {
  const to = `${file}.damaged`;
  try {
    await fs.rename(file, to);
    await fsyncPath(path.dirname(file));
    return { kind: 'damaged', problem: EngineErrorText.stateFileDamaged(file, why), setAsideTo: to };
  } catch {
    return { kind: 'damaged', problem: EngineErrorText.stateFileDamaged(file, why) };
  }
}

/**
 * Runs async jobs one at a time in call order: a state change computes its new state, writes it, and only then makes
 * it current, with no other change in between (so a failed write leaves memory and disk agreeing on the old state).
 */
export class SerialQueue {
  private chain: Promise<unknown> = Promise.resolve();

  run<T>(job: () => Promise<T>): Promise<T> {
    const p = this.chain.then(job);
    this.chain = p.catch(() => undefined);
    return p;
  }
}

/**
 * The first handle to use when a state file holding a counter was damaged: the current time in milliseconds, which is
 * larger than any count a device reaches one at a time, so handles handed out before the damage are not reused.
 */
export function counterAfterDamage(now = Date.now()): number {
  return Math.max(1, Math.floor(now));
}
