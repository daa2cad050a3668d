// Olares Market provider over the gateway (docs/gateway.md): InstallDevApp/UninstallDevApp with and without
// headers, a bad source, the double-wrapped replies; a local .ipk as repoUrl; a feed URL that is no configured feed
// (installs from a feed: gateway-feed-peers.test.ts).
import fs from 'node:fs';
import { call, killAllChildren, makeIpk } from './helpers/appinstall-daemon';
import { READER, READER_FILES, startGatewayDaemon, type GatewayDaemon } from './helpers/gateway';

let g: GatewayDaemon;
let ipk: string;
const READER_TOKEN = 'olares-reader-0123456789';
beforeAll(async () => {
  g = await startGatewayDaemon({ files: READER_FILES, tokens: { [READER_TOKEN]: READER } });
  const dir = fs.mkdtempSync('/tmp/gwo-');
  fs.chmodSync(dir, 0o755);
  ipk = await makeIpk(dir, 'com.example.olares', '1.0.0');
});
afterAll(async () => {
  await g?.d.stop();
  killAllChildren();
});

const URL = '/system-server/v1alpha1/app/service.appstore/v1';
async function post(op: string, body: unknown, headers: Record<string, string>) {
  const r = await fetch(`${g.base}${URL}/${op}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await r.text();
  let json: any = null;
  try { json = JSON.parse(text); } catch { /* plain text */ }
  return { status: r.status, text, json };
}
const installed = async () => (await call(g.root, 'luna://com.webos.applicationManager/listApps', {})).apps.map((a: any) => a.id);

test('InstallDevApp and UninstallDevApp: double-wrapped success, uid = appName', async () => {
  const h = { 'X-Access-Token': g.token, 'X-Authorization': 'user-session' };
  const r = await post('InstallDevApp', { appName: 'com.example.olares', repoUrl: ipk, source: 'devbox' }, h);
  expect(r.status).toBe(200);
  expect(r.json).toEqual({ code: 0, message: 'success', data: { code: 200, data: { uid: 'com.example.olares', opID: '' } } });
  expect(await installed()).toContain('com.example.olares');
  const u = await post('UninstallDevApp', { name: 'com.example.olares' }, h);
  expect(u.json).toEqual({ code: 0, message: 'success', data: { code: 200, data: { uid: 'com.example.olares', opID: '' } } });
  expect(await installed()).not.toContain('com.example.olares');
  // Uninstalling what is not installed: the provider's 400 wrapped by system-server.
  const again = await post('UninstallDevApp', { name: 'com.example.olares' }, h);
  expect(again.json).toEqual({ code: 1, message: 'invoke provider err: code 400, No such id' });
});

test('headers: no X-Access-Token 401 plain text, unknown token code 1, no X-Authorization 401; a read-only token is denied', async () => {
  const body = { appName: 'com.example.olares', repoUrl: ipk, source: 'market' };
  const none = await post('InstallDevApp', body, { 'X-Authorization': 'u' });
  expect(none).toMatchObject({ status: 401, text: 'no authentication token error' });
  const wrong = await post('InstallDevApp', body, { 'X-Access-Token': 'nope-nope-nope-nope', 'X-Authorization': 'u' });
  expect(wrong).toMatchObject({ status: 200, json: { code: 1, message: 'token not found in cache or expired' } });
  const noUser = await post('InstallDevApp', body, { 'X-Access-Token': g.token });
  expect(noUser).toMatchObject({ status: 401, text: 'access token not found' });
  const ro = await post('InstallDevApp', body, { 'X-Access-Token': READER_TOKEN, 'X-Authorization': 'u' });
  expect(ro).toMatchObject({ status: 200, json: { code: 1, message: 'data access denied' } });
  expect(await installed()).not.toContain('com.example.olares');
});

test('bad source, missing repoUrl, bad body: the provider 400 wrapped in code 1', async () => {
  const h = { 'X-Access-Token': g.token, 'X-Authorization': 'u' };
  expect((await post('InstallDevApp', { appName: 'a', repoUrl: ipk, source: 'system' }, h)).json).toEqual({ code: 1, message: 'invoke provider err: code 400, unsupported chart source: system' });
  expect((await post('InstallDevApp', { appName: 'a', source: 'custom' }, h)).json).toEqual({ code: 1, message: 'invoke provider err: code 400, url info is empty, cfg [], repo []' });
  const bad = await post('InstallDevApp', { appName: 7 }, h);
  expect(bad.status).toBe(200);
  expect(bad.json.code).toBe(1);
  expect(bad.json.message).toMatch(/^invoke provider err: code 400, /);
});

test('a feed URL installs by name through the catalog', async () => {
  const h = { 'X-Access-Token': g.token, 'X-Authorization': 'u' };
  const r = await post('InstallDevApp', { appName: 'com.example.feedapp', repoUrl: 'http://127.0.0.1:9/feed', source: 'market' }, h);
  expect(r.json).toEqual({ code: 1, message: 'invoke provider err: code 400, repo http://127.0.0.1:9/feed is not a configured feed' });
});
