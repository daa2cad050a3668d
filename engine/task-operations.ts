// Each install and remove task of the queue as an engine operation (engine/operation-store.ts): handle, phases,
// weighted progress, a step log, cancel at safe points, locks and Depends checked, aux metadata and app data kept with the app.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { OperationStore } from './operation-store';
import { Locks } from './locks';
import { AuxMetadata } from './aux-metadata';
import { DEFAULT_WEIGHTS, type Operation, type Phase } from './operations';
import { checkDependsForInstall, checkRemove, type InstalledPackage as EnginePackage } from './depends';
import { CodedError, ErrorCode, ErrorText } from '../status-codes';
import type { Layout } from '../layout/paths';
import type { EngineConfig } from './config';
import type { Step } from './steps';
import type { TaskContext, TaskRequest } from './task-context';
import type { TaskHooks } from './task-queue';
import type { TaskEnd, TaskFacts } from './task-events';
import { DOWNLOAD_STEP_COUNT } from './download-steps';
import { findPackage, listPackages, readPackage, type InstalledPackage } from './package-db';
import { removeTreeDurable } from './durable-fs';
import { listFirmware } from './firmware-db';

/** A local install has no download: its progress is weighted over verify, unpack and register only. */
const LOCAL_WEIGHTS = { install: { verify: 10, unpack: 80, register: 10 }, remove: { register: 100 } };

/** The step after which nothing is undone (the switch of files into place): a cancel is refused from there on. */
const COMMIT_STEP = { install: 'switch', remove: 'remove-ipk' } as const;

/** Which engine phase each install step belongs to (a remove is all `register`). */
const INSTALL_PHASE: Record<string, Phase> = {
  'download-request': 'download', download: 'download', parse: 'verify', 'check-update': 'verify', 'close-app': 'verify', verify: 'verify',
  prepare: 'unpack', unpack: 'unpack', switch: 'register', 'bus-files': 'register', finish: 'register',
};

/** The task downloads its package first (download-steps.ts: two steps before the install table). */
function downloads(req: TaskRequest): boolean {
  return req.source !== undefined && 'download' in req.source;
}

function cancelledError(op: 'install' | 'remove'): CodedError {
  return new CodedError(ErrorCode.CANCELLED, op === 'install' ? ErrorText.INSTALL_CANCELLED : ErrorText.REMOVE_CANCELLED);
}

/** What one step did, for the operation log: its facts in words ("packageId=x update=false"), or "done". */
function describeFacts(facts: TaskFacts | void): string {
  if (!facts) return 'done';
  const parts = Object.entries(facts).filter(([k]) => k !== 'progress').map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return parts.length ? parts.join(' ') : 'done';
}

/** The installed packages of both app roots. */
export async function installedPackages(layout: Layout): Promise<InstalledPackage[]> {
  return [...(await listPackages(layout.verifiedApps, false)), ...(await listPackages(layout.developerApps, true))];
}

/** An installed package by package id or app id, verified root first. */
export async function findInstalled(layout: Layout, id: string): Promise<InstalledPackage | null> {
  return (await findPackage(layout.verifiedApps, false, id)) ?? (await findPackage(layout.developerApps, true, id));
}

function controlField(control: Record<string, string>, name: string): string | undefined {
  const key = Object.keys(control).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : control[key];
}

function asEnginePackages(pkgs: readonly InstalledPackage[]): EnginePackage[] {
  return pkgs.map((p) => ({ id: p.packageId, version: p.version, depends: controlField(p.control, 'Depends') }));
}

export class TaskOperations {
  /** Task id → its operation (null: the engine refused to create one, e.g. a request id that is no package id). */
  private readonly ops = new Map<string, Promise<Operation | null>>();
  /** Operation handle → its task (request), while the task may still be waiting in the queue. */
  private readonly waiting = new Map<string, TaskRequest>();
  private cancelQueued: (taskId: string, end: TaskEnd) => boolean = () => false;

