// Safe extraction of an ipk's data.tar.gz into a fresh staging directory (docs/ipk.md hostile-input rules): streamed from
// the member's offset, limits checked while inflating, tar's strict Parser + our entry rules, then a lstat walk and metadata checks.
// Not the install itself: moving staging into place is the installer's job.
import { promises as fsp, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { Parser, ReadEntry } from 'tar';
import { CodedError, ErrorCode, ErrorText } from '../status-codes';
import { APP_TREE, DEFAULT_LIMITS, EntryRules, ExtractLimits, maskedMode, type PackageTree } from './entry-rules';
import { IpkPackage, dataMemberStream } from './ipk-reader';
import {
  AppInfo,
  PackageContents,
  PackageInfo,
  ServicesJson,
  checkConsistency,
  parseJson,
  validateAppInfo,
  validatePackageInfo,
  validateServicesJson,
} from './metadata';

export type ProgressCallback = (percent: number, bytesDone: number, bytesTotal: number) => void;

export interface ExtractOptions {
  limits?: Partial<ExtractLimits>;
  /** Called with a whole percentage 0..100, never decreasing; 100 only once everything was accepted. */
  onProgress?: ProgressCallback;
  /** Owner given to every extracted file and directory (the archive's owners are never used). Default: the process's. */
  owner?: { uid: number; gid: number };
  /** Checked between entries: once aborted, extraction stops with CodedError CANCELLED (staging is removed). */
  signal?: AbortSignal;
  /** The tree the package may carry (entry-rules.ts treeShapeProblem); a firmware tree has no app metadata to read. */
  tree?: PackageTree;
}

export interface ExtractResult {
  stagingDir: string;
  files: number;
  bytes: number;
  appIds: string[];
  appInfos: AppInfo[];
  packageInfo?: PackageInfo;
  services: Array<{ id: string; servicesJson: ServicesJson; dir: string }>;
}

const MAX_JSON_BYTES = 1024 * 1024;
/** Read-ahead of the member stream over what gunzip has consumed, past which the rest is input after its end. */
const TRAILING_SLACK = 4 * 1024 * 1024;

/** `cause`: the errno error behind it, if any (a full disk stays recognisable by its code, ENOSPC/EDQUOT). */
function extractFailed(detail: string, cause?: unknown): CodedError {
  return new CodedError(ErrorCode.INSTALL_FAILED, ErrorText.EXTRACT_FAILED, detail, cause === undefined ? undefined : { cause });
}
function corrupt(detail: string): CodedError {
  return new CodedError(ErrorCode.INSTALL_FAILED, ErrorText.FAILED_PACKAGEFILE_CORRUPT, detail);
}

/** Pure: a node-tar error (strict mode) as one of our refusals. */
export function describeTarError(e: Error & { code?: string; tarCode?: string }): CodedError {
  const code = e.tarCode ?? e.code;
  const msg = e.message;
  if (/Truncated input/i.test(msg)) return corrupt('data.tar.gz: truncated tar archive');
  if (/Unrecognized archive format/i.test(msg)) return corrupt('data.tar.gz: not a tar archive');
  if (code === 'TAR_ENTRY_INVALID' || code === 'TAR_BAD_ARCHIVE') return corrupt(`data.tar.gz: bad tar data (${msg})`);
  return extractFailed(`data.tar.gz: ${msg}`);
}

/** Pure: the refusal detail of a tar entry whose type the extractor does not take (named by node-tar, else by its type flag). */
export function unknownTypeDetail(e: { path: string; type?: string; header?: { typeKey?: string } | null }): string {
  const shown = JSON.stringify(e.path.length > 200 ? e.path.slice(0, 200) + '...' : e.path);
  const type = e.type ?? (e.header?.typeKey !== undefined ? `flag ${JSON.stringify(e.header.typeKey)}` : 'unknown');
  return `entry ${shown} is of unsupported type ${type} (only regular files and directories are allowed)`;
}

/** Pure: a zlib error while inflating data.tar.gz. */
export function describeGzipError(e: Error & { code?: string }): CodedError {
  if (e.code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(e.message)) return corrupt('data.tar.gz: truncated gzip stream');
  return corrupt(`data.tar.gz: bad gzip data (${e.message})`);
}

async function makeFreshDir(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { mode: 0o755 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw extractFailed(`cannot create staging directory ${dir}: ${(e as Error).message}`, e);
    const st = await fsp.lstat(dir);
    if (!st.isDirectory() || (await fsp.readdir(dir)).length > 0) throw extractFailed(`staging directory ${dir} is not a fresh empty directory`);
  }
}

/** Remove a refused staging tree. It is renamed first, so writes still in flight cannot land under the old name. */
async function discard(dir: string): Promise<void> {
  const grave = path.join(path.dirname(dir), `.${path.basename(dir)}.refused-${process.pid}-${Date.now()}`);
  let target = dir;
  try {
    await fsp.rename(dir, grave);
    target = grave;
  } catch {
    /* keep the original name */
  }
  // Writes still in flight when a refusal (or a cancel) stops the stream can add an entry while rm walks the tree:
  // ENOTEMPTY is retried.
  await fsp.rm(target, { recursive: true, force: true, maxRetries: 10, retryDelay: 20 });
  // tar never creates its cwd, so nothing in flight can bring the old name back; a late file write into the renamed
  // tree is caught by this second pass.
  await new Promise((r) => setTimeout(r, 20));
  await fsp.rm(target, { recursive: true, force: true, maxRetries: 10, retryDelay: 20 });
}

/** Files written at once, and bytes of entry data held in memory waiting for their file: bounds of StagingWriter. */
const MAX_OPEN_FILES = 32;
const MAX_QUEUED_BYTES = 16 * 1024 * 1024;

/**
 * Writes accepted entries below `root`. Directories: mkdir, never recursive (so a removed staging directory is never
 * recreated), in archive order. Files: O_CREAT|O_EXCL|O_NOFOLLOW with the masked mode, several at once (that is what
 * keeps pace with GNU tar), with their data queued in memory under a byte budget and the parser paused beyond it.
 */
class StagingWriter {
  private readonly dirs = new Map<string, Promise<void>>([['', Promise.resolve()]]);
  private pending = 0;
  private open = 0;
  private queued = 0;
  private readonly waitingForSlot: Array<() => void> = [];
  private readonly waitingForBudget = new Set<ReadEntry>();
  private idle: (() => void) | undefined;

  constructor(private readonly root: string, private readonly onError: (e: CodedError) => void) {}

  private ensureDir(rel: string): Promise<void> {
    let p = this.dirs.get(rel);
    if (!p) {
      const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
      p = this.ensureDir(parent).then(async () => {
        const abs = path.join(this.root, rel);
        try {
          await fsp.mkdir(abs, { mode: 0o755 });
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
          if (!(await fsp.lstat(abs)).isDirectory()) throw new Error('it exists and is not a directory');
        }
      });
      this.dirs.set(rel, p);
    }
    return p;
  }

  private failWith(rel: string, e: unknown): void {
    this.onError(e instanceof CodedError ? e : extractFailed(`cannot write "${rel}": ${(e as Error).message}`, e));
  }

  private done(): void {
    this.pending--;
    if (this.pending === 0 && this.idle) this.idle();
  }

  private releaseBudget(n: number): void {
    this.queued -= n;
    if (this.queued <= MAX_QUEUED_BYTES && this.waitingForBudget.size) {
      const waiting = [...this.waitingForBudget];
      this.waitingForBudget.clear();
      for (const e of waiting) e.resume();
    }
  }

  /** Take one accepted entry from the parser. */
  write(entry: ReadEntry, rel: string, kind: 'file' | 'dir', mode: number): void {
    this.pending++;
    if (kind === 'dir') {
      entry.pause();
      this.ensureDir(rel).then(
        () => {
          entry.resume();
          this.done();
        },
        (e) => {
          this.failWith(rel, e);
          entry.resume();
          this.done();
        },
      );
      return;
    }
    const chunks: Buffer[] = [];
    let ended = false;
    let wake: (() => void) | undefined;
    const poke = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    entry.on('data', (c: Buffer) => {
      chunks.push(c);
      this.queued += c.length;
      if (this.queued > MAX_QUEUED_BYTES) {
        entry.pause();
        this.waitingForBudget.add(entry);
      }
      poke();
    });
    entry.on('end', () => {
      ended = true;
      poke();
    });
    const run = async () => {
      this.open++;
      entry.resume();
      const parent = rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '';
      await this.ensureDir(parent);
      const flags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
      const fh = await fsp.open(path.join(this.root, rel), flags, mode);
      try {
        for (;;) {
          if (chunks.length) {
            const batch = chunks.splice(0);
            const n = batch.reduce((a, b) => a + b.length, 0);
            await fh.writev(batch);
            this.releaseBudget(n);
          } else if (ended) {
            break;
          } else {
            await new Promise<void>((r) => (wake = r));
          }
        }
      } finally {
        await fh.close();
      }
    };
    const start = () => {
      run().then(
        () => this.finishFile(),
        (e) => {
          this.failWith(rel, e);
          this.releaseBudget(chunks.reduce((a, b) => a + b.length, 0));
          entry.resume();
          this.finishFile();
        },
      );
    };
    if (this.open >= MAX_OPEN_FILES) {
      entry.pause();
      this.waitingForSlot.push(start);
    } else {
      start();
    }
  }

  private finishFile(): void {
    this.open--;
    this.waitingForSlot.shift()?.();
    this.done();
  }

  /** Resolves once every entry taken so far is written and closed. */
  settled(): Promise<void> {
    return this.pending === 0 ? Promise.resolve() : new Promise((r) => (this.idle = r));
  }
}

/**
 * Stream data.tar.gz into `staging`: the member's bytes → our gunzip (size and ratio limits counted here, so a bomb
 * stops early) → tar's Parser in strict mode, whose filter applies the entry rules → StagingWriter.
 */
function unpackStream(pkg: IpkPackage, staging: string, limits: ExtractLimits, onProgress?: ProgressCallback, signal?: AbortSignal, tree: PackageTree = APP_TREE): Promise<void> {
  const { size } = pkg.dataMember;
  const rules = new EntryRules(limits, tree);
  const verdicts = new WeakMap<object, { rel: string; kind: 'file' | 'dir'; mode: number }>();
  const judged = new WeakSet<object>(); // entries our filter saw (the parser skips types it does not know without asking)
  const src = dataMemberStream(pkg, 1024 * 1024);
  const gunzip = zlib.createGunzip({ chunkSize: 256 * 1024 });
  let failure: CodedError | undefined;
  let compressed = 0;
  let inflated = 0;
  let lastPct = 0;

  return new Promise<void>((resolve, reject) => {
    const fail = (err: CodedError) => {
      if (failure) return;
      failure = err;
      src.unpipe();
      src.destroy();
      gunzip.unpipe();
      gunzip.destroy();
      parser.abort(err);
      reject(err);
    };
    const writer = new StagingWriter(staging, fail);
    const parser = new Parser({
      strict: true,
      filter: (_p: string, entry: ReadEntry | unknown) => {
        if (failure) return false;
        if (signal?.aborted) {
          fail(new CodedError(ErrorCode.CANCELLED, ErrorText.INSTALL_CANCELLED));
          return false;
        }
        const e = entry as ReadEntry;
        judged.add(e);
        const v = rules.check({ path: e.path, type: e.type, mode: e.mode ?? 0, size: e.size ?? 0 });
        if (!v.accept) {
          fail(extractFailed(v.detail));
          return false;
        }
        if (v.kind === 'root') return false;
        e.mode = v.mode;
        verdicts.set(e, v);
        return true;
      },
    });
    parser.on('entry', (e: ReadEntry) => {
      const v = verdicts.get(e);
      if (failure || !v) return void e.resume();
      writer.write(e, v.rel, v.kind, v.mode);
    });
    // An entry of a type node-tar does not know (GNU sparse, volume header, multi-volume continuation, ...) is
    // dropped by the parser without reaching the filter; the package would install without it. Refused instead.
    parser.on('ignoredEntry', (e: ReadEntry) => {
      if (!failure && !judged.has(e)) fail(extractFailed(unknownTypeDetail(e)));
    });
    parser.on('error', (e: Error) => fail(failure ?? describeTarError(e)));
    parser.on('end', () => {
      if (gunzip.bytesWritten !== size) return fail(trailingBytes(gunzip.bytesWritten, size));
      void writer.settled().then(() => {
        if (!failure) resolve();
      });
    });
    gunzip.on('error', (e: Error) => fail(describeGzipError(e)));
    src.on('error', (e: Error) => fail(corrupt(`cannot read data.tar.gz: ${e.message}`)));
    src.on('data', (chunk: string | Buffer) => {
      compressed += chunk.length;
      // gunzip stops consuming where its stream ends (zero padding after it is skipped silently): far more read than
      // consumed is input past the end, refused now rather than read to the member's end.
      if (compressed - gunzip.bytesWritten > TRAILING_SLACK) return fail(trailingBytes(gunzip.bytesWritten, size));
      const pct = Math.min(99, Math.floor((compressed / size) * 100));
      if (onProgress && pct > lastPct) {
        lastPct = pct;
        onProgress(pct, compressed, size);
      }
    });
    gunzip.on('data', (chunk: Buffer) => {
      inflated += chunk.length;
      if (inflated > limits.maxTotalBytes) fail(extractFailed(`uncompressed size passes ${limits.maxTotalBytes} bytes`));
      else if (inflated > limits.ratioFloorBytes && inflated > limits.maxRatio * compressed) {
        fail(extractFailed(`uncompressed size passes ${limits.maxRatio}x ratio to the compressed size`));
      }
    });
    src.pipe(gunzip).pipe(parser as unknown as NodeJS.WritableStream);
  });
}

/** Walk the staging tree with lstat: only directories and single-link regular files; modes normalised. */
async function walkStaging(root: string, owner?: { uid: number; gid: number }): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  const visit = async (dir: string, rel: string): Promise<void> => {
    for (const name of await fsp.readdir(dir)) {
      const abs = path.join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = await fsp.lstat(abs);
      if (owner && (st.isDirectory() || st.isFile()) && (st.uid !== owner.uid || st.gid !== owner.gid)) await fsp.lchown(abs, owner.uid, owner.gid);
      if (st.isDirectory()) {
        if ((st.mode & 0o7777) !== 0o755) await fsp.chmod(abs, 0o755);
        await visit(abs, r);
      } else if (st.isFile()) {
        if (st.nlink !== 1) throw extractFailed(`"${r}" has ${st.nlink} hard links after extraction`);
        const want = maskedMode('file', st.mode);
        if ((st.mode & 0o7777) !== want) await fsp.chmod(abs, want);
        files++;
        bytes += st.size;
      } else {
        throw extractFailed(`"${r}" is not a regular file or directory after extraction`);
      }
    }
  };
  await visit(root, '');
  if (owner) await fsp.lchown(root, owner.uid, owner.gid);
  return { files, bytes };
}

