// App locks (Thunder PackageManager `lock`/`unlock`/`getLockInfo`): a locked app must not be removed or upgraded; the
// lock names a reason and an owner and survives a restart. Not the webOS applicationManager lockApp (a separate, older
// mechanism) and not a check that the app is installed: the front-end asks the installed set before locking.
import path from 'node:path';
import { EngineErrorCode, EngineErrorText } from '../status-codes/engine';
import { PACKAGE_ID_RE } from '../ipk/control';
import { Checked, counterAfterDamage, readJsonState, removeStaleTemps, SerialQueue, writeStateFile } from './state-file';
import { checkText, fail, ok, Result } from './result';

export const MAX_LOCKS = 1024;
export const MAX_ID_LENGTH = 255;
export const MAX_REASON_LENGTH = 256;
export const MAX_OWNER_LENGTH = 128;
/** The lock file is bounded by the counts above (a record is well under 1 KiB). */
const MAX_FILE_BYTES = MAX_LOCKS * 1024 + 4096;

export interface LockInfo {
  readonly reason: string;
  readonly owner: string;
}

export interface LockRecord extends LockInfo {
  readonly handle: string;
  readonly id: string;
  /** ISO 8601 time the lock was taken. */
  readonly time: string;
}

/** Everything the lock file holds: the locks and the next handle number (so handles are never reused). */
export interface LockState {
  readonly nextHandle: number;
  readonly locks: readonly LockRecord[];
}

export const EMPTY_LOCKS: LockState = { nextHandle: 1, locks: [] };

/** An app id as the engine accepts it (ipk/control.ts PACKAGE_ID_RE, bounded). */
export function checkAppId(id: unknown): Result<string> {
  const t = checkText('id', id, MAX_ID_LENGTH);
  if (!t.ok) return t;
  if (!PACKAGE_ID_RE.test(t.value)) return fail(EngineErrorCode.WRONG_PARAMS, EngineErrorText.fieldBad('id', 'is not a valid package id (allowed: a-z 0-9 . + -)'));
  return t;
}

/** Pure: the state with `id` locked, and the new lock's handle; or why not. */
export function addLock(state: LockState, id: unknown, reason: unknown, owner: unknown, now: Date): Result<{ state: LockState; handle: string }> {
  const i = checkAppId(id);
  if (!i.ok) return i;
  const r = checkText('reason', reason, MAX_REASON_LENGTH);
  if (!r.ok) return r;
  const o = checkText('owner', owner, MAX_OWNER_LENGTH);
  if (!o.ok) return o;
  const held = state.locks.find((l) => l.id === i.value);
  if (held) return fail(EngineErrorCode.APP_LOCKED, EngineErrorText.appLocked(held.id, held.reason, held.owner));
  if (state.locks.length >= MAX_LOCKS) return fail(EngineErrorCode.TOO_MANY, EngineErrorText.tooManyLocks(MAX_LOCKS));
  const handle = String(state.nextHandle);
  const rec: LockRecord = { handle, id: i.value, reason: r.value, owner: o.value, time: now.toISOString() };
  return ok({ state: { nextHandle: state.nextHandle + 1, locks: [...state.locks, rec] }, handle });
}

/** Pure: the state without the lock `handle`; or WRONG_HANDLE. */
export function removeLock(state: LockState, handle: unknown): Result<LockState> {
  const h = checkText('handle', handle, 32);
  if (!h.ok) return h;
  const idx = state.locks.findIndex((l) => l.handle === h.value);
  if (idx < 0) return fail(EngineErrorCode.WRONG_HANDLE, EngineErrorText.noSuchLock(h.value));
  return ok({ nextHandle: state.nextHandle, locks: state.locks.filter((_, k) => k !== idx) });
}

