// Thunder PackageManager over the gateway (docs/gateway.md): `npm start`'s process, a ThunderJS-like WebSocket
// client and fetch over HTTP; installs of a local .ipk end to end; engine methods (lock, metadata, storage, cancel)
// fully once the engine branch's bus methods exist, and mapped to ERROR_UNAVAILABLE (2) until then.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { killAllChildren, makeIpk, call, install as busInstall, remove as busRemove } from './helpers/appinstall-daemon';
import { READER, READER_FILES, rpc, startGatewayDaemon, ThunderJsLike, type GatewayDaemon } from './helpers/gateway';

let g: GatewayDaemon;
let ipk: string;
const READER_TOKEN = 'reader-token-0123456789abcdef';
beforeAll(async () => {
  g = await startGatewayDaemon({ files: READER_FILES, tokens: { [READER_TOKEN]: READER } });
  const dir = fs.mkdtempSync('/tmp/gwt-');
  fs.chmodSync(dir, 0o755);
  ipk = await makeIpk(dir, 'com.example.thunder', '1.0.0', { files: { 'big.bin': 'x'.repeat(300_000) } });
});
afterAll(async () => {
  await g?.d.stop();
  killAllChildren();
});

const PM = 'PackageManager';

test('ThunderJS-style client: register, install with Progress events rising to Success, getlist, uninstall', async () => {
  const t = await ThunderJsLike.connect(g.host, g.port, g.token);
  const events: any[] = [];
  await t.on(PM, 'operationstatus', (p) => events.push(p));
  const handle = await t.call(PM, 'install', { type: 'application/vnd.rdk-app.dac.native', id: 'com.example.thunder', versionAsParameter: '1.0.0', url: ipk, appname: 'Thunder', category: 'test' });
  expect(handle).toMatch(/^\d+$/);
  const deadline = Date.now() + 30000;
  while (!events.some((e) => e.handle === handle && e.status !== 'Progress') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const mine = events.filter((e) => e.handle === handle);
  expect(mine[mine.length - 1]).toEqual({ handle, operation: 'Installing', type: 'application/vnd.rdk-app.dac.native', id: 'com.example.thunder', version: '1.0.0', status: 'Success', details: '' });
  const progress = mine.filter((e) => e.status === 'Progress');
  expect(progress.length).toBeGreaterThan(0);
  for (const e of progress) expect(e.details).toMatch(/^(DOWNLOADING|UNTARING|UPDATING_DATABASE|FINISHED) \d+ %$/);
  const pcts = progress.map((e) => Number(/(\d+) %/.exec(e.details)![1]));
  expect([...pcts].sort((a, b) => a - b)).toEqual(pcts);
  expect(await t.call(PM, 'getlist', {})).toContainEqual({ id: 'com.example.thunder', version: '1.0.0' });
  // Installing the same (id, version) again: LISA's 1003.
  await expect(t.call(PM, 'install', { type: 't', id: 'com.example.thunder', versionAsParameter: '1.0.0', url: ipk })).rejects.toEqual({ code: 1003, message: 'ERROR_ALREADY_INSTALLED' });
  // getprogress of a finished handle: 1001 (LISA: only the current task).
  await expect(t.call(PM, 'getprogress', { handle })).rejects.toEqual({ code: 1001, message: 'ERROR_WRONG_PARAMS' });
  await expect(t.call(PM, 'uninstall', { type: 't', id: 'com.example.thunder', versionAsParameter: '1.0.0', uninstalltype: 'sideways' })).rejects.toEqual({ code: 1001, message: 'ERROR_WRONG_PARAMS' });
  const h2 = await t.call(PM, 'uninstall', { type: 't', id: 'com.example.thunder', versionAsParameter: '1.0.0', uninstalltype: 'full' });
  while (!events.some((e) => e.handle === h2 && e.status !== 'Progress') && Date.now() < deadline + 30000) await new Promise((r) => setTimeout(r, 50));
  expect(events.filter((e) => e.handle === h2)).toEqual([{ handle: h2, operation: 'Uninstalling', type: 't', id: 'com.example.thunder', version: '1.0.0', status: 'Success', details: '' }]);
  expect(await t.call(PM, 'getlist', { id: 'com.example.thunder' })).toEqual([]);
  // A failed install: a file that is not a package.
  const bad = path.join(path.dirname(ipk), 'bad.ipk');
  fs.writeFileSync(bad, 'not an ipk');
  const h3 = await t.call(PM, 'install', { type: 't', id: 'com.example.bad', versionAsParameter: '1', url: `file://${bad}` });
  while (!events.some((e) => e.handle === h3 && e.status !== 'Progress') && Date.now() < deadline + 60000) await new Promise((r) => setTimeout(r, 50));
  const last = events.filter((e) => e.handle === h3).pop();
  expect(last.status).toBe('Failed');
  expect(last.details).not.toBe('');
  t.close();
});

test('built-ins: register/unregister/exists/versions with Thunder results and errors, over WebSocket and HTTP', async () => {
  const t = await ThunderJsLike.connect(g.host, g.port, g.token);
  expect(await t.call(PM, 'register', { event: 'operationstatus', id: 'x.y' })).toBe(0);
  await expect(t.call(PM, 'register', { event: 'operationstatus', id: 'x.y' })).rejects.toEqual({ code: 29, message: 'Duplicate registration. Only 1 remains!!!' });
  expect(await t.call(PM, 'unregister', { event: 'operationstatus', id: 'x.y' })).toBe(0);
  await expect(t.call(PM, 'unregister', { event: 'operationstatus', id: 'x.y' })).rejects.toEqual({ code: -32601, message: 'Registration not found!!!' });
  await expect(t.call(PM, 'register', { event: 'operationstatus' })).rejects.toEqual({ code: -32602, message: 'Invalid parameters.' });
  expect(await t.call(PM, 'exists', { method: 'getlockinfo' })).toBe(true);
  expect(await t.call(PM, 'exists', { method: 'nope' })).toBe(false);
  expect(await t.call(PM, 'versions')).toEqual([1]);
  await expect(t.call(PM, 'nosuchmethod', {})).rejects.toEqual({ code: -32601, message: 'Unknown method.' });
  t.close();
  for (const cs of ['PackageManager', 'org.rdk.PackageManager']) {
    const r = await rpc(g.base, g.token, { jsonrpc: '2.0', id: 7, method: `${cs}.1.exists`, params: { method: 'install' } });
    expect(r).toMatchObject({ status: 200, json: { jsonrpc: '2.0', id: 7, result: true } });
    const r2 = await rpc(g.base, g.token, { jsonrpc: '2.0', id: 8, method: '1.versions' }, { path: `/jsonrpc/${cs}`, bearer: true });
    expect(r2.json).toEqual({ jsonrpc: '2.0', id: 8, result: [1] });
    const r3 = await rpc(g.base, g.token, { jsonrpc: '2.0', id: 9, method: 'getlist', params: {} }, { path: `/jsonrpc/${cs}` });
    expect(Array.isArray(r3.json.result)).toBe(true);
  }
  // designator errors: unsupported version, unknown callsign on /jsonrpc
  expect((await rpc(g.base, g.token, { jsonrpc: '2.0', id: 1, method: 'PackageManager.2.getlist' })).json.error).toEqual({ code: -32602, message: 'Requested version is not supported.' });
  expect((await rpc(g.base, g.token, { jsonrpc: '2.0', id: 1, method: 'Nope.1.getlist' })).json.error).toEqual({ code: 22, message: 'ERROR_UNKNOWN_KEY' });
  expect((await rpc(g.base, g.token, { jsonrpc: '2.0', id: 1, method: 'PackageManager.1.cancel', params: {} })).json.error).toEqual({ code: 1001, message: 'ERROR_WRONG_PARAMS' });
});

test('HTTP quirks: 405 for non-POST, 400 for bad JSON, 204 without id, -32600 for a non-request', async () => {
  const get = await rpc(g.base, g.token, null, { method: 'GET' });
  expect(get.status).toBe(405);
  expect(get.text).toBe('JSON-RPC only supported via POST request');
  const bad = await rpc(g.base, g.token, null, { raw: '{"jsonrpc":' });
  expect(bad.status).toBe(400);
  expect(bad.json.error).toEqual({ code: -32700, message: 'JSON was incorrectly formatted' });
  const note = await rpc(g.base, g.token, { jsonrpc: '2.0', method: 'PackageManager.1.getlist', params: {} });
  expect(note.status).toBe(204);
  expect(note.text).toBe('');
  expect((await rpc(g.base, g.token, [1, 2])).json.error).toEqual({ code: -32600, message: 'Invalid Request' });
  expect((await rpc(g.base, g.token, { jsonrpc: '1.0', id: 3, method: 'PackageManager.1.getlist' })).json.error.code).toBe(-32600);
});

test('tokens: none or wrong is 401 with -32604 (HTTP and WebSocket); a read-only client may list but not install', async () => {
  for (const tok of [null, 'wrong-token-wrong-token']) {
    const r = await rpc(g.base, tok, { jsonrpc: '2.0', id: 1, method: 'PackageManager.1.getlist', params: {} });
    expect(r.status).toBe(401);
    expect(r.json.error).toEqual({ code: -32604, message: 'Request needs authorization. Missing or invalid token.' });
    await expect(ThunderJsLike.connect(g.host, g.port, tok ?? '')).rejects.toThrow('HTTP 401');
  }
  const reader = await ThunderJsLike.connect(g.host, g.port, READER_TOKEN);
  expect(Array.isArray(await reader.call(PM, 'getlist', {}))).toBe(true);
  await expect(reader.call(PM, 'install', { type: 't', id: 'com.example.ro', versionAsParameter: '1.0.0', url: ipk })).rejects.toEqual({ code: -32604, message: 'method invokation not allowed.' });
  reader.close();
  const apps = await call(g.root, 'luna://com.webos.applicationManager/listApps', {});
  expect(apps.apps.map((a: any) => a.id)).not.toContain('com.example.ro');
});

test('an app locked through applicationManager/lockApp: uninstall refused with 1009, allowed once unlocked', async () => {
  const t = await ThunderJsLike.connect(g.host, g.port, g.token);
  const events: any[] = [];
  await t.on(PM, 'operationstatus', (p) => events.push(p));
  const until = async (pred: () => boolean) => { const end = Date.now() + 30000; while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 50)); };
  const h = await t.call(PM, 'install', { type: 't', id: 'com.example.thunder', versionAsParameter: '1.0.0', url: ipk });
  await until(() => events.some((e) => e.handle === h && e.status !== 'Progress'));
  expect((await call(g.root, 'luna://com.webos.applicationManager/lockApp', { id: 'com.example.thunder', lock: true })).returnValue).toBe(true);
  await expect(t.call(PM, 'uninstall', { type: 't', id: 'com.example.thunder', versionAsParameter: '1.0.0', uninstalltype: 'full' })).rejects.toEqual({ code: 1009, message: 'ERROR_APP_LOCKED' });
  expect(await t.call(PM, 'getlist', { id: 'com.example.thunder' })).toEqual([{ id: 'com.example.thunder', version: '1.0.0' }]);
  await call(g.root, 'luna://com.webos.applicationManager/lockApp', { id: 'com.example.thunder', lock: false });
  const h2 = await t.call(PM, 'uninstall', { type: 't', id: 'com.example.thunder', versionAsParameter: '1.0.0', uninstalltype: 'full' });
  await until(() => events.some((e) => e.handle === h2 && e.status !== 'Progress'));
  expect(events.filter((e) => e.handle === h2).pop()).toMatchObject({ status: 'Success', operation: 'Uninstalling' });
  t.close();
});

