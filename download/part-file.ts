// The partial file's sidecar (`<name>.part.meta`: URL, validators, expected sums) that lets a later run resume with
// If-Range, and re-hashing of an existing partial file. Not the HTTP side (attempt.ts).
import crypto from 'node:crypto';
import fs from 'node:fs';

export interface PartMeta {
  url: string;
  etag?: string;
  lastModified?: string;
  size?: number;
  sha256?: string;
  md5?: string;
}

const MAX_META_BYTES = 16384;

export async function readMeta(file: string): Promise<PartMeta | null> {
  try {
    const fh = await fs.promises.open(file, 'r');
    try {
      const buf = Buffer.alloc(MAX_META_BYTES + 1);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      if (bytesRead > MAX_META_BYTES) return null;
      const m = JSON.parse(buf.subarray(0, bytesRead).toString('utf8')) as PartMeta;
      if (typeof m !== 'object' || m === null || typeof m.url !== 'string') return null;
      return m;
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}

export async function writeMeta(file: string, meta: PartMeta): Promise<void> {
  const tmp = `${file}.tmp`;
  await fs.promises.writeFile(tmp, JSON.stringify(meta));
  await fs.promises.rename(tmp, file);
}

export async function removeQuietly(...files: string[]): Promise<void> {
  await Promise.all(files.map((f) => fs.promises.rm(f, { force: true }).catch(() => undefined)));
}

/** The hashes the downloader keeps while writing: SHA-256 always, MD5 only when it is the sum to check. */
export class RunningHash {
  readonly sha256 = crypto.createHash('sha256');
  readonly md5: crypto.Hash | null;
  bytes = 0;
  constructor(withMd5: boolean) {
    this.md5 = withMd5 ? crypto.createHash('md5') : null;
  }
  update(chunk: Uint8Array): void {
    this.sha256.update(chunk);
    this.md5?.update(chunk);
    this.bytes += chunk.byteLength;
  }
}

/** Hash the first `length` bytes of an existing partial file (resuming after a restart of the process). */
export async function hashFile(file: string, length: number, withMd5: boolean): Promise<RunningHash> {
  const h = new RunningHash(withMd5);
  if (length === 0) return h;
  const stream = fs.createReadStream(file, { start: 0, end: length - 1, highWaterMark: 1 << 20 });
  for await (const chunk of stream) h.update(chunk as Buffer);
  if (h.bytes !== length) throw new Error(`partial file ${file} shorter than ${length} bytes`);
  return h;
}
