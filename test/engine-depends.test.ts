// engine/depends.ts: Depends parsing (alternatives, relations, arch qualifiers, white space, bounds, errors), unmet
// clauses in words before an install, and the dependants that refuse a remove.
import { parseDepends, formatClause, checkDependsForInstall, unmetClauses, installedVersions, dependantsOf, checkRemove, MAX_DEPENDS_ENTRIES, MAX_DEPENDS_LENGTH } from '../engine/depends';
import { EngineErrorCode } from '../status-codes/engine';

const clausesOf = (f: string) => {
  const r = parseDepends(f);
  if (!r.ok) throw new Error(r.error.text);
  return r.value.map(formatClause);
};

test('parses names, relations (obsolete < > read as <= >=), alternatives, arch qualifiers and any white space', () => {
  expect(clausesOf('libfoo')).toEqual(['libfoo']);
  expect(clausesOf('libfoo (>= 1.2), libbar(<<2:3-1~rc),a|b')).toEqual(['libfoo (>= 1.2)', 'libbar (<< 2:3-1~rc)', 'a | b']);
  expect(clausesOf('a (< 1), b (> 2), c (= 3), d (<= 4), e (>> 5)')).toEqual(['a (<= 1)', 'b (>= 2)', 'c (= 3)', 'd (<= 4)', 'e (>> 5)']);
  expect(clausesOf('python3:any (>= 3.9), com.example.lib:native')).toEqual(['python3:any (>= 3.9)', 'com.example.lib:native']);
  expect(clausesOf(' a\n  (\t>=  1.0 ) ,\n b |\n c ,')).toEqual(['a (>= 1.0)', 'b | c']);
  expect(clausesOf('')).toEqual([]);
  expect(parseDepends(undefined)).toEqual({ ok: true, value: [] });
  expect(parseDepends('  \n ')).toEqual({ ok: true, value: [] });
});

test('bad fields are refused with a clear error naming the clause', () => {
  const cases: Array<[unknown, RegExp]> = [
    ['a,,b', /empty clause/],
    ['a, , b', /empty clause/],
    [',', /empty clause/],
    ['a | | b', /empty alternative/],
    ['a |', /empty alternative/],
    ['Foo', /invalid package name 'Foo'/],
    ['-a', /invalid package name/],
    ['a b', /unexpected text 'b'/],
    ['a (>= 1', /without a closing/],
    ['a (=> 1)', /unknown version relation '=>'/],
    ['a (>=)', /version missing/],
    ['a (>= x1)', /version 'x1' has bad syntax: version number does not start with digit/],
    ['a (>= 1:)', /nothing after colon/],
    ['a (1.0)', /\(op version\)/],
    ['a (>= 1) (>= 2)', /./],
    ['a [amd64]', /architecture restrictions/],
    ['a:Any', /invalid architecture qualifier/],
    ['a:', /invalid architecture qualifier/],
    [42, /must be a string/],
    ['x'.repeat(300), /longer than 255/],
    ['a,'.repeat(MAX_DEPENDS_ENTRIES + 1), /more than 256 packages/],
    ['a'.repeat(MAX_DEPENDS_LENGTH + 1), /longer than 16384 characters/],
  ];
  for (const [field, re] of cases) {
    const r = parseDepends(field);
    expect([field, r.ok]).toEqual([field, false]);
    if (!r.ok) {
      expect(r.error.code).toBe(EngineErrorCode.BAD_DEPENDS);
      expect(r.error.text).toMatch(re);
      expect(r.error.text.length).toBeLessThan(300);
    }
  }
});

test('an install lists every unmet clause in words; met ones are not named', () => {
  const installed = [
    { id: 'libfoo', version: '1.1' },
    { id: 'libbar', version: '2:0.9-1' },
    { id: 'b', version: '1.0~rc1' },
    { id: 'weird', version: 'not a version' },
  ];
  const r = checkDependsForInstall('libfoo (>= 1.2), libbar (>> 1:5), a | b (>= 1.0), c, libfoo, weird, weird (>= 0)', installed);
  expect(r).toMatchObject({ ok: false, error: { code: EngineErrorCode.DEPENDS_UNMET, text: 'unmet dependencies: libfoo (>= 1.2), a | b (>= 1.0), c, weird (>= 0)' } });
  expect(r.unmet).toEqual(['libfoo (>= 1.2)', 'a | b (>= 1.0)', 'c', 'weird (>= 0)']);
  expect(checkDependsForInstall('libfoo (<< 1.1.0), b (>= 1.0~), libbar (= 2:0.9-1)', installed)).toEqual({ ok: true, value: undefined });
  expect(checkDependsForInstall('libfoo (>= ', installed)).toMatchObject({ ok: false, error: { code: EngineErrorCode.BAD_DEPENDS } });
  expect(checkDependsForInstall(undefined, [])).toEqual({ ok: true, value: undefined });
  const p = parseDepends('a (= 1.0)');
  expect(p.ok && unmetClauses(p.value, installedVersions([{ id: 'a', version: '1.0-0' }]))).toEqual([]);
});

test('a remove is refused naming the packages that would lose a dependency; alternatives still met do not count', () => {
  const installed = [
    { id: 'lib', version: '1.0' },
    { id: 'alt', version: '1.0' },
    { id: 'app1', version: '1', depends: 'lib (>= 1.0)' },
    { id: 'app2', version: '1', depends: 'lib | alt' },
    { id: 'app3', version: '1', depends: 'lib (>= 2.0) | alt' },
    { id: 'app0', version: '1', depends: 'other, lib' },
    { id: 'broken', version: '1', depends: 'lib (((' },
    { id: 'lib-self', version: '1', depends: 'lib-self' },
  ];
  expect(dependantsOf('lib', installed)).toEqual(['app0', 'app1']);
  expect(checkRemove('lib', installed)).toMatchObject({ ok: false, dependants: ['app0', 'app1'], error: { code: EngineErrorCode.HAS_DEPENDANTS, text: 'lib is needed by installed packages: app0, app1' } });
  // alt alone: app2 still has lib, app3's "lib (>= 2.0)" is not met so alt is what it needs
  expect(checkRemove('alt', installed)).toMatchObject({ ok: false, error: { text: 'alt is needed by installed package: app3' } });
  expect(checkRemove('app1', installed)).toEqual({ ok: true, value: undefined });
  expect(checkRemove('lib-self', installed)).toEqual({ ok: true, value: undefined });
  expect(checkRemove('not-installed', installed)).toEqual({ ok: true, value: undefined });
});
