// Firmware packages (control `Section: firmware`, docs/appinstall.md "Firmware packages") through the same step tables
// as apps: `withFirmware` wraps each step of install-steps.ts / remove-steps.ts so that a firmware task does the
// firmware work of that step, with the same steps (and so the same stages on the bus), journal, crash points and undos. A firmware package carries
// only lib/firmware/<name>/ (ipk/entry-rules.ts treeShapeProblem), is placed at <root>/lib/firmware/<name>/ with its
// record in firmware-db.ts, has no bus files and no app data, and is then handed to the configured firmwareHandoff
// command (argv, the firmware folder appended; bounded time). A failed hand-off fails the operation with -5
// FIRMWARE_HANDOFF_FAILED, but the firmware stays installed: the switch was committed before it ran.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CodedError, ErrorCode, ErrorText } from '../status-codes';
import { extractData } from '../ipk/extract';
import { formatControl } from '../ipk/control';
import { packageTreeOf } from '../ipk/entry-rules';
import type { Step } from './steps';
import type { TaskContext } from './task-context';
import { INSTALL_STEPS as APP_INSTALL_STEPS, generalOnIo } from './install-steps';
import { REMOVE_STEPS as APP_REMOVE_STEPS } from './remove-steps';
import { classifyVersion } from './version-compare';
import { exists, mkdirDurable, removeTreeDurable, renameDurable, syncTree, writeFileDurable } from './durable-fs';
import { writeJournal, type JournalTarget } from './journal';
import { commit, finish, moveAside, rollback, stagingRoot } from './package-switch';
import { faultPoint } from './fault-points';
import { firmwareDbFiles, firmwareTargets, readFirmware } from './firmware-db';
import { findPackage } from './package-db';

type Work = Step<TaskContext>['work'];

const failed = (text: string, detail?: string) => new CodedError(ErrorCode.INSTALL_FAILED, text, detail);
const removeFailed = (cause: string, detail?: string) => new CodedError(ErrorCode.REMOVE_FAILED, ErrorText.FAILED_REMOVE, detail ? `${cause}: ${detail}` : cause);

function isFirmwareTask(ctx: TaskContext): boolean {
  return ctx.firmware === true || ctx.req.firmware === true;
}

function nameOf(ctx: TaskContext): string {
  if (!ctx.packageId) throw new Error('internal: no package id');
  return ctx.packageId;
}

/** Undo of a firmware task's prepare: an uncommitted journal rolled back (the old firmware whole, or none). */
async function rollbackFirmware(ctx: TaskContext): Promise<void> {
  if (!ctx.journal || ctx.journal.phase === 'committed') return;
  await rollback(ctx.env.layout.installerState, ctx.journal);
  ctx.journal = undefined;
}

/** An app package may not take a firmware package's name (and the other way round): /remove names either by id. */
async function checkNoAppOfName(ctx: TaskContext, name: string): Promise<void> {
  const { layout } = ctx.env;
  const app = (await findPackage(layout.verifiedApps, false, name)) ?? (await findPackage(layout.developerApps, true, name));
  if (app && app.packageId === name) throw failed(ErrorText.FIRMWARE_NAME_TAKEN, `${name} is an installed app package`);
}

/** Runs the configured hand-off with the firmware folder as its last argument, killed after the timeout. */
function runHandoff(argv: readonly string[], dir: string, timeoutSec: number): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(argv[0], [...argv.slice(1), dir], { timeout: timeoutSec * 1000, killSignal: 'SIGKILL', maxBuffer: 64 * 1024, env: process.env }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: number | string; signal?: string };
      const why = e.killed ? `killed after ${timeoutSec} s` : typeof e.code === 'number' ? `exit ${e.code}` : e.signal ? `signal ${e.signal}` : e.message;
      const tail = String(stderr ?? '').trim().split('\n').slice(-3).join(' | ').slice(0, 512);
      reject(failed(ErrorText.FIRMWARE_HANDOFF_FAILED, `${argv[0]} ${dir}: ${why}${tail ? `: ${tail}` : ''}`));
    });
  });
}

