// Debian version strings: parse and compare exactly as `dpkg --compare-versions` does, and check Debian relations.
// Not a semver library and not a package-name parser (engine/depends.ts parses Depends fields using this).
//
// The rules are dpkg's (lib/dpkg/parsehelp.c parseversion, lib/dpkg/version.c verrevcmp):
// - `[epoch:]upstream[-revision]`: the epoch is the decimal number before the first `:`, the revision is what follows
//   the last `-` (absent revision compares equal to "0"), upstream is what is between.
// - Upstream and revision compare by alternating runs: a non-digit run character by character, where `~` sorts before
//   everything (even the end of the string), letters before non-letters; then a digit run by numeric value (leading
//   zeros do not count).
// - Errors (dpkg refuses): empty, embedded spaces, empty/non-numeric/negative/too big epoch, nothing after the colon,
//   empty revision after `-`, empty upstream. Warnings (dpkg compares anyway): upstream not starting with a digit,
//   a character outside [A-Za-z0-9.+~:-] in upstream or outside [A-Za-z0-9.+~] in the revision. By default those are
//   refused too (a package's control file is untrusted input); `{ lenient: true }` accepts them as dpkg does.
import { EngineErrorCode, EngineErrorText } from '../status-codes/engine';
import { fail, ok, Result } from './result';

/** Longest version string accepted (dpkg has no limit; ours bounds untrusted input). */
export const MAX_VERSION_LENGTH = 256;
/** dpkg's epoch limit (INT_MAX). */
const MAX_EPOCH = 2147483647;

export interface DebianVersion {
  readonly epoch: number;
  readonly upstream: string;
  /** "" when the version has no `-revision`. */
  readonly revision: string;
}

export interface ParseOptions {
  /** Accept what dpkg only warns about (not starting with a digit, unusual characters), as `dpkg --compare-versions` does. */
  readonly lenient?: boolean;
}

const isDigit = (c: number) => c >= 48 && c <= 57;
const isAlpha = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const UPSTREAM_EXTRA = new Set(['.', '-', '+', '~', ':']);
const REVISION_EXTRA = new Set(['.', '+', '~']);

function bad(input: string, why: string): Result<DebianVersion> {
  return fail(EngineErrorCode.BAD_VERSION, EngineErrorText.badVersion(input, why));
}

/** Parses a version string; the error text is dpkg's ("version 'x' has bad syntax: …"). */
export function parseVersion(input: unknown, options: ParseOptions = {}): Result<DebianVersion> {
  if (typeof input !== 'string') return fail(EngineErrorCode.BAD_VERSION, EngineErrorText.fieldType('version', 'a string'));
  if (input.length > MAX_VERSION_LENGTH) return fail(EngineErrorCode.BAD_VERSION, EngineErrorText.versionTooLong(MAX_VERSION_LENGTH));
  // dpkg skips leading and trailing white space (C isspace), then refuses any left inside.
  const s = input.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '');
  if (s === '') return bad(input, EngineErrorText.VERSION_EMPTY);
  if (/[ \t\n\v\f\r]/.test(s)) return bad(input, EngineErrorText.VERSION_EMBEDDED_SPACES);

  let epoch = 0;
  let rest = s;
  const colon = s.indexOf(':');
  if (colon >= 0) {
    // strtol: an optional sign, then digits; what it cannot read at all is "empty", a stop before the colon "not number".
    const m = /^([+-]?)(\d*)/.exec(s)!;
    if (m[2] === '') return bad(input, EngineErrorText.EPOCH_EMPTY);
    if (m[0].length !== colon) return bad(input, EngineErrorText.EPOCH_NOT_NUMBER);
    const digits = m[2].replace(/^0+(?=\d)/, '');
    if (m[1] === '-' && /[1-9]/.test(digits)) return bad(input, EngineErrorText.EPOCH_NEGATIVE);
    if (digits.length > 10 || Number(digits) > MAX_EPOCH) return bad(input, EngineErrorText.EPOCH_TOO_BIG);
    epoch = Number(digits);
    rest = s.slice(colon + 1);
    if (rest === '') return bad(input, EngineErrorText.NOTHING_AFTER_COLON);
  }
  let upstream = rest;
  let revision = '';
  const hyphen = rest.lastIndexOf('-');
  if (hyphen >= 0) {
    upstream = rest.slice(0, hyphen);
    revision = rest.slice(hyphen + 1);
    if (revision === '') return bad(input, EngineErrorText.REVISION_EMPTY);
  }
  if (upstream === '') return bad(input, EngineErrorText.UPSTREAM_EMPTY);
  if (!options.lenient) {
    if (!isDigit(upstream.charCodeAt(0))) return bad(input, EngineErrorText.UPSTREAM_NOT_DIGIT);
    for (const ch of upstream) {
      const c = ch.charCodeAt(0);
      if (!isDigit(c) && !isAlpha(c) && !UPSTREAM_EXTRA.has(ch)) return bad(input, EngineErrorText.UPSTREAM_BAD_CHAR);
    }
    for (const ch of revision) {
      const c = ch.charCodeAt(0);
      if (!isDigit(c) && !isAlpha(c) && !REVISION_EXTRA.has(ch)) return bad(input, EngineErrorText.REVISION_BAD_CHAR);
    }
  }
  return ok({ epoch, upstream, revision });
}

