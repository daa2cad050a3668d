// Runs install and remove tasks: one task per request id, one per package, at most N at once (the rest queued in
// order), each as the step pipeline of its table (steps.ts). Every task's events, protocol-neutral (task-events.ts),
// go to every listener; what a listener makes of them (statusValues on the bus, progress bars) is its own business.
import { Subject, defer, EMPTY } from 'rxjs';
import { mergeMap, catchError } from 'rxjs/operators';
import { CodedError, ErrorCode, ErrorText } from '../status-codes';
import { driveSteps, type Step, type StepEvent } from './steps';
import type { TaskEnd, TaskEvent, TaskFacts, TaskInfo, TaskNews } from './task-events';
import { appRootOf, busTreeOf, type InstallEnv, type PackageLocks, type TaskContext, type TaskRequest } from './task-context';
// The app tables of install-steps.ts / remove-steps.ts, with the firmware work of each step for firmware packages.
import { INSTALL_STEPS, REMOVE_STEPS } from './firmware-steps';
import { isNoSpace } from './durable-fs';
import { closeIpk } from '../ipk/ipk-reader';
import { ensureSpaceReserve } from './space-reserve';
import { downloadSteps } from './download-steps';

/** The engine's own error codes (-2xx: locks, dependencies, operations) are kept as they are by taskEnd. */
function isEngineCode(code: number): boolean {
  return code <= -200 && code >= -299;
}

/**
 * Pure: how a task ends for an error. A cancel is `cancelled`; the engine's own codes are kept; a full disk is -3 on an
 * install; any other error is -5 on an install with FAILED_IPKG_INSTALL before its text unless it carries its own code;
 * every remove failure is -7 FAILED_REMOVE (its own code and text kept in the text). An error that names its phase
 * (download-steps.ts DownloadFailed) keeps it.
 */
export function taskEnd(op: 'install' | 'remove', err: unknown, facts: TaskFacts = {}, step?: string): TaskEnd {
  const phase = (err as { phase?: unknown } | null)?.phase;
  const base: TaskEnd = { outcome: 'failed', facts, ...(step !== undefined ? { step } : {}), ...(typeof phase === 'string' ? { phase } : {}) };
  if (err instanceof CodedError && err.code === ErrorCode.CANCELLED) return { ...base, outcome: 'cancelled', error: { code: err.code, text: err.text } };
  if (err instanceof CodedError && isEngineCode(err.code)) return { ...base, error: { code: err.code, text: err.message } };
  const message = err instanceof Error ? err.message : String(err);
  let code: number, text: string;
  if (err instanceof CodedError && err.code === ErrorCode.NO_SPACE) {
    code = err.code;
    text = err.message;
  } else if (isNoSpace(err)) {
    // A full disk at any step, by the errno code (also when a lower layer wrapped it: its `cause` keeps it).
    code = op === 'install' ? ErrorCode.NO_SPACE : ErrorCode.REMOVE_FAILED;
    text = `${op === 'install' ? ErrorText.NO_SPACE : ErrorText.FAILED_REMOVE}: ${message}`;
  } else if (err instanceof CodedError) {
    code = err.code;
    text = err.message;
  } else {
    code = op === 'install' ? ErrorCode.INSTALL_FAILED : ErrorCode.REMOVE_FAILED;
    text = `${op === 'install' ? ErrorText.FAILED_IPKG_INSTALL : ErrorText.FAILED_REMOVE}: ${message}`;
  }
  if (op === 'remove' && code !== ErrorCode.REMOVE_FAILED && code !== ErrorCode.PRIVILEGED_REMOVE_IN_DEVMODE) {
    code = ErrorCode.REMOVE_FAILED;
    if (!text.startsWith(ErrorText.FAILED_REMOVE)) text = `${ErrorText.FAILED_REMOVE}: ${text}`;
  }
  return { ...base, error: { code, text } };
}

export class SimplePackageLocks implements PackageLocks {
  private readonly held = new Map<string, string>();
  acquire(packageId: string, taskId: string): boolean {
    const owner = this.held.get(packageId);
    if (owner !== undefined && owner !== taskId) return false;
    this.held.set(packageId, taskId);
    return true;
  }
  release(packageId: string, taskId: string): void {
    if (this.held.get(packageId) === taskId) this.held.delete(packageId);
  }
  isHeld(packageId: string): boolean {
    return this.held.has(packageId);
  }
}

interface QueuedTask {
  req: TaskRequest;
  info: TaskInfo;
  ctx: TaskContext;
  started: boolean;
  /** Ended before it started (cancelQueued): the queue skips it. */
  skipped?: boolean;
  done: Promise<TaskEnd>;
  resolve(end: TaskEnd): void;
}

let taskCounter = 0;

