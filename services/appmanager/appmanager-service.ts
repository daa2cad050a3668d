// com.webos.applicationManager, the minimum the installer and ares-cli need: listApps, getAppInfo, running, launch,
// closeByAppId, lockApp, and for ares-cli dev/listApps, dev/running, dev/closeByAppId (developer apps only, while
// developer mode is on). There is no app runtime here: "running" is an in-memory list that only launch (bookkeeping,
// nothing is started) adds to and closeByAppId removes from.
import type { Observable, Subscription } from 'rxjs';
import type { LunaClient, Message } from '../../ipc/client';
import type { Payload } from '../../ipc/protocol';
import type { Layout } from '../../layout/paths';
import { AppManagerErrorCode, AppManagerErrorText, CodedError } from '../../status-codes';
import { listPackages, type InstalledPackage } from '../../engine/package-db';

export const APPMANAGER_SERVICE = 'com.webos.applicationManager';

export interface AppEntry {
  id: string;
  version: string;
  title: string;
  type: string;
  visible: boolean;
  icon?: string;
  main?: string;
  folderPath: string;
  /** true for developer installs (dev/install). */
  developer: boolean;
  [field: string]: unknown;
}

/** Pure: the listApps entries of installed packages. */
export function appEntries(pkgs: InstalledPackage[]): AppEntry[] {
  return pkgs.flatMap((p) =>
    p.apps.map((a) => ({
      ...a.appInfo,
      id: a.id,
      version: String(a.appInfo.version ?? p.version),
      title: String(a.appInfo.title ?? a.id),
      type: String(a.appInfo.type ?? 'web'),
      visible: a.appInfo.visible !== false && a.appInfo.noWindow !== true,
      folderPath: a.dir,
      developer: p.developer,
    })),
  );
}

const idSchema = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1 } } };

/**
 * The method whose permission says a caller may act on every app: whoever the ACG lets call listApps (group
 * applications.management, root on a device) may launch any app; any other caller that reaches launch (a developer
 * through arescli.interface) may launch only the apps installed in developer mode, and only while developer mode is on.
 */
export const ALL_APPS_METHOD = `luna://${APPMANAGER_SERVICE}/listApps`;

export class AppManagerService {
  private readonly running = new Map<string, number>();
  private readonly locked = new Set<string>();
  private devMode = false;
  private devOpen = false;
  private devSub: Subscription | undefined;

  constructor(private readonly client: LunaClient, private readonly layout: Layout, private readonly log: (l: string) => void) {}

  async apps(developerOnly: boolean): Promise<AppEntry[]> {
    const dev = await listPackages(this.layout.developerApps, true);
    const verified = developerOnly ? [] : await listPackages(this.layout.verifiedApps, false);
    return appEntries([...verified, ...dev]);
  }

  private async app(id: string): Promise<AppEntry> {
    const app = (await this.apps(false)).find((a) => a.id === id);
    if (!app) throw new CodedError(AppManagerErrorCode.APP_NOT_FOUND, AppManagerErrorText.APP_NOT_FOUND, id);
    return app;
  }

  /** An app installed in developer mode, for a developer's call; any other id is refused with the reason. */
  private async developerApp(id: string): Promise<AppEntry> {
    const app = (await this.apps(true)).find((a) => a.id === id);
    if (!app) throw new CodedError(AppManagerErrorCode.NOT_DEVELOPER_APP, AppManagerErrorText.notDeveloperApp(id));
    return app;
  }

  /** May the caller of this message act on every app? Asked of the hub's ACG for the caller's own connection. */
  private async mayActOnAnyApp(msg: Message): Promise<boolean> {
    const r = await this.client.callOne('luna://com.webos.service.bus/isCallAllowed', { uri: ALL_APPS_METHOD, requester: msg.senderId });
    return r.returnValue === true && r.allowed === true;
  }

  private runningList(ids: ReadonlySet<string> | null): Payload[] {
    return [...this.running].filter(([id]) => !ids || ids.has(id)).map(([id, since]) => ({ id, since }));
  }

  private close(id: string): Payload {
    if (this.locked.has(id)) throw new CodedError(AppManagerErrorCode.APP_LOCKED, AppManagerErrorText.APP_LOCKED, id);
    const closed = this.running.delete(id);
    if (closed) this.log(`closed ${id}`);
    return { returnValue: true, appId: id, closed };
  }

  /** Declares / and (while developer mode is on) /dev, following developer mode from then on. */
  open(devMode$: Observable<boolean>): void {
    this.client.registerCategory('/', {
      listApps: { schema: { type: 'object' }, groups: ['applications.management'], handler: async () => ({ returnValue: true, apps: await this.apps(false) }) },
      getAppInfo: {
        schema: idSchema,
        groups: ['applications.management'],
        handler: async (msg) => {
          const app = await this.app(String(msg.payload.id));
          return { returnValue: true, appId: app.id, appInfo: app };
        },
      },
      running: {
        schema: { type: 'object' },
        groups: ['applications.management'],
        handler: () => ({ returnValue: true, running: this.runningList(null) }),
      },
      launch: {
        schema: idSchema,
        groups: ['applications.management', 'arescli.interface'],
        handler: async (msg) => {
          const id = String(msg.payload.id);
          let app: AppEntry;
          if (await this.mayActOnAnyApp(msg)) {
            app = await this.app(id);
          } else {
            if (!this.devMode) throw new CodedError(AppManagerErrorCode.DEVMODE_OFF, AppManagerErrorText.DEVMODE_OFF);
            app = await this.developerApp(id);
          }
          if (!this.running.has(app.id)) {
            this.running.set(app.id, Date.now());
            this.log(`launched ${app.id}`);
          }
          return { returnValue: true, appId: app.id };
        },
      },
      closeByAppId: {
        schema: idSchema,
        groups: ['applications.management'],
        handler: (msg) => this.close(String(msg.payload.id)),
      },
      lockApp: {
        schema: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1 }, lock: { type: 'boolean' } } },
        groups: ['applications.management'],
        handler: (msg) => {
          const id = String(msg.payload.id);
          const lock = msg.payload.lock !== false;
          if (lock) this.locked.add(id);
          else this.locked.delete(id);
          return { returnValue: true, id, locked: lock };
        },
      },
    });
    this.devSub = devMode$.subscribe((on) => this.setDevCategory(on));
  }

  /** What ares-cli calls as the developer (arescli.interface): only apps installed in developer mode are seen. */
  private setDevCategory(on: boolean): void {
    this.devMode = on;
    if (on === this.devOpen) return;
    this.devOpen = on;
    if (!on) {
      this.client.unregisterCategory('/dev');
      return;
    }
    this.client.registerCategory('/dev', {
      listApps: { schema: { type: 'object' }, groups: ['arescli.interface'], handler: async () => ({ returnValue: true, apps: await this.apps(true) }) },
      running: {
        schema: { type: 'object' },
        groups: ['arescli.interface'],
        handler: async () => ({ returnValue: true, running: this.runningList(new Set((await this.apps(true)).map((a) => a.id))) }),
      },
      closeByAppId: {
        schema: idSchema,
        groups: ['arescli.interface'],
        handler: async (msg) => this.close((await this.developerApp(String(msg.payload.id))).id),
      },
    });
  }

  stop(): void {
    this.devSub?.unsubscribe();
  }
}
