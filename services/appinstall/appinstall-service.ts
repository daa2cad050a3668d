// com.webos.appInstallService on the bus, a front-end of the install engine (engine/install-engine.ts): the five
// methods declared once (schema, ACG groups, handler) that validate a request, admit it and submit it to the engine;
// the engine's task events mapped to statusValues (stage-map.ts, status-events.ts) for the task's own call and the
// /status subscribers; and the /dev category following developer mode.
import type { Observable, Subscription } from 'rxjs';
import type { LunaClient, MethodSpec, Message } from '../../ipc/client';
import { IncomingMessage } from '../../ipc/method-registry';
import type { Layout } from '../../layout/paths';
import type { Payload } from '../../ipc/protocol';
import { AppManagerErrorCode, CodedError, ErrorCode, ErrorText } from '../../status-codes';
import { checkId, checkIpkUrl, checkPayloadBounds, installSchema, isPrivilegedName, removeSchema, statusSchema } from './request-validation';
import { callerFromPeer } from '../../engine/caller-access';
import type { HubManifests } from '../../engine/bus-file-sync';
import type { AppManagerLink, TaskRequest } from '../../engine/task-context';
import { appRootOf } from '../../engine/task-context';
import { findPackage } from '../../engine/package-db';
import { readFirmware } from '../../engine/firmware-db';
import type { InstallEngine } from '../../engine/install-engine';
import type { TaskInfo, TaskNews } from '../../engine/task-events';
import type { StageName } from '../../status-codes';
import { foldEvent, initialEvent, type Details, type StageUpdate, type StatusEvent } from './status-events';
import { endUpdate, stepUpdates } from './stage-map';
import { APPMANAGER_SERVICE } from '../appmanager/appmanager-service';
import { checkUrlCaller, isHttpUrl, urlDownloadName } from './url-install';

export const APPINSTALL_SERVICE = 'com.webos.appInstallService';
const HUB = 'luna://com.webos.service.bus';

/** ACG groups of the methods (docs/acg.md); the api-permissions shipped in the default policy must say the same. */
export const METHOD_GROUPS = {
  management: ['applicationinstall.management'],
  devmode: ['applicationinstall.devmode', 'arescli.interface'],
} as const;

/** The hub's manifest methods over the bus. */
export function hubManifestsOverBus(client: LunaClient): HubManifests {
  const call = async (method: string, path: string, prefix: string) => {
    const r = await client.callOne(`${HUB}/${method}`, { path, prefix });
    if (r.returnValue !== true) throw new Error(`${method} ${path}: ${String(r.errorText ?? JSON.stringify(r))}`);
  };
  return {
    addManifest: (p, prefix) => call('addOneManifest', p, prefix),
    removeManifest: (p, prefix) => call('removeOneManifest', p, prefix),
  };
}

/** com.webos.applicationManager/closeByAppId over the bus; an unreachable manager means nothing runs. */
export function appManagerOverBus(client: LunaClient, log: (l: string) => void): AppManagerLink {
  return {
    async closeApp(appId) {
      const r = await client.callOne(`luna://${APPMANAGER_SERVICE}/closeByAppId`, { id: appId });
      if (r.returnValue === true) return r.closed === true ? 'closed' : 'not-running';
      if (r.errorCode === AppManagerErrorCode.APP_LOCKED) return 'locked';
      log(`closeByAppId ${appId}: ${String(r.errorText)} (taken as not running)`);
      return 'not-running';
    },
  };
}

export interface AppInstallOptions {
  layout: Layout;
  log(line: string): void;
  /** The engine's own methods (engine-methods.ts), declared with the five. */
  engineMethods?(client: LunaClient): Record<string, Record<string, MethodSpec>>;
  /** /install takes an http(s) ipkUrl (the engine downloads it with the daemon's downloader). */
  urlInstalls?: boolean;
  /** Runs after each URL install ends (daemon.ts: the download cache cleaner). */
  afterUrlInstall?(): void;
}

