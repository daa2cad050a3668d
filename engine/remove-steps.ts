// The remove as a table of steps: close app, prepare (journal), bus files, move the package aside + commit, delete data
// (on the bus: docs/appinstall.md stages 32 … 31, services/appinstall/stage-map.ts). Each work and undo is safe to run
// twice; steps.ts runs the table.
import path from 'node:path';
import { CodedError, ErrorCode, ErrorText } from '../status-codes';
import type { Step } from './steps';
import type { TaskContext } from './task-context';
import { appDataRel, dbFiles, isPackageTarget, readPackageRecord } from './package-db';
import { exists } from './durable-fs';
import { writeJournal } from './journal';
import { commit, finish, moveAside, stagingRoot } from './package-switch';
import { removePackageBusFiles } from './bus-file-sync';
import { rollbackUncommitted } from './install-steps';
import { faultPoint } from './fault-points';
import { releaseSpaceReserveIfLow } from './space-reserve';

/** Remove failures are -7 FAILED_REMOVE with the specific cause as detail (docs/appinstall.md). */
const failed = (cause: string, detail?: string) => new CodedError(ErrorCode.REMOVE_FAILED, ErrorText.FAILED_REMOVE, detail ? `${cause}: ${detail}` : cause);

function packageIdOf(ctx: TaskContext): string {
  if (!ctx.packageId) throw new Error('internal: no package id');
  return ctx.packageId;
}

export const REMOVE_STEPS: readonly Step<TaskContext>[] = [
  {
    name: 'close-app',
    async work(ctx) {
      const packageId = packageIdOf(ctx);
      const pkg = await readPackageRecord(ctx.appRoot.base, packageId, ctx.req.developer);
      for (const app of pkg?.apps ?? [{ id: packageId }]) {
        if ((await ctx.env.appManager.closeApp(app.id)) === 'locked') throw failed(ErrorText.APP_LOCKED, app.id);
      }
    },
  },
  {
    name: 'prepare',
    async work(ctx) {
      const packageId = packageIdOf(ctx);
      // A damaged record is removed too (that is how it is repaired): only what it may own, see package-db.ts.
      const pkg = await readPackageRecord(ctx.appRoot.base, packageId, ctx.req.developer);
      if (!pkg) throw failed(ErrorText.NO_SUCH_ID, packageId);
      if (pkg.damaged) ctx.env.log(`remove ${packageId}: ${pkg.base}: ${ErrorText.DAMAGED_RECORD}: ${pkg.damaged}; removing what it owns`);
      ctx.before = pkg;
      const db = dbFiles(packageId);
      // Database files first: the package leaves the database before its files do.
      const rels = [db.control, db.list, ...pkg.targets.filter((r) => r !== db.control && r !== db.list)];
      for (const appId of new Set([...pkg.apps.map((a) => a.id), ...(pkg.damaged ? [packageId] : [])])) {
        const rel = appDataRel(appId);
        if (isPackageTarget(packageId, rel) && (await exists(path.join(pkg.base, rel)))) rels.push(rel);
      }
      ctx.journal = {
        taskId: ctx.req.taskId, op: 'remove', phase: 'begun', packageId, appRoot: ctx.appRoot.base, developer: ctx.req.developer,
        staging: path.join(stagingRoot(ctx.appRoot.base), ctx.req.taskId),
        targets: rels.map((rel) => ({ rel, existedBefore: true, inNew: false })),
      };
      // On a full disk the remove must still run (it is how space is freed): the space reserve makes room for its records.
      if (await releaseSpaceReserveIfLow(ctx.env.layout.installerState, ctx.appRoot.base)) ctx.env.log(`remove ${packageId}: disk nearly full, space reserve released`);
      await writeJournal(ctx.env.layout.installerState, ctx.journal);
      faultPoint('remove.begun');
    },
    /** Brings back whatever was moved aside and the bus files (a remove that failed leaves the app installed). */
    undo: rollbackUncommitted,
  },
  {
    name: 'bus-files',
    async work(ctx) {
      await removePackageBusFiles(packageIdOf(ctx), ctx.busTree, ctx.env.root, ctx.env.hub);
      faultPoint('remove.bus-files');
    },
  },
  {
    name: 'remove-ipk',
    async work(ctx) {
      if (!ctx.journal) throw new Error('internal: no journal');
      await moveAside(ctx.journal);
      ctx.journal = await commit(ctx.env.layout.installerState, ctx.journal);
      faultPoint('remove.committed');
    },
  },
  {
    name: 'remove-data',
    async work(ctx) {
      try {
        if (ctx.journal) await finish(ctx.env.layout.installerState, ctx.journal);
      } catch (e) {
        ctx.env.log(`remove ${ctx.packageId}: cleanup left for recovery: ${(e as Error).message}`);
      }
    },
  },
];