  private constructor(
    readonly store: OperationStore,
    readonly locks: Locks,
    readonly aux: AuxMetadata,
    readonly layout: Layout,
    readonly config: EngineConfig,
    private readonly log: (line: string) => void,
  ) {}

  /** Opens the engine state (a crash's running operations read failed from here on) and drops aux of removed apps. */
  static async open(layout: Layout, config: EngineConfig, log: (line: string) => void): Promise<TaskOperations> {
    const dir = layout.engineState;
    await fs.mkdir(dir, { recursive: true });
    const { store, problems } = await OperationStore.open({ stateDir: dir, historySize: config.operationHistory, weights: LOCAL_WEIGHTS });
    for (const p of problems) log(`recovery: operations: ${p}`);
    const failed = store.list({ state: 'failed' });
    const l = await Locks.open(dir);
    if (l.problem) log(`recovery: locks: ${l.problem}`);
    const a = await AuxMetadata.open(dir);
    if (a.problem) log(`recovery: aux metadata: ${a.problem}`);
    const tracker = new TaskOperations(store, l.locks, a.aux, layout, config, log);
    store.events.subscribe((ev) => {
      if (ev.type === 'problem') log(ev.text);
      // Cancelled while queued: the task ends on the bus at once (22, or 25 for a remove) instead of when a slot frees.
      if (ev.type === 'ended' && ev.operation.state === 'cancelled') tracker.endWaiting(ev.operation.handle);
      if (ev.type === 'changed' || ev.type === 'ended') tracker.waiting.delete(ev.operation.handle);
    });
    // A remove that crashed past its commit point leaves the app (or firmware) gone: its aux metadata goes too.
    const installed = new Set([
      ...(await installedPackages(layout)).flatMap((p) => [p.packageId, ...p.apps.map((x) => x.id)]),
      ...(await listFirmware(layout, { damaged: true })).map((f) => f.name),
    ]);
    for (const id of a.aux.ids()) {
      if (!installed.has(id)) {
        await a.aux.removeApp(id);
        log(`recovery: dropped aux metadata of ${id} (not installed)`);
      }
    }
    if (failed.ok) for (const op of failed.value) if (op.errorCode === -213) log(`recovery: operation ${op.handle} (${op.kind} ${op.id}) reads failed: ${op.errorText}`);
    return tracker;
  }

  private async opOf(req: TaskRequest): Promise<Operation | null> {
    return (await this.ops.get(req.taskId)) ?? null;
  }

  /** The queue's hooks. */
  readonly hooks: TaskHooks = {
    queued: (req) => {
      if (req.partOf) {
        // A part of a chain: the chain's operation is the task's (no operation of its own in /operations/list). The
        // first part waits with it: a cancel while it is queued ends that part at once, and so the chain.
        const op = req.partOf.operation;
        this.ops.set(req.taskId, Promise.resolve(op));
        if (op.state === 'queued') this.waiting.set(op.handle, req);
        return;
      }
      const created = this.store.create({ kind: req.op, id: req.id, caller: req.client.slice(0, 256) }).then(
        (r) => {
          if (r.ok) {
            this.waiting.set(r.value.handle, req);
            return r.value;
          }
          this.log(`${req.op} ${req.id}: no operation: ${r.error.text}`);
          return null;
        },
        (e: unknown) => {
          this.log(`${req.op} ${req.id}: no operation: ${(e as Error).message}`);
          return null;
        },
      );
      this.ops.set(req.taskId, created);
    },
    steps: (req, _ctx, steps) => steps.map((s, i) => this.wrap(req, s, i, steps.length)),
    attach: (cancelQueued) => {
      this.cancelQueued = cancelQueued;
    },
    ended: (req, _ctx, end) => this.onEnd(req, end).catch((e: unknown) => this.log(`operation of ${req.op} ${req.id}: ${(e as Error).message}`)),
  };

