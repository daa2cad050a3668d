// usign / signify (Ed25519) public keys and signatures, read and verified with node:crypto only, as OpenWrt's opkg
// checks Packages.sig (`usign -V -P /etc/opkg/keys -m Packages -x Packages.sig`). Not a signer and not a key manager.
//
// Formats (usign main.c, signify): a file is "untrusted comment: ...\n" then one base64 line.
//   public key: "Ed" (2) + fingerprint (8) + Ed25519 public key (32)   = 42 bytes
//   signature:  "Ed" (2) + fingerprint (8) + Ed25519 signature (64)   = 74 bytes
// The signature is plain Ed25519 over the message bytes. usign looks the key up as <keydir>/<fingerprint as 16 hex>.
import crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { CodedError } from '../status-codes';
import { FeedErrorCode, FeedText } from '../status-codes/feeds';

export const USIGN_MAX_FILE_BYTES = 4096;
const COMMENT_PREFIX = 'untrusted comment: ';

export interface UsignKey {
  fingerprint: string;
  publicKey: crypto.KeyObject;
  comment: string;
}
export interface UsignSignature {
  fingerprint: string;
  signature: Buffer;
  comment: string;
}

function decodeBlob(text: string, expectLen: number, fail: (why: string) => CodedError): { blob: Buffer; comment: string } {
  if (text.length > USIGN_MAX_FILE_BYTES) throw fail(`larger than ${USIGN_MAX_FILE_BYTES} bytes`);
  const lines = text.split('\n');
  if (!lines[0].startsWith(COMMENT_PREFIX)) throw fail(`first line is not "${COMMENT_PREFIX.trim()} ..."`);
  const b64 = (lines[1] ?? '').trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw fail('second line is not base64');
  const blob = Buffer.from(b64, 'base64');
  if (blob.length !== expectLen) throw fail(`decodes to ${blob.length} bytes, not ${expectLen}`);
  if (blob[0] !== 0x45 || blob[1] !== 0x64) throw fail('algorithm is not "Ed"');
  return { blob, comment: lines[0].slice(COMMENT_PREFIX.length) };
}

export function parsePublicKey(text: string, what = 'public key'): UsignKey {
  const { blob, comment } = decodeBlob(text, 42, (why) => new CodedError(FeedErrorCode.BAD_SIGNATURE, FeedText.badKeyFile(what, why)));
  const x = blob.subarray(10, 42);
  const publicKey = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: x.toString('base64url') }, format: 'jwk' });
  return { fingerprint: blob.subarray(2, 10).toString('hex'), publicKey, comment };
}

export function parseSignature(text: string, what = 'signature'): UsignSignature {
  const { blob, comment } = decodeBlob(text, 74, (why) => new CodedError(FeedErrorCode.BAD_SIGNATURE, FeedText.badSignatureFile(what, why)));
  return { fingerprint: blob.subarray(2, 10).toString('hex'), signature: Buffer.from(blob.subarray(10, 74)), comment };
}

/** True when `sig` is a valid signature of `message` by `key` (fingerprints must match too, as usign requires). */
export function verifyWithKey(message: Uint8Array, sig: UsignSignature, key: UsignKey): boolean {
  if (sig.fingerprint !== key.fingerprint) return false;
  return crypto.verify(null, message, key.publicKey, sig.signature);
}

async function readBounded(file: string): Promise<string> {
  const fh = await fs.open(file, 'r');
  try {
    const buf = Buffer.alloc(USIGN_MAX_FILE_BYTES + 1);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead).toString('latin1');
  } finally {
    await fh.close();
  }
}

/**
 * Verify `message` against the signature text, with the key named by the signature's fingerprint in `keyDir`.
 * Throws a CodedError (BAD_SIGNATURE) saying why when it does not verify.
 */
export async function verifyUsign(message: Uint8Array, sigText: string, keyDir: string, what = 'Packages.sig'): Promise<UsignKey> {
  const sig = parseSignature(sigText, what);
  const keyFile = path.join(keyDir, sig.fingerprint);
  let keyText: string;
  try {
    keyText = await readBounded(keyFile);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CodedError(FeedErrorCode.BAD_SIGNATURE, FeedText.noKeyForSignature(sig.fingerprint, keyDir));
    throw new CodedError(FeedErrorCode.BAD_SIGNATURE, FeedText.badKeyFile(keyFile, (e as Error).message));
  }
  const key = parsePublicKey(keyText, keyFile);
  if (key.fingerprint !== sig.fingerprint || !verifyWithKey(message, sig, key)) {
    throw new CodedError(FeedErrorCode.BAD_SIGNATURE, FeedText.signatureMismatch(sig.fingerprint));
  }
  return key;
}

/** Format helpers (tests and tools that make usign files with node:crypto keys). */
export function formatPublicKey(fingerprint: Buffer, publicKey: crypto.KeyObject, comment = 'usign public key'): string {
  const x = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  return `${COMMENT_PREFIX}${comment}\n${Buffer.concat([Buffer.from('Ed'), fingerprint, x]).toString('base64')}\n`;
}
export function signUsign(message: Uint8Array, fingerprint: Buffer, privateKey: crypto.KeyObject, comment = 'signed by key'): string {
  const sig = crypto.sign(null, message, privateKey);
  return `${COMMENT_PREFIX}${comment} ${fingerprint.toString('hex')}\n${Buffer.concat([Buffer.from('Ed'), fingerprint, sig]).toString('base64')}\n`;
}
