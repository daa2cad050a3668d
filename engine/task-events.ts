// The engine's protocol-neutral events of one install or remove task (what every front-end hears, task-queue.ts
// `events`): accepted, each step's start, progress and end, and the task's end with its outcome. A front-end maps
// them to its own protocol (services/appinstall/stage-map.ts: webOS statusValues). Types and pure helpers only.

/** Facts a task learns on its way, sticky from event to event (a front-end shows them as it likes). */
export interface TaskFacts {
  packageId?: string;
  /** Is the install an update of an installed version? */
  update?: boolean;
  /** The signature verdict (ipk/signature.ts). */
  signature?: string;
  /** Progress of the current step, 0 … 100. */
  progress?: number;
  /** Download progress: bytes received, total, speed in bytes/s. */
  bytes?: number;
  total?: number;
  speed?: number;
  [fact: string]: unknown;
}

/** How a task ended: done, failed (with its error), or cancelled (its undos run, nothing left behind). */
export type TaskOutcome = 'succeeded' | 'failed' | 'cancelled';

export interface TaskEnd {
  outcome: TaskOutcome;
  /** The error of a failed or cancelled task: its code (status-codes) and one line of text. */
  error?: { code: number; text: string };
  /** The engine phase the failure belongs to, when it is not the step's own (a failed download: 'download'). */
  phase?: string;
  /** The step that failed, or was about to run when the cancel came. */
  step?: string;
  /** Facts known at the end (package id, signature), also those no step had reported yet. */
  facts: TaskFacts;
}

/** Who asked for a task and what it is, as every listener sees it. */
export interface TaskInfo {
  taskId: string;
  op: 'install' | 'remove';
  /** The request id (a package id, or for a developer install any id). */
  id: string;
  developer: boolean;
  client: string;
  /** Where an install places the package (the app root's base). */
  installBasePath?: string;
  /** The package id, when known at submit (a remove). */
  packageId?: string;
  /** What the front-end that submitted the task attached to it (services/appinstall: the request's payload). */
  meta?: unknown;
}

export type TaskEvent =
  | { type: 'queued' }
  | { type: 'step'; step: string; at: 'start' }
  | { type: 'step'; step: string; at: 'progress'; facts: TaskFacts }
  | { type: 'step'; step: string; at: 'done'; facts?: TaskFacts }
  | ({ type: 'end' } & TaskEnd);

/** One event of one task, as the engine's stream carries it. */
export interface TaskNews {
  task: TaskInfo;
  event: TaskEvent;
}
