// Runs a table of steps (name, work, undo) as one task: the steps run in order, each announced by its start and its
// end; when one fails (or an event cannot be delivered), the undos of every step that started run in reverse and the
// failure is returned. A started task always reaches its end. Knows nothing of installs or removes (install-steps.ts,
// remove-steps.ts, firmware-steps.ts and download-steps.ts are the tables) nor of any protocol (task-events.ts).
import type { TaskFacts } from './task-events';

export interface Step<C> {
  /** Unique in its table; front-ends key their own names for the step on it (services/appinstall/stage-map.ts). */
  name: string;
  /** The work. `progress` reports facts while it runs (e.g. unpacking progress); the returned facts go with the step's
   *  end. Must be safe to run again after a crash (recovery may redo or undo it). */
  work(ctx: C, progress: (facts: TaskFacts) => void): Promise<TaskFacts | void>;
  /** Undo of whatever this step did, also of a part of it; safe to run when the work never ran or ran twice. */
  undo?(ctx: C): Promise<void>;
}

/** What a run tells its listener: a step starts, reports progress, or is done. */
export type StepEvent =
  | { step: string; at: 'start' }
  | { step: string; at: 'progress'; facts: TaskFacts }
  | { step: string; at: 'done'; facts?: TaskFacts };

/** How a run ended: every step done, or the error of the step that failed (its undos and the earlier ones' done). */
export type RunResult = { ok: true } | { ok: false; error: unknown; step: string | undefined };

/** Pure check of a table: names are unique and not empty. Throws on a bad table. */
export function checkStepTable<C>(steps: readonly Step<C>[]): void {
  const names = new Set<string>();
  for (const s of steps) {
    if (!s.name) throw new Error('step table: a step has no name');
    if (names.has(s.name)) throw new Error(`step table: duplicate step "${s.name}"`);
    names.add(s.name);
  }
}

/**
 * Runs one task's table to its end: start, work, done, step by step; when anything throws (a step's work, or the
 * `emit` of an event) the undos of every step that started run in reverse (an undo that throws is reported to
 * `undoFailed`, and the others still run). Never rejects and never stops half-way: a task that started always ends
 * with its steps done or its undos run, whatever a step or a listener does.
 */
export async function driveSteps<C>(steps: readonly Step<C>[], ctx: C, undoFailed: (step: string, err: unknown) => void, emit: (e: StepEvent) => void): Promise<RunResult> {
  const started: Step<C>[] = [];
  let current: string | undefined;
  try {
    for (const step of steps) {
      started.push(step);
      current = step.name;
      emit({ step: step.name, at: 'start' });
      let progressError: unknown;
      const facts = await step.work(ctx, (f) => {
        if (progressError !== undefined) return;
        try {
          emit({ step: step.name, at: 'progress', facts: f });
        } catch (e) {
          progressError = e; // thrown once the work is done, so the work is never cut off half-way
        }
      });
      if (progressError !== undefined) throw progressError;
      emit(facts ? { step: step.name, at: 'done', facts } : { step: step.name, at: 'done' });
    }
    return { ok: true };
  } catch (error) {
    for (const step of [...started].reverse()) {
      if (!step.undo) continue;
      try {
        await step.undo(ctx);
      } catch (e) {
        undoFailed(step.name, e);
      }
    }
    return { ok: false, error, step: current };
  }
}
