// Opening an ipk: the ar members in order, control.tar.gz (control fields, signer certificate, signature) and
// where data.tar.gz lies in the file. Does not extract data.tar.gz (extract.ts does); reads only small members.
import { constants as fsConstants, createReadStream, promises as fsp, type ReadStream, type Stats } from 'node:fs';
import zlib from 'node:zlib';
import { Parser, ReadEntry } from 'tar';
import { CodedError, ErrorCode, ErrorText } from '../status-codes';
import { ArMember, readArMembers, readMember } from './ar';
import { ControlFields, parseControl } from './control';

export const SIGNATURE_FILE = 'data.tar.gz.sha256.txt';
const MAX_CONTROL_TGZ = 1024 * 1024;
const MAX_CONTROL_TAR = 4 * 1024 * 1024;
const MAX_CONTROL_ENTRY = 256 * 1024;

export interface IpkPackage {
  path: string;
  fileSize: number;
  control: ControlFields;
  /** The data.tar.gz member's bytes in the file. */
  dataMember: { offset: number; size: number };
  /** Present when control.tar.gz holds data.tar.gz.sha256.txt or a certificate. */
  signature?: { certificatePem?: string; certificateName?: string; signatureB64?: string };
  /** The top-level files of control.tar.gz (names without `./`), e.g. control, postinst. */
  controlFiles: string[];
  /**
   * With openIpk(..., {keepOpen:true}): the file as opened, so that every later read (signature, extraction) is of
   * these very bytes even if the path is replaced meanwhile. The opener closes it (closeIpk).
   */
  handle?: fsp.FileHandle;
}

/** A stream of the data.tar.gz member's bytes: from the kept handle when there is one, else from the path. */
export function dataMemberStream(pkg: IpkPackage, highWaterMark: number): ReadStream {
  const { offset, size } = pkg.dataMember;
  const range = { start: offset, end: offset + size - 1, highWaterMark };
  return pkg.handle ? pkg.handle.createReadStream({ ...range, autoClose: false }) : createReadStream(pkg.path, range);
}

/** The data.tar.gz member's bytes in chunks, read by position through the kept handle (else a handle opened on the
 *  path for the while): no stream, so stopping early never closes the kept handle. */
export async function* dataMemberChunks(pkg: IpkPackage, chunkSize: number): AsyncGenerator<Buffer> {
  const fh = pkg.handle ?? (await fsp.open(pkg.path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY));
  try {
    const { offset, size } = pkg.dataMember;
    for (let done = 0; done < size; ) {
      const buf = Buffer.allocUnsafe(Math.min(chunkSize, size - done));
      const { bytesRead } = await fh.read(buf, 0, buf.length, offset + done);
      if (bytesRead === 0) throw new Error('data.tar.gz is shorter than its ar member size');
      done += bytesRead;
      yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
    }
  } finally {
    if (fh !== pkg.handle) await fh.close();
  }
}

/** Close the handle openIpk kept (no-op otherwise). */
export async function closeIpk(pkg: IpkPackage): Promise<void> {
  const fh = pkg.handle;
  pkg.handle = undefined;
  await fh?.close().catch(() => undefined);
}

function corrupt(detail: string): CodedError {
  return new CodedError(ErrorCode.INSTALL_FAILED, ErrorText.FAILED_PACKAGEFILE_CORRUPT, detail);
}
function badControl(detail: string): CodedError {
  return new CodedError(ErrorCode.INSTALL_FAILED, ErrorText.PARSE_CONTROL_FAILED, detail);
}

const EXPECTED = ['debian-binary', 'control.tar.gz', 'data.tar.gz'];

/** Pure: check the member names are debian-binary, control.tar.gz, data.tar.gz in that order (extra `_`-members allowed after). */
export function checkMemberOrder(names: string[]): void {
  const xz = names.find((n) => /\.tar\.xz$/.test(n));
  if (xz) throw corrupt(`xz-compressed members are not supported ("${xz}")`);
  const other = names.find((n) => /^(control|data)\.tar(\.[a-z0-9]+)?$/.test(n) && !EXPECTED.includes(n));
  if (other) throw corrupt(`member "${other}" uses an unsupported compression (only .tar.gz is supported)`);
  for (const want of EXPECTED) if (!names.includes(want)) throw corrupt(`missing member "${want}"`);
  const firstThree = names.slice(0, 3);
  if (firstThree.join() !== EXPECTED.join()) {
    throw corrupt(`members out of order: expected ${EXPECTED.join(', ')}; found ${names.join(', ')}`);
  }
  const extra = names.slice(3).find((n) => !n.startsWith('_'));
  if (extra) throw corrupt(`unexpected member "${extra}"`);
}

