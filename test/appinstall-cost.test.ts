// Cheap input, expensive work, as a hostile user shapes it: a data member padded after its gzip stream (a sparse
// file behind a few KB of gzip, the ar size field near 10 GB), signed so the daemon would hash it, or unsigned so it
// would read it; and one user flooding the queue. Refused early with a clear reason; root and others are served.
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode, ErrorText, Stage } from '../status-codes';
import { arHeader } from '../ipk/ar';
import { buildTar, controlText, controlTgz, goodEntries, gz } from './helpers/ipk-corpus';
import { REPO, call, install, killAllChildren, listTree, makeIpk, startDaemon, type Daemon } from './helpers/appinstall-daemon';
import { track } from './helpers/child-processes';
import { scriptFor } from './helpers/unprivileged';

const NOBODY = 65534;
let d: Daemon;
let work: string;
let key: crypto.KeyObject;
let certPem: string;
const last = <T>(a: T[]) => a[a.length - 1];

beforeAll(async () => {
  d = await startDaemon({ config: { maxConcurrentTasks: 1, maxQueuedTasksPerCaller: 2 } });
  work = fs.mkdtempSync('/tmp/ai-w-');
  fs.chmodSync(work, 0o755);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-subj', '/CN=padder', '-days', '2'], { cwd: work, stdio: 'pipe' });
  key = crypto.createPrivateKey(fs.readFileSync(path.join(work, 'k.pem')));
  certPem = fs.readFileSync(path.join(work, 'c.pem'), 'utf8');
});
afterAll(async () => {
  await d?.stop();
  killAllChildren();
  fs.rmSync(work, { recursive: true, force: true });
  if (d) fs.rmSync(d.root, { recursive: true, force: true });
});

/** An ipk whose data member is a small gzip stream followed by `pad` zero bytes, left sparse on disk. */
function paddedIpk(name: string, id: string, pad: number, installedSize: number, signed: boolean): string {
  const data = gz(buildTar(goodEntries(id)));
  const extra: Array<[string, string]> = signed ? [['cert.pem', certPem], ['data.tar.gz.sha256.txt', crypto.sign('sha256', data, key).toString('base64')]] : [];
  const control = controlTgz(controlText(id, { 'Installed-Size': String(installedSize) }), extra);
  const head = Buffer.concat([Buffer.from('!<arch>\n'), arHeader('debian-binary', 4, 1700000000), Buffer.from('2.0\n'),
    arHeader('control.tar.gz', control.length, 1700000000), control, control.length % 2 ? Buffer.from('\n') : Buffer.alloc(0),
    arHeader('data.tar.gz', data.length + pad, 1700000000), data]);
  const file = path.join(work, name);
  fs.writeFileSync(file, head);
  fs.truncateSync(file, head.length + pad + ((data.length + pad) % 2));
  return file;
}

const leftovers = () => [...listTree(path.join(d.root, 'media/cryptofs/apps/.appinstalld-staging')), ...listTree(path.join(d.root, 'var/lib/appinstalld/journal'))];

test('a ~9.9 GB sparse data member behind a 4 KB gzip (Installed-Size small) is refused before hashing, at once', async () => {
  const ipk = paddedIpk('huge.ipk', 'com.example.huge', 9_900_000_000, 100, true);
  const t0 = Date.now();
  const r = await install(d.root, 'com.example.huge', ipk);
  expect(Date.now() - t0).toBeLessThan(5000);
  expect(last(r.lines)).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { errorCode: ErrorCode.INSTALL_FAILED, reason: expect.stringMatching(/^FAILED_PACKAGEFILE_CORRUPT: data\.tar\.gz is 9900\d+ bytes, more than its Installed-Size 100 allows/) } });
  expect(r.lines.some((l) => l.statusValue === Stage.VERIFY_NEEDED.statusValue)).toBe(false);
}, 60000);

