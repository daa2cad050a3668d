// Refreshes every configured opkg feed with Node's fetch (conditional, bounded, usign-checked) and keeps each index
// in <root>/var/cache/appinstalld/feeds/, replaced atomically. Not the bus service, not the catalog, not a downloader.
//
// Cache per feed NAME: NAME.Packages (the uncompressed index as received), NAME.sig (its usign signature when
// check_signature is on) and NAME.json (validators, counts, last error). A failing feed keeps its previous index.
import crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { writeFileDurable, unlinkDurable } from '../engine/durable-fs';
import { CodedError } from '../status-codes';
import { FeedErrorCode, FeedText } from '../status-codes/feeds';
import { keysDir, readOpkgConfig, type ConfigLimits, type FeedSource, type OpkgConfig } from './opkg-config';
import { DEFAULT_INDEX_LIMITS, PackagesParser, feedBase, parsePackages, type IndexLimits, type IndexPackage } from './packages-index';
import { USIGN_MAX_FILE_BYTES, verifyUsign } from './usign';

/** One entry of the `/feeds/list` reply. */
export interface FeedInfo {
  name: string;
  url: string;
  priority: number;
  gz: boolean;
  /** ISO time of the last refresh that succeeded (200 or 304), or null. */
  lastRefresh: string | null;
  /** Packages in the index in use. */
  packages: number;
  /** Why the last refresh of this feed failed (the previous index stays in use). */
  error?: string;
}

/** How one feed's refresh ended: a new index, a 304, a failure (FeedInfo.error says why), or stopped by a cancel. */
export type RefreshOutcome = 'fetched' | 'not modified' | 'failed' | 'cancelled';

export interface FeedStoreOptions {
  root: string;
  fetch?: typeof fetch;
  indexLimits?: IndexLimits;
  configLimits?: ConfigLimits;
  /** Bytes of a response body as sent (compressed for src/gz). */
  maxDownloadBytes?: number;
  /** Whole request, headers to last byte. */
  timeoutMs?: number;
  /** Longest wait for the next bytes. */
  stallMs?: number;
  /** Feeds fetched at once. */
  concurrency?: number;
  now?: () => Date;
}

interface FeedMeta {
  url: string;
  gz: boolean;
  etag?: string;
  lastModified?: string;
  lastRefresh: string | null;
  /** sha256 of NAME.Packages, so validators are only sent for the index they belong to. */
  sha256?: string;
  /** The index in use was checked against a usign signature. */
  verified: boolean;
  packages: number;
  error?: string;
}

interface FeedState {
  source: FeedSource;
  meta: FeedMeta;
  packages: IndexPackage[];
  rejectedCount: number;
}

export function feedCacheDir(root: string): string {
  return path.join(root, 'var/cache/appinstalld/feeds');
}

const DEFAULTS = { maxDownloadBytes: 32 * 1024 * 1024, timeoutMs: 120_000, stallMs: 30_000, concurrency: 4 };

export class FeedStore {
  private states = new Map<string, FeedState>();
  private running: Promise<FeedInfo[]> | null = null;
  private readonly listeners = new Set<(info: FeedInfo, outcome: RefreshOutcome) => void>();
  /** The running refresh's cancel (it stops taking feeds and aborts the fetches under way). */
  private runSignal: AbortSignal | undefined;
  config: OpkgConfig | null = null;
  private readonly o: Required<Omit<FeedStoreOptions, 'fetch' | 'configLimits'>> & Pick<FeedStoreOptions, 'fetch' | 'configLimits'>;

  constructor(options: FeedStoreOptions) {
    this.o = { indexLimits: DEFAULT_INDEX_LIMITS, now: () => new Date(), ...DEFAULTS, ...options };
  }

  get cacheDir(): string {
    return feedCacheDir(this.o.root);
  }

