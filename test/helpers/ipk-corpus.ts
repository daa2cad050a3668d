// Generator of hostile and broken ipks (no committed binaries): a raw tar header writer that can emit what
// tar's own packer won't (links, devices, setuid, `..`, huge sizes), an ar assembler, and the corpus itself.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { arHeader } from '../../ipk/ar';

export const CORPUS_PKG = 'com.evil.app';
/** Limits the corpus is meant to be unpacked under: lower than the defaults so the too-many-entries case stays quick. */
export const CORPUS_LIMITS = { maxEntries: 2000 } as const;

export type TarType = 'file' | 'dir' | 'symlink' | 'link' | 'char' | 'block' | 'fifo' | 'pax';
const TYPEFLAG: Record<TarType, string> = { file: '0', link: '1', symlink: '2', char: '3', block: '4', dir: '5', fifo: '6', pax: 'x' };

export interface TarEntry {
  path: string;
  type?: TarType;
  mode?: number;
  body?: Buffer | string;
  /** Size written in the header when it must differ from the body (a lie). */
  declaredSize?: number;
  linkpath?: string;
  /** Extra pax records (e.g. a path that differs from the ustar name). */
  pax?: Record<string, string>;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

/** One raw 512-byte ustar header (no validation: it writes whatever it is given). */
export function tarHeader(e: { name: string; type: TarType; mode: number; size: number; linkpath?: string }): Buffer {
  const h = Buffer.alloc(512, 0);
  h.write(e.name.slice(0, 100), 0, 'utf8');
  h.write(octal(e.mode & 0o7777, 8), 100, 'latin1');
  // uid/gid 4242: an owner the extractor must never apply.
  h.write(octal(4242, 8), 108, 'latin1');
  h.write(octal(4242, 8), 116, 'latin1');
  h.write(octal(e.size, 12), 124, 'latin1');
  h.write(octal(1700000000, 12), 136, 'latin1');
  h.write('        ', 148, 'latin1');
  h.write(TYPEFLAG[e.type], 156, 'latin1');
  if (e.linkpath) h.write(e.linkpath.slice(0, 100), 157, 'utf8');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  h.write('root', 265, 'latin1');
  h.write('root', 297, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return h;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return `${len}${body}`;
}

function padBlock(b: Buffer): Buffer {
  const rem = b.length % 512;
  return rem ? Buffer.concat([b, Buffer.alloc(512 - rem)]) : b;
}

/** A tar stream from entries (pax headers added for long paths/link targets), ending with two zero blocks unless `noEnd`. */
export function buildTar(entries: TarEntry[], noEnd = false): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? 'file';
    const body = e.body === undefined ? Buffer.alloc(0) : Buffer.from(e.body);
    const pax: Record<string, string> = { ...e.pax };
    if (Buffer.byteLength(e.path) > 100) pax.path = e.path;
    if (e.linkpath && Buffer.byteLength(e.linkpath) > 100) pax.linkpath = e.linkpath;
    if (Object.keys(pax).length) {
      const paxBody = Buffer.from(Object.entries(pax).map(([k, v]) => paxRecord(k, v)).join(''));
      parts.push(tarHeader({ name: 'PaxHeader/entry', type: 'pax', mode: 0o644, size: paxBody.length }), padBlock(paxBody));
    }
    const mode = e.mode ?? (type === 'dir' ? 0o755 : 0o644);
    parts.push(tarHeader({ name: e.path, type, mode, size: e.declaredSize ?? (type === 'file' ? body.length : 0), linkpath: e.linkpath }));
    if (type === 'file' && body.length) parts.push(padBlock(body));
  }
  if (!noEnd) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export const gz = (b: Buffer): Buffer => zlib.gzipSync(b);

/** An ar archive of the given members, as ares-package writes it. */
export function buildAr(members: Array<[string, Buffer]>, magic = '!<arch>\n'): Buffer {
  const parts: Buffer[] = [Buffer.from(magic, 'latin1')];
  for (const [name, data] of members) {
    parts.push(arHeader(name, data.length, 1700000000), data);
    if (data.length % 2) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

export function controlText(pkg = CORPUS_PKG, extra: Record<string, string> = {}, omit: string[] = []): string {
  const f: Record<string, string> = { Package: pkg, Version: '1.0.0', Section: 'misc', Priority: 'optional', Architecture: 'all', 'Installed-Size': '100', Maintainer: 'N/A <nobody@example.com>', Description: 'This is a webOS application.', ...extra };
  return Object.entries(f).filter(([k]) => !omit.includes(k)).map(([k, v]) => `${k}: ${v}\n`).join('');
}

export function controlTgz(text: string, extra: Array<[string, Buffer | string]> = []): Buffer {
  return gz(buildTar([{ path: 'control', body: text }, ...extra.map(([n, b]) => ({ path: n, body: b }))]));
}

export function appInfo(id = CORPUS_PKG, over: Record<string, unknown> = {}): string {
  return JSON.stringify({ id, version: '1.0.0', type: 'web', main: 'index.html', title: 'Evil', icon: 'icon.png', ...over });
}

/** The benign tree every hostile case starts from (prefix `./` like dpkg-deb, or none like ares-package). */
export function goodEntries(pkg = CORPUS_PKG, prefix = ''): TarEntry[] {
  const a = `${prefix}usr/palm/applications/${pkg}`;
  return [
    ...(prefix ? [{ path: './', type: 'dir' as const }] : []),
    { path: `${prefix}usr/`, type: 'dir' },
    { path: `${prefix}usr/palm/`, type: 'dir' },
    { path: `${prefix}usr/palm/applications/`, type: 'dir' },
    { path: `${a}/`, type: 'dir' },
    { path: `${a}/appinfo.json`, body: appInfo(pkg) },
    { path: `${a}/index.html`, body: '<html></html>\n' },
    { path: `${a}/icon.png`, body: 'PNG' },
  ];
}

export function ipkOf(data: Buffer, control = controlTgz(controlText())): Buffer {
  return buildAr([
    ['debian-binary', Buffer.from('2.0\n')],
    ['control.tar.gz', control],
    ['data.tar.gz', data],
  ]);
}

export interface CorpusCase {
  name: string;
  file: string;
  /** The specific reason the refusal must give (matched against CodedError.detail / the reported reason). */
  expectDetail: RegExp;
  /** Where the refusal happens: openIpk (ar/control) or extractData (data tree). */
  stage: 'open' | 'extract';
}

/** Write the hostile corpus into `dir` and describe it. Every case must be refused with its own reason. */
export function writeCorpus(dir: string): CorpusCase[] {
  fs.mkdirSync(dir, { recursive: true });
  const A = `usr/palm/applications/${CORPUS_PKG}`;
  const good = goodEntries();
  const cases: CorpusCase[] = [];
  const add = (name: string, bytes: Buffer, expectDetail: RegExp, stage: CorpusCase['stage']) => {
    const file = path.join(dir, `${name}.ipk`);
    fs.writeFileSync(file, bytes);
    cases.push({ name, file, expectDetail, stage });
  };
  const withData = (name: string, extra: TarEntry[], expect: RegExp) => add(name, ipkOf(gz(buildTar([...good, ...extra]))), expect, 'extract');

  withData('absolute-path', [{ path: '/etc/evil-ipk', body: 'x' }], /entry "\/etc\/evil-ipk" is an absolute path/);
  withData('dotdot', [{ path: `${A}/../../../../../evil-ipk`, body: 'x' }], /entry ".*\/\.\.\/evil-ipk" leaves the package tree/);
  withData('pax-dotdot', [{ path: `${A}/innocent`, body: 'x', pax: { path: '../../evil-ipk' } }], /entry "\.\.\/\.\.\/evil-ipk" leaves the package tree/);
  withData('symlink-absolute', [{ path: `${A}/abs-link`, type: 'symlink', linkpath: '/etc' }], /entry ".*\/abs-link" is a symbolic link/);
  withData('symlink-relative', [{ path: `${A}/rel-link`, type: 'symlink', linkpath: '../../../../../..' }], /entry ".*\/rel-link" is a symbolic link/);
  withData('write-through-symlink', [{ path: `${A}/through`, type: 'symlink', linkpath: '/tmp' }, { path: `${A}/through/evil-ipk`, body: 'x' }], /entry ".*\/through" is a symbolic link/);
  withData('hardlink', [{ path: `${A}/hard`, type: 'link', linkpath: '/etc/passwd' }], /entry ".*\/hard" is a hard link/);
  withData('char-device', [{ path: `${A}/null`, type: 'char' }], /entry ".*\/null" is a character device/);
  withData('block-device', [{ path: `${A}/sda`, type: 'block' }], /entry ".*\/sda" is a block device/);
  withData('fifo', [{ path: `${A}/pipe`, type: 'fifo' }], /entry ".*\/pipe" is a FIFO/);
  withData('setuid', [{ path: `${A}/suid`, body: '#!/bin/sh\n', mode: 0o4755 }], /setuid bit on ".*\/suid"/);
  withData('setgid', [{ path: `${A}/sgid-dir/`, type: 'dir', mode: 0o2755 }], /setgid bit on ".*\/sgid-dir"/);
  withData('sticky', [{ path: `${A}/tmpdir/`, type: 'dir', mode: 0o1777 }], /sticky bit on ".*\/tmpdir"/);
  withData('deep-nesting', [{ path: `${A}/${'d/'.repeat(2000)}f`, body: 'x' }], /nesting deeper than 64/);
  withData('outside-tree', [{ path: 'etc/passwd', body: 'root::0:0::/:/bin/sh\n' }], /entry "etc\/passwd" is outside usr\/palm/);
  withData('duplicate-entry', [{ path: `${A}/index.html`, body: 'again' }], /duplicate entry ".*\/index\.html"/);
  withData('file-where-dir-stands', [{ path: `${A}/a/b`, body: 'x' }, { path: `${A}/a`, body: 'x' }], /file ".*\/a" stands where a directory is/);
  withData('file-under-file', [{ path: `${A}/f`, body: 'x' }, { path: `${A}/f/g`, body: 'x' }], /entry ".*\/f\/g" is inside ".*\/f", which is a file/);
  withData('huge-declared-size', [{ path: `${A}/huge`, declaredSize: 0o77777777777 }], /entry ".*\/huge" declares 8589934591 bytes, past the/);
  withData('too-many-entries', Array.from({ length: CORPUS_LIMITS.maxEntries + 1 }, (_, i) => ({ path: `${A}/m/${i}` })), new RegExp(`more than ${CORPUS_LIMITS.maxEntries} entries`));
  // 64 MiB of zeros in one file: ~64 KiB compressed, refused long before it is written out.
  withData('decompression-bomb', [{ path: `${A}/bomb`, body: Buffer.alloc(64 * 1024 * 1024) }], /uncompressed size passes 100x ratio/);
  add('huge-installed-size', ipkOf(gz(buildTar(good)), controlTgz(controlText(CORPUS_PKG, { 'Installed-Size': '99999999999999' }))), /Installed-Size 99999999999999 passes the/, 'extract');

  const goodData = gz(buildTar(good));
  const goodIpk = ipkOf(goodData);
  add('truncated-ar', goodIpk.subarray(0, goodIpk.length - 40), /ar member "data\.tar\.gz" is truncated/, 'open');
  add('truncated-gzip', ipkOf(goodData.subarray(0, goodData.length - 30)), /truncated gzip stream/, 'extract');
  const fullTar = buildTar([...good, { path: `${A}/big.bin`, body: Buffer.alloc(8192, 7) }], true);
  add('truncated-tar', ipkOf(gz(fullTar.subarray(0, fullTar.length - 3000))), /truncated tar archive/, 'extract');
  const badSum = buildTar(good);
  badSum[0] ^= 0x01; // first header's name changes, checksum no longer matches
  add('bad-tar-checksum', ipkOf(gz(badSum)), /bad tar data|not a tar archive/, 'extract');
  add('wrong-magic', Buffer.concat([Buffer.from('!<arxh>\n'), goodIpk.subarray(8)]), /not an ar archive \(bad magic\)/, 'open');
  add('missing-control', buildAr([['debian-binary', Buffer.from('2.0\n')], ['data.tar.gz', goodData]]), /missing member "control\.tar\.gz"/, 'open');
  add('reordered-members', buildAr([['debian-binary', Buffer.from('2.0\n')], ['data.tar.gz', goodData], ['control.tar.gz', controlTgz(controlText())]]), /members out of order/, 'open');
  add('xz-members', buildAr([['debian-binary', Buffer.from('2.0\n')], ['control.tar.gz', controlTgz(controlText())], ['data.tar.xz', Buffer.from('\xfd7zXZ\0', 'latin1')]]), /xz-compressed members are not supported/, 'open');
  add('bad-debian-binary', buildAr([['debian-binary', Buffer.from('3.0\n')], ['control.tar.gz', controlTgz(controlText())], ['data.tar.gz', goodData]]), /debian-binary says "3\.0"/, 'open');
  add('data-not-gzip', ipkOf(buildTar(good)), /data\.tar\.gz is not gzip-compressed/, 'open');
  add('control-without-package', ipkOf(goodData, controlTgz(controlText(CORPUS_PKG, {}, ['Package']))), /control has no Package field/, 'open');
  add('bad-package-name', ipkOf(gz(buildTar(goodEntries('Com.Evil_App'))), controlTgz(controlText('Com.Evil_App'))), /Package "Com\.Evil_App" is not a valid package id/, 'open');
  add('missing-appinfo', ipkOf(gz(buildTar(good.filter((e) => !e.path.endsWith('appinfo.json'))))), /missing usr\/palm\/applications\/com\.evil\.app\/appinfo\.json/, 'extract');
  add('appinfo-id-mismatch', ipkOf(gz(buildTar(good.map((e) => (e.path.endsWith('appinfo.json') ? { ...e, body: appInfo('com.other.app') } : e))))), /appinfo\.json id "com\.other\.app" differs/, 'extract');
  add('appinfo-bad-type', ipkOf(gz(buildTar(good.map((e) => (e.path.endsWith('appinfo.json') ? { ...e, body: appInfo(CORPUS_PKG, { type: 'flash' }) } : e))))), /appinfo\.json: "type" is "flash", must be one of web, stub/, 'extract');
  const svc = 'com.other.service';
  withData('service-without-prefix', [
    { path: 'usr/palm/services/', type: 'dir' },
    { path: `usr/palm/services/${svc}/`, type: 'dir' },
    { path: `usr/palm/services/${svc}/services.json`, body: JSON.stringify({ id: svc, services: [{ name: svc }] }) },
  ], /service id "com\.other\.service" does not start with "com\.evil\.app\."/);
  return cases;
}

/** A valid package built from raw parts (for reader tests), with or without dpkg's `./` prefix. */
export function writeGoodIpk(file: string, prefix = ''): void {
  fs.writeFileSync(file, ipkOf(gz(buildTar(goodEntries(CORPUS_PKG, prefix)))));
}
