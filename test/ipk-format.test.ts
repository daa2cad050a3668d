// The pure cores of ipk/: ar headers and member tables (GNU, BSD, odd padding, bounds), control parsing, metadata
// messages, member order, and the entry rules, tested without extracting anything.
import fs from 'node:fs';
import path from 'node:path';
import { promises as fsp } from 'node:fs';
import { CodedError } from '../status-codes';
import { arHeader, readArMembers, writeArFile } from '../ipk/ar';
import { parseControl, parseControlText, formatControl } from '../ipk/control';
import { checkConsistency, validateAppInfo, validatePackageInfo, validateServicesJson } from '../ipk/metadata';
import { checkMemberOrder } from '../ipk/ipk-reader';
import { EntryRules, DEFAULT_LIMITS, splitEntryPath, maskedMode } from '../ipk/entry-rules';

let work: string;
beforeAll(() => (work = fs.mkdtempSync('/tmp/ai-')));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

async function members(bytes: Buffer) {
  const f = path.join(work, `ar-${Math.random().toString(36).slice(2)}`);
  fs.writeFileSync(f, bytes);
  const fh = await fsp.open(f, 'r');
  try {
    return await readArMembers(fh, bytes.length);
  } finally {
    await fh.close();
  }
}
function detailOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'resolved',
    (e) => (e instanceof CodedError ? e.detail ?? e.text : String(e)),
  );
}
const raw = (name: string, data: string, header = arHeader(name, Buffer.byteLength(data), 0)) => Buffer.concat([header, Buffer.from(data), Buffer.from(Buffer.byteLength(data) % 2 ? '\n' : '')]);

