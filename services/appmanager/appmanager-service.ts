// com.webos.applicationManager, the minimum the installer and ares-cli need: listApps, dev/listApps, getAppInfo,
// running, launch, closeByAppId, lockApp. There is no app runtime here: "running" is an in-memory list that only
// launch (bookkeeping, nothing is started) adds to and closeByAppId removes from.
import type { LunaClient } from '../../ipc/client';
import type { Layout } from '../../ipc/paths';
import { AppManagerErrorCode, AppManagerErrorText, CodedError } from '../../status-codes';
import { listPackages, type InstalledPackage } from '../appinstall/package-db';

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

export class AppManagerService {
  private readonly running = new Map<string, number>();
  private readonly locked = new Set<string>();

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

  open(): void {
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
        handler: () => ({ returnValue: true, running: [...this.running].map(([id, since]) => ({ id, since })) }),
      },
      launch: {
        schema: idSchema,
        groups: ['applications.management'],
        handler: async (msg) => {
          const app = await this.app(String(msg.payload.id));
          if (!this.running.has(app.id)) this.running.set(app.id, Date.now());
          return { returnValue: true, appId: app.id };
        },
      },
      closeByAppId: {
        schema: idSchema,
        groups: ['applications.management'],
        handler: (msg) => {
          const id = String(msg.payload.id);
          if (this.locked.has(id)) throw new CodedError(AppManagerErrorCode.APP_LOCKED, AppManagerErrorText.APP_LOCKED, id);
          const closed = this.running.delete(id);
          if (closed) this.log(`closed ${id}`);
          return { returnValue: true, appId: id, closed };
        },
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
    this.client.registerCategory('/dev', {
      listApps: { schema: { type: 'object' }, groups: ['arescli.interface'], handler: async () => ({ returnValue: true, apps: await this.apps(true) }) },
    });
  }
}
