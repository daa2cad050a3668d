// The running SHA-256 (and MD5 when that is the sum to check) of a partial file, fed while it is written: on the
// main thread for small downloads, or in a worker thread so hashing runs beside the network on a second core.
// Not the verification decision (downloader.ts compares the digests).
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';

export interface Digests {
  sha256: string;
  md5?: string;
}

export interface Hasher {
  /** Bytes hashed (or handed over to be) since the last reset. */
  readonly bytes: number;
  /**
   * Hash buf[0, n) after everything handed over before. Resolves with the buffer once it is hashed (the worker hands
   * it back), for the caller to write and reuse; null when the hash worker died holding it. Never rejects; the caller
   * does not touch `buf` meanwhile.
   */
  hash(buf: Uint8Array, n: number): Promise<Uint8Array | null>;
  reset(): void;
  /** Hash the first `length` bytes of a file (a partial file left by an earlier run), after what is already hashed. */
  hashFile(file: string, length: number): Promise<void>;
  /** The digests of everything hashed; the hasher is spent afterwards (reset() to reuse). */
  digest(): Promise<Digests>;
  close(): void;
}

const FILE_CHUNK = 1 << 20;

class InlineHasher implements Hasher {
  private sha256!: crypto.Hash;
  private md5!: crypto.Hash | null;
  bytes = 0;
  constructor(private readonly withMd5: boolean) {
    this.reset();
  }
  reset(): void {
    this.sha256 = crypto.createHash('sha256');
    this.md5 = this.withMd5 ? crypto.createHash('md5') : null;
    this.bytes = 0;
  }
  private update(chunk: Uint8Array): void {
    this.sha256.update(chunk);
    this.md5?.update(chunk);
    this.bytes += chunk.byteLength;
  }
  hash(buf: Uint8Array, n: number): Promise<Uint8Array | null> {
    this.update(buf.subarray(0, n));
    return Promise.resolve(buf);
  }
  async hashFile(file: string, length: number): Promise<void> {
    if (length === 0) return;
    let got = 0;
    for await (const chunk of fs.createReadStream(file, { start: 0, end: length - 1, highWaterMark: FILE_CHUNK })) {
      this.update(chunk as Buffer);
      got += (chunk as Buffer).length;
    }
    if (got !== length) throw new Error(`partial file ${file} shorter than ${length} bytes`);
  }
  async digest(): Promise<Digests> {
    return { sha256: this.sha256.digest('hex'), ...(this.md5 ? { md5: this.md5.digest('hex') } : {}) };
  }
  close(): void {}
}

