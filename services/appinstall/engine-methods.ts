// The engine's methods on com.webos.appInstallService (/operations/*, /lock, /unlock, /getLockInfo, /metadata/*,
// /storage/*, /installed): declared once with schema and ACG group; the work is engine/'s (task-operations.ts, locks.ts,
// aux-metadata.ts, storage.ts). The methods that take an id take an installed app (package id or app id) or an installed
// firmware package (engine/firmware-db.ts).
import type { LunaClient, MethodSpec, Message } from '../../ipc/client';
import type { Payload } from '../../ipc/protocol';
import { CodedError, ErrorCode, ErrorText } from '../../status-codes';
import type { Result } from '../../engine/result';
import { resetDir, storageDetails, usageKB } from '../../engine/storage';
import { TaskOperations, findInstalled, installedPackages } from '../../engine/task-operations';
import { listFirmware, readFirmware, type InstalledFirmware } from '../../engine/firmware-db';
import type { InstalledPackage } from '../../engine/package-db';

/** ACG group of every engine method (acg/default-policy: trust oem, root only). */
export const OPERATIONS_GROUP = 'applicationinstall.operations';
const SUBSCRIPTION_KEY = 'operations';

const id = { type: 'string', minLength: 1, maxLength: 255 } as const;
const handle = { type: 'string', minLength: 1, maxLength: 20 } as const;
const index = { type: 'integer', minimum: 0, maximum: 1e9 } as const;
const obj = (required: string[], properties: Record<string, object>) => ({ type: 'object', required, properties }) as const;

/** The value of an engine Result, or its error thrown as the call's error reply. */
function value<T>(r: Result<T>): T {
  if (!r.ok) throw new CodedError(r.error.code, r.error.text);
  return r.value;
}

/** What an id names: an installed app package, or an installed firmware package (the two never share a name). */
type Installed = { kind: 'app'; pkg: InstalledPackage } | { kind: 'firmware'; fw: InstalledFirmware };

async function installedOrThrow(bridge: TaskOperations, appId: string): Promise<Installed> {
  const pkg = await findInstalled(bridge.layout, appId);
  if (pkg) return { kind: 'app', pkg };
  // A firmware package as /remove finds it (appinstall-service.ts): any record of that name, a damaged one too.
  const fw = await readFirmware(bridge.layout, appId);
  if (fw) return { kind: 'firmware', fw };
  throw new CodedError(ErrorCode.INVALID_PARAMETER, `${ErrorText.NOT_INSTALLED}: ${appId}`);
}

/** A firmware package's persistent area in /storage/details: it has none (no directory, no quota, nothing used). */
const NO_PERSISTENT = { path: null, quotaKB: null, usedKB: 0 } as const;

