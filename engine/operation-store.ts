// Keeps the engine's operations: hands out handles (decimal, never reused, also across restarts), holds the queued and
// running ones and the last N finished, persists them with their logs under a state directory, recovers after a crash
// (what was queued or running is reported failed, with the reason), and multicasts every change as an event.
// Not the work of an operation (a runner drives each Operation) and not any front-end's vocabulary.
//
// On disk (`<stateDir>/operations/`): `index.json` = { nextHandle, operations: [OperationRecord…] } rewritten
// atomically on every create/start/end (the handle counter travels with the records, so a handle is durable before
// anyone sees it); `logs/<handle>.log` = the operation's log, rewritten at most every logFlushMs while it runs (so a
// crash keeps all but the last moments, and recovery appends the reason) and once more when it ends (a crash between
// the end and that write leaves the log as last flushed; a missing log file reads as an empty log, not an error).
import { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';
import { Observable, Subject } from 'rxjs';
import { EngineErrorCode, EngineErrorText } from '../status-codes/engine';
import { Checked, counterAfterDamage, ensureStateDir, readJsonState, removeStaleTemps, SerialQueue, writeStateFile } from './state-file';
import { unlinkDurable } from './durable-fs';
import { checkAppId } from './locks';
import { DEFAULT_LOG_CAP, LOG_RESERVE, LogRange, OperationLog, rangeProblem, sliceRange } from './operation-log';
import {
  CancelResult, ChangeKind, END_STATES, Operation, OPERATION_KINDS, OPERATION_STATES, OperationJSON, OperationKind, OperationRecord,
  OperationState, PHASES, PhaseWeights, resolveWeights,
} from './operations';
import { checkText, fail, ok, Result } from './result';

export const DEFAULT_HISTORY_SIZE = 200;
export const MAX_HISTORY_SIZE = 10000;
/** Most operations queued or running at once. */
export const MAX_ACTIVE = 256;
const MAX_VERSION = 256;
const MAX_TYPE = 128;
const MAX_CALLER = 256;
/** Bound of one persisted record in UTF-8 (its fields are bounded above: at most about 5.5 KiB); the index is bounded by the record count. */
const MAX_RECORD_BYTES = 8192;

export type OperationEvent =
  | { readonly type: 'created' | 'changed' | 'ended'; readonly operation: OperationJSON }
  | { readonly type: 'log'; readonly handle: string; readonly lines: readonly string[] }
  /** The store could not write its state (the operation goes on; a restart may then not know of it). */
  | { readonly type: 'problem'; readonly text: string };

export interface OperationRequest {
  readonly kind: OperationKind;
  readonly id: string;
  readonly version?: string;
  readonly type?: string;
  /** Who asked (a front-end's identity of the caller: an app id, a uid, a peer address). */
  readonly caller: string;
}

export interface OperationStoreOptions {
  readonly stateDir: string;
  /** How many finished operations to keep (default 200, 1 … 10000). */
  readonly historySize?: number;
  /** Log cap per operation, in characters (default 256 KiB; 1 KiB … 4 MiB). */
  readonly logCap?: number;
  /** How soon new lines of a running operation's log are written to disk (ms, default 1000; 10 … 60000), so a crash keeps them. */
  readonly logFlushMs?: number;
  /** Phase weights per kind (engine/operations.ts DEFAULT_WEIGHTS for what is not given). */
  readonly weights?: unknown;
  readonly clock?: () => Date;
}

/** Pure: checks a create request's fields and bounds. */
export function checkRequest(req: unknown): Result<Required<OperationRequest>> {
  if (!req || typeof req !== 'object') return fail(EngineErrorCode.WRONG_PARAMS, EngineErrorText.fieldType('request', 'an object'));
  const r = req as Record<string, unknown>;
  if (typeof r.kind !== 'string' || !(OPERATION_KINDS as readonly string[]).includes(r.kind)) {
    return fail(EngineErrorCode.WRONG_PARAMS, EngineErrorText.fieldBad('kind', `must be one of ${OPERATION_KINDS.join(', ')}`));
  }
  const id = checkAppId(r.id);
  if (!id.ok) return id;
  const opt = (name: string, v: unknown, max: number): Result<string> => (v === undefined || v === '' ? ok('') : checkText(name, v, max));
  const version = opt('version', r.version, MAX_VERSION);
  if (!version.ok) return version;
  const type = opt('type', r.type, MAX_TYPE);
  if (!type.ok) return type;
  const caller = checkText('caller', r.caller, MAX_CALLER);
  if (!caller.ok) return caller;
  return ok({ kind: r.kind as OperationKind, id: id.value, version: version.value, type: type.value, caller: caller.value });
}

const ISO_OR_EMPTY = /^(|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z)$/;

/** Pure: one persisted record checked field by field (a bad record is skipped and reported, not the whole index). */
export function checkRecord(v: unknown): Checked<OperationRecord> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return { problem: 'an operation record is not an object' };
  const r = v as Record<string, unknown>;
  const shown = () => String(r.handle).slice(0, 20);
  const req = checkRequest(r);
  if (!req.ok) return { problem: `operation ${shown()}: ${req.error.text}` };
  if (typeof r.handle !== 'string' || !/^[1-9][0-9]{0,15}$/.test(r.handle)) return { problem: `operation ${shown()}: bad handle` };
  if (!(OPERATION_STATES as readonly unknown[]).includes(r.state)) return { problem: `operation ${shown()}: bad state` };
  if (!(r.phase === '' || (PHASES as readonly unknown[]).includes(r.phase))) return { problem: `operation ${shown()}: bad phase` };
  if (!Number.isInteger(r.progress) || (r.progress as number) < 0 || (r.progress as number) > 100) return { problem: `operation ${shown()}: bad progress` };
  for (const t of ['createTime', 'startTime', 'endTime'] as const) {
    if (typeof r[t] !== 'string' || !ISO_OR_EMPTY.test(r[t] as string)) return { problem: `operation ${shown()}: bad ${t}` };
  }
  if ((r.errorCode !== undefined || r.errorText !== undefined) && (!Number.isSafeInteger(r.errorCode) || typeof r.errorText !== 'string' || r.errorText.length > 1024)) {
    return { problem: `operation ${shown()}: bad error` };
  }
  const rec: OperationRecord = {
    handle: r.handle, kind: req.value.kind, id: req.value.id, version: req.value.version, type: req.value.type, caller: req.value.caller,
    state: r.state as OperationState, progress: r.progress as number, phase: r.phase as OperationRecord['phase'],
    createTime: r.createTime as string, startTime: r.startTime as string, endTime: r.endTime as string,
  };
  return { value: r.errorCode !== undefined ? { ...rec, errorCode: r.errorCode as number, errorText: r.errorText as string } : rec };
}