  /**
   * Read the config and every cached index not yet held (no network). Safe to call again after the config changed;
   * refresh() calls it first. Not meant to run while a refresh runs (the bus service serialises them).
   */
  async load(): Promise<void> {
    this.config = await readOpkgConfig(this.o.root, this.o.configLimits);
    const next = new Map<string, FeedState>();
    for (const source of this.config.feeds) {
      // A feed already held for the same URL and kind keeps its parsed index (no re-read of the cache each refresh).
      const held = this.states.get(source.name);
      if (held && held.source.url === source.url && held.source.gz === source.gz) next.set(source.name, { ...held, source });
      else next.set(source.name, await this.loadCached(source));
    }
    this.states = next;
  }

  private async loadCached(source: FeedSource): Promise<FeedState> {
    const fresh: FeedState = { source, meta: { url: source.url, gz: source.gz, lastRefresh: null, verified: false, packages: 0 }, packages: [], rejectedCount: 0 };
    const metaFile = path.join(this.cacheDir, `${source.name}.json`);
    let meta: FeedMeta;
    try {
      const text = await fs.readFile(metaFile, 'utf8');
      if (text.length > 64 * 1024) return fresh;
      meta = JSON.parse(text) as FeedMeta;
    } catch {
      return fresh;
    }
    // The feed's URL or kind changed in the config: the cached index belongs to another feed.
    if (meta.url !== source.url || meta.gz !== source.gz) return fresh;
    try {
      const file = path.join(this.cacheDir, `${source.name}.Packages`);
      const st = await fs.stat(file);
      if (st.size > this.o.indexLimits.maxIndexBytes) return { ...fresh, meta: { ...fresh.meta, error: meta.error } };
      const data = await fs.readFile(file);
      const sha = crypto.createHash('sha256').update(data).digest('hex');
      if (meta.sha256 !== sha) return { ...fresh, meta: { ...fresh.meta, error: meta.error } };
      const r = parsePackages(data, source.url, this.o.indexLimits);
      return { source, meta: { ...meta, packages: r.packages.length }, packages: r.packages, rejectedCount: r.rejectedCount };
    } catch {
      return { ...fresh, meta: { ...fresh.meta, error: meta.error } };
    }
  }

  /** `/feeds/list`'s feeds, in config order. */
  list(): FeedInfo[] {
    return [...this.states.values()].map((s) => {
      const info: FeedInfo = { name: s.source.name, url: s.source.url, priority: s.source.priority, gz: s.source.gz, lastRefresh: s.meta.lastRefresh, packages: s.packages.length };
      if (s.meta.error) info.error = s.meta.error;
      return info;
    });
  }

  /** The indexes in use, in config order, for the catalog. */
  indexes(): { feed: string; priority: number; packages: IndexPackage[] }[] {
    return [...this.states.values()].map((s) => ({ feed: s.source.name, priority: s.source.priority, packages: s.packages }));
  }

  /** Stanzas refused in the index in use (bad values, hostile Filenames). */
  rejected(name: string): number {
    return this.states.get(name)?.rejectedCount ?? 0;
  }

  /**
   * Re-read the config, then refresh every feed; one refresh at a time (a second call joins the running one).
   * `onFeed` hears each feed's new info as its refresh ends (for /feeds/refresh subscribers), joiners included.
   */
  refresh(onFeed?: (info: FeedInfo, outcome: RefreshOutcome) => void, signal?: AbortSignal): Promise<FeedInfo[]> {
    if (onFeed) this.listeners.add(onFeed);
    if (!this.running) {
      this.runSignal = signal;
      this.running = (async () => {
        await this.load();
        await fs.mkdir(this.cacheDir, { recursive: true });
        const queue = [...this.states.values()];
        const worker = async () => {
          for (let s = queue.shift(); s && !this.runSignal?.aborted; s = queue.shift()) {
            const outcome = await this.refreshOne(s);
            const info = this.list().find((f) => f.name === s!.source.name)!;
            for (const l of this.listeners) {
              try {
                l(info, outcome);
              } catch {
                /* a listener's fault is not the refresh's */
              }
            }
          }
        };
        await Promise.all(Array.from({ length: Math.max(1, Math.min(this.o.concurrency, queue.length)) }, worker));
        await this.prune();
        return this.list();
      })().finally(() => {
        this.running = null;
        this.runSignal = undefined;
        this.listeners.clear();
      });
    }
    return this.running;
  }