/** The firmware work of each install step (by the step's name); absent: the step does nothing for firmware. */
const FIRMWARE_INSTALL: Record<string, Work | null> = {
  // parse: the app step's work (open once, bounds, id) and then the firmware rules: root only, never /dev.
  'check-update': async (ctx) => {
    const name = nameOf(ctx);
    const ipk = ctx.ipk!;
    await checkNoAppOfName(ctx, name);
    const before = await readFirmware(ctx.env.layout, name);
    if (before?.damaged) ctx.env.log(`install ${name}: firmware record damaged (${before.damaged}); this install replaces it`);
    const change = before?.damaged ? 'reinstall' : classifyVersion(before?.version, ipk.control.version);
    if (change === 'downgrade' && ctx.req.allowDowngrade !== true) throw failed(ErrorText.DOWNGRADE_REFUSED, `installed ${before?.version}, package ${ipk.control.version}`);
    ctx.firmwareBefore = before;
    return { update: before !== null };
  },
  'close-app': null,
  prepare: (ctx) => generalOnIo(ErrorText.EXTRACT_IPK_GENERAL, async () => {
    const name = nameOf(ctx);
    const ipk = ctx.ipk!;
    const base = ctx.env.layout.firmware.base;
    await mkdirDurable(base);
    const needed = ipk.control.installedSize ?? ipk.dataMember.size;
    const st = await fs.statfs(base);
    const free = Number(st.bavail) * Number(st.bsize);
    if (free < needed) throw new CodedError(ErrorCode.NO_SPACE, ErrorText.NO_SPACE, `${needed} bytes needed, ${free} free under ${base}`);
    ctx.journal = {
      taskId: ctx.req.taskId, op: 'install', phase: 'begun', packageId: name, appRoot: base, developer: false,
      staging: path.join(stagingRoot(base), ctx.req.taskId), targets: [], firmware: true,
    };
    await writeJournal(ctx.env.layout.installerState, ctx.journal);
    await mkdirDurable(ctx.journal.staging);
    faultPoint('install.begun');
  }),
  unpack: (ctx, progress) => generalOnIo(ErrorText.EXTRACT_IPK_GENERAL, async () => {
    const name = nameOf(ctx);
    const ipk = ctx.ipk!;
    const rec = ctx.journal!;
    // Extracted as the package lays it out (lib/firmware/<name>/…, entry-rules.ts), then its folder taken into new/.
    const unpacked = path.join(rec.staging, 'unpacked');
    await removeTreeDurable(unpacked);
    await extractData(ipk, unpacked, { limits: ctx.env.config.extractLimits, signal: ctx.signal, tree: { kind: 'firmware', name }, onProgress: (percent) => progress({ progress: Math.min(99, percent) }) });
    faultPoint('install.extracted');
    const own = path.join(unpacked, 'lib/firmware', name);
    const st = await fs.lstat(own).catch(() => null);
    if (!st?.isDirectory()) throw failed(ErrorText.EXTRACT_FAILED, ErrorText.FIRMWARE_EMPTY);
    const newDir = path.join(rec.staging, 'new');
    await mkdirDurable(newDir);
    await removeTreeDurable(path.join(newDir, name));
    await renameDurable(own, path.join(newDir, name));
    await removeTreeDurable(unpacked);
    const db = firmwareDbFiles(name);
    const newRels = firmwareTargets(name); // folder, list, control: the record names the new version last
    await writeFileDurable(path.join(newDir, db.list), `${name}\n`);
    await writeFileDurable(path.join(newDir, db.control), formatControl(Object.entries(ipk.control.raw)));
    const oldRels = ctx.firmwareBefore ? newRels : [];
    for (const rel of newRels) {
      if (!oldRels.includes(rel) && (await exists(path.join(rec.appRoot, rel)))) throw failed(ErrorText.FAILED_IPKG_INSTALL, `lib/firmware/${rel} already exists and belongs to no firmware package of this name`);
    }
    const targets: JournalTarget[] = newRels.map((rel) => ({ rel, existedBefore: oldRels.includes(rel), inNew: true }));
    await syncTree(newDir);
    ctx.journal = { ...rec, phase: 'staged', targets };
    await writeJournal(ctx.env.layout.installerState, ctx.journal);
    faultPoint('install.staged');
    progress({ progress: 100 });
  }),
  // switch: the app step's work (journal-driven renames).
  'bus-files': async (ctx) => {
    // No bus files: the step only commits (same boundaries as an app's, so a crash test walks the same points).
    ctx.journal = await commit(ctx.env.layout.installerState, ctx.journal!);
    faultPoint('install.committed');
  },
  finish: async (ctx) => {
    try {
      await finish(ctx.env.layout.installerState, ctx.journal!);
    } catch (e) {
      ctx.env.log(`install ${ctx.packageId}: cleanup left for recovery: ${(e as Error).message}`);
    }
    const argv = ctx.env.config.firmwareHandoff;
    if (argv) {
      const dir = path.join(ctx.env.layout.firmware.base, nameOf(ctx));
      await runHandoff(argv, dir, ctx.env.config.firmwareHandoffTimeoutSec);
      ctx.env.log(`install ${ctx.packageId}: firmware handed to ${argv[0]}`);
    }
  },
};

