// Streaming parser of an opkg `Packages` index as opkg-make-index and OpenWrt write it, bounded and refusing hostile
// Filenames. Not a fetcher, not a gunzip (feeds/feed-store.ts feeds it bytes) and not a version or Depends engine.
import { StringDecoder } from 'node:string_decoder';
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
const SEG = '(?:[A-Za-z0-9_+~-][A-Za-z0-9._+~-]*|\\.[A-Za-z0-9_+~-][A-Za-z0-9._+~-]*)';
/** A whole safe Filename: optional "./", then safe segments (none empty, ".", ".."; no %, ?, #, :, \\). */
const SAFE_PATH = new RegExp(`^(?:\\./)?${SEG}(?:/${SEG})*$`);
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9.+_-]{0,127}$/;
const VERSION_RE = /^[A-Za-z0-9.+~:_-]{1,128}$/;
const DIGITS_RE = /^\d{1,15}$/;

/** A hex digest of `len` digits in lower case, or null. A loop, not a regex: it runs twice per package. */
function hexDigest(v: string, len: number): string | null {
  if (v.length !== len) return null;
  let upper = false;
  for (let i = 0; i < len; i++) {
    const c = v.charCodeAt(i);
    if ((c >= 48 && c <= 57) || (c >= 97 && c <= 102)) continue;
    if (c >= 65 && c <= 70) upper = true;
    else return null;
  }
  return upper ? v.toLowerCase() : v;
}

/** The base a Filename is resolved against: the feed URL with exactly one trailing slash. */
export function feedBase(feedUrl: string): string {
  return feedUrl.replace(/\/+$/, '') + '/';
}

/**
 * opkg downloads `<src url>/<Filename>`. The Filename must stay under the feed URL: relative, segments of a plain
 * character set (no `%`, `?`, `#`, `:`, `\`, spaces), no `.`/`..` segments; a leading `./` (Debian flat repos) is
 * allowed. Returns the URL, or throws a CodedError saying why.
 */
export function resolveFilename(feedUrl: string, filename: string, baseHref?: string): string {
  // Fast path for the common case (one regex); anything else goes through the checks below, which say why.
  if (filename.length <= 1024 && SAFE_PATH.test(filename)) {
    const base = baseHref ?? new URL(feedBase(feedUrl)).href;
    return base + (filename.charCodeAt(0) === 46 && filename.charCodeAt(1) === 47 ? filename.slice(2) : filename);
  }
  const refuse = (why: string) => new CodedError(FeedErrorCode.BAD_INDEX, FeedText.hostileFilename(filename, why));
  if (filename.length === 0 || filename.length > 1024) throw refuse('empty or longer than 1024 characters');
  if (filename.startsWith('/')) throw refuse('absolute path');
  const rel = filename.startsWith('./') ? filename.slice(2) : filename;
  const segments = rel.split('/');
  for (const s of segments) {
    if (s === '' || s === '.' || s === '..') throw refuse('empty, "." or ".." path segment');
    if (!SAFE_SEGMENT.test(s)) throw refuse('characters outside A-Z a-z 0-9 . _ + ~ - (no %, ?, #, :, \\ or spaces)');
  }
  // The segments are plain (nothing a URL parser would decode or normalise), so the URL is the base plus them;
  // the prefix check stays as a second line of defence.
  const base = baseHref ?? new URL(feedBase(feedUrl)).href;
  const url = base + rel;
  if (!url.startsWith(base) || url.includes('/../') || url.includes('/./')) throw refuse('does not resolve under the feed URL');
  return url;
}

/** The fields of one stanza we keep; a fixed shape (not a dictionary keyed by sliced strings) keeps parsing fast. */
class Fields {
  Package?: string = undefined;
  Version?: string = undefined;
  Filename?: string = undefined;
  Size?: string = undefined;
  'Installed-Size'?: string = undefined;
  MD5Sum?: string = undefined;
  SHA256sum?: string = undefined;
  Depends?: string = undefined;
  'Pre-Depends'?: string = undefined;
  Recommends?: string = undefined;
  Suggests?: string = undefined;
  Provides?: string = undefined;
  Replaces?: string = undefined;
  Conflicts?: string = undefined;
  Section?: string = undefined;
  Architecture?: string = undefined;
  Maintainer?: string = undefined;
  Description?: string = undefined;
}

