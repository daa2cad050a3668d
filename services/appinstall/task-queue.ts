// Runs install and remove tasks: one task per request id, one per package, at most N at once (the rest queued
// in order), each as the step pipeline of its table folded into status events. Who hears the events is the caller's.
import { Subject, defer } from 'rxjs';
import { mergeMap, catchError } from 'rxjs/operators';
import { EMPTY } from 'rxjs';
import { CodedError, ErrorCode, ErrorText, type StageName } from '../../status-codes';
import { driveSteps, type Step } from './task-runner';
import { foldEvent, initialEvent, isFinalEvent, type Details, type StageUpdate, type StatusEvent } from './status-events';
import { appRootOf, busTreeOf, type InstallEnv, type PackageLocks, type TaskContext, type TaskRequest } from './task-context';
// The app tables of install-steps.ts / remove-steps.ts, with the firmware work of each step for firmware packages.
import { INSTALL_STEPS, REMOVE_STEPS } from './firmware-steps';
import { isNoSpace } from '../../engine/durable-fs';
import { closeIpk } from '../../ipk/ipk-reader';
import { ensureSpaceReserve } from '../../engine/space-reserve';

/** Pure: the failure update of a task for any error (CodedError keeps its code; a full disk is -3 on install). */
export function failureUpdate(op: 'install' | 'remove', err: unknown, extra: Details = {}): StageUpdate {
  // An error may name its own failure stage (url-install.ts: a failed download ends in 23, not 24).
  const stage: StageName = (err as { failStage?: StageName } | null)?.failStage ?? (op === 'install' ? 'INSTALL_FAILED' : 'REMOVE_FAILED');
  const message = err instanceof Error ? err.message : String(err);
  let errorCode: number, reason: string;
  if (err instanceof CodedError && err.code === ErrorCode.NO_SPACE) {
    errorCode = err.code;
    reason = err.message;
  } else if (isNoSpace(err)) {
    // A full disk at any step, by the errno code (also when a lower layer wrapped it: its `cause` keeps it).
    errorCode = op === 'install' ? ErrorCode.NO_SPACE : ErrorCode.REMOVE_FAILED;
    reason = `${op === 'install' ? ErrorText.NO_SPACE : ErrorText.FAILED_REMOVE}: ${message}`;
  } else if (err instanceof CodedError) {
    errorCode = err.code;
    reason = err.message;
  } else {
    errorCode = op === 'install' ? ErrorCode.INSTALL_FAILED : ErrorCode.REMOVE_FAILED;
    reason = `${op === 'install' ? ErrorText.FAILED_IPKG_INSTALL : ErrorText.FAILED_REMOVE}: ${message}`;
  }
  if (op === 'remove' && errorCode !== ErrorCode.REMOVE_FAILED && errorCode !== ErrorCode.PRIVILEGED_REMOVE_IN_DEVMODE) {
    // every remove failure is a -7 (its own code and text kept in the reason)
    errorCode = ErrorCode.REMOVE_FAILED;
    if (!reason.startsWith(ErrorText.FAILED_REMOVE)) reason = `${ErrorText.FAILED_REMOVE}: ${reason}`;
  }
  return { stage, patch: { ...extra, errorCode, reason } };
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

/**
 * Where a task's events go: `final` marks the event the task ends with (sent once; a task that ended without one,
 * after an internal error, repeats its last event with `final` and `repeat` set, so the caller's call still ends).
 */
export type TaskPublisher = (ev: StatusEvent, task: { taskId: string; final: boolean; repeat?: boolean }) => void;

interface QueuedTask {
  req: TaskRequest;
  finalSent: boolean;
  ctx: TaskContext;
  current: StatusEvent;
  started: boolean;
  /** Ended before it started (endQueued): the queue skips it. */
  skipped?: boolean;
  /** Settles once every event so far has passed the hook and been published. */
  published: Promise<void>;
  done: Promise<StatusEvent>;
  resolve(ev: StatusEvent): void;
}

let taskCounter = 0;

/** Optional observers of the queue (engine-bridge.ts: each task as an engine operation); none changes webOS behaviour. */
export interface TaskHooks {
  /** A task was queued (synchronously, inside submit). */
  queued(req: TaskRequest, ctx: TaskContext): void;
  /** The step table the task runs (the bridge wraps each step for its operation). */
  steps(req: TaskRequest, ctx: TaskContext, steps: readonly Step<TaskContext>[]): readonly Step<TaskContext>[];
  /** The failure update of an error the bridge knows (cancel, lock, dependencies); undefined: the usual one. */
  failure(req: TaskRequest, ctx: TaskContext, err: unknown): StageUpdate | undefined;
  /** Every event, before it is published; a returned promise holds the event (and those after it) back until it settles. */
  event(req: TaskRequest, ctx: TaskContext, ev: StatusEvent): void | Promise<void>;
  /** Given the queue's way to end a task that has not started (a cancel while queued) with its final update. */
  attach?(endQueued: (taskId: string, update: StageUpdate) => boolean): void;
}

export class TaskQueue {
  private readonly byId = new Map<string, QueuedTask>();
  private readonly submit$ = new Subject<QueuedTask>();
  readonly locks = new SimplePackageLocks();

  constructor(private readonly env: Omit<InstallEnv, 'locks'>, private readonly publish: TaskPublisher, private readonly hooks?: TaskHooks) {
    this.submit$.pipe(mergeMap((t) => (t.skipped ? EMPTY : this.run(t)), env.config.maxConcurrentTasks)).subscribe();
    hooks?.attach?.((taskId, update) => this.endQueued(taskId, update));
  }

  /** Ends a task that has not started with `update`, published at once; false when it has started (or is unknown). */
  private endQueued(taskId: string, update: StageUpdate): boolean {
    const t = [...this.byId.values()].find((x) => x.req.taskId === taskId);
    if (!t || t.started) return false;
    t.started = true;
    t.skipped = true;
    t.current = foldEvent(t.current, update);
    t.finalSent = true;
    this.publish(t.current, { taskId, final: true });
    if (t.ctx.packageId) this.locks.release(t.ctx.packageId, taskId);
    this.byId.delete(t.req.id);
    this.env.log(`${t.req.op} ${t.req.id}: ${t.current.details.state} before it started`);
    t.resolve(t.current);
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

  /** Current events of the running tasks (`/status`). */
  currentEvents(): StatusEvent[] {
    return [...this.byId.values()].filter((t) => t.started && t.current.statusValue !== 0).map((t) => t.current);
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
   * `accepted` runs once the task is accepted, before its first event: the caller subscribes to that task's events there.
   */
  submit(op: 'install' | 'remove', r: Omit<TaskRequest, 'taskId' | 'op'>, packageId?: string, accepted?: (taskId: string) => void): Promise<StatusEvent> {
    const code = op === 'install' ? ErrorCode.INSTALL_FAILED : ErrorCode.REMOVE_FAILED;
    if (this.byId.has(r.id)) throw new CodedError(code, ErrorText.DUPLICATE_COMMAND);
    if (r.caller) this.checkCallerQuota(op, r.caller);
    const taskId = `${Date.now().toString(36)}-${process.pid}-${++taskCounter}`;
    if (packageId !== undefined && !this.locks.acquire(packageId, taskId)) throw new CodedError(code, ErrorText.DUPLICATE_COMMAND);
    const req: TaskRequest = { ...r, taskId, op };
    const appRoot = appRootOf(this.env.layout, req.developer);
    const ctx: TaskContext = { env: { ...this.env, locks: this.locks }, req, appRoot, busTree: busTreeOf(this.env.layout, req.developer), packageId };
    const base: Details = { client: req.client, verified: !req.developer };
    if (op === 'install') base.installBasePath = appRoot.base;
    if (packageId) base.packageId = packageId;
    let resolve!: (ev: StatusEvent) => void;
    const done = new Promise<StatusEvent>((res) => (resolve = res));
    const t: QueuedTask = { req, finalSent: false, published: Promise.resolve(), ctx, current: initialEvent(req.id, req.payload, base), started: false, done, resolve };
    this.byId.set(req.id, t);
    this.hooks?.queued(req, ctx);
    accepted?.(taskId);
    this.submit$.next(t);
    return done;
  }

  /** Resolves when no task is queued or running. */
  async idle(): Promise<void> {
    while (this.byId.size > 0) await Promise.race([...this.byId.values()].map((t) => t.done));
  }

  /** Folds an update into the task's event and publishes it; a progress report that changes nothing is not pushed.
   *  Publishing never throws into the task: a listener's failure is logged and the task goes on. */
  private update(t: QueuedTask, u: StageUpdate): void {
    const ev = foldEvent(t.current, u);
    const same = ev.statusValue === t.current.statusValue && JSON.stringify(ev.details) === JSON.stringify(t.current.details);
    t.current = ev;
    if (same) return;
    const send = () => {
      const final = isFinalEvent(ev);
      if (final) t.finalSent = true;
      try {
        this.publish(ev, { taskId: t.req.taskId, final });
      } catch (e) {
        this.env.log(`${t.req.op} ${t.req.id}: status event not delivered: ${(e as Error).message}`);
      }
    };
    const hooks = this.hooks;
    if (!hooks) return send();
    // The hook may hold an event back (and those after it, order kept) until it settles.
    t.published = t.published
      .then(() => hooks.event(t.req, t.ctx, ev))
      .catch((e) => this.env.log(`${t.req.op} ${t.req.id}: operation record not updated: ${(e as Error).message}`))
      .then(send);
  }

  /** One task from start to end. The package lock, the ipk handle and the id are given back only once the task's
   *  steps (and undos) are over: driveSteps never returns before that, whatever a step throws. */
  private run(t: QueuedTask) {
    const table: readonly Step<TaskContext>[] = [...(t.req.preSteps ?? []), ...(t.req.op === 'install' ? INSTALL_STEPS : REMOVE_STEPS)];
    const steps = this.hooks ? this.hooks.steps(t.req, t.ctx, table) : table;
    return defer(async () => {
      t.started = true;
      try {
        await driveSteps(steps, t.ctx, {
          failure: (err) => this.hooks?.failure(t.req, t.ctx, err) ?? failureUpdate(t.req.op, err, {
            ...(t.ctx.packageId ? { packageId: t.ctx.packageId } : {}),
            ...(t.ctx.signature ? { signature: t.ctx.signature } : {}),
          }),
          undoFailed: (step, err) => this.env.log(`${t.req.op} ${t.req.id}: undo of ${step} failed (recovery will finish it): ${(err as Error).message}`),
          emitFailed: (err) => this.env.log(`${t.req.op} ${t.req.id}: internal error: ${(err as Error).stack ?? err}`),
        }, (u) => this.update(t, u));
      } finally {
        await t.published; // the hook may hold events back (engine-bridge.ts: the final one until it is durable)
        // In the same turn as the final event: a request for the id sent on seeing it is never a duplicate.
        if (t.ctx.packageId) this.locks.release(t.ctx.packageId, t.req.taskId);
        this.byId.delete(t.req.id);
        if (t.ctx.ipk) void closeIpk(t.ctx.ipk);
        void ensureSpaceReserve(this.env.layout.installerState);
        if (!t.finalSent) {
          try {
            this.publish(t.current, { taskId: t.req.taskId, final: true, repeat: true });
          } catch (e) {
            this.env.log(`${t.req.op} ${t.req.id}: status event not delivered: ${(e as Error).message}`);
          }
        }
        const s = t.current;
        this.env.log(`${t.req.op} ${t.req.id}${t.ctx.packageId && t.ctx.packageId !== t.req.id ? ` (${t.ctx.packageId})` : ''}: ${s.details.state}${s.details.reason ? `: ${s.details.reason}` : ''}`);
        t.resolve(s);
      }
    }).pipe(catchError(() => EMPTY));
  }
}
