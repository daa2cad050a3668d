// Status events of install/remove tasks: `{"id","statusValue","details"}` with details sticky from
// event to event (docs/appinstall.md). Pure folding only; who receives the events is appinstall-service.ts's business.
import { Stage, type StageName } from '../../status-codes';
import type { Payload } from '../../ipc/protocol';
import { valueDepthOver } from '../../ipk/json-bounds';

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

/** The statusValues a task ends with (installed, removed, install failed, remove failed, install cancelled, download failed). */
const FINAL_STATUS_VALUES: ReadonlySet<number> = new Set([Stage.INSTALLED, Stage.REMOVED, Stage.INSTALL_FAILED, Stage.REMOVE_FAILED, Stage.INSTALL_CANCELLED, Stage.DOWNLOAD_FAILED].map((s) => s.statusValue));

/** Is this the event a task ends with? */
export function isFinalEvent(ev: StatusEvent): boolean {
  return FINAL_STATUS_VALUES.has(ev.statusValue);
}

/** Bounds on what a request may put into every event of its task (and so into every /status subscriber's stream). */
export const ECHO_LIMITS = { fieldBytes: 1024, totalBytes: 4096, depth: 8 } as const;
const ALWAYS_ECHOED = new Set(['ipkUrl', 'allowDowngrade']);

/** The request's own fields that go into details: everything but id and subscribe. The schema's own fields always;
 *  any other field only while small and shallow (ECHO_LIMITS: each at most 1 KiB as JSON and 8 levels deep, 4 KiB
 *  in all); past that it is left out of the events (the request itself is still served). */
export function requestFields(payload: Payload): Details {
  const { id: _id, subscribe: _subscribe, ...rest } = payload;
  const out: Details = {};
  let total = 0;
  for (const [k, v] of Object.entries(rest)) {
    if (ALWAYS_ECHOED.has(k)) {
      out[k] = v;
      continue;
    }
    if (valueDepthOver(v, ECHO_LIMITS.depth)) continue;
    const bytes = Buffer.byteLength(k) + Buffer.byteLength(JSON.stringify(v) ?? '');
    if (bytes > ECHO_LIMITS.fieldBytes || total + bytes > ECHO_LIMITS.totalBytes) continue;
    total += bytes;
    out[k] = v;
  }
  return out;
}

/** The event before any stage: request fields plus who asked and where. statusValue 0 is never pushed. */
export function initialEvent(id: string, payload: Payload, base: Details): StatusEvent {
  return { id, statusValue: Stage.UNKNOWN.statusValue, details: { ...requestFields(payload), ...base, progress: 0 } };
}

/** Next event: the stage's statusValue and state, earlier details kept unless overwritten. Progress never goes back within a task. */
export function foldEvent(prev: StatusEvent, update: StageUpdate): StatusEvent {
  const info = Stage[update.stage];
  const details: Details = { ...prev.details, ...(update.patch ?? {}), state: info.state };
  // The install after a download (engine/download-steps.ts) counts its own progress from 0 again.
  if (prev.statusValue === Stage.DOWNLOAD_COMPLETE.statusValue && info.statusValue !== prev.statusValue && update.patch?.progress === undefined) details.progress = 0;
  else if (typeof details.progress === 'number' && typeof prev.details.progress === 'number' && details.progress < prev.details.progress) {
    details.progress = prev.details.progress;
  }
  return { id: prev.id, statusValue: info.statusValue, details };
}

