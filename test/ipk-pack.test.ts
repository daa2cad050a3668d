// `ipk pack` / `ipk info` as real processes: output read by dpkg-deb and GNU ar, laid out as ares-package lays it
// out; the reader accepts packages from ipk pack, dpkg-deb -b and GNU `ar rc`; bad APPDIRs give clear errors.
// Needs the Debian tools dpkg-deb (package dpkg) and ar (package binutils).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { openIpk } from '../ipk/ipk-reader';
import { extractData } from '../ipk/extract';

const CLI = path.resolve(__dirname, '../dist/ipk/ipk-cli.js');
let work: string;

function ipk(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: work, env: { ...process.env, APPINSTALLD_ROOT: path.join(work, 'root') } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function makeApp(dir: string, appinfo: Record<string, unknown> | string | null = {}): string {
  fs.mkdirSync(dir, { recursive: true });
  if (appinfo !== null) {
    const text = typeof appinfo === 'string' ? appinfo : JSON.stringify({ id: 'com.example.app', version: '1.2.3', type: 'web', main: 'index.html', title: 'Example', icon: 'icon.png', ...appinfo });
    fs.writeFileSync(path.join(dir, 'appinfo.json'), text);
  }
  fs.writeFileSync(path.join(dir, 'index.html'), '<html><body>hi</body></html>\n');
  fs.writeFileSync(path.join(dir, 'icon.png'), Buffer.alloc(333, 1)); // odd size on purpose
  fs.mkdirSync(path.join(dir, 'js'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'js', 'app.js'), 'console.log(1)\n');
  fs.writeFileSync(path.join(dir, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
  return dir;
}

function makeService(dir: string, id = 'com.example.app.service'): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'services.json'), JSON.stringify({ id, description: 'svc', services: [{ name: id }] }));
  fs.writeFileSync(path.join(dir, 'service.js'), 'module.exports = {}\n');
  return dir;
}

