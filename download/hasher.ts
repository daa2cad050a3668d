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
  /** Bytes hashed (or queued to be) since the last reset. */
  readonly bytes: number;
  update(chunk: Uint8Array): void;
  /** True when so much waits to be hashed that the caller should `await drain()` before reading more. */
  backlogged(): boolean;
  drain(): Promise<void>;
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
  update(chunk: Uint8Array): void {
    this.sha256.update(chunk);
    this.md5?.update(chunk);
    this.bytes += chunk.byteLength;
  }
  backlogged(): boolean {
    return false;
  }
  async drain(): Promise<void> {}
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
// handled in order, so a digest covers every batch sent before it. Each batch is acknowledged for backpressure. A
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
  private unacked = 0;
  private nextId = 1;
  private readonly replies = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private drained: (() => void)[] = [];
  private failed: Error | null = null;
  private closed = false;
  private spare: Uint8Array[] = [];

  private readonly onMessage = (m: { t: string; n?: number; buf?: Uint8Array; id?: number; value?: unknown; error?: string | null }) => {
    if (m.t === 'ack') {
      this.unacked -= m.n!;
      // The buffer comes back for reuse: no fresh (zeroed, faulted-in) memory per batch.
      if (m.buf && this.spare.length < 8) this.spare.push(m.buf);
      if (this.unacked <= this.maxBacklog / 2) this.wake();
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
    this.wake();
  };
  private readonly onExit = () => this.die(new Error('hash worker exited'));

  constructor(private readonly withMd5: boolean, private readonly batchBytes: number, private readonly maxBacklog: number) {
    this.worker.on('message', this.onMessage);
    this.worker.on('error', this.die);
    this.worker.on('exit', this.onExit);
    this.worker.postMessage({ t: 'reset', md5: withMd5 });
  }

  private wake(): void {
    const w = this.drained;
    this.drained = [];
    for (const f of w) f();
  }

  private call<T>(msg: Record<string, unknown>): Promise<T> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.replies.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...msg, id });
    });
  }

  private cur: Uint8Array | null = null;
  private used = 0;

  /** Sends the current buffer: transferred (not copied again) to the worker, which sends it back for reuse. */
  private send(): void {
    if (!this.cur || this.used === 0 || this.failed) return;
    const buf = this.cur;
    const n = this.used;
    this.cur = null;
    this.used = 0;
    this.unacked += n;
    this.worker.postMessage({ t: 'data', buf, n }, [buf.buffer as ArrayBuffer]);
  }

  /** Copied at once into a batch buffer, so the caller's chunk is not held (it can die young). */
  update(chunk: Uint8Array): void {
    this.bytes += chunk.byteLength;
    for (let off = 0; off < chunk.byteLength; ) {
      if (!this.cur) {
        this.cur = this.spare.pop() ?? new Uint8Array(this.batchBytes);
        this.used = 0;
      }
      const n = Math.min(chunk.byteLength - off, this.cur.byteLength - this.used);
      this.cur.set(off === 0 && n === chunk.byteLength ? chunk : chunk.subarray(off, off + n), this.used);
      this.used += n;
      off += n;
      if (this.used === this.cur.byteLength) this.send();
    }
  }
  backlogged(): boolean {
    return this.unacked > this.maxBacklog;
  }
  drain(): Promise<void> {
    if (!this.backlogged() || this.failed) return Promise.resolve();
    return new Promise((r) => this.drained.push(r));
  }
  reset(): void {
    this.used = 0;
    this.bytes = 0;
    this.worker.postMessage({ t: 'reset', md5: this.withMd5 });
  }
  async hashFile(file: string, length: number): Promise<void> {
    this.send();
    await this.call({ t: 'file', file, length });
    this.bytes += length;
  }
  async digest(): Promise<Digests> {
    this.send();
    return this.call<Digests>({ t: 'digest' });
  }
  /** The worker waits for another download, unless something is still asked of it (then it is ended). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.worker.off('message', this.onMessage);
    this.worker.off('error', this.die);
    this.worker.off('exit', this.onExit);
    if (!this.failed && this.unacked === 0 && this.replies.size === 0) keepWorker(this.worker);
    else void this.worker.terminate();
  }
}

/** Downloads this large or of unknown size hash in a worker thread; smaller ones on the main thread. */
export const WORKER_HASH_MIN_BYTES = 8 * 1024 * 1024;

export function createHasher(withMd5: boolean, opts: { inWorker: boolean; batchBytes?: number; maxBacklogBytes?: number }): Hasher {
  return opts.inWorker ? new WorkerHasher(withMd5, opts.batchBytes ?? 1 << 20, opts.maxBacklogBytes ?? 32 << 20) : new InlineHasher(withMd5);
}
