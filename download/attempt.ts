// One HTTP attempt of a download: request (with Range/If-Range when a partial file exists), redirects, the reply's
// checks (206 Content-Range, 200 to a range request, 416, Content-Length), and the body written to the partial file
// while it is hashed. Not retries, queueing or verification (downloader.ts).
import fs from 'node:fs';
import { DownloadErrorCode, DownloadErrorText } from '../status-codes';
import { checkUrl } from './names';
import type { Hasher } from './hasher';
import { writeMeta, type PartMeta } from './part-file';
import { get, readBody, type Reply } from './request';
import { Batches } from './batches';
import type { DownloadFailure } from './types';

/** The partial file as the downloader holds it between attempts; an attempt updates it in place. */
export interface PartState {
  partPath: string;
  metaPath: string;
  /** Bytes in the partial file, all of them in `hash`. */
  have: number;
  hash: Hasher;
  meta: PartMeta;
  /** Expected total: the request's size, else learnt from the server. */
  total?: number;
  restarts: number;
  fetched: number;
  httpStatus?: number;
}

export interface AttemptSettings {
  url: string;
  headers: Record<string, string>;
  expectedSize?: number;
  withMd5: boolean;
  /** Whether resuming without a validator is safe (an expected checksum will catch a changed file). */
  hasChecksum: boolean;
  stallTimeoutMs: number;
  maxRedirects: number;
  maxBytesWithoutSize: number;
  writeBatchBytes: number;
  /** Free-space check for a total learnt from the server (before any byte is written). */
  checkSpace(remaining: number): Promise<DownloadFailure | null>;
  onData(received: number, fetchedChunk: number): void;
}

export type AttemptOutcome =
  | { kind: 'done' }
  | { kind: 'again'; why: string }
  | { kind: 'retry'; failure: DownloadFailure; progressed: boolean; retryAfterMs?: number }
  | { kind: 'fatal'; failure: DownloadFailure }
  | { kind: 'aborted'; reason: unknown };

const STALL = Symbol('stall');
/** Write buffers in flight at most (of writeBatchBytes each): the memory a download holds. */
const MAX_BATCHES = 16;

const httpFailure = (res: Reply): DownloadFailure => ({
  code: DownloadErrorCode.HTTP_ERROR,
  text: DownloadErrorText.httpStatus(res.status, res.statusText),
  httpStatus: res.status,
});

/** An HTTP status worth another attempt: 408, 429 and 5xx. */
export function retryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** `bytes A-B/T` (T may be `*`) or `bytes * /T` parsed; null when malformed. */
export function parseContentRange(v: string | null): { start?: number; end?: number; total?: number } | null {
  if (!v) return null;
  let m = /^bytes\s+(\d{1,15})-(\d{1,15})\/(\d{1,15}|\*)$/i.exec(v.trim());
  if (m) {
    const start = Number(m[1]);
    const end = Number(m[2]);
    const total = m[3] === '*' ? undefined : Number(m[3]);
    if (end < start || (total !== undefined && end >= total)) return null;
    return { start, end, total };
  }
  m = /^bytes\s+\*\/(\d{1,15})$/i.exec(v.trim());
  return m ? { total: Number(m[1]) } : null;
}

function parseLength(v: string | null): number | undefined {
  if (v === null || !/^\d{1,15}$/.test(v.trim())) return undefined;
  return Number(v.trim());
}

/** A Retry-After of whole seconds (the HTTP-date form is ignored), in ms; the downloader caps it. */
export function retryAfterMs(v: string | null): number | undefined {
  return v !== null && /^\d{1,6}$/.test(v.trim()) ? Number(v.trim()) * 1000 : undefined;
}

/** The If-Range validator for a partial file: a strong ETag, else Last-Modified. */
export function ifRangeValue(meta: PartMeta): string | undefined {
  if (meta.etag && !meta.etag.startsWith('W/')) return meta.etag;
  return meta.lastModified;
}

async function restartFromZero(part: PartState): Promise<void> {
  await fs.promises.truncate(part.partPath, 0).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
  part.have = 0;
  part.hash.reset();
  part.restarts++;
}

function tooMuchFailure(part: PartState, s: AttemptSettings): DownloadFailure {
  return part.total === undefined
    ? { code: DownloadErrorCode.TOO_LARGE, text: DownloadErrorText.tooLarge(s.maxBytesWithoutSize) }
    : { code: DownloadErrorCode.SIZE_MISMATCH, text: DownloadErrorText.moreThanSize(part.total) };
}

