// The install as a table of steps: parse, update check, close app, verify, prepare, unpack into staging, switch into
// place, bus files + commit, finish (on the bus: docs/appinstall.md stages 35 … 30, services/appinstall/stage-map.ts).
// Each work and undo is safe to run twice; the pipeline that runs the table is steps.ts, the crash-safe moves are
// package-switch.ts.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CodedError, ErrorCode, ErrorText } from '../status-codes';
import { openIpk } from '../ipk/ipk-reader';
import { checkDataSize, extractData } from '../ipk/extract';
import { APP_TREE, DEFAULT_LIMITS, treeShapeProblem } from '../ipk/entry-rules';
import { verifySignature } from '../ipk/signature';
import { formatControl } from '../ipk/control';
import type { Step } from './steps';
import type { TaskContext } from './task-context';
import { appRootOf } from './task-context';
import { classifyVersion } from './version-compare';
import { isPrivilegedName } from '../acg/namespaces';
import { checkOpenedFor } from './caller-access';
import { dbFiles, readPackage, readPackageRecord } from './package-db';
import { exists, isNoSpace, mkdirDurable, syncTree, writeFileDurable } from './durable-fs';
import { writeJournal, type JournalTarget } from './journal';
import { commit, finish, rollback, stagingRoot, switchIn } from './package-switch';
import { installPackageBusFiles, manifestPath, removePackageBusFiles } from './bus-file-sync';
import { faultPoint } from './fault-points';
import { checkDeveloperNames, checkNamesFree } from './package-names';

const failed = (text: string, detail?: string) => new CodedError(ErrorCode.INSTALL_FAILED, text, detail);

/** An I/O failure of the installer itself (not of the package, not a full disk) as the general error -1 with `text`. */
export async function generalOnIo<T>(text: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof CodedError || isNoSpace(e)) throw e;
    throw new CodedError(ErrorCode.GENERAL, text, (e as Error).message);
  }
}

function ipkOf(ctx: TaskContext) {
  if (!ctx.ipk || !ctx.packageId) throw new Error('internal: package not parsed');
  return { ipk: ctx.ipk, packageId: ctx.packageId };
}
function journalOf(ctx: TaskContext) {
  if (!ctx.journal) throw new Error('internal: no journal');
  return ctx.journal;
}

/**
 * The undo of an install's or a remove's first step: an uncommitted task's journal is rolled back (the app root
 * as it was) and the bus files made to match it. After the commit point there is nothing to undo.
 */
export async function rollbackUncommitted(ctx: TaskContext): Promise<void> {
  if (!ctx.journal || ctx.journal.phase === 'committed' || !ctx.packageId) return;
  await rollback(ctx.env.layout.installerState, ctx.journal);
  ctx.journal = undefined;
  await resyncPackageBusFiles(ctx, ctx.packageId);
}

/** Bus files to match what is on disk now for the task's package (after a rollback: the old version's, or none). */
export async function resyncPackageBusFiles(ctx: TaskContext, packageId: string): Promise<void> {
  const { env, appRoot, busTree, req } = ctx;
  const pkg = await readPackage(appRoot.base, packageId, req.developer);
  if (pkg) await installPackageBusFiles(pkg, busTree, env.root, env.hub);
  else await removePackageBusFiles(packageId, busTree, env.root, env.hub);
}

/** The top of an extracted tree (down to the <id> folders) checked again by the one tree-shape rule (ipk/entry-rules.ts). */
async function checkTreeShape(dir: string): Promise<void> {
  const walk = async (parts: string[]): Promise<void> => {
    for (const e of await fs.readdir(path.join(dir, ...parts), { withFileTypes: true }).catch(() => [])) {
      const p = [...parts, e.name];
      const why = treeShapeProblem(p, e.isDirectory(), APP_TREE, JSON.stringify(p.join('/')));
      if (why !== null) throw failed(ErrorText.EXTRACT_FAILED, why);
      if (e.isDirectory() && p.length < 3) await walk(p);
    }
  };
  await walk([]);
}

async function subdirs(p: string): Promise<string[]> {
  return (await fs.readdir(p, { withFileTypes: true }).catch(() => [])).filter((d) => d.isDirectory()).map((d) => d.name).sort();
}

