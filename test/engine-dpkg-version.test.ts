// engine/dpkg-version.ts against the real `dpkg --compare-versions`: generated pairs (epochs, revisions, `~`, `+`, `.`,
// letters vs digits, leading zeros, absent revision), relations, and dpkg's own error texts; plus a hand table of edges.
import { execFileSync } from 'node:child_process';
import { compareVersions, parseVersion, satisfies, formatVersion, compareFragment } from '../engine/dpkg-version';
import { EngineErrorCode } from '../status-codes/engine';

/** Runs one bash for a whole batch: per line "a<TAB>op<TAB>b", prints 0 (holds), 1 (does not) or 2 (dpkg error) and stderr. */
function dpkgBatch(lines: Array<[string, string, string]>): Array<{ rc: number; err: string }> {
  const script = `
while IFS=$'\\t' read -r a op b; do
  err=$(dpkg --compare-versions "$a" "$op" "$b" 2>&1 >/dev/null); rc=$?
  printf '%s\\t%s\\n' "$rc" "$(printf '%s' "$err" | tr '\\n' ' ')"
done`;
  const out = execFileSync('bash', ['-c', script], { input: lines.map((l) => l.join('\t')).join('\n') + '\n', encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  return out.trimEnd().split('\n').map((l) => {
    const [rc, err] = l.split('\t');
    return { rc: Number(rc), err: err ?? '' };
  });
}

/** A small seeded PRNG (mulberry32), so a failure names a reproducible pair. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = rng(20261127);
const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];

function fragment(first: 'digit' | 'any', extra: string): string {
  const parts: string[] = [];
  const n = 1 + Math.floor(rand() * 5);
  for (let i = 0; i < n; i++) {
    const kind = i === 0 && first === 'digit' ? 'num' : pick(['num', 'num', 'alpha', 'sep', 'tilde']);
    if (kind === 'num') parts.push(pick(['0', '1', '2', '9', '10', '01', '001', '007', '100', '123456789012345678901234567890']));
    else if (kind === 'alpha') parts.push(pick(['a', 'b', 'z', 'A', 'Z', 'rc', 'beta', 'ab']));
    else if (kind === 'tilde') parts.push(pick(['~', '~~', '~a', '~1']));
    else parts.push(pick(['.', '+', ...extra.split('')]));
  }
  return parts.join('');
}

function version(): string {
  const epoch = pick(['', '', '', '0:', '1:', '00:', '2:', '10:', '2147483647:']);
  const upstream = fragment('digit', rand() < 0.3 ? '-' : '');
  const revision = upstream.includes('-') || rand() < 0.5 ? `-${fragment('any', '')}` : '';
  return epoch + upstream + revision;
}

/** b close to a (shares structure), so the comparison is decided by a small detail. */
function mutate(a: string): string {
  const edits = [
    (s: string) => s + pick(['~', '+', '.', 'a', '0', '1', '~rc1', '-0', '-1']),
    (s: string) => s.replace(/\d+/, (d) => pick(['0' + d, String(Number(d.slice(0, 15)) + 1), d.replace(/^0+/, '') || '0'])),
    (s: string) => s.replace(/[a-z]/, pick(['A', '1', '~', '.'])),
    (s: string) => (s.includes(':') ? s.replace(/^\d+:/, pick(['', '0:', '3:'])) : pick(['0:', '1:']) + s),
    (s: string) => s.replace(/~/, pick(['', '~~', '+'])),
    (s: string) => s.replace(/-[^-]*$/, pick(['', '-0', '-1~', '-1.0'])),
  ];
  const b = pick(edits)(a);
  return parseVersion(b).ok ? b : a;
}

test('at least 300 generated pairs compare exactly as dpkg --compare-versions (and every relation agrees)', () => {
  const pairs: Array<[string, string]> = [];
  while (pairs.length < 360) {
    const a = version();
    const b = rand() < 0.6 ? mutate(a) : version();
    if (!parseVersion(a).ok || !parseVersion(b).ok) continue;
    pairs.push([a, b]);
  }
  const ops = ['<<', '<=', '=', '>=', '>>', '<', '>', 'lt', 'eq', 'gt'];
  const lines: Array<[string, string, string]> = [];
  for (const [a, b] of pairs) lines.push([a, 'lt', b], [a, 'eq', b]);
  const relOps = pairs.map(() => pick(ops));
  pairs.forEach(([a, b], i) => lines.push([a, relOps[i], b]));
  const res = dpkgBatch(lines);
  const mismatches: string[] = [];
  let lt = 0, eq = 0, gt = 0;
  pairs.forEach(([a, b], i) => {
    const dlt = res[2 * i], deq = res[2 * i + 1];
    expect(dlt.rc === 2 || deq.rc === 2).toBe(false);
    const expected = dlt.rc === 0 ? -1 : deq.rc === 0 ? 0 : 1;
    const ours = compareVersions(a, b);
    if (!ours.ok || ours.value !== expected) mismatches.push(`${a} vs ${b}: dpkg ${expected}, ours ${JSON.stringify(ours)}`);
    if (expected < 0) lt++; else if (expected === 0) eq++; else gt++;
    const op = relOps[i];
    const word: Record<string, string> = { lt: '<<', eq: '=', gt: '>>' };
    const s = satisfies(a, word[op] ?? op, b);
    const d = res[2 * pairs.length + i];
    if (!s.ok || s.value !== (d.rc === 0)) mismatches.push(`${a} ${op} ${b}: dpkg ${d.rc === 0}, ours ${JSON.stringify(s)}`);
  });
  expect(mismatches).toEqual([]);
  // the generator is worth something only if all three outcomes occur often
  expect(Math.min(lt, eq, gt)).toBeGreaterThan(20);
});

test('hand table of edge cases, each also asked of dpkg', () => {
  const table: Array<[string, '<' | '=' | '>', string]> = [
    ['1.0~rc1', '<', '1.0'],
    ['1.0~', '<', '1.0'],
    ['1.0~~', '<', '1.0~'],
    ['1.0~~a', '<', '1.0~'],
    ['1.0', '<', '1.0+'],
    ['1.0', '<', '1.0.0'],
    ['1.0', '<', '1.0a'],
    ['1.0a', '<', '1.0+'],
    ['1.0a', '<', '1.0.'],
    ['1.0A', '<', '1.0a'],
    ['1.0z', '<', '1.0.'],
    ['1.01', '=', '1.1'],
    ['1.001', '=', '1.1'],
    ['1.0', '=', '1.0-0'],
    ['1.0', '=', '0:1.0'],
    ['00:1.0', '=', '1.0'],
    ['1:0.1', '>', '9.9'],
    ['2147483647:0', '>', '1:99'],
    ['1.2-3', '<', '1.2-3.1'],
    ['1.2-3~1', '<', '1.2-3'],
    ['1-2-3', '>', '1-2'],
    ['1-2-3', '=', '1-2-3'],
    ['1:1:1', '>', '1:1'],
    ['9', '<', '10'],
    ['1.9', '<', '1.10'],
    ['123456789012345678901234567890', '<', '123456789012345678901234567891'],
    ['0001', '=', '1'],
    ['1.0-a', '>', '1.0-9'],
    ['1.0-~', '<', '1.0'],
    ['1.0+~', '<', '1.0+'],
    ['1.0', '>', '1.0~'],
    [' 1.0 ', '=', '1.0'],
    ['+1:0', '=', '1:0'],
  ];
  const res = dpkgBatch(table.flatMap(([a, , b]): Array<[string, string, string]> => [[a, 'lt', b], [a, 'eq', b]]));
  table.forEach(([a, rel, b], i) => {
    const dpkg = res[2 * i].rc === 0 ? '<' : res[2 * i + 1].rc === 0 ? '=' : '>';
    expect(`${a} ${dpkg} ${b}`).toBe(`${a} ${rel} ${b}`); // the table itself is right
    const ours = compareVersions(a, b);
    expect(ours.ok && { '-1': '<', '0': '=', '1': '>' }[String(ours.value)]).toBe(rel);
  });
  expect(compareFragment('~', '')).toBeLessThan(0);
  expect(formatVersion((parseVersion('0:1.0-1') as { ok: true; value: never }).value)).toBe('1.0-1');
});

test("invalid versions are refused with dpkg's own error text; dpkg's warnings are refused unless lenient", () => {
  const errors = [' ', '1 0', ':1', 'a:1', '+:1', '1a:1', '1:', '1-', '1.0-', '1:-1', '0:-1', '1:-', '2147483648:1', '99999999999:1', '1.0-a:b', '1:1.0-1-'];
  const warnings = ['a1', 'x', '1_0', '1@', '1.0-a_b', '1:a', '1.0-1_2'];
  const res = dpkgBatch([...errors, ...warnings].map((v): [string, string, string] => [v, 'eq', '1']));
  errors.forEach((v, i) => {
    expect(res[i].rc).toBe(2);
    const ours = parseVersion(v, { lenient: true });
    expect(ours.ok).toBe(false);
    if (!ours.ok) {
      expect(ours.error.code).toBe(EngineErrorCode.BAD_VERSION);
      expect(res[i].err).toContain(ours.error.text); // dpkg: "dpkg: error: version '…' has bad syntax: …"
    }
  });
  warnings.forEach((v, j) => {
    const d = res[errors.length + j];
    expect(d.err).toContain('warning');
    const strict = parseVersion(v);
    expect(strict.ok).toBe(false);
    if (!strict.ok) expect(d.err).toContain(strict.error.text);
    const lenient = compareVersions(v, '1', { lenient: true });
    expect(lenient.ok && lenient.value === 0).toBe(d.rc === 0);
  });
  // negative epochs cannot be passed to dpkg as an argument (it reads them as options); dpkg's text for them:
  expect(parseVersion('-1:2')).toMatchObject({ ok: false, error: { text: "version '-1:2' has bad syntax: epoch in version is negative" } });
  expect(parseVersion('-0:2').ok).toBe(true);
  expect(parseVersion('1'.repeat(257))).toMatchObject({ ok: false, error: { code: EngineErrorCode.BAD_VERSION } });
  expect(parseVersion(42)).toMatchObject({ ok: false });
  expect(satisfies('1', '=>', '2')).toMatchObject({ ok: false, error: { code: EngineErrorCode.WRONG_PARAMS } });
  expect(satisfies('1', 'constructor', '2').ok).toBe(false);
});

test('lenient comparison of unusual characters follows dpkg (non-letters after letters, bytes of UTF-8)', () => {
  const vs = ['1_0', '1@', '1a', '1é', '1.', '1+', '1~', '1'];
  const lines: Array<[string, string, string]> = [];
  for (const a of vs) for (const b of vs) lines.push([a, 'lt', b], [a, 'eq', b]);
  const res = dpkgBatch(lines);
  let k = 0;
  for (const a of vs) for (const b of vs) {
    const expected = res[k].rc === 0 ? -1 : res[k + 1].rc === 0 ? 0 : 1;
    k += 2;
    expect([a, b, compareVersions(a, b, { lenient: true })]).toEqual([a, b, { ok: true, value: expected }]);
  }
});
