// The operations this gateway started (install, remove, …), fed by the bus's status streams: a decimal handle
// (Thunder), a small task id (AX), progress 0–100 weighted as LISA's (download 0–90, unpack 90–95, register 95–100),
// a bounded log in the AX sample's format, and one event stream every peer maps to its own vocabulary.
import crypto from 'node:crypto';
import { Subject, type Observable } from 'rxjs';
import type { EngineOperation, StatusEvent } from './backend';
import { Stage } from '../status-codes';

export type OpKind = 'install' | 'remove' | 'download' | 'firmware';
export type OpState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface Op {
  handle: string;
  taskId: number;
  engineHandle?: string;
  kind: OpKind;
  id: string;
  version: string;
  type: string;
  client: string;
  state: OpState;
  progress: number;
  /** DOWNLOADING / UNTARING / UPDATING_DATABASE / FINISHED (LISA's stages). */
  stage: string;
  createTime: Date;
  startTime?: Date;
  endTime?: Date;
  errorText?: string;
  /** The error object when the stream failed (a refusal by the bus: its kind matters to the peers). */
  error?: unknown;
  log: string;
  lastStatus?: number;
  /** Refused before its handle was given out (the caller got an error instead): no events for it. */
  silent?: boolean;
  /** Started by this gateway (else seen on the bus: another front-end's operation). */
  local: boolean;
}

const MAX_LOG_CHARS = 64 * 1024;
const FINAL_STATUS = new Set([22, 23, 24, 25, 30, 31]);
/** Status values only an install passes through (download, parse, update check, verify, unpack, register). */
const INSTALL_STATUS = new Set([7, 8, 10, 11, 12, 13, 14, 17, 27, 28, 29, 35, 36, 37, 262, 263, 264, 268, 269, 270]);
const KEEP_FINISHED = 200;