interface Index {
  readonly nextHandle: number;
  readonly records: readonly OperationRecord[];
  readonly problems: readonly string[];
}

function checkIndex(json: unknown): Checked<Index> {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return { problem: 'not a JSON object' };
  const { nextHandle, operations } = json as Record<string, unknown>;
  if (!Number.isSafeInteger(nextHandle) || (nextHandle as number) < 1) return { problem: 'nextHandle is not a positive integer' };
  if (!Array.isArray(operations)) return { problem: 'operations is not a list' };
  const records: OperationRecord[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const o of operations) {
    const c = checkRecord(o);
    if ('problem' in c) problems.push(c.problem);
    else if (seen.has(c.value.handle) || Number(c.value.handle) >= (nextHandle as number)) problems.push(`operation ${c.value.handle}: duplicate or beyond nextHandle`);
    else {
      seen.add(c.value.handle);
      records.push(c.value);
    }
  }
  return { value: { nextHandle: nextHandle as number, records, problems } };
}

export class OperationStore {
  private readonly subject = new Subject<OperationEvent>();
  /** Every change, as it happens; any number of subscribers (a multicast Subject: late subscribers see later events). */
  readonly events: Observable<OperationEvent> = this.subject.asObservable();
  /** Queued and running first, then finished, each in handle order (oldest first). */
  private readonly ops = new Map<string, Operation>();
  private nextHandle: number;
  private readonly dir: string;
  private readonly logDir: string;
  private writing: Promise<void> = Promise.resolve();
  private queuedWrite: Promise<void> | null = null;
  private readonly logWrites = new Map<string, Promise<void>>();
  /** Per operation: its log file writes in order (a late periodic write must not land over the final one). */
  private readonly logQueues = new Map<string, SerialQueue>();
  private readonly flushTimers = new Map<string, NodeJS.Timeout>();
  private closed = false;

