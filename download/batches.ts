// The body's bytes gathered into a few reused buffers of one size, each handed on whole (attempt.ts hashes it, then
// writes it) and given back when done: each byte is copied once, a received chunk is garbage at once, and memory
// stays bounded. Not the hashing or the writing.

/** Buffers kept between attempts and downloads (fresh memory costs a page fault per 4 KiB page as it is first
 * written), of one size, at most POOL_MAX; all dropped after POOL_IDLE_MS without an attempt. */
const POOL_MAX = 32;
const POOL_IDLE_MS = 10_000;
const pool = { size: 0, free: [] as Uint8Array[], users: 0, timer: undefined as NodeJS.Timeout | undefined };

export class Batches {
  private readonly free: Uint8Array[] = [];
  private made = 0;
  private cur: Uint8Array | null = null;
  private used = 0;
  private wake: (() => void) | null = null;

  /** `full(buf, n)` gets each buffer with its n bytes; it calls release(buf) once done with it. */
  constructor(private readonly size: number, private readonly max: number, private readonly full: (buf: Uint8Array, n: number) => void) {
    pool.users++;
    clearTimeout(pool.timer);
    if (pool.size !== size && pool.users === 1) {
      pool.size = size;
      pool.free = [];
    }
  }

  /** The attempt is over: its buffers go back to the pool. Call once, after the last release(). */
  close(): void {
    if (this.cur) this.free.push(this.cur);
    this.cur = null;
    if (pool.size === this.size) for (const b of this.free) if (pool.free.length < POOL_MAX) pool.free.push(b);
    this.free.length = 0;
    if (--pool.users === 0) {
      pool.timer = setTimeout(() => (pool.free = []), POOL_IDLE_MS);
      pool.timer.unref();
    }
  }

  /** Copy `chunk` in; every buffer it fills is handed on. */
  push(chunk: Uint8Array): void {
    for (let off = 0; off < chunk.byteLength; ) {
      if (!this.cur) {
        this.cur = this.free.pop() ?? this.make();
        this.used = 0;
      }
      const n = Math.min(chunk.byteLength - off, this.size - this.used);
      this.cur.set(off === 0 && n === chunk.byteLength ? chunk : chunk.subarray(off, off + n), this.used);
      this.used += n;
      off += n;
      if (this.used === this.size) this.flush();
    }
  }

  /** Hand on the buffer being filled, if it holds anything. */
  flush(): void {
    if (!this.cur || this.used === 0) return;
    const buf = this.cur;
    const n = this.used;
    this.cur = null;
    this.used = 0;
    this.full(buf, n);
  }

  /** A buffer handed on is done with (null: it was lost, as with a hash worker that died holding it). */
  release(buf: Uint8Array | null): void {
    if (buf) this.free.push(buf);
    else this.made--;
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** True when every buffer allowed is made and none is free: wait for room() before pushing more (a chunk pushed
   * anyway may take one buffer more, when it straddles two). */
  busy(): boolean {
    return this.free.length === 0 && this.made >= this.max;
  }

  room(): Promise<void> {
    return this.busy() ? new Promise((r) => (this.wake = r)) : Promise.resolve();
  }

  private make(): Uint8Array {
    this.made++;
    return (pool.size === this.size ? pool.free.pop() : undefined) ?? Buffer.allocUnsafeSlow(this.size);
  }
}