/** The subscription key of one task's own events. */
function taskKey(taskId: string): string {
  return `task_${taskId}`;
}

/** Who asked: the caller's app id, else its service name, else its unique bus id. */
function clientOf(msg: Message): string {
  return msg.appId ?? msg.sender ?? msg.senderId;
}

/** What the service keeps of a task while it runs: its event so far and the last stage it reached. */
interface Followed {
  current: StatusEvent;
  last?: StageName;
}

/** The request's payload, as the service attaches it to its tasks (TaskRequest.meta) for the events' details. */
interface TaskMeta {
  payload: Payload;
}

export class AppInstallService {
  private devSub?: Subscription;
  private devOpen = false;
  private readonly stopListening: () => void;

  constructor(private readonly client: LunaClient, readonly engine: InstallEngine, private readonly opts: AppInstallOptions) {
    this.stopListening = engine.tasks.listen((news) => this.onTask(news));
  }

  /** The engine's task queue (admission checks: has, reserve, checkCallerQuota). */
  get queue() {
    return this.engine.tasks;
  }

  /** Every running task's event so far, by task id. */
  private readonly tasks = new Map<string, Followed>();
  /** The subscribed call of each task that has one: it hears that task's events only, and ends with the task. */
  private readonly followers = new Map<string, Message>();
  /** In-process listeners of one task's events (feed-methods.ts: a catalog install relays its chain's tasks). */
  private readonly watchers = new Map<string, (ev: StatusEvent, final: boolean) => void>();
  /** The final event of each task a `submit` of this service waits for. */
  private readonly finals = new Map<string, StatusEvent>();

  /** Hears every event of a task until its final one. */
  watchTask(taskId: string, fn: (ev: StatusEvent, final: boolean) => void): void {
    this.watchers.set(taskId, fn);
  }

  /** Current events of the running tasks (`/status`). */
  currentEvents(): StatusEvent[] {
    return [...this.tasks.values()].map((t) => t.current).filter((ev) => ev.statusValue !== 0);
  }

  /**
   * Submits a task to the engine with the request's payload (for its events' details). `accepted` runs once the task
   * is accepted, before its first event; resolves with the task's final event, once sent.
   */
  submit(op: 'install' | 'remove', r: Omit<TaskRequest, 'taskId' | 'op' | 'meta'>, payload: Payload, packageId?: string, accepted?: (taskId: string) => void): Promise<StatusEvent> {
    let taskId = '';
    const meta: TaskMeta = { payload };
    const ended = this.engine.tasks.submit(op, { ...r, meta }, packageId, (info) => {
      taskId = info.taskId;
      this.finals.set(taskId, initialEvent(info.id, payload, {}));
      accepted?.(taskId);
    });
    return ended.then(() => {
      const ev = this.finals.get(taskId)!;
      this.finals.delete(taskId);
      return ev;
    });
  }

  /** One event of the engine: folded into the task's statusValue event and sent (a report that changes nothing is not). */
  private onTask({ task, event }: TaskNews): void {
    if (event.type === 'queued') {
      const payload = (task.meta as TaskMeta | undefined)?.payload ?? { id: task.id };
      this.tasks.set(task.taskId, { current: initialEvent(task.id, payload, this.baseDetails(task)) });
      return;
    }
    const t = this.tasks.get(task.taskId);
    if (!t) return;
    if (event.type === 'step') {
      for (const u of stepUpdates(task.op, event, t.last)) this.update(task, t, u, false);
      return;
    }
    this.tasks.delete(task.taskId);
    this.update(task, t, endUpdate(task.op, event), true);
  }

  /** The details of a task's first event: who asked, and where. */
  private baseDetails(task: TaskInfo): Details {
    const base: Details = { client: task.client, verified: !task.developer };
    if (task.installBasePath !== undefined) base.installBasePath = task.installBasePath;
    if (task.packageId !== undefined) base.packageId = task.packageId;
    return base;
  }