export async function attempt(part: PartState, s: AttemptSettings, outer: AbortSignal): Promise<AttemptOutcome> {
  const ctl = new AbortController();
  const onOuter = () => ctl.abort(outer.reason);
  if (outer.aborted) return { kind: 'aborted', reason: outer.reason };
  outer.addEventListener('abort', onOuter, { once: true });
  const stall = setTimeout(() => ctl.abort(STALL), s.stallTimeoutMs);
  const stallFailure = (): DownloadFailure => ({ code: DownloadErrorCode.STALLED, text: DownloadErrorText.stalled(Math.round(s.stallTimeoutMs / 100) / 10) });
  let fh: fs.promises.FileHandle | undefined;
  let accepted = 0;
  let tooMuch = false;
  let ioError: unknown = null;
  let ioFailure: DownloadFailure | null = null;
  const startHave = part.have;
  let current: Reply | undefined;
  try {
    // The request: resume only with a validator (If-Range) or an expected checksum to catch a changed file.
    if (part.have > 0 && !ifRangeValue(part.meta) && !s.hasChecksum) await restartFromZero(part);
    // Opened before the request: once the reply's headers are in, nothing may wait before the body is read, since
    // undici drops the chunks still queued in the body stream when the connection ends (a cut would lose them).
    // File work after the headers (truncate, sidecar, space check, writes) is chained behind the reading instead.
    const file = (fh = await fs.promises.open(part.partPath, 'a'));
    let io: Promise<void> = Promise.resolve();
    const queue = (op: () => Promise<unknown>) => {
      io = io.then(async () => {
        if (ioError || ioFailure) return;
        try {
          await op();
        } catch (e) {
          ioError = e;
        }
      });
    };
    const headers: Record<string, string> = { ...s.headers, 'accept-encoding': 'identity' };
    const ranged = part.have > 0;
    if (ranged) {
      headers.range = `bytes=${part.have}-`;
      const v = ifRangeValue(part.meta);
      if (v) headers['if-range'] = v;
    }
    let url = new URL(s.url);
    let res: Reply;
    for (let redirects = 0; ; redirects++) {
      res = current = await get(url, headers, ctl.signal);
      if (![301, 302, 303, 307, 308].includes(res.status)) break;
      res.drop();
      const loc = res.header('location');
      if (!loc) return { kind: 'fatal', failure: httpFailure(res) };
      if (redirects >= s.maxRedirects) return { kind: 'fatal', failure: { code: DownloadErrorCode.TOO_MANY_REDIRECTS, text: DownloadErrorText.tooManyRedirects(s.maxRedirects) } };
      let next: URL;
      try {
        next = new URL(loc, url);
      } catch {
        return { kind: 'fatal', failure: { code: DownloadErrorCode.INVALID_URL, text: DownloadErrorText.badRedirect(loc) } };
      }
      const checked = checkUrl(next.href);
      if (!(checked instanceof URL)) return { kind: 'fatal', failure: { code: DownloadErrorCode.INVALID_URL, text: DownloadErrorText.badRedirect(loc) } };
      // Headers a caller added (luna-downloadmgr's Auth-Token, Device-Id, cookies) go to the origin asked for only.
      if (checked.origin !== url.origin) for (const k of Object.keys(s.headers)) delete headers[k];
      url = checked;
    }
    stall.refresh();
    part.httpStatus = res.status;
    const length = parseLength(res.header('content-length'));
    const drop = async () => res.drop();

    if (res.status === 416 && ranged) {
      const cr = parseContentRange(res.header('content-range'));
      await drop();
      if (cr?.total === part.have && (s.expectedSize === undefined || s.expectedSize === part.have)) {
        part.total = part.have;
        return { kind: 'done' };
      }
      await restartFromZero(part);
      return { kind: 'again', why: DownloadErrorText.rangeNotSatisfiable };
    }
    if (res.status === 206) {
      const cr = parseContentRange(res.header('content-range'));
      let why: string | null = null;
      if (!cr || cr.start === undefined) why = `Content-Range "${(res.header('content-range') ?? '').slice(0, 100)}"`;
      else if (cr.start !== part.have) why = `starts at ${cr.start}, asked for ${part.have}`;
      else if (cr.total !== undefined && s.expectedSize !== undefined && cr.total !== s.expectedSize) why = `total ${cr.total}, expected ${s.expectedSize}`;
      else if (cr.total !== undefined && part.total !== undefined && cr.total !== part.total) why = `total ${cr.total}, earlier ${part.total}`;
      else if (length !== undefined && length !== cr.end! - cr.start + 1) why = `Content-Length ${length} for range ${cr.start}-${cr.end}`;
      if (why !== null) {
        await drop();
        await restartFromZero(part);
        return { kind: 'again', why: DownloadErrorText.badContentRange(why) };
      }
      part.total = s.expectedSize ?? cr!.total ?? part.total;
    } else if (res.status === 200) {
      // A full body: to a range request it means the server ignores Range or the file changed (If-Range).
      if (part.have > 0) {
        part.have = 0;
        part.hash.reset();
        part.restarts++;
        queue(() => file.truncate(0));
      }
      if (s.expectedSize !== undefined && length !== undefined && length !== s.expectedSize) {
        await drop();
        return { kind: 'fatal', failure: { code: DownloadErrorCode.SIZE_MISMATCH, text: DownloadErrorText.contentLengthMismatch(s.expectedSize, length) } };
      }
      part.total = s.expectedSize ?? length;
      const etag = res.header('etag') ?? undefined;
      const lastModified = res.header('last-modified') ?? undefined;
      part.meta = { ...part.meta, etag: etag?.slice(0, 512), lastModified: lastModified?.slice(0, 128) };
      const meta = part.meta;
      queue(() => writeMeta(part.metaPath, meta));
    } else {
      await drop();
      const failure = httpFailure(res);
      return retryableStatus(res.status) ? { kind: 'retry', failure, progressed: false, retryAfterMs: retryAfterMs(res.header('retry-after')) } : { kind: 'fatal', failure };
    }
    if (part.total !== undefined && part.total > s.maxBytesWithoutSize && s.expectedSize === undefined) {
      await drop();
      return { kind: 'fatal', failure: { code: DownloadErrorCode.TOO_LARGE, text: DownloadErrorText.tooLarge(s.maxBytesWithoutSize) } };
    }
    if (s.expectedSize === undefined && part.total !== undefined) {
      // Before the first write (the chain keeps the order): refused means no byte written.
      const remaining = part.total - part.have;
      queue(async () => void (ioFailure = await s.checkSpace(remaining)));
    }

    // The body: chunks copied into a few reused buffers (batches.ts); each full one is hashed (in the worker, beside
    // the reading) and then written, in order behind the reading. One copy of each byte (the hash worker needs one
    // anyway), a received chunk is garbage at once, the buffers' pages are already mapped (page faults on fresh
    // memory were the largest cost of the thread reading the socket, in a perf profile), and at most MAX_BATCHES
    // buffers are in flight: the reading waits for the disk or the hash only then.
    const limit = part.total ?? s.maxBytesWithoutSize;
    const batches: Batches = new Batches(s.writeBatchBytes, MAX_BATCHES, (buf, n) => {
      const hashed = part.hash.hash(buf, n);
      io = io.then(async () => {
        const b = await hashed;
        try {
          if (ioError || ioFailure) return;
          // A hash worker that died took the bytes with it; the hash is lost too (its digest fails).
          if (!b) throw Object.assign(new Error('hash worker exited'), { code: 'EIO', syscall: 'hash' });
          const { bytesWritten } = await file.write(b, 0, n);
          // A regular file writes short only when the disk is full (or the file too large): not resumable here.
          if (bytesWritten !== n) throw Object.assign(new Error(`short write (${bytesWritten} of ${n} bytes)`), { code: 'EIO', syscall: 'write' });
        } catch (e) {
          ioError = e;
        } finally {
          batches.release(b);
        }
      });
    });
    try {
      await readBody(res.body, (raw) => {
        stall.refresh();
        part.fetched += raw.byteLength;
        let chunk: Uint8Array = raw;
        const room = limit - part.have - accepted;
        if (chunk.byteLength > room) {
          chunk = chunk.subarray(0, Math.max(0, room));
          tooMuch = true;
        }
        if (chunk.byteLength) {
          batches.push(chunk);
          accepted += chunk.byteLength;
        }
        s.onData(part.have + accepted, raw.byteLength);
        if (tooMuch || ioError || ioFailure) return true; // stops reading and drops the body
        return batches.busy() ? batches.room() : false;
      });
    } finally {
      batches.flush();
      await io;
      batches.close();
      part.have += accepted;
    }
    if (ioFailure) return { kind: 'fatal', failure: ioFailure };
    if (ioError) throw ioError;
    if (tooMuch) return { kind: 'fatal', failure: tooMuchFailure(part, s) };
    if (part.total !== undefined && part.have < part.total) {
      return { kind: 'retry', failure: { code: DownloadErrorCode.NETWORK, text: DownloadErrorText.network(`connection closed after ${part.have} of ${part.total} bytes`) }, progressed: part.have > startHave };
    }
    return { kind: 'done' };
  } catch (e) {
    if (outer.aborted) return { kind: 'aborted', reason: outer.reason };
    if (tooMuch) return { kind: 'fatal', failure: tooMuchFailure(part, s) };
    if (ioFailure) return { kind: 'fatal', failure: ioFailure };
    const progressed = part.have > startHave;
    if (ctl.signal.aborted && ctl.signal.reason === STALL) return { kind: 'retry', failure: stallFailure(), progressed };
    const err = e as NodeJS.ErrnoException & { cause?: { code?: string; message?: string } };
    if (err.code && /^E[A-Z]+$/.test(err.code) && err.syscall !== undefined) {
      // Our own file system (open/write/truncate): not worth retrying.
      return { kind: 'fatal', failure: { code: DownloadErrorCode.FILESYSTEM, text: DownloadErrorText.filesystem(err.message) } };
    }
    const why = err.cause?.code ? `${err.cause.code}${err.cause.message ? ` (${err.cause.message})` : ''}` : err.cause?.message ?? err.message;
    return { kind: 'retry', failure: { code: DownloadErrorCode.NETWORK, text: DownloadErrorText.network(why) }, progressed };
  } finally {
    clearTimeout(stall);
    outer.removeEventListener('abort', onOuter);
    current?.drop(); // a body read to its end keeps its connection for the next request
    await fh?.close().catch(() => undefined);
  }
}
