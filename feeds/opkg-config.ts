// Reads <root>/etc/opkg/*.conf the way opkg's own parser (libopkg/opkg_conf.c) reads it: feeds, dests, arches, options.
// Not a fetcher and not an opkg option engine: it reports what the files say, with opkg's warnings, and nothing more.
//
// Feed priority is our extension: `option feed_priority NAME N` (integer N, higher wins, default 0).
// Why this form: opkg reads it as an `option` line whose option name it does not know; opkg_conf_set_option()
// prints "Unrecognized option: feed_priority=NAME" and opkg goes on (opkg_conf_parse_file ignores the result),
// so the same file still works with a real opkg. A 4th token on the src line would not do: opkg takes it as a
// Debian-style subdirectory of the URL. A magic comment would work too, but a comment that changes behaviour is a
// trap for whoever edits the file; an `option` line is visible as configuration.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CodedError } from '../status-codes';
import { FeedErrorCode, FeedText } from '../status-codes/feeds';

export interface FeedSource {
  name: string;
  /** The URL as written (plus `/<extra>` for a Debian-style 4th token, as opkg builds it). */
  url: string;
  /** src/gz: the index is Packages.gz; src: Packages. */
  gz: boolean;
  /** Our extension (`option feed_priority NAME N`); 0 when not given. */
  priority: number;
  file: string;
  line: number;
}

export interface OpkgConfig {
  feeds: FeedSource[];
  dests: { name: string; path: string }[];
  /** `arch NAME [PRIORITY]`; opkg defaults a missing priority to 10. */
  arches: { name: string; priority: number }[];
  /** Every `option NAME VALUE` line, first value wins as in opkg (bool options: present = on, whatever the value). */
  options: Map<string, string>;
  /** True when `option check_signature` appears with any value (opkg's bool options ignore the value, "0" included). */
  checkSignature: boolean;
  /** opkg's own warnings and ours, each naming file and line. */
  warnings: string[];
}

export interface ConfigLimits {
  maxFiles: number;
  maxFileBytes: number;
  maxLines: number;
  maxFeeds: number;
}
export const DEFAULT_CONFIG_LIMITS: ConfigLimits = { maxFiles: 64, maxFileBytes: 256 * 1024, maxLines: 4096, maxFeeds: 256 };

// opkg's two POSIX regexes, with [[:space:]] spelled out (JS \s also matches Unicode spaces, POSIX does not).
const SP = '[ \\t\\n\\v\\f\\r]';
const NSP = '[^ \\t\\n\\v\\f\\r]';
const COMMENT_RE = new RegExp(`^${SP}*(#.*|${SP}*)$`);
const TOKEN = `("([^"]*)"|(${NSP}*))`;
const VALID_LINE_RE = new RegExp(`^${SP}*${TOKEN}${SP}*${TOKEN}${SP}*${TOKEN}(${SP}+(${NSP}+))?(${SP}+(.*))?${SP}*$`);

/** opkg's boolean options (libopkg/opkg_conf.c options[]): any value turns them on. */
const BOOL_OPTIONS = new Set([
  'autoremove', 'check_signature', 'force_checksum', 'force_defaults', 'force_maintainer', 'force_depends', 'force_overwrite',
  'force_downgrade', 'force_reinstall', 'force_space', 'force_postinstall', 'force_remove', 'force_removal_of_dependent_packages',
  'noaction', 'test', 'download_only', 'nodeps', 'no_install_recommends', 'query-all', 'volatile_cache', 'overwrite_no_owner',
  'combine', 'cache_local_files', 'check_x509_path', 'follow_location', 'ssl_dont_verify_peer', 'ftp_explicit_ssl', 'host_cache_dir',
  'prefer_arch_to_version', 'ignore_uid',
]);
/** Options opkg knows that take a value (string or int). Unknown names draw opkg's "Unrecognized option" warning. */
const VALUE_OPTIONS = new Set([
  'cache', 'lists_dir', 'lock_file', 'info_dir', 'status_file', 'tmp_dir', 'offline_root', 'overlay_root', 'proxy_passwd', 'proxy_user',
  'ftp_proxy', 'http_proxy', 'https_proxy', 'no_proxy', 'verbosity', 'signature_type', 'signature_ca_file', 'signature_ca_path',
  'connect_timeout_ms', 'transfer_timeout_ms', 'http_auth', 'ssl_engine', 'ssl_cert', 'ssl_cert_type', 'ssl_key', 'ssl_key_type',
  'ssl_key_passwd', 'ssl_ca_file', 'ssl_ca_path', 'max_free_space', 'dest',
]);