  private async refreshOne(s: FeedState): Promise<RefreshOutcome> {
    const checkSignature = this.config!.checkSignature;
    const indexUrl = feedBase(s.source.url) + (s.source.gz ? 'Packages.gz' : 'Packages');
    try {
      const headers: Record<string, string> = {};
      // Validators only for an index we still hold, and (with check_signature) only for one that was verified.
      if (s.meta.sha256 && (!checkSignature || s.meta.verified)) {
        if (s.meta.etag) headers['If-None-Match'] = s.meta.etag;
        if (s.meta.lastModified) headers['If-Modified-Since'] = s.meta.lastModified;
      }
      const got = await this.fetchBody(indexUrl, headers, s.source.gz, s.source.url);
      if (got === 'not-modified') {
        s.meta = { ...s.meta, lastRefresh: this.o.now().toISOString(), error: undefined };
        await this.writeMeta(s);
        return 'not modified';
      }
      let sigText: string | undefined;
      if (checkSignature) {
        const sigUrl = feedBase(s.source.url) + 'Packages.sig';
        sigText = await this.fetchSmall(sigUrl, USIGN_MAX_FILE_BYTES);
        await verifyUsign(got.data, sigText, keysDir(this.o.root), sigUrl);
      }
      const sha256 = crypto.createHash('sha256').update(got.data).digest('hex');
      // Index first, then its signature, then the meta naming its sha256: a crash between leaves a meta whose
      // sha256 does not match, and the next load ignores the validators (a full fetch), never a wrong index.
      await writeFileDurable(path.join(this.cacheDir, `${s.source.name}.Packages`), got.data);
      if (sigText !== undefined) await writeFileDurable(path.join(this.cacheDir, `${s.source.name}.sig`), sigText);
      else await unlinkDurable(path.join(this.cacheDir, `${s.source.name}.sig`));
      s.packages = got.result.packages;
      s.rejectedCount = got.result.rejectedCount;
      s.meta = {
        url: s.source.url,
        gz: s.source.gz,
        etag: got.etag,
        lastModified: got.lastModified,
        lastRefresh: this.o.now().toISOString(),
        sha256,
        verified: checkSignature,
        packages: s.packages.length,
      };
      await this.writeMeta(s);
      return 'fetched';
    } catch (e) {
      const why = e instanceof CodedError ? e.text : (e as Error).message;
      // A cancelled refresh keeps the feed's previous index and its previous error (the feed did not fail).
      if (this.runSignal?.aborted) return 'cancelled';
      s.meta = { ...s.meta, error: why };
      await this.writeMeta(s).catch(() => undefined);
      return 'failed';
    }
  }

  private async writeMeta(s: FeedState): Promise<void> {
    await writeFileDurable(path.join(this.cacheDir, `${s.source.name}.json`), JSON.stringify({ ...s.meta, packages: s.packages.length }) + '\n');
  }

  /** Remove cache files of feeds no longer configured. */
  private async prune(): Promise<void> {
    let names: string[];
    try {
      names = await fs.readdir(this.cacheDir);
    } catch {
      return;
    }
    for (const n of names) {
      // Temporary files a crash left behind (writeFileDurable's ".NAME.tmp-PID-N"); ours of this run are all renamed.
      if (n.startsWith('.') && n.includes('.tmp-')) {
        await fs.rm(path.join(this.cacheDir, n), { force: true }).catch(() => undefined);
        continue;
      }
      const m = /^(.+)\.(Packages|sig|json)$/.exec(n);
      if (m && !this.states.has(m[1])) await unlinkDurable(path.join(this.cacheDir, n)).catch(() => undefined);
    }
  }

