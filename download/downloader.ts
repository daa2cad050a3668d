// The downloader: a bounded queue of downloads into one directory, each retried with backoff, paused, resumed or
// cancelled, verified (Size, then SHA256sum, else MD5Sum) and renamed into place. Not the bus service: tickets.ts
// shapes its state the way luna-downloadmgr's clients expect, for the service to send.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { DownloadErrorCode, DownloadErrorText } from '../status-codes';
import { attempt, type PartState } from './attempt';
import { checkFilename, checkUrl, targetPaths } from './names';
import { createHasher, WORKER_HASH_MIN_BYTES } from './hasher';
import { readMeta, removeQuietly, type PartMeta } from './part-file';
import { SpeedMeter, Throttle } from './progress';
import { checkSpace } from './space';
import type { DownloaderOptions, DownloadFailure, DownloadRequest, DownloadResult, DownloadState } from './types';

/** Where downloads go under a product root (the directory the cache cleaner also looks after). */
export function defaultDownloadDir(root = '/'): string {
  return path.join(root, 'var/cache/appinstalld/downloads');
}

export const DEFAULT_OPTIONS = {
  concurrency: 2,
  maxQueued: 100,
  maxEndedKept: 100,
  attempts: 5,
  maxTotalAttempts: 100,
  backoffBaseMs: 1000,
  backoffMaxMs: 30000,
  stallTimeoutMs: 30000,
  maxRedirects: 5,
  maxRestarts: 3,
  progressIntervalMs: 250,
  spaceMarginBytes: 16 * 1024 * 1024,
  maxBytesWithoutSize: 4 * 1024 ** 3,
  writeBatchBytes: 1024 * 1024,
  fsync: true,
  // 200 MB from a local nginx on a shared 2-core machine: with its batch buffers reused, the worker costs about the
  // CPU of hashing inline (416-456 vs 426-592 ms) and takes SHA-256 off the thread that reads the socket.
  hashInWorker: 'auto' as 'auto' | 'always' | 'never',
};
type Settings = typeof DEFAULT_OPTIONS & { dir: string };

/** Delay before attempt n+1 after n failures in a row: exponential, capped, with jitter (half to full). */
export function backoffMs(failures: number, baseMs: number, maxMs: number, random = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling * (0.5 + random() * 0.5));
}

const HEX = { sha256: /^[0-9a-f]{64}$/i, md5: /^[0-9a-f]{32}$/i };
const MAX_HEADERS = 32;

interface Job {
  req: DownloadRequest;
  state: DownloadState;
  metaPath: string;
  part?: PartState;
  ctl?: AbortController;
  running?: Promise<void>;
  failuresInRow: number;
  speed: SpeedMeter;
  throttle: Throttle;
  /** The progress event held back by the throttle, sent when the interval is over (a stall after a burst shows). */
  trailing?: NodeJS.Timeout;
  resolve(r: DownloadResult): void;
}

export interface DownloadHandle {
  id: number;
  /** Settles once: completed, failed or cancelled (a paused download stays pending until resumed or cancelled). */
  done: Promise<DownloadResult>;
}

/**
 * Events: `progress` (DownloadState, throttled), `state` (DownloadState on every phase change),
 * `end` (DownloadResult).
 */
export class Downloader extends EventEmitter {
  readonly options: Settings;
  private nextId = 1;
  private readonly jobs = new Map<number, Job>();
  private readonly queue: Job[] = [];
  private active = 0;

  constructor(opts: DownloaderOptions = {}) {
    super();
    const defined = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
    this.options = { ...DEFAULT_OPTIONS, ...defined, dir: opts.dir ?? defaultDownloadDir(opts.root) } as Settings;
    this.options.concurrency = Math.max(1, Math.min(16, Math.floor(this.options.concurrency)));
  }

