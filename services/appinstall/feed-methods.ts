// The feeds and the catalog on com.webos.appInstallService: /feeds/list, /feeds/refresh and /catalog/download (engine
// operations of kinds refresh and download), /catalog/list (paged), /catalog/install (dependencies first, the whole chain one install operation).
import type { LunaClient, MethodSpec, Message } from '../../ipc/client';
import { IncomingMessage } from '../../ipc/method-registry';
import type { Layout } from '../../layout/paths';
import type { Payload } from '../../ipc/protocol';
import { CodedError, ErrorCode, ErrorText, Stage } from '../../status-codes';
import { CatalogActivity, CatalogErrorCode, CatalogText } from '../../status-codes/distribution';
import { buildCatalog, catalogListEntry, feedsListReply, isCatalogFilter, matches, type Catalog, type CatalogEntry, type Candidate } from '../../feeds/catalog';
import type { FeedStore } from '../../feeds/feed-store';
import type { Downloader } from '../../download/downloader';
import fs from 'node:fs';
import { cleanCache, ownerOf } from '../../download/cache';
import { compareVersions, parseVersion } from '../../engine/dpkg-version';
import { alternativeMet, formatClause, parseDepends, type DependAlternative } from '../../engine/depends';
import { relationHolds, compareParsed, type DebianVersion } from '../../engine/dpkg-version';
import { listPackages } from '../../engine/package-db';
import { callerFromPeer } from '../../engine/caller-access';
import { downloadLogger } from '../../engine/download-steps';
import type { OperationStore } from '../../engine/operation-store';
import { DEFAULT_WEIGHTS, type Operation } from '../../engine/operations';
import type { RefreshOutcome } from '../../feeds/feed-store';
import type { DownloadState } from '../../download/types';
import type { AppInstallService } from './appinstall-service';
import type { StatusEvent } from './status-events';

/** ACG group of the feed and catalog methods (the same name the engine's /operations use). */
export const OPERATIONS_GROUP = ['applicationinstall.operations'];

export const CATALOG_PAGE = { defaultLimit: 500, maxLimit: 1000, maxReplyBytes: 768 * 1024 } as const;
/** Packages one /catalog/install may install (the target and its missing dependencies). */
export const MAX_CHAIN = 64;
/** Feed/catalog operations (refreshes followed, catalog downloads, catalog installs) one uid may have running. */
export const MAX_OPERATIONS_PER_CALLER = 8;
const MAX_QUERY = 256;