test('operations other front-ends start (luna-send) reach registered clients; a client that may not watch cannot register', async () => {
  const t = await ThunderJsLike.connect(g.host, g.port, g.token);
  const events: any[] = [];
  await t.on(PM, 'operationstatus', (p) => events.push(p));
  const dir = fs.mkdtempSync('/tmp/gwt-');
  fs.chmodSync(dir, 0o755);
  const other = await makeIpk(dir, 'com.example.bybus', '2.0.0');
  const r = await busInstall(g.root, 'com.example.bybus', other);
  expect(r.lines.pop()?.statusValue).toBe(30);
  const end = Date.now() + 10000;
  while (!events.some((e) => e.id === 'com.example.bybus' && e.status === 'Success') && Date.now() < end) await new Promise((res) => setTimeout(res, 50));
  const mine = events.filter((e) => e.id === 'com.example.bybus');
  expect(mine.pop()).toMatchObject({ operation: 'Installing', status: 'Success', details: '', handle: expect.stringMatching(/^\d+$/) });
  expect(mine.every((e) => e.status === 'Progress' && /^(DOWNLOADING|UNTARING|UPDATING_DATABASE|FINISHED) \d+ %$/.test(e.details))).toBe(true);
  await busRemove(g.root, 'com.example.bybus');
  while (!events.some((e) => e.id === 'com.example.bybus' && e.operation === 'Uninstalling') && Date.now() < end + 10000) await new Promise((res) => setTimeout(res, 50));
  expect(events.filter((e) => e.id === 'com.example.bybus' && e.operation === 'Uninstalling')).toEqual([expect.objectContaining({ status: 'Success' })]);
  t.close();
  const reader = await ThunderJsLike.connect(g.host, g.port, READER_TOKEN);
  await expect(reader.on(PM, 'operationstatus', () => undefined)).rejects.toEqual({ code: -32604, message: 'method invokation not allowed.' });
  reader.close();
});