  private update(task: TaskInfo, t: Followed, u: StageUpdate, final: boolean): void {
    const ev = foldEvent(t.current, u);
    const same = ev.statusValue === t.current.statusValue && JSON.stringify(ev.details) === JSON.stringify(t.current.details);
    t.current = ev;
    t.last = u.stage;
    if (final && this.finals.has(task.taskId)) this.finals.set(task.taskId, ev);
    if (same && !final) return;
    try {
      this.publish(ev, { taskId: task.taskId, final, repeat: same });
    } catch (e) {
      this.opts.log(`${task.op} ${task.id}: status event not delivered: ${(e as Error).message}`);
    }
  }

  /**
   * A task's events go to `/status` subscribers (who may see every task) and to the call that asked for this very
   * task, never to any other install or remove call: the key is the task, not the request id, so a `/dev/*` caller
   * never hears a verified task of the same id. The task's final event is that call's last reply.
   */
  private publish(ev: StatusEvent, task: { taskId: string; final: boolean; repeat?: boolean }): void {
    const payload = ev as unknown as Payload;
    if (!task.repeat) this.client.subscriptions.reply('status', payload);
    const watcher = this.watchers.get(task.taskId);
    if (watcher) {
      if (task.final) this.watchers.delete(task.taskId);
      watcher(ev, task.final);
    }
    const key = taskKey(task.taskId);
    if (!task.final) { this.client.subscriptions.reply(key, payload); return; }
    const msg = this.followers.get(task.taskId);
    this.followers.delete(task.taskId);
    if (msg) this.endWith(key, msg, payload);
  }

  /** Ends a task's subscribed call with its final event as the last reply (once the call return has gone out). */
  private endWith(key: string, msg: Message, payload: Payload): void {
    if (msg instanceof IncomingMessage && !msg.hasReturned && !msg.ended) { setImmediate(() => this.endWith(key, msg, payload)); return; }
    this.client.subscriptions.remove(key, msg);
    msg.respond(payload, { last: true });
  }

  /** Subscribes the call to the accepted task (nothing before: a refused request never subscribes). */
  private follow(msg: Message): ((taskId: string) => void) | undefined {
    if (!msg.isSubscription) return undefined;
    return (taskId) => {
      this.followers.set(taskId, msg);
      this.client.subscriptions.add(taskKey(taskId), msg);
    };
  }

  private install(developer: boolean): MethodSpec {
    return {
      schema: installSchema,
      groups: [...(developer ? METHOD_GROUPS.devmode : METHOD_GROUPS.management)],
      errorExtra: { subscribed: false },
      handler: (msg) => {
        checkPayloadBounds(msg.payload);
        const id = String(msg.payload.id);
        checkId(id);
        const caller = callerFromPeer(msg.peer);
        // An http(s) ipkUrl on /install is downloaded first (engine/download-steps.ts); /dev/install refuses it as before.
        const url = !developer && this.opts.urlInstalls === true && isHttpUrl(String(msg.payload.ipkUrl));
        if (url) checkUrlCaller(caller);
        else checkIpkUrl(String(msg.payload.ipkUrl), caller);
        if (this.queue.has(id)) throw new CodedError(ErrorCode.INSTALL_FAILED, ErrorText.DUPLICATE_COMMAND);
        const ipkUrl = String(msg.payload.ipkUrl);
        const source = url ? { download: { url: ipkUrl, filename: urlDownloadName() } } : { path: ipkUrl };
        const allowDowngrade = msg.payload.allowDowngrade === true;
        void this.submit('install', { id, developer, source, allowDowngrade, client: clientOf(msg), caller }, msg.payload, undefined, this.follow(msg)).then(() => url && this.opts.afterUrlInstall?.()).catch(() => undefined);
        return { returnValue: true, subscribed: msg.isSubscription };
      },
    };
  }