  /** Queue a download. Invalid input ends at once in a failed result (no exception). */
  start(req: DownloadRequest): DownloadHandle {
    const id = this.nextId++;
    let resolve!: (r: DownloadResult) => void;
    const done = new Promise<DownloadResult>((r) => (resolve = r));
    const nameOk = checkFilename(req.filename) === null;
    const paths = nameOk ? targetPaths(this.options.dir, req.filename) : { final: '', part: '', meta: '' };
    const state: DownloadState = {
      id, url: String(req.url).slice(0, 4096), filename: nameOk ? req.filename : '', path: paths.final, partPath: paths.part,
      phase: 'queued', received: 0, total: req.size, initialOffset: 0, speed: 0, attempts: 0, restarts: 0, fetchedBytes: 0, startedAt: Date.now(),
    };
    const job: Job = { req, state, metaPath: paths.meta, failuresInRow: 0, speed: new SpeedMeter(), throttle: new Throttle(this.options.progressIntervalMs), resolve };
    // Two downloads into one partial file would interleave their bytes.
    const busy = nameOk && this.busyFilenames().includes(req.filename) ? { code: DownloadErrorCode.BUSY, text: DownloadErrorText.busy(req.filename) } : null;
    const waiting = [...this.jobs.values()].filter((x) => x.state.phase === 'queued' || x.state.phase === 'paused').length;
    const full = waiting >= this.options.maxQueued ? { code: DownloadErrorCode.QUEUE_FULL, text: DownloadErrorText.queueFull(this.options.maxQueued) } : null;
    const invalid = this.validate(req) ?? busy ?? full;
    this.jobs.set(id, job);
    if (invalid) {
      this.finish(job, invalid);
      return { id, done };
    }
    this.queue.push(job);
    this.emit('state', this.snapshot(job));
    this.pump();
    return { id, done };
  }

  get(id: number): DownloadState | undefined {
    const j = this.jobs.get(id);
    return j && this.snapshot(j);
  }

  list(): DownloadState[] {
    return [...this.jobs.values()].map((j) => this.snapshot(j));
  }

  /** File names of downloads not yet ended (the cache cleaner leaves their partial files alone). */
  busyFilenames(): string[] {
    return [...this.jobs.values()].filter((j) => ['running', 'queued', 'paused'].includes(j.state.phase)).map((j) => j.state.filename);
  }

  private forgetOldEnded(): void {
    const ended = [...this.jobs.values()].filter((j) => j.state.endedAt !== undefined);
    for (const j of ended.slice(0, Math.max(0, ended.length - this.options.maxEndedKept))) this.jobs.delete(j.state.id);
  }

  /** Forget ended downloads (their states), keeping the running, queued and paused ones. */
  forgetEnded(): void {
    for (const [id, j] of this.jobs) if (['completed', 'failed', 'cancelled'].includes(j.state.phase)) this.jobs.delete(id);
  }

  /** Stop a queued or running download, keeping its partial file. */
  pause(id: number): DownloadFailure | null {
    const j = this.jobs.get(id);
    if (!j || (j.state.phase !== 'running' && j.state.phase !== 'queued')) return notDownloading();
    const qi = this.queue.indexOf(j);
    if (qi >= 0) this.queue.splice(qi, 1);
    j.ctl?.abort('pause');
    this.setPhase(j, 'paused');
    return null;
  }

  /** Continue a paused download (with Range from its partial file). */
  resume(id: number): DownloadFailure | null {
    const j = this.jobs.get(id);
    if (!j || j.state.phase !== 'paused') return notDownloading();
    j.failuresInRow = 0;
    this.queue.push(j);
    this.setPhase(j, 'queued');
    this.pump();
    return null;
  }

  /** Stop a download and remove its partial file and sidecar; resolves once they are gone. */
  async cancel(id: number): Promise<DownloadFailure | null> {
    const j = this.jobs.get(id);
    if (!j || !['running', 'queued', 'paused'].includes(j.state.phase)) return notDownloading();
    const qi = this.queue.indexOf(j);
    if (qi >= 0) this.queue.splice(qi, 1);
    const wasRunning = j.state.phase === 'running';
    j.ctl?.abort('cancel');
    this.setPhase(j, 'cancelled');
    if (wasRunning && j.running) await j.running;
    await removeQuietly(j.state.partPath, j.metaPath, `${j.metaPath}.tmp`);
    this.finish(j, { code: DownloadErrorCode.CANCELLED, text: DownloadErrorText.cancelled }, 'cancelled');
    return null;
  }

