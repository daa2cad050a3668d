// The `ar` container of an ipk: a bounds-checked member-table reader working on a file handle (it never
// reads member bodies, so 50 MB packages are not loaded) and a writer of ares-package-style archives. Not the tars inside.
import { promises as fsp, createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { PassThrough } from 'node:stream';
import { CodedError, ErrorCode, ErrorText } from '../status-codes';

export const AR_MAGIC = '!<arch>\n';
const HEADER_SIZE = 60;
const MAX_MEMBERS = 64;

/** One member of an ar archive: its name (without GNU's trailing `/`) and where its bytes lie in the file. */
export interface ArMember {
  name: string;
  /** Offset of the member's data (after its 60-byte header). */
  offset: number;
  size: number;
  mtime: number;
  uid: number;
  gid: number;
  mode: number;
}

function corrupt(detail: string): CodedError {
  return new CodedError(ErrorCode.INSTALL_FAILED, ErrorText.FAILED_PACKAGEFILE_CORRUPT, detail);
}

async function readExactly(fh: fsp.FileHandle, length: number, position: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? buf : buf.subarray(0, done);
}

function numberField(raw: string, radix: 8 | 10, what: string, at: number): number {
  const t = raw.trimEnd();
  if (t === '') return 0;
  const re = radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!re.test(t)) throw corrupt(`bad ${what} field "${raw.trim()}" in the ar header at offset ${at}`);
  const n = parseInt(t, radix);
  if (!Number.isSafeInteger(n)) throw corrupt(`${what} field out of range in the ar header at offset ${at}`);
  return n;
}

/** Pure: the fields of one 60-byte member header (`name` still raw). Throws on a malformed header. */
export function parseArHeader(h: Buffer, at: number): { rawName: string; mtime: number; uid: number; gid: number; mode: number; size: number } {
  if (h.length < HEADER_SIZE) throw corrupt(`ar member header at offset ${at} is truncated`);
  if (h[58] !== 0x60 || h[59] !== 0x0a) throw corrupt(`bad ar member header at offset ${at} (no \`\\n terminator)`);
  const s = h.toString('latin1');
  return {
    rawName: s.slice(0, 16).trimEnd(),
    mtime: numberField(s.slice(16, 28), 10, 'mtime', at),
    uid: numberField(s.slice(28, 34), 10, 'uid', at),
    gid: numberField(s.slice(34, 40), 10, 'gid', at),
    mode: numberField(s.slice(40, 48), 8, 'mode', at),
    size: numberField(s.slice(48, 58), 10, 'size', at),
  };
}

/**
 * The member table of the ar archive open in `fh` (file size `fileSize`). Handles names with and without
 * GNU's trailing `/`, the GNU `//` long-name table, BSD `#1/N` names, skips the `/` symbol table, and
 * checks every offset and size against the file. Member bodies are not read (except long-name data).
 */
