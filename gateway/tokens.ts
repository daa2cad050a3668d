// The gateway's tokens file <root>/etc/palm/gateway-tokens.json: {"<token>": {"name": "<client name>"}, …}.
// Root-only (0600, owned by the daemon's uid, else refused); created on first start with one admin token; looked up in constant time.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { GatewayText } from '../status-codes/peer-errors';

export const ADMIN_CLIENT_NAME = 'com.webos.appinstall.admin';
export const TOKENS_FILE = 'etc/palm/gateway-tokens.json';
const MAX_FILE_BYTES = 1024 * 1024;
const MAX_TOKEN_CHARS = 512;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

interface Entry { digest: Buffer; name: string }

export class TokenStore {
  private entries: Entry[] = [];
  private stamp = '';
  private checkedAt = 0;

  private constructor(readonly file: string, private readonly log: (l: string) => void) {}

  /** Opens (creating it on first start) and checks the file; throws when it must not be used. */
  static open(root: string, log: (l: string) => void): TokenStore {
    const file = path.join(root, TOKENS_FILE);
    if (!fs.existsSync(file)) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const token = crypto.randomBytes(32).toString('base64url');
      const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
      try {
        fs.writeSync(fd, `${JSON.stringify({ [token]: { name: ADMIN_CLIENT_NAME } }, null, 2)}\n`);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      log(GatewayText.tokensFileCreated(file, ADMIN_CLIENT_NAME));
    }
    const store = new TokenStore(file, log);
    store.load();
    return store;
  }

  private load(): void {
    const fd = fs.openSync(this.file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    let text: string;
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw new Error(GatewayText.tokensFileUnsafe(this.file, 'not a regular file'));
      if ((st.mode & 0o077) !== 0) throw new Error(GatewayText.tokensFileUnsafe(this.file, `mode ${(st.mode & 0o777).toString(8)} lets group or others read it (chmod 600)`));
      const uid = process.getuid?.() ?? 0;
      if (st.uid !== uid) throw new Error(GatewayText.tokensFileUnsafe(this.file, `owned by uid ${st.uid}, not the daemon's uid ${uid}`));
      if (st.size > MAX_FILE_BYTES) throw new Error(GatewayText.tokensFileBad(this.file, `larger than ${MAX_FILE_BYTES} bytes`));
      text = fs.readFileSync(fd, 'utf8');
      this.stamp = `${st.ino}:${st.size}:${st.mtimeMs}:${st.mode}:${st.uid}`;
    } finally {
      fs.closeSync(fd);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new Error(GatewayText.tokensFileBad(this.file, `not valid JSON: ${(e as Error).message}`));
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(GatewayText.tokensFileBad(this.file, 'must be a JSON object'));
    const entries: Entry[] = [];
    for (const [token, v] of Object.entries(json)) {
      const name = (v as { name?: unknown } | null)?.name;
      if (token.length < 16 || token.length > MAX_TOKEN_CHARS) throw new Error(GatewayText.tokensFileBad(this.file, 'a token must have 16 to 512 characters'));
      if (typeof name !== 'string' || !NAME_RE.test(name)) throw new Error(GatewayText.tokensFileBad(this.file, `token entries need a valid "name" (client name)`));
      entries.push({ digest: digest(token), name });
    }
    this.entries = entries;
  }

  /** Re-reads the file when it changed (checked at most once a second); a file that became unsafe disables every token. */
  private refresh(): void {
    const now = Date.now();
    if (now - this.checkedAt < 1000) return;
    this.checkedAt = now;
    try {
      const st = fs.statSync(this.file);
      if (`${st.ino}:${st.size}:${st.mtimeMs}:${st.mode}:${st.uid}` !== this.stamp) this.load();
    } catch (e) {
      this.entries = [];
      this.stamp = '';
      this.log(`gateway: ${(e as Error).message}; every token refused until it is fixed`);
    }
  }

  /** The client name a token stands for, or null. Every entry is compared (no early exit), each in constant time. */
  lookup(token: string | undefined | null): string | null {
    this.refresh();
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_CHARS) return null;
    const d = digest(token);
    let found: string | null = null;
    for (const e of this.entries) if (crypto.timingSafeEqual(d, e.digest) && found === null) found = e.name;
    return found;
  }
}

function digest(token: string): Buffer {
  return crypto.createHash('sha256').update(token, 'utf8').digest();
}

/** The token of a bearer Authorization header ("Bearer <t>"), else undefined. */
export function bearer(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  const m = /^Bearer[ ]+([^ ]+)[ ]*$/i.exec(header);
  return m ? m[1] : undefined;
}