  /** Cancel everything (downloads in flight end as cancelled). */
  async close(): Promise<void> {
    await Promise.all([...this.jobs.values()].filter((j) => ['running', 'queued', 'paused'].includes(j.state.phase)).map((j) => this.cancel(j.state.id)));
  }

  private validate(req: DownloadRequest): DownloadFailure | null {
    const u = checkUrl(req.url);
    if (!(u instanceof URL)) return u;
    const badName = checkFilename(req.filename);
    if (badName) return badName;
    if (req.size !== undefined && !(Number.isSafeInteger(req.size) && req.size >= 0)) {
      return { code: DownloadErrorCode.SIZE_MISMATCH, text: DownloadErrorText.invalidSize(String(req.size)) };
    }
    if (req.sha256 !== undefined && !HEX.sha256.test(req.sha256)) return { code: DownloadErrorCode.INVALID_CHECKSUM, text: DownloadErrorText.invalidChecksum('sha256') };
    if (req.md5 !== undefined && !HEX.md5.test(req.md5)) return { code: DownloadErrorCode.INVALID_CHECKSUM, text: DownloadErrorText.invalidChecksum('md5') };
    const h = req.headers ?? {};
    if (Object.keys(h).length > MAX_HEADERS || Object.entries(h).some(([k, v]) => !/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/.test(k) || typeof v !== 'string' || v.length > 4096 || /[\r\n\0]/.test(v))) {
      return { code: DownloadErrorCode.INVALID_URL, text: DownloadErrorText.invalidUrl('bad request headers') };
    }
    return null;
  }

  private pump(): void {
    while (this.active < this.options.concurrency && this.queue.length) {
      const j = this.queue.shift()!;
      this.active++;
      const ctl = (j.ctl = new AbortController());
      this.setPhase(j, 'running');
      // A paused run may still be winding down (its last write); the next one starts after it.
      j.running = (j.running ?? Promise.resolve())
        .then(() => (ctl.signal.aborted ? undefined : this.run(j, ctl.signal)))
        .catch((e) => {
          if (!['paused', 'cancelled'].includes(j.state.phase)) this.fail(j, { code: DownloadErrorCode.FILESYSTEM, text: DownloadErrorText.filesystem((e as Error).message) });
        })
        .finally(() => {
          this.active--;
          this.pump();
        });
    }
  }

  /** The partial file to continue from: this process's own (after a pause), or one a previous run left with a matching sidecar. */
  private async preparePart(j: Job): Promise<PartState> {
    const { req } = j;
    const withMd5 = !req.sha256 && !!req.md5;
    const partPath = j.state.partPath;
    let size = -1;
    try {
      size = (await fs.promises.stat(partPath)).size;
    } catch {
      size = -1;
    }
    if (j.part && j.part.have === size && j.part.hash.bytes === size) return j.part;
    j.part?.hash.close();
    const o = this.options;
    const inWorker = o.hashInWorker === 'always' || (o.hashInWorker === 'auto' && (req.size === undefined || req.size >= WORKER_HASH_MIN_BYTES));
    const hash = createHasher(withMd5, { inWorker });
    const kept = { restarts: j.part?.restarts ?? 0, fetched: j.part?.fetched ?? 0 };
    const fresh: PartMeta = { url: req.url, size: req.size, sha256: req.sha256?.toLowerCase(), md5: req.md5?.toLowerCase() };
    const meta = size > 0 ? await readMeta(j.metaPath) : null;
    const same = meta && meta.url === fresh.url && meta.size === fresh.size && meta.sha256 === fresh.sha256 && meta.md5 === fresh.md5;
    if (size > 0 && same && (req.size === undefined || size <= req.size)) {
      try {
        await hash.hashFile(partPath, size);
        return { partPath, metaPath: j.metaPath, have: size, hash, meta: meta!, total: req.size, ...kept };
      } catch {
        hash.reset();
      }
    }
    await removeQuietly(partPath, j.metaPath);
    return { partPath, metaPath: j.metaPath, have: 0, hash, meta: fresh, total: req.size, ...kept };
  }