export const INSTALL_STEPS: readonly Step<TaskContext>[] = [
  {
    name: 'parse',
    async work(ctx) {
      // Opened once, non-blocking (a FIFO or device swapped in never blocks a worker thread), and read only through
      // this handle from here on (verify, unpack). Before a byte is read, the opened inode must be a regular file that
      // the caller reaches and may read at that path itself (caller-access.ts); a path swapped after the request was
      // checked, or after this, changes nothing. The task's end closes it.
      const caller = ctx.req.caller;
      const source = ctx.req.source;
      const ipkPath = ctx.localIpk ?? (source && 'path' in source ? source.path : undefined);
      if (ipkPath === undefined) throw new Error('internal: an install without a package file');
      const ipk = await openIpk(ipkPath, {
        keepOpen: true,
        checkOpened: (st) => checkOpenedFor(ipkPath, st, caller ?? { uid: 0, gid: 0 }),
      });
      ctx.ipk = ipk;
      // Before any byte of data.tar.gz is hashed or inflated: a member far larger than its Installed-Size is refused.
      checkDataSize(ipk, { ...DEFAULT_LIMITS, ...ctx.env.config.extractLimits }, { memberOnly: true });
      const packageId = ipk.control.packageName;
      ctx.packageId = packageId;
      if (!ctx.req.developer && ctx.req.id !== packageId) {
        throw failed(ErrorText.APPID_WRONG, `request id "${ctx.req.id}" differs from the package "${packageId}"`);
      }
      if (ctx.req.developer && isPrivilegedName(packageId)) {
        throw new CodedError(ErrorCode.PRIVILEGED_INSTALL_IN_DEVMODE, ErrorText.PRIVILEGED_INSTALL_IN_DEVMODE, packageId);
      }
      if (!ctx.env.locks.acquire(packageId, ctx.req.taskId)) throw failed(ErrorText.DUPLICATE_COMMAND, `${ErrorText.PACKAGE_BUSY} (${packageId})`);
      return { packageId };
    },
  },
  {
    name: 'check-update',
    async work(ctx) {
      const { ipk, packageId } = ipkOf(ctx);
      const other = await readPackageRecord(appRootOf(ctx.env.layout, !ctx.req.developer).base, packageId, !ctx.req.developer);
      if (other?.damaged) {
        ctx.env.log(`install ${packageId}: ${other.base}: ${ErrorText.DAMAGED_RECORD}: ${other.damaged}`);
        throw failed(ErrorText.INSTALLED_ELSEWHERE, `${packageId} is installed under ${other.base}, and ${ErrorText.DAMAGED_RECORD} there (${other.damaged})`);
      }
      if (other) throw failed(ErrorText.INSTALLED_ELSEWHERE, `${packageId} ${other.version} is installed under ${other.base}`);
      ctx.before = await readPackageRecord(ctx.appRoot.base, packageId, ctx.req.developer);
      // A damaged record of this package is repaired by this install: it replaces whatever the record may own.
      if (ctx.before?.damaged) ctx.env.log(`install ${packageId}: ${ctx.before.base}: ${ErrorText.DAMAGED_RECORD}: ${ctx.before.damaged}; this install replaces it`);
      const change = ctx.before?.damaged ? 'reinstall' : classifyVersion(ctx.before?.version, ipk.control.version);
      if (change === 'downgrade' && ctx.req.allowDowngrade !== true) {
        throw failed(ErrorText.DOWNGRADE_REFUSED, `installed ${ctx.before?.version}, package ${ipk.control.version}`);
      }
      return { update: ctx.before !== null };
    },
  },
  {
    name: 'close-app',
    async work(ctx) {
      const { packageId } = ipkOf(ctx);
      if ((await ctx.env.appManager.closeApp(packageId)) === 'locked') throw failed(ErrorText.APP_LOCKED, packageId);
    },
  },
  {
    name: 'verify',
    async work(ctx) {
      const { ipk } = ipkOf(ctx);
      const verdict = await verifySignature(ipk, ctx.env.layout.trustBundle, new Date(), { ...DEFAULT_LIMITS, ...ctx.env.config.extractLimits });
      ctx.signature = verdict.result;
      if (verdict.result === 'invalid') throw failed(ErrorText.FAILED_VERIFY, verdict.detail ?? 'the signature does not match the data');
      if (verdict.result !== 'trusted' && ctx.env.config.requireSignature && !ctx.req.developer) {
        throw failed(ErrorText.FAILED_VERIFY, `${ErrorText.SIGNATURE_REQUIRED}; the package is ${verdict.result}${verdict.detail ? ` (${verdict.detail})` : ''}`);
      }
      return { signature: verdict.result };
    },
  },
  {
    name: 'prepare',
    work: (ctx) => generalOnIo(ErrorText.EXTRACT_IPK_GENERAL, async () => {
      const { ipk, packageId } = ipkOf(ctx);
      const { env, appRoot, req } = ctx;
      await mkdirDurable(appRoot.base);
      const needed = ipk.control.installedSize ?? ipk.dataMember.size;
      const st = await fs.statfs(appRoot.base);
      const free = Number(st.bavail) * Number(st.bsize);
      if (free < needed) throw new CodedError(ErrorCode.NO_SPACE, ErrorText.NO_SPACE, `${needed} bytes needed, ${free} free under ${appRoot.base}`);
      ctx.journal = {
        taskId: req.taskId, op: 'install', phase: 'begun', packageId, appRoot: appRoot.base, developer: req.developer,
        staging: path.join(stagingRoot(appRoot.base), req.taskId), targets: [],
      };
      await writeJournal(env.layout.installerState, ctx.journal);
      await mkdirDurable(ctx.journal.staging);
      faultPoint('install.begun');
    }),
    /** Puts the app root and the bus files back as they were before the task (nothing after commit can fail). */
    undo: rollbackUncommitted,
  },
  {
    name: 'unpack',
    work: (ctx, progress) => generalOnIo(ErrorText.EXTRACT_IPK_GENERAL, async () => {
      const { ipk, packageId } = ipkOf(ctx);
      const rec = journalOf(ctx);
      const newDir = path.join(rec.staging, 'new');
      const result = await extractData(ipk, newDir, { limits: ctx.env.config.extractLimits, signal: ctx.signal, onProgress: (percent) => progress({ progress: Math.min(99, percent) }) });
      faultPoint('install.extracted');
      await checkTreeShape(newDir);
      const apps = await subdirs(path.join(newDir, 'usr/palm/applications'));
      const services = await subdirs(path.join(newDir, 'usr/palm/services'));
      if (!result.packageInfo) {
        // ares-package always writes one; synthesize it for packages that lack it, so the database is uniform.
        await writeFileDurable(path.join(newDir, 'usr/palm/packages', packageId, 'packageinfo.json'),
          JSON.stringify({ id: packageId, version: ipk.control.version, app: apps[0], ...(services.length ? { services } : {}) }, null, 4) + '\n');
      }
      const db = dbFiles(packageId);
      const newRels = [
        ...apps.map((a) => `usr/palm/applications/${a}`),
        ...services.map((s) => `usr/palm/services/${s}`),
        `usr/palm/packages/${packageId}`,
        db.list,
        db.control, // last: the database names the new version only once everything else is in place
      ];
      await writeFileDurable(path.join(newDir, db.list), newRels.join('\n') + '\n');
      await writeFileDurable(path.join(newDir, db.control), formatControl(Object.entries(ipk.control.raw)));
      // Every name the package takes on the bus, now that its apps and services are known: a developer package none
      // in a privileged name space, and no package one that another package or the system holds.
      const staged = await readPackage(newDir, packageId, ctx.req.developer);
      if (!staged) throw failed(ErrorText.FAILED_IPKG_INSTALL, `${packageId}: the staged package cannot be read back`);
      if (ctx.req.developer) checkDeveloperNames(staged);
      await checkNamesFree(ctx.env.layout, staged, ctx.req.developer);
      const oldRels = ctx.before?.targets ?? [];
      for (const rel of newRels) {
        if (!oldRels.includes(rel) && (await exists(path.join(ctx.appRoot.base, rel)))) {
          throw failed(ErrorText.FAILED_IPKG_INSTALL, `${rel} already exists and belongs to another package`);
        }
      }
      const targets: JournalTarget[] = [
        ...oldRels.filter((r) => !newRels.includes(r)).map((rel) => ({ rel, existedBefore: true, inNew: false })),
        ...newRels.map((rel) => ({ rel, existedBefore: oldRels.includes(rel), inNew: true })),
      ];
      await syncTree(newDir);
      ctx.journal = { ...rec, phase: 'staged', targets };
      await writeJournal(ctx.env.layout.installerState, ctx.journal);
      faultPoint('install.staged');
      progress({ progress: 100 });
    }),
  },
  {
    name: 'switch',
    async work(ctx) {
      await switchIn(journalOf(ctx));
    },
  },
  {
    name: 'bus-files',
    async work(ctx) {
      const { packageId } = ipkOf(ctx);
      const { env, busTree } = ctx;
      const pkg = await readPackage(ctx.appRoot.base, packageId, ctx.req.developer);
      if (!pkg) throw failed(ErrorText.FAILED_IPKG_INSTALL, `${packageId} is not in the package database after the switch`);
      await generalOnIo(ErrorText.INSTALL_SERVICE_GENERAL, () => installPackageBusFiles(pkg, busTree, env.root, null));
      faultPoint('install.bus-files');
      ctx.journal = await commit(env.layout.installerState, journalOf(ctx));
      faultPoint('install.committed');
      // Committed: from here nothing fails the install; a hub that cannot be told catches up at its next reload.
      if (env.hub) {
        const mp = manifestPath(busTree, packageId);
        try {
          if (ctx.before) await env.hub.removeManifest(mp, env.root).catch(() => undefined);
          await env.hub.addManifest(mp, env.root);
        } catch (e) {
          env.log(`install ${packageId}: hub did not take ${mp}: ${(e as Error).message}`);
        }
      }
      faultPoint('install.hub-told');
    },
  },
  {
    name: 'finish',
    async work(ctx) {
      try {
        await finish(ctx.env.layout.installerState, journalOf(ctx));
      } catch (e) {
        ctx.env.log(`install ${ctx.packageId}: cleanup left for recovery: ${(e as Error).message}`);
      }
    },
  },
];