async function readJsonFile(abs: string, shown: string): Promise<{ ok: true; value: unknown } | { ok: false; problem: string }> {
  let st;
  try {
    st = await fsp.lstat(abs);
  } catch {
    return { ok: false, problem: `missing ${shown}` };
  }
  if (!st.isFile()) return { ok: false, problem: `${shown} is not a regular file` };
  if (st.size > MAX_JSON_BYTES) return { ok: false, problem: `${shown} is larger than ${MAX_JSON_BYTES} bytes` };
  return parseJson(shown, await fsp.readFile(abs, 'utf8'));
}

async function subdirs(dir: string): Promise<string[]> {
  try {
    return (await fsp.readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  } catch {
    return [];
  }
}

/** Read and check appinfo.json, packageinfo.json and services.json files in an extracted tree. */
export async function readPackageContents(staging: string, packageName: string): Promise<PackageContents> {
  const palm = path.join(staging, 'usr/palm');
  const contents: PackageContents = { packageName, apps: [], services: [] };
  const must = <T>(r: { ok: true; value: T } | { ok: false; problem: string }): T => {
    if (!r.ok) throw extractFailed(r.problem);
    return r.value;
  };
  for (const dir of await subdirs(path.join(palm, 'applications'))) {
    const shown = `usr/palm/applications/${dir}/appinfo.json`;
    const raw = must(await readJsonFile(path.join(palm, 'applications', dir, 'appinfo.json'), shown));
    const v = validateAppInfo(raw);
    if (!v.ok) throw extractFailed(v.problem);
    contents.apps.push({ dir, appInfo: v.value });
  }
  const pkgDirs = await subdirs(path.join(palm, 'packages'));
  if (pkgDirs.length > 1) throw extractFailed(`more than one usr/palm/packages directory (${pkgDirs.join(', ')})`);
  for (const dir of pkgDirs) {
    const shown = `usr/palm/packages/${dir}/packageinfo.json`;
    const v = validatePackageInfo(must(await readJsonFile(path.join(palm, 'packages', dir, 'packageinfo.json'), shown)));
    if (!v.ok) throw extractFailed(v.problem);
    contents.packageInfo = { dir, value: v.value };
  }
  for (const dir of await subdirs(path.join(palm, 'services'))) {
    const shown = `usr/palm/services/${dir}/services.json`;
    const v = validateServicesJson(must(await readJsonFile(path.join(palm, 'services', dir, 'services.json'), shown)));
    if (!v.ok) throw extractFailed(v.problem);
    contents.services.push({ dir, servicesJson: v.value });
  }
  if (contents.apps.length === 0) throw extractFailed(`missing usr/palm/applications/${packageName}/appinfo.json`);
  const problem = checkConsistency(contents);
  if (problem) throw extractFailed(problem);
  return contents;
}

/** Slack allowed above twice the Installed-Size for the data member (tar headers of many tiny or empty files). */
export const DATA_MEMBER_SLACK_BYTES = 8 * 1024 * 1024;

/**
 * Cheap checks of the data member's size, before any byte of it is hashed or inflated: Installed-Size within the
 * limit, and the member at most 2 x Installed-Size + 8 MiB (gzip never makes a tree much larger; a member far larger
 * than its tree is padding, e.g. a sparse file behind a small gzip stream). Without Installed-Size: the byte limit.
 * `memberOnly`: the member check alone (the installer checks Installed-Size against free space first, -3).
 */
export function checkDataSize(pkg: IpkPackage, limits: ExtractLimits = DEFAULT_LIMITS, opts: { memberOnly?: boolean } = {}): void {
  const declared = pkg.control.installedSize;
  if (!opts.memberOnly && declared !== undefined && declared > limits.maxTotalBytes) {
    throw extractFailed(`Installed-Size ${declared} passes the ${limits.maxTotalBytes}-byte limit`);
  }
  const cap = declared !== undefined ? 2 * declared + DATA_MEMBER_SLACK_BYTES : limits.maxTotalBytes;
  if (pkg.dataMember.size > cap) {
    throw corrupt(`data.tar.gz is ${pkg.dataMember.size} bytes, more than its ${declared !== undefined ? `Installed-Size ${declared} allows` : 'byte limit'} (at most ${cap})`);
  }
}

/** Pure: the refusal of a data member whose gzip stream ends before the member does. */
export function trailingBytes(consumed: number, size: number): CodedError {
  return corrupt(`data.tar.gz: ${size - consumed} bytes follow the end of its gzip stream (the member must end where the stream ends)`);
}

/**
 * Extract the package's data.tar.gz into `stagingDir` (created here; it must not exist or be empty), refusing
 * the whole package on any hostile entry or limit. On refusal staging is removed and a CodedError(-5) is thrown.
 */
export async function extractData(pkg: IpkPackage, stagingDir: string, opts: ExtractOptions = {}): Promise<ExtractResult> {
  const limits: ExtractLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const staging = path.resolve(stagingDir);
  checkDataSize(pkg, limits);
  await makeFreshDir(staging);
  opts.onProgress?.(0, 0, pkg.dataMember.size);
  try {
    await unpackStream(pkg, staging, limits, opts.onProgress, opts.signal, opts.tree);
    const { files, bytes } = await walkStaging(staging, opts.owner);
    const contents: PackageContents = opts.tree?.kind === 'firmware' ? { packageName: pkg.control.packageName, apps: [], services: [] } : await readPackageContents(staging, pkg.control.packageName);
    opts.onProgress?.(100, pkg.dataMember.size, pkg.dataMember.size);
    return {
      stagingDir: staging,
      files,
      bytes,
      appIds: contents.apps.map((a) => a.dir),
      appInfos: contents.apps.map((a) => a.appInfo),
      packageInfo: contents.packageInfo?.value,
      services: contents.services.map((s) => ({ id: s.dir, servicesJson: s.servicesJson, dir: path.join(staging, 'usr/palm/services', s.dir) })),
    };
  } catch (e) {
    await discard(staging);
    if (e instanceof CodedError) throw e;
    throw extractFailed((e as Error).message, e);
  }
}