/** The top-level regular files of a small in-memory tar (control.tar), names without `./`. */
export async function readSmallTar(tarBytes: Buffer, what: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  let problem: string | undefined;
  await new Promise<void>((resolve) => {
    const p = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const name = entry.path.replace(/^\.\//, '').replace(/\/$/, '');
        if (entry.type === 'Directory' || name === '' || name === '.') return void entry.resume();
        if (entry.type !== 'File' && entry.type !== 'OldFile') {
          problem ??= `${what}: entry "${name}" is not a regular file`;
          return void entry.resume();
        }
        if (name.includes('/')) return void entry.resume();
        if (files.has(name)) problem ??= `${what}: duplicate entry "${name}"`;
        if (entry.size > MAX_CONTROL_ENTRY) {
          problem ??= `${what}: "${name}" is larger than ${MAX_CONTROL_ENTRY} bytes`;
          return void entry.resume();
        }
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        entry.on('end', () => files.set(name, Buffer.concat(chunks)));
      },
    });
    p.on('ignoredEntry', (entry: ReadEntry) => {
      // a type node-tar does not know (GNU sparse, volume header, ...): not silently dropped
      problem ??= `${what}: entry "${entry.path.replace(/^\.\//, '')}" is of unsupported type ${entry.type ?? 'unknown'}`;
    });
    p.on('error', (e: Error) => {
      problem ??= `${what}: ${e.message}`;
      resolve();
    });
    p.on('close', () => resolve());
    p.end(tarBytes);
  });
  if (problem) throw corrupt(problem);
  return files;
}

function gunzipSmall(gz: Buffer, what: string): Buffer {
  if (gz.length < 2 || gz[0] !== 0x1f || gz[1] !== 0x8b) throw corrupt(`${what} is not gzip-compressed`);
  try {
    return zlib.gunzipSync(gz, { maxOutputLength: MAX_CONTROL_TAR });
  } catch (e) {
    const msg = (e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ? `inflates past ${MAX_CONTROL_TAR} bytes` : (e as Error).message;
    throw corrupt(`${what}: ${msg}`);
  }
}

export interface OpenIpkOptions {
  /** Keep the handle open in the result (IpkPackage.handle); the caller closes it with closeIpk. */
  keepOpen?: boolean;
  /** Called with the fstat of the opened file before any byte of it is read; throwing refuses the file. */
  checkOpened?(st: Stats): void | Promise<void>;
}

/** Open an ipk: check its ar structure and control, locate data.tar.gz. Throws CodedError(-5, ...) with a specific detail. */
export async function openIpk(file: string, opts: OpenIpkOptions = {}): Promise<IpkPackage> {
  let fh: fsp.FileHandle;
  try {
    // Non-blocking: opening a FIFO (or a tty) must never park a thread of the pool waiting for a writer.
    fh = await fsp.open(file, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK | fsConstants.O_NOCTTY);
  } catch (e) {
    throw corrupt(`cannot open ${file}: ${(e as Error).message}`);
  }
  let kept = false;
  try {
    const st = await fh.stat();
    await opts.checkOpened?.(st);
    if (!st.isFile()) throw corrupt(`${file} is not a regular file`);
    const members = await readArMembers(fh, st.size);
    checkMemberOrder(members.map((m) => m.name));
    const [debBin, ctrl, data] = members as [ArMember, ArMember, ArMember];
    const version = (await readMember(fh, debBin, 64)).toString('latin1');
    if (!/^2\.[0-9]+\n?$/.test(version)) throw corrupt(`debian-binary says ${JSON.stringify(version.trim())}, expected "2.0"`);
    if (ctrl.size > MAX_CONTROL_TGZ) throw corrupt(`control.tar.gz is ${ctrl.size} bytes, more than ${MAX_CONTROL_TGZ}`);
    const ctrlFiles = await readSmallTar(gunzipSmall(await readMember(fh, ctrl, MAX_CONTROL_TGZ), 'control.tar.gz'), 'control.tar.gz');
    const controlBytes = ctrlFiles.get('control');
    if (!controlBytes) throw badControl('control.tar.gz has no control file');
    const control = parseControl(controlBytes.toString('utf8'));
    if (data.size < 2) throw corrupt('data.tar.gz is empty');
    const magic = Buffer.alloc(2);
    await fh.read(magic, 0, 2, data.offset);
    if (magic[0] !== 0x1f || magic[1] !== 0x8b) throw corrupt('data.tar.gz is not gzip-compressed');
    const certName = [...ctrlFiles.keys()].find((n) => /\.(crt|pem)$/.test(n));
    const sig = ctrlFiles.get(SIGNATURE_FILE);
    const pkg: IpkPackage = {
      path: file,
      fileSize: st.size,
      control,
      dataMember: { offset: data.offset, size: data.size },
      controlFiles: [...ctrlFiles.keys()],
    };
    if (certName || sig) {
      pkg.signature = {
        certificatePem: certName ? ctrlFiles.get(certName)!.toString('utf8') : undefined,
        certificateName: certName,
        signatureB64: sig ? sig.toString('latin1').trim() : undefined,
      };
    }
    if (opts.keepOpen) {
      pkg.handle = fh;
      kept = true;
    }
    return pkg;
  } finally {
    if (!kept) await fh.close(); // kept only when handed over with the package
  }
}