/** Store one field; spellings opkg and opkg-make-index use for the same field (MD5Sum/MD5sum, InstalledSize) merge. Others are ignored. */
function setField(f: Fields, key: string, value: string): void {
  switch (key) {
    case 'Package': f.Package = value; break;
    case 'Version': f.Version = value; break;
    case 'Filename': f.Filename = value; break;
    case 'Size': f.Size = value; break;
    case 'Installed-Size': case 'InstalledSize': f['Installed-Size'] = value; break;
    case 'MD5Sum': case 'MD5sum': f.MD5Sum = value; break;
    case 'SHA256sum': f.SHA256sum = value; break;
    case 'Depends': f.Depends = value; break;
    case 'Pre-Depends': f['Pre-Depends'] = value; break;
    case 'Recommends': f.Recommends = value; break;
    case 'Suggests': f.Suggests = value; break;
    case 'Provides': f.Provides = value; break;
    case 'Replaces': f.Replaces = value; break;
    case 'Conflicts': f.Conflicts = value; break;
    case 'Section': f.Section = value; break;
    case 'Architecture': f.Architecture = value; break;
    case 'Maintainer': f.Maintainer = value; break;
    case 'Description': f.Description = value; break;
    default: break;
  }
}

/** Value of a field that ran over continuation lines: Description keeps its lines (one leading space dropped), others fold to one line. */
function unfold(key: string, raw: string): string {
  if (raw.indexOf('\n') < 0) return raw;
  if (key === 'Description') return raw.indexOf('\r') < 0 && raw.indexOf('\n\t') < 0 ? raw.split('\n ').join('\n') : raw.replace(/\r?\n[ \t]/g, '\n');
  return raw.replace(/[ \t\r]*\n[ \t]*/g, ' ').trim();
}

/**
 * Push bytes in any chunking, then end(). Structural faults (a line that is neither a field nor a continuation,
 * limits) throw and refuse the whole index; a stanza with bad values is refused alone and counted.
 *
 * Speed matters (a refresh must stay within a small multiple of gunzip): the text of the current stanza is kept
 * whole, lines are found with indexOf and fields are sliced once each, continuation lines included.
 */
export class PackagesParser {
  private readonly decoder = new StringDecoder('utf8');
  /** Text from the start of the current stanza (or of the current blank run) on. */
  private rest = '';
  /** Offset in `rest` where scanning resumes (the start of the first incomplete line). */
  private scan = 0;
  private bytes = 0;
  /** Line number of rest[0]. */
  private restLine = 1;
  /** Line number of the line at `scan`. */
  private scanLine = 1;
  readonly result: IndexResult = { packages: [], rejectedCount: 0, rejections: [], bytes: 0 };

  private readonly baseHref: string;

  constructor(private readonly feedUrl: string, private readonly limits: IndexLimits = DEFAULT_INDEX_LIMITS) {
    this.baseHref = new URL(feedBase(feedUrl)).href;
  }