// The engine's /lock, /unlock, /getLockInfo, /metadata/get|setAux|clearAux, /storage/details|reset, /operations/cancel.
test('engine methods: lock refuses uninstall with 1009, storage details, metadata and aux metadata, cancel', async () => {
  const t = await ThunderJsLike.connect(g.host, g.port, g.token);
  const events: any[] = [];
  await t.on(PM, 'operationstatus', (p) => events.push(p));
  await t.call(PM, 'install', { type: 't', id: 'com.example.thunder', versionAsParameter: '1.0.0', url: ipk });
  const until = async (pred: () => boolean) => { const end = Date.now() + 30000; while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 50)); };
  await until(() => events.some((e) => e.status !== 'Progress'));
  {
    const lh = await t.call(PM, 'lock', { type: 't', id: 'com.example.thunder', versionAsParameter: '1.0.0', reason: 'r', owner: 'o' });
    expect(lh).toMatch(/^\d+$/);
    expect(await t.call(PM, 'getlockinfo', { type: 't', id: 'com.example.thunder', versionAsParameter: '1.0.0' })).toEqual({ reason: 'r', owner: 'o' });
    await expect(t.call(PM, 'uninstall', { type: 't', id: 'com.example.thunder', versionAsParameter: '1.0.0', uninstalltype: 'full' })).rejects.toEqual({ code: 1009, message: 'ERROR_APP_LOCKED' });
    expect(await t.call(PM, 'unlock', { handle: lh })).toBeNull();
    await expect(t.call(PM, 'unlock', { handle: lh })).rejects.toEqual({ code: 1007, message: 'ERROR_WRONG_HANDLE' });
  }
  {
    const s = await t.call(PM, 'getstoragedetails', { type: '', id: '', versionAsParameter: '' });
    expect(Object.keys(s.apps).sort()).toEqual(['path', 'quotakb', 'usedkb']);
    expect(typeof s.persistent.usedkb).toBe('string');
  }
  await expect(t.call(PM, 'getstoragedetails', { type: 't' })).rejects.toEqual({ code: 1001, message: 'ERROR_WRONG_PARAMS' });
  {
    expect(await t.call(PM, 'setauxmetadata', { type: 't', id: 'com.example.thunder', versionAsParameter: '1.0.0', key: 'k', value: 'v' })).toBeNull();
    const md = await t.call(PM, 'getmetadata', { type: 't', id: 'com.example.thunder', versionAsParameter: '1.0.0' });
    expect(md.auxmetadata).toEqual([{ key: 'k', value: 'v' }]);
    expect(Object.keys(md.metadata).sort()).toEqual(['appname', 'category', 'type', 'url']);
    expect(await t.call(PM, 'clearauxmetadata', { type: 't', id: 'com.example.thunder', versionAsParameter: '1.0.0', key: 'k' })).toBeNull();
  }
  // cancel: only the running operation before 90 % (LISA); the engine's /operations/cancel does the work.
  const big = await makeIpk(path.dirname(path.dirname(ipk)), 'com.example.cancel', '1.0.0', { files: { 'big.bin': crypto.randomBytes(24_000_000).toString('base64') } });
  const hc = await t.call(PM, 'install', { type: 't', id: 'com.example.cancel', versionAsParameter: '1.0.0', url: big });
  expect(await t.call(PM, 'cancel', { handle: hc })).toBeNull();
  await until(() => events.some((e) => e.handle === hc && e.status !== 'Progress'));
  expect(events.filter((e) => e.handle === hc).pop()).toMatchObject({ status: 'Cancelled', details: '' });
  await expect(t.call(PM, 'cancel', { handle: '12345' })).rejects.toEqual({ code: 1001, message: 'ERROR_WRONG_PARAMS' });
  // reset: the app's persistent data emptied (/storage/reset); an app that is not installed is wrong params.
  expect(await t.call(PM, 'reset', { type: 't', id: 'com.example.thunder', versionAsParameter: '1.0.0', resettype: 'all' })).toBeNull();
  await expect(t.call(PM, 'reset', { type: 't', id: 'x', versionAsParameter: '1', resettype: 'all' })).rejects.toEqual({ code: 1001, message: 'ERROR_WRONG_PARAMS' });
  t.close();
});

