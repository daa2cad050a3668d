// Unit tests of luna-send's command line and output text (luna-send/options.ts, luna-send/output.ts): pure.
import { parseArgs } from '../luna-send/options';
import { applyQuery, formatReply, formatTiming, parseQueryPath } from '../luna-send/output';

function ok(argv: string[]) {
  const r = parseArgs(argv);
  if (!r.ok) throw new Error(r.error);
  return r.options;
}
function bad(argv: string[]): string {
  const r = parseArgs(argv);
  if (r.ok) throw new Error(`expected an error for ${argv.join(' ')}`);
  return r.error;
}

describe('parseArgs', () => {
  test('every option, getopt style', () => {
    const o = ok(['-n', '3', '-i', '-f', '-l', '-q', 'a.b', '-q', 'c[1]', '-w', '500', '-a', 'com.app', '-m', 'com.me', '-d', '-P', 'luna://com.x.y/m', '{}']);
    expect(o).toMatchObject({ count: 3, interactive: true, pretty: true, lineNumbers: true, queries: ['a.b', 'c[1]'], waitMs: 500,
      appId: 'com.app', name: 'com.me', debug: true, deprecatedPublic: true, uri: 'luna://com.x.y/m', payload: '{}' });
  });
  test('clusters, attached values, options after the arguments, --', () => {
    expect(ok(['-fl', '-n1', 'luna://com.x.y/m', '{}', '-t', '5'])).toMatchObject({ pretty: true, lineNumbers: true, count: 1, timing: 5, payload: '{}' });
    expect(ok(['-s', '--', 'luna://com.x.y/m', '{}'])).toMatchObject({ signal: true, uri: 'luna://com.x.y/m' });
    expect(ok(['-h'])).toMatchObject({ help: true });
    expect(ok(['--help'])).toMatchObject({ help: true });
    expect(ok(['--root', '/tmp/r', '-i', 'u', 'p']).root).toBe('/tmp/r');
    expect(ok(['--root=/tmp/r2', '-i', 'u', 'p']).root).toBe('/tmp/r2');
  });
  test('clear errors', () => {
    expect(bad(['-x', 'u', 'p'])).toBe('unknown option -x');
    expect(bad(['--frob'])).toBe('unknown option --frob');
    expect(bad(['-n'])).toBe('option -n needs a value');
    expect(bad(['-n', 'abc', 'u', 'p'])).toMatch(/-n needs a whole number/);
    expect(bad(['-n', '0', 'u', 'p'])).toMatch(/-n needs a number of at least 1/);
    expect(bad(['-t', '-1', 'u', 'p'])).toMatch(/-t needs a whole number/);
    expect(bad(['-q', 'a[x]', 'u', 'p'])).toMatch(/^option -q: bad array index/);
    expect(bad(['-i', 'u', '{"a":', '1}'])).toMatch(/too many arguments/);
  });
});

describe('queries', () => {
  const v = { a: { b: [0, 1, { c: 'deep' }] }, list: [[1, 2], [3, 4]], returnValue: true };
  test('paths', () => {
    expect(parseQueryPath('a.b[2].c').steps).toEqual([{ key: 'a' }, { key: 'b' }, { index: 2 }, { key: 'c' }]);
    expect(applyQuery(v, 'a.b[2].c')).toBe('deep');
    expect(applyQuery(v, 'list[1][0]')).toBe(3);
    expect(applyQuery(v, 'returnValue')).toBe(true);
    expect(applyQuery(v, 'a.nope')).toBeUndefined();
    expect(applyQuery(v, 'a.b[9]')).toBeUndefined();
    expect(applyQuery(v, 'a[0]')).toBeUndefined();
    for (const p of ['', '.a', 'a..b', 'a[', 'a[]', 'a[-1]']) expect(parseQueryPath(p).error).toBeDefined();
  });
});

describe('formatReply', () => {
  const p = { returnValue: true, obj: { x: [1, 2] } };
  const plain = { pretty: false, lineNumbers: false, queries: [] };
  test('compact by default', () => {
    expect(formatReply(p, 0, plain)).toBe('{"returnValue":true,"obj":{"x":[1,2]}}');
  });
  test('-l prefixes the index as %2d: ', () => {
    expect(formatReply(p, 0, { ...plain, lineNumbers: true })).toBe(' 0: {"returnValue":true,"obj":{"x":[1,2]}}');
    expect(formatReply({}, 12, { ...plain, lineNumbers: true })).toBe('12: {}');
  });
  test('-f pretty-prints with 4 spaces; with -l continuation lines line up after the prefix', () => {
    expect(formatReply({ a: 1, b: [2] }, 0, { ...plain, pretty: true })).toBe('{\n    "a": 1,\n    "b": [\n        2\n    ]\n}');
    expect(formatReply({ a: 1 }, 3, { ...plain, pretty: true, lineNumbers: true })).toBe(' 3: {\n        "a": 1\n    }');
  });
  test('-q keeps only the queried values (null when absent), in query order', () => {
    expect(formatReply(p, 0, { ...plain, queries: ['obj.x[1]', 'returnValue', 'missing'] })).toBe('{"obj.x[1]":2,"returnValue":true,"missing":null}');
  });
  test('-t summary', () => {
    expect(formatTiming(12.3456, 4, 100, 80)).toBe('Total time 12.35 ms, 4 iterations, 3.09 ms per iteration\n100 bytes sent, 80 bytes received');
  });
});
