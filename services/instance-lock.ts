// One daemon per root: an exclusive flock(2) on <root>/var/run/appinstalld.lock, taken before anything reads or
// changes state (recovery, hub socket, journal) and held by an open descriptor for the life of the process. The
// kernel drops it when the process dies, also by kill -9, so a stale file never blocks a start; the pid written
// into it only names the holder in the refusal. Used by daemon-cli.ts for both entry points (main.ts, appinstalld.ts).
import fs from 'node:fs';
import path from 'node:path';
import { CodedError, ErrorCode, ErrorText } from '../status-codes';
import { tryLockExclusive } from '../ipc/peer-credentials';

export function instanceLockPath(root: string): string {
  return path.join(root, 'var/run/appinstalld.lock');
}

/** Takes the lock or throws CodedError(GENERAL, DAEMON_RUNNING) naming the root and the holder's pid. Never released
 *  explicitly: the descriptor (close-on-exec) lives as long as the process. */
export function takeInstanceLock(root: string): void {
  const file = instanceLockPath(root);
  let fd: number;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o644);
  } catch (e) {
    throw new CodedError(ErrorCode.GENERAL, `cannot open the single-instance lock ${file}`, (e as Error).message);
  }
  let taken: boolean;
  try {
    taken = tryLockExclusive(fd);
  } catch (e) {
    fs.closeSync(fd);
    throw new CodedError(ErrorCode.GENERAL, `cannot take the single-instance lock ${file}`, (e as Error).message);
  }
  if (!taken) {
    let holder = '';
    try {
      const pid = fs.readFileSync(file, 'utf8').trim().slice(0, 20);
      if (/^[0-9]+$/.test(pid)) holder = ` (pid ${pid})`;
    } catch {
      /* the pid is only for the message */
    }
    fs.closeSync(fd);
    throw new CodedError(ErrorCode.GENERAL, ErrorText.DAEMON_RUNNING, `${root}${holder}; this start changes nothing`);
  }
  fs.ftruncateSync(fd, 0);
  fs.writeSync(fd, `${process.pid}\n`, 0);
}
