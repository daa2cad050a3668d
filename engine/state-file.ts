// Small state files kept across crashes (operations, locks, aux metadata, the download manager's tickets): written whole
// by durable-fs.ts's one durable writer with root-only modes, changes to one file strictly in order, bounded reads that
// set a damaged file aside instead of crashing. Not a database: whole-file rewrites only.
import { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';
import { EngineErrorText } from '../status-codes/engine';
import { fsyncPath, mkdirDurable, tempPrefix, writeFileDurable } from './durable-fs';

/** Replaces a state file whole and durably (durable-fs.ts writeFileDurable): root-only, in a root-only directory. */
export function writeStateFile(file: string, data: string | Buffer): Promise<void> {
  return writeFileDurable(file, data, 0o600, 0o700);
}

/** Makes a state directory (and parents) durably, root-only. */
export function ensureStateDir(dir: string): Promise<void> {
  return mkdirDurable(dir, 0o700);
}

/** Removes the temp files writeStateFile left beside `file` when a process died mid-write (call before first use). */
export async function removeStaleTemps(file: string): Promise<number> {
  const prefix = tempPrefix(file);
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