  private async run(j: Job, signal: AbortSignal): Promise<void> {
    const o = this.options;
    const { req } = j;
    await fs.promises.mkdir(o.dir, { recursive: true });
    const part = (j.part = await this.preparePart(j));
    j.state.initialOffset = part.have;
    j.state.received = part.have;
    j.speed.reset(Date.now(), part.have);
    if (signal.aborted) return;
    if (req.size !== undefined) {
      const refused = await checkSpace(o.dir, req.size - part.have, o.spaceMarginBytes);
      if (refused) return this.fail(j, refused);
    }
    const settings = {
      url: req.url,
      headers: req.headers ?? {},
      expectedSize: req.size,
      withMd5: !req.sha256 && !!req.md5,
      hasChecksum: !!(req.sha256 || req.md5),
      stallTimeoutMs: o.stallTimeoutMs,
      maxRedirects: o.maxRedirects,
      maxBytesWithoutSize: o.maxBytesWithoutSize,
      writeBatchBytes: o.writeBatchBytes,
      checkSpace: (remaining: number) => checkSpace(o.dir, remaining, o.spaceMarginBytes),
      onData: (received: number) => this.progress(j, received),
    };
    let restartsThisRun = 0;
    for (;;) {
      if (part.total !== undefined && part.have === part.total && part.have > 0 && part.hash.bytes === part.have) break;
      j.state.attempts++;
      const out = await attempt(part, settings, signal);
      this.sync(j);
      if (out.kind === 'aborted') return;
      if (out.kind === 'done') break;
      if (out.kind === 'fatal') return this.fail(j, withAttempts(out.failure, j.state.attempts));
      if (out.kind === 'again') {
        if (++restartsThisRun > o.maxRestarts) return this.fail(j, { code: DownloadErrorCode.BAD_RANGE_REPLY, text: DownloadErrorText.failedAfter(j.state.attempts, out.why) });
        continue;
      }
      j.failuresInRow = out.progressed ? 1 : j.failuresInRow + 1;
      if (j.failuresInRow >= o.attempts || j.state.attempts >= o.maxTotalAttempts) {
        return this.fail(j, { ...out.failure, text: DownloadErrorText.failedAfter(j.state.attempts, out.failure.text) });
      }
      const wait = Math.max(backoffMs(j.failuresInRow, o.backoffBaseMs, o.backoffMaxMs), Math.min(out.retryAfterMs ?? 0, o.backoffMaxMs));
      await sleep(wait, signal);
      if (signal.aborted) return;
    }
    await this.verifyAndPlace(j, part, signal);
  }

