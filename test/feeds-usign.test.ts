// feeds/usign.ts: usign/signify Ed25519 keys and signatures made here with node:crypto, and made by the real
// signify-openbsd from Debian (installed by the test helper when missing), verified against <root>/etc/opkg/keys/.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CodedError } from '../status-codes';
import { parsePublicKey, parseSignature, signUsign, verifyUsign } from '../feeds/usign';
import { ensureTool } from '../bench/debian-tool';
import { formatIndex, generatePackages, installKey, makeUsignKey } from './helpers/opkg-feed';

let work: string;
beforeAll(() => (work = fs.mkdtempSync('/tmp/ai-usign-')));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const text = (e: unknown) => (e instanceof CodedError ? e.text : String(e));
async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'verified';
  } catch (e) {
    return text(e);
  }
}

test('a signature made with node:crypto in usign format verifies; tampering with index, signature or key fails', async () => {
  const root = path.join(work, 'r1');
  const key = makeUsignKey();
  installKey(root, key);
  const keys = path.join(root, 'etc/opkg/keys');
  const index = Buffer.from(formatIndex(generatePackages(20)));
  const sig = signUsign(index, key.fingerprint, key.privateKey);
  expect(sig).toMatch(/^untrusted comment: .*\n[A-Za-z0-9+/]+=*\n$/);
  expect(parseSignature(sig).fingerprint).toBe(key.fingerprintHex);
  expect(parsePublicKey(key.publicKeyText).fingerprint).toBe(key.fingerprintHex);
  expect((await verifyUsign(index, sig, keys)).fingerprint).toBe(key.fingerprintHex);

  const tampered = Buffer.from(index);
  tampered[100] ^= 1;
  expect(await failure(verifyUsign(tampered, sig, keys))).toBe(`Signature verification failed (key ${key.fingerprintHex})`);
  const blob = Buffer.from(sig.split('\n')[1], 'base64');
  blob[40] ^= 0x80;
  expect(await failure(verifyUsign(index, `untrusted comment: x\n${blob.toString('base64')}\n`, keys))).toBe(`Signature verification failed (key ${key.fingerprintHex})`);

  // Another key: no key file by that fingerprint.
  const other = makeUsignKey();
  expect(await failure(verifyUsign(index, signUsign(index, other.fingerprint, other.privateKey), keys))).toBe(`no public key ${other.fingerprintHex} in ${keys}`);
  // A key file named by our fingerprint but holding another key: refused.
  fs.writeFileSync(path.join(keys, other.fingerprintHex), key.publicKeyText);
  expect(await failure(verifyUsign(index, signUsign(index, other.fingerprint, other.privateKey), keys))).toBe(`Signature verification failed (key ${other.fingerprintHex})`);
});

test('malformed key and signature files are refused with why', async () => {
  const bad = (t: string) => {
    try {
      parseSignature(t, 'S');
      return 'parsed';
    } catch (e) {
      return text(e);
    }
  };
  expect(bad('comment: x\nAAAA\n')).toBe('usign signature S: first line is not "untrusted comment: ..."');
  expect(bad('untrusted comment: x\n!!!\n')).toBe('usign signature S: second line is not base64');
  expect(bad(`untrusted comment: x\n${Buffer.alloc(42).toString('base64')}\n`)).toBe('usign signature S: decodes to 42 bytes, not 74');
  expect(bad(`untrusted comment: x\n${Buffer.alloc(74).toString('base64')}\n`)).toBe('usign signature S: algorithm is not "Ed"');
  expect(bad(`untrusted comment: ${'x'.repeat(5000)}\n`)).toBe('usign signature S: larger than 4096 bytes');
  expect(() => parsePublicKey(`untrusted comment: x\n${Buffer.alloc(74).toString('base64')}\n`, 'K')).toThrow('usign public key K: decodes to 74 bytes, not 42');
});

describe('with the real signify-openbsd (Debian)', () => {
  let signify: string;
  beforeAll(() => {
    signify = ensureTool(['signify-openbsd', 'signify'], ['signify-openbsd']);
  }, 600_000);

  test('its key and signature verify with node:crypto, and its verifier accepts ours', async () => {
    const dir = path.join(work, 'signify');
    fs.mkdirSync(dir);
    const pub = path.join(dir, 'k.pub');
    const sec = path.join(dir, 'k.sec');
    execFileSync(signify, ['-G', '-n', '-c', 'test key', '-p', pub, '-s', sec]);
    const index = path.join(dir, 'Packages');
    fs.writeFileSync(index, formatIndex(generatePackages(100)));
    execFileSync(signify, ['-S', '-s', sec, '-m', index, '-x', `${index}.sig`]);
    // opkg-lede's layout: the key file named by its fingerprint.
    const root = path.join(dir, 'root');
    const key = parsePublicKey(fs.readFileSync(pub, 'utf8'));
    fs.mkdirSync(path.join(root, 'etc/opkg/keys'), { recursive: true });
    fs.copyFileSync(pub, path.join(root, 'etc/opkg/keys', key.fingerprint));
    const data = fs.readFileSync(index);
    expect((await verifyUsign(data, fs.readFileSync(`${index}.sig`, 'utf8'), path.join(root, 'etc/opkg/keys'))).fingerprint).toBe(key.fingerprint);
    const tampered = Buffer.concat([data, Buffer.from('\n')]);
    expect(await failure(verifyUsign(tampered, fs.readFileSync(`${index}.sig`, 'utf8'), path.join(root, 'etc/opkg/keys')))).toMatch(/^Signature verification failed/);

    // The other way: a key and signature we write are accepted by signify -V.
    const ours = makeUsignKey();
    fs.writeFileSync(path.join(dir, 'ours.pub'), ours.publicKeyText);
    fs.writeFileSync(path.join(dir, 'ours.sig'), signUsign(data, ours.fingerprint, ours.privateKey));
    expect(execFileSync(signify, ['-V', '-p', path.join(dir, 'ours.pub'), '-m', index, '-x', path.join(dir, 'ours.sig')], { encoding: 'utf8' })).toMatch(/Signature Verified/);
    fs.writeFileSync(path.join(dir, 'bad'), tampered);
    expect(() => execFileSync(signify, ['-V', '-p', path.join(dir, 'ours.pub'), '-m', path.join(dir, 'bad'), '-x', path.join(dir, 'ours.sig')], { stdio: 'pipe' })).toThrow();
  });
});
