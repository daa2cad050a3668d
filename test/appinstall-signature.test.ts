// Verification and the remaining failure codes through the running service: requireSignature with a trust bundle
// (trusted / untrusted / unsigned / invalid, /install vs /dev/install), the general -1 errors of the installer's own
// I/O, a path owned by no package, and a full rollback after a failure at the bus-file step.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Stage, ErrorCode, ErrorText } from '../status-codes';
import { packApp } from '../ipk/pack';
import { buildAr } from './helpers/ipk-corpus';
import { startDaemon, killAllChildren, install, remove, call, makeIpk, listTree, type Daemon, type Json } from './helpers/appinstall-daemon';

let d: Daemon;
let work: string;
let keys: string;
const last = (l: Json[]) => l[l.length - 1];
const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: keys, stdio: 'pipe' });

/** The members of an ar archive (enough for our own well-formed packages). */
function arMembers(buf: Buffer): Array<[string, Buffer]> {
  const out: Array<[string, Buffer]> = [];
  let at = 8;
  while (at + 60 <= buf.length) {
    const name = buf.toString('latin1', at, at + 16).trim().replace(/\/$/, '');
    const size = Number(buf.toString('latin1', at + 48, at + 58).trim());
    out.push([name, buf.subarray(at + 60, at + 60 + size)]);
    at += 60 + size + (size % 2);
  }
  return out;
}

async function signedIpk(id: string, version: string, key: string, cert: string, body = ''): Promise<string> {
  const src = path.join(work, `signed-${id}-${version}-${path.basename(cert)}-${body.length}`);
  fs.mkdirSync(src, { recursive: true });
  fs.writeFileSync(path.join(src, 'appinfo.json'), JSON.stringify({ id, version, type: 'web', main: 'index.html', title: id, icon: 'icon.png' }));
  fs.writeFileSync(path.join(src, 'index.html'), `<p>${id} ${body}</p>`);
  fs.writeFileSync(path.join(src, 'icon.png'), 'png');
  const out = path.join(src, 'out');
  fs.mkdirSync(out);
  return (await packApp(src, [], { outDir: out, signKey: path.join(keys, key), certificate: path.join(keys, cert) })).file;
}

beforeAll(async () => {
  work = fs.mkdtempSync('/tmp/ai-w-');
  keys = path.join(work, 'keys');
  fs.mkdirSync(keys);
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=Test App Signing CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  ossl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'signer.key', '-out', 'signer.csr', '-subj', '/CN=Test Signer');
  ossl('x509', '-req', '-in', 'signer.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'signer.crt', '-days', '30');
  ossl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'rogue.key', '-out', 'rogue.crt', '-days', '30', '-subj', '/CN=Rogue');
  const root = fs.mkdtempSync('/tmp/ai-');
  fs.chmodSync(root, 0o755);
  fs.mkdirSync(path.join(root, 'etc/ssl/certs'), { recursive: true });
  fs.copyFileSync(path.join(keys, 'ca.crt'), path.join(root, 'etc/ssl/certs/appsigning-bundle.crt'));
  d = await startDaemon({ root, config: { requireSignature: true } });
});
afterAll(async () => {
  await d?.stop();
  killAllChildren();
  fs.rmSync(work, { recursive: true, force: true });
  if (d) fs.rmSync(d.root, { recursive: true, force: true });
});

const failedVerify = (signature: string) => ({
  statusValue: Stage.INSTALL_FAILED.statusValue,
  details: { errorCode: ErrorCode.INSTALL_FAILED, reason: expect.stringMatching(new RegExp(`^${ErrorText.FAILED_VERIFY}`)), signature },
});

test('requireSignature: trusted installs; unsigned, untrusted and invalid are refused with FAILED_VERIFY', async () => {
  const trusted = await signedIpk('com.example.signed', '1.0.0', 'signer.key', 'signer.crt');
  const r = await install(d.root, 'com.example.signed', trusted);
  expect(last(r.lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue, details: { signature: 'trusted' } });

  const unsigned = await makeIpk(work, 'com.example.unsigned', '1.0.0');
  expect(last((await install(d.root, 'com.example.unsigned', unsigned)).lines)).toMatchObject(failedVerify('unsigned'));

  const rogue = await signedIpk('com.example.rogue', '1.0.0', 'rogue.key', 'rogue.crt');
  expect(last((await install(d.root, 'com.example.rogue', rogue)).lines)).toMatchObject(failedVerify('untrusted'));

  // a trusted package's control (certificate + signature) over another data member: the signature no longer matches
  const other = await signedIpk('com.example.signed', '1.0.1', 'signer.key', 'signer.crt', 'tampered');
  const a = arMembers(fs.readFileSync(trusted)), b = arMembers(fs.readFileSync(other));
  const forged = path.join(work, 'forged.ipk');
  fs.writeFileSync(forged, buildAr([a[0], a[1], b[2]]));
  expect(last((await install(d.root, 'com.example.signed', forged)).lines)).toMatchObject(failedVerify('invalid'));
  expect(fs.readFileSync(path.join(d.root, 'media/cryptofs/apps/usr/palm/applications/com.example.signed/index.html'), 'utf8')).not.toContain('tampered');
});

