// The engine's task events (engine/task-events.ts) in webOS words: which statusValues each step of the engine's tables
// passes through (docs/appinstall.md, stages 7 … 10 of a download, 35 … 30 of an install, 32 … 31 of a remove), and
// the stage a task ends in. Pure; status-events.ts folds the updates into events, appinstall-service.ts sends them.
import type { StageName } from '../../status-codes';
import type { TaskEnd, TaskEvent } from '../../engine/task-events';
import type { StageUpdate } from './status-events';

interface StepStages {
  /** Emitted in order when the step starts. */
  before: StageName[];
  /** Emitted in order when it is done; the step's facts go with the first. */
  after: StageName[];
}

/** Every step of an install (engine/download-steps.ts, then engine/install-steps.ts), in order. */
export const INSTALL_STAGES: Readonly<Record<string, StepStages>> = {
  'download-request': { before: ['DOWNLOAD_REQUESTED'], after: [] },
  download: { before: ['DOWNLOAD_CURRENT'], after: ['DOWNLOAD_COMPLETE'] },
  parse: { before: ['PARSE_NEEDED'], after: ['PARSE_COMPLETE'] },
  'check-update': { before: ['UPDATE_CHECK_NEEDED', 'UPDATE_CHECK_REQUESTED'], after: ['UPDATE_CHECK_COMPLETE'] },
  'close-app': { before: ['CLOSE_APP_NEEDED', 'CLOSE_APP_REQUESTED'], after: ['CLOSE_APP_COMPLETE'] },
  verify: { before: ['VERIFY_NEEDED', 'VERIFY_REQUESTED'], after: ['VERIFY_COMPLETE'] },
  prepare: { before: ['INSTALL_NEEDED', 'INSTALL_REQUESTED'], after: [] },
  unpack: { before: ['INSTALL_START', 'INSTALL_UNPACKING'], after: [] },
  switch: { before: [], after: ['INSTALL_COMPLETE'] },
  'bus-files': { before: ['ROLES_NEEDED', 'ROLES_REQUESTED'], after: ['ROLES_COMPLETE'] },
  finish: { before: [], after: [] },
};

/** Every step of a remove (engine/remove-steps.ts), in order. */
export const REMOVE_STAGES: Readonly<Record<string, StepStages>> = {
  'close-app': { before: ['CLOSE_APP_NEEDED', 'CLOSE_APP_REQUESTED'], after: ['CLOSE_APP_COMPLETE'] },
  prepare: { before: ['REMOVE_START', 'REMOVING'], after: [] },
  'bus-files': { before: ['REMOVE_SERVICES_NEEDED'], after: ['REMOVE_SERVICES_COMPLETE'] },
  'remove-ipk': { before: ['REMOVE_IPK_NEEDED', 'REMOVE_IPK_REQUESTED'], after: ['REMOVE_IPK_COMPLETE'] },
  'remove-data': { before: ['REMOVE_DATA_NEEDED', 'REMOVE_DATA'], after: ['REMOVE_DATA_COMPLETE'] },
};

const NONE: StepStages = { before: [], after: [] };

function stagesOfStep(op: 'install' | 'remove', step: string): StepStages {
  return (op === 'install' ? INSTALL_STAGES : REMOVE_STAGES)[step] ?? NONE;
}

/** The stages a run of these steps passes through on success, in order, the final one included. */
export function stagesOf(op: 'install' | 'remove', steps: readonly string[]): StageName[] {
  return [...steps.flatMap((s) => [...stagesOfStep(op, s).before, ...stagesOfStep(op, s).after]), op === 'install' ? 'INSTALLED' : 'REMOVED'];
}

/**
 * The stage updates of one step event: its `before` stages at its start, its `after` stages when done (the step's facts
 * with the first), and a progress report as the last stage reached again with new facts (nothing before any stage).
 */
export function stepUpdates(op: 'install' | 'remove', e: Extract<TaskEvent, { type: 'step' }>, last: StageName | undefined): StageUpdate[] {
  const s = stagesOfStep(op, e.step);
  if (e.at === 'start') return s.before.map((stage) => ({ stage }));
  if (e.at === 'progress') return last === undefined ? [] : [{ stage: last, patch: e.facts }];
  return s.after.map((stage, i) => (i === 0 && e.facts ? { stage, patch: e.facts } : { stage }));
}

/** The stage a task ends in: installed or removed; 22 for a cancelled install (a cancelled remove is a failed remove);
 *  23 for an install whose download failed; else install or remove failed, with errorCode and reason. */
export function endUpdate(op: 'install' | 'remove', end: TaskEnd): StageUpdate {
  if (end.outcome === 'succeeded') return { stage: op === 'install' ? 'INSTALLED' : 'REMOVED', patch: { ...end.facts, progress: 100 } };
  let stage: StageName;
  if (end.outcome === 'cancelled') stage = op === 'install' ? 'INSTALL_CANCELLED' : 'REMOVE_FAILED';
  else if (op === 'install' && end.phase === 'download') stage = 'DOWNLOAD_FAILED';
  else stage = op === 'install' ? 'INSTALL_FAILED' : 'REMOVE_FAILED';
  return { stage, patch: { ...end.facts, ...(end.error ? { errorCode: end.error.code, reason: end.error.text } : {}) } };
}
