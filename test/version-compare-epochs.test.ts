// The webOS version order of upgrade/downgrade checks (engine/version-compare.ts): pairs with an epoch
// are ordered as dpkg --compare-versions orders them (engine/dpkg-version.ts); webOS's own cases keep their order.
import { classifyVersion, compareVersions } from '../engine/version-compare';
import { compareVersions as dpkg } from '../engine/dpkg-version';

describe('epochs follow dpkg', () => {
  test.each([
    ['1:0.1', '2.0', 1], ['2.0', '1:0.1', -1], ['1:1.0', '1:1.0', 0], ['2:0', '1:9.9', 1], ['0:1.0', '1.0', 0],
    ['1:1.0~rc1', '1:1.0', -1], ['1:1.0-2', '1:1.0-10', -1], ['1:2.10', '1:2.9', 1],
  ])('%s vs %s → %d', (a, b, want) => {
    expect(Math.sign(compareVersions(a as string, b as string))).toBe(want);
    expect(dpkg(a as string, b as string)).toEqual({ ok: true, value: want });
  });
  test('an upgrade to an epoch version is an upgrade, not a downgrade', () => {
    expect(classifyVersion('9.9.9', '1:1.0.0')).toBe('upgrade');
    expect(classifyVersion('1:1.0.0', '9.9.9')).toBe('downgrade');
  });
  test('the webOS order is kept where the two differ', () => {
    expect(compareVersions('1.0', '1.0.0')).toBe(0);
    expect(Math.sign(compareVersions('1.0.0-beta', '1.0.0'))).toBe(-1);
  });
  test('where both read a pair without epochs, they agree on 200 generated pairs of dotted numbers and ~ suffixes', () => {
    let seed = 12;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
    const gen = () => [1 + rnd(3), rnd(12), rnd(12)].slice(0, 2 + rnd(2)).join('.') + (rnd(4) === 0 ? `~rc${rnd(3)}` : '');
    for (let i = 0; i < 200; i++) {
      let a = gen(), b = gen();
      // equal-length dotted forms: "1.0" vs "1.0.0" is where webOS and dpkg differ on purpose
      const n = Math.max(a.split('.').length, b.split('.').length);
      const pad = (v: string) => { const [num, tilde] = v.split('~'); const p = num.split('.'); while (p.length < n) p.push('0'); return p.join('.') + (tilde ? `~${tilde}` : ''); };
      a = pad(a); b = pad(b);
      const d = dpkg(a, b);
      expect([a, b, Math.sign(compareVersions(a, b))]).toEqual([a, b, d.ok ? d.value : NaN]);
    }
  });
});
