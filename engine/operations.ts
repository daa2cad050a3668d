// The operation model: what an install, remove, download, firmware install or refresh is while it runs (handle,
// target, caller, state, phase, weighted monotonic progress, times, result, log, cancel request and commit point).
// Not the work itself (the runner that downloads and unpacks drives an Operation through its methods) and not storage
// (engine/operation-store.ts keeps operations, hands out handles, persists history and sends the events).
//
// States: queued → running → succeeded | failed | cancelled; queued → cancelled | failed. Nothing leaves an end state.
// Cancel: queued ends cancelled at once; running, before the commit point, sets the abort signal and the runner stops
// at its next safe point, undoes, and calls cancelled(); past the commit point (commit() returned true) it is refused.
// commit() returns false when a cancel came first, so "cancel" and "commit" can never both win.
import { EngineErrorCode, EngineErrorText } from '../status-codes/engine';
import { ErrorCode } from '../status-codes';
import { EngineError, fail, ok, Result } from './result';
import { OperationLog } from './operation-log';

export const OPERATION_KINDS = ['install', 'remove', 'download', 'firmware', 'refresh'] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number];
export const OPERATION_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type OperationState = (typeof OPERATION_STATES)[number];
export const END_STATES: readonly OperationState[] = ['succeeded', 'failed', 'cancelled'];
/** Phases in the order they run; a runner may skip some (a local install has no download) but never go back. */
export const PHASES = ['download', 'verify', 'unpack', 'register'] as const;
export type Phase = (typeof PHASES)[number];

/** Relative weight of each phase in the progress of one kind; missing phases weigh 0. */
export type PhaseWeights = Readonly<Partial<Record<Phase, number>>>;

/**
 * Default weights. Install and firmware as LISA splits its progress (download 90 %, extract 5 %, database 5 %, in
 * research of the Thunder PackageManager) with verify taken out of the download share; remove reports its work
 * (unregistering and deleting) as the `register` phase; download and refresh are nearly all transfer.
 */
export const DEFAULT_WEIGHTS: Readonly<Record<OperationKind, PhaseWeights>> = {
  install: { download: 80, verify: 10, unpack: 5, register: 5 },
  firmware: { download: 80, verify: 10, unpack: 5, register: 5 },
  remove: { register: 100 },
  download: { download: 95, verify: 5 },
  refresh: { download: 95, verify: 5 },
};

/** Pure: checks configured weights (finite, 0 … 1000, some phase above 0) and fills the defaults in. */
export function resolveWeights(config: unknown): Result<Record<OperationKind, PhaseWeights>> {
  const out: Record<OperationKind, PhaseWeights> = { ...DEFAULT_WEIGHTS };
  if (config === undefined) return ok(out);
  if (!config || typeof config !== 'object' || Array.isArray(config)) return fail(EngineErrorCode.WRONG_PARAMS, EngineErrorText.badWeights('all kinds', 'must be an object'));
  for (const [kind, w] of Object.entries(config as Record<string, unknown>)) {
    if (!(OPERATION_KINDS as readonly string[]).includes(kind)) return fail(EngineErrorCode.WRONG_PARAMS, EngineErrorText.badWeights(kind.slice(0, 20), 'unknown kind'));
    if (!w || typeof w !== 'object' || Array.isArray(w)) return fail(EngineErrorCode.WRONG_PARAMS, EngineErrorText.badWeights(kind, 'must be an object of phase → weight'));
    let total = 0;
    for (const [phase, v] of Object.entries(w as Record<string, unknown>)) {
      if (!(PHASES as readonly string[]).includes(phase)) return fail(EngineErrorCode.WRONG_PARAMS, EngineErrorText.badWeights(kind, `unknown phase ${phase.slice(0, 20)}`));
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1000) return fail(EngineErrorCode.WRONG_PARAMS, EngineErrorText.badWeights(kind, `${phase} must be a number from 0 to 1000`));
      total += v;
    }
    if (total <= 0) return fail(EngineErrorCode.WRONG_PARAMS, EngineErrorText.badWeights(kind, 'at least one phase must weigh more than 0'));
    out[kind as OperationKind] = { ...(w as PhaseWeights) };
  }
  return ok(out);
}

