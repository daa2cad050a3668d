// The kernel's word on who is connected: SO_PEERCRED (pid, uid, gid) via the project's native addon, plus
// the executable from /proc/<pid>/exe. Not what that identity may do: that is the policy's (acg/) decision.
import fs from 'node:fs';
import path from 'node:path';
import type { Socket } from 'node:net';
import type { PeerIdentity } from './protocol';

/**
 * Fail closed: when the credentials cannot be read, the peer is treated as this identity, the
 * least privileged one: uid/gid of "nobody" (65534), no pid (0), no executable. With no executable no
 * role matches, and with uid nobody no uid-based privilege applies, so the policy grants it nothing
 * beyond what any unknown peer gets.
 */
export const UNKNOWN_PEER: Readonly<PeerIdentity> = Object.freeze({ pid: 0, uid: 65534, gid: 65534, exe: null });

const ADDON_RELATIVE = path.join('build', 'Release', 'peer_credentials.node');

interface Addon {
  peerCredentials(fd: number): { pid: number; uid: number; gid: number };
  tryLockExclusive(fd: number): boolean;
}

let addon: Addon | null | undefined;
let addonError: string | null = null;

/** Find the repo root by walking up from this file (ipc/ when run from source, dist/ipc/ when built). */
function findAddon(): string | null {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, ADDON_RELATIVE);
    if (fs.existsSync(candidate)) return candidate;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return null;
}

function loadAddon(): Addon | null {
  if (addon !== undefined) return addon;
  const file = findAddon();
  if (!file) {
    addonError = `native addon ${ADDON_RELATIVE} not found above ${__dirname} (run npm ci)`;
    addon = null;
    return addon;
  }
  try {
    addon = require(file) as Addon;
  } catch (e) {
    addonError = `cannot load ${file}: ${(e as Error).message}`;
    addon = null;
  }
  return addon;
}

/** Why credentials cannot be read at all (addon missing or broken), or null when the addon is loaded. */
export function peerCredentialsUnavailable(): string | null {
  loadAddon();
  return addonError;
}

/** SO_PEERCRED of a connected Unix socket fd. Throws when the addon is missing or the kernel refuses. */
export function readPeerCredentials(fd: number): { pid: number; uid: number; gid: number } {
  const a = loadAddon();
  if (!a) throw new Error(addonError ?? 'peer credentials unavailable');
  return a.peerCredentials(fd);
}

/** flock(fd, LOCK_EX|LOCK_NB) through the addon: true when taken, false when another holder has it. Throws when the addon is missing. */
export function tryLockExclusive(fd: number): boolean {
  const a = loadAddon();
  if (!a) throw new Error(addonError ?? 'native addon unavailable');
  return a.tryLockExclusive(fd);
}

/** The executable of a process, or null when it cannot be read (gone, or not ours to see). */
export function exeOf(pid: number): string | null {
  if (!(pid > 0)) return null;
  try {
    return fs.readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return null;
  }
}

/**
 * Identity of the peer of an accepted socket, read once at accept time (a small sync readlink on
 * /proc, off the per-message path). Any failure gives UNKNOWN_PEER (fail closed); `onFailure` hears why.
 */
export function peerIdentity(socket: Socket, onFailure?: (why: string) => void): PeerIdentity {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) {
    onFailure?.('socket has no file descriptor');
    return { ...UNKNOWN_PEER };
  }
  let cred: { pid: number; uid: number; gid: number };
  try {
    cred = readPeerCredentials(fd);
  } catch (e) {
    onFailure?.((e as Error).message);
    return { ...UNKNOWN_PEER };
  }
  return { pid: cred.pid, uid: cred.uid, gid: cred.gid, exe: exeOf(cred.pid) };
}
