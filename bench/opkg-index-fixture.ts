// Generated opkg indexes for benchmarks and tests, written the way opkg-make-index writes them (field order,
// MD5Sum, InstalledSize, Description wrapped at 74 columns, a blank line after each stanza). Not opkg-utils.
import crypto from 'node:crypto';

export interface GenPackage {
  name: string;
  version: string;
  depends?: string;
  section?: string;
  architecture?: string;
  maintainer?: string;
  size: number;
  installedSize: number;
  md5: string;
  sha256?: string;
  filename: string;
  description: string;
}

/** Wrap like opkg-make-index: first line after "Description: ", continuation lines indented by one space, ≤ 74 columns. */
function wrapDescription(text: string): string {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let cur = 'Description:';
  for (const w of words) {
    if (cur.length + 1 + w.length > 74 && cur.trim() !== 'Description:') {
      lines.push(cur);
      cur = ' ' + w;
    } else cur += ' ' + w;
  }
  lines.push(cur);
  return lines.join('\n');
}

/** One stanza in opkg-make-index's field order (opkg.py Package.__str__); `openwrt` adds SHA256sum and spells Installed-Size. */
export function formatStanza(p: GenPackage, style: 'opkg-make-index' | 'openwrt' = 'opkg-make-index'): string {
  const out: string[] = [`Package: ${p.name}`, `Version: ${p.version}`];
  if (p.depends) out.push(`Depends: ${p.depends}`);
  if (p.section) out.push(`Section: ${p.section}`);
  out.push(`Architecture: ${p.architecture ?? 'all'}`);
  if (p.maintainer) out.push(`Maintainer: ${p.maintainer}`);
  if (style === 'openwrt') {
    out.push(`Installed-Size: ${p.installedSize}`, `Filename: ${p.filename}`, `Size: ${p.size}`);
    if (p.sha256) out.push(`SHA256sum: ${p.sha256}`);
    out.push(`MD5Sum: ${p.md5}`);
  } else {
    out.push(`MD5Sum: ${p.md5}`, `Size: ${p.size}`);
    if (p.sha256) out.push(`SHA256sum: ${p.sha256}`);
    out.push(`InstalledSize: ${p.installedSize}`, `Filename: ${p.filename}`);
  }
  out.push(wrapDescription(p.description));
  return out.join('\n') + '\n';
}

export function formatIndex(pkgs: GenPackage[], style: 'opkg-make-index' | 'openwrt' = 'opkg-make-index'): string {
  return pkgs.map((p) => formatStanza(p, style) + '\n').join('');
}

const SECTIONS = ['games', 'utils', 'net', 'multimedia', 'libs'];
const WORDS = 'the quick brown fox jumps over lazy dog television remote channel stream player widget service daemon library codec'.split(' ');

/** `count` packages pkg-00000…, deterministic; every tenth depends on the next one, with a version constraint. */
export function generatePackages(count: number, opts: { version?: (i: number) => string; prefix?: string } = {}): GenPackage[] {
  const prefix = opts.prefix ?? 'pkg';
  const out: GenPackage[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${prefix}-${String(i).padStart(5, '0')}`;
    const version = opts.version ? opts.version(i) : `1.${i % 7}.${i % 3}`;
    const h = crypto.createHash('sha256').update(name + version).digest();
    const desc = Array.from({ length: 12 + (i % 30) }, (_, k) => WORDS[(h[k % 32] + k) % WORDS.length]).join(' ');
    out.push({
      name,
      version,
      depends: i % 10 === 0 && i + 1 < count ? `${prefix}-${String(i + 1).padStart(5, '0')} (>= 1.0), libc` : i % 10 === 5 ? 'libc | musl' : undefined,
      section: SECTIONS[i % SECTIONS.length],
      maintainer: 'Test Maintainer <test@example.com>',
      size: 1000 + h.readUInt16BE(0),
      installedSize: 4000 + h.readUInt16BE(2),
      md5: h.subarray(0, 16).toString('hex'),
      sha256: h.toString('hex'),
      filename: `${name}_${version}_all.ipk`,
      description: `Package ${name} for tests. ${desc}`,
    });
  }
  return out;
}

