// The hostile-input rules for data.tar.gz entries (docs/ipk.md), as a pure state machine fed one tar header at a
// time: path shape, type, mode bits, duplicates, file-vs-directory clashes, depth, count and size limits. No I/O.

export interface ExtractLimits {
  /** Deepest allowed path, in components. */
  maxDepth: number;
  maxEntries: number;
  /** Cap on the uncompressed tar stream (and on the sum of declared file sizes), bytes. */
  maxTotalBytes: number;
  /** Uncompressed/compressed ratio allowed once more than `ratioFloorBytes` have been inflated. */
  maxRatio: number;
  ratioFloorBytes: number;
}

/** Generous enough for real apps (a JS service with node_modules easily has tens of thousands of files); the daemon
 * config's "extractLimits" narrows or widens them, and the free-space check (-3) guards the disk first. */
export const DEFAULT_LIMITS: ExtractLimits = {
  maxDepth: 64,
  maxEntries: 100000,
  maxTotalBytes: 4 * 1024 * 1024 * 1024,
  maxRatio: 100,
  ratioFloorBytes: 1024 * 1024,
};

/** A tar header as the rules see it (types are node-tar's names: File, OldFile, Directory, SymbolicLink, Link, ...). */
export interface EntryHeader {
  path: string;
  type: string;
  mode: number;
  size: number;
}

export type EntryVerdict =
  | { accept: true; rel: string; kind: 'file' | 'dir'; mode: number }
  | { accept: true; rel: ''; kind: 'root' }
  | { accept: false; detail: string };

const TYPE_WORDS: Record<string, string> = {
  SymbolicLink: 'a symbolic link',
  Link: 'a hard link',
  CharacterDevice: 'a character device',
  BlockDevice: 'a block device',
  FIFO: 'a FIFO',
  ContiguousFile: 'a contiguous file',
  GNUDumpDir: 'a GNU dump directory',
};

const TOP_DIRS = new Set(['applications', 'packages', 'services']);

/** The control `Section` of a firmware package (docs/appinstall.md "Firmware packages"). */
export const FIRMWARE_SECTION = 'firmware';

/**
 * Which data tree a package may carry: an app package usr/palm/{applications,packages,services}/<id>/…; a firmware
 * package (control `Section: firmware`) only lib/firmware/<name>/… where <name> is its Package field, as opkg firmware
 * packages lay theirs out.
 */
export type PackageTree = { kind: 'app' } | { kind: 'firmware'; name: string };
export const APP_TREE: PackageTree = { kind: 'app' };

/** Pure: the tree of a package from its control fields (Section compared case-insensitively). */
export function packageTreeOf(control: { packageName: string; raw: Record<string, string> }): PackageTree {
  const key = Object.keys(control.raw).find((k) => k.toLowerCase() === 'section');
  const section = key === undefined ? '' : String(control.raw[key]).trim().toLowerCase();
  return section === FIRMWARE_SECTION ? { kind: 'firmware', name: control.packageName } : APP_TREE;
}

/**
 * Pure: the tree-shape rule, stated once for both kinds of package. `parts` are an entry's checked path components;
 * a directory may stand on the way to the package's own folder, anything (file or dir) inside it. Returns why not, or null.
 */
export function treeShapeProblem(parts: readonly string[], isDir: boolean, tree: PackageTree, shown: string): string | null {
  if (tree.kind === 'firmware') {
    const own = ['lib', 'firmware', tree.name];
    const onTheWay = parts.length <= own.length && parts.every((p, i) => p === own[i]);
    const inside = parts.length > own.length && own.every((p, i) => parts[i] === p);
    if ((onTheWay && isDir) || inside) return null;
    return `entry ${shown} is outside lib/firmware/${tree.name}/ (a firmware package carries only its own firmware folder)`;
  }
  // Only usr/, usr/palm/, usr/palm/{applications,packages,services}/ and what is below their <id>/ directories.
  const inTree =
    parts[0] === 'usr' &&
    (parts.length === 1 || (parts[1] === 'palm' && (parts.length === 2 || (TOP_DIRS.has(parts[2]) && (parts.length > 4 || isDir)))));
  return inTree ? null : `entry ${shown} is outside usr/palm/applications, usr/palm/packages and usr/palm/services`;
}

/** Pure: the mode an accepted entry gets: dirs 0755; files 0644, or 0755 when the owner could execute it. */
export function maskedMode(kind: 'file' | 'dir', mode: number): number {
  if (kind === 'dir') return 0o755;
  return mode & 0o100 ? 0o755 : 0o644;
}