/** The catalog's version order: dpkg's (engine/dpkg-version.ts); an unparsable version sorts by plain text. */
export function catalogCompare(a: string, b: string): number {
  const r = compareVersions(a, b, { lenient: true });
  if (r.ok) return r.value;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The download file name of a catalog package (one per name and version; the cache cleaner keys on it). */
export function catalogFileName(c: Candidate): string {
  return `${c.pkg.name}_${c.pkg.version}.ipk`.replace(/[^A-Za-z0-9._+-]/g, '_').slice(0, 200);
}

type Versions = Map<string, DebianVersion | null>;

function satisfiesAlt(a: DependAlternative, version: string): boolean {
  if (!a.restriction) return true;
  const v = parseVersion(version, { lenient: true });
  return v.ok && relationHolds(compareParsed(v.value, a.restriction.version), a.restriction.relation);
}

/**
 * What to install for `target`, dependencies first: every Depends/Pre-Depends clause not met by the installed set (or
 * by a package planned before it) is met by the first alternative the catalog has a fitting candidate of. Throws
 * CodedError when a clause cannot be met, a Depends is unreadable, or the chain is longer than MAX_CHAIN.
 */
export function planInstall(catalog: Catalog, target: Candidate, installed: Versions): Candidate[] {
  const plan: Candidate[] = [];
  const have: Versions = new Map(installed);
  const visiting = new Set<string>();
  const visit = (c: Candidate) => {
    if (visiting.has(c.pkg.name)) return; // a dependency cycle: the package is already on its way in
    visiting.add(c.pkg.name);
    for (const field of [c.pkg.preDepends, c.pkg.depends]) {
      if (!field) continue;
      const parsed = parseDepends(field);
      if (!parsed.ok) throw new CodedError(CatalogErrorCode.UNRESOLVABLE, CatalogText.badDepends(c.pkg.name, parsed.error.text));
      for (const clause of parsed.value) {
        if (clause.some((a) => alternativeMet(a, have) || visiting.has(a.name))) continue;
        let pick: Candidate | undefined;
        for (const a of clause) {
          pick = catalog.entries.get(a.name)?.candidates.find((x) => satisfiesAlt(a, x.pkg.version));
          if (pick) break;
        }
        if (!pick) throw new CodedError(CatalogErrorCode.UNRESOLVABLE, CatalogText.unresolvable(c.pkg.name, formatClause(clause)));
        visit(pick);
      }
    }
    if (plan.length >= MAX_CHAIN) throw new CodedError(CatalogErrorCode.UNRESOLVABLE, CatalogText.tooManyDependencies(MAX_CHAIN));
    plan.push(c);
    const v = parseVersion(c.pkg.version, { lenient: true });
    have.set(c.pkg.name, v.ok ? v.value : null);
  };
  visit(target);
  return plan;
}

export interface FeedMethodsOptions {
  layout: Layout;
  /** The engine's operations: a refresh is an operation of kind `refresh`, a catalog download one of kind `download`. */
  operations: OperationStore;
  log(line: string): void;
  /** File names in the download directory others still need (the download manager's finished downloads). */
  keptByOthers?(): string[];
}

export class FeedMethods {
  /** Files /catalog/download fetched for a later install: kept by the cache cleaner until installed. */
  private readonly kept = new Set<string>();
  private readonly perCaller = new Map<number, number>();
  /** What this daemon is doing or last failed to do with a catalog package (docs/appinstall.md's download/install states). */
  private readonly activity = new Map<string, string>();
  /** The running refresh's operation: a second /feeds/refresh joins it (one refresh at a time, FeedStore.refresh). */
  private refreshRun: { op: Operation; subscribers: Message[] } | null = null;
  /** Subscription keys of /catalog/install calls (the chain is one install operation; each package a part of it). */
  private installCalls = 0;

  private setActivity(name: string, what: string | undefined): void {
    this.activity.delete(name);
    if (what !== undefined) this.activity.set(name, what);
    if (this.activity.size > 10000) this.activity.delete(this.activity.keys().next().value as string);
  }

  /** The activity of a task event: downloading (7, 8), installing (10 on), or the failure it ended in. */
  private activityOf(ev: StatusEvent, final: boolean): string | undefined {
    if (ev.statusValue === Stage.DOWNLOAD_FAILED.statusValue) return CatalogActivity.DOWNLOAD_FAILED;
    if (ev.statusValue === Stage.INSTALL_FAILED.statusValue) return CatalogActivity.INSTALL_FAILED;
    if (final) return undefined;
    return ev.statusValue === Stage.DOWNLOAD_REQUESTED.statusValue || ev.statusValue === Stage.DOWNLOAD_CURRENT.statusValue ? CatalogActivity.DOWNLOAD_RUNNING : CatalogActivity.INSTALL_RUNNING;
  }

  constructor(
    private readonly client: LunaClient,
    private readonly service: AppInstallService,
    private readonly store: FeedStore,
    private readonly downloader: Downloader,
    private readonly opts: FeedMethodsOptions,
  ) {}

  private async catalog(): Promise<Catalog> {
    const installed = new Map<string, string>();
    for (const p of await listPackages(this.opts.layout.verifiedApps, false)) installed.set(p.packageId, p.version);
    return buildCatalog(this.store.indexes(), installed, catalogCompare);
  }

  private async installedVersions(): Promise<Versions> {
    const m: Versions = new Map();
    for (const p of await listPackages(this.opts.layout.verifiedApps, false)) {
      const v = parseVersion(p.version, { lenient: true });
      m.set(p.packageId, v.ok ? v.value : null);
    }
    return m;
  }

  /** Counts an operation of a non-root caller against MAX_OPERATIONS_PER_CALLER; returns its release. */
  private take(uid: number): () => void {
    if (uid === 0) return () => undefined;
    const n = this.perCaller.get(uid) ?? 0;
    if (n >= MAX_OPERATIONS_PER_CALLER) throw new CodedError(ErrorCode.INSTALL_FAILED, CatalogText.tooManyOperations(MAX_OPERATIONS_PER_CALLER));
    this.perCaller.set(uid, n + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.perCaller.set(uid, (this.perCaller.get(uid) ?? 1) - 1);
    };
  }

  /**
   * Removes from the download cache what no feed operation, catalog download or download-manager record needs. Only
   * files of ours are candidates (URL installs' url-*.ipk, and NAME_VERSION.ipk of a catalog package): whatever else
   * the download manager put there is its clients' and stays.
   */
  async cleanDownloads(): Promise<void> {
    const dir = this.downloader.options.dir;
    try {
      const catalogFiles = new Set<string>();
      for (const f of this.store.indexes()) for (const p of f.packages) catalogFiles.add(catalogFileName({ feed: f.feed, priority: f.priority, pkg: p }));
      let entries: string[] = [];
      try {
        entries = await fs.promises.readdir(dir);
      } catch {
        return;
      }
      const notOurs = entries.map((e) => ownerOf(e).name).filter((n) => !n.startsWith('url-') && !catalogFiles.has(n));
      const keep = [...notOurs, ...this.kept, ...(this.opts.keptByOthers?.() ?? [])];
      const r = await cleanCache(dir, { keep, busy: this.downloader.busyFilenames() });
      if (r.removed.length) this.opts.log(`download cache: removed ${r.removed.length} file(s), ${r.freedBytes} bytes`);
    } catch (e) {
      this.opts.log(`download cache: ${(e as Error).message}`);
    }
  }

  private endWith(key: string, msg: Message, payload: Payload): void {
    if (msg instanceof IncomingMessage && !msg.hasReturned && !msg.ended) { setImmediate(() => this.endWith(key, msg, payload)); return; }
    this.client.subscriptions.remove(key, msg);
    msg.respond(payload, { last: true });
  }

  private findCandidate(catalog: Catalog, name: string, version?: string): Candidate {
    const e: CatalogEntry | undefined = catalog.entries.get(name);
    if (!e) throw new CodedError(CatalogErrorCode.NOT_IN_CATALOG, CatalogText.notInCatalog(name));
    if (version === undefined) return e.chosen;
    const c = e.candidates.find((x) => x.pkg.version === version);
    if (!c) throw new CodedError(CatalogErrorCode.NOT_IN_CATALOG, CatalogText.noSuchVersion(name, version));
    return c;
  }

  /** Creates and starts an operation of the engine, or throws its refusal as the call's error. */
  private async operation(kind: 'refresh' | 'download', id: string, version: string, msg: Message): Promise<Operation> {
    const caller = `${msg.appId ?? msg.sender ?? msg.senderId ?? 'unknown'} (uid ${callerFromPeer(msg.peer).uid})`;
    const r = await this.opts.operations.create({ kind, id, version, caller: caller.slice(0, 256) });
    if (!r.ok) throw new CodedError(r.error.code, r.error.text);
    r.value.start();
    return r.value;
  }

  private refresh(): MethodSpec {
    return {
      schema: { type: 'object', properties: { subscribe: { type: 'boolean' } } },
      groups: OPERATIONS_GROUP,
      errorExtra: { subscribed: false },
      handler: async (msg) => {
        const running = this.refreshRun;
        if (running && !running.op.ended) {
          // Joins the refresh under way: same handle, its feeds and its end reach this caller too.
          if (msg.isSubscription) {
            this.client.subscriptions.add(`feeds_refresh_${running.op.handle}`, msg);
            running.subscribers.push(msg);
          }
          return { returnValue: true, handle: running.op.handle, subscribed: msg.isSubscription };
        }
        const release = this.take(callerFromPeer(msg.peer).uid);
        let op: Operation;
        try {
          op = await this.operation('refresh', 'feeds', '', msg);
        } catch (e) {
          release();
          throw e;
        }
        const run = { op, subscribers: msg.isSubscription ? [msg] : [] };
        this.refreshRun = run;
        const handle = op.handle;
        const key = `feeds_refresh_${handle}`;
        if (msg.isSubscription) this.client.subscriptions.add(key, msg);
        op.enterPhase('download');
        const counts: Record<RefreshOutcome, number> = { fetched: 0, 'not modified': 0, failed: 0, cancelled: 0 };
        void this.store
          .refresh((feed, outcome) => {
            counts[outcome]++;
            op.appendLog(`feed ${feed.name} (${feed.url}): ${outcome}${outcome === 'failed' && feed.error ? `: ${feed.error}` : ''}${outcome === 'fetched' ? `, ${feed.packages} packages` : ''}`);
            const total = this.store.list().length;
            if (total > 0) op.setPhaseProgress((counts.fetched + counts['not modified'] + counts.failed + counts.cancelled) / total);
            this.client.subscriptions.reply(key, { handle, feed } as unknown as Payload);
          }, op.signal)
          .then(
            (feeds): Record<string, unknown> => {
              op.appendLog(`${counts.fetched} fetched, ${counts['not modified']} not modified, ${counts.failed} failed, of ${feeds.length} feeds`);
              if (op.cancelRequested && !op.committed) {
                op.appendLog('refresh stopped; every feed not refreshed keeps its previous index');
                op.cancelled();
                return { returnValue: false, handle, done: true, errorCode: ErrorCode.CANCELLED, errorText: CatalogText.refreshCancelled, feeds: feedsListReply(feeds).feeds };
              }
              op.enterPhase('verify');
              op.succeed();
              return { returnValue: true, handle, done: true, feeds: feedsListReply(feeds).feeds };
            },
            (e: Error): Record<string, unknown> => {
              op.failWith(ErrorCode.GENERAL, e.message);
              return { returnValue: false, handle, done: true, errorCode: ErrorCode.GENERAL, errorText: e.message };
            },
          )
          .then(async (end) => {
            release();
            if (this.refreshRun === run) this.refreshRun = null;
            this.opts.log(`feeds refresh ${handle}: ${end.returnValue ? 'done' : String(end.errorText)}`);
            for (const m of run.subscribers) this.endWith(key, m, end as unknown as Payload);
            await this.cleanDownloads();
          });
        return { returnValue: true, handle, subscribed: msg.isSubscription };
      },
    };
  }

  private list(): MethodSpec {
    return {
      schema: {
        type: 'object',
        properties: {
          filter: { type: 'string', maxLength: 32 }, section: { type: 'string', maxLength: MAX_QUERY }, search: { type: 'string', maxLength: MAX_QUERY },
          offset: { type: 'integer', minimum: 0 }, limit: { type: 'integer', minimum: 1, maximum: CATALOG_PAGE.maxLimit },
        },
      },
      groups: OPERATIONS_GROUP,
      handler: async (msg) => {
        const p = msg.payload;
        if (p.filter !== undefined && !isCatalogFilter(p.filter)) throw new CodedError(CatalogErrorCode.INVALID_PARAMETER, CatalogText.badQuery(`filter must be all, available, upgradable or installed`));
        const q = { filter: p.filter as never, section: p.section as string | undefined, search: p.search as string | undefined };
        const offset = (p.offset as number | undefined) ?? 0;
        const limit = (p.limit as number | undefined) ?? CATALOG_PAGE.defaultLimit;
        const catalog = await this.catalog();
        const all: CatalogEntry[] = [];
        for (const e of catalog.entries.values()) if (matches(e, q)) all.push(e);
        const packages = [];
        let bytes = 0;
        for (const e of all.slice(offset, offset + limit)) {
          const entry = catalogListEntry(e);
          const doing = this.activity.get(e.name);
          if (doing) (entry as { status: string }).status = doing;
          bytes += JSON.stringify(entry).length;
          if (bytes > CATALOG_PAGE.maxReplyBytes) break; // the next page starts here (offset + packages.length)
          packages.push(entry);
        }
        return { returnValue: true, total: all.length, offset, packages } as unknown as Payload;
      },
    };
  }

  /** Install `name` (and its missing dependencies, first), relaying every task's events to the caller. */
  private install(): MethodSpec {
    return {
      schema: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: MAX_QUERY }, version: { type: 'string', maxLength: MAX_QUERY }, subscribe: { type: 'boolean' } } },
      groups: OPERATIONS_GROUP,
      errorExtra: { subscribed: false },
      handler: async (msg) => {
        const caller = callerFromPeer(msg.peer);
        const catalog = await this.catalog();
        const target = this.findCandidate(catalog, String(msg.payload.name), msg.payload.version as string | undefined);
        const plan = planInstall(catalog, target, await this.installedVersions());
        for (const c of plan) if (this.service.queue.has(c.pkg.name)) throw new CodedError(CatalogErrorCode.BUSY, ErrorText.DUPLICATE_COMMAND, c.pkg.name);
        const release = this.take(caller.uid);
        const client = msg.appId ?? msg.sender ?? msg.senderId;
        const last = plan[plan.length - 1];
        let op: Operation;
        try {
          op = await this.chainOperation(last, msg);
        } catch (e) {
          release();
          throw e;
        }
        const key = `catalog_install_${++this.installCalls}`;
        if (msg.isSubscription) this.client.subscriptions.add(key, msg); // so the call return is not its last reply
        void this.runChain(plan, op, msg, key, client, caller).catch((e: unknown) => {
          // Not expected (every task's failure is an event): the operation still ends, and the caller hears of it.
          this.opts.log(`catalog install ${last.pkg.name} (operation ${op.handle}): ${(e as Error).message}`);
          if (!op.ended) op.failWith(ErrorCode.GENERAL, (e as Error).message);
          if (msg.isSubscription) this.endWith(key, msg, { returnValue: false, handle: op.handle, errorCode: ErrorCode.GENERAL, errorText: (e as Error).message });
        }).finally(() => {
          release();
          void this.cleanDownloads();
        });
        return { returnValue: true, handle: op.handle, subscribed: msg.isSubscription, packages: plan.map((c) => ({ name: c.pkg.name, version: c.pkg.version })) } as unknown as Payload;
      },
    };
  }

  /** The one install operation of a catalog install (its target's name and version), weighed as an install that
   *  downloads; queued until its first package's first step runs (engine/task-operations.ts starts it). */
  private async chainOperation(target: Candidate, msg: Message): Promise<Operation> {
    const caller = `${msg.appId ?? msg.sender ?? msg.senderId ?? 'unknown'} (uid ${callerFromPeer(msg.peer).uid})`;
    const r = await this.opts.operations.create({ kind: 'install', id: target.pkg.name, version: target.pkg.version, caller: caller.slice(0, 256) });
    if (!r.ok) throw new CodedError(r.error.code, r.error.text);
    r.value.reweigh(DEFAULT_WEIGHTS.install);
    return r.value;
  }

  /**
   * Installs the chain's packages one after the other as parts of `op`: each package's span of the progress is its
   * share of the chain's bytes; the chain stops at the first package that fails or is cancelled, or before the next
   * package when a cancel came after one was committed (what was committed stays installed, and the log says so).
   */
  private async runChain(plan: Candidate[], op: Operation, msg: Message, key: string, client: string, caller: { uid: number; gid: number }): Promise<void> {
    // The call's return goes out first; the tasks' events follow it.
    while (msg instanceof IncomingMessage && !msg.hasReturned && !msg.ended) await new Promise((r) => setImmediate(r));
    const target = plan[plan.length - 1].pkg.name;
    const sizes = plan.map((c) => (c.pkg.size && c.pkg.size > 0 ? c.pkg.size : 0));
    const known = sizes.every((x) => x > 0);
    const total = known ? sizes.reduce((a, b) => a + b, 0) : plan.length;
    const installed: string[] = [];
    let start = 0;
    let last: StatusEvent | undefined;
    for (const [i, c] of plan.entries()) {
      const isLast = i === plan.length - 1;
      const share = (known ? sizes[i] : 1) / total;
      op.beginPart(start, isLast ? 1 - start : share, isLast);
      start += share;
      if (op.cancelRequested) {
        last = { id: target, statusValue: Stage.INSTALL_CANCELLED.statusValue, details: { state: Stage.INSTALL_CANCELLED.state, errorCode: ErrorCode.CANCELLED, reason: CatalogText.chainCancelled(installed) } };
        break;
      }
      op.appendLog(CatalogText.chainPart(c.pkg.name, i + 1, plan.length, target));
      const file = catalogFileName(c);
      const source = { download: { url: c.pkg.url, filename: file, size: c.pkg.size, sha256: c.pkg.sha256, md5: c.pkg.sha256 ? undefined : c.pkg.md5 } };
      const payload: Payload = { id: c.pkg.name, ipkUrl: c.pkg.url, name: c.pkg.name, version: c.pkg.version };
      let ev: StatusEvent;
      try {
        ev = await this.service.submit('install', { id: c.pkg.name, developer: false, client, caller, source, partOf: { operation: op, last: isLast } }, payload, undefined, (taskId) => {
          this.service.watchTask(taskId, (e, final) => {
            this.setActivity(c.pkg.name, this.activityOf(e, final));
            if (msg.isSubscription && !(final && isLast)) msg.respond(e as unknown as Payload);
          });
        });
      } catch (e) {
        ev = { id: c.pkg.name, statusValue: 24, details: { state: 'install failed', errorCode: (e as CodedError).code ?? ErrorCode.GENERAL, reason: (e as Error).message } };
      }
      last = ev;
      this.kept.delete(file);
      if (ev.details.errorCode !== undefined) {
        if (ev.details.errorCode === ErrorCode.CANCELLED && op.cancelRequested) {
          last = { ...ev, id: target, details: { ...ev.details, reason: CatalogText.chainCancelled(installed) } };
        } else if (!isLast) last = { ...ev, details: { ...ev.details, reason: `${CatalogText.dependencyFailed(c.pkg.name)}: ${String(ev.details.reason)}` } };
        if (!(ev.details.errorCode === ErrorCode.CANCELLED && op.cancelRequested)) {
          op.failWith(Number(ev.details.errorCode), CatalogText.chainFailed(c.pkg.name, i + 1, plan.length, String(ev.details.reason ?? ev.details.state)));
        }
        break;
      }
      installed.push(`${c.pkg.name} ${c.pkg.version}`);
    }
    if (!op.ended) {
      if (last?.details.errorCode === ErrorCode.CANCELLED) {
        op.appendLog(CatalogText.chainCancelled(installed));
        if (!op.cancelled().ok) op.failWith(ErrorCode.CANCELLED, CatalogText.chainCancelled(installed));
      } else if (last && last.details.errorCode === undefined) {
        op.appendLog(CatalogText.chainDone(target, installed.length));
        op.succeed();
      } else op.failWith(ErrorCode.GENERAL, String(last?.details.reason ?? CatalogText.chainEmpty));
    }
    await this.opts.operations.flush(); // the end is on disk before the bus hears of it
    this.opts.log(`catalog install ${target} (operation ${op.handle}): ${op.state}${last?.details.reason ? `: ${String(last.details.reason)}` : ''}`);
    if (msg.isSubscription && last) this.endWith(key, msg, { ...last, handle: op.handle } as unknown as Payload);
  }

  private download(): MethodSpec {
    return {
      schema: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: MAX_QUERY }, version: { type: 'string', maxLength: MAX_QUERY }, subscribe: { type: 'boolean' } } },
      groups: OPERATIONS_GROUP,
      errorExtra: { subscribed: false },
      handler: async (msg) => {
        const catalog = await this.catalog();
        const c = this.findCandidate(catalog, String(msg.payload.name), msg.payload.version as string | undefined);
        const release = this.take(callerFromPeer(msg.peer).uid);
        let op: Operation;
        try {
          op = await this.operation('download', c.pkg.name, c.pkg.version, msg);
        } catch (e) {
          release();
          throw e;
        }
        const handle = op.handle;
        const key = `catalog_download_${handle}`;
        if (msg.isSubscription) this.client.subscriptions.add(key, msg);
        const file = catalogFileName(c);
        this.kept.add(file);
        this.setActivity(c.pkg.name, CatalogActivity.DOWNLOAD_RUNNING);
        const req = { url: c.pkg.url, filename: file, size: c.pkg.size, sha256: c.pkg.sha256, md5: c.pkg.sha256 ? undefined : c.pkg.md5 };
        const h = this.downloader.start(req);
        op.enterPhase('download');
        const logger = downloadLogger((line) => op.appendLog(line), req);
        const onProgress = (st: DownloadState) => {
          if (st.id !== h.id) return;
          logger.state(st);
          if (st.total) op.setPhaseProgress(st.received / st.total);
        };
        this.downloader.on('progress', onProgress);
        // The operation's cancel (/operations/cancel) is the downloader's: it stops, and the partial file goes.
        const onAbort = () => void this.downloader.cancel(h.id).catch(() => undefined);
        op.signal.addEventListener('abort', onAbort);
        void h.done.then((r) => {
          this.downloader.off('progress', onProgress);
          op.signal.removeEventListener('abort', onAbort);
          release();
          logger.end(r);
          if (!r.ok) this.kept.delete(file);
          const cancelled = !r.ok && op.cancelRequested && op.cancelled().ok;
          if (r.ok) {
            op.enterPhase('verify');
            op.succeed();
          } else if (!cancelled) op.failWith(r.error.code, r.error.text);
          this.setActivity(c.pkg.name, r.ok ? CatalogActivity.DOWNLOAD_DONE : cancelled ? undefined : CatalogActivity.DOWNLOAD_FAILED);
          const end = r.ok
            ? { returnValue: true, handle, done: true, name: c.pkg.name, version: c.pkg.version, path: r.state.path }
            : cancelled
              ? { returnValue: false, handle, done: true, name: c.pkg.name, errorCode: ErrorCode.CANCELLED, errorText: CatalogText.downloadCancelled }
              : { returnValue: false, handle, done: true, name: c.pkg.name, errorCode: r.error.code, errorText: r.error.text };
          this.opts.log(`catalog download ${handle} ${c.pkg.name} ${c.pkg.version}: ${r.ok ? 'done' : end.errorText}`);
          if (msg.isSubscription) this.endWith(key, msg, end as unknown as Payload);
        });
        return { returnValue: true, handle, subscribed: msg.isSubscription };
      },
    };
  }

  /** Loads the cached indexes (no network) and declares /feeds and /catalog. */
  async open(): Promise<void> {
    try {
      await this.store.load();
    } catch (e) {
      this.opts.log(`feeds: ${(e as Error).message}`);
    }
    this.client.registerCategory('/feeds', {
      list: { schema: { type: 'object' }, groups: OPERATIONS_GROUP, handler: () => ({ returnValue: true, ...feedsListReply(this.store.list()) }) as unknown as Payload },
      refresh: this.refresh(),
    });
    this.client.registerCategory('/catalog', { list: this.list(), install: this.install(), download: this.download() });
  }
}