/** Pure: percent done (0 … 100, floored) when `phase` is `fraction` (0 … 1) done and the phases before it are done. */
export function weightedProgress(weights: PhaseWeights, phase: Phase, fraction: number): number {
  const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  let total = 0;
  let done = 0;
  const at = PHASES.indexOf(phase);
  PHASES.forEach((p, i) => {
    const w = weights[p] ?? 0;
    total += w;
    if (i < at) done += w;
    else if (i === at) done += w * f;
  });
  return total > 0 ? Math.floor((100 * done) / total + 1e-9) : 0;
}

export interface Target {
  readonly id: string;
  readonly version: string;
  readonly type: string;
}

/** The protocol-neutral view of an operation, as every front-end gets it. Times are ISO 8601, "" when not yet. */
export interface OperationJSON {
  readonly handle: string;
  readonly kind: OperationKind;
  readonly id: string;
  readonly version: string;
  readonly type: string;
  readonly state: OperationState;
  readonly progress: number;
  /** The current (or last) phase; "" before the first. */
  readonly phase: Phase | '';
  readonly createTime: string;
  readonly startTime: string;
  readonly endTime: string;
  readonly errorCode?: number;
  readonly errorText?: string;
}

/** What the store persists of an operation: its JSON plus the caller. */
export interface OperationRecord extends OperationJSON {
  readonly caller: string;
}

/** How an operation tells its store that something changed; `lines` are log lines just kept. */
export type ChangeKind = 'started' | 'changed' | 'ended' | 'log';
export type ChangeListener = (op: Operation, change: ChangeKind, lines?: readonly string[]) => void;

/** What a cancel request did. */
export type CancelResult =
  | { readonly kind: 'cancelled' }
  | { readonly kind: 'pending' }
  | { readonly kind: 'refused'; readonly error: EngineError };

export class Operation {
  private stateValue: OperationState;
  private phaseValue: Phase | '';
  private progressValue: number;
  private fraction = 0;
  private startTimeValue: string;
  private endTimeValue: string;
  private error?: EngineError;
  private committedValue = false;
  /** A chain of parts (a catalog install: its dependencies, then the target): where the current part's span starts
   *  and how much of the whole it is (0 … 1), and whether it is the last one. Undefined: one part, the whole. */
  private part?: { start: number; share: number; last: boolean };
  private readonly abort = new AbortController();

  constructor(
    readonly handle: string,
    readonly kind: OperationKind,
    readonly target: Target,
    readonly caller: string,
    readonly createTime: string,
    readonly log: OperationLog,
    private weights: PhaseWeights,
    private readonly clock: () => Date,
    private readonly listener: ChangeListener,
    restored?: Pick<OperationRecord, 'state' | 'phase' | 'progress' | 'startTime' | 'endTime' | 'errorCode' | 'errorText'>,
  ) {
    this.stateValue = restored?.state ?? 'queued';
    this.phaseValue = restored?.phase ?? '';
    this.progressValue = restored?.progress ?? 0;
    this.startTimeValue = restored?.startTime ?? '';
    this.endTimeValue = restored?.endTime ?? '';
    if (restored?.errorCode !== undefined && restored.errorText !== undefined) this.error = { code: restored.errorCode, text: restored.errorText };
  }

