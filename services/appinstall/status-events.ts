// Status events of install/remove tasks: `{"id","statusValue","details"}` with details sticky from
// event to event (docs/appinstall.md). Pure folding only; who receives the events is appinstall-service.ts's business.
import { Stage, type StageName } from '../../status-codes';
import type { Payload } from '../../ipc/protocol';

export interface Details {
  client?: string;
  packageId?: string;
  verified?: boolean;
  installBasePath?: string;
  state?: string;
  progress?: number;
  update?: boolean;
  signature?: string;
  errorCode?: number;
  reason?: string;
  [field: string]: unknown;
}

export interface StatusEvent {
  id: string;
  statusValue: number;
  details: Details;
}

/** One step of a task's progress: a stage reached, with fields to set (sticky) in details. */
export interface StageUpdate {
  stage: StageName;
  patch?: Details;
}

/** The request's own fields that go into details: everything but id and subscribe. */
export function requestFields(payload: Payload): Details {
  const { id: _id, subscribe: _subscribe, ...rest } = payload;
  return rest;
}

/** The event before any stage: request fields plus who asked and where. statusValue 0 is never pushed. */
export function initialEvent(id: string, payload: Payload, base: Details): StatusEvent {
  return { id, statusValue: Stage.UNKNOWN.statusValue, details: { ...requestFields(payload), ...base, progress: 0 } };
}

/** Next event: the stage's statusValue and state, earlier details kept unless overwritten. Progress never goes back within a task. */
export function foldEvent(prev: StatusEvent, update: StageUpdate): StatusEvent {
  const info = Stage[update.stage];
  const details: Details = { ...prev.details, ...(update.patch ?? {}), state: info.state };
  if (typeof details.progress === 'number' && typeof prev.details.progress === 'number' && details.progress < prev.details.progress) {
    details.progress = prev.details.progress;
  }
  return { id: prev.id, statusValue: info.statusValue, details };
}

