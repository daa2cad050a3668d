// The install engine as its front-ends see it: the task queue (submit install and remove tasks, hear every task's
// protocol-neutral events, task-events.ts) and the operations over it (handles, cancel, history, locks, aux
// metadata, app data; task-operations.ts). It knows no protocol: the bus service (services/appinstall/), the
// catalog methods and the gateway over the bus are its front-ends. Crash recovery (recovery.ts) runs before it opens.
import type { InstallEnv } from './task-context';
import { TaskQueue } from './task-queue';
import { TaskOperations } from './task-operations';

/** What the engine runs with (task-context.ts InstallEnv; the per-package locks are the queue's own). */
export type EngineOptions = Omit<InstallEnv, 'locks'>;

export class InstallEngine {
  private constructor(readonly tasks: TaskQueue, readonly operations: TaskOperations) {}

  /** Opens the engine's state (a crash's running operations read failed from here on) and its queue. */
  static async open(opts: EngineOptions): Promise<InstallEngine> {
    const operations = await TaskOperations.open(opts.layout, opts.config, opts.log);
    const tasks = new TaskQueue(opts, operations.hooks);
    return new InstallEngine(tasks, operations);
  }

  /** Waits for the running and queued tasks, then for the engine's state writes (a clean stop leaves no journal). */
  async close(): Promise<void> {
    await this.tasks.idle();
    await this.operations.close();
  }
}