test('zero padding after the gzip stream within the Installed-Size bound: refused while hashing (signed) and while unpacking (unsigned)', async () => {
  const signed = paddedIpk('signed-pad.ipk', 'com.example.spad', 3_000_000_000, 2_000_000_000, true);
  const t0 = Date.now();
  const r = await install(d.root, 'com.example.spad', signed);
  expect(Date.now() - t0).toBeLessThan(5000);
  expect(last(r.lines)).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { errorCode: ErrorCode.INSTALL_FAILED, reason: expect.stringContaining('bytes follow the end of its gzip stream') } });
  const unsigned = paddedIpk('unsigned-pad.ipk', 'com.example.upad', 64 * 1024 * 1024, 40 * 1024 * 1024, false);
  const u = await install(d.root, 'com.example.upad', unsigned);
  expect(last(u.lines)).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { errorCode: ErrorCode.INSTALL_FAILED, reason: expect.stringContaining('bytes follow the end of its gzip stream') } });
  expect(fs.existsSync(path.join(d.root, 'media/cryptofs/apps/usr/palm/applications/com.example.upad'))).toBe(false);
  expect(leftovers()).toEqual([]);
  // the same package without the padding installs
  const ok = paddedIpk('unpadded.ipk', 'com.example.upad', 0, 40 * 1024, false);
  expect(last((await install(d.root, 'com.example.upad', ok)).lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue });
}, 60000);

test('one user cannot queue without bound: past maxQueuedTasksPerCaller its calls are refused; root is not limited', async () => {
  expect(await call(d.root, 'luna://com.webos.service.devmode/setDevMode', { enabled: true })).toMatchObject({ returnValue: true });
  const dir = path.join(work, 'flood');
  fs.mkdirSync(dir, { mode: 0o755 });
  const ipks = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => makeIpk(dir, `com.example.flood${i}`, '1.0.0', { files: { 'big.bin': crypto.randomBytes(3 << 20).toString('base64') } })));
  for (const p of [dir, path.dirname(ipks[0])]) fs.chmodSync(p, 0o755);
  // One client of uid 65534 sends six /dev/install calls at once (luna-send-pub's name, so the ACG lets it).
  const script = `
    const { LunaClient } = require(${JSON.stringify(scriptFor(path.join(REPO, 'dist/ipc/client.js'), NOBODY))});
    (async () => {
      const c = await LunaClient.connect({ root: ${JSON.stringify(d.root)}, name: 'com.webos.lunasendpub-' + process.pid });
      const ipks = ${JSON.stringify(ipks)};
      const r = await Promise.all(ipks.map((p, i) => c.callOne('luna://com.webos.appInstallService/dev/install', { id: 'flood-' + i, ipkUrl: p })));
      console.log(JSON.stringify(r));
      await c.close();
    })().catch((e) => { console.error(e); process.exit(1); });`;
  const out = await new Promise<string>((resolve, reject) => {
    const p = track(spawn(process.execPath, ['-e', script], { uid: NOBODY, gid: NOBODY, cwd: '/tmp', stdio: ['ignore', 'pipe', 'pipe'] }));
    let o = '', e = '';
    p.stdout!.on('data', (b) => (o += b));
    p.stderr!.on('data', (b) => (e += b));
    p.once('exit', (code) => (code === 0 ? resolve(o) : reject(new Error(e))));
  });
  const replies = JSON.parse(out) as Array<Record<string, unknown>>;
  expect(replies.filter((r) => r.returnValue === true)).toHaveLength(2);
  for (const r of replies.filter((x) => x.returnValue !== true)) expect(r).toMatchObject({ returnValue: false, errorCode: ErrorCode.INSTALL_FAILED, errorText: ErrorText.TOO_MANY_TASKS });
  // root meanwhile is served, and its own requests are not counted against the user
  const rootIpk = await makeIpk(work, 'com.example.rootapp', '1.0.0');
  expect(last((await install(d.root, 'com.example.rootapp', rootIpk)).lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue });
}, 60000);