export async function readArMembers(fh: fsp.FileHandle, fileSize: number): Promise<ArMember[]> {
  const magic = await readExactly(fh, 8, 0);
  if (magic.toString('latin1') !== AR_MAGIC) throw corrupt('not an ar archive (bad magic)');
  const members: ArMember[] = [];
  let longNames: Buffer | undefined;
  let pos = 8;
  while (pos < fileSize) {
    if (fileSize - pos < HEADER_SIZE) {
      // A single stray padding newline at the very end is tolerated.
      const rest = await readExactly(fh, fileSize - pos, pos);
      if (rest.every((b) => b === 0x0a)) break;
      throw corrupt(`ar member header at offset ${pos} is truncated (${fileSize - pos} of ${HEADER_SIZE} bytes)`);
    }
    if (members.length >= MAX_MEMBERS) throw corrupt(`more than ${MAX_MEMBERS} ar members`);
    const h = parseArHeader(await readExactly(fh, HEADER_SIZE, pos), pos);
    let offset = pos + HEADER_SIZE;
    let size = h.size;
    if (size > fileSize - offset) {
      throw corrupt(`ar member "${h.rawName.replace(/\/$/, '')}" is truncated (declares ${size} bytes, ${fileSize - offset} remain)`);
    }
    let name = h.rawName;
    if (name === '/' || name === '/SYM64/') {
      name = '';
    } else if (name === '//') {
      if (size > 1 << 20) throw corrupt('ar long-name table is larger than 1 MiB');
      longNames = await readExactly(fh, size, offset);
      name = '';
    } else if (/^\/[0-9]+$/.test(name)) {
      const idx = parseInt(name.slice(1), 10);
      if (!longNames || idx >= longNames.length) throw corrupt(`ar member name "${name}" points outside the long-name table`);
      const end = longNames.indexOf('/\n', idx, 'latin1');
      if (end < 0) throw corrupt(`ar long name at ${idx} is not terminated`);
      name = longNames.subarray(idx, end).toString('utf8');
    } else if (/^#1\/[0-9]+$/.test(name)) {
      const len = parseInt(name.slice(3), 10);
      if (len > size || len > 4096) throw corrupt(`BSD ar name length ${len} is larger than its member`);
      name = (await readExactly(fh, len, offset)).toString('utf8').replace(/\0+$/, '');
      offset += len;
      size -= len;
    } else if (name.endsWith('/')) {
      name = name.slice(0, -1);
    }
    if (name !== '') members.push({ name, offset, size, mtime: h.mtime, uid: h.uid, gid: h.gid, mode: h.mode });
    pos = pos + HEADER_SIZE + h.size + (h.size % 2);
  }
  return members;
}

/** Read a member's whole body (for small members only: debian-binary, control.tar.gz). */
export async function readMember(fh: fsp.FileHandle, m: ArMember, maxBytes: number): Promise<Buffer> {
  if (m.size > maxBytes) throw corrupt(`ar member "${m.name}" is ${m.size} bytes, more than the ${maxBytes} allowed`);
  const b = await readExactly(fh, m.size, m.offset);
  if (b.length !== m.size) throw corrupt(`ar member "${m.name}" is truncated`);
  return b;
}

function pad(v: string | number, width: number): string {
  const s = String(v);
  if (s.length > width) throw new RangeError(`ar header field "${s}" is wider than ${width}`);
  return s + ' '.repeat(width - s.length);
}

/** Pure: a 60-byte member header as ares-package writes it (name without `/`, uid/gid 0, mode 100644). */
export function arHeader(name: string, size: number, mtime = Math.floor(Date.now() / 1000), mode = 0o100644): Buffer {
  return Buffer.from(pad(name, 16) + pad(mtime, 12) + pad(0, 6) + pad(0, 6) + pad(mode.toString(8), 8) + pad(size, 10) + '`\n', 'latin1');
}

/** A member to write: either bytes in memory or a file streamed from disk. */
export type ArInput = { name: string; data: Buffer } | { name: string; file: string };

/** Write an ar archive to `dest` (members streamed, odd sizes padded with `\n`). */
export async function writeArFile(dest: string, members: ArInput[], mtime?: number): Promise<void> {
  const out = new PassThrough();
  const done = pipeline(out, createWriteStream(dest, { mode: 0o644 }));
  const write = (b: Buffer | string) => new Promise<void>((res) => (out.write(b) ? res() : out.once('drain', res)));
  try {
    await write(AR_MAGIC);
    for (const m of members) {
      const size = 'data' in m ? m.data.length : (await fsp.stat(m.file)).size;
      await write(arHeader(m.name, size, mtime));
      if ('data' in m) await write(m.data);
      else for await (const chunk of createReadStream(m.file)) await write(chunk as Buffer);
      if (size % 2) await write('\n');
    }
    out.end();
  } catch (e) {
    out.destroy(e as Error);
  }
  await done;
}