  get state(): OperationState {
    return this.stateValue;
  }
  get phase(): Phase | '' {
    return this.phaseValue;
  }
  get progress(): number {
    return this.progressValue;
  }
  get ended(): boolean {
    return END_STATES.includes(this.stateValue);
  }
  /** Past the commit point (of the current part, in a chain): nothing of it is undone any more. */
  get committed(): boolean {
    return this.committedValue;
  }
  /** Aborted when a cancel of the running operation was accepted: the runner stops at its next safe point. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }
  get cancelRequested(): boolean {
    return this.abort.signal.aborted;
  }

  toJSON(): OperationJSON {
    const j: OperationJSON = {
      handle: this.handle,
      kind: this.kind,
      id: this.target.id,
      version: this.target.version,
      type: this.target.type,
      state: this.stateValue,
      progress: this.progressValue,
      phase: this.phaseValue,
      createTime: this.createTime,
      startTime: this.startTimeValue,
      endTime: this.endTimeValue,
    };
    return this.error ? { ...j, errorCode: this.error.code, errorText: this.error.text } : j;
  }

  toRecord(): OperationRecord {
    return { ...this.toJSON(), caller: this.caller };
  }

  private illegal(to: string): Result<never> {
    return fail(EngineErrorCode.ILLEGAL_STATE, EngineErrorText.illegalTransition(this.handle, this.stateValue, to));
  }

  /** queued → running. */
  start(): Result<void> {
    if (this.stateValue !== 'queued') return this.illegal('running');
    this.stateValue = 'running';
    this.startTimeValue = this.clock().toISOString();
    this.listener(this, 'started');
    return ok(undefined);
  }

  /** Enters `phase` (phases before it count as done), `fraction` of it done. Going back to an earlier phase is refused. */
  enterPhase(phase: Phase, fraction = 0): Result<void> {
    if (this.stateValue !== 'running') return this.illegal(`phase ${phase}`);
    if (this.phaseValue !== '' && PHASES.indexOf(phase) < PHASES.indexOf(this.phaseValue)) return this.illegal(`phase ${phase} after ${this.phaseValue}`);
    const changed = this.phaseValue !== phase;
    this.phaseValue = phase;
    this.fraction = 0;
    this.setFraction(fraction, changed);
    return ok(undefined);
  }

  /** How much of the current phase is done (0 … 1). Progress only ever grows; it reaches 100 only on success. */
  setPhaseProgress(fraction: number): Result<void> {
    if (this.stateValue !== 'running' || this.phaseValue === '') return this.illegal('progress');
    this.setFraction(fraction, false);
    return ok(undefined);
  }

  private setFraction(fraction: number, phaseChanged: boolean): void {
    this.fraction = Number.isFinite(fraction) ? Math.max(this.fraction, Math.min(1, Math.max(0, fraction))) : this.fraction;
    const inPart = weightedProgress(this.weights, this.phaseValue as Phase, this.fraction);
    const whole = this.part ? Math.floor(100 * this.part.start + this.part.share * inPart + 1e-9) : inPart;
    const p = Math.min(99, whole);
    const grew = p > this.progressValue;
    if (grew) this.progressValue = p;
    if (grew || phaseChanged) this.listener(this, 'changed');
  }

  /**
   * Other phase weights for this one operation, before its first phase (an install that downloads first weighs its
   * download; a local one does not). Refused once a phase was entered (progress could go back).
   */
  reweigh(weights: PhaseWeights): Result<void> {
    if (this.phaseValue !== '' || this.ended) return this.illegal('reweighed');
    this.weights = { ...weights };
    return ok(undefined);
  }

