// Streaming parser of an opkg `Packages` index as opkg-make-index and OpenWrt write it, bounded and refusing hostile
// Filenames. Not a fetcher, not a gunzip (feeds/feed-store.ts feeds it bytes) and not a version or Depends engine.
import { CodedError } from '../status-codes';
import { FeedErrorCode, FeedText } from '../status-codes/feeds';

/** One package of an index. Optional fields are absent when the stanza has none. */
export interface IndexPackage {
  name: string;
  version: string;
  /** As written in the index (relative to the feed URL). */
  filename: string;
  /** `<feed url>/<Filename>`, checked to stay under the feed URL. */
  url: string;
  size?: number;
  installedSize?: number;
  md5?: string;
  sha256?: string;
  depends?: string;
  preDepends?: string;
  recommends?: string;
  suggests?: string;
  provides?: string;
  replaces?: string;
  conflicts?: string;
  section?: string;
  architecture?: string;
  maintainer?: string;
  /** Summary line, then the continuation lines (one leading space removed), joined with "\n". */
  description?: string;
}

export interface IndexLimits {
  /** Uncompressed index bytes. */
  maxIndexBytes: number;
  /** Bytes of one stanza (and so of one line). */
  maxStanzaBytes: number;
  maxFieldsPerStanza: number;
  maxPackages: number;
}
export const DEFAULT_INDEX_LIMITS: IndexLimits = { maxIndexBytes: 64 * 1024 * 1024, maxStanzaBytes: 64 * 1024, maxFieldsPerStanza: 100, maxPackages: 100_000 };

export interface IndexResult {
  packages: IndexPackage[];
  /** Stanzas refused (bad or missing fields, hostile Filename); the first few reasons are kept. */
  rejectedCount: number;
  rejections: string[];
  bytes: number;
}
const MAX_KEPT_REJECTIONS = 20;

const SAFE_SEGMENT = /^[A-Za-z0-9_+~-][A-Za-z0-9._+~-]*$|^\.[A-Za-z0-9_+~-][A-Za-z0-9._+~-]*$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9.+_-]{0,127}$/;
const VERSION_RE = /^[A-Za-z0-9.+~:_-]{1,128}$/;
const DIGITS_RE = /^\d{1,15}$/;
const MD5_RE = /^[0-9a-fA-F]{32}$/;
const SHA256_RE = /^[0-9a-fA-F]{64}$/;

/** The base a Filename is resolved against: the feed URL with exactly one trailing slash. */
export function feedBase(feedUrl: string): string {
  return feedUrl.replace(/\/+$/, '') + '/';
}

/**
 * opkg downloads `<src url>/<Filename>`. The Filename must stay under the feed URL: relative, segments of a plain
 * character set (no `%`, `?`, `#`, `:`, `\`, spaces), no `.`/`..` segments; a leading `./` (Debian flat repos) is
 * allowed. Returns the URL, or throws a CodedError saying why.
 */
export function resolveFilename(feedUrl: string, filename: string): string {
  const refuse = (why: string) => new CodedError(FeedErrorCode.BAD_INDEX, FeedText.hostileFilename(filename, why));
  if (filename.length === 0 || filename.length > 1024) throw refuse('empty or longer than 1024 characters');
  if (filename.startsWith('/')) throw refuse('absolute path');
  const rel = filename.startsWith('./') ? filename.slice(2) : filename;
  const segments = rel.split('/');
  for (const s of segments) {
    if (s === '' || s === '.' || s === '..') throw refuse('empty, "." or ".." path segment');
    if (!SAFE_SEGMENT.test(s)) throw refuse('characters outside A-Z a-z 0-9 . _ + ~ - (no %, ?, #, :, \\ or spaces)');
  }
  const base = feedBase(feedUrl);
  const url = new URL(rel, base).href;
  if (!url.startsWith(new URL(base).href)) throw refuse('does not resolve under the feed URL');
  return url;
}

type Fields = Record<string, string>;

/**
 * Push bytes in any chunking, then end(). Structural faults (a line that is neither a field nor a continuation,
 * limits) throw and refuse the whole index; a stanza with bad values is refused alone and counted.
 */
export class PackagesParser {
  private readonly decoder = new TextDecoder('utf-8');
  private rest = '';
  private bytes = 0;
  private lineNo = 0;
  private fields: Fields | null = null;
  private fieldCount = 0;
  private stanzaBytes = 0;
  private stanzaLine = 0;
  private last: string | null = null;
  private readonly base: string;
  readonly result: IndexResult = { packages: [], rejectedCount: 0, rejections: [], bytes: 0 };

  constructor(feedUrl: string, private readonly limits: IndexLimits = DEFAULT_INDEX_LIMITS) {
    this.base = feedUrl;
  }

