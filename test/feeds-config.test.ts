// feeds/opkg-config.ts: opkg's line grammar (quotes, comments, a 4th token, trailing garbage, duplicates, bool
// options), our feed_priority extension, bounds, and reading <root>/etc/opkg/*.conf in glob order.
import fs from 'node:fs';
import path from 'node:path';
import { CodedError } from '../status-codes';
import { parseOpkgConfig, readOpkgConfig, splitConfigLine } from '../feeds/opkg-config';

const parse = (text: string) => parseOpkgConfig([{ file: '/etc/opkg/a.conf', text }]);

let work: string;
beforeAll(() => (work = fs.mkdtempSync('/tmp/ai-feedcfg-')));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

test('src and src/gz lines, comments and blank lines, as opkg reads them', () => {
  const c = parse(['# OpenWrt distfeeds', '', '   ', 'src/gz base http://downloads.example.org/base', 'src local http://10.0.0.1/feed/', '\t# indented comment'].join('\n'));
  expect(c.feeds.map((f) => [f.name, f.url, f.gz, f.priority, f.line])).toEqual([
    ['base', 'http://downloads.example.org/base', true, 0, 4],
    ['local', 'http://10.0.0.1/feed/', false, 0, 5],
  ]);
  expect(c.warnings).toEqual([]);
});

test('quoted tokens, and a 4th token makes a Debian-style subdirectory', () => {
  const c = parse(' "src/gz" "my-feed" "http://h/x" main\nsrc/gz b http://h/y/ sub');
  expect(c.feeds.map((f) => [f.name, f.url])).toEqual([['my-feed', 'http://h/x/main'], ['b', 'http://h/y/sub']]);
  expect(splitConfigLine('option "http_proxy" "http://p:3128"')).toMatchObject({ type: 'option', name: 'http_proxy', value: 'http://p:3128' });
});

test('trailing garbage (a 5th token, or a trailing comment) makes opkg ignore the whole line, naming file and line', () => {
  const c = parse('src/gz a http://h/a sub more\nsrc/gz b http://h/b # comment\nsrc/gz c http://h/c   ');
  expect(c.feeds.map((f) => f.name)).toEqual(['c']);
  expect(c.warnings).toEqual([
    "/etc/opkg/a.conf:1: Ignoring config line with trailing garbage: `src/gz a http://h/a sub more'",
    "/etc/opkg/a.conf:2: Ignoring config line with trailing garbage: `src/gz b http://h/b # comment'",
  ]);
});

test('a duplicate src name is skipped as opkg skips it (first one wins, across files)', () => {
  const c = parseOpkgConfig([
    { file: '/x/1.conf', text: 'src/gz a http://h/one' },
    { file: '/x/2.conf', text: 'src a http://h/two' },
  ]);
  expect(c.feeds).toHaveLength(1);
  expect(c.feeds[0].url).toBe('http://h/one');
  expect(c.warnings).toEqual(['/x/2.conf:1: Duplicate src declaration (a http://h/two). Skipping.']);
});

test('options: bool options are on whatever their value (opkg ignores it), first value wins, unknown ones warned', () => {
  const c = parse('option check_signature 0\noption http_proxy http://a\noption http_proxy http://b\noption frobnicate 1\ndest root /\ndest ram /tmp\narch all 1\narch armv7a');
  expect(c.checkSignature).toBe(true);
  expect(c.options.get('http_proxy')).toBe('http://a');
  expect(c.warnings).toEqual(['/etc/opkg/a.conf:4: Unrecognized option: frobnicate=1']);
  expect(c.dests).toEqual([{ name: 'root', path: '/' }, { name: 'ram', path: '/tmp' }]);
  expect(c.arches).toEqual([{ name: 'all', priority: 1 }, { name: 'armv7a', priority: 10 }]);
  expect(parse('src/gz a http://h/a').checkSignature).toBe(false);
});

test('feed_priority extension: option feed_priority NAME N, in any file, for a declared feed', () => {
  const c = parseOpkgConfig([
    { file: '/x/0-prio.conf', text: 'option feed_priority b 50\noption feed_priority a -5\noption feed_priority ghost 1\noption feed_priority a 7' },
    { file: '/x/1.conf', text: 'src/gz a http://h/a\nsrc/gz b http://h/b\noption feed_priority b high\noption feed_priority b 5000' },
  ]);
  expect(c.feeds.map((f) => [f.name, f.priority])).toEqual([['a', -5], ['b', 50]]);
  expect(c.warnings).toEqual([
    '/x/1.conf:3: feed_priority wants "option feed_priority NAME N" with an integer N in -1000..1000: `option feed_priority b high\'',
    '/x/1.conf:4: feed_priority wants "option feed_priority NAME N" with an integer N in -1000..1000: `option feed_priority b 5000\'',
    '/x/0-prio.conf:3: feed_priority for "ghost", which no src or src/gz line declares',
  ]);
});

