// Start-up recovery, run before the bus methods open: every unfinished task is rolled back or finished by its
// journal, staging leftovers are removed, and the volatile bus trees are made to match the apps on disk both ways.
import type { Layout } from '../../ipc/paths';
import { readJournals } from './journal';
import { finish, rollback, orphanStagings } from './package-switch';
import { removeTreeDurable } from './durable-fs';
import { listPackages } from './package-db';
import { reconcileBusTree, type HubManifests } from './bus-file-sync';

/** Returns one line per thing it did, for the log. */
export async function recover(layout: Layout, hub: HubManifests | null): Promise<string[]> {
  const done: string[] = [];
  const { records, errors } = await readJournals(layout.installerState);
  for (const e of errors) done.push(`unreadable journal left in place: ${e}`);
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
  for (const root of errors.length ? [] : [layout.verifiedApps, layout.developerApps]) {
    for (const orphan of await orphanStagings(root.base, known)) {
      await removeTreeDurable(orphan);
      done.push(`removed staging leftover ${orphan}`);
    }
  }
  for (const [root, tree, developer] of [
    [layout.verifiedApps, layout.volatileBus, false],
    [layout.developerApps, layout.volatileDevBus, true],
  ] as const) {
    const pkgs = await listPackages(root, developer);
    done.push(...(await reconcileBusTree(pkgs, tree, layout.root, hub)));
  }
  return done;
}