  /** The task's operation ends with the task (a chain's part: the chain ends it), on disk before anyone hears of it. */
  private async onEnd(req: TaskRequest, end: TaskEnd): Promise<void> {
    const opP = this.ops.get(req.taskId);
    this.ops.delete(req.taskId);
    const op = await opP;
    if (!op) return;
    if (op.ended) {
      await this.store.flush(); // cancelled while queued: its end is being written
      return;
    }
    op.appendLog(`end: ${end.outcome}${end.error ? `: ${end.error.text}` : ''}`);
    if (req.partOf) return; // the chain ends its operation (feed-methods.ts), not one of its parts
    if (op.state === 'queued') op.start();
    if (end.outcome === 'succeeded') op.succeed();
    else if (!(end.outcome === 'cancelled' && op.cancelRequested && !op.committed && op.cancelled().ok)) {
      op.failWith(end.error?.code ?? ErrorCode.GENERAL, end.error?.text ?? end.outcome);
    }
    await this.store.flush();
  }

  private endWaiting(handle: string): void {
    const req = this.waiting.get(handle);
    if (!req) return;
    const text = req.op === 'install' ? ErrorText.INSTALL_CANCELLED : ErrorText.REMOVE_CANCELLED;
    if (this.cancelQueued(req.taskId, { outcome: 'cancelled', error: { code: ErrorCode.CANCELLED, text }, facts: {} })) this.ops.delete(req.taskId);
  }

  /** One step of the table run as a part of the task's operation: safe point before it, commit point, phase, log. */
  private wrap(req: TaskRequest, step: Step<TaskContext>, index: number, count: number): Step<TaskContext> {
    return {
      ...step,
      work: async (ctx, progress) => {
        const op = await this.opOf(req);
        if (op) {
          // An install that downloads first (URL or catalog install) weighs its download: download, verify, unpack, register.
          if (op.state === 'queued' && downloads(req)) op.reweigh(DEFAULT_WEIGHTS.install);
          if (op.state === 'queued') op.start();
          ctx.signal = op.signal;
          ctx.opLog = (line) => op.appendLog(line);
          // A chain's part that has passed its own commit point completes even when a cancel came after it (the chain stops after it).
          if (op.state === 'cancelled' || (op.signal.aborted && !op.committed)) throw cancelledError(req.op);
          const phase: Phase = req.op === 'install' ? INSTALL_PHASE[step.name] ?? 'register' : 'register';
          op.enterPhase(phase, req.op === 'remove' ? index / count : phase === 'verify' ? (index - (downloads(req) ? DOWNLOAD_STEP_COUNT : 0)) / 4 : 0);
          op.appendLog(`=== step ${step.name}`);
          await this.store.flushLog(op.handle); // a crash inside the step keeps the log up to here
          if (step.name === COMMIT_STEP[req.op]) {
            const c = op.commit();
            if (c.ok && !c.value) throw cancelledError(req.op);
            op.appendLog('commit point reached: a cancel is refused from here on');
          }
        }
        if (req.op === 'remove' && index === 0) await this.checkRemove(ctx);
        let lastLogged = -1;
        const patch = await step.work(ctx, (p) => {
          if (op && step.name === 'download' && typeof p.progress === 'number') op.setPhaseProgress(p.progress / 100);
          if (op && step.name === 'unpack' && typeof p.progress === 'number') {
            op.setPhaseProgress(p.progress / 100);
            const tenth = Math.floor(p.progress / 5);
            if (tenth > lastLogged) {
              lastLogged = tenth;
              op.appendLog(`unpack: ${p.progress}% of data.tar.gz read`);
            }
          }
          progress(p);
        });
        if (req.op === 'install' && step.name === 'parse' && ctx.ipk) {
          if (op && req.partOf) op.appendLog(`package ${ctx.packageId ?? req.id} version ${ctx.ipk.control.version}`);
          else if (op) op.describe(ctx.ipk.control.version, ctx.firmware ? 'firmware' : '', ctx.firmware ? 'firmware' : undefined);
          else await this.lateOperation(req, ctx); // a /dev/install's request id need not be a package id
        }
        if (req.op === 'install' && step.name === 'check-update') await this.checkInstall(ctx);
        if (req.op === 'install' && step.name === 'finish') await this.afterInstall(ctx, op);
        if (req.op === 'remove' && step.name === 'remove-data') await this.afterRemove(ctx);
        if (op) op.appendLog(`${step.name}: ${describeFacts(patch)}`);
        return patch;
      },
    };
  }

