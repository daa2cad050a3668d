// Domogik /package over the gateway (docs/gateway.md): every route's envelope, JSONP, routing errors as HTTP 200
// code 999, install_from_path by PUT (now, over /install), installed/uninstall (now, over listApps and /remove);
// list-repo, update-cache, available, dependency and install by name need the feeds branch (/feeds/list,
// /feeds/refresh, /catalog/list, /catalog/install): until merged they are checked to give 999 "Not available : …".
import fs from 'node:fs';
import os from 'node:os';
import { call, killAllChildren, makeIpk } from './helpers/appinstall-daemon';
import { READER, READER_FILES, startGatewayDaemon, type GatewayDaemon } from './helpers/gateway';

let g: GatewayDaemon;
let ipk: string;
const HOST = os.hostname();
const READER_TOKEN = 'domogik-reader-0123456789';
beforeAll(async () => {
  g = await startGatewayDaemon({ files: READER_FILES, tokens: { [READER_TOKEN]: READER } });
  const dir = fs.mkdtempSync('/tmp/gwd-');
  fs.chmodSync(dir, 0o755);
  ipk = await makeIpk(dir, 'com.example.domogik', '0.1.0');
});
afterAll(async () => {
  await g?.d.stop();
  killAllChildren();
});

async function get(p: string, opts: { token?: string | null; method?: string; body?: Buffer; headers?: Record<string, string> } = {}) {
  const token = opts.token === undefined ? g.token : opts.token;
  const r = await fetch(`${g.base}/package/${p}`, { method: opts.method ?? 'GET', body: opts.body, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...opts.headers } });
  const text = await r.text();
  let json: any = null;
  try { json = JSON.parse(text); } catch { /* JSONP or 404 */ }
  return { status: r.status, type: r.headers.get('content-type'), headers: r.headers, text, json };
}
const err = (description: string) => ({ status: 'ERROR', code: 999, description });
const ids = async () => (await call(g.root, 'luna://com.webos.applicationManager/listApps', {})).apps.map((a: any) => a.id);

test('get-mode, envelope headers and JSONP', async () => {
  const r = await get('get-mode');
  expect(r.status).toBe(200);
  expect(r.text).toBe('{"status" : "OK", "code" : 0, "description" : "None", "mode" : ["normal"]}');
  expect(r.type).toMatch(/^application\/json/);
  expect(r.headers.get('expires')).toBe('-1');
  expect(r.headers.get('cache-control')).toBe('no-cache');
  const p = await get('get-mode?callback=cb_1');
  expect(p.text).toBe('cb_1 ({"status" : "OK", "code" : 0, "description" : "None", "mode" : ["normal"]})');
  expect((await get('get-mode?callback=alert(1)')).json).toEqual(err('Bad callback name'));
});

test('routing errors are HTTP 200, text/html, code 999', async () => {
  const short = await get('');
  expect(short.status).toBe(200);
  expect(short.type).toMatch(/^text\/html/);
  expect(short.json).toEqual(err('Url too short'));
  expect((await get('installed/x')).json).toEqual(err('Wrong syntax for installed'));
  expect((await get('frobnicate')).json).toEqual(err('Bad operation for /package'));
  expect((await get(`installed/${HOST}/widget`)).json).toEqual(err("Bad package type 'widget' : must be app, plugin or firmware"));
  expect((await get('installed/elsewhere/app')).json).toEqual(err(`Unknown host 'elsewhere' : this device is '${HOST}'`));
  expect((await get('get-mode', { token: null })).json).toEqual(err('Authentication required: a valid bearer token is needed'));
  expect((await get('get-mode', { token: 'wrong-wrong-wrong-wrong' })).json).toEqual(err('Authentication required: a valid bearer token is needed'));
});

test('install_from_path by PUT, installed with "True"/"" fields, uninstall by fullname', async () => {
  const body = fs.readFileSync(ipk);
  const r = await get(`install_from_path/${HOST}?filename=com.example.domogik_0.1.0_all.ipk`, { method: 'PUT', body });
  expect(r.json).toEqual({ status: 'OK', code: 0, description: 'None', install: [] });
  const inst = await get(`installed/${HOST}/plugin`);
  expect(inst.json.package).toContainEqual({ enabled: 'True', version: '0.1.0', updates: '', fullname: 'plugin-com.example.domogik', type: 'plugin', id: 'com.example.domogik' });
  const un = await get(`uninstall/${HOST}/app/app-com.example.domogik`);
  expect(un.json).toEqual({ status: 'OK', code: 0, description: 'None', uninstall: [] });
  expect(await ids()).not.toContain('com.example.domogik');
  expect((await get(`uninstall/${HOST}/app/com.example.domogik`)).json).toEqual(err('Package not installed : No such id'));
});

test('install_from_path refusals: no filename, bad or traversing name, read-only token (nothing installed, no upload left)', async () => {
  const body = fs.readFileSync(ipk);
  expect((await get(`install_from_path/${HOST}`, { method: 'PUT', body })).json).toEqual(err('You must give a file name : ?filename=foo.txt'));
  expect((await get(`install_from_path/${HOST}?filename=plugin-x-1.tgz`, { method: 'PUT', body })).json).toEqual(err('Bad filename provided. It must be a .ipk file'));
  expect((await get(`install_from_path/${HOST}?filename=../../etc/x.ipk`, { method: 'PUT', body })).json).toEqual(err('Bad filename provided. It must be a .ipk file'));
  const ro = await get(`install_from_path/${HOST}?filename=com.example.domogik_0.1.0.ipk`, { method: 'PUT', body, token: READER_TOKEN });
  expect(ro.json).toEqual(err('Permission denied : Denied method call "install" for category "/"'));
  expect(await ids()).not.toContain('com.example.domogik');
  expect(fs.readdirSync(`${g.root}/var/cache/appinstalld/gateway-uploads`)).toEqual([]);
  void READER;
});

test('list-repo, update-cache, available, dependency, install by name', async () => {
  const lr = await get('list-repo');
  expect(lr.json).toMatchObject({ status: 'OK', code: 0, description: 'None', repository: expect.any(Array) });
  const uc = await get('update-cache');
  expect(uc.json).toEqual({ status: 'OK', code: 0, description: 'None', cache: [] });
  const av = await get(`available/${HOST}/app`);
  expect(av.json).toMatchObject({ status: 'OK', package: expect.any(Array) });
  const dep = await get(`dependency/${HOST}/app/com.example.none/1.0`);
  expect(dep.json).toEqual(err('No package corresponding to request'));
  const ins = await get(`install/${HOST}/app/com.example.none/1.0`);
  expect(ins.json.code).toBe(999);
});