  push(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limits.maxIndexBytes) throw new CodedError(FeedErrorCode.TOO_LARGE, FeedText.indexTooLarge('Packages', this.limits.maxIndexBytes));
    this.feed(this.decoder.decode(chunk, { stream: true }));
  }

  end(): IndexResult {
    this.feed(this.decoder.decode());
    if (this.rest.length) {
      const line = this.rest;
      this.rest = '';
      this.line(line);
    }
    this.finishStanza();
    this.result.bytes = this.bytes;
    return this.result;
  }

  private feed(text: string): void {
    let s = this.rest.length ? this.rest + text : text;
    let start = 0;
    for (;;) {
      const nl = s.indexOf('\n', start);
      if (nl < 0) break;
      this.line(s.slice(start, nl));
      start = nl + 1;
    }
    this.rest = start === 0 ? s : s.slice(start);
    if (this.rest.length > this.limits.maxStanzaBytes) throw new CodedError(FeedErrorCode.BAD_INDEX, FeedText.stanzaTooLarge(this.lineNo + 1, this.limits.maxStanzaBytes));
    s = '';
  }

  private line(raw: string): void {
    this.lineNo++;
    const line = raw.length && raw.charCodeAt(raw.length - 1) === 13 ? raw.slice(0, -1) : raw;
    // A blank or whitespace-only line ends a stanza (deb822 lets parsers read whitespace-only lines as blank).
    if (line.length === 0 || (line.charCodeAt(0) <= 32 && line.trim() === '')) {
      this.finishStanza();
      return;
    }
    if (this.fields === null) {
      this.fields = Object.create(null) as Fields;
      this.fieldCount = 0;
      this.stanzaBytes = 0;
      this.stanzaLine = this.lineNo;
      this.last = null;
    }
    this.stanzaBytes += line.length + 1;
    if (this.stanzaBytes > this.limits.maxStanzaBytes) throw new CodedError(FeedErrorCode.BAD_INDEX, FeedText.stanzaTooLarge(this.stanzaLine, this.limits.maxStanzaBytes));
    const c = line.charCodeAt(0);
    if (c === 32 || c === 9) {
      if (this.last === null) throw new CodedError(FeedErrorCode.BAD_INDEX, FeedText.continuationFirst(this.lineNo));
      const prev = this.fields[this.last];
      if (this.last === 'Description') this.fields.Description = prev + '\n' + line.slice(1);
      else {
        const more = line.trim();
        if (more) this.fields[this.last] = prev ? `${prev} ${more}` : more;
      }
      return;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new CodedError(FeedErrorCode.BAD_INDEX, FeedText.badFieldLine(this.lineNo));
    if (++this.fieldCount > this.limits.maxFieldsPerStanza) throw new CodedError(FeedErrorCode.BAD_INDEX, FeedText.tooManyFields(this.stanzaLine, this.limits.maxFieldsPerStanza));
    let key = line.slice(0, colon);
    // Spellings opkg and opkg-make-index use for the same field (opkg-make-index writes MD5Sum and InstalledSize).
    if (key === 'MD5sum') key = 'MD5Sum';
    else if (key === 'InstalledSize') key = 'Installed-Size';
    this.last = key;
    this.fields[key] = line.slice(colon + 1).trim();
  }

  private reject(why: string): void {
    this.result.rejectedCount++;
    if (this.result.rejections.length < MAX_KEPT_REJECTIONS) this.result.rejections.push(FeedText.stanzaRejected(this.stanzaLine, why));
  }

  private finishStanza(): void {
    const f = this.fields;
    this.fields = null;
    this.last = null;
    if (f === null) return;
    const name = f.Package;
    if (name === undefined) return this.reject(FeedText.missingField('Package'));
    if (!NAME_RE.test(name)) return this.reject(FeedText.badFieldValue('Package', name));
    const version = f.Version;
    if (version === undefined) return this.reject(FeedText.missingField('Version'));
    if (!VERSION_RE.test(version)) return this.reject(FeedText.badFieldValue('Version', version));
    const filename = f.Filename;
    if (filename === undefined) return this.reject(FeedText.missingField('Filename'));
    let url: string;
    try {
      url = resolveFilename(this.base, filename);
    } catch (e) {
      return this.reject((e as CodedError).text);
    }
    const p: IndexPackage = { name, version, filename, url };
    const num = (field: string): number | undefined | null => {
      const v = f[field];
      if (v === undefined) return undefined;
      return DIGITS_RE.test(v) ? Number(v) : null;
    };
    const size = num('Size');
    if (size === null) return this.reject(FeedText.badFieldValue('Size', f.Size));
    if (size !== undefined) p.size = size;
    const isize = num('Installed-Size');
    if (isize === null) return this.reject(FeedText.badFieldValue('Installed-Size', f['Installed-Size']));
    if (isize !== undefined) p.installedSize = isize;
    if (f.MD5Sum !== undefined) {
      if (!MD5_RE.test(f.MD5Sum)) return this.reject(FeedText.badFieldValue('MD5Sum', f.MD5Sum));
      p.md5 = f.MD5Sum.toLowerCase();
    }
    if (f.SHA256sum !== undefined) {
      if (!SHA256_RE.test(f.SHA256sum)) return this.reject(FeedText.badFieldValue('SHA256sum', f.SHA256sum));
      p.sha256 = f.SHA256sum.toLowerCase();
    }
    if (f.Depends) p.depends = f.Depends;
    if (f['Pre-Depends']) p.preDepends = f['Pre-Depends'];
    if (f.Recommends) p.recommends = f.Recommends;
    if (f.Suggests) p.suggests = f.Suggests;
    if (f.Provides) p.provides = f.Provides;
    if (f.Replaces) p.replaces = f.Replaces;
    if (f.Conflicts) p.conflicts = f.Conflicts;
    if (f.Section) p.section = f.Section;
    if (f.Architecture) p.architecture = f.Architecture;
    if (f.Maintainer) p.maintainer = f.Maintainer;
    if (f.Description !== undefined) p.description = f.Description;
    if (this.result.packages.length >= this.limits.maxPackages) throw new CodedError(FeedErrorCode.TOO_LARGE, FeedText.tooManyPackages(this.limits.maxPackages));
    this.result.packages.push(p);
  }
}

/** Whole-text convenience (tests, and a cached index read back from disk). */
export function parsePackages(data: string | Uint8Array, feedUrl: string, limits: IndexLimits = DEFAULT_INDEX_LIMITS): IndexResult {
  const p = new PackagesParser(feedUrl, limits);
  p.push(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  return p.end();
}
