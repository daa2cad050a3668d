// What the peer modules need from the install engine, and its implementation over the bus: every call is made as
// the app named by the request's token (`appId`), so the ACG decides with that name's role and client permissions.
import { Observable } from 'rxjs';
import { LunaClient } from '../ipc/client';
import type { Payload } from '../ipc/protocol';
import { classifyBusError, PeerError } from '../status-codes/peer-errors';
import { Stage } from '../status-codes';

export const APPINSTALL = 'luna://com.webos.appInstallService';
export const APPMANAGER = 'luna://com.webos.applicationManager';

export interface InstalledApp { id: string; version: string; type: string; title?: string; icon?: string; section?: string; locked?: boolean }
export interface CatalogEntry {
  name: string;
  installedVersion?: string;
  candidate?: { version: string; feed?: string; size?: number; section?: string; description?: string; depends?: string[] | string };
  status: string;
}
/** A candidate's Depends entries: /catalog/list gives them split ("liba (>= 1.0)"), a Depends line is comma-separated. */
export function dependsOf(c: CatalogEntry['candidate']): string[] {
  const d = c?.depends;
  if (Array.isArray(d)) return d.filter((x) => typeof x === 'string' && x.trim() !== '').map((x) => x.trim());
  return (d ?? '').split(',').map((x) => x.trim()).filter(Boolean);
}
export interface Feed { name: string; url: string; priority: number | string; gz?: boolean; lastRefresh?: string; packages?: number; error?: string }
export interface EngineOperation {
  handle: string; kind: string; id: string; version?: string; type?: string; state: string; progress: number; phase?: string;
  createTime?: string; startTime?: string; endTime?: string; errorCode?: number; errorText?: string;
}
/** One event of an install or remove stream (the bus's /install and /remove status events). */
export interface StatusEvent { id?: string; statusValue: number; details: Record<string, any>; handle?: string }
export interface StorageDetails { apps: { path: string; quotaKB: string | number; usedKB: string | number }; persistent: { path: string; quotaKB: string | number; usedKB: string | number } }

/** The engine as the gateway sees it. `as` is the client name the token stands for. Errors are PeerError. */
export interface Backend {
  listInstalled(as: string, opts?: { section?: string }): Promise<InstalledApp[]>;
  catalog(as: string, opts?: { filter?: string; section?: string }): Promise<CatalogEntry[]>;
  feeds(as: string): Promise<Feed[]>;
  refreshFeeds(as: string): Promise<{ handle?: string }>;
  /** /feeds/refresh followed to its end (Domogik's update-cache answers once the cache is updated). */
  refreshFeedsDone(as: string): Promise<void>;
  /** Install from a local .ipk path: the status stream (ends after the final event). */
  installFile(as: string, id: string, file: string, extra?: Payload): Observable<StatusEvent>;
  /** Install from an http(s) URL: /install downloads it first through the download manager (docs/appinstall.md). */
  installUrl(as: string, id: string, url: string): Observable<StatusEvent>;
  /** Install a catalog package by name (downloads it first). */
  installName(as: string, name: string, version?: string): Observable<StatusEvent>;
  download(as: string, name: string, version?: string): Promise<{ handle: string }>;
  /** /catalog/download followed to its end, as status events: requested (7, with the handle), complete (10) or failed (23). */
  downloadName(as: string, name: string, version?: string): Observable<StatusEvent>;
  remove(as: string, id: string): Observable<StatusEvent>;
  operations(as: string, state?: string): Promise<EngineOperation[]>;
  /** Every change of every engine operation (/operations/list subscribed as the gateway itself). */
  operationChanges(): Observable<EngineOperation>;
  /** Every install/remove status event of the service (/status subscribed as the gateway itself). */
  statusChanges(): Observable<StatusEvent>;
  /** Whether this client may watch operations (it may call /status): the gate for event subscriptions. */
  canWatch(as: string): Promise<boolean>;
  operation(as: string, handle: string, logStart?: number, logEnd?: number): Promise<{ operation: EngineOperation; log: string; logSize: number; moreData: boolean }>;
  cancel(as: string, handle: string): Promise<void>;
  lock(as: string, id: string, reason: string, owner: string): Promise<{ handle: string }>;
  unlock(as: string, handle: string): Promise<void>;
  lockInfo(as: string, id: string): Promise<{ reason: string; owner: string }>;
  metadata(as: string, id: string): Promise<{ metadata: Record<string, any>; aux: Record<string, string> }>;
  setAux(as: string, id: string, key: string, value: string): Promise<void>;
  clearAux(as: string, id: string, key: string): Promise<void>;
  storage(as: string, id?: string): Promise<StorageDetails>;
  resetStorage(as: string, id: string): Promise<void>;
  close(): Promise<void>;
}

