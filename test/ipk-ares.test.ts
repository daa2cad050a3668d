// Interoperability with the real webOS packager: ares-package (@webos-tools/cli, a pinned dev dependency) and
// `ipk pack` make the same package from the same app and service, ares-package's signatures verify here, and
// what ares-package makes installs and removes through the running service.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { openIpk, verifySignature } from '../ipk';
import { readArMembers } from '../ipk/ar';
import { Stage } from '../status-codes';
import { REPO, install, remove, startDaemon, stageSequence, type Daemon } from './helpers/appinstall-daemon';

const ARES_PACKAGE = path.join(REPO, 'node_modules/.bin/ares-package');
const IPK = path.join(REPO, 'dist/ipk/ipk-cli.js');
const APP_ID = 'com.example.svcapp';
const FILE = `${APP_ID}_2.1.0_all.ipk`;

let work: string;
const dir = (...p: string[]) => path.join(work, ...p);

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Every file of a tree (relative path → sha256), and its directories. */
function treeOf(root: string): { files: Record<string, string>; dirs: string[] } {
  const files: Record<string, string> = {};
  const dirs: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        dirs.push(r);
        walk(r);
      } else files[r] = crypto.createHash('sha256').update(fs.readFileSync(path.join(root, r))).digest('hex');
    }
  };
  walk('');
  return { files, dirs: dirs.sort() };
}

/** The package unpacked by GNU tools: ar members, control.tar.gz and data.tar.gz listings and trees. */
function unpack(ipk: string, into: string) {
  fs.mkdirSync(into, { recursive: true });
  execFileSync('ar', ['x', ipk], { cwd: into });
  for (const m of ['control', 'data']) {
    fs.mkdirSync(path.join(into, m));
    execFileSync('tar', ['-xzf', `../${m}.tar.gz`], { cwd: path.join(into, m) });
  }
  const list = (m: string) => execFileSync('tar', ['-tzf', `${m}.tar.gz`], { cwd: into, encoding: 'utf8' }).trim().split('\n');
  return { controlList: list('control'), dataList: list('data'), control: treeOf(path.join(into, 'control')), data: treeOf(path.join(into, 'data')) };
}

async function arHeaders(ipk: string) {
  const fh = await fs.promises.open(ipk, 'r');
  try {
    return (await readArMembers(fh, (await fh.stat()).size)).map((m) => ({ name: m.name, mode: m.mode, uid: m.uid, gid: m.gid }));
  } finally {
    await fh.close();
  }
}

beforeAll(() => {
  work = fs.mkdtempSync('/tmp/ai-ares-');
  fs.mkdirSync(dir('app/images'), { recursive: true });
  fs.writeFileSync(dir('app/appinfo.json'), JSON.stringify({ id: APP_ID, version: '2.1.0', vendor: 'Example', type: 'web', main: 'index.html', title: 'Svc App', icon: 'icon.png' }));
  fs.writeFileSync(dir('app/index.html'), '<html><body>hello</body></html>\n');
  fs.copyFileSync(path.join(REPO, 'examples/hello/icon.png'), dir('app/icon.png'));
  fs.writeFileSync(dir('app/images/odd-size.bin'), crypto.randomBytes(1001));
  fs.mkdirSync(dir('svc'));
  fs.writeFileSync(dir('svc/services.json'), JSON.stringify({
    id: `${APP_ID}.service`, description: 'test service',
    services: [{ name: `${APP_ID}.service`, description: 'x', commands: [{ name: 'hello', description: 'hi' }] }],
  }));
  fs.writeFileSync(dir('svc/package.json'), '{"name":"svc","main":"index.js"}\n');
  fs.writeFileSync(dir('svc/index.js'), 'console.log("service");\n');
  // A CA and a signer made with openssl, as a developer would.
  run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=Test CA']);
  run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'signer.key', '-out', 'signer.csr', '-subj', '/CN=Signer']);
  run('openssl', ['x509', '-req', '-in', 'signer.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'signer.crt', '-days', '30']);
  fs.mkdirSync(dir('other'));
  run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'other/ca.key', '-out', 'other/ca.crt', '-days', '30', '-subj', '/CN=Other CA']);

  // By default ares-package also minifies JavaScript; `ipk pack` never rewrites code, so the layout comparison uses
  // its --no-minify output, and the service installs what ares-package makes by default.
  run(ARES_PACKAGE, ['app', 'svc', '--no-minify', '-o', 'ares']);
  run(ARES_PACKAGE, ['app', 'svc', '-o', 'ares-default']);
  run(ARES_PACKAGE, ['app', 'svc', '-o', 'ares-signed', '--sign', 'signer.key', '--certificate', 'signer.crt']);
  run(process.execPath, [IPK, 'pack', 'app', 'svc', '-o', 'ours']);
  run(process.execPath, [IPK, 'pack', 'app', 'svc', '-o', 'ours-signed', '--sign', 'signer.key', '--certificate', 'signer.crt']);
}, 120000);

afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

test('ipk pack makes what ares-package makes: file name, ar members and headers, control fields, tar paths and contents', async () => {
  expect(fs.readdirSync(dir('ares'))).toEqual([FILE]);
  expect(fs.readdirSync(dir('ours'))).toEqual([FILE]);
  const ares = dir('ares', FILE);
  const ours = dir('ours', FILE);
  expect(await arHeaders(ours)).toEqual(await arHeaders(ares));

  const a = unpack(ares, dir('unpacked/ares'));
  const o = unpack(ours, dir('unpacked/ours'));
  expect(fs.readFileSync(dir('unpacked/ours/debian-binary'), 'utf8')).toBe(fs.readFileSync(dir('unpacked/ares/debian-binary'), 'utf8'));
  expect(o.controlList).toEqual(a.controlList);
  // Every control field, Installed-Size included (ares-package sums the lstat sizes of the data tree, directories too).
  expect(fs.readFileSync(dir('unpacked/ours/control/control'), 'utf8')).toBe(fs.readFileSync(dir('unpacked/ares/control/control'), 'utf8'));
  expect([...o.dataList].sort()).toEqual([...a.dataList].sort());
  for (const p of o.dataList) expect(p.startsWith('./') || p.startsWith('/')).toBe(false);
  expect(o.data).toEqual(a.data);
});

test('a package ares-package signed verifies as trusted against a bundle holding its CA, untrusted against another', async () => {
  const bundle = dir('ca.crt');
  for (const f of [dir('ares-signed', FILE), dir('ours-signed', FILE)]) {
    const pkg = await openIpk(f);
    expect(await verifySignature(pkg, bundle)).toMatchObject({ result: 'trusted' });
    expect(await verifySignature(pkg, dir('other/ca.crt'))).toMatchObject({ result: 'untrusted' });
  }
  // Both sign the same way: the same control members.
  expect(unpack(dir('ours-signed', FILE), dir('unpacked/ours-signed')).controlList.sort())
    .toEqual(unpack(dir('ares-signed', FILE), dir('unpacked/ares-signed')).controlList.sort());
});

describe('through the service', () => {
  let d: Daemon;
  beforeAll(async () => {
    d = await startDaemon({ config: { requireSignature: true } });
    fs.mkdirSync(path.join(d.root, 'etc/ssl/certs'), { recursive: true });
    fs.copyFileSync(dir('ca.crt'), path.join(d.root, 'etc/ssl/certs/appsigning-bundle.crt'));
  });
  afterAll(async () => {
    await d?.stop();
    if (d) fs.rmSync(d.root, { recursive: true, force: true });
  });

  test('ares-package output installs (signature required and trusted), with its service, and removes', async () => {
    const unsigned = await install(d.root, APP_ID, dir('ares-default', FILE));
    expect(unsigned.lines.at(-1)).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { reason: expect.stringMatching(/FAILED_VERIFY/) } });

    const r = await install(d.root, APP_ID, dir('ares-signed', FILE));
    expect(r.lines.at(-1)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue, details: { signature: 'trusted', packageId: APP_ID } });
    expect(stageSequence(r.lines).at(-1)).toBe(Stage.INSTALLED.statusValue);
    const apps = path.join(d.root, 'media/cryptofs/apps');
    const shipped = unpack(dir('ares-signed', FILE), dir('unpacked/installed-from')).data.files;
    const installed = treeOf(apps).files;
    for (const [f, sha] of Object.entries(shipped)) expect([f, installed[f]]).toEqual([f, sha]);
    expect(fs.existsSync(path.join(d.root, `var/luna-service2/services.d/${APP_ID}.service.service`))).toBe(true);

    const gone = await remove(d.root, APP_ID);
    expect(gone.lines.at(-1)).toMatchObject({ statusValue: Stage.REMOVED.statusValue });
    expect(fs.existsSync(path.join(apps, `usr/palm/applications/${APP_ID}`))).toBe(false);
  });
});
