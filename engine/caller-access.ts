// Whether a caller could read a file itself, decided the way the kernel decides for that caller: search permission
// on every directory the path resolves through (symlinks followed as the kernel follows them, `..` taken
// physically) and read permission on the file, for the caller's uid, primary gid and supplementary groups (from
// /proc/<pid>/status). The root daemon opens the file itself, once; this check is then made against the very inode
// it opened (same device and inode), so swapping the path after the check gains nothing. ACLs and LSMs are not
// consulted: a file that only an ACL entry opens to the caller is refused (fail closed), see README "Security".
import fs from 'node:fs';
import path from 'node:path';
import { CodedError, ErrorCode, ErrorText } from '../status-codes';

export interface Caller {
  uid: number;
  gid: number;
  /** Supplementary groups; absent or empty when they could not be read (fewer rights, never more). */
  groups?: number[];
}

const MAX_SYMLINKS = 40; // the kernel's limit (ELOOP)

/** The caller's supplementary groups from /proc/<pid>/status, only when that process still has the caller's uid and gid. */
export function callerFromPeer(peer: { pid: number; uid: number; gid: number }): Caller {
  const caller: Caller = { uid: peer.uid, gid: peer.gid };
  if (!(peer.pid > 0) || peer.uid === 0) return caller;
  try {
    const status = fs.readFileSync(`/proc/${peer.pid}/status`, 'latin1');
    const ids = (key: string) => (new RegExp(`^${key}:([^\\n]*)$`, 'm').exec(status)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
    const [, euid, , fsuid] = ids('Uid');
    const [, egid, , fsgid] = ids('Gid');
    // A pid reused by another process, or one that changed identity since it connected: its groups are not the caller's.
    if (euid === peer.uid && fsuid === peer.uid && egid === peer.gid && fsgid === peer.gid) caller.groups = ids('Groups').filter((g) => Number.isInteger(g));
  } catch {
    /* gone: primary gid only */
  }
  return caller;
}

/** Pure: does this owner/mode grant `bit` (4 read, 1 search/execute) to the caller? Root may read and search anything. */
export function mayAccess(st: { uid: number; gid: number; mode: number }, who: Caller, bit: 4 | 1): boolean {
  if (who.uid === 0) return true;
  if (st.uid === who.uid) return ((st.mode >> 6) & bit) !== 0;
  if (st.gid === who.gid || (who.groups ?? []).includes(st.gid)) return ((st.mode >> 3) & bit) !== 0;
  return (st.mode & bit) !== 0;
}

function refuse(file: string, why: string): CodedError {
  return new CodedError(ErrorCode.INVALID_PARAMETER, ErrorText.INVALID_IPKURL, `${file}: ${why}`);
}

/**
 * Resolves `file` (absolute) component by component as the caller would and returns the stat of what it reaches
 * (lstat of a non-symlink). Throws CodedError(-2, invalid ipkUrl) naming the first directory the caller cannot search,
 * a missing component, a symlink loop, or a final file the caller cannot read or that is not a regular file.
 */
export function reachableBy(file: string, who: Caller): fs.Stats {
  const queue = file.split('/');
  let cur = '/';
  let links = 0;
  for (;;) {
    while (queue.length && (queue[0] === '' || queue[0] === '.')) queue.shift();
    if (!queue.length) break;
    const name = queue.shift()!;
    let dirSt: fs.Stats;
    try {
      dirSt = fs.statSync(cur);
    } catch (e) {
      throw refuse(file, `${cur}: ${(e as NodeJS.ErrnoException).code ?? 'cannot stat'}`);
    }
    if (!dirSt.isDirectory()) throw refuse(file, `${cur} is not a directory`);
    if (!mayAccess(dirSt, who, 1)) throw refuse(file, `directory ${cur} is not searchable by uid ${who.uid}`);
    if (name === '..') {
      cur = path.dirname(cur);
      continue;
    }
    const next = path.join(cur, name);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(next);
    } catch (e) {
      throw refuse(file, `${next}: ${(e as NodeJS.ErrnoException).code ?? 'cannot stat'}`);
    }
    if (st.isSymbolicLink()) {
      if (++links > MAX_SYMLINKS) throw refuse(file, 'too many levels of symbolic links');
      const target = fs.readlinkSync(next);
      if (target.startsWith('/')) cur = '/';
      queue.unshift(...target.split('/'));
      continue;
    }
    if (queue.some((p) => p !== '' && p !== '.')) {
      cur = next;
      continue;
    }
    if (!st.isFile()) throw refuse(file, 'not a regular file');
    if (!mayAccess(st, who, 4)) throw refuse(file, `not readable by uid ${who.uid}`);
    return st;
  }
  throw refuse(file, 'not a regular file');
}

/** The file the daemon opened (`opened`, its fstat) is the one the caller reaches at `file` now, and readable by it. */
export function checkOpenedFor(file: string, opened: fs.Stats, who: Caller): void {
  if (!opened.isFile()) throw refuse(file, 'not a regular file');
  if (who.uid === 0) return;
  const st = reachableBy(file, who);
  if (st.dev !== opened.dev || st.ino !== opened.ino) throw refuse(file, 'the path changed while it was being opened');
  if (!mayAccess(opened, who, 4)) throw refuse(file, `not readable by uid ${who.uid}`);
}