// Every seed method over plain HTTP POST, both callsigns and path forms: a result of the seed's shape or the peer's
// error for a missing app/handle; wrong params give 1001 over HTTP too.
test('every seed method over HTTP: seed result shapes or the mapped error', async () => {
  const methods: Record<string, any> = {
    install: { type: 't', id: 'com.example.none', version: '1', url: '/nonexistent/x.ipk', appname: 'a', category: 'c' },
    uninstall: { type: 't', id: 'com.example.none', version: '1', uninstalltype: 'full' },
    download: { type: 't', id: 'com.example.none', version: '1', reskey: 'k', url: 'http://127.0.0.1:9/x' },
    reset: { type: 't', id: 'com.example.none', version: '1', resettype: 'full' },
    getstoragedetails: { type: '', id: '', version: '' },
    setauxmetadata: { type: 't', id: 'com.example.none', version: '1', key: 'k', value: 'v' },
    clearauxmetadata: { type: 't', id: 'com.example.none', version: '1', key: 'k' },
    getmetadata: { type: 't', id: 'com.example.none', version: '1' },
    cancel: { handle: '1' },
    getprogress: { handle: '1' },
    getlist: { type: '', id: '', version: '', appname: '', category: '' },
    lock: { type: 't', id: 'com.example.none', version: '1', reason: 'r', owner: 'o' },
    unlock: { handle: '1' },
    getlockinfo: { type: 't', id: 'com.example.none', version: '1' },
  };
  let i = 100;
  for (const [m, params] of Object.entries(methods)) {
    const r = await rpc(g.base, g.token, { jsonrpc: '2.0', id: ++i, method: `org.rdk.PackageManager.1.${m}`, params });
    expect(r.status).toBe(200);
    expect(r.json.id).toBe(i);
    if ('result' in r.json) {
      if (m === 'getlist') expect(Array.isArray(r.json.result)).toBe(true);
      if (m === 'getstoragedetails') expect(Object.keys(r.json.result).sort()).toEqual(['apps', 'persistent']);
    } else {
      // install of a missing file is refused by /install (1001); the others: not installed (1001), no such handle
      // (1001/1007).
      expect([m, [1001, 1007].includes(r.json.error.code)]).toEqual([m, true]);
    }
    const bad = await rpc(g.base, g.token, { jsonrpc: '2.0', id: ++i, method: `${m}`, params: { id: 7, handle: 7, key: 7 } }, { path: '/jsonrpc/PackageManager' });
    expect(bad.json.error).toEqual({ code: 1001, message: 'ERROR_WRONG_PARAMS' });
  }
  expect((await rpc(g.base, g.token, { jsonrpc: '2.0', id: 1, method: 'PackageManager.1.install', params: methods.install })).json.error).toEqual({ code: 1001, message: 'ERROR_WRONG_PARAMS' });
  // An http url goes to /install, which downloads it first (stages 7/8/10/23): a handle at once.
  const http = await rpc(g.base, g.token, { jsonrpc: '2.0', id: 2, method: 'PackageManager.1.install', params: { ...methods.install, url: 'http://127.0.0.1:9/x.ipk' } });
  expect(http.json.result).toMatch(/^\d+$/);
});