  /**
   * The next part of a chain (a catalog install's packages, one after the other, as one operation): its span of the
   * whole progress starts at `start` and is `share` of it (0 … 1); its phases run again from the first (download,
   * verify, unpack, register); its own commit point is still ahead. Progress never goes back: the spans follow each
   * other. A cancel past the commit point of a part that is not the last is accepted: the chain stops before the next
   * part (the committed part stays), which the runner ends with cancelled() after beginning that part.
   */
  beginPart(start: number, share: number, last: boolean): Result<void> {
    // The first part may begin while the operation waits for a free slot (it reads queued until its first step runs).
    if (this.stateValue !== 'running' && !(this.stateValue === 'queued' && this.part === undefined)) return this.illegal('next part');
    const s = Number.isFinite(start) ? Math.min(1, Math.max(0, start)) : 0;
    const w = Number.isFinite(share) ? Math.min(1 - s, Math.max(0, share)) : 0;
    this.part = { start: s, share: w, last };
    this.phaseValue = '';
    this.fraction = 0;
    this.committedValue = false;
    this.setFraction(0, false);
    return ok(undefined);
  }

  /** Fills in the target's version and type once the runner knows them (an install learns them from the package);
   *  an install that turns out to be a firmware package's becomes kind `firmware`. */
  describe(version: string, type: string, kind?: 'firmware'): void {
    if (this.ended) return;
    if (kind === 'firmware' && this.kind === 'install') (this as { kind: OperationKind }).kind = 'firmware';
    (this as { target: Target }).target = { id: this.target.id, version: String(version).slice(0, 256), type: String(type).slice(0, 128) };
    this.listener(this, 'changed');
  }

  /** Appends to the log (split into lines, cleaned, bounded); ignored once the operation has ended. */
  appendLog(text: string): void {
    const kept = this.log.append(text);
    if (kept.length) this.listener(this, 'log', kept);
  }

  /**
   * The commit point: from here the operation completes and cancel is refused. ok(true) when committed; ok(false) when
   * a cancel was accepted first (the runner must undo and call cancelled()); ILLEGAL_STATE when not running.
   */
  commit(): Result<boolean> {
    if (this.stateValue !== 'running') return this.illegal('committed');
    if (this.cancelRequested) return ok(false);
    this.committedValue = true;
    return ok(true);
  }

  /** Asks for a cancel: queued ends now; running and not committed (or a chain with parts still ahead) stops at its
   *  next safe point; else refused. */
  requestCancel(): CancelResult {
    if (this.ended) return { kind: 'refused', error: { code: EngineErrorCode.CANCEL_REFUSED, text: EngineErrorText.cancelFinished(this.handle, this.stateValue) } };
    if (this.committedValue && (!this.part || this.part.last)) return { kind: 'refused', error: { code: EngineErrorCode.CANCEL_REFUSED, text: EngineErrorText.cancelCommitted(this.handle) } };
    if (this.stateValue === 'queued') {
      this.abort.abort();
      this.end('cancelled');
      return { kind: 'cancelled' };
    }
    if (!this.cancelRequested) {
      this.appendLog('cancel requested; stopping at the next safe point');
      this.abort.abort();
    }
    return { kind: 'pending' };
  }

  /** running → succeeded (progress 100). */
  succeed(): Result<void> {
    if (this.stateValue !== 'running') return this.illegal('succeeded');
    this.progressValue = 100;
    this.end('succeeded');
    return ok(undefined);
  }

  /** queued or running → failed, with the result's code (a non-integer becomes the general -1) and text (cleaned, bounded). */
  failWith(code: number, text: string): Result<void> {
    if (this.ended) return this.illegal('failed');
    this.error = { code: Number.isSafeInteger(code) ? code : ErrorCode.GENERAL, text: String(text).replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, 1024) };
    this.appendLog(`error ${code}: ${this.error.text}`);
    this.end('failed');
    return ok(undefined);
  }

  /** running → cancelled, after the runner's undo (only when a cancel was accepted and nothing was committed). */
  cancelled(): Result<void> {
    if (this.stateValue !== 'running' || !this.cancelRequested || this.committedValue) return this.illegal('cancelled');
    this.end('cancelled');
    return ok(undefined);
  }

  private end(state: OperationState): void {
    this.stateValue = state;
    this.endTimeValue = this.clock().toISOString();
    this.appendLog(state);
    this.log.close();
    this.listener(this, 'ended');
  }
}