/** Pure: split an archive path into checked components (`./` prefix and trailing `/` allowed). */
export function splitEntryPath(p: string): { ok: true; parts: string[] } | { ok: false; detail: string } {
  const shown = JSON.stringify(p.length > 200 ? p.slice(0, 200) + '...' : p);
  if (p.includes('\0')) return { ok: false, detail: `entry ${shown} contains a NUL byte` };
  if (p.startsWith('/')) return { ok: false, detail: `entry ${shown} is an absolute path` };
  let rel = p;
  if (rel === '.' || rel === './') return { ok: true, parts: [] };
  if (rel.startsWith('./')) rel = rel.slice(2);
  rel = rel.replace(/\/+$/, '');
  if (rel === '') return { ok: false, detail: `entry ${shown} has an empty path` };
  const parts = rel.split('/');
  if (parts.includes('..')) return { ok: false, detail: `entry ${shown} leaves the package tree` };
  if (parts.includes('')) return { ok: false, detail: `entry ${shown} has an empty path component` };
  if (parts.includes('.')) return { ok: false, detail: `entry ${shown} has a "." path component` };
  return { ok: true, parts };
}

/** Stateful checker over one archive: call `check` for every header, in order. */
export class EntryRules {
  private readonly files = new Set<string>();
  private readonly dirs = new Set<string>(); // explicit directory entries
  private readonly implicitDirs = new Set<string>(); // ancestors of anything seen
  private count = 0;
  private declaredBytes = 0;
  private sawRoot = false;

  constructor(private readonly limits: ExtractLimits = DEFAULT_LIMITS, private readonly tree: PackageTree = APP_TREE) {}

  get entries(): number {
    return this.count;
  }
  get bytes(): number {
    return this.declaredBytes;
  }

  check(h: EntryHeader): EntryVerdict {
    this.count++;
    if (this.count > this.limits.maxEntries) return { accept: false, detail: `more than ${this.limits.maxEntries} entries` };
    const split = splitEntryPath(h.path);
    if (!split.ok) return { accept: false, detail: split.detail };
    const parts = split.parts;
    const rel = parts.join('/');
    const shown = JSON.stringify(rel.length > 200 ? rel.slice(0, 200) + '...' : rel);
    if (parts.length > this.limits.maxDepth) return { accept: false, detail: `nesting deeper than ${this.limits.maxDepth} in ${shown}` };
    const isFile = h.type === 'File' || h.type === 'OldFile';
    const isDir = h.type === 'Directory';
    if (!isFile && !isDir) {
      const what = TYPE_WORDS[h.type] ?? `of unsupported type ${h.type}`;
      return { accept: false, detail: `entry ${shown || '"./"'} is ${what}` };
    }
    if (h.mode & 0o4000) return { accept: false, detail: `setuid bit on ${shown}` };
    if (h.mode & 0o2000) return { accept: false, detail: `setgid bit on ${shown}` };
    if (h.mode & 0o1000) return { accept: false, detail: `sticky bit on ${shown}` };
    if (parts.length === 0) {
      if (!isDir) return { accept: false, detail: 'the root entry "./" is not a directory' };
      if (this.sawRoot) return { accept: false, detail: 'duplicate entry "./"' };
      this.sawRoot = true;
      return { accept: true, rel: '', kind: 'root' };
    }
    const outside = treeShapeProblem(parts, isDir, this.tree, shown);
    if (outside !== null) return { accept: false, detail: outside };
    if (this.files.has(rel) || this.dirs.has(rel)) return { accept: false, detail: `duplicate entry ${shown}` };
    for (let i = 1; i < parts.length; i++) {
      const anc = parts.slice(0, i).join('/');
      if (this.files.has(anc)) return { accept: false, detail: `entry ${shown} is inside ${JSON.stringify(anc)}, which is a file` };
    }
    if (isFile && this.implicitDirs.has(rel)) return { accept: false, detail: `file ${shown} stands where a directory is` };
    if (isFile) {
      if (!Number.isSafeInteger(h.size) || h.size < 0) return { accept: false, detail: `entry ${shown} has an invalid size` };
      if (h.size > this.limits.maxTotalBytes - this.declaredBytes) {
        return { accept: false, detail: `entry ${shown} declares ${h.size} bytes, past the ${this.limits.maxTotalBytes}-byte limit` };
      }
      this.declaredBytes += h.size;
      this.files.add(rel);
    } else {
      this.dirs.add(rel);
    }
    for (let i = 1; i < parts.length; i++) this.implicitDirs.add(parts.slice(0, i).join('/'));
    const kind = isFile ? 'file' : 'dir';
    return { accept: true, rel, kind, mode: maskedMode(kind, h.mode) };
  }
}