const FINAL = new Set([22, 24, 25, 30, 31]);
const CALL_TIMEOUT_MS = 30_000;
/** Pages of /catalog/list one catalog read follows (1,000 entries each at most). */
const MAX_CATALOG_PAGES = 64;
/** How long a method the bus called unknown is taken as missing (the methods of a running daemon do not come and go). */
const MISSING_TTL_MS = 5_000;

function fail(reply: Payload): PeerError {
  const code = typeof reply.errorCode === 'number' ? reply.errorCode : -1;
  const text = typeof reply.errorText === 'string' ? reply.errorText : 'unknown error';
  return new PeerError(classifyBusError(code, text), text, code);
}

export class BusBackend implements Backend {
  private constructor(private readonly client: LunaClient) {}

  static async connect(opts: { root?: string; socketPath?: string }): Promise<BusBackend> {
    return new BusBackend(await LunaClient.connect({ root: opts.root, socketPath: opts.socketPath, name: null }));
  }

  get hubGone$() { return this.client.hubGone$; }

  /** Bus methods found missing ("Unknown method": the engine/feeds branch not there): not asked again for a while. */
  private readonly missing = new Map<string, { until: number; error: PeerError }>();

  private async one(as: string, uri: string, payload: Payload): Promise<Payload> {
    const gone = this.missing.get(uri);
    if (gone && gone.until > Date.now()) throw gone.error;
    try {
      return await this.oneNow(as, uri, payload);
    } catch (e) {
      if (e instanceof PeerError && e.kind === 'unavailable' && /^Unknown method/.test(e.message)) this.missing.set(uri, { until: Date.now() + MISSING_TTL_MS, error: e });
      throw e;
    }
  }

