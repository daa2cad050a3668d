// The partial file's sidecar (`<name>.part.meta`: URL, validators, expected sums) that lets a later run resume with
// If-Range. Not the HTTP side (attempt.ts) nor hashing (hasher.ts).
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
