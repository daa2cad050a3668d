// Signatures in the ares-package format, with a CA and signers made here by the openssl CLI: a package signed by
// `ipk pack --sign` is trusted against a bundle holding its CA; tampered data is invalid; a foreign signer is
// untrusted; no signature is unsigned. Needs `openssl` (Debian package openssl).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { closeIpk, openIpk } from '../ipk/ipk-reader';
import { extractData } from '../ipk/extract';
import { verifySignature, checkTrust, parsePemCertificates } from '../ipk/signature';
import { packApp } from '../ipk/pack';

let work: string;
const at = (...p: string[]) => path.join(work, ...p);
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: work, stdio: 'pipe' });

function makeCa(name: string): void {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-subj', `/CN=${name}`, '-days', '30',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
}
function makeSigner(name: string, ca: string, asCa = false): void {
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  const ext = asCa ? ['-extfile', 'ca.ext'] : [];
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '10', ...ext);
}

let signedIpk: string;
let foreignIpk: string;
let unsignedIpk: string;
let chainIpk: string;

beforeAll(async () => {
  work = fs.mkdtempSync('/tmp/ai-');
  fs.writeFileSync(at('ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n');
  makeCa('Test Root CA');
  makeCa('Other CA');
  makeCa('Unrelated CA');
  makeSigner('Test Signer', 'Test Root CA');
  makeSigner('Foreign Signer', 'Other CA');
  makeSigner('Intermediate CA', 'Test Root CA', true);
  makeSigner('Chain Signer', 'Intermediate CA');
  // The signer's certificate file carries its intermediate, as a chain file would.
  fs.writeFileSync(at('chain.pem'), fs.readFileSync(at('Chain Signer.crt'), 'utf8') + fs.readFileSync(at('Intermediate CA.crt'), 'utf8'));
  // The trust bundle: an unrelated CA first, then ours (not Other CA).
  fs.writeFileSync(at('bundle.crt'), fs.readFileSync(at('Unrelated CA.crt'), 'utf8') + fs.readFileSync(at('Test Root CA.crt'), 'utf8'));
  const app = at('app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'appinfo.json'), JSON.stringify({ id: 'com.example.signed', version: '1.0.0', type: 'web', main: 'index.html', title: 'S', icon: 'icon.png' }));
  fs.writeFileSync(path.join(app, 'index.html'), 'x'.repeat(5000));
  signedIpk = (await packApp(app, [], { outDir: at('signed'), signKey: at('Test Signer.key'), certificate: at('Test Signer.crt') })).file;
  foreignIpk = (await packApp(app, [], { outDir: at('foreign'), signKey: at('Foreign Signer.key'), certificate: at('Foreign Signer.crt') })).file;
  unsignedIpk = (await packApp(app, [], { outDir: at('unsigned') })).file;
  chainIpk = (await packApp(app, [], { outDir: at('chain'), signKey: at('Chain Signer.key'), certificate: at('chain.pem') })).file;
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

test('control.tar.gz of a signed package holds the certificate and data.tar.gz.sha256.txt (base64)', async () => {
  const pkg = await openIpk(signedIpk);
  expect(pkg.controlFiles.sort()).toEqual(['Test Signer.crt', 'control', 'data.tar.gz.sha256.txt'].sort());
  expect(pkg.signature!.signatureB64).toMatch(/^[A-Za-z0-9+/]+=*$/);
  // The signature is over the exact bytes of the data.tar.gz member, as `openssl dgst -sha256 -verify` sees it.
  const data = fs.readFileSync(signedIpk).subarray(pkg.dataMember.offset, pkg.dataMember.offset + pkg.dataMember.size);
  fs.writeFileSync(at('data.tar.gz'), data);
  fs.writeFileSync(at('sig.bin'), Buffer.from(pkg.signature!.signatureB64!, 'base64'));
  fs.writeFileSync(at('signer.pub'), new X509Certificate(fs.readFileSync(at('Test Signer.crt'))).publicKey.export({ type: 'spki', format: 'pem' }));
  expect(openssl('dgst', '-sha256', '-verify', 'signer.pub', '-signature', 'sig.bin', 'data.tar.gz').toString()).toMatch(/Verified OK/);
});

test('a package signed by a signer of a CA in the bundle is trusted', async () => {
  const v = await verifySignature(await openIpk(signedIpk), at('bundle.crt'));
  expect(v).toEqual({ result: 'trusted', signer: 'Test Signer' });
  const r = spawnSync(process.execPath, [path.resolve(__dirname, '../dist/ipk/ipk-cli.js'), 'info', signedIpk, '--bundle', at('bundle.crt')], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/Signature:\s+trusted \(signer: Test Signer\)/);
});

test('the same package is untrusted once its certificate has expired', async () => {
  const later = new Date(Date.now() + 20 * 24 * 3600 * 1000);
  const v = await verifySignature(await openIpk(signedIpk), at('bundle.crt'), later);
  expect(v.result).toBe('untrusted');
  expect(v.detail).toMatch(/expired/);
});

test('tampered data under a genuine signature is invalid', async () => {
  const pkg = await openIpk(signedIpk);
  const bytes = fs.readFileSync(signedIpk);
  bytes[pkg.dataMember.offset + Math.floor(pkg.dataMember.size / 2)] ^= 0xff;
  const tampered = at('tampered.ipk');
  fs.writeFileSync(tampered, bytes);
  const v = await verifySignature(await openIpk(tampered), at('bundle.crt'));
  expect(v).toEqual({ result: 'invalid', signer: 'Test Signer', detail: 'signature does not match data.tar.gz' });
});

test('a valid signature by a signer outside the bundle is untrusted', async () => {
  const v = await verifySignature(await openIpk(foreignIpk), at('bundle.crt'));
  expect(v.result).toBe('untrusted');
  expect(v.signer).toBe('Foreign Signer');
  expect(v.detail).toMatch(/not issued by a certificate in the trust bundle/);
});

test('a package without signature is unsigned; a missing bundle makes a good signature untrusted', async () => {
  expect(await verifySignature(await openIpk(unsignedIpk), at('bundle.crt'))).toEqual({ result: 'unsigned' });
  const v = await verifySignature(await openIpk(signedIpk), at('no-such-bundle.crt'));
  expect(v.result).toBe('untrusted');
  expect(v.detail).toMatch(/no trust bundle/);
});

test('a signature without a certificate, or garbage instead of base64, is invalid', async () => {
  const pkg = await openIpk(signedIpk);
  const noCert = { ...pkg, signature: { signatureB64: pkg.signature!.signatureB64 } };
  expect((await verifySignature(noCert, at('bundle.crt'))).result).toBe('invalid');
  const garbage = { ...pkg, signature: { ...pkg.signature!, signatureB64: '!!not base64!!' } };
  expect(await verifySignature(garbage, at('bundle.crt'))).toMatchObject({ result: 'invalid', detail: expect.stringMatching(/not base64/) });
});

test('a signer certified through an intermediate shipped in the certificate file is trusted', async () => {
  expect(await verifySignature(await openIpk(chainIpk), at('bundle.crt'))).toEqual({ result: 'trusted', signer: 'Chain Signer' });
});

test('checkTrust: a self-signed certificate listed in the bundle is trusted; without the intermediate the chain breaks', () => {
  const pem = (n: string) => parsePemCertificates(fs.readFileSync(at(n), 'utf8'))[0];
  const ca = pem('Test Root CA.crt');
  expect(checkTrust(ca, [], [ca])).toBeUndefined();
  expect(checkTrust(pem('Test Signer.crt'), [], [ca])).toBeUndefined();
  expect(checkTrust(pem('Test Signer.crt'), [], [])).toMatch(/not issued/);
  expect(checkTrust(pem('Chain Signer.crt'), [pem('Intermediate CA.crt')], [ca])).toBeUndefined();
  expect(checkTrust(pem('Chain Signer.crt'), [], [ca])).toMatch(/not issued/);
  // A non-CA certificate cannot act as an intermediate.
  expect(checkTrust(pem('Chain Signer.crt'), [pem('Test Signer.crt')], [ca])).toMatch(/not issued/);
});

test('a package opened with keepOpen is verified and unpacked from the bytes opened, even if its path is replaced meanwhile', async () => {
  const evilApp = at('evil-app');
  fs.mkdirSync(evilApp);
  fs.writeFileSync(path.join(evilApp, 'appinfo.json'), JSON.stringify({ id: 'com.example.signed', version: '1.0.0', type: 'web', main: 'index.html', title: 'S', icon: 'icon.png' }));
  fs.writeFileSync(path.join(evilApp, 'index.html'), 'evil'.repeat(1250));
  const evilIpk = (await packApp(evilApp, [], { outDir: at('evil') })).file;
  const swapped = at('swapped.ipk');
  fs.copyFileSync(signedIpk, swapped);
  const pkg = await openIpk(swapped, { keepOpen: true });
  try {
    fs.renameSync(evilIpk, swapped); // another user replaces the file after it was opened
    expect(await verifySignature(pkg, at('bundle.crt'))).toMatchObject({ result: 'trusted' });
    const staging = at('swap-staging');
    await extractData(pkg, staging);
    expect(fs.readFileSync(path.join(staging, 'usr/palm/applications/com.example.signed/index.html'), 'utf8')).toBe('x'.repeat(5000));
  } finally {
    await closeIpk(pkg);
  }
  expect(pkg.handle).toBeUndefined();
});