  private async verifyAndPlace(j: Job, part: PartState, signal: AbortSignal): Promise<void> {
    const { req } = j;
    if (req.size !== undefined && part.have !== req.size) return this.fail(j, { code: DownloadErrorCode.SIZE_MISMATCH, text: DownloadErrorText.sizeMismatch(req.size, part.have) });
    let digests: { sha256: string; md5?: string };
    try {
      digests = await part.hash.digest();
    } catch (e) {
      return this.fail(j, { code: DownloadErrorCode.FILESYSTEM, text: DownloadErrorText.filesystem((e as Error).message) });
    }
    // Paused or cancelled meanwhile: the complete part stays for resume() (re-hashed from the file, since the digest
    // spent this hash) or goes with cancel().
    const spent = () => part.hash.reset();
    if (signal.aborted) return spent();
    const sha256 = digests.sha256;
    if (req.sha256 && sha256 !== req.sha256.toLowerCase()) {
      return this.fail(j, { code: DownloadErrorCode.CHECKSUM_MISMATCH, text: DownloadErrorText.checksumMismatch('sha256', req.sha256.toLowerCase(), sha256) });
    }
    if (!req.sha256 && req.md5) {
      const md5 = digests.md5!;
      if (md5 !== req.md5.toLowerCase()) return this.fail(j, { code: DownloadErrorCode.CHECKSUM_MISMATCH, text: DownloadErrorText.checksumMismatch('md5', req.md5.toLowerCase(), md5) });
    }
    try {
      // An empty body never opened the partial file.
      const fh = await fs.promises.open(part.partPath, 'a');
      try {
        if (this.options.fsync) await fh.sync();
      } finally {
        await fh.close();
      }
      if (signal.aborted) return spent();
      await fs.promises.rename(part.partPath, j.state.path);
      await removeQuietly(j.metaPath);
    } catch (e) {
      return this.fail(j, { code: DownloadErrorCode.FILESYSTEM, text: DownloadErrorText.filesystem((e as Error).message) });
    }
    j.state.sha256 = sha256;
    j.state.total = part.have;
    this.finish(j, null, 'completed');
  }

  private sync(j: Job): void {
    const p = j.part!;
    j.state.received = p.have;
    j.state.restarts = p.restarts;
    j.state.fetchedBytes = p.fetched;
    j.state.httpStatus = p.httpStatus;
    if (p.total !== undefined) j.state.total = p.total;
  }

  private progress(j: Job, received: number): void {
    const now = Date.now();
    j.state.received = received;
    j.state.fetchedBytes = j.part!.fetched;
    if (j.part!.total !== undefined) j.state.total = j.part!.total;
    j.state.speed = j.speed.sample(now, received);
    if (j.throttle.ready(now)) {
      clearTimeout(j.trailing);
      j.trailing = undefined;
      this.emit('progress', this.snapshot(j));
    } else if (!j.trailing) {
      j.trailing = setTimeout(() => {
        j.trailing = undefined;
        if (j.state.phase !== 'running') return;
        j.throttle.ready(Date.now());
        this.emit('progress', this.snapshot(j));
      }, this.options.progressIntervalMs);
      j.trailing.unref();
    }
  }

  /** A failure ends the download and removes what it left (nothing half-verified stays in the directory). */
  private async fail(j: Job, error: DownloadFailure): Promise<void> {
    await removeQuietly(j.state.partPath, j.metaPath, `${j.metaPath}.tmp`);
    this.finish(j, error, 'failed');
  }

  private finish(j: Job, error: DownloadFailure | null, phase: 'completed' | 'failed' | 'cancelled' = 'failed'): void {
    if (j.state.endedAt !== undefined) return; // ends once
    clearTimeout(j.trailing);
    j.trailing = undefined;
    if (j.part) {
      this.sync(j);
      j.part.hash.close();
    }
    j.state.endedAt = Date.now();
    if (error) j.state.error = error;
    j.state.phase = phase;
    const state = this.snapshot(j);
    this.emit('progress', state);
    this.emit('state', state);
    const result: DownloadResult = error ? { ok: false, error, state } : { ok: true, state };
    this.forgetOldEnded();
    this.emit('end', result);
    j.resolve(result);
  }

  private setPhase(j: Job, phase: DownloadState['phase']): void {
    j.state.phase = phase;
    this.emit('state', this.snapshot(j));
  }

  private snapshot(j: Job): DownloadState {
    return { ...j.state, error: j.state.error && { ...j.state.error } };
  }
}

function notDownloading(): DownloadFailure {
  return { code: DownloadErrorCode.NOT_DOWNLOADING, text: DownloadErrorText.notDownloading };
}

function withAttempts(f: DownloadFailure, attempts: number): DownloadFailure {
  return f.code === DownloadErrorCode.HTTP_ERROR ? { ...f, text: DownloadErrorText.failedAfter(attempts, f.text) } : f;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