  private constructor(
    private readonly opts: Required<Pick<OperationStoreOptions, 'stateDir' | 'historySize' | 'logCap' | 'logFlushMs' | 'clock'>>,
    private readonly weights: Record<OperationKind, PhaseWeights>,
    nextHandle: number,
  ) {
    this.nextHandle = nextHandle;
    this.dir = path.join(opts.stateDir, 'operations');
    this.logDir = path.join(this.dir, 'logs');
  }

  /**
   * Loads the index (a damaged one is set aside; bad records are skipped), reports what was queued or running as
   * failed (interrupted), trims the history to its size, and persists the result. `problems` lists what was wrong.
   */
  static async open(options: OperationStoreOptions): Promise<{ store: OperationStore; problems: string[] }> {
    const historySize = options.historySize ?? DEFAULT_HISTORY_SIZE;
    if (!Number.isInteger(historySize) || historySize < 1 || historySize > MAX_HISTORY_SIZE) {
      throw new Error(EngineErrorText.fieldBad('historySize', `must be an integer from 1 to ${MAX_HISTORY_SIZE}`));
    }
    const logCap = options.logCap ?? DEFAULT_LOG_CAP;
    if (!Number.isInteger(logCap) || logCap < 1024 || logCap > 4 * 1024 * 1024) throw new Error(EngineErrorText.fieldBad('logCap', 'must be an integer from 1024 to 4194304'));
    const logFlushMs = options.logFlushMs ?? 1000;
    if (!Number.isInteger(logFlushMs) || logFlushMs < 10 || logFlushMs > 60000) throw new Error(EngineErrorText.fieldBad('logFlushMs', 'must be an integer from 10 to 60000'));
    const weights = resolveWeights(options.weights);
    if (!weights.ok) throw new Error(weights.error.text);
    const clock = options.clock ?? (() => new Date());
    const file = path.join(options.stateDir, 'operations', 'index.json');
    await removeStaleTemps(file);
    const read = await readJsonState(file, (historySize + MAX_ACTIVE) * MAX_RECORD_BYTES + 4096, checkIndex);
    const problems: string[] = [];
    let index: Index = { nextHandle: 1, records: [], problems: [] };
    if (read.kind === 'ok') index = read.value;
    else if (read.kind === 'damaged') {
      problems.push(read.problem);
      index = { nextHandle: counterAfterDamage(clock().getTime()), records: [], problems: [] };
    }
    problems.push(...index.problems);
    const store = new OperationStore({ stateDir: options.stateDir, historySize, logCap, logFlushMs, clock }, weights.value, index.nextHandle);
    await ensureStateDir(store.logDir);
    const now = clock().toISOString();
    const sorted = [...index.records].sort((a, b) => Number(a.handle) - Number(b.handle));
    for (const rec of sorted) {
      let r = rec;
      if (!END_STATES.includes(r.state)) {
        const text = r.state === 'running' ? EngineErrorText.INTERRUPTED : EngineErrorText.INTERRUPTED_QUEUED;
        r = { ...r, state: 'failed', endTime: now, errorCode: EngineErrorCode.INTERRUPTED, errorText: text };
        // Its log holds what was flushed while it ran (up to logFlushMs before the end); the reason goes last.
        const partial = await store.readLogFile(r.handle);
        await writeStateFile(store.logFile(r.handle), `${partial}${partial === '' || partial.endsWith('\n') ? '' : '\n'}${text}\n`);
      }
      store.ops.set(r.handle, store.makeOperation(r));
    }
    await store.trimHistory();
    await store.persist();
    await store.removeOrphanLogs();
    return { store, problems };
  }

  /** Log files of no known operation (trimmed while a write was under way, a set-aside index) and dead temp files. */
  private async removeOrphanLogs(): Promise<void> {
    for (const name of await fs.readdir(this.logDir)) {
      const m = /^([1-9][0-9]{0,15})\.log$/.exec(name);
      if (!m || !this.ops.has(m[1])) await fs.rm(path.join(this.logDir, name), { recursive: true, force: true });
    }
  }

  private logFile(handle: string): string {
    return path.join(this.logDir, `${handle}.log`);
  }

