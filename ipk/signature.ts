// Verification of ares-package signatures (`--sign KEY --certificate CRT`): RSA-SHA256 over the exact bytes of the
// data.tar.gz member, base64 in control.tar.gz, signer certificate checked against a PEM trust bundle. Not signing (pack.ts).
import { promises as fsp } from 'node:fs';
import crypto, { X509Certificate } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { IpkPackage, dataMemberStream } from './ipk-reader';

export type SignatureResult = 'trusted' | 'untrusted' | 'invalid' | 'unsigned';
export interface SignatureVerdict {
  result: SignatureResult;
  signer?: string;
  detail?: string;
}

const MAX_CHAIN = 8;

/** Pure: every PEM CERTIFICATE block of a text, parsed; unparsable blocks are skipped. */
export function parsePemCertificates(text: string): X509Certificate[] {
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const out: X509Certificate[] = [];
  for (const b of blocks) {
    try {
      out.push(new X509Certificate(b));
    } catch {
      /* skip a broken block */
    }
  }
  return out;
}

/** Pure: the CN of a certificate subject, else the whole subject on one line. */
export function commonName(cert: X509Certificate): string {
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject);
  return cn ? cn[1] : cert.subject.replace(/\n/g, ', ');
}

function validNow(c: X509Certificate, now: Date): string | undefined {
  if (now < new Date(c.validFrom)) return `certificate "${commonName(c)}" is not valid before ${c.validFrom}`;
  if (now > new Date(c.validTo)) return `certificate "${commonName(c)}" expired on ${c.validTo}`;
  return undefined;
}

/** Pure (no I/O): is `leaf` (with optional intermediates) anchored in `bundle` at time `now`? Returns a problem or undefined. */
export function checkTrust(leaf: X509Certificate, intermediates: X509Certificate[], bundle: X509Certificate[], now = new Date()): string | undefined {
  let current = leaf;
  for (let depth = 0; depth < MAX_CHAIN; depth++) {
    const dated = validNow(current, now);
    if (dated) return dated;
    if (bundle.some((b) => b.fingerprint256 === current.fingerprint256)) return undefined;
    const anchor = bundle.find((b) => current.checkIssued(b) && current.verify(b.publicKey));
    if (anchor) return validNow(anchor, now);
    const next = intermediates.find((c) => c.ca && current.checkIssued(c) && current.verify(c.publicKey));
    if (!next || next === current) break;
    current = next;
  }
  return `signer "${commonName(leaf)}" is not issued by a certificate in the trust bundle`;
}

/** Does the base64 signature verify over the data.tar.gz member with this public key? */
async function signatureMatches(pkg: IpkPackage, cert: X509Certificate, sig: Buffer): Promise<boolean> {
  const verifier = crypto.createVerify('sha256');
  await pipeline(dataMemberStream(pkg, 1 << 20), verifier);
  return verifier.verify(cert.publicKey, sig);
}

/** Verify an opened package's signature against the PEM CA bundle at `bundlePath`. Never throws for package problems. */
export async function verifySignature(pkg: IpkPackage, bundlePath: string, now = new Date()): Promise<SignatureVerdict> {
  const s = pkg.signature;
  if (!s || !s.signatureB64) {
    return s?.certificatePem ? { result: 'unsigned', detail: 'a certificate but no data.tar.gz.sha256.txt in control.tar.gz' } : { result: 'unsigned' };
  }
  if (!s.certificatePem) return { result: 'invalid', detail: 'a signature but no certificate in control.tar.gz' };
  const certs = parsePemCertificates(s.certificatePem);
  if (certs.length === 0) return { result: 'invalid', detail: `certificate ${s.certificateName ?? ''} cannot be parsed`.replace('  ', ' ') };
  const [leaf, ...intermediates] = certs;
  const signer = commonName(leaf);
  const b64 = s.signatureB64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) return { result: 'invalid', signer, detail: 'data.tar.gz.sha256.txt is not base64' };
  let ok: boolean;
  try {
    ok = await signatureMatches(pkg, leaf, Buffer.from(b64, 'base64'));
  } catch (e) {
    return { result: 'invalid', signer, detail: `signature cannot be checked: ${(e as Error).message}` };
  }
  if (!ok) return { result: 'invalid', signer, detail: 'signature does not match data.tar.gz' };
  let bundleText: string;
  try {
    bundleText = await fsp.readFile(bundlePath, 'utf8');
  } catch {
    return { result: 'untrusted', signer, detail: `no trust bundle at ${bundlePath}` };
  }
  const problem = checkTrust(leaf, intermediates, parsePemCertificates(bundleText), now);
  return problem ? { result: 'untrusted', signer, detail: problem } : { result: 'trusted', signer };
}
