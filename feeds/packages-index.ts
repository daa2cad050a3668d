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

/** Per UTF-16 code unit: 1 a digit or a-f, 3 A-F, 0 anything else (hexDigest's table). */
const HEX_CLASS = new Uint8Array(65536);
for (const [from, to, v] of [[48, 57, 1], [97, 102, 1], [65, 70, 3]]) for (let c = from; c <= to; c++) HEX_CLASS[c] = v;

/**
 * A hex digest of `len` digits in lower case, or null. A table, not a regex nor a branch per digit (random hex digits
 * make branches mispredict): it runs twice per package, and was the parser's costliest function.
 */
function hexDigest(v: string, len: number): string | null {
  if (v.length !== len) return null;
  let all = 1;
  let any = 0;
  for (let i = 0; i < len; i++) {
    const k = HEX_CLASS[v.charCodeAt(i)];
    all &= k;
    any |= k;
  }
  return all === 0 ? null : any & 2 ? v.toLowerCase() : v;
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

// The fields of a stanza we keep, by number. Spellings opkg and opkg-make-index use for the same field
// (MD5Sum/MD5sum, InstalledSize) are one field; others are ignored.
const F_PACKAGE = 0, F_VERSION = 1, F_FILENAME = 2, F_SIZE = 3, F_INSTALLED_SIZE = 4, F_MD5 = 5, F_SHA256 = 6, F_DEPENDS = 7,
  F_PRE_DEPENDS = 8, F_RECOMMENDS = 9, F_SUGGESTS = 10, F_PROVIDES = 11, F_REPLACES = 12, F_CONFLICTS = 13, F_SECTION = 14,
  F_ARCHITECTURE = 15, F_MAINTAINER = 16, F_DESCRIPTION = 17;
const FIELD_COUNT = 18;
/** A key we do not keep; no key yet (before the stanza's first field). */
const F_OTHER = -1, F_NONE = -2;

/** The field number of a key (a switch on its length first: one or two comparisons per line of an index). */
function fieldOf(key: string): number {
  switch (key.length) {
    case 4: return key === 'Size' ? F_SIZE : F_OTHER;
    case 6: return key === 'MD5Sum' || key === 'MD5sum' ? F_MD5 : F_OTHER;
    case 7: return key === 'Package' ? F_PACKAGE : key === 'Version' ? F_VERSION : key === 'Depends' ? F_DEPENDS : key === 'Section' ? F_SECTION : F_OTHER;
    case 8: return key === 'Filename' ? F_FILENAME : key === 'Provides' ? F_PROVIDES : key === 'Replaces' ? F_REPLACES : key === 'Suggests' ? F_SUGGESTS : F_OTHER;
    case 9: return key === 'SHA256sum' ? F_SHA256 : key === 'Conflicts' ? F_CONFLICTS : F_OTHER;
    case 10: return key === 'Maintainer' ? F_MAINTAINER : key === 'Recommends' ? F_RECOMMENDS : F_OTHER;
    case 11: return key === 'Description' ? F_DESCRIPTION : key === 'Pre-Depends' ? F_PRE_DEPENDS : F_OTHER;
    case 12: return key === 'Architecture' ? F_ARCHITECTURE : F_OTHER;
    case 13: return key === 'InstalledSize' ? F_INSTALLED_SIZE : F_OTHER;
    case 14: return key === 'Installed-Size' ? F_INSTALLED_SIZE : F_OTHER;
    default: return F_OTHER;
  }
}

/** Value of a field that ran over continuation lines: Description keeps its lines (one leading space dropped), others fold to one line. */
function unfold(field: number, raw: string): string {
  if (field === F_DESCRIPTION) return raw.indexOf('\r') < 0 && raw.indexOf('\n\t') < 0 ? raw.replaceAll('\n ', '\n') : raw.replace(/\r?\n[ \t]/g, '\n');
  return raw.replace(/[ \t\r]*\n[ \t]*/g, ' ').trim();
}

/** s[start, end) as a number when it is 1 to 15 decimal digits (as /^\d{1,15}$/), else NaN. No string is made. */
function digitsAt(s: string, start: number, end: number): number {
  if (end <= start || end - start > 15) return NaN;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return NaN;
    n = n * 10 + c;
  }
  return n;
}