  private async oneNow(as: string, uri: string, payload: Payload): Promise<Payload> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new PeerError('timeout', `no answer from ${uri} within ${CALL_TIMEOUT_MS} ms`)), CALL_TIMEOUT_MS);
    });
    try {
      const reply = await Promise.race([this.client.callOne(uri, payload, { appId: as }), timeout]);
      if (reply.returnValue === false) throw fail(reply);
      return reply;
    } catch (e) {
      if (e instanceof PeerError) throw e;
      throw new PeerError('failed', (e as Error).message);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A subscribed install/remove: the call return is checked, then status events until a final one. */
  private stream(as: string, uri: string, payload: Payload, keep: (ev: StatusEvent) => boolean = () => true): Observable<StatusEvent> {
    return new Observable<StatusEvent>((sub) => {
      let first = true;
      const s = this.client.call(uri, { ...payload, subscribe: true }, { appId: as }).subscribe({
        next: (p) => {
          if (p.returnValue === false) {
            sub.error(fail(p));
            return;
          }
          if (first && typeof p.statusValue !== 'number') {
            first = false;
            return; // the call return {returnValue:true, subscribed:true}
          }
          first = false;
          if (typeof p.statusValue !== 'number') return;
          const details = (p.details && typeof p.details === 'object' ? p.details : {}) as Record<string, any>;
          const handle = typeof p.handle === 'string' ? p.handle : typeof details.handle === 'string' ? details.handle : undefined;
          const ev: StatusEvent = { id: p.id as string | undefined, statusValue: p.statusValue, details, handle };
          if (!keep(ev)) return;
          sub.next(ev);
          if (FINAL.has(p.statusValue)) sub.complete();
        },
        error: (e) => sub.error(e instanceof PeerError ? e : new PeerError('failed', (e as Error).message)),
        complete: () => sub.complete(),
      });
      return () => s.unsubscribe();
    });
  }

  async listInstalled(as: string, opts: { section?: string } = {}): Promise<InstalledApp[]> {
    try {
      const r = await this.one(as, `${APPINSTALL}/installed`, opts.section ? { section: opts.section } : {});
      return ((r.packages as any[]) ?? []).map((p) => ({ id: p.id, version: p.version, type: p.type ?? 'web', section: p.section, locked: p.locked }));
    } catch (e) {
      // Until the engine's /installed is on the bus (or for a client the ACG lets list apps but not read the
      // engine), applicationManager/listApps answers for apps; its own ACG decision applies.
      if (!(e instanceof PeerError) || (e.kind !== 'unavailable' && e.kind !== 'denied') || opts.section === 'firmware') throw e;
      const r = await this.one(as, `${APPMANAGER}/listApps`, {});
      return ((r.apps as any[]) ?? []).map((a) => ({ id: a.id, version: a.version, type: a.type ?? 'web', title: a.title, icon: a.icon }));
    }
  }
  async catalog(as: string, opts: { filter?: string; section?: string } = {}): Promise<CatalogEntry[]> {
    // /catalog/list answers in pages (at most 1,000 entries, 768 KiB): read them all, up to MAX_CATALOG_PAGES.
    const out: CatalogEntry[] = [];
    for (let page = 0; page < MAX_CATALOG_PAGES; page++) {
      const r = await this.one(as, `${APPINSTALL}/catalog/list`, { filter: opts.filter ?? 'all', ...(opts.section ? { section: opts.section } : {}), offset: out.length, limit: 1000 });
      const got = (r.packages as CatalogEntry[]) ?? [];
      out.push(...got);
      if (got.length === 0 || typeof r.total !== 'number' || out.length >= r.total) break;
    }
    return out;
  }
  async feeds(as: string): Promise<Feed[]> {
    return ((await this.one(as, `${APPINSTALL}/feeds/list`, {})).feeds as Feed[]) ?? [];
  }
  async refreshFeeds(as: string): Promise<{ handle?: string }> {
    const r = await this.one(as, `${APPINSTALL}/feeds/refresh`, {});
    return { handle: r.handle as string | undefined };
  }
  refreshFeedsDone(as: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let s: { unsubscribe(): void } | undefined;
      let ended = false;
      const end = (f: () => void) => { if (ended) return; ended = true; clearTimeout(timer); queueMicrotask(() => s?.unsubscribe()); f(); };
      const timer = setTimeout(() => end(() => reject(new PeerError('timeout', `no end of ${APPINSTALL}/feeds/refresh within ${CALL_TIMEOUT_MS} ms`))), CALL_TIMEOUT_MS);
      s = this.client.call(`${APPINSTALL}/feeds/refresh`, { subscribe: true }, { appId: as }).subscribe({
        next: (p) => {
          if (p.returnValue === false) end(() => reject(fail(p)));
          else if (p.done === true) end(resolve);
        },
        error: (e) => end(() => reject(e instanceof PeerError ? e : new PeerError('failed', (e as Error).message))),
        complete: () => end(resolve),
      });
      if (ended) s.unsubscribe();
    });
  }
  installFile(as: string, id: string, file: string, extra: Payload = {}): Observable<StatusEvent> {
    return this.stream(as, `${APPINSTALL}/install`, { ...extra, id, ipkUrl: file });
  }
  installUrl(as: string, id: string, url: string): Observable<StatusEvent> {
    return this.stream(as, `${APPINSTALL}/install`, { id, ipkUrl: url });
  }
  installName(as: string, name: string, version?: string): Observable<StatusEvent> {
    // /catalog/install relays each package of its plan (missing dependencies first): a dependency's "installed" is
    // not the end of the install; a failure (of any package) is.
    return this.stream(as, `${APPINSTALL}/catalog/install`, version ? { name, version } : { name }, (ev) => !(ev.id !== undefined && ev.id !== name && (ev.statusValue === 30 || ev.statusValue === 31)));
  }
  async download(as: string, name: string, version?: string): Promise<{ handle: string }> {
    const r = await this.one(as, `${APPINSTALL}/catalog/download`, version ? { name, version } : { name });
    return { handle: String(r.handle) };
  }
  downloadName(as: string, name: string, version?: string): Observable<StatusEvent> {
    return new Observable<StatusEvent>((sub) => {
      let handle: string | undefined;
      const s = this.client.call(`${APPINSTALL}/catalog/download`, { ...(version ? { name, version } : { name }), subscribe: true }, { appId: as }).subscribe({
        next: (p) => {
          if (p.returnValue === false && handle === undefined) { sub.error(fail(p)); return; }
          if (typeof p.handle === 'string') handle = p.handle;
          if (p.done !== true) {
            sub.next({ id: name, statusValue: Stage.DOWNLOAD_REQUESTED.statusValue, details: { state: Stage.DOWNLOAD_REQUESTED.state, handle, version }, handle });
            return;
          }
          const st = p.returnValue === false ? Stage.DOWNLOAD_FAILED : Stage.DOWNLOAD_COMPLETE;
          sub.next({ id: name, statusValue: st.statusValue, details: { state: st.state, handle, version: p.version, reason: p.errorText, errorCode: p.errorCode }, handle });
          sub.complete();
        },
        error: (e) => sub.error(e instanceof PeerError ? e : new PeerError('failed', (e as Error).message)),
        complete: () => sub.complete(),
      });
      return () => s.unsubscribe();
    });
  }
  remove(as: string, id: string): Observable<StatusEvent> {
    return this.stream(as, `${APPINSTALL}/remove`, { id });
  }
  async operations(as: string, state?: string): Promise<EngineOperation[]> {
    return ((await this.one(as, `${APPINSTALL}/operations/list`, state ? { state } : {})).operations as EngineOperation[]) ?? [];
  }
  /** A subscription made as the gateway's own (privileged) connection: its first reply is the call return. */
  private watch(uri: string, pick: (p: Payload) => unknown): Observable<any> {
    return new Observable<any>((sub) => {
      const s = this.client.call(uri, { subscribe: true }).subscribe({
        next: (p) => {
          if (p.returnValue === false) { sub.error(fail(p)); return; }
          const v = pick(p);
          if (v !== undefined) sub.next(v);
        },
        error: (e) => sub.error(e instanceof PeerError ? e : new PeerError('failed', (e as Error).message)),
        complete: () => sub.complete(),
      });
      return () => s.unsubscribe();
    });
  }
  operationChanges(): Observable<EngineOperation> {
    return this.watch(`${APPINSTALL}/operations/list`, (p) => (p.operation && typeof p.operation === 'object' ? p.operation : undefined));
  }
  statusChanges(): Observable<StatusEvent> {
    return this.watch(`${APPINSTALL}/status`, (p) => {
      if (typeof p.statusValue !== 'number' || typeof p.id !== 'string') return undefined;
      const details = (p.details && typeof p.details === 'object' ? p.details : {}) as Record<string, any>;
      return { id: p.id, statusValue: p.statusValue, details, handle: typeof details.handle === 'string' ? details.handle : undefined };
    });
  }
  async canWatch(as: string): Promise<boolean> {
    try {
      await this.one(as, `${APPINSTALL}/status`, {});
      return true;
    } catch (e) {
      if (e instanceof PeerError && e.kind === 'denied') return false;
      throw e;
    }
  }
  async operation(as: string, handle: string, logStart?: number, logEnd?: number) {
    const p: Payload = { handle };
    if (logStart !== undefined) p.logStart = logStart;
    if (logEnd !== undefined) p.logEnd = logEnd;
    const r = await this.one(as, `${APPINSTALL}/operations/get`, p);
    return { operation: r.operation as EngineOperation, log: String(r.log ?? ''), logSize: Number(r.logSize ?? 0), moreData: r.moreData === true };
  }
  async cancel(as: string, handle: string): Promise<void> {
    await this.one(as, `${APPINSTALL}/operations/cancel`, { handle });
  }
  async lock(as: string, id: string, reason: string, owner: string) {
    return { handle: String((await this.one(as, `${APPINSTALL}/lock`, { id, reason, owner })).handle) };
  }
  async unlock(as: string, handle: string): Promise<void> {
    await this.one(as, `${APPINSTALL}/unlock`, { handle });
  }
  async lockInfo(as: string, id: string) {
    const r = await this.one(as, `${APPINSTALL}/getLockInfo`, { id });
    return { reason: String(r.reason ?? ''), owner: String(r.owner ?? '') };
  }
  async metadata(as: string, id: string) {
    const r = await this.one(as, `${APPINSTALL}/metadata/get`, { id });
    return { metadata: (r.metadata as Record<string, any>) ?? {}, aux: (r.aux as Record<string, string>) ?? {} };
  }
  async setAux(as: string, id: string, key: string, value: string): Promise<void> {
    await this.one(as, `${APPINSTALL}/metadata/setAux`, { id, key, value });
  }
  async clearAux(as: string, id: string, key: string): Promise<void> {
    await this.one(as, `${APPINSTALL}/metadata/clearAux`, { id, key });
  }
  async storage(as: string, id?: string): Promise<StorageDetails> {
    const r = await this.one(as, `${APPINSTALL}/storage/details`, id ? { id } : {});
    return { apps: r.apps as StorageDetails['apps'], persistent: r.persistent as StorageDetails['persistent'] };
  }
  async resetStorage(as: string, id: string): Promise<void> {
    await this.one(as, `${APPINSTALL}/storage/reset`, { id });
  }
  async close(): Promise<void> {
    await this.client.close();
  }
}