  private makeOperation(rec: OperationRecord | null, req?: Required<OperationRequest>, handle?: string): Operation {
    const kind = rec ? rec.kind : req!.kind;
    const target = rec ? { id: rec.id, version: rec.version, type: rec.type } : { id: req!.id, version: req!.version, type: req!.type };
    // A restored operation has ended: its log lives on disk (read on demand).
    const log = rec ? OperationLog.stored(this.opts.logCap) : new OperationLog(this.opts.logCap);
    return new Operation(
      rec ? rec.handle : handle!, kind, target, rec ? rec.caller : req!.caller, rec ? rec.createTime : this.opts.clock().toISOString(), log,
      this.weights[kind], this.opts.clock, (op, change, lines) => this.onChange(op, change, lines), rec ?? undefined,
    );
  }

  /** Creates a queued operation; its handle is durable when this resolves. Bad requests are errors, not exceptions. */
  async create(request: unknown): Promise<Result<Operation>> {
    const req = checkRequest(request);
    if (!req.ok) return req;
    if (this.active().length >= MAX_ACTIVE) return fail(EngineErrorCode.TOO_MANY, EngineErrorText.tooManyOperations(MAX_ACTIVE));
    const handle = String(this.nextHandle++);
    const op = this.makeOperation(null, req.value, handle);
    this.ops.set(handle, op);
    try {
      await this.persist();
    } catch (e) {
      this.ops.delete(handle); // the handle stays used: nextHandle is never turned back
      throw e;
    }
    this.subject.next({ type: 'created', operation: op.toJSON() });
    op.appendLog(`${op.kind} ${op.target.id}${op.target.version ? ` ${op.target.version}` : ''} queued by ${op.caller}`);
    return ok(op);
  }

  private onChange(op: Operation, change: ChangeKind, lines?: readonly string[]): void {
    if (!this.ops.has(op.handle)) return; // not created yet (its first log line) or dropped
    if (change === 'log') {
      this.subject.next({ type: 'log', handle: op.handle, lines: lines ?? [] });
      if (!op.ended) this.scheduleLogFlush(op);
      return;
    }
    this.subject.next({ type: change === 'started' ? 'changed' : change, operation: op.toJSON() });
    if (change === 'ended') {
      clearTimeout(this.flushTimers.get(op.handle));
      this.flushTimers.delete(op.handle);
      const text = op.log.all();
      const w = this.logQueue(op.handle)
        .run(() => writeStateFile(this.logFile(op.handle), text))
        .then(() => op.log.release())
        .then(() => this.persist())
        .then(() => this.trimHistory())
        .catch((e: unknown) => this.problem(e))
        .finally(() => {
          this.logWrites.delete(op.handle);
          this.logQueues.delete(op.handle);
        });
      this.logWrites.set(op.handle, w);
    } else if (change === 'started') {
      this.persist().catch((e: unknown) => this.problem(e)); // queued → running is worth recording
    }
  }

  private logQueue(handle: string): SerialQueue {
    let q = this.logQueues.get(handle);
    if (!q) this.logQueues.set(handle, (q = new SerialQueue()));
    return q;
  }

  /** A running operation's log reaches disk at most logFlushMs after a line (atomically, not fsynced each time). */
  private scheduleLogFlush(op: Operation): void {
    if (this.flushTimers.has(op.handle) || this.closed) return;
    const timer = setTimeout(() => {
      this.flushTimers.delete(op.handle);
      if (op.ended || this.closed) return;
      const text = op.log.all();
      this.logQueue(op.handle)
        .run(() => writeStateFile(this.logFile(op.handle), text))
        .catch((e: unknown) => this.problem(e));
    }, this.opts.logFlushMs);
    timer.unref();
    this.flushTimers.set(op.handle, timer);
  }

  private problem(e: unknown): void {
    this.subject.next({ type: 'problem', text: `operation state not saved: ${(e as Error)?.message ?? String(e)}` });
  }

  /** Writes the index; calls made while a write runs share the one write that follows it (which sees their changes). */
  private persist(): Promise<void> {
    if (this.queuedWrite) return this.queuedWrite;
    const p = this.writing.catch(() => undefined).then(() => {
      this.queuedWrite = null;
      const body = JSON.stringify({ nextHandle: this.nextHandle, operations: [...this.ops.values()].map((o) => o.toRecord()) });
      return writeStateFile(path.join(this.dir, 'index.json'), body);
    });
    this.queuedWrite = p;
    this.writing = p;
    return p;
  }