/**
 * Push bytes in any chunking, then end(). Structural faults (a line that is neither a field nor a continuation,
 * limits) throw and refuse the whole index; a stanza with bad values is refused alone and counted.
 *
 * Speed matters (a refresh must stay within a small multiple of gunzip, bench/feeds-bench.ts): one pass over the
 * lines (indexOf), each field's value remembered as offsets into the text and sliced out only when the package keeps
 * it (numbers are read in place), no per-stanza object but the package. A stanza's first structural fault is thrown
 * once the stanza is whole, so a stanza over the size limit says so first, whatever else is wrong in it, as before.
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

  // The stanza being read (offsets are into the text of the current feed(), from the stanza's start on).
  /** Each field's value as [start, end) offsets; start -1: absent, -2: in `folded` (ran over continuation lines). */
  private readonly vStart = new Int32Array(FIELD_COUNT).fill(-1);
  private readonly vEnd = new Int32Array(FIELD_COUNT);
  private readonly folded: (string | undefined)[] = new Array<string | undefined>(FIELD_COUNT).fill(undefined);
  /** The field whose lines are being read (F_NONE before the first), its value's offsets and whether it ran over lines. */
  private key = F_NONE;
  private valueStart = 0;
  private valueEnd = 0;
  private multiline = false;
  private fieldCount = 0;
  /** The stanza's first structural fault, thrown when the stanza ends (unless it is too large). */
  private fault: CodedError | null = null;

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
    if (this.rest.length === 0) return this.scanText(text, 0, 0, final);
    // The stanza begun in the previous text is completed with the head of this one (to its first blank line) in a
    // small string of its own; the rest of this text is read in place, not first copied into one with the previous.
    // join, not +: a flat string at once (a + makes a cons string, flattened at the first indexOf and looked through).
    const head = this.headEnd(text);
    if (head < 0) return this.scanText([this.rest, text].join(''), 0, this.scan, final);
    this.scanText([this.rest, text.slice(0, head)].join(''), 0, this.scan, false);
    this.scanText(text, head, head, final);
  }

  /** The offset just past the first blank line of `text`, whose first line ends the partial last line of `rest`; -1 if none. */
  private headEnd(text: string): number {
    let blank = true;
    for (let i = this.scan; blank && i < this.rest.length; i++) {
      const c = this.rest.charCodeAt(i);
      blank = c === 32 || c === 9 || c === 13;
    }
    for (let pos = 0; ; blank = true) {
      const nl = text.indexOf('\n', pos);
      if (nl < 0) return -1;
      for (let i = pos; blank && i < nl; i++) {
        const c = text.charCodeAt(i);
        blank = c === 32 || c === 9 || c === 13;
      }
      if (blank) return nl + 1;
      pos = nl + 1;
    }
  }

  /** Read the lines of s from `pos` on; the stanza being read starts at `stanzaStart` (what is left of s becomes `rest`). */
  private scanText(s: string, stanzaStart: number, pos: number, final: boolean): void {
    const max = this.limits.maxStanzaBytes;
    let stanzaLine = this.restLine;
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
        if (pos > stanzaStart) this.endStanza(s, stanzaStart, pos, stanzaLine);
        stanzaStart = nl + 1;
        stanzaLine = line + 1;
      } else {
        if (pos - stanzaStart > max) throw new CodedError(FeedErrorCode.BAD_INDEX, FeedText.stanzaTooLarge(stanzaLine, max));
        if (this.fault === null) this.line(s, pos, nl, line, stanzaLine);
      }
      pos = nl + 1;
      line++;
    }
    if (final) {
      if (stanzaStart < n) this.endStanza(s, stanzaStart, n, stanzaLine);
      this.rest = '';
      return;
    }
    if (n - stanzaStart > max) throw new CodedError(FeedErrorCode.BAD_INDEX, FeedText.stanzaTooLarge(stanzaLine, max));
    this.rest = stanzaStart === 0 ? s : s.slice(stanzaStart);
    if (stanzaStart !== 0) {
      // The stanza read so far moves to the start of `rest`.
      this.valueStart -= stanzaStart;
      this.valueEnd -= stanzaStart;
      for (let f = 0; f < FIELD_COUNT; f++) {
        if (this.vStart[f] >= 0) {
          this.vStart[f] -= stanzaStart;
          this.vEnd[f] -= stanzaStart;
        }
      }
    }
    this.scan = pos - stanzaStart;
    this.restLine = stanzaLine;
    this.scanLine = line;
  }

  /** One non-blank line s[pos, nl) of a stanza: a field's first line or a continuation line. */
  private line(s: string, pos: number, nl: number, line: number, stanzaLine: number): void {
    const c = s.charCodeAt(pos);
    let valueStart: number;
    if (c === 32 || c === 9) {
      if (this.key === F_NONE) {
        this.fault = new CodedError(FeedErrorCode.BAD_INDEX, FeedText.continuationFirst(line));
        return;
      }
      this.multiline = true;
      valueStart = this.valueStart;
    } else {
      this.closeField(s);
      const colon = s.indexOf(':', pos);
      if (colon <= pos || colon >= nl) {
        this.fault = new CodedError(FeedErrorCode.BAD_INDEX, FeedText.badFieldLine(line));
        return;
      }
      if (++this.fieldCount > this.limits.maxFieldsPerStanza) {
        this.fault = new CodedError(FeedErrorCode.BAD_INDEX, FeedText.tooManyFields(stanzaLine, this.limits.maxFieldsPerStanza));
        return;
      }
      this.key = fieldOf(s.slice(pos, colon));
      valueStart = colon + 1;
      while (valueStart < nl && (s.charCodeAt(valueStart) === 32 || s.charCodeAt(valueStart) === 9)) valueStart++;
      this.valueStart = valueStart;
      this.multiline = false;
    }
    // Trailing spaces and CR of the line are not part of the value.
    let valueEnd = nl;
    while (valueEnd > valueStart && (s.charCodeAt(valueEnd - 1) === 13 || s.charCodeAt(valueEnd - 1) === 32 || s.charCodeAt(valueEnd - 1) === 9)) valueEnd--;
    this.valueEnd = valueEnd;
  }

  /** The field being read is complete: remember where its value is (or the value, when it ran over lines). */
  private closeField(s: string): void {
    const f = this.key;
    if (f < 0) return;
    if (this.multiline) {
      this.vStart[f] = -2;
      this.folded[f] = unfold(f, s.slice(this.valueStart, this.valueEnd));
    } else {
      this.vStart[f] = this.valueStart;
      this.vEnd[f] = this.valueEnd;
    }
  }

  /** The stanza s[start, end) is complete (it ends with "\n" or at the end of the text); its first line is `firstLine`. */
  private endStanza(s: string, start: number, end: number, firstLine: number): void {
    if (end - start > this.limits.maxStanzaBytes) throw new CodedError(FeedErrorCode.BAD_INDEX, FeedText.stanzaTooLarge(firstLine, this.limits.maxStanzaBytes));
    if (this.fault) throw this.fault;
    this.closeField(s);
    this.finishStanza(s, firstLine);
    this.vStart.fill(-1);
    this.folded.fill(undefined);
    this.key = F_NONE;
    this.multiline = false;
    this.fieldCount = 0;
  }

  /** A field's value as a string, or undefined when the stanza has none. */
  private value(s: string, f: number): string | undefined {
    const a = this.vStart[f];
    return a === -1 ? undefined : a === -2 ? this.folded[f] : s.slice(a, this.vEnd[f]);
  }

  private reject(line: number, why: string): void {
    this.result.rejectedCount++;
    if (this.result.rejections.length < MAX_KEPT_REJECTIONS) this.result.rejections.push(FeedText.stanzaRejected(line, why));
  }

  /** A number field: undefined when absent, NaN when not 1 to 15 digits. */
  private number(s: string, f: number): number | undefined {
    const a = this.vStart[f];
    if (a === -1) return undefined;
    if (a === -2) {
      const v = this.folded[f]!;
      return DIGITS_RE.test(v) ? Number(v) : NaN;
    }
    return digitsAt(s, a, this.vEnd[f]);
  }

  /** A digest field: undefined when absent, null when not `len` hex digits, else in lower case. */
  private digest(s: string, f: number, len: number): string | undefined | null {
    const a = this.vStart[f];
    if (a === -1) return undefined;
    return hexDigest(a === -2 ? this.folded[f]! : s.slice(a, this.vEnd[f]), len);
  }

  private finishStanza(s: string, line: number): void {
    const name = this.value(s, F_PACKAGE);
    if (name === undefined) return this.reject(line, FeedText.missingField('Package'));
    if (!NAME_RE.test(name)) return this.reject(line, FeedText.badFieldValue('Package', name));
    const version = this.value(s, F_VERSION);
    if (version === undefined) return this.reject(line, FeedText.missingField('Version'));
    if (!VERSION_RE.test(version)) return this.reject(line, FeedText.badFieldValue('Version', version));
    const filename = this.value(s, F_FILENAME);
    if (filename === undefined) return this.reject(line, FeedText.missingField('Filename'));
    let url: string;
    try {
      url = resolveFilename(this.feedUrl, filename, this.baseHref);
    } catch (e) {
      return this.reject(line, (e as CodedError).text);
    }
    const p: IndexPackage = { name, version, filename, url };
    const size = this.number(s, F_SIZE);
    if (size !== undefined && Number.isNaN(size)) return this.reject(line, FeedText.badFieldValue('Size', this.value(s, F_SIZE)!));
    if (size !== undefined) p.size = size;
    const isize = this.number(s, F_INSTALLED_SIZE);
    if (isize !== undefined && Number.isNaN(isize)) return this.reject(line, FeedText.badFieldValue('Installed-Size', this.value(s, F_INSTALLED_SIZE)!));
    if (isize !== undefined) p.installedSize = isize;
    const md5 = this.digest(s, F_MD5, 32);
    if (md5 === null) return this.reject(line, FeedText.badFieldValue('MD5Sum', this.value(s, F_MD5)!));
    if (md5 !== undefined) p.md5 = md5;
    const sha256 = this.digest(s, F_SHA256, 64);
    if (sha256 === null) return this.reject(line, FeedText.badFieldValue('SHA256sum', this.value(s, F_SHA256)!));
    if (sha256 !== undefined) p.sha256 = sha256;
    // Empty values are left out, as absent ones (Description kept even when empty).
    const v = this.vStart;
    if (v[F_DEPENDS] !== -1) { const x = this.value(s, F_DEPENDS); if (x) p.depends = x; }
    if (v[F_PRE_DEPENDS] !== -1) { const x = this.value(s, F_PRE_DEPENDS); if (x) p.preDepends = x; }
    if (v[F_RECOMMENDS] !== -1) { const x = this.value(s, F_RECOMMENDS); if (x) p.recommends = x; }
    if (v[F_SUGGESTS] !== -1) { const x = this.value(s, F_SUGGESTS); if (x) p.suggests = x; }
    if (v[F_PROVIDES] !== -1) { const x = this.value(s, F_PROVIDES); if (x) p.provides = x; }
    if (v[F_REPLACES] !== -1) { const x = this.value(s, F_REPLACES); if (x) p.replaces = x; }
    if (v[F_CONFLICTS] !== -1) { const x = this.value(s, F_CONFLICTS); if (x) p.conflicts = x; }
    if (v[F_SECTION] !== -1) { const x = this.value(s, F_SECTION); if (x) p.section = x; }
    if (v[F_ARCHITECTURE] !== -1) { const x = this.value(s, F_ARCHITECTURE); if (x) p.architecture = x; }
    if (v[F_MAINTAINER] !== -1) { const x = this.value(s, F_MAINTAINER); if (x) p.maintainer = x; }
    if (v[F_DESCRIPTION] !== -1) p.description = this.value(s, F_DESCRIPTION);
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
