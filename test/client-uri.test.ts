// Unit tests of bus URI and command-line payload parsing (ipc/uri.ts): pure, no sockets.
import { BusErrorText, CodedError } from '../status-codes';
import { formatUri, parsePayload, parseUri, pathBasename, pathDirname } from '../ipc/uri';

function thrown(fn: () => unknown): CodedError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CodedError);
    return e as CodedError;
  }
  throw new Error('expected a CodedError');
}

describe('parseUri', () => {
  test.each([
    ['luna://com.webos.appInstallService/dev/install', 'com.webos.appInstallService', '/dev', 'install'],
    ['luna://com.webos.appInstallService/install', 'com.webos.appInstallService', '/', 'install'],
    ['palm://com.palm.foo/a/b/c/m_1', 'com.palm.foo', '/a/b/c', 'm_1'],
    ['luna://com.webos.service.bus/signal/addmatch', 'com.webos.service.bus', '/signal', 'addmatch'],
    ['luna://a_1.B2/_x', 'a_1.B2', '/', '_x'],
    ['luna://com.x.y/1.0/dev-tools/get', 'com.x.y', '/1.0/dev-tools', 'get'],
    // luna-send's default name (docs/luna-send.md) must be a valid service name.
    ['luna://com.webos.lunasend-1234/m', 'com.webos.lunasend-1234', '/', 'm'],
    // As luna-service2 takes them (g_path_get_dirname / g_path_get_basename of the path): ares-cli joins
    // "luna:/", service, folder and method with "/", so a method without a folder arrives as "//method".
    ['luna://com.webos.service.sessionmanager//getSessionList', 'com.webos.service.sessionmanager', '/', 'getSessionList'],
    ['luna://com.x.y///m', 'com.x.y', '/', 'm'],
    ['luna://com.x.y/a//m', 'com.x.y', '/a', 'm'],
    ['luna://com.x.y/a/b///m', 'com.x.y', '/a/b', 'm'],
    // Trailing slashes are ignored by basename; dirname then keeps the method's own name as the last segment.
    ['luna://com.x.y/m/', 'com.x.y', '/m', 'm'],
    ['luna://com.x.y/a/m//', 'com.x.y', '/a/m', 'm'],
    ['palm://com.x.y//m', 'com.x.y', '/', 'm'],
  ])('%s', (uri, service, category, method) => {
    expect(parseUri(uri)).toEqual({ service, category, method });
  });

  test.each([
    ['http://com.x.y/m', 'it must start with luna:// or palm://'],
    ['com.x.y/m', 'it must start with luna:// or palm://'],
    ['luna://com.x.y', 'it has no method'],
    ['luna://com.x.y/', 'the method name is empty'],
    ['luna://com.x.y//', 'the method name is empty'],
    ['luna://com.x.y///', 'the method name is empty'],
    ['luna://comxy/m', 'must contain at least one "."'],
    ['luna:///m', 'the service name is empty'],
    ['luna://com.1x.y/m', 'invalid component "1x"'],
    ['luna://com..y/m', 'invalid component ""'],
    ['luna://com.-x.y/m', 'invalid component "-x"'],
    ['luna://com.x.y/cat/1method', 'method name "1method" must match'],
    ['luna://com.x.y/cat/me-thod', 'method name "me-thod" must match'],
    // An empty segment inside the category (not just before the method) stays refused, as luna-service2 refuses it.
    ['luna://com.x.y/a//b/m', 'empty path segment'],
    ['luna://com.x.y//a/m', 'empty path segment'],
    ['luna://com.x.y/a//b//m', 'empty path segment'],
    ['luna://com.x.y/a b/m', 'invalid segment "a b"'],
  ])('refuses %s', (uri, why) => {
    const e = thrown(() => parseUri(uri));
    expect(e.code).toBe(-1);
    expect(e.text.startsWith(BusErrorText.invalidUri(uri, '').trimEnd())).toBe(true);
    expect(e.text).toContain(why);
  });

  test('formatUri is the inverse for both category shapes', () => {
    for (const uri of ['luna://com.x.y/m', 'luna://com.x.y/dev/install', 'luna://com.x.y/a/b/m']) {
      expect(formatUri(parseUri(uri))).toBe(uri);
    }
  });
});

describe('parsePayload', () => {
  test('objects pass', () => {
    expect(parsePayload('{}')).toEqual({});
    expect(parsePayload(' {"a":[1,{"b":null}]} ')).toEqual({ a: [1, { b: null }] });
  });
  test('empty text', () => {
    for (const t of ['', '   ', '\n']) {
      const e = thrown(() => parsePayload(t));
      expect(e.code).toBe(-1);
      expect(e.text).toBe(BusErrorText.emptyPayload);
    }
  });
  test('malformed JSON names the problem', () => {
    const e = thrown(() => parsePayload('{"a":'));
    expect(e.text.startsWith(BusErrorText.malformedJson(''))).toBe(true);
    expect(e.text.length).toBeGreaterThan(BusErrorText.malformedJson('').length);
  });
  test.each(['[]', '[1]', '1', '"x"', 'null', 'true'])('non-object %s', (t) => {
    expect(thrown(() => parsePayload(t)).text).toBe(BusErrorText.payloadNotObject);
  });
});

describe('pathDirname / pathBasename follow glib', () => {
  // g_path_get_dirname and g_path_get_basename, as glib documents and implements them.
  test.each([
    ['/m', '/', 'm'],
    ['//m', '/', 'm'],
    ['/a/m', '/a', 'm'],
    ['/a//m', '/a', 'm'],
    ['/a/b/m', '/a/b', 'm'],
    ['/a/m/', '/a/m', 'm'],
    ['/', '/', '/'],
    ['//', '/', '/'],
    ['m', '.', 'm'],
    ['', '.', '.'],
  ])('%j', (p, dir, base) => {
    expect(pathDirname(p)).toBe(dir);
    expect(pathBasename(p)).toBe(base);
  });
});