/** Pure: the shape check of a lock file's JSON. */
export function checkLockState(json: unknown): Checked<LockState> {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return { problem: 'not a JSON object' };
  const { nextHandle, locks } = json as Record<string, unknown>;
  if (!Number.isSafeInteger(nextHandle) || (nextHandle as number) < 1) return { problem: 'nextHandle is not a positive integer' };
  if (!Array.isArray(locks) || locks.length > MAX_LOCKS) return { problem: `locks is not a list of at most ${MAX_LOCKS}` };
  const seenIds = new Set<string>();
  const seenHandles = new Set<string>();
  const out: LockRecord[] = [];
  for (const l of locks) {
    const rec = l as Record<string, unknown>;
    if (!rec || typeof rec !== 'object') return { problem: 'a lock is not an object' };
    const ok1 = checkAppId(rec.id).ok && checkText('reason', rec.reason, MAX_REASON_LENGTH).ok && checkText('owner', rec.owner, MAX_OWNER_LENGTH).ok;
    const h = rec.handle;
    if (!ok1 || typeof h !== 'string' || !/^[1-9][0-9]{0,15}$/.test(h) || Number(h) >= (nextHandle as number) || typeof rec.time !== 'string' || rec.time.length > 40) {
      return { problem: `lock ${JSON.stringify(rec).slice(0, 120)} is not a valid lock record` };
    }
    if (seenIds.has(rec.id as string) || seenHandles.has(h)) return { problem: `lock of ${String(rec.id)} appears twice` };
    seenIds.add(rec.id as string);
    seenHandles.add(h);
    out.push({ handle: h, id: rec.id as string, reason: rec.reason as string, owner: rec.owner as string, time: rec.time });
  }
  return { value: { nextHandle: nextHandle as number, locks: out } };
}

/** The lock table of a state directory (`<stateDir>/locks.json`): reads are synchronous, changes durable before they answer. */
export class Locks {
  private readonly queue = new SerialQueue();

  private constructor(readonly file: string, private state: LockState) {}

  /** Loads the lock file; a damaged one is set aside and reported in `problem` (its locks are then lost, and said so). */
  static async open(stateDir: string): Promise<{ locks: Locks; problem?: string }> {
    const file = path.join(stateDir, 'locks.json');
    await removeStaleTemps(file);
    const read = await readJsonState(file, MAX_FILE_BYTES, checkLockState);
    if (read.kind === 'ok') return { locks: new Locks(file, read.value) };
    if (read.kind === 'absent') return { locks: new Locks(file, EMPTY_LOCKS) };
    const locks = new Locks(file, { nextHandle: counterAfterDamage(), locks: [] });
    await locks.queue.run(() => writeStateFile(file, JSON.stringify(locks.state)));
    return { locks, problem: read.problem };
  }

  /** Locks `id`; a second lock of a locked app is APP_LOCKED naming the holder's reason and owner. */
  lock(id: unknown, reason: unknown, owner: unknown): Promise<Result<{ handle: string }>> {
    return this.queue.run(async () => {
      const r = addLock(this.state, id, reason, owner, new Date());
      if (!r.ok) return r;
      await writeStateFile(this.file, JSON.stringify(r.value.state));
      this.state = r.value.state;
      return ok({ handle: r.value.handle });
    });
  }

  /** Unlocks by handle; an unknown handle is WRONG_HANDLE. */
  unlock(handle: unknown): Promise<Result<void>> {
    return this.queue.run(async () => {
      const r = removeLock(this.state, handle);
      if (!r.ok) return r;
      await writeStateFile(this.file, JSON.stringify(r.value));
      this.state = r.value;
      return ok(undefined);
    });
  }

  /** The lock of `id` (reason, owner, handle, time); NOT_LOCKED when there is none. */
  getLockInfo(id: unknown): Result<LockRecord> {
    const i = checkAppId(id);
    if (!i.ok) return i;
    const l = this.state.locks.find((x) => x.id === i.value);
    return l ? ok(l) : fail(EngineErrorCode.NOT_LOCKED, EngineErrorText.notLocked(i.value));
  }

  isLocked(id: string): boolean {
    return this.state.locks.some((l) => l.id === id);
  }

  /** For remove and upgrade: `ok` when `id` is not locked, else APP_LOCKED naming the reason and the owner. */
  checkNotLocked(id: string): Result<void> {
    const l = this.state.locks.find((x) => x.id === id);
    return l ? fail(EngineErrorCode.APP_LOCKED, EngineErrorText.appLocked(l.id, l.reason, l.owner)) : ok(undefined);
  }

  list(): readonly LockRecord[] {
    return this.state.locks;
  }
}