  private remove(developer: boolean): MethodSpec {
    return {
      schema: removeSchema,
      groups: [...(developer ? METHOD_GROUPS.devmode : METHOD_GROUPS.management)],
      errorExtra: { subscribed: false },
      handler: async (msg) => {
        checkPayloadBounds(msg.payload);
        const id = String(msg.payload.id);
        checkId(id);
        if (developer && isPrivilegedName(id)) {
          throw new CodedError(ErrorCode.PRIVILEGED_REMOVE_IN_DEVMODE, ErrorText.PRIVILEGED_REMOVE_IN_DEVMODE);
        }
        if (this.queue.has(id)) throw new CodedError(ErrorCode.REMOVE_FAILED, ErrorText.DUPLICATE_COMMAND);
        const caller = callerFromPeer(msg.peer);
        this.queue.checkCallerQuota('remove', caller);
        const release = this.queue.reserve(id); // the lookup below is asynchronous: requests meanwhile are duplicates
        try {
          const pkg = await findPackage(appRootOf(this.opts.layout, developer), developer, id);
          // Not an app: a firmware package of that name (verified /remove only; engine/firmware-steps.ts).
          if (!pkg && !developer && (await readFirmware(this.opts.layout, id))) {
            void this.submit('remove', { id, developer, client: clientOf(msg), caller, firmware: true }, msg.payload, id, this.follow(msg)).catch(() => undefined);
            return { returnValue: true, subscribed: msg.isSubscription };
          }
          if (!pkg) throw new CodedError(ErrorCode.INVALID_PARAMETER, ErrorText.NO_SUCH_ID);
          if (developer && isPrivilegedName(pkg.packageId)) {
            throw new CodedError(ErrorCode.PRIVILEGED_REMOVE_IN_DEVMODE, ErrorText.PRIVILEGED_REMOVE_IN_DEVMODE);
          }
          // Subscribed by submit once the task is accepted, before its first stages (emitted at once); a refusal
          // (DUPLICATE_COMMAND -7: the package is busy) never subscribes.
          void this.submit('remove', { id, developer, client: clientOf(msg), caller }, msg.payload, pkg.packageId, this.follow(msg)).catch(() => undefined);
        } finally {
          release();
        }
        return { returnValue: true, subscribed: msg.isSubscription };
      },
    };
  }

  /** Declares / and (when developer mode is on) /dev, following developer mode from then on. */
  open(devMode$: Observable<boolean>): void {
    const engineMethods = this.opts.engineMethods?.(this.client) ?? {};
    for (const [category, methods] of Object.entries(engineMethods)) if (category !== '/') this.client.registerCategory(category, methods);
    this.client.registerCategory('/', {
      ...engineMethods['/'],
      install: this.install(false),
      remove: this.remove(false),
      status: {
        schema: statusSchema,
        groups: [...METHOD_GROUPS.management],
        errorExtra: { subscribed: false },
        handler: (msg) => {
          if (msg.isSubscription) this.client.subscriptions.add('status', msg);
          return { returnValue: true, subscribed: msg.isSubscription, status: { apps: this.currentEvents() } };
        },
      },
    });
    this.devSub = devMode$.subscribe((on) => this.setDevCategory(on));
  }

  private setDevCategory(on: boolean): void {
    if (on === this.devOpen) return;
    this.devOpen = on;
    if (on) this.client.registerCategory('/dev', { install: this.install(true), remove: this.remove(true) });
    else this.client.unregisterCategory('/dev');
    this.opts.log(`developer mode ${on ? 'on: /dev methods open' : 'off: /dev methods closed'}`);
  }

  /** Stops following developer mode and waits for running tasks (a clean stop leaves no journal behind). */
  async stop(): Promise<void> {
    this.devSub?.unsubscribe();
    await this.queue.idle();
    this.stopListening();
  }
}