describe('ar', () => {
  test('header layout is ares-package\'s', () => {
    expect(arHeader('data.tar.gz', 1234, 1700000000).toString('latin1')).toBe('data.tar.gz     1700000000  0     0     100644  1234      `\n');
  });

  test('reads odd-sized members padded with \\n, with and without GNU trailing slash', async () => {
    const bytes = Buffer.concat([Buffer.from('!<arch>\n'), raw('a', 'odd'), raw('b/', 'even'), raw('c', 'x')]);
    const m = await members(bytes);
    expect(m.map((x) => [x.name, x.size])).toEqual([['a', 3], ['b', 4], ['c', 1]]);
    expect(bytes.subarray(m[1].offset, m[1].offset + m[1].size).toString()).toBe('even');
    expect(bytes.subarray(m[2].offset, m[2].offset + 1).toString()).toBe('x');
  });

  test('GNU long-name table and BSD #1/ names resolve; the symbol table is skipped', async () => {
    const table = 'a-very-long-member-name.tar.gz/\n';
    const bytes = Buffer.concat([Buffer.from('!<arch>\n'), raw('/', '\0\0\0\0'), raw('//', table), raw('/0', 'L'), raw('#1/8', 'bsdname!' + 'body')]);
    expect((await members(bytes)).map((x) => [x.name, x.size])).toEqual([['a-very-long-member-name.tar.gz', 1], ['bsdname!', 4]]);
  });

  test('bad magic, truncated header, truncated member, bad numbers and missing terminator are refused', async () => {
    expect(await detailOf(members(Buffer.from('!<arch\n\n')))).toBe('not an ar archive (bad magic)');
    expect(await detailOf(members(Buffer.concat([Buffer.from('!<arch>\n'), arHeader('x', 1).subarray(0, 30)])))).toMatch(/header at offset 8 is truncated/);
    expect(await detailOf(members(Buffer.concat([Buffer.from('!<arch>\n'), arHeader('x', 100), Buffer.from('short')])))).toBe('ar member "x" is truncated (declares 100 bytes, 5 remain)');
    const badSize = Buffer.from(arHeader('x', 1).toString('latin1').replace('1         `', '1e9       `'), 'latin1');
    expect(await detailOf(members(Buffer.concat([Buffer.from('!<arch>\n'), badSize, Buffer.from('x\n')])))).toMatch(/bad size field "1e9"/);
    const noEnd = Buffer.from(arHeader('x', 1).toString('latin1').replace('`\n', 'XX'), 'latin1');
    expect(await detailOf(members(Buffer.concat([Buffer.from('!<arch>\n'), noEnd, Buffer.from('x\n')])))).toMatch(/no `\\n terminator/);
    expect(await detailOf(members(Buffer.concat([Buffer.from('!<arch>\n'), raw('/5', 'x')])))).toMatch(/outside the long-name table/);
  });

  test('writeArFile round-trips through readArMembers', async () => {
    const src = path.join(work, 'member.bin');
    fs.writeFileSync(src, Buffer.alloc(1001, 9));
    const out = path.join(work, 'rt.ar');
    await writeArFile(out, [{ name: 'debian-binary', data: Buffer.from('2.0\n') }, { name: 'data.tar.gz', file: src }, { name: 'z', data: Buffer.from('z') }]);
    const bytes = fs.readFileSync(out);
    const m = await members(bytes);
    expect(m.map((x) => [x.name, x.size, x.mode.toString(8), x.uid, x.gid])).toEqual([
      ['debian-binary', 4, '100644', 0, 0], ['data.tar.gz', 1001, '100644', 0, 0], ['z', 1, '100644', 0, 0],
    ]);
    expect(bytes.length).toBe(8 + 60 + 4 + 60 + 1002 + 60 + 2);
  });
});

describe('member order', () => {
  test.each([
    [['debian-binary', 'control.tar.gz', 'data.tar.gz'], undefined],
    [['debian-binary', 'control.tar.gz', 'data.tar.gz', '_gpgorigin'], undefined],
    [['debian-binary', 'control.tar.xz', 'data.tar.xz'], /xz-compressed members are not supported \("control\.tar\.xz"\)/],
    [['debian-binary', 'control.tar.gz', 'data.tar.zst'], /"data\.tar\.zst" uses an unsupported compression/],
    [['debian-binary', 'data.tar.gz'], /missing member "control\.tar\.gz"/],
    [['control.tar.gz', 'debian-binary', 'data.tar.gz'], /members out of order/],
    [['debian-binary', 'control.tar.gz', 'data.tar.gz', 'evil'], /unexpected member "evil"/],
  ])('%j', (names, re) => {
    if (!re) expect(() => checkMemberOrder(names)).not.toThrow();
    else expect(() => checkMemberOrder(names)).toThrow(re);
  });
});

describe('control', () => {
  test('fields, continuation lines, CRLF, Installed-Size in bytes', () => {
    const c = parseControl('Package: com.x.app\r\nVersion: 1.0.0\r\nDescription: first\r\n second\r\n .\r\n third\r\nInstalled-Size: 12345\r\n\r\nIgnored: paragraph\r\n');
    expect(c.packageName).toBe('com.x.app');
    expect(c.architecture).toBe('all');
    expect(c.installedSize).toBe(12345);
    expect(c.raw.Description).toBe('first\nsecond\n\nthird');
    expect(c.raw.Ignored).toBeUndefined();
  });
  test('field names are case-insensitive for lookups', () => {
    expect(parseControl('package: com.x\nversion: 2\n').packageName).toBe('com.x');
  });
  test.each([
    ['Version: 1\n', 'control has no Package field'],
    ['Package: com.x\n', 'control has no Version field'],
    ['Package: Com.X\nVersion: 1\n', 'Package "Com.X" is not a valid package id (allowed: a-z 0-9 . + -)'],
    ['Package: com.x\nVersion: 1\nInstalled-Size: 12k\n', 'Installed-Size "12k" is not a number of bytes'],
    ['Package: com.x\nPackage: com.y\nVersion: 1\n', 'duplicate field "Package"'],
    [' leading continuation\n', 'line 1 continues a field but no field precedes it'],
    ['Package com.x\n', 'line 1 is not a "Field: value" line: "Package com.x"'],
  ])('%j is refused: %s', (text, detail) => {
    let err: unknown;
    try {
      parseControl(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CodedError);
    expect((err as CodedError).detail).toBe(detail);
    expect((err as CodedError).text).toBe('Failed to parse control');
  });
  test('formatControl writes what parseControlText reads', () => {
    const text = formatControl([['Package', 'com.x'], ['Version', '1'], ['Description', 'a\nb']]);
    expect(text).toBe('Package: com.x\nVersion: 1\nDescription: a\n b\n');
    expect(parseControlText(text)).toEqual({ Package: 'com.x', Version: '1', Description: 'a\nb' });
    const blank = formatControl([['Description', 'first\n\nthird'], ['Installed-Size', '5']]);
    expect(blank).toBe('Description: first\n .\n third\nInstalled-Size: 5\n');
    expect(parseControlText(blank)).toEqual({ Description: 'first\n\nthird', 'Installed-Size': '5' });
  });
});

describe('metadata', () => {
  const good = { id: 'com.x.app', version: '1.0.0', type: 'web', main: 'index.html', title: 'X', icon: 'icon.png' };
  test('messages name the field', () => {
    expect(validateAppInfo(good).ok).toBe(true);
    expect(validateAppInfo({ ...good, icon: undefined })).toEqual({ ok: false, problem: 'appinfo.json: "icon" is missing' });
    expect(validateAppInfo({ ...good, type: 'flash' })).toEqual({ ok: false, problem: 'appinfo.json: "type" is "flash", must be one of web, stub, native, native_builtin, native_appshell, qml' });
    expect(validateAppInfo({ ...good, version: 3 })).toEqual({ ok: false, problem: 'appinfo.json: "version" must be a string' });
    expect(validateAppInfo({ ...good, title: '' })).toEqual({ ok: false, problem: 'appinfo.json: "title" must not be empty' });
    expect(validateAppInfo([])).toEqual({ ok: false, problem: 'appinfo.json: the top level must be an object' });
    expect(validatePackageInfo({ id: 'com.x.app', version: '1', services: ['Bad'] })).toEqual({ ok: false, problem: 'packageinfo.json: "services.0" is "Bad", must match ^[a-z0-9.+-]+$' });
    expect(validateServicesJson({ services: [{}] })).toEqual({ ok: false, problem: 'services.json: "services.0.name" is missing' });
  });
  test('consistency rules', () => {
    const app = { dir: 'com.x.app', appInfo: good as never };
    const svc = (dir: string, id = dir) => ({ dir, servicesJson: { id, services: [{ name: id }] } });
    expect(checkConsistency({ packageName: 'com.x.app', apps: [app], services: [svc('com.x.app.svc')] })).toBeUndefined();
    expect(checkConsistency({ packageName: 'com.x.app', apps: [], services: [] })).toBe('missing usr/palm/applications/com.x.app/appinfo.json');
    expect(checkConsistency({ packageName: 'com.y', apps: [{ dir: 'com.y', appInfo: good as never }], services: [] })).toBe('appinfo.json id "com.x.app" differs from its directory "com.y"');
    expect(checkConsistency({ packageName: 'com.x.app', apps: [app], services: [svc('com.other.svc')] })).toBe('service id "com.other.svc" does not start with "com.x.app."');
    expect(checkConsistency({ packageName: 'com.x.app', apps: [app], services: [svc('com.x.app.a', 'com.x.app.b')] })).toBe('services.json id "com.x.app.b" differs from its directory "com.x.app.a"');
    expect(checkConsistency({ packageName: 'com.x.app', apps: [app], services: [], packageInfo: { dir: 'com.x.app', value: { id: 'com.x.app', version: '1', services: ['com.x.app.ghost'] } } })).toBe('packageinfo.json lists service "com.x.app.ghost" that the package does not hold');
  });
});

describe('entry rules', () => {
  const A = 'usr/palm/applications/com.x';
  const run = (entries: Array<[string, string, number?, number?]>, limits = DEFAULT_LIMITS) => {
    const r = new EntryRules(limits);
    for (const [p, type, mode = 0o644, size = 0] of entries) {
      const v = r.check({ path: p, type, mode, size });
      if (!v.accept) return v.detail;
    }
    return 'accepted';
  };
  test('paths', () => {
    expect(splitEntryPath('./usr/palm/')).toEqual({ ok: true, parts: ['usr', 'palm'] });
    expect(splitEntryPath('./')).toEqual({ ok: true, parts: [] });
    expect(splitEntryPath('usr//x')).toEqual({ ok: false, detail: 'entry "usr//x" has an empty path component' });
    expect(splitEntryPath('usr/./x')).toEqual({ ok: false, detail: 'entry "usr/./x" has a "." path component' });
  });
  test('accepts both layouts and masks modes', () => {
    expect(run([['./', 'Directory', 0o755], ['./usr/', 'Directory'], [`./${A}/`, 'Directory', 0o777], [`./${A}/x`, 'File', 0o777]])).toBe('accepted');
    expect(run([[`${A}/x`, 'File'], [`${A}/y`, 'OldFile']])).toBe('accepted');
    expect(maskedMode('dir', 0o777)).toBe(0o755);
    expect(maskedMode('file', 0o777)).toBe(0o755);
    expect(maskedMode('file', 0o666)).toBe(0o644);
    const r = new EntryRules();
    expect(r.check({ path: `${A}/x`, type: 'File', mode: 0o666, size: 1 })).toEqual({ accept: true, rel: `${A}/x`, kind: 'file', mode: 0o644 });
  });
  test('limits are configurable', () => {
    const small = { ...DEFAULT_LIMITS, maxEntries: 2, maxDepth: 5, maxTotalBytes: 10 };
    expect(run([[`${A}/a`, 'File'], [`${A}/b`, 'File'], [`${A}/c`, 'File']], small)).toBe('more than 2 entries');
    expect(run([[`${A}/a/b`, 'File']], small)).toBe(`nesting deeper than 5 in "${A}/a/b"`);
    expect(run([[`${A}/a`, 'File', 0o644, 6], [`${A}/b`, 'File', 0o644, 6]], small)).toBe(`entry "${A}/b" declares 6 bytes, past the 10-byte limit`);
  });
  test('structure', () => {
    expect(run([['./', 'Directory'], ['./', 'Directory']])).toBe('duplicate entry "./"');
    expect(run([['./', 'File']])).toBe('the root entry "./" is not a directory');
    expect(run([['usr/palm/applications/x', 'File']])).toMatch(/is outside usr\/palm\/applications/);
    expect(run([['usr/palm/other/x/y', 'File']])).toMatch(/is outside/);
    expect(run([[`${A}/d/`, 'Directory'], [`${A}/d`, 'File']])).toBe(`duplicate entry "${A}/d"`);
    expect(run([['usr/palm/applications/', 'Directory'], ['usr/palm/applications/', 'Directory']])).toBe('duplicate entry "usr/palm/applications"');
    expect(run([[`${A}/x`, 'ContiguousFile']])).toBe(`entry "${A}/x" is a contiguous file`);
    expect(run([[`${A}/x`, 'GNUSparseFile']])).toBe(`entry "${A}/x" is of unsupported type GNUSparseFile`);
  });
});
