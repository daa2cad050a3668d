// The installer's journal: one JSON record per unfinished task under <root>/var/lib/appinstalld/journal,
// each update written as a new file that is fsynced and renamed over the old one (never rewritten in place).
// What the phases mean for recovery lives in package-switch.ts and recovery.ts, not here.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { writeFileDurable, unlinkDurable } from './durable-fs';

/**
 * begun: staging created, live tree untouched (roll back = delete staging).
 * staged (install) / begun (remove): targets known; some may have been moved (roll back = restore).
 * committed: the switch is durable; finishing = delete the old versions kept in staging, sync bus files.
 * rolling-back: a rollback started; recovery finishes it.
 */
export type JournalPhase = 'begun' | 'staged' | 'committed' | 'rolling-back';

export interface JournalTarget {
  /** Path relative to the app root, e.g. "usr/palm/applications/com.example.hello". */
  rel: string;
  /** The old version has this path (it is moved aside into staging/old, and back on rollback). */
  existedBefore: boolean;
  /** The new version has this path (placed from staging/new; absent on remove). */
  inNew: boolean;
}

export interface JournalRecord {
  taskId: string;
  op: 'install' | 'remove';
  phase: JournalPhase;
  packageId: string;
  /** The app root (verified or developer) the task works in. */
  appRoot: string;
  developer: boolean;
  /** Staging directory (inside appRoot, so renames never cross a filesystem): new/ and old/ below it. */
  staging: string;
  /** Empty until the task knows them (install: after extraction). */
  targets: JournalTarget[];
  /** A firmware package's task: appRoot is the firmware root (firmware-db.ts), targets its paths there. */
  firmware?: boolean;
}

export function journalDir(installerState: string): string {
  return path.join(installerState, 'journal');
}

export function journalFile(installerState: string, taskId: string): string {
  return path.join(journalDir(installerState), `${taskId}.json`);
}

export async function writeJournal(installerState: string, rec: JournalRecord): Promise<void> {
  await writeFileDurable(journalFile(installerState, rec.taskId), JSON.stringify(rec, null, 1) + '\n', 0o600);
}

export async function deleteJournal(installerState: string, taskId: string): Promise<void> {
  await unlinkDurable(journalFile(installerState, taskId));
}

/** Every record left by unfinished tasks; unreadable records are returned as errors for the log (their files are kept). */
export async function readJournals(installerState: string): Promise<{ records: JournalRecord[]; errors: string[] }> {
  const dir = journalDir(installerState);
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], errors: [] };
    throw e;
  }
  const records: JournalRecord[] = [];
  const errors: string[] = [];
  for (const n of names.sort()) {
    const p = path.join(dir, n);
    if (n.startsWith('.') && n.includes('.tmp-')) {
      await fs.rm(p, { force: true }); // a journal update that never got renamed into place
      continue;
    }
    if (!n.endsWith('.json')) continue;
    try {
      const rec = JSON.parse(await fs.readFile(p, 'utf8')) as JournalRecord;
      if (!rec || typeof rec.taskId !== 'string' || typeof rec.staging !== 'string' || !Array.isArray(rec.targets)) throw new Error('missing fields');
      records.push(rec);
    } catch (e) {
      errors.push(`${p}: ${(e as Error).message}`);
    }
  }
  return { records, errors };
}