  push(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limits.maxIndexBytes) throw new CodedError(FeedErrorCode.TOO_LARGE, FeedText.indexTooLarge('Packages', this.limits.maxIndexBytes));
    this.feed(this.decoder.write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length)), false);
  }

  end(): IndexResult {
    this.feed(this.decoder.end(), true);
    this.result.bytes = this.bytes;
    return this.result;
  }

  private feed(text: string, final: boolean): void {
    const s = this.rest.length ? this.rest + text : text;
    let stanzaStart = 0;
    let stanzaLine = this.restLine;
    let pos = this.scan;
    let line = this.scanLine;
    const n = s.length;
    while (pos < n) {
      let nl = s.indexOf('\n', pos);
      if (nl < 0) {
        if (!final) break;
        nl = n;
      }
      // Blank (or whitespace-only) line: the stanza before it is complete.
      let blank = true;
      for (let i = pos; i < nl; i++) {
        const c = s.charCodeAt(i);
        if (c !== 32 && c !== 9 && c !== 13) {
          blank = false;
          break;
        }
      }
      if (blank) {
        if (pos > stanzaStart) this.stanza(s, stanzaStart, pos, stanzaLine);
        stanzaStart = nl + 1;
        stanzaLine = line + 1;
      } else if (pos - stanzaStart > this.limits.maxStanzaBytes) {
        throw new CodedError(FeedErrorCode.BAD_INDEX, FeedText.stanzaTooLarge(stanzaLine, this.limits.maxStanzaBytes));
      }
      pos = nl + 1;
      line++;
    }
    if (final) {
      if (stanzaStart < n) this.stanza(s, stanzaStart, n, stanzaLine);
      this.rest = '';
      return;
    }
    if (n - stanzaStart > this.limits.maxStanzaBytes) throw new CodedError(FeedErrorCode.BAD_INDEX, FeedText.stanzaTooLarge(stanzaLine, this.limits.maxStanzaBytes));
    this.rest = stanzaStart === 0 ? s : s.slice(stanzaStart);
    this.scan = pos - stanzaStart;
    this.restLine = stanzaLine;
    this.scanLine = line;
  }

  /** One stanza: s[start, end) (ends with "\n" or at the end of the text), its first line is `firstLine`. */
  private stanza(s: string, start: number, end: number, firstLine: number): void {
    if (end - start > this.limits.maxStanzaBytes) throw new CodedError(FeedErrorCode.BAD_INDEX, FeedText.stanzaTooLarge(firstLine, this.limits.maxStanzaBytes));
    const f = new Fields();
    let count = 0;
    let folded = false;
    let key: string | null = null;
    let valueStart = 0;
    let valueEnd = 0;
    let pos = start;
    let line = firstLine;
    while (pos < end) {
      let nl = s.indexOf('\n', pos);
      if (nl < 0 || nl > end) nl = end;
      const c = s.charCodeAt(pos);
      if (c === 32 || c === 9) {
        if (key === null) throw new CodedError(FeedErrorCode.BAD_INDEX, FeedText.continuationFirst(line));
        valueEnd = nl;
        folded = true;
      } else {
        if (key !== null) setField(f, key, folded ? unfold(key, s.slice(valueStart, valueEnd)) : s.slice(valueStart, valueEnd));
        folded = false;
        const colon = s.indexOf(':', pos);
        if (colon <= pos || colon >= nl) throw new CodedError(FeedErrorCode.BAD_INDEX, FeedText.badFieldLine(line));
        if (++count > this.limits.maxFieldsPerStanza) throw new CodedError(FeedErrorCode.BAD_INDEX, FeedText.tooManyFields(firstLine, this.limits.maxFieldsPerStanza));
        key = s.slice(pos, colon);
        valueStart = colon + 1;
        while (valueStart < nl && (s.charCodeAt(valueStart) === 32 || s.charCodeAt(valueStart) === 9)) valueStart++;
        valueEnd = nl;
      }
      // Trailing spaces and CR of the line are not part of the value.
      while (valueEnd > valueStart && (s.charCodeAt(valueEnd - 1) === 13 || s.charCodeAt(valueEnd - 1) === 32 || s.charCodeAt(valueEnd - 1) === 9)) valueEnd--;
      pos = nl + 1;
      line++;
    }
    if (key !== null) setField(f, key, folded ? unfold(key, s.slice(valueStart, valueEnd)) : s.slice(valueStart, valueEnd));
    this.finishStanza(f, firstLine);
  }

  private reject(line: number, why: string): void {
    this.result.rejectedCount++;
    if (this.result.rejections.length < MAX_KEPT_REJECTIONS) this.result.rejections.push(FeedText.stanzaRejected(line, why));
  }

  private finishStanza(f: Fields, line: number): void {
    const name = f.Package;
    if (name === undefined) return this.reject(line, FeedText.missingField('Package'));
    if (!NAME_RE.test(name)) return this.reject(line, FeedText.badFieldValue('Package', name));
    const version = f.Version;
    if (version === undefined) return this.reject(line, FeedText.missingField('Version'));
    if (!VERSION_RE.test(version)) return this.reject(line, FeedText.badFieldValue('Version', version));
    const filename = f.Filename;
    if (filename === undefined) return this.reject(line, FeedText.missingField('Filename'));
    let url: string;
    try {
      url = resolveFilename(this.feedUrl, filename, this.baseHref);
    } catch (e) {
      return this.reject(line, (e as CodedError).text);
    }
    const p: IndexPackage = { name, version, filename, url };
    const num = (v: string | undefined): number | undefined | null => (v === undefined ? undefined : DIGITS_RE.test(v) ? Number(v) : null);
    const size = num(f.Size);
    if (size === null) return this.reject(line, FeedText.badFieldValue('Size', f.Size!));
    if (size !== undefined) p.size = size;
    const isize = num(f['Installed-Size']);
    if (isize === null) return this.reject(line, FeedText.badFieldValue('Installed-Size', f['Installed-Size']!));
    if (isize !== undefined) p.installedSize = isize;
    if (f.MD5Sum !== undefined) {
      const h = hexDigest(f.MD5Sum, 32);
      if (h === null) return this.reject(line, FeedText.badFieldValue('MD5Sum', f.MD5Sum));
      p.md5 = h;
    }
    if (f.SHA256sum !== undefined) {
      const h = hexDigest(f.SHA256sum, 64);
      if (h === null) return this.reject(line, FeedText.badFieldValue('SHA256sum', f.SHA256sum));
      p.sha256 = h;
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
