// Verification of ares-package signatures (`--sign KEY --certificate CRT`): RSA-SHA256 over the exact bytes of the
// data.tar.gz member, base64 in control.tar.gz, signer certificate checked against a PEM trust bundle. Not signing (pack.ts).
import { promises as fsp } from 'node:fs';
import crypto, { X509Certificate } from 'node:crypto';
import zlib from 'node:zlib';
import { CodedError, ErrorCode, ErrorText } from '../status-codes';
import { DEFAULT_LIMITS, type ExtractLimits } from './entry-rules';
import { trailingBytes } from './extract';
import { IpkPackage, dataMemberChunks } from './ipk-reader';

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

/**
 * Does the base64 signature verify over the data.tar.gz member with this public key? The member is inflated as it is
 * hashed (output discarded, within the size and ratio limits), so hashing stops at the first chunk past the end of
 * its gzip stream: padding after the stream (a sparse file behind a small gzip) costs no more than the stream itself.
 * Throws CodedError(-5) for such a member.
 */
async function signatureMatches(pkg: IpkPackage, cert: X509Certificate, sig: Buffer, limits: ExtractLimits): Promise<boolean> {
  const verifier = crypto.createVerify('sha256');
  const gunzip = zlib.createGunzip({ chunkSize: 256 * 1024 });
  let inflated = 0;
  let gzError: Error | undefined;
  gunzip.on('data', (c: Buffer) => (inflated += c.length));
  gunzip.on('error', (e: Error) => (gzError = e));
  let fed = 0;
  try {
    for await (const chunk of dataMemberChunks(pkg, 1 << 20)) {
      verifier.update(chunk);
      fed += chunk.length;
      // Bad gzip data is not this check's to report: the signature decides (tampered data is "invalid"), and unpack
      // refuses what does not inflate. Only input past the end of the stream and bombs stop the hashing here.
      if (gzError) continue;
      await new Promise<void>((resolve) => {
        const onError = () => resolve();
        gunzip.once('error', onError);
        gunzip.write(chunk, () => {
          gunzip.off('error', onError);
          resolve();
        });
      });
      if (gzError) continue;
      if (gunzip.bytesWritten < fed) throw trailingBytes(gunzip.bytesWritten, pkg.dataMember.size);
      if (inflated > limits.maxTotalBytes) throw new CodedError(ErrorCode.INSTALL_FAILED, ErrorText.EXTRACT_FAILED, `uncompressed size passes ${limits.maxTotalBytes} bytes`);
      if (inflated > limits.ratioFloorBytes && inflated > limits.maxRatio * fed) {
        throw new CodedError(ErrorCode.INSTALL_FAILED, ErrorText.EXTRACT_FAILED, `uncompressed size passes ${limits.maxRatio}x ratio to the compressed size`);
      }
    }
  } finally {
    gunzip.destroy();
  }
  return verifier.verify(cert.publicKey, sig);
}

/** Verify an opened package's signature against the PEM CA bundle at `bundlePath`. Never throws for signature problems;
 *  throws CodedError(-5) for a data member that is not one gzip stream ending where the member ends, or inflates past the limits. */
export async function verifySignature(pkg: IpkPackage, bundlePath: string, now = new Date(), limits: ExtractLimits = DEFAULT_LIMITS): Promise<SignatureVerdict> {
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
    ok = await signatureMatches(pkg, leaf, Buffer.from(b64, 'base64'), limits);
  } catch (e) {
    if (e instanceof CodedError) throw e; // the member itself is refused (padding after its gzip stream, a bomb)
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