beforeAll(() => {
  work = fs.mkdtempSync('/tmp/ai-');
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('ipk pack output', () => {
  let file: string;
  beforeAll(() => {
    makeApp(path.join(work, 'app'));
    makeService(path.join(work, 'svc'));
    const r = ipk('pack', 'app', 'svc', '-o', 'out');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    file = path.join(work, 'out', 'com.example.app_1.2.3_all.ipk');
    expect(r.stdout).toContain(file);
  });

  test('is named <id>_<version>_all.ipk and ar lists debian-binary, control.tar.gz, data.tar.gz with mode 644, owner 0/0', () => {
    expect(fs.readdirSync(path.join(work, 'out'))).toEqual(['com.example.app_1.2.3_all.ipk']);
    expect(execFileSync('ar', ['t', file], { encoding: 'utf8' }).trim().split('\n')).toEqual(['debian-binary', 'control.tar.gz', 'data.tar.gz']);
    const tv = execFileSync('ar', ['tv', file], { encoding: 'utf8' }).trim().split('\n');
    for (const line of tv) expect(line).toMatch(/^rw-r--r-- 0\/0 /);
    // The raw member headers are ares-package's: names without GNU's `/`, uid/gid "0", mode "100644".
    const raw = fs.readFileSync(file);
    expect(raw.subarray(0, 8).toString()).toBe('!<arch>\n');
    const h = raw.subarray(8, 68).toString('latin1');
    expect(h.slice(0, 16)).toBe('debian-binary   ');
    expect(h.slice(28, 34)).toBe('0     ');
    expect(h.slice(34, 40)).toBe('0     ');
    expect(h.slice(40, 48)).toBe('100644  ');
    expect(raw.subarray(68, 72).toString()).toBe('2.0\n');
  });

  test('dpkg-deb -I shows the ares-package control fields', () => {
    const info = execFileSync('dpkg-deb', ['-I', file], { encoding: 'utf8' });
    expect(info).toContain('new Debian package, version 2.0.');
    const field = (name: string) => execFileSync('dpkg-deb', ['-f', file, name], { encoding: 'utf8' }).trim();
    expect(field('Package')).toBe('com.example.app');
    expect(field('Version')).toBe('1.2.3');
    expect(field('Section')).toBe('misc');
    expect(field('Priority')).toBe('optional');
    expect(field('Architecture')).toBe('all');
    expect(field('Maintainer')).toBe('N/A <nobody@example.com>');
    expect(field('Description')).toBe('This is a webOS application.');
    expect(field('webOS-Package-Format-Version')).toBe('2');
    expect(field('webOS-Packager-Version')).not.toBe('');
    const fieldOrder = execFileSync('dpkg-deb', ['-f', file], { encoding: 'utf8' }).trim().split('\n').map((l) => l.split(':')[0]);
    expect(fieldOrder).toEqual(['Package', 'Version', 'Section', 'Priority', 'Architecture', 'Installed-Size', 'Maintainer', 'Description', 'webOS-Package-Format-Version', 'webOS-Packager-Version']);
  });

  test('dpkg-deb -c lists the data tree without ./ prefix, and Installed-Size covers its files (plus directory sizes, as ares-package counts)', () => {
    const lines = execFileSync('dpkg-deb', ['-c', file], { encoding: 'utf8' }).trim().split('\n');
    const entries = lines.map((l) => {
      const m = /^(\S+)\s+(\S+)\s+(\d+)\s+\S+\s+\S+\s+(.+)$/.exec(l)!;
      return { mode: m[1], owner: m[2], size: Number(m[3]), path: m[4] };
    });
    const paths = entries.map((e) => e.path);
    for (const p of paths) expect(p.startsWith('./') || p.startsWith('/')).toBe(false);
    expect(paths).toEqual(expect.arrayContaining([
      'usr/', 'usr/palm/', 'usr/palm/applications/', 'usr/palm/applications/com.example.app/',
      'usr/palm/applications/com.example.app/appinfo.json', 'usr/palm/applications/com.example.app/index.html',
      'usr/palm/applications/com.example.app/js/app.js', 'usr/palm/applications/com.example.app/run.sh',
      'usr/palm/packages/com.example.app/packageinfo.json',
      'usr/palm/services/com.example.app.service/services.json', 'usr/palm/services/com.example.app.service/service.js',
    ]));
    expect(paths.filter((p) => !/^usr\/(palm\/((applications|packages|services)\/)?)?/.test(p))).toEqual([]);
    for (const e of entries) {
      expect(e.owner).toMatch(/^(0\/0|root\/root)$/);
      if (e.mode.startsWith('d')) expect(e.mode).toBe('drwxr-xr-x');
      else expect(['-rw-r--r--', '-rwxr-xr-x']).toContain(e.mode);
    }
    expect(entries.find((e) => e.path.endsWith('run.sh'))!.mode).toBe('-rwxr-xr-x');
    const sum = entries.filter((e) => e.mode.startsWith('-')).reduce((a, e) => a + e.size, 0);
    // ares-package sums lstat sizes over the data tree, directories included (test/ipk-ares.test.ts compares exactly).
    const dirCount = entries.filter((e) => e.mode.startsWith('d')).length + 1;
    const installedSize = Number(execFileSync('dpkg-deb', ['-f', file, 'Installed-Size'], { encoding: 'utf8' }).trim());
    expect(installedSize).toBeGreaterThan(sum);
    expect(installedSize).toBeLessThanOrEqual(sum + dirCount * 64 * 1024);
  });

  test('packageinfo.json names the app and its services', () => {
    const out = execFileSync('dpkg-deb', ['--fsys-tarfile', file]);
    const dest = path.join(work, 'fsys');
    fs.mkdirSync(dest);
    execFileSync('tar', ['-x', '-C', dest], { input: out });
    expect(JSON.parse(fs.readFileSync(path.join(dest, 'usr/palm/packages/com.example.app/packageinfo.json'), 'utf8'))).toEqual({
      id: 'com.example.app', version: '1.2.3', app: 'com.example.app', services: ['com.example.app.service'],
    });
  });

  test('ipk info prints a table and --json for scripts', () => {
    const t = ipk('info', file);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/Package:\s+com\.example\.app/);
    expect(t.stdout).toMatch(/App:\s+com\.example\.app 1\.2\.3 \(web\) "Example"/);
    expect(t.stdout).toMatch(/Services:\s+com\.example\.app\.service/);
    expect(t.stdout).toMatch(/Signature:\s+unsigned/);
    const j = ipk('info', file, '--json');
    expect(j.code).toBe(0);
    const info = JSON.parse(j.stdout);
    expect(info.control.packageName).toBe('com.example.app');
    expect(info.control.installedSize).toBeGreaterThan(0);
    expect(info.app.id).toBe('com.example.app');
    expect(info.services.map((s: { id: string }) => s.id)).toEqual(['com.example.app.service']);
    expect(info.signature.result).toBe('unsigned');
  });

  test('the reader accepts it and extracts the same tree', async () => {
    const r = await extractData(await openIpk(file), path.join(work, 'staging-pack'));
    expect(r.appIds).toEqual(['com.example.app']);
    expect(r.services.map((s) => s.id)).toEqual(['com.example.app.service']);
    expect(r.packageInfo).toEqual({ id: 'com.example.app', version: '1.2.3', app: 'com.example.app', services: ['com.example.app.service'] });
    expect(fs.statSync(path.join(work, 'staging-pack/usr/palm/applications/com.example.app/run.sh')).mode & 0o777).toBe(0o755);
    expect(r.bytes).toBeLessThan((await openIpk(file)).control.installedSize!);
  });

  test('the reader accepts the same members re-archived by GNU `ar rc` (names with /)', async () => {
    const x = path.join(work, 'arx');
    fs.mkdirSync(x);
    execFileSync('ar', ['x', file], { cwd: x });
    const gnu = path.join(work, 'gnu.ipk');
    execFileSync('ar', ['rc', gnu, 'debian-binary', 'control.tar.gz', 'data.tar.gz'], { cwd: x });
    expect(fs.readFileSync(gnu).toString('latin1', 8, 24)).toBe('debian-binary/  ');
    const pkg = await openIpk(gnu);
    expect(pkg.control.packageName).toBe('com.example.app');
    const r = await extractData(pkg, path.join(work, 'staging-gnu'));
    expect(r.appIds).toEqual(['com.example.app']);
  });
});

test('the reader accepts a package built by dpkg-deb -b --root-owner-group -Zgzip (./ layout)', async () => {
  const root = path.join(work, 'debroot');
  makeApp(path.join(root, 'usr/palm/applications/com.example.deb'), { id: 'com.example.deb' });
  makeService(path.join(root, 'usr/palm/services/com.example.deb.svc'), 'com.example.deb.svc');
  fs.mkdirSync(path.join(root, 'DEBIAN'));
  fs.writeFileSync(path.join(root, 'DEBIAN/control'), 'Package: com.example.deb\nVersion: 1.2.3\nArchitecture: all\nMaintainer: T <t@example.com>\nDescription: a test\n second line\n');
  const deb = path.join(work, 'deb.ipk');
  execFileSync('dpkg-deb', ['-b', '--root-owner-group', '-Zgzip', root, deb], { stdio: 'pipe' });
  expect(execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8' })).toContain('./usr/palm/');
  const pkg = await openIpk(deb);
  expect(pkg.control.packageName).toBe('com.example.deb');
  expect(pkg.control.raw.Description).toBe('a test\nsecond line');
  const r = await extractData(pkg, path.join(work, 'staging-deb'));
  expect(r.appIds).toEqual(['com.example.deb']);
  expect(r.services.map((s) => s.id)).toEqual(['com.example.deb.svc']);
  expect(r.files).toBe(7);
});

describe('bad input to ipk pack gives a clear error and exit 1 (2 for a usage error, as every CLI: cli-common/args.ts)', () => {
  const cases: Array<[string, () => string[], RegExp]> = [
    ['a missing APPDIR', () => ['pack', 'nope'], /APPDIR .*nope does not exist/],
    ['an APPDIR without appinfo.json', () => [ 'pack', makeApp(path.join(work, 'noinfo'), null)], /appinfo\.json is missing/],
    ['appinfo.json that is not JSON', () => ['pack', makeApp(path.join(work, 'badjson'), '{"id": ')], /appinfo\.json is not valid JSON/],
    ['appinfo.json without title', () => ['pack', makeApp(path.join(work, 'notitle'), { title: undefined })], /appinfo\.json: "title" is missing/],
    ['appinfo.json with a bad type', () => ['pack', makeApp(path.join(work, 'badtype'), { type: 'flash' })], /appinfo\.json: "type" is "flash", must be one of web, stub, native/],
    ['appinfo.json with a bad id', () => ['pack', makeApp(path.join(work, 'badid'), { id: 'Com.Bad_Id' })], /appinfo\.json: "id" is "Com\.Bad_Id", must match/],
    ['a service outside the package id', () => ['pack', makeApp(path.join(work, 'svcapp')), makeService(path.join(work, 'badsvc'), 'com.other.svc')], /service id "com\.other\.svc" does not start with "com\.example\.app\."/],
    ['--sign without --certificate', () => ['pack', makeApp(path.join(work, 'signapp')), '--sign', 'k.pem'], /--sign and --certificate must be used together/],
    ['an unknown option', () => ['pack', 'x', '--frobnicate'], /unknown option --frobnicate/],
    ['an unknown command', () => ['frob'], /unknown command "frob"/],
    ['info on a file that is not an ipk', () => { fs.writeFileSync(path.join(work, 'junk.ipk'), 'junk'); return ['info', 'junk.ipk']; }, /not an ar archive/],
  ];
  test.each(cases)('%s', (_name, args, re) => {
    const r = ipk(...args());
    expect(r.code).toBe(/^an unknown (option|command)$/.test(_name) ? 2 : 1);
    expect(r.stderr).toMatch(re);
    expect(r.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });
});