  /** An install whose request id the engine refused gets its operation once the package id is known. */
  private async lateOperation(req: TaskRequest, ctx: TaskContext): Promise<void> {
    if (!ctx.packageId || !ctx.ipk) return;
    const r = await this.store.create({ kind: 'install', id: ctx.packageId, version: ctx.ipk.control.version, caller: req.client.slice(0, 256) });
    if (!r.ok) return;
    const op = r.value;
    this.ops.set(req.taskId, Promise.resolve(op));
    op.start();
    ctx.signal = op.signal;
    op.enterPhase('verify', 0.25);
    op.appendLog(`request id ${req.id.slice(0, 256)}; package ${ctx.packageId}`);
  }

  /** Before a remove: not locked, not needed by another installed package. */
  private async checkRemove(ctx: TaskContext): Promise<void> {
    const id = ctx.packageId ?? ctx.req.id;
    for (const x of new Set([id, ctx.req.id])) {
      const l = this.locks.checkNotLocked(x);
      if (!l.ok) throw new CodedError(l.error.code, l.error.text);
    }
    const r = checkRemove(id, asEnginePackages(await installedPackages(this.layout)));
    if (!r.ok) throw new CodedError(r.error.code, r.error.text);
  }

  /** After the update check of an install: an upgrade of a locked app or firmware is refused; Depends must be met. */
  private async checkInstall(ctx: TaskContext): Promise<void> {
    const id = ctx.packageId;
    if (!id || !ctx.ipk) return;
    if (ctx.before || ctx.firmwareBefore) {
      const l = this.locks.checkNotLocked(id);
      if (!l.ok) throw new CodedError(l.error.code, l.error.text);
    }
    const depends = controlField(ctx.ipk.control.raw, 'Depends');
    if (depends === undefined || depends.trim() === '') return;
    const installed = asEnginePackages(await installedPackages(this.layout)).filter((p) => p.id !== id);
    const r = checkDependsForInstall(depends, installed);
    if (!r.ok) throw new CodedError(r.error.code, r.error.text);
  }

  /** The app's persistent data directory exists once it is installed; the operation learns the app's type. */
  private async afterInstall(ctx: TaskContext, op: Operation | null): Promise<void> {
    if (!ctx.packageId || ctx.firmware) return; // firmware has no app data (firmware-steps.ts)
    const pkg = await readPackage(ctx.appRoot.base, ctx.packageId, ctx.req.developer);
    try {
      for (const id of new Set([ctx.packageId, ...(pkg?.apps.map((a) => a.id) ?? [])])) await fs.mkdir(this.dataDir(id), { recursive: true, mode: 0o755 });
    } catch (e) {
      this.log(`install ${ctx.packageId}: app data directory not made: ${(e as Error).message}`);
    }
    if (op && pkg && (!ctx.req.partOf || ctx.req.partOf.last)) op.describe(pkg.version, String(pkg.apps[0]?.appInfo.type ?? ''));
  }

  /** The app's aux metadata and persistent data go with it; a firmware package's aux metadata (it has no data). */
  private async afterRemove(ctx: TaskContext): Promise<void> {
    if (!ctx.packageId) return;
    if (ctx.req.firmware) {
      await this.aux.removeApp(ctx.packageId);
      return;
    }
    for (const id of new Set([ctx.packageId, ...(ctx.before?.apps.map((a) => a.id) ?? [])])) {
      await this.aux.removeApp(id);
      await removeTreeDurable(this.dataDir(id)).catch((e: unknown) => this.log(`remove ${id}: app data left: ${(e as Error).message}`));
    }
  }

  dataDir(id: string): string {
    return path.join(this.layout.appData, id);
  }

  /** Waits for the engine's state writes (a clean stop). */
  async close(): Promise<void> {
    await this.store.close();
  }
}
