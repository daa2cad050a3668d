// Turns a table of steps (name, the stages it emits, work, undo) into one RxJS pipeline of stage updates:
// the steps run in order; when one fails, the undos of every step that started run in reverse, then the failure
// stage is emitted. Knows nothing of installs or removes: install-steps.ts and remove-steps.ts are the tables.
import { Observable, concat, defer, from, of } from 'rxjs';
import { catchError, ignoreElements } from 'rxjs/operators';
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

/** The pipeline of one task: cold; subscribing runs it. Completes after the last stage or after the failure stage. */
export function runSteps<C>(steps: readonly Step<C>[], ctx: C, hooks: RunHooks): Observable<StageUpdate> {
  return defer(() => {
    const started: Step<C>[] = [];
    let last: StageName | undefined;
    const track = (u: StageUpdate): StageUpdate => {
      last = u.stage;
      return u;
    };
    const stepRun = (step: Step<C>): Observable<StageUpdate> =>
      defer(() => {
        started.push(step);
        const before = from(step.statusValues.before.map((stage) => track({ stage })));
        const work = new Observable<StageUpdate>((sub) => {
          step
            .work(ctx, (patch) => {
              if (last !== undefined) sub.next({ stage: last, patch });
            })
            .then((patch) => {
              const after = step.statusValues.after;
              after.forEach((stage, i) => sub.next(track(i === 0 && patch ? { stage, patch } : { stage })));
              sub.complete();
            }, (e) => sub.error(e));
        });
        return concat(before, work);
      });
    const undoAll = defer(async () => {
      for (const step of [...started].reverse()) {
        if (!step.undo) continue;
        try {
          await step.undo(ctx);
        } catch (e) {
          hooks.undoFailed(step.name, e);
        }
      }
    }).pipe(ignoreElements());
    return concat(...steps.map(stepRun)).pipe(
      catchError((err) => concat(undoAll, defer(() => of(hooks.failure(err))))),
    );
  });
}

