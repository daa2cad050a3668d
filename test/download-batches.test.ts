// The downloader's write buffers (download/batches.ts): each byte copied once, in order, into buffers of one size that
// are reused, with at most `max` of them in flight (the memory a download holds however slow the disk or the hash).
import crypto from 'node:crypto';
import { Batches } from '../download/batches';

test('chunks come out in order in whole buffers; at most `max` (one more while a chunk straddles two) are made and reused', () => {
  const data = crypto.randomBytes(10_000);
  const out: Buffer[] = [];
  const handed: Uint8Array[] = [];
  const made = new Set<Uint8Array>();
  const b = new Batches(1000, 3, (buf, n) => {
    out.push(Buffer.from(buf.subarray(0, n)));
    handed.push(buf);
    made.add(buf);
  });
  let off = 0;
  for (const size of [1, 999, 1000, 700, 900, 37, 463, 1000, 999, 2]) {
    expect(b.busy()).toBe(false);
    b.push(data.subarray(off, off + size));
    off += size;
    // The disk takes the oldest buffer back only when all allowed are out.
    if (b.busy()) b.release(handed.shift()!);
  }
  b.flush();
  expect(Buffer.concat(out).equals(data.subarray(0, off))).toBe(true);
  expect(out.slice(0, -1).every((x) => x.length === 1000)).toBe(true);
  expect(made.size).toBeLessThanOrEqual(4);
  b.close();
});

test('busy until a buffer comes back; room() waits for it; a lost buffer (a dead hash worker) frees its place', async () => {
  const held: Uint8Array[] = [];
  const b = new Batches(10, 2, (buf) => held.push(buf));
  b.push(Buffer.alloc(20));
  expect(b.busy()).toBe(true);
  let roomy = false;
  const waited = b.room().then(() => (roomy = true));
  await Promise.resolve();
  expect(roomy).toBe(false);
  b.release(held.shift()!);
  await waited;
  expect(b.busy()).toBe(false);
  b.push(Buffer.alloc(10));
  expect(b.busy()).toBe(true);
  b.release(null);
  expect(b.busy()).toBe(false);
  b.close();
});
