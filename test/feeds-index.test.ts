// feeds/packages-index.ts: stanzas as opkg-make-index and OpenWrt write them, field spellings, continuation lines,
// any chunking, bounds, hostile Filenames, and speed beside `gzip -dc` on a 20,000-package Packages.gz.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { CodedError } from '../status-codes';
import { PackagesParser, parsePackages, resolveFilename } from '../feeds/packages-index';
import { formatIndex, generatePackages } from './helpers/opkg-feed';

const FEED = 'http://feeds.example.org/webos/armv7a';

let work: string;
beforeAll(() => (work = fs.mkdtempSync('/tmp/ai-feedidx-')));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const OPKG_MAKE_INDEX = `Package: com.example.player
Version: 2:1.4.0-r3
Depends: libc (>= 2.31), libstdc++6 | libcxx, com.example.codec
Section: multimedia
Architecture: armv7a
Maintainer: Example <dev@example.com>
MD5Sum: 0123456789ABCDEF0123456789abcdef
Size: 123456
InstalledSize: 400000
Filename: com.example.player_1.4.0-r3_armv7a.ipk
Source: player.bb
Description: A media player for the TV.
 It plays streams and files; this continuation line is long enough to wrap
 .
 and has a paragraph break.

Package: com.example.codec
Version: 0.9
Architecture: all
MD5sum: ffffffffffffffffffffffffffffffff
SHA256sum: ${'ab'.repeat(32)}
Size: 10
Installed-Size: 20
Filename: ./sub/com.example.codec_0.9_all.ipk
Description: codec
`;

test('opkg-make-index stanzas: every field we use, both MD5 spellings, both Installed-Size spellings, continuations', () => {
  const r = parsePackages(OPKG_MAKE_INDEX, FEED);
  expect(r.rejectedCount).toBe(0);
  expect(r.packages).toEqual([
    {
      name: 'com.example.player',
      version: '2:1.4.0-r3',
      filename: 'com.example.player_1.4.0-r3_armv7a.ipk',
      url: `${FEED}/com.example.player_1.4.0-r3_armv7a.ipk`,
      size: 123456,
      installedSize: 400000,
      md5: '0123456789abcdef0123456789abcdef',
      depends: 'libc (>= 2.31), libstdc++6 | libcxx, com.example.codec',
      section: 'multimedia',
      architecture: 'armv7a',
      maintainer: 'Example <dev@example.com>',
      description: 'A media player for the TV.\nIt plays streams and files; this continuation line is long enough to wrap\n.\nand has a paragraph break.',
    },
    {
      name: 'com.example.codec',
      version: '0.9',
      filename: './sub/com.example.codec_0.9_all.ipk',
      url: `${FEED}/sub/com.example.codec_0.9_all.ipk`,
      size: 10,
      installedSize: 20,
      md5: 'ffffffffffffffffffffffffffffffff',
      sha256: 'ab'.repeat(32),
      architecture: 'all',
      description: 'codec',
    },
  ]);
});

test('generated opkg-make-index and OpenWrt indexes round-trip, CRLF and several blank lines too', () => {
  const gen = generatePackages(50);
  for (const style of ['opkg-make-index', 'openwrt'] as const) {
    const r = parsePackages(formatIndex(gen, style), FEED + '/');
    expect(r.packages.map((p) => [p.name, p.version, p.size, p.installedSize, p.md5, p.sha256, p.url])).toEqual(
      gen.map((g) => [g.name, g.version, g.size, g.installedSize, g.md5, g.sha256, `${FEED}/${g.filename}`]),
    );
    expect(r.packages[0].depends).toBe(gen[0].depends);
    expect(r.packages[3].description!.replace(/\n/g, ' ')).toBe(gen[3].description);
  }
  const crlf = formatIndex(gen.slice(0, 3)).replace(/\n/g, '\r\n').replace(/\r\n\r\n/g, '\r\n\r\n\r\n  \r\n');
  expect(parsePackages(crlf, FEED).packages.map((p) => p.name)).toEqual(gen.slice(0, 3).map((g) => g.name));
});

test('any chunking gives the same result (split inside lines and multi-byte characters)', () => {
  const text = Buffer.from(formatIndex(generatePackages(30)).replace(/Package pkg-00007/, 'Paquet é ü 日本 pkg-00007'));
  const whole = parsePackages(text, FEED);
  for (const step of [1, 7, 333]) {
    const p = new PackagesParser(FEED);
    for (let i = 0; i < text.length; i += step) p.push(text.subarray(i, i + step));
    expect(p.end()).toEqual(whole);
  }
  expect(whole.packages[7].description).toMatch(/^Paquet é ü 日本/);
});

test('any chunking keeps folded fields, CRLF lines, tabs and upper-case digests as one push does', () => {
  const md5 = 'D41D8CD98F00B204E9800998ECF8427E';
  const text = Buffer.from(
    [
      `Package: a\r\nVersion: 1\r\nFilename: a.ipk\r\nMD5Sum: ${md5}\r\nSize:\t12 \r\nDescription: one\r\n two\r\n .\r\n\tthree`,
      `Package: b\nVersion: 2\nFilename: ./p/b.ipk\nDepends: x (>= 1),\n  y\nInstalledSize: 7\nSHA256sum: ${'AB'.repeat(32)}\nDescription:\n only continued`,
      'Package: c\nVersion: 3\nFilename: c.ipk\nSize: 1x\nSection:\nDescription:',
    ].join('\n\n') + '\n',
  );
  const whole = parsePackages(text, FEED);
  expect(whole.packages).toEqual([
    { name: 'a', version: '1', filename: 'a.ipk', url: `${FEED}/a.ipk`, md5: md5.toLowerCase(), size: 12, description: 'one\ntwo\n.\nthree' },
    { name: 'b', version: '2', filename: './p/b.ipk', url: `${FEED}/p/b.ipk`, depends: 'x (>= 1), y', installedSize: 7, sha256: 'ab'.repeat(32), description: '\nonly continued' },
  ]);
  expect(whole.rejections).toEqual(['Packages stanza at line 21 refused: bad Size "1x"']);
  for (const step of [1, 2, 5, 64]) {
    const p = new PackagesParser(FEED);
    for (let i = 0; i < text.length; i += step) p.push(text.subarray(i, i + step));
    expect(p.end()).toEqual(whole);
  }
});