export const FEED_PRIORITY_OPTION = 'feed_priority';
const FEED_NAME_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;

/** One line split as opkg splits it, or null for a comment/blank line, or 'invalid'. */
export function splitConfigLine(line: string): { type: string; name: string; value: string; extra?: string; garbage: boolean } | null | 'invalid' {
  if (COMMENT_RE.test(line)) return null;
  const m = VALID_LINE_RE.exec(line);
  if (!m) return 'invalid';
  // Groups as opkg numbers them: 2/3 type (quoted/bare), 5/6 name, 8/9 value, 11 a 4th token, 13 anything after it.
  const type = m[2] !== undefined ? m[2] : (m[3] ?? '');
  const name = m[5] !== undefined ? m[5] : (m[6] ?? '');
  const value = m[8] !== undefined ? m[8] : (m[9] ?? '');
  const trailing = m[13] ?? '';
  let extra: string | undefined;
  if (m[11] !== undefined) extra = trailing !== '' ? `${m[11]}${m[12]}` : m[11];
  return { type, name, value, extra, garbage: trailing !== '' };
}

function checkFeedUrl(url: string): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'not an absolute URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `scheme ${u.protocol} is not supported (http and https are)`;
  if (u.username || u.password) return 'credentials in the URL are not supported';
  if (u.search || u.hash) return 'a query or fragment cannot be a feed base';
  return null;
}

/** Parse one file's text into `into` (shared across files: opkg keeps one src list for all files). */
export function parseConfigText(text: string, file: string, into: OpkgConfig, limits: ConfigLimits = DEFAULT_CONFIG_LIMITS): void {
  const lines = text.split('\n');
  if (lines.length > limits.maxLines + 1) throw new CodedError(FeedErrorCode.BAD_CONFIG, FeedText.tooManyConfigLines(file, limits.maxLines));
  const priorities: { name: string; priority: number; line: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i];
    if (i === lines.length - 1 && line === '') break;
    const shown = line.trim();
    const parts = splitConfigLine(line);
    if (parts === null) continue;
    if (parts === 'invalid') {
      into.warnings.push(FeedText.invalidLine(file, lineNo, shown));
      continue;
    }
    const { type, name, value, extra, garbage } = parts;
    if (garbage && !type.startsWith('dist')) {
      into.warnings.push(FeedText.trailingGarbage(file, lineNo, shown));
      continue;
    }
    if (type === 'option') {
      if (name === FEED_PRIORITY_OPTION) {
        const n = extra !== undefined && /^-?\d{1,4}$/.test(extra) ? Number(extra) : NaN;
        if (!value || !Number.isInteger(n) || n < -1000 || n > 1000) into.warnings.push(FeedText.badFeedPriority(file, lineNo, shown));
        else priorities.push({ name: value, priority: n, line: lineNo });
        continue;
      }
      if (!BOOL_OPTIONS.has(name) && !VALUE_OPTIONS.has(name)) {
        into.warnings.push(FeedText.unrecognizedOption(file, lineNo, name, value));
        continue;
      }
      // First seen value wins (opkg: "Duplicate option ..., using first seen value").
      if (!into.options.has(name)) into.options.set(name, value);
      if (name === 'check_signature') into.checkSignature = true;
    } else if (type === 'src' || type === 'src/gz') {
      if (into.feeds.some((f) => f.name === name)) {
        into.warnings.push(FeedText.duplicateSrc(file, lineNo, name, value));
        continue;
      }
      if (!FEED_NAME_RE.test(name)) {
        into.warnings.push(FeedText.badFeedName(file, lineNo, name));
        continue;
      }
      const why = checkFeedUrl(value);
      if (why) {
        into.warnings.push(FeedText.badFeedUrl(file, lineNo, value, why));
        continue;
      }
      if (into.feeds.length >= limits.maxFeeds) throw new CodedError(FeedErrorCode.BAD_CONFIG, `${file}:${lineNo}: more than ${limits.maxFeeds} feeds`);
      // opkg (pkg_src_update): with an extra token the index is <url>/<extra>/Packages[.gz].
      const url = extra !== undefined ? `${value.replace(/\/+$/, '')}/${extra}` : value;
      into.feeds.push({ name, url, gz: type === 'src/gz', priority: 0, file, line: lineNo });
    } else if (type === 'dest') {
      into.dests.push({ name, path: value });
    } else if (type === 'arch') {
      // opkg: a missing priority defaults to 10 (value is the empty string there only when absent).
      into.arches.push({ name, priority: value === '' ? 10 : Number.parseInt(value, 10) || 0 });
    } else if (type === 'dist' || type === 'dist/gz') {
      // opkg accepts Release-file feeds; we do not fetch them, and say so rather than drop them silently.
      into.warnings.push(FeedText.distNotSupported(file, lineNo, shown));
    } else if (type === 'lists_dir') {
      // Where opkg keeps its lists; ours are under var/cache/appinstalld/feeds. Accepted as opkg does.
    } else {
      into.warnings.push(FeedText.invalidLine(file, lineNo, shown));
    }
  }
  // Priorities may name a feed of any file read so far; those naming later files are applied by readOpkgConfig.
  for (const p of priorities) (into as OpkgConfigInternal).pendingPriorities.push({ ...p, file });
}