/** What the engine's operations (task-operations.ts) do with the queue's tasks. */
export interface TaskHooks {
  /** A task was queued (synchronously, inside submit). */
  queued(req: TaskRequest, ctx: TaskContext): void;
  /** The step table the task runs (each step wrapped as a part of the task's operation). */
  steps(req: TaskRequest, ctx: TaskContext, steps: readonly Step<TaskContext>[]): readonly Step<TaskContext>[];
  /** Each step event, as it happens (never throws). */
  step?(req: TaskRequest, ctx: TaskContext, e: StepEvent): void;
  /** The task's end, before any listener hears it: the promise settles once the end is durable. */
  ended(req: TaskRequest, ctx: TaskContext, end: TaskEnd): Promise<void>;
  /** Given the queue's way to end a task that has not started (a cancel while queued); true when it did. */
  attach?(cancelQueued: (taskId: string, end: TaskEnd) => boolean): void;
}

export type TaskListener = (news: TaskNews) => void;

export class TaskQueue {
  private readonly byId = new Map<string, QueuedTask>();
  private readonly submit$ = new Subject<QueuedTask>();
  private readonly listeners = new Set<TaskListener>();
  readonly locks = new SimplePackageLocks();

  constructor(private readonly env: Omit<InstallEnv, 'locks'>, private readonly hooks?: TaskHooks) {
    this.submit$.pipe(mergeMap((t) => (t.skipped ? EMPTY : this.run(t)), env.config.maxConcurrentTasks)).subscribe();
    hooks?.attach?.((taskId, end) => this.cancelQueued(taskId, end));
  }