test('stanzas with bad or missing values are refused alone and counted, with their line', () => {
  const bad = [
    'Package: ok\nVersion: 1\nFilename: ok.ipk',
    'Version: 1\nFilename: a.ipk',
    'Package: nover\nFilename: a.ipk',
    'Package: nofile\nVersion: 1',
    'Package: badsize\nVersion: 1\nFilename: a.ipk\nSize: 12k',
    'Package: badmd5\nVersion: 1\nFilename: a.ipk\nMD5Sum: xyz',
    'Package: bad name\nVersion: 1\nFilename: a.ipk',
    'Package: badver\nVersion: 1 2\nFilename: a.ipk',
  ].join('\n\n');
  const r = parsePackages(bad, FEED);
  expect(r.packages.map((p) => p.name)).toEqual(['ok']);
  expect(r.rejectedCount).toBe(7);
  expect(r.rejections).toEqual([
    'Packages stanza at line 5 refused: no Package field',
    'Packages stanza at line 8 refused: no Version field',
    'Packages stanza at line 11 refused: no Filename field',
    'Packages stanza at line 14 refused: bad Size "12k"',
    'Packages stanza at line 19 refused: bad MD5Sum "xyz"',
    'Packages stanza at line 24 refused: bad Package "bad name"',
    'Packages stanza at line 28 refused: bad Version "1 2"',
  ]);
});

test('hostile Filenames are refused: absolute, .., encoded dots, query, fragment, scheme, backslash, host tricks', () => {
  const hostile = ['/etc/passwd', '../x.ipk', 'a/../../x.ipk', 'a/./x.ipk', '%2e%2e/x.ipk', 'x.ipk?y=1', 'x.ipk#frag', 'http://evil/x.ipk', '//evil/x.ipk',
    'a\\..\\x.ipk', 'a b.ipk', 'a//b.ipk', '', 'x'.repeat(1025), '.', '..', 'a/..'];
  for (const f of hostile) {
    expect(() => resolveFilename(FEED, f)).toThrow(CodedError);
    const r = parsePackages(`Package: p\nVersion: 1\nFilename: ${f}\n`, FEED);
    expect(r.packages).toEqual([]);
  }
  expect(parsePackages('Package: p\nVersion: 1\nFilename: ../../../etc/shadow\n', FEED).rejections[0]).toBe(
    'Packages stanza at line 1 refused: Filename "../../../etc/shadow" refused: empty, "." or ".." path segment');
  expect(resolveFilename(FEED, 'pool/main/p_1.0+git~1_all.ipk')).toBe(`${FEED}/pool/main/p_1.0+git~1_all.ipk`);
  expect(resolveFilename(FEED + '/', './a.ipk')).toBe(`${FEED}/a.ipk`);
});

test('structural faults and limits refuse the whole index with the line', () => {
  const limits = { maxIndexBytes: 10_000, maxStanzaBytes: 300, maxFieldsPerStanza: 5, maxPackages: 3 };
  const err = (text: string) => {
    try {
      parsePackages(text, FEED, limits);
    } catch (e) {
      return (e as CodedError).text;
    }
    return 'parsed';
  };
  expect(err('Package: a\nnot a field\n')).toBe('Packages line 2: neither "Field: value" nor a continuation line');
  expect(err(' continuation first\n')).toBe('Packages line 1: continuation line before any field');
  expect(err(`Package: a\nDescription: ${'x'.repeat(400)}\n`)).toBe('Packages line 1: stanza larger than the 300-byte limit');
  expect(err(`Package: a\nDescription: ${'x'.repeat(400)}`)).toBe('Packages line 1: stanza larger than the 300-byte limit');
  expect(err('A: 1\nB: 2\nC: 3\nD: 4\nE: 5\nF: 6\n')).toBe('Packages line 1: stanza has more than 5 fields');
  // A stanza both faulty and over the limit says the limit; the first fault of a stanza is the one said.
  expect(err(`Package: a\nnot a field\nDescription: ${'x'.repeat(400)}\n`)).toBe('Packages line 1: stanza larger than the 300-byte limit');
  expect(err('Package: a\nnot a field\n continued\nalso not\n')).toBe('Packages line 2: neither "Field: value" nor a continuation line');
  expect(err('Package: a\nVersion: 1\nFilename: a.ipk\n\n'.repeat(4))).toBe('Packages: more than 3 packages');
  expect(err('#'.repeat(10_001))).toBe('Packages: larger than the 10000-byte limit');
});

// The speed goal (≤ 3× gzip -dc) is a figure of `npm run bench feeds`, not a timed test; here only that the bench's
// parse mode reads a 20,000-package index whole.
test('a 20,000-package Packages.gz parses whole through the bench entry (dist/ build)', () => {
  const file = path.join(work, 'Packages.gz');
  fs.writeFileSync(file, zlib.gzipSync(formatIndex(generatePackages(20_000)), { level: 9 }));
  const script = path.join(__dirname, '../dist/bench/feeds-bench.js');
  const r = JSON.parse(execFileSync(process.execPath, [script, '--parse', file], { encoding: 'utf8' })) as { packages: number };
  expect(r.packages).toBe(20_000);
});
