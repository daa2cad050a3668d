// Room for a remove on a full disk: a small file of real blocks, <installerState>/space-reserve, kept while there is
// space. A remove that finds the disk nearly full deletes it first, so its journal records (a few KB) can be written;
// the remove then frees the package's own space and the reserve is made again after the task, when there is room.
// Installs never use it: a full disk fails them with -3 as before.
import { promises as fs } from 'node:fs';
import path from 'node:path';

export const SPACE_RESERVE_BYTES = 256 * 1024;

export function reservePath(installerState: string): string {
  return path.join(installerState, 'space-reserve');
}

async function freeBytes(dir: string): Promise<number> {
  const st = await fs.statfs(dir);
  return Number(st.bavail) * Number(st.bsize);
}

/** Best effort: (re)creates the reserve when it is missing or short; on a full disk it simply stays missing. */
export async function ensureSpaceReserve(installerState: string): Promise<void> {
  const file = reservePath(installerState);
  try {
    if ((await fs.stat(file)).size >= SPACE_RESERVE_BYTES) return;
  } catch {
    /* absent: made below */
  }
  const tmp = `${file}.new`; // a leftover of a crash mid-write is simply overwritten
  try {
    await fs.mkdir(installerState, { recursive: true });
    await fs.writeFile(tmp, Buffer.alloc(SPACE_RESERVE_BYTES, 0x5a), { mode: 0o600 });
    await fs.rename(tmp, file);
  } catch {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
  }
}

/** Before a remove writes anything: when less than twice the reserve is free where it writes, the reserve goes. */
export async function releaseSpaceReserveIfLow(installerState: string, appRoot: string): Promise<boolean> {
  let low = false;
  for (const dir of [installerState, appRoot]) {
    try {
      if ((await freeBytes(dir)) < 2 * SPACE_RESERVE_BYTES) low = true;
    } catch {
      /* not there yet: nothing to judge */
    }
  }
  if (!low) return false;
  try {
    await fs.unlink(reservePath(installerState));
    return true;
  } catch {
    return false;
  }
}
