// The install engine as its front-ends see it: the task queue (submit install and remove tasks, hear every task's
// protocol-neutral events, task-events.ts) and the operations over it (handles, cancel, history, locks, aux
// metadata, app data; task-operations.ts). It knows no protocol: the bus service (services/appinstall/), the
// catalog methods and the gateway over the bus are its front-ends. Crash recovery (recovery.ts) runs before it opens.
import type { Layout } from '../layout/paths';
import type { EngineConfig } from './config';
import type { HubManifests } from './bus-file-sync';
import type { AppManagerLink } from './task-context';
import { TaskQueue } from './task-queue';
import { TaskOperations } from './task-operations';
import type { Downloader } from '../download/downloader';

export interface EngineOptions {
  root: string;
  layout: Layout;
  config: EngineConfig;
  /** The hub's manifest reloads (null: none, the hub rescans at its start). */
  hub: HubManifests | null;
  /** Closes a running app before it is replaced or removed. */
  appManager: AppManagerLink;
  /** Downloads the packages of URL sources (task-context.ts PackageSource); without it they are refused. */
  downloader?: Downloader;
  log(line: string): void;
}

export class InstallEngine {
  private constructor(readonly tasks: TaskQueue, readonly operations: TaskOperations) {}

  /** Opens the engine's state (a crash's running operations read failed from here on) and its queue. */
  static async open(opts: EngineOptions): Promise<InstallEngine> {
    const operations = await TaskOperations.open(opts.layout, opts.config, opts.log);
    const tasks = new TaskQueue({ root: opts.root, layout: opts.layout, config: opts.config, hub: opts.hub, appManager: opts.appManager, downloader: opts.downloader, log: opts.log }, operations.hooks);
    return new InstallEngine(tasks, operations);
  }

  /** Waits for the running and queued tasks, then for the engine's state writes (a clean stop leaves no journal). */
  async close(): Promise<void> {
    await this.tasks.idle();
    await this.operations.close();
  }
}