test('lines opkg rejects, and feeds we refuse (unusable names, non-http URLs), are warnings naming file and line', () => {
  const c = parse('bogus a b\nsrc/gz ../etc http://h/a\nsrc/gz f file:///srv/feed\nsrc/gz g http://u:p@h/\nsrc/gz h not-a-url\nsrc/gz ok https://h/ok\ndist/gz d http://h/dists stable main\nlists_dir ext /var/lib/opkg/lists');
  expect(c.feeds.map((f) => f.name)).toEqual(['ok']);
  expect(c.warnings).toHaveLength(6);
  expect(c.warnings[5]).toBe("/etc/opkg/a.conf:7: dist feeds (Release files) are not fetched; line ignored: `dist/gz d http://h/dists stable main'");
  expect(c.warnings[0]).toBe("/etc/opkg/a.conf:1: Ignoring invalid line: `bogus a b'");
  expect(c.warnings[1]).toMatch(/^\/etc\/opkg\/a\.conf:2: feed name "\.\.\/etc" is not usable/);
  expect(c.warnings[2]).toMatch(/:3: feed URL "file:\/\/\/srv\/feed" refused: scheme file: is not supported/);
  expect(c.warnings[3]).toMatch(/:4: .*credentials/);
  expect(c.warnings[4]).toMatch(/:5: .*not an absolute URL/);
});

test('readOpkgConfig: *.conf in sorted order, other files ignored, no directory means no feeds', async () => {
  const root = path.join(work, 'r1');
  expect((await readOpkgConfig(root)).feeds).toEqual([]);
  fs.mkdirSync(path.join(root, 'etc/opkg/keys'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/opkg/customfeeds.conf'), 'src/gz custom http://h/custom\n');
  fs.writeFileSync(path.join(root, 'etc/opkg/distfeeds.conf'), 'src/gz base http://h/base\nsrc/gz custom http://h/other\n');
  fs.writeFileSync(path.join(root, 'etc/opkg/notes.txt'), 'src/gz nope http://h/nope\n');
  const c = await readOpkgConfig(root);
  expect(c.feeds.map((f) => [f.name, f.url, path.basename(f.file)])).toEqual([['custom', 'http://h/custom', 'customfeeds.conf'], ['base', 'http://h/base', 'distfeeds.conf']]);
  expect(c.warnings).toEqual([`${path.join(root, 'etc/opkg/distfeeds.conf')}:2: Duplicate src declaration (custom http://h/other). Skipping.`]);
});

test('bounds: file size, file count, line count, feed count; errors name the file', async () => {
  const root = path.join(work, 'r2');
  fs.mkdirSync(path.join(root, 'etc/opkg'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/opkg/big.conf'), '#'.repeat(2000));
  await expect(readOpkgConfig(root, { maxFiles: 4, maxFileBytes: 1000, maxLines: 100, maxFeeds: 3 })).rejects.toThrow(/big\.conf: 2000 bytes is more than the 1000-byte limit/);
  fs.rmSync(path.join(root, 'etc/opkg/big.conf'));
  for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(root, `etc/opkg/${i}.conf`), '');
  await expect(readOpkgConfig(root, { maxFiles: 4, maxFileBytes: 1000, maxLines: 100, maxFeeds: 3 })).rejects.toThrow(/5 \*\.conf files is more than the limit of 4/);
  expect(() => parseOpkgConfig([{ file: 'f.conf', text: '\n'.repeat(200) }], { maxFiles: 4, maxFileBytes: 1000, maxLines: 100, maxFeeds: 3 })).toThrow(/f\.conf: more than 100 lines/);
  const many = Array.from({ length: 5 }, (_, i) => `src f${i} http://h/${i}`).join('\n');
  let err: unknown;
  try {
    parseOpkgConfig([{ file: 'g.conf', text: many }], { maxFiles: 4, maxFileBytes: 10000, maxLines: 100, maxFeeds: 3 });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(CodedError);
  expect((err as CodedError).text).toBe('g.conf:4: more than 3 feeds');
});
