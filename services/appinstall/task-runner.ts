// Runs a table of steps (name, the stages it emits, work, undo) as one task of stage updates: the steps run in
// order; when one fails (or an update cannot be delivered), the undos of every step that started run in reverse,
// then the failure stage is emitted. A started task always reaches its end. Knows nothing of installs or removes: install-steps.ts and remove-steps.ts are the tables.
import { Observable } from 'rxjs';
import type { StageName } from '../../status-codes';
import type { Details, StageUpdate } from './status-events';

export interface Step<C> {
  name: string;
  /** The stages this step emits: `before` in order before its work starts, `after` in order once it is done. */
  statusValues: { before: StageName[]; after: StageName[] };
  /** The work. `progress` re-emits the last stage with new details (e.g. unpacking progress). The returned details
   *  go with the first `after` stage. Must be safe to run again after a crash (recovery may redo or undo it). */
  work(ctx: C, progress: (patch: Details) => void): Promise<Details | void>;
  /** Undo of whatever this step did, also of a part of it; safe to run when the work never ran or ran twice. */
  undo?(ctx: C): Promise<void>;
}

export interface RunHooks {
  /** The failure stage update for an error (stage 24 or 25 with errorCode and reason). */
  failure(err: unknown): StageUpdate;
  /** An undo itself failed: logged, the other undos still run. */
  undoFailed(step: string, err: unknown): void;
  /** The failure stage itself could not be emitted (logged; the task has ended regardless). */
  emitFailed?(err: unknown): void;
}

/** Pure check of a table: every step names at least one stage, names are unique. Throws on a bad table. */
export function checkStepTable<C>(steps: readonly Step<C>[]): void {
  const names = new Set<string>();
  for (const s of steps) {
    if (names.has(s.name)) throw new Error(`step table: duplicate step "${s.name}"`);
    if (s.statusValues.before.length + s.statusValues.after.length === 0) throw new Error(`step table: step "${s.name}" names no stage`);
    names.add(s.name);
  }
}

/** All stages a table emits on success, in order (what a subscriber sees, progress repeats aside). */
export function stagesOf<C>(steps: readonly Step<C>[]): StageName[] {
  return steps.flatMap((s) => [...s.statusValues.before, ...s.statusValues.after]);
}

/**
 * Runs one task's table to its end: before stages, work, after stages, step by step; when anything throws (a step's
 * work, or the `emit` of an update) the undos of every step that started run in reverse and the failure stage is
 * emitted. Never rejects and never stops half-way: a task that started always ends in its last stage or its failure
 * stage, with its undos done, whatever a step or a listener does. `emit` failures after the failure stage are reported
 * to `hooks.emitFailed` (the update is lost, the task is not).
 */
export async function driveSteps<C>(steps: readonly Step<C>[], ctx: C, hooks: RunHooks, emit: (u: StageUpdate) => void): Promise<void> {
  const started: Step<C>[] = [];
  let last: StageName | undefined;
  const send = (u: StageUpdate) => {
    last = u.stage;
    emit(u);
  };
  try {
    for (const step of steps) {
      started.push(step);
      for (const stage of step.statusValues.before) send({ stage });
      let progressError: unknown;
      const patch = await step.work(ctx, (p) => {
        if (last === undefined || progressError !== undefined) return;
        try {
          emit({ stage: last, patch: p });
        } catch (e) {
          progressError = e; // thrown once the work is done, so the work is never cut off half-way
        }
      });
      if (progressError !== undefined) throw progressError;
      step.statusValues.after.forEach((stage, i) => send(i === 0 && patch ? { stage, patch } : { stage }));
    }
  } catch (err) {
    for (const step of [...started].reverse()) {
      if (!step.undo) continue;
      try {
        await step.undo(ctx);
      } catch (e) {
        hooks.undoFailed(step.name, e);
      }
    }
    let failure: StageUpdate;
    try {
      failure = hooks.failure(err);
    } catch (e) {
      failure = hooks.failure(new Error(`internal error: ${e instanceof Error ? e.message : String(e)}`));
    }
    try {
      emit(failure);
    } catch (e) {
      hooks.emitFailed?.(e);
    }
  }
}

/** The pipeline of one task as an Observable (cold; subscribing runs it). Unsubscribing stops the updates, never the
 *  task: a started task runs to its end (driveSteps). Completes after the last stage or the failure stage. */
export function runSteps<C>(steps: readonly Step<C>[], ctx: C, hooks: RunHooks): Observable<StageUpdate> {
  return new Observable<StageUpdate>((sub) => {
    void driveSteps(steps, ctx, hooks, (u) => {
      if (!sub.closed) sub.next(u);
    }).then(() => sub.complete());
  });
}
