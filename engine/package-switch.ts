// Moving a package's trees between staging and the live app root by renames, driven by the journal so that each
// operation is idempotent: run it again after a crash and it ends in the same place. Used by the steps and by recovery.
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { exists, renameDurable, removeTreeDurable, fsyncPath } from './durable-fs';
import { writeJournal, deleteJournal, type JournalRecord, type JournalTarget } from './journal';
import { faultPoint } from './fault-points';
import { CodedError, ErrorCode, ErrorText } from '../status-codes';

export const STAGING_DIRNAME = '.appinstalld-staging';

export function stagingRoot(appRoot: string): string {
  return path.join(appRoot, STAGING_DIRNAME);
}

function livePath(rec: JournalRecord, t: JournalTarget): string {
  return path.join(rec.appRoot, t.rel);
}
function oldPath(rec: JournalRecord, t: JournalTarget): string {
  return path.join(rec.staging, 'old', t.rel);
}
export function newPath(rec: JournalRecord, rel: string): string {
  return path.join(rec.staging, 'new', rel);
}

/** Install switch: old targets aside, new ones into place (database files last), all durable. Does not commit. */
export async function switchIn(rec: JournalRecord): Promise<void> {
  for (const t of rec.targets) {
    if (t.existedBefore && (await exists(livePath(rec, t))) && !(await exists(oldPath(rec, t)))) {
      await renameDurable(livePath(rec, t), oldPath(rec, t));
      faultPoint('install.moved-aside');
    }
  }
  for (const t of rec.targets) {
    if (t.inNew && (await exists(newPath(rec, t.rel)))) {
      // Every old target is aside by now: anything here was put by another package's task since ours checked.
      if (await exists(livePath(rec, t))) throw new CodedError(ErrorCode.INSTALL_FAILED, ErrorText.FAILED_IPKG_INSTALL, `${t.rel} already exists and belongs to another package`);
      await renameDurable(newPath(rec, t.rel), livePath(rec, t));
      faultPoint('install.placed');
    }
  }
}

/** Remove: every target aside into staging/old (database files first, so the package leaves the database first). */
export async function moveAside(rec: JournalRecord): Promise<void> {
  for (const t of rec.targets) {
    if ((await exists(livePath(rec, t))) && !(await exists(oldPath(rec, t)))) {
      await renameDurable(livePath(rec, t), oldPath(rec, t));
      faultPoint('remove.moved-aside');
    }
  }
}

/** Marks the task committed: from here recovery finishes it instead of rolling it back. */
export async function commit(installerState: string, rec: JournalRecord): Promise<JournalRecord> {
  const next: JournalRecord = { ...rec, phase: 'committed' };
  await writeJournal(installerState, next);
  return next;
}

/**
 * Undoes an uncommitted task: each target moved aside comes back, each new one placed goes away; then staging and the
 * journal are deleted. Safe to run again at any point (a crash in the middle is finished by recovery).
 */
export async function rollback(installerState: string, rec: JournalRecord): Promise<void> {
  if (rec.phase === 'committed') throw new Error(`task ${rec.taskId} is committed; it can only be finished`);
  for (const t of [...rec.targets].reverse()) {
    const live = livePath(rec, t);
    if (await exists(oldPath(rec, t))) {
      await removeTreeDurable(live);
      await renameDurable(oldPath(rec, t), live);
      faultPoint('rollback.restored');
    } else if (t.inNew && !t.existedBefore && !(await exists(newPath(rec, t.rel)))) {
      await removeTreeDurable(live); // placed by us (its staged copy is gone), never anyone else's
    }
  }
  await removeTreeDurable(rec.staging);
  await deleteJournal(installerState, rec.taskId);
}

/** Finishes a committed task: the old versions kept in staging and the journal go. */
export async function finish(installerState: string, rec: JournalRecord): Promise<void> {
  await removeTreeDurable(rec.staging);
  faultPoint(rec.op === 'install' ? 'install.cleaned' : 'remove.cleaned');
  await deleteJournal(installerState, rec.taskId);
}

/** Staging directories no journal refers to (a crash before the journal existed, or after it was deleted). */
export async function orphanStagings(appRoot: string, known: Set<string>): Promise<string[]> {
  const dir = stagingRoot(appRoot);
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  return names.map((n) => path.join(dir, n)).filter((p) => !known.has(p));
}

export { fsyncPath };