// The worker's whole program (plain JS, so it runs the same from dist/ and under the test runner): messages are
// handled in order, so a digest covers every batch sent before it. Each batch's buffer is sent back once hashed. A
// reset starts a new hash and says whether MD5 is wanted: one worker serves one download after another.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const crypto = require('node:crypto');
const fs = require('node:fs');
let sha, md5;
const reset = (withMd5) => { sha = crypto.createHash('sha256'); md5 = withMd5 ? crypto.createHash('md5') : null; };
reset(false);
parentPort.on('message', (m) => {
  try {
    if (m.t === 'data') {
      const view = m.buf.subarray(0, m.n);
      sha.update(view); if (md5) md5.update(view);
      parentPort.postMessage({ t: 'ack', n: m.n, buf: m.buf }, [m.buf.buffer]);
    }
    else if (m.t === 'reset') reset(m.md5);
    else if (m.t === 'file') {
      const fd = fs.openSync(m.file, 'r');
      const buf = Buffer.allocUnsafe(${FILE_CHUNK});
      let pos = 0;
      try {
        while (pos < m.length) {
          const n = fs.readSync(fd, buf, 0, Math.min(buf.length, m.length - pos), pos);
          if (n <= 0) break;
          sha.update(buf.subarray(0, n)); if (md5) md5.update(buf.subarray(0, n));
          pos += n;
        }
      } finally { fs.closeSync(fd); }
      parentPort.postMessage({ t: 'reply', id: m.id, error: pos === m.length ? null : 'partial file ' + m.file + ' shorter than ' + m.length + ' bytes' });
    } else if (m.t === 'digest') {
      parentPort.postMessage({ t: 'reply', id: m.id, value: { sha256: sha.digest('hex'), ...(md5 ? { md5: md5.digest('hex') } : {}) } });
    }
  } catch (e) { parentPort.postMessage({ t: 'reply', id: m.id, error: String(e && e.message || e) }); }
});
`;

/** Hash workers kept from one download for the next: starting one costs about 20 ms of CPU (and its first page
 * faults) beside the download it would serve. At most MAX_IDLE_WORKERS wait, each ended after IDLE_WORKER_MS unused. */
const MAX_IDLE_WORKERS = 2;
const IDLE_WORKER_MS = 30_000;
const idleWorkers: { worker: Worker; timer?: NodeJS.Timeout }[] = [];

function forgetIdle(worker: Worker): void {
  const i = idleWorkers.findIndex((w) => w.worker === worker);
  if (i >= 0) clearTimeout(idleWorkers.splice(i, 1)[0].timer);
}

function takeWorker(): Worker {
  const idle = idleWorkers.pop();
  if (idle) {
    clearTimeout(idle.timer);
    return idle.worker;
  }
  const worker = new Worker(WORKER_SOURCE, { eval: true });
  worker.unref();
  // Heard while no hasher holds the worker: a fault then only ends it (a hasher holding it hears it too).
  worker.on('error', () => undefined);
  worker.once('exit', () => forgetIdle(worker));
  return worker;
}

function keepWorker(worker: Worker): void {
  if (idleWorkers.length >= MAX_IDLE_WORKERS) return void worker.terminate();
  const entry: (typeof idleWorkers)[number] = { worker };
  entry.timer = setTimeout(() => {
    forgetIdle(worker);
    void worker.terminate();
  }, IDLE_WORKER_MS);
  entry.timer.unref();
  idleWorkers.push(entry);
}

class WorkerHasher implements Hasher {
  private readonly worker = takeWorker();
  bytes = 0;
  private nextId = 1;
  private readonly replies = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  /** The batches sent and not yet back, in order (the worker answers in order). */
  private readonly pending: ((buf: Uint8Array | null) => void)[] = [];
  private failed: Error | null = null;
  private closed = false;

  private readonly onMessage = (m: { t: string; n?: number; buf?: Uint8Array; id?: number; value?: unknown; error?: string | null }) => {
    if (m.t === 'ack') {
      this.pending.shift()?.(m.buf ?? null);
      return;
    }
    const r = this.replies.get(m.id!);
    this.replies.delete(m.id!);
    if (m.error) r?.reject(new Error(m.error));
    else r?.resolve(m.value);
  };
  private readonly die = (e: Error) => {
    this.failed = e;
    for (const r of this.replies.values()) r.reject(e);
    this.replies.clear();
    for (const p of this.pending.splice(0)) p(null);
  };
  private readonly onExit = () => this.die(new Error('hash worker exited'));

  constructor(private readonly withMd5: boolean) {
    this.worker.on('message', this.onMessage);
    this.worker.on('error', this.die);
    this.worker.on('exit', this.onExit);
    this.worker.postMessage({ t: 'reset', md5: withMd5 });
  }

  private call<T>(msg: Record<string, unknown>): Promise<T> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.replies.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...msg, id });
    });
  }

  /** The buffer is transferred (not copied) to the worker, which sends it back once hashed. */
  hash(buf: Uint8Array, n: number): Promise<Uint8Array | null> {
    this.bytes += n;
    if (this.failed) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.pending.push(resolve);
      this.worker.postMessage({ t: 'data', buf, n }, [buf.buffer as ArrayBuffer]);
    });
  }
  reset(): void {
    this.bytes = 0;
    this.worker.postMessage({ t: 'reset', md5: this.withMd5 });
  }
  async hashFile(file: string, length: number): Promise<void> {
    await this.call({ t: 'file', file, length });
    this.bytes += length;
  }
  async digest(): Promise<Digests> {
    return this.call<Digests>({ t: 'digest' });
  }
  /** The worker waits for another download, unless something is still asked of it (then it is ended). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.worker.off('message', this.onMessage);
    this.worker.off('error', this.die);
    this.worker.off('exit', this.onExit);
    if (!this.failed && this.pending.length === 0 && this.replies.size === 0) keepWorker(this.worker);
    else void this.worker.terminate();
  }
}

/** Downloads this large or of unknown size hash in a worker thread; smaller ones on the main thread. */
export const WORKER_HASH_MIN_BYTES = 8 * 1024 * 1024;

export function createHasher(withMd5: boolean, opts: { inWorker: boolean }): Hasher {
  return opts.inWorker ? new WorkerHasher(withMd5) : new InlineHasher(withMd5);
}