/**
 * dpkg's order(): digits 0 (never reached in a non-digit run), letters their code, `~` -1, end 0, others code + 256.
 * Bytes of 128 and above (only in lenient mode: non-ASCII) are a signed `char` in dpkg on x86, so they get their byte
 * value (-n + 256); on platforms where `char` is unsigned dpkg gives them byte + 256 instead. Strict parsing refuses them.
 */
function order(c: number): number {
  if (isDigit(c)) return 0;
  if (isAlpha(c)) return c;
  if (c === 126) return -1;
  if (c === 0) return 0;
  if (c >= 128) return c;
  return c + 256;
}

/** dpkg's verrevcmp on byte strings (UTF-8 bytes, as dpkg sees them): <0, 0 or >0. */
export function compareFragment(aStr: string, bStr: string): number {
  const a = Buffer.from(aStr, 'utf8');
  const b = Buffer.from(bStr, 'utf8');
  const at = (buf: Buffer, i: number) => (i < buf.length ? buf[i] : 0);
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const ac = order(at(a, i));
      const bc = order(at(b, j));
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (at(a, i) === 48) i++;
    while (at(b, j) === 48) j++;
    while (isDigit(at(a, i)) && isDigit(at(b, j))) {
      if (!firstDiff) firstDiff = a[i] - b[j];
      i++;
      j++;
    }
    if (isDigit(at(a, i))) return 1;
    if (isDigit(at(b, j))) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

/** Compares two parsed versions: -1, 0 or 1. */
export function compareParsed(a: DebianVersion, b: DebianVersion): -1 | 0 | 1 {
  const r = a.epoch !== b.epoch ? a.epoch - b.epoch : compareFragment(a.upstream, b.upstream) || compareFragment(a.revision, b.revision);
  return r < 0 ? -1 : r > 0 ? 1 : 0;
}

/** Parses and compares two version strings: -1, 0 or 1, or the parse error of the first bad one. */
export function compareVersions(a: string, b: string, options: ParseOptions = {}): Result<-1 | 0 | 1> {
  const pa = parseVersion(a, options);
  if (!pa.ok) return pa;
  const pb = parseVersion(b, options);
  if (!pb.ok) return pb;
  return ok(compareParsed(pa.value, pb.value));
}

/** Debian relation operators; `<` and `>` are the obsolete spellings of `<=` and `>=` (as dpkg reads them). */
export type Relation = '<<' | '<=' | '=' | '>=' | '>>';
const RELATIONS: Record<string, Relation> = { '<<': '<<', '<=': '<=', '=': '=', '>=': '>=', '>>': '>>', '<': '<=', '>': '>=' };

/** The relation an operator means (obsolete spellings mapped), or an error naming it. */
export function parseRelation(op: string): Result<Relation> {
  const r = Object.prototype.hasOwnProperty.call(RELATIONS, op) ? RELATIONS[op] : undefined;
  return r ? ok(r) : fail(EngineErrorCode.WRONG_PARAMS, EngineErrorText.badRelation(op.slice(0, 8)));
}

/** Whether a comparison result (a vs b) satisfies `a REL b`. */
export function relationHolds(cmp: number, rel: Relation): boolean {
  switch (rel) {
    case '<<': return cmp < 0;
    case '<=': return cmp <= 0;
    case '=': return cmp === 0;
    case '>=': return cmp >= 0;
    case '>>': return cmp > 0;
  }
}

/** `a OP b` as `dpkg --compare-versions a OP b` answers it (for the relation operators), or the error of a bad input. */
export function satisfies(a: string, op: string, b: string, options: ParseOptions = {}): Result<boolean> {
  const rel = parseRelation(op);
  if (!rel.ok) return rel;
  const c = compareVersions(a, b, options);
  if (!c.ok) return c;
  return ok(relationHolds(c.value, rel.value));
}

/** The canonical text of a parsed version (epoch 0 omitted, as dpkg prints it). */
export function formatVersion(v: DebianVersion): string {
  return `${v.epoch ? `${v.epoch}:` : ''}${v.upstream}${v.revision ? `-${v.revision}` : ''}`;
}