/** The firmware work of each remove step. */
const FIRMWARE_REMOVE: Record<string, Work | null> = {
  'close-app': null,
  prepare: async (ctx) => {
    const name = nameOf(ctx);
    if (ctx.req.caller && ctx.req.caller.uid !== 0) throw removeFailed(ErrorText.FIRMWARE_ROOT_ONLY, name);
    const fw = await readFirmware(ctx.env.layout, name);
    if (!fw) throw removeFailed(ErrorText.NO_SUCH_ID, name);
    const base = ctx.env.layout.firmware.base;
    ctx.journal = {
      taskId: ctx.req.taskId, op: 'remove', phase: 'begun', packageId: name, appRoot: base, developer: false,
      staging: path.join(stagingRoot(base), ctx.req.taskId), firmware: true,
      targets: [...firmwareTargets(name)].reverse().map((rel) => ({ rel, existedBefore: true, inNew: false })), // record first
    };
    await writeJournal(ctx.env.layout.installerState, ctx.journal);
    faultPoint('remove.begun');
  },
  'bus-files': async () => {
    faultPoint('remove.bus-files');
  },
  'remove-ipk': async (ctx) => {
    await moveAside(ctx.journal!);
    ctx.journal = await commit(ctx.env.layout.installerState, ctx.journal!);
    faultPoint('remove.committed');
  },
};

/** After the app parse: a firmware package is marked, and refused on /dev/install and from callers other than root. */
const afterParse = (ctx: TaskContext): void => {
  if (!ctx.ipk || packageTreeOf(ctx.ipk.control).kind !== 'firmware') return;
  if (ctx.req.developer) throw new CodedError(ErrorCode.PRIVILEGED_INSTALL_IN_DEVMODE, ErrorText.FIRMWARE_IN_DEVMODE, ctx.packageId);
  if (ctx.req.caller && ctx.req.caller.uid !== 0) throw failed(ErrorText.FIRMWARE_ROOT_ONLY, `uid ${ctx.req.caller.uid}`);
  ctx.firmware = true;
};

/** A table whose steps do the firmware work for a firmware task and the app work otherwise. */
function withFirmware(steps: readonly Step<TaskContext>[], firmware: Record<string, Work | null>, op: 'install' | 'remove'): readonly Step<TaskContext>[] {
  return steps.map((s) => ({
    ...s,
    work: async (ctx, progress) => {
      if (op === 'install' && s.name === 'parse') {
        const patch = await s.work(ctx, progress);
        afterParse(ctx);
        return patch;
      }
      if (!isFirmwareTask(ctx)) {
        // An app package may not take an installed firmware package's name either.
        if (op === 'install' && s.name === 'check-update' && ctx.packageId && (await readFirmware(ctx.env.layout, ctx.packageId))) {
          throw failed(ErrorText.FIRMWARE_NAME_TAKEN, `${ctx.packageId} is an installed firmware package`);
        }
        return s.work(ctx, progress);
      }
      const fw = firmware[s.name];
      if (fw === null) return undefined;
      return (fw ?? s.work)(ctx, progress);
    },
    ...(s.undo ? { undo: (ctx: TaskContext) => (isFirmwareTask(ctx) ? rollbackFirmware(ctx) : s.undo!(ctx)) } : {}),
  }));
}

export const INSTALL_STEPS = withFirmware(APP_INSTALL_STEPS, FIRMWARE_INSTALL, 'install');
export const REMOVE_STEPS = withFirmware(APP_REMOVE_STEPS, FIRMWARE_REMOVE, 'remove');