  /** Drops the oldest finished operations beyond the history size (index first, then their logs). */
  private async trimHistory(): Promise<void> {
    const finished = [...this.ops.values()].filter((o) => o.ended).sort((a, b) => Number(a.handle) - Number(b.handle));
    const drop = finished.slice(0, Math.max(0, finished.length - this.opts.historySize));
    if (drop.length === 0) return;
    for (const o of drop) this.ops.delete(o.handle);
    await this.persist();
    for (const o of drop) await unlinkDurable(this.logFile(o.handle));
  }

  private find(handle: unknown): Result<Operation> {
    const h = checkText('handle', handle, 20);
    if (!h.ok) return h;
    const op = this.ops.get(h.value);
    return op ? ok(op) : fail(EngineErrorCode.WRONG_HANDLE, EngineErrorText.noSuchOperation(h.value));
  }

  /** The live Operation of a handle (for a runner and for cancel). */
  operation(handle: unknown): Result<Operation> {
    return this.find(handle);
  }

  get(handle: unknown): Result<OperationJSON> {
    const op = this.find(handle);
    return op.ok ? ok(op.value.toJSON()) : op;
  }

  /** All operations known (active and history) in handle order, optionally of one state. */
  list(filter: { state?: unknown } = {}): Result<OperationJSON[]> {
    if (filter.state !== undefined && !(OPERATION_STATES as readonly unknown[]).includes(filter.state)) {
      return fail(EngineErrorCode.WRONG_PARAMS, EngineErrorText.fieldBad('state', `must be one of ${OPERATION_STATES.join(', ')}`));
    }
    const all = [...this.ops.values()].sort((a, b) => Number(a.handle) - Number(b.handle)).map((o) => o.toJSON());
    return ok(filter.state === undefined ? all : all.filter((o) => o.state === filter.state));
  }

  active(): Operation[] {
    return [...this.ops.values()].filter((o) => !o.ended);
  }

  /** The log's [start, end) character range; a finished operation's log is read from disk (bounded). */
  async readLog(handle: unknown, start?: unknown, end?: unknown): Promise<Result<LogRange>> {
    const op = this.find(handle);
    if (!op.ok) return op;
    const why = rangeProblem(start, end);
    if (why) return fail(EngineErrorCode.WRONG_PARAMS, why);
    const s = start as number | undefined;
    const e = end as number | undefined;
    if (!op.value.log.stored) return ok(op.value.log.read(s, e));
    return ok(sliceRange(await this.readLogFile(op.value.handle), true, s, e));
  }

  private async readLogFile(handle: string): Promise<string> {
    const maxBytes = (this.opts.logCap + LOG_RESERVE) * 3; // UTF-8 of UTF-16 code units: at most 3 bytes each
    let fh;
    try {
      fh = await fs.open(this.logFile(handle), fsc.O_RDONLY | fsc.O_NOFOLLOW);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw e;
    }
    try {
      const buf = Buffer.alloc(maxBytes);
      const { bytesRead } = await fh.read(buf, 0, maxBytes, 0);
      return buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await fh.close();
    }
  }

  /** Cancel by handle (see Operation.requestCancel); an unknown handle is WRONG_HANDLE. */
  cancel(handle: unknown): Result<CancelResult> {
    const op = this.find(handle);
    return op.ok ? ok(op.value.requestCancel()) : op;
  }

  /**
   * Writes a running operation's log now (a runner calls it at its step boundaries, so a crash there keeps every line
   * up to the boundary); an ended or unknown operation's log is already written or on its way.
   */
  async flushLog(handle: string): Promise<void> {
    const op = this.ops.get(handle);
    if (!op || op.ended || this.closed) return;
    const text = op.log.all();
    await this.logQueue(handle)
      .run(() => writeStateFile(this.logFile(handle), text))
      .catch((e: unknown) => this.problem(e));
  }

  /** Resolves when every state and log write started so far has ended. */
  async flush(): Promise<void> {
    await Promise.all([...this.logWrites.values()]);
    await Promise.all([...this.logQueues.values()].map((q) => q.run(async () => undefined)));
    await this.writing.catch(() => undefined);
  }

  /**
   * Stops periodic log writes, waits for the writes under way, ends the event stream. Operations still queued or
   * running are not ended: the next open() reports them failed (interrupted), as after a crash.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.flushTimers.values()) clearTimeout(t);
    this.flushTimers.clear();
    await this.flush();
    this.subject.complete();
  }
}