  /** Hears every event of every task from now on, in order; returns the unsubscribe. A listener that throws is
   *  logged and keeps listening: no listener can stop or fail a task. */
  listen(fn: TaskListener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private tell(t: QueuedTask, event: TaskEvent): void {
    for (const fn of this.listeners) {
      try {
        fn({ task: t.info, event });
      } catch (e) {
        this.env.log(`${t.req.op} ${t.req.id}: a listener failed on ${event.type}: ${(e as Error).stack ?? e}`);
      }
    }
  }

  /** Ends a task that has not started with `end`, told at once; false when it has started (or is unknown). */
  private cancelQueued(taskId: string, end: TaskEnd): boolean {
    const t = [...this.byId.values()].find((x) => x.req.taskId === taskId);
    if (!t || t.started) return false;
    t.started = true;
    t.skipped = true;
    if (t.ctx.packageId) this.locks.release(t.ctx.packageId, taskId);
    this.byId.delete(t.req.id);
    this.env.log(`${t.req.op} ${t.req.id}: ${end.outcome} before it started`);
    this.tell(t, { type: 'end', ...end });
    t.resolve(end);
    return true;
  }

  private readonly reserved = new Set<string>();

  /** A task is queued or running for this request id (or a request for it is being checked). */
  has(id: string): boolean {
    return this.byId.has(id) || this.reserved.has(id);
  }

  /** Holds the id while a request is checked asynchronously (so a request arriving meanwhile is a duplicate); returns the release. */
  reserve(id: string): () => void {
    this.reserved.add(id);
    return () => this.reserved.delete(id);
  }

  /** Refuses (CodedError -5 install / -7 remove, TOO_MANY_TASKS) a non-root caller that already has
   *  config.maxQueuedTasksPerCaller tasks queued or running, so no one user can grow the queue without bound. */
  checkCallerQuota(op: 'install' | 'remove', caller: { uid: number }): void {
    if (caller.uid === 0) return;
    const limit = this.env.config.maxQueuedTasksPerCaller;
    let n = 0;
    for (const t of this.byId.values()) if (t.req.caller?.uid === caller.uid) n++;
    if (n >= limit) {
      throw new CodedError(op === 'install' ? ErrorCode.INSTALL_FAILED : ErrorCode.REMOVE_FAILED, ErrorText.TOO_MANY_TASKS, `uid ${caller.uid} has ${n} (limit ${limit})`);
    }
  }

  /** Number of queued or running tasks. */
  get size(): number {
    return this.byId.size;
  }

  /**
   * Queues a task. Throws CodedError DUPLICATE_COMMAND when the id (or, for a remove, the package) is busy.
   * `accepted` runs once the task is accepted, before any listener hears of it: the caller subscribes to that task's
   * events there. Resolves with the task's end (never rejects once accepted).
   */
  submit(op: 'install' | 'remove', r: Omit<TaskRequest, 'taskId' | 'op'>, packageId?: string, accepted?: (info: TaskInfo) => void): Promise<TaskEnd> {
    const code = op === 'install' ? ErrorCode.INSTALL_FAILED : ErrorCode.REMOVE_FAILED;
    if (op === 'install' && !r.source) throw new CodedError(ErrorCode.INVALID_PARAMETER, ErrorText.NO_PACKAGE_SOURCE);
    if (r.source && 'download' in r.source && !this.env.downloader) throw new CodedError(ErrorCode.INVALID_PARAMETER, ErrorText.NO_DOWNLOADER);
    if (this.byId.has(r.id)) throw new CodedError(code, ErrorText.DUPLICATE_COMMAND);
    if (r.caller) this.checkCallerQuota(op, r.caller);
    const taskId = `${Date.now().toString(36)}-${process.pid}-${++taskCounter}`;
    if (packageId !== undefined && !this.locks.acquire(packageId, taskId)) throw new CodedError(code, ErrorText.DUPLICATE_COMMAND);
    const req: TaskRequest = { ...r, taskId, op };
    const appRoot = appRootOf(this.env.layout, req.developer);
    const ctx: TaskContext = { env: { ...this.env, locks: this.locks }, req, appRoot, busTree: busTreeOf(this.env.layout, req.developer), packageId };
    const info: TaskInfo = {
      taskId, op, id: req.id, developer: req.developer, client: req.client,
      ...(op === 'install' ? { installBasePath: appRoot.base } : {}),
      ...(packageId !== undefined ? { packageId } : {}),
      ...(req.meta !== undefined ? { meta: req.meta } : {}),
    };
    let resolve!: (end: TaskEnd) => void;
    const done = new Promise<TaskEnd>((res) => (resolve = res));
    const t: QueuedTask = { req, info, ctx, started: false, done, resolve };
    this.byId.set(req.id, t);
    this.hooks?.queued(req, ctx);
    accepted?.(info);
    this.tell(t, { type: 'queued' });
    this.submit$.next(t);
    return done;
  }

  /** Resolves when no task is queued or running. */
  async idle(): Promise<void> {
    while (this.byId.size > 0) await Promise.race([...this.byId.values()].map((t) => t.done));
  }

  /** Facts known of a task whatever its end: what an error report should still name. */
  private factsOf(ctx: TaskContext): TaskFacts {
    return { ...(ctx.packageId ? { packageId: ctx.packageId } : {}), ...(ctx.signature ? { signature: ctx.signature } : {}) };
  }

  /** The download steps of an install from a URL (none for a file). */
  private downloadStepsOf(req: TaskRequest): Step<TaskContext>[] {
    const source = req.source;
    if (!source || !('download' in source)) return [];
    return downloadSteps(this.env.downloader!, source.download, undefined, source.note);
  }

  /** One task from start to end. The package lock, the ipk handle and the id are given back only once the task's
   *  steps (and undos) are over and its end is durable; listeners hear the end right after, in the same turn. */
  private run(t: QueuedTask) {
    const table: readonly Step<TaskContext>[] = t.req.op === 'install' ? [...this.downloadStepsOf(t.req), ...INSTALL_STEPS] : REMOVE_STEPS;
    const steps = this.hooks ? this.hooks.steps(t.req, t.ctx, table) : table;
    return defer(async () => {
      t.started = true;
      let end: TaskEnd | undefined;
      try {
        const r = await driveSteps(steps, t.ctx,
          (step, err) => this.env.log(`${t.req.op} ${t.req.id}: undo of ${step} failed (recovery will finish it): ${(err as Error).message}`),
          (e) => {
            this.hooks?.step?.(t.req, t.ctx, e);
            this.tell(t, { type: 'step', ...e });
          });
        end = r.ok ? { outcome: 'succeeded', facts: this.factsOf(t.ctx) } : taskEnd(t.req.op, r.error, this.factsOf(t.ctx), r.step);
      } catch (e) {
        end = taskEnd(t.req.op, new Error(`internal error: ${(e as Error).message}`), this.factsOf(t.ctx));
      } finally {
        end ??= taskEnd(t.req.op, new Error('internal error'), this.factsOf(t.ctx));
        try {
          await this.hooks?.ended(t.req, t.ctx, end); // the end is on disk (operation state and log) before anyone hears of it
        } catch (e) {
          this.env.log(`${t.req.op} ${t.req.id}: operation record not updated: ${(e as Error).message}`);
        }
        // In the same turn as the end: a request for the id sent on hearing it is never a duplicate.
        if (t.ctx.packageId) this.locks.release(t.ctx.packageId, t.req.taskId);
        this.byId.delete(t.req.id);
        if (t.ctx.ipk) void closeIpk(t.ctx.ipk);
        void ensureSpaceReserve(this.env.layout.installerState);
        this.tell(t, { type: 'end', ...end });
        this.env.log(`${t.req.op} ${t.req.id}${t.ctx.packageId && t.ctx.packageId !== t.req.id ? ` (${t.ctx.packageId})` : ''}: ${end.outcome}${end.error ? `: ${end.error.text}` : ''}`);
        t.resolve(end);
      }
    }).pipe(catchError(() => EMPTY));
  }
}