  /** A request bounded in time (overall and between chunks); `body` consumes the response inside the bounds. */
  private async bounded<T>(url: string, headers: Record<string, string>, body: (res: Response, touch: () => void) => Promise<T>): Promise<T> {
    const ac = new AbortController();
    let why: string | null = null;
    const cancel = () => {
      why = FeedText.refreshCancelled(url);
      ac.abort();
    };
    if (this.runSignal?.aborted) cancel();
    this.runSignal?.addEventListener('abort', cancel);
    const overall = setTimeout(() => {
      why = FeedText.timedOut(url, this.o.timeoutMs);
      ac.abort();
    }, this.o.timeoutMs);
    let stall: NodeJS.Timeout | undefined;
    const touch = () => {
      clearTimeout(stall);
      stall = setTimeout(() => {
        why = FeedText.stalled(url, this.o.stallMs);
        ac.abort();
      }, this.o.stallMs);
    };
    touch();
    try {
      const res = await (this.o.fetch ?? fetch)(url, { headers, signal: ac.signal, redirect: 'follow' });
      return await body(res, touch);
    } catch (e) {
      if (why) throw new CodedError(FeedErrorCode.FETCH_FAILED, why);
      if (e instanceof CodedError) throw e;
      const err = e as Error & { cause?: Error & { code?: string } };
      if (typeof (err as NodeJS.ErrnoException).code === 'string' && (err as NodeJS.ErrnoException).code!.startsWith('Z_')) {
        throw new CodedError(FeedErrorCode.BAD_INDEX, FeedText.badGzip(url, err.message));
      }
      throw new CodedError(FeedErrorCode.FETCH_FAILED, FeedText.fetchError(url, err.cause?.message ? `${err.message}: ${err.cause.message}` : err.message));
    } finally {
      clearTimeout(overall);
      clearTimeout(stall);
      this.runSignal?.removeEventListener('abort', cancel);
      if (!ac.signal.aborted) ac.abort();
    }
  }

  private async fetchBody(url: string, headers: Record<string, string>, gz: boolean, feedUrl: string) {
    return this.bounded(url, headers, async (res, touch) => {
      if (res.status === 304 && Object.keys(headers).length) return 'not-modified' as const;
      if (res.status !== 200) throw new CodedError(FeedErrorCode.FETCH_FAILED, FeedText.httpStatus(url, res.status));
      const max = this.o.maxDownloadBytes;
      const declared = Number(res.headers.get('content-length') ?? NaN);
      if (declared > max) throw new CodedError(FeedErrorCode.TOO_LARGE, FeedText.indexTooLarge(url, max));
      if (!res.body) throw new CodedError(FeedErrorCode.FETCH_FAILED, FeedText.fetchError(url, 'no body'));
      const parser = new PackagesParser(feedUrl, this.o.indexLimits);
      const chunks: Buffer[] = [];
      let received = 0;
      // Our own refusals (size, index faults) are what the feed's error must say, not the abort of the body
      // stream that the pipeline's teardown may report first.
      let refusal: unknown;
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          received += chunk.length;
          touch();
          if (received > max) cb((refusal = new CodedError(FeedErrorCode.TOO_LARGE, FeedText.indexTooLarge(url, max))));
          else cb(null, chunk);
        },
      });
      const sink = async (source: AsyncIterable<Buffer>) => {
        for await (const c of source) {
          try {
            parser.push(c);
          } catch (e) {
            throw (refusal = e);
          }
          chunks.push(c);
        }
      };
      const src = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
      try {
        if (gz) await pipeline(src, counter, zlib.createGunzip({ chunkSize: 128 * 1024 }), sink);
        else await pipeline(src, counter, sink);
      } catch (e) {
        throw refusal ?? e;
      }
      const result = parser.end();
      return {
        data: Buffer.concat(chunks),
        result,
        etag: res.headers.get('etag') ?? undefined,
        lastModified: res.headers.get('last-modified') ?? undefined,
      };
    });
  }

  private async fetchSmall(url: string, max: number): Promise<string> {
    return this.bounded(url, {}, async (res, touch) => {
      if (res.status !== 200) throw new CodedError(FeedErrorCode.BAD_SIGNATURE, FeedText.httpStatus(url, res.status));
      const chunks: Buffer[] = [];
      let n = 0;
      for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
        n += c.length;
        touch();
        if (n > max) throw new CodedError(FeedErrorCode.BAD_SIGNATURE, FeedText.badSignatureFile(url, `larger than ${max} bytes`));
        chunks.push(Buffer.from(c));
      }
      return Buffer.concat(chunks).toString('latin1');
    });
  }
}