interface OpkgConfigInternal extends OpkgConfig {
  pendingPriorities: { name: string; priority: number; line: number; file: string }[];
}

function emptyConfig(): OpkgConfig {
  const c: OpkgConfigInternal = { feeds: [], dests: [], arches: [], options: new Map(), checkSignature: false, warnings: [], pendingPriorities: [] };
  return c;
}

/** After every file: apply `feed_priority` lines (first one per feed wins, like opkg's options). */
function finishConfig(c: OpkgConfig): OpkgConfig {
  const internal = c as OpkgConfigInternal;
  const seen = new Set<string>();
  for (const p of internal.pendingPriorities ?? []) {
    const feed = c.feeds.find((f) => f.name === p.name);
    if (!feed) {
      c.warnings.push(FeedText.priorityForUnknownFeed(p.file, p.line, p.name));
      continue;
    }
    if (seen.has(p.name)) continue;
    seen.add(p.name);
    feed.priority = p.priority;
  }
  delete (internal as Partial<OpkgConfigInternal>).pendingPriorities;
  return c;
}

/** Parse a set of files given as text (tests, and readOpkgConfig below). Files are taken in the order given. */
export function parseOpkgConfig(files: { file: string; text: string }[], limits: ConfigLimits = DEFAULT_CONFIG_LIMITS): OpkgConfig {
  const c = emptyConfig();
  for (const f of files) parseConfigText(f.text, f.file, c, limits);
  return finishConfig(c);
}

/** `<root>/etc/opkg/keys/`, where usign public keys live (named by fingerprint). */
export function keysDir(root: string): string {
  return path.join(root, 'etc/opkg/keys');
}

/** Read `<root>/etc/opkg/*.conf` in glob(3) order (sorted by name), bounded in count and size. No directory: no feeds. */
export async function readOpkgConfig(root: string, limits: ConfigLimits = DEFAULT_CONFIG_LIMITS): Promise<OpkgConfig> {
  const dir = path.join(root, 'etc/opkg');
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((n) => n.endsWith('.conf') && !n.startsWith('.'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return finishConfig(emptyConfig());
    throw new CodedError(FeedErrorCode.BAD_CONFIG, FeedText.configUnreadable(dir, (e as Error).message));
  }
  names.sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : a === b ? 0 : 1));
  if (names.length > limits.maxFiles) throw new CodedError(FeedErrorCode.BAD_CONFIG, FeedText.tooManyConfigFiles(dir, names.length, limits.maxFiles));
  const files: { file: string; text: string }[] = [];
  for (const n of names) {
    const file = path.join(dir, n);
    let fh: fs.FileHandle | undefined;
    try {
      fh = await fs.open(file, 'r');
      const st = await fh.stat();
      if (!st.isFile()) continue;
      if (st.size > limits.maxFileBytes) throw new CodedError(FeedErrorCode.BAD_CONFIG, FeedText.configTooLarge(file, st.size, limits.maxFileBytes));
      const buf = Buffer.alloc(limits.maxFileBytes + 1);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      if (bytesRead > limits.maxFileBytes) throw new CodedError(FeedErrorCode.BAD_CONFIG, FeedText.configTooLarge(file, bytesRead, limits.maxFileBytes));
      files.push({ file, text: buf.subarray(0, bytesRead).toString('utf8') });
    } catch (e) {
      if (e instanceof CodedError) throw e;
      throw new CodedError(FeedErrorCode.BAD_CONFIG, FeedText.configUnreadable(file, (e as Error).message));
    } finally {
      await fh?.close();
    }
  }
  return parseOpkgConfig(files, limits);
}
