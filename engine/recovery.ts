// Start-up recovery, run before the bus methods open: every unfinished task is rolled back or finished by its
// journal, staging leftovers are removed, and the volatile bus trees are made to match the apps on disk both ways.
import type { Layout } from '../layout/paths';
import path from 'node:path';
import { journalDir, readJournals, type JournalRecord } from './journal';
import { finish, rollback, orphanStagings, stagingRoot } from './package-switch';
import { ErrorText } from '../status-codes';
import { removeTreeDurable } from './durable-fs';
import { isPackageTarget, isSafeName, listPackages } from './package-db';
import { reconcileBusTree, type HubManifests } from './bus-file-sync';
import { firmwareJournalProblem, isFirmwareTarget } from './firmware-db';

/** Returns one line per thing it did, for the log. */
export async function recover(layout: Layout, hub: HubManifests | null): Promise<string[]> {
  const done: string[] = [];
  const { records: read, errors } = await readJournals(layout.installerState);
  for (const e of errors) done.push(`unreadable journal left in place: ${e}`);
  // A record acts only inside the staging folders and on paths a package owns: anything else is refused whole.
  const records: JournalRecord[] = [];
  for (const rec of read) {
    const why = journalProblem(layout, rec);
    if (why === null) { records.push(rec); continue; }
    errors.push(why);
    done.push(`journal of task ${JSON.stringify(rec.taskId)} refused (left in ${journalDir(layout.installerState)}, nothing of it done): ${why}`);
  }
  for (const rec of records) {
    if (rec.phase === 'committed') {
      await finish(layout.installerState, rec);
      done.push(`finished ${rec.op} of ${rec.packageId} (task ${rec.taskId}, committed before the restart)`);
    } else {
      await rollback(layout.installerState, rec);
      done.push(`rolled back ${rec.op} of ${rec.packageId} (task ${rec.taskId}, ${rec.phase} at the restart)`);
    }
  }
  const known = new Set(records.map((r) => r.staging));
  // An unreadable journal may own a staging directory (with an old version in it): then no staging is swept.
  for (const root of errors.length ? [] : [layout.verifiedApps, layout.developerApps, layout.firmware]) {
    for (const orphan of await orphanStagings(root.base, known)) {
      await removeTreeDurable(orphan);
      done.push(`removed staging leftover ${orphan}`);
    }
  }
  for (const [root, tree, developer] of [
    [layout.verifiedApps, layout.volatileBus, false],
    [layout.developerApps, layout.volatileDevBus, true],
  ] as const) {
    const all = await listPackages(root, developer, { damaged: true });
    for (const p of all) if (p.damaged) done.push(`${p.packageId} under ${p.base}: ${ErrorText.DAMAGED_RECORD}: ${p.damaged}`);
    const pkgs = all.filter((p) => !p.damaged);
    done.push(...(await reconcileBusTree(pkgs, tree, layout.root, hub)));
  }
  return done;
}

const PHASES = ['begun', 'staged', 'committed', 'rolling-back'];

/**
 * What is wrong with a journal record, or null: recovery deletes and moves only what a record of ours can name, its
 * own staging folder (<app root>/.appinstalld-staging/<task id>) in one of the two app roots and the paths its package
 * owns there (package-db.ts isPackageTarget), so a damaged or planted record never makes it touch anything else.
 */
export function journalProblem(layout: Layout, rec: JournalRecord): string | null {
  const r = rec as unknown as Record<string, unknown>;
  if (typeof r.taskId !== 'string' || !isSafeName(r.taskId)) return `task id ${JSON.stringify(r.taskId)} is not a plain name`;
  if (r.op !== 'install' && r.op !== 'remove') return `op ${JSON.stringify(r.op)} is neither install nor remove`;
  if (!PHASES.includes(r.phase as string)) return `phase ${JSON.stringify(r.phase)} is unknown`;
  if (r.firmware === true) {
    const why = firmwareJournalProblem(rec);
    return why ?? placementProblem(rec, layout.firmware.base, (rel) => isFirmwareTarget(String(r.packageId), rel), `firmware ${r.packageId}`);
  }
  if (typeof r.packageId !== 'string' || !isSafeName(r.packageId)) return `package id ${JSON.stringify(r.packageId)} is not a plain name`;
  if (typeof r.developer !== 'boolean') return '"developer" is not a boolean';
  const appRoot = r.developer ? layout.developerApps.base : layout.verifiedApps.base;
  return placementProblem(rec, appRoot, (rel) => isPackageTarget(String(r.packageId), rel), `package ${r.packageId}`);
}

/** Where a record acts: its root must be `base`, its staging folder <base>/.appinstalld-staging/<task id>, and each
 *  target a path `owns` accepts (of `owner`), with both of its flags. */
function placementProblem(rec: JournalRecord, base: string, owns: (rel: unknown) => boolean, owner: string): string | null {
  const r = rec as unknown as Record<string, unknown>;
  if (r.appRoot !== base) return `root ${JSON.stringify(r.appRoot)} is not ${base}`;
  const staging = path.join(stagingRoot(base), String(r.taskId));
  if (r.staging !== staging) return `staging ${JSON.stringify(r.staging)} is not ${staging}`;
  for (const t of rec.targets as unknown[]) {
    const target = t as Record<string, unknown> | null;
    if (!target || !owns(target.rel)) return `target ${JSON.stringify(target?.rel ?? t)} is not a path ${owner} owns`;
    if (typeof target.existedBefore !== 'boolean' || typeof target.inNew !== 'boolean') return `target ${target.rel} lacks existedBefore/inNew`;
  }
  return null;
}