export function engineMethods(bridge: TaskOperations, client: LunaClient): Record<string, Record<string, MethodSpec>> {
  const groups = [OPERATIONS_GROUP];
  const method = (schema: object, handler: (msg: Message) => Payload | Promise<Payload>): MethodSpec => ({ schema, groups, handler });
  const { store, locks, aux, layout, config } = bridge;

  store.events.subscribe((ev) => {
    if (ev.type === 'created' || ev.type === 'changed' || ev.type === 'ended') {
      client.subscriptions.reply(SUBSCRIPTION_KEY, { returnValue: true, operation: ev.operation } as unknown as Payload);
    }
  });

  return {
    '/operations': {
      list: method(obj([], { state: { type: 'string', maxLength: 16 }, subscribe: { type: 'boolean' } }), (msg) => {
        const operations = value(store.list({ state: msg.payload.state }));
        if (msg.isSubscription) client.subscriptions.add(SUBSCRIPTION_KEY, msg);
        return { returnValue: true, subscribed: msg.isSubscription, operations } as unknown as Payload;
      }),
      get: method(obj(['handle'], { handle, logStart: index, logEnd: index }), async (msg) => {
        const operation = value(store.get(msg.payload.handle));
        const log = value(await store.readLog(msg.payload.handle, msg.payload.logStart, msg.payload.logEnd));
        return { returnValue: true, operation, log: log.text, logSize: log.size, moreData: log.moreData } as unknown as Payload;
      }),
      cancel: method(obj(['handle'], { handle }), (msg) => {
        const r = value(store.cancel(msg.payload.handle));
        if (r.kind === 'refused') throw new CodedError(r.error.code, r.error.text);
        return { returnValue: true, state: r.kind === 'cancelled' ? 'cancelled' : 'cancelling' };
      }),
    },
    '/': {
      lock: method(obj(['id', 'reason', 'owner'], { id, reason: { type: 'string', maxLength: 256 }, owner: { type: 'string', maxLength: 128 } }), async (msg) => {
        await installedOrThrow(bridge, String(msg.payload.id));
        const r = value(await locks.lock(msg.payload.id, msg.payload.reason, msg.payload.owner));
        return { returnValue: true, handle: r.handle };
      }),
      unlock: method(obj(['handle'], { handle }), async (msg) => {
        value(await locks.unlock(msg.payload.handle));
        return { returnValue: true };
      }),
      getLockInfo: method(obj(['id'], { id }), (msg) => {
        const info = value(locks.getLockInfo(msg.payload.id));
        // reason and owner as Thunder's getLockInfo; the handle too, so a caller that knows only the id can /unlock it.
        return { returnValue: true, reason: info.reason, owner: info.owner, handle: info.handle };
      }),
      installed: method(obj([], { section: { type: 'string', minLength: 1, maxLength: 64 } }), async (msg) => {
        const section = msg.payload.section;
        const packages = (await installedPackages(layout))
          .map((p) => ({
            id: p.packageId,
            version: p.version,
            type: String(p.apps[0]?.appInfo.type ?? ''),
            section: Object.entries(p.control).find(([k]) => k.toLowerCase() === 'section')?.[1] ?? '',
            developer: p.developer,
            locked: locks.isLocked(p.packageId) || p.apps.some((a) => locks.isLocked(a.id)),
          }))
          // Firmware packages (firmware-db.ts), apart from the apps: section "firmware", type "firmware".
          .concat((await listFirmware(layout)).map((f) => ({ id: f.name, version: f.version, type: 'firmware', section: 'firmware', developer: false, locked: locks.isLocked(f.name) })))
          .filter((p) => section === undefined || p.section === section);
        return { returnValue: true, packages } as unknown as Payload;
      }),
    },
    '/metadata': {
      get: method(obj(['id'], { id }), async (msg) => {
        const appId = String(msg.payload.id);
        const found = await installedOrThrow(bridge, appId);
        let metadata;
        if (found.kind === 'firmware') metadata = { appinfo: {}, packageinfo: {}, control: found.fw.control }; // no appinfo.json or packageinfo.json
        else {
          const { pkg } = found;
          const app = pkg.apps.find((a) => a.id === appId) ?? pkg.apps[0];
          metadata = { appinfo: app?.appInfo ?? {}, packageinfo: pkg.packageInfo, control: pkg.control };
        }
        return { returnValue: true, metadata, aux: aux.get(appId) } as unknown as Payload;
      }),
      setAux: method(obj(['id', 'key', 'value'], { id, key: { type: 'string', minLength: 1, maxLength: 128 }, value: { type: 'string', maxLength: 1024 } }), async (msg) => {
        await installedOrThrow(bridge, String(msg.payload.id));
        value(await aux.set(msg.payload.id, msg.payload.key, msg.payload.value));
        return { returnValue: true };
      }),
      clearAux: method(obj(['id', 'key'], { id, key: { type: 'string', minLength: 1, maxLength: 128 }, value: { type: 'string', maxLength: 1024 } }), async (msg) => {
        const { id: appId, key } = msg.payload;
        // With "value", only when the key holds exactly that value (a compare-and-clear); else whatever it holds.
        if (msg.payload.value !== undefined && aux.get(String(appId))[String(key)] !== msg.payload.value) return { returnValue: true, cleared: false };
        value(await aux.clear(appId, key));
        return { returnValue: true, cleared: true };
      }),
    },
    '/storage': {
      details: method(obj([], { id }), async (msg) => {
        const appId = msg.payload.id === undefined ? undefined : String(msg.payload.id);
        let appsPath = layout.verifiedApps.base;
        if (appId !== undefined) {
          const found = await installedOrThrow(bridge, appId);
          if (found.kind === 'firmware') {
            // The firmware folder is its `apps` usage; the per-app quotas (storageQuotas) are an app's, not firmware's.
            const usedKB = value(await usageKB(found.fw.dir));
            return { returnValue: true, apps: { path: found.fw.dir, quotaKB: null, usedKB }, persistent: NO_PERSISTENT } as unknown as Payload;
          }
          const { pkg } = found;
          appsPath = (pkg.apps.find((a) => a.id === appId) ?? pkg.apps[0])?.dir ?? pkg.base;
        }
        const d = value(await storageDetails({
          appsPath,
          appsQuotaKB: appId === undefined ? null : config.storageQuotas.apps,
          persistentPath: appId === undefined ? layout.appData : bridge.dataDir(appId),
          persistentQuotaKB: appId === undefined ? null : config.storageQuotas.persistent,
        }));
        return { returnValue: true, apps: d.apps, persistent: d.persistent } as unknown as Payload;
      }),
      reset: method(obj(['id'], { id }), async (msg) => {
        const appId = String(msg.payload.id);
        if ((await installedOrThrow(bridge, appId)).kind === 'firmware') throw new CodedError(ErrorCode.INVALID_PARAMETER, `${ErrorText.FIRMWARE_NO_DATA}: ${appId}`);
        const r = value(await resetDir(bridge.dataDir(appId), layout.appData));
        return { returnValue: true, removed: r.removed };
      }),
    },
  };
}