test('on /dev/install an unsigned package is accepted but an invalid signature is still refused', async () => {
  await call(d.root, 'luna://com.webos.service.devmode/setDevMode', { enabled: true });
  const unsigned = await makeIpk(work, 'com.example.devunsigned', '1.0.0');
  expect(last((await install(d.root, 'com.ares.defaultName', unsigned, { dev: true })).lines)).toMatchObject({ statusValue: Stage.INSTALLED.statusValue, details: { signature: 'unsigned', verified: false } });
  const t = await signedIpk('com.example.devsigned', '1.0.0', 'signer.key', 'signer.crt');
  const o = await signedIpk('com.example.devsigned', '1.0.0', 'signer.key', 'signer.crt', 'other body');
  const forged = path.join(work, 'devforged.ipk');
  const a = arMembers(fs.readFileSync(t)), b = arMembers(fs.readFileSync(o));
  fs.writeFileSync(forged, buildAr([a[0], a[1], b[2]]));
  expect(last((await install(d.root, 'com.ares.defaultName', forged, { dev: true })).lines)).toMatchObject(failedVerify('invalid'));
});

test('general errors (-1) of the installer\'s own I/O roll everything back', async () => {
  const ipk = await signedIpk('com.example.general', '1.0.0', 'signer.key', 'signer.crt');
  const apps = path.join(d.root, 'media/cryptofs/apps');
  // the staging root cannot be created: "failed to extract ipk file"
  fs.rmSync(path.join(apps, '.appinstalld-staging'), { recursive: true, force: true });
  fs.writeFileSync(path.join(apps, '.appinstalld-staging'), 'in the way');
  let r = await install(d.root, 'com.example.general', ipk);
  expect(last(r.lines)).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { errorCode: ErrorCode.GENERAL, reason: expect.stringMatching(new RegExp(`^${ErrorText.EXTRACT_IPK_GENERAL}: `)) } });
  fs.rmSync(path.join(apps, '.appinstalld-staging'));
  expect(listTree(path.join(d.root, 'var/lib/appinstalld/journal'))).toEqual([]);

  // the bus files cannot be written: "failed to install service"; the app is rolled back out of place
  const rolesD = path.join(d.root, 'var/luna-service2/roles.d');
  const saved = path.join(work, 'roles.d.saved');
  fs.renameSync(rolesD, saved);
  fs.writeFileSync(rolesD, 'in the way');
  r = await install(d.root, 'com.example.general', ipk);
  fs.rmSync(rolesD);
  fs.renameSync(saved, rolesD);
  expect(last(r.lines)).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { errorCode: ErrorCode.GENERAL, reason: expect.stringMatching(new RegExp(`^${ErrorText.INSTALL_SERVICE_GENERAL}: `)) } });
  expect(fs.existsSync(path.join(apps, 'usr/palm/applications/com.example.general'))).toBe(false);
  expect(fs.existsSync(path.join(apps, 'var/lib/opkg/info/com.example.general.control'))).toBe(false);
  expect(listTree(path.join(d.root, 'var/luna-service2')).filter((f) => f.includes('com.example.general'))).toEqual([]);
  expect(listTree(path.join(apps, '.appinstalld-staging'))).toEqual([]);

  // and then it installs
  expect(last((await install(d.root, 'com.example.general', ipk)).lines).statusValue).toBe(Stage.INSTALLED.statusValue);
});

test('a path that belongs to no package is never overwritten: FAILED_IPKG_INSTALL', async () => {
  const ipk = await signedIpk('com.example.stray', '1.0.0', 'signer.key', 'signer.crt');
  const stray = path.join(d.root, 'media/cryptofs/apps/usr/palm/applications/com.example.stray');
  fs.mkdirSync(stray, { recursive: true });
  fs.writeFileSync(path.join(stray, 'precious'), 'not ours');
  const r = await install(d.root, 'com.example.stray', ipk);
  expect(last(r.lines)).toMatchObject({ statusValue: Stage.INSTALL_FAILED.statusValue, details: { errorCode: ErrorCode.INSTALL_FAILED, reason: expect.stringMatching(new RegExp(`^${ErrorText.FAILED_IPKG_INSTALL}: `)) } });
  expect(fs.readFileSync(path.join(stray, 'precious'), 'utf8')).toBe('not ours');
});

test('a failed remove is -7 FAILED_REMOVE with its cause', async () => {
  await call(d.root, 'luna://com.webos.applicationManager/lockApp', { id: 'com.example.signed', lock: true });
  const r = await remove(d.root, 'com.example.signed');
  expect(last(r.lines)).toMatchObject({ statusValue: Stage.REMOVE_FAILED.statusValue, details: { state: Stage.REMOVE_FAILED.state, errorCode: ErrorCode.REMOVE_FAILED, reason: `${ErrorText.FAILED_REMOVE}: ${ErrorText.APP_LOCKED}: com.example.signed` } });
  await call(d.root, 'luna://com.webos.applicationManager/lockApp', { id: 'com.example.signed', lock: false });
});
