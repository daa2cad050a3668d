// Makes opkg feed directories for tests: Packages and Packages.gz as opkg-make-index writes them (the stanzas come
// from bench/opkg-index-fixture.ts), optionally usign-signed with node:crypto, plus keys and opkg.conf files.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { formatPublicKey, signUsign } from '../../feeds/usign';
import { formatIndex, type GenPackage } from '../../bench/opkg-index-fixture';

export { formatIndex, formatStanza, generatePackages, type GenPackage } from '../../bench/opkg-index-fixture';

export interface UsignTestKey {
  fingerprint: Buffer;
  fingerprintHex: string;
  privateKey: crypto.KeyObject;
  publicKey: crypto.KeyObject;
  publicKeyText: string;
}

export function makeUsignKey(): UsignTestKey {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  const fingerprint = crypto.randomBytes(8);
  return { fingerprint, fingerprintHex: fingerprint.toString('hex'), privateKey, publicKey, publicKeyText: formatPublicKey(fingerprint, publicKey) };
}

/** Put a public key where opkg-lede/usign look for it: <root>/etc/opkg/keys/<fingerprint hex>. */
export function installKey(root: string, key: UsignTestKey): void {
  const dir = path.join(root, 'etc/opkg/keys');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, key.fingerprintHex), key.publicKeyText);
}

/** Write Packages, Packages.gz (gzip -9 as opkg-make-index's callers do) and, with a key, Packages.sig into `dir`. */
export function writeFeed(dir: string, pkgs: GenPackage[], opts: { key?: UsignTestKey; style?: 'opkg-make-index' | 'openwrt' } = {}): Buffer {
  fs.mkdirSync(dir, { recursive: true });
  const text = Buffer.from(formatIndex(pkgs, opts.style));
  fs.writeFileSync(path.join(dir, 'Packages'), text);
  fs.writeFileSync(path.join(dir, 'Packages.gz'), zlib.gzipSync(text, { level: 9 }));
  if (opts.key) fs.writeFileSync(path.join(dir, 'Packages.sig'), signUsign(text, opts.key.fingerprint, opts.key.privateKey));
  else fs.rmSync(path.join(dir, 'Packages.sig'), { force: true });
  return text;
}

/** <root>/etc/opkg/NAME.conf with the given lines. */
export function writeConf(root: string, name: string, lines: string[]): void {
  const dir = path.join(root, 'etc/opkg');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, name), lines.join('\n') + '\n');
}

/** The index stanza of a real package file, as opkg-make-index writes it (Size, MD5Sum, SHA256sum, Filename). */
export function stanzaOf(name: string, version: string, file: string, depends?: string): GenPackage {
  const data = fs.readFileSync(file);
  return {
    name, version, depends, section: 'apps', maintainer: 'Test <t@example.com>', size: data.length, installedSize: data.length * 4,
    md5: crypto.createHash('md5').update(data).digest('hex'), sha256: crypto.createHash('sha256').update(data).digest('hex'),
    filename: path.basename(file), description: `Test package ${name}`,
  };
}
