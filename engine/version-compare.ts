// Ordering of webOS package versions ("1.0.0", "2.10.3", "1.0.0-beta"): decides upgrade, reinstall or downgrade.
// Pure. A pair with an epoch ("1:2.0") is Debian's and is ordered by engine/dpkg-version.ts (dpkg --compare-versions).
import { compareVersions as compareDpkg } from './dpkg-version';

/** Splits one dot-separated part into runs of digits and non-digits: "10-b2" → [10, "-b", 2]. */
function tokens(part: string): (number | string)[] {
  const out: (number | string)[] = [];
  for (const m of part.matchAll(/(\d+)|(\D+)/g)) out.push(m[1] !== undefined ? Number(m[1]) : m[2]);
  return out;
}

function comparePart(a: string, b: string): number {
  const ta = tokens(a), tb = tokens(b);
  for (let i = 0; i < Math.max(ta.length, tb.length); i++) {
    const x = ta[i], y = tb[i];
    if (x === y) continue;
    // One part ran out: a pre-release suffix ("-beta") makes the longer one older, anything else newer.
    if (x === undefined) return typeof y === 'string' && /^[-~]/.test(y) ? 1 : -1;
    if (y === undefined) return typeof x === 'string' && /^[-~]/.test(x) ? -1 : 1;
    if (typeof x === 'number' && typeof y === 'number') return x < y ? -1 : 1;
    if (typeof x === 'number') return 1;
    if (typeof y === 'number') return -1;
    return x < y ? -1 : 1;
  }
  return 0;
}

/** <0 when a is older than b, 0 when equal, >0 when newer. Parts compare numerically; a missing part counts as "0". */
export function compareVersions(a: string, b: string): number {
  // The webOS order below cannot read an epoch; dpkg's can. Where both read a pair they can disagree ("1.0" vs "1.0.0",
  // "1.0.0-beta" vs "1.0.0"): there the webOS order is kept, as webOS app versions expect.
  if (a.includes(':') || b.includes(':')) {
    const d = compareDpkg(a.trim(), b.trim(), { lenient: true });
    if (d.ok) return d.value;
  }
  const pa = a.trim().split('.'), pb = b.trim().split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const c = comparePart(pa[i] ?? '0', pb[i] ?? '0');
    if (c !== 0) return c;
  }
  return 0;
}

export type VersionChange = 'fresh' | 'upgrade' | 'reinstall' | 'downgrade';

/** What installing `incoming` means given the installed version (undefined = not installed). */
export function classifyVersion(installed: string | undefined, incoming: string): VersionChange {
  if (installed === undefined) return 'fresh';
  const c = compareVersions(incoming, installed);
  return c > 0 ? 'upgrade' : c === 0 ? 'reinstall' : 'downgrade';
}