export function localTime(d: Date | undefined): string {
  if (!d) return '';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

function stageOf(progress: number): string {
  return progress >= 100 ? 'FINISHED' : progress >= 95 ? 'UPDATING_DATABASE' : progress >= 90 ? 'UNTARING' : 'DOWNLOADING';
}

/** Weighted progress of an install stream event (webOS statusValues, docs/appinstall.md). */
function installProgress(ev: StatusEvent, prev: number): number {
  const p = typeof ev.details.progress === 'number' ? Math.max(0, Math.min(100, ev.details.progress)) : 0;
  switch (ev.statusValue) {
    case 7: return 0;
    case 8: return Math.floor(0.9 * p);
    case 10: return 90;
    case 14: return 90 + Math.floor((5 * p) / 100);
    case 17: return 95;
    case 27: return 96;
    case 28: return 97;
    case 29: return 99;
    case 30: return 100;
    default: return prev;
  }
}

export class Operations {
  private readonly byHandle = new Map<string, Op>();
  private readonly byTask = new Map<number, Op>();
  private nextTask = 1;
  private readonly events = new Subject<Op>();
  /** Every change of every operation (the same Op object, mutated). */
  readonly changes$: Observable<Op> = this.events.asObservable();

  list(): Op[] { return [...this.byHandle.values()]; }
  /** A small integer id (AX task ids) for an engine operation this gateway did not start. */
  private readonly engineTasks = new Map<string, number>();
  taskIdFor(engineHandle: string): number {
    for (const op of this.byHandle.values()) if (op.engineHandle === engineHandle) return op.taskId;
    let id = this.engineTasks.get(engineHandle);
    if (id === undefined) {
      id = this.nextTask++;
      this.engineTasks.set(engineHandle, id);
      if (this.engineTasks.size > 10_000) this.engineTasks.delete(this.engineTasks.keys().next().value as string);
    }
    return id;
  }
  engineHandleOf(taskId: number): string | undefined {
    for (const [h, id] of this.engineTasks) if (id === taskId) return h;
    return undefined;
  }
  get(handle: string): Op | undefined { return this.byHandle.get(handle); }
  byTaskId(id: number): Op | undefined { return this.byTask.get(id); }
  /** The running or queued operation of a package, if any (only this gateway's own with `localOnly`). */
  active(id: string, localOnly = false): Op | undefined {
    for (const op of this.byHandle.values()) if (op.id === id && (op.state === 'running' || op.state === 'queued') && (op.local || !localOnly)) return op;
    return undefined;
  }

  private readonly external = new Map<string, Subject<StatusEvent>>();
  /**
   * A status event of the bus's /status (every task, whoever started it): tasks this gateway did not start get a
   * record too, so every peer sees them (Thunder events, AX lists and tasks). Used until the engine's operations
   * are on the bus (observeEngine).
   */
  observeStatus(ev: StatusEvent): void {
    const id = ev.id;
    if (!id) return;
    let subject = this.external.get(id);
    if (!subject) {
      if (this.active(id, true) || FINAL_STATUS.has(ev.statusValue)) return; // ours, or the end of a task not seen starting
      subject = new Subject<StatusEvent>();
      this.external.set(id, subject);
      const kind: OpKind = 'ipkUrl' in ev.details || INSTALL_STATUS.has(ev.statusValue) ? 'install' : 'remove';
      const op = this.track(kind, { id, version: typeof ev.details.version === 'string' ? ev.details.version : '' }, String(ev.details.client ?? ''), subject);
      op.local = false;
    }
    subject.next(ev);
    if (FINAL_STATUS.has(ev.statusValue)) {
      subject.complete();
      this.external.delete(id);
    }
  }

  private readonly engineOps = new Map<string, Op>();
  /** A change of an engine operation (/operations/list): operations others started get a record (handle = the engine's). */
  observeEngine(o: EngineOperation): void {
    if (!['install', 'remove', 'firmware', 'download'].includes(o.kind) || typeof o.handle !== 'string') return;
    let op = this.engineOps.get(o.handle);
    if (!op) {
      for (const l of this.byHandle.values()) if (l.engineHandle === o.handle) return; // ours
      const mine = this.active(o.id, true);
      if (mine) {
        // Ours, started through the bus before the engine gave it a handle: link them, so a cancel reaches it.
        mine.engineHandle ??= o.handle;
        return;
      }
      if (o.state !== 'queued' && o.state !== 'running') return; // finished before we saw it
      op = {
        handle: this.byHandle.has(o.handle) ? `${o.handle}0` : o.handle, taskId: this.taskIdFor(o.handle), engineHandle: o.handle,
        kind: o.kind as OpKind, id: o.id, version: o.version ?? '', type: o.type ?? '', client: '', state: 'queued', progress: 0,
        stage: 'DOWNLOADING', createTime: o.createTime ? new Date(o.createTime) : new Date(), log: '', local: false,
      };
      this.engineOps.set(o.handle, op);
      this.byHandle.set(op.handle, op);
      this.byTask.set(op.taskId, op);
      this.prune();
    }
    const pct = Math.max(op.progress, Math.min(100, Math.floor(Number(o.progress) || 0)));
    op.progress = pct;
    op.stage = stageOf(pct);
    if (o.startTime) op.startTime = new Date(o.startTime);
    if (o.endTime) op.endTime = new Date(o.endTime);
    if (o.errorText) op.errorText = o.errorText;
    if (['queued', 'running', 'succeeded', 'failed', 'cancelled'].includes(o.state)) op.state = o.state as OpState;
    if (op.state !== 'queued' && op.state !== 'running') this.engineOps.delete(o.handle);
    this.events.next(op);
  }

  /** Resolves when the operation has ended (succeeded, failed or cancelled). */
  done(op: Op): Promise<Op> {
    if (op.state !== 'queued' && op.state !== 'running') return Promise.resolve(op);
    return new Promise((resolve) => {
      const s = this.events.subscribe((o) => {
        if (o === op && o.state !== 'queued' && o.state !== 'running') {
          s.unsubscribe();
          resolve(o);
        }
      });
    });
  }

  /** Starts following a status stream; the Op exists (queued) before the first event. */
  track(kind: OpKind, target: { id: string; version?: string; type?: string }, client: string, stream: Observable<StatusEvent>): Op {
    let handle: string;
    do handle = BigInt.asUintN(63, crypto.randomBytes(8).readBigUInt64BE()).toString(); while (this.byHandle.has(handle));
    const op: Op = {
      handle, taskId: this.nextTask++, kind, id: target.id, version: target.version ?? '', type: target.type ?? '', client,
      state: 'queued', progress: 0, stage: 'DOWNLOADING', createTime: new Date(), log: '', local: true,
    };
    this.byHandle.set(handle, op);
    this.byTask.set(op.taskId, op);
    const label = `${kind === 'remove' ? 'uninstall' : kind} task ${op.id}(${op.version || 'latest'})`;
    this.append(op, `id: ${op.taskId}\ncreate time: ${localTime(op.createTime)}\n${label} added\n`);
    this.prune();
    stream.subscribe({
      next: (ev) => {
        if (ev.handle && !op.engineHandle) op.engineHandle = ev.handle;
        if (op.state === 'queued') {
          op.state = 'running';
          op.startTime = new Date();
          this.append(op, `start time: ${localTime(op.startTime)}\n${label} begin\n`);
        }
        if (typeof ev.details.version === 'string' && !op.version) op.version = ev.details.version;
        if (ev.statusValue !== op.lastStatus && typeof ev.details.state === 'string') this.append(op, `=== ${ev.details.state}\n`);
        op.lastStatus = ev.statusValue;
        if (ev.statusValue === 24 || ev.statusValue === 25 || ev.statusValue === 23) {
          op.errorText = String(ev.details.reason ?? ev.details.errorText ?? 'failed');
          this.finish(op, 'failed', label);
          return;
        }
        if (ev.statusValue === 22) { this.finish(op, 'cancelled', label); return; }
        // A catalog download ends at "ipk download : complete" (10); an install goes on from there.
        if (ev.statusValue === 30 || ev.statusValue === 31 || (kind === 'download' && ev.statusValue === Stage.DOWNLOAD_COMPLETE.statusValue)) { op.progress = 100; op.stage = 'FINISHED'; this.finish(op, 'succeeded', label); return; }
        if (kind !== 'remove') {
          const p = installProgress(ev, op.progress);
          if (p > op.progress) { op.progress = p; op.stage = stageOf(p); }
        }
        this.events.next(op);
      },
      error: (e: Error) => {
        op.error = e;
        op.errorText = e.message;
        this.finish(op, 'failed', label);
      },
      complete: () => {
        if (op.state === 'queued' || op.state === 'running') { op.errorText = op.errorText ?? 'the status stream ended early'; this.finish(op, 'failed', label); }
      },
    });
    return op;
  }

  private finish(op: Op, state: OpState, label: string): void {
    if (op.state !== 'queued' && op.state !== 'running') return;
    op.state = state;
    op.endTime = new Date();
    this.append(op, `end time: ${localTime(op.endTime)}\n${label} ${state}${op.errorText && state === 'failed' ? `: ${op.errorText}` : ''}\n`);
    this.events.next(op);
  }

  private append(op: Op, text: string): void {
    const room = MAX_LOG_CHARS - op.log.length;
    if (room > 0) op.log += text.length <= room ? text : text.slice(0, room);
  }

  private prune(): void {
    const finished = this.list().filter((o) => o.state !== 'queued' && o.state !== 'running');
    for (const o of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) {
      this.byHandle.delete(o.handle);
      this.byTask.delete(o.taskId);
    }
  }
}
