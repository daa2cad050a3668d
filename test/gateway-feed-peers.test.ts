// Domogik and Olares over feeds served by a real nginx: Domogik's repositories are the feeds
// with their priorities (numeric order, not Domogik's string order), available packages and dependency checks come
// from the catalog (its Depends), install by name pulls the dependency first, errors are code 999; Olares'
// InstallDevApp with repoUrl = a feed URL and appName = a package in it, UninstallDevApp, double-wrapped replies.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { call, killAllChildren, makeIpk } from './helpers/appinstall-daemon';
import { startGatewayDaemon, type GatewayDaemon } from './helpers/gateway';
import { startNginx, type NginxServer } from './helpers/nginx';
import { writeConf, writeFeed, type GenPackage, stanzaOf } from './helpers/opkg-feed';

let g: GatewayDaemon;
let nginx: NginxServer;
const HOST = os.hostname();

const stanza = stanzaOf;

beforeAll(async () => {
  const work = fs.mkdtempSync('/tmp/gwfp-');
  fs.chmodSync(work, 0o755);
  const www = path.join(work, 'www');
  const feeds: Record<string, GenPackage[]> = { main: [], extra: [] };
  for (const [feed, id, v, dep] of [['main', 'com.dg.lib', '1.0.0'], ['main', 'com.dg.app', '1.0.0', 'com.dg.lib (>= 1.0)'], ['extra', 'com.ol.app', '2.0.0']] as const) {
    fs.mkdirSync(path.join(www, feed), { recursive: true });
    const f = await makeIpk(path.join(work, 'src'), id, v);
    const dst = path.join(www, feed, path.basename(f));
    fs.copyFileSync(f, dst);
    feeds[feed].push(stanza(id, v, dst, dep));
  }
  for (const [feed, pkgs] of Object.entries(feeds)) writeFeed(path.join(www, feed), pkgs);
  nginx = await startNginx({ root: www });
  g = await startGatewayDaemon();
  // Priorities 500 and 1000: numerically 1000 first; as Domogik's strings "500" > "1000".
  writeConf(g.root, 'feeds.conf', [`src/gz main ${nginx.url}/main`, `src/gz extra ${nginx.url}/extra`, 'option feed_priority main 500', 'option feed_priority extra 1000']);
}, 120000);
afterAll(async () => {
  await g?.d.stop();
  await nginx?.stop();
  killAllChildren();
});

async function dg(p: string) {
  const r = await fetch(`${g.base}/package/${p}`, { headers: { authorization: `Bearer ${g.token}` } });
  return { status: r.status, json: JSON.parse(await r.text()) };
}
const err = (description: string) => ({ status: 'ERROR', code: 999, description });
const ids = async () => (await call(g.root, 'luna://com.webos.applicationManager/listApps', {})).apps.map((a: any) => a.id);

test('Domogik: update-cache, list-repo by priority, available, dependency, install by name with its dependency, installed, uninstall, 999s', async () => {
  expect((await dg('update-cache')).json).toEqual({ status: 'OK', code: 0, description: 'None', cache: [] });
  expect((await dg('list-repo')).json).toEqual({
    status: 'OK', code: 0, description: 'None',
    repository: [{ url: `${nginx.url}/extra`, priority: '1000' }, { url: `${nginx.url}/main`, priority: '500' }],
  });
  const av = (await dg(`available/${HOST}/plugin`)).json;
  expect(av).toMatchObject({ status: 'OK', code: 0, description: 'None' });
  expect(av.package.map((p: any) => p.id)).toEqual(['com.dg.app', 'com.dg.lib', 'com.ol.app']);
  expect(av.package[0]).toMatchObject({ id: 'com.dg.app', name: 'com.dg.app', fullname: 'plugin-com.dg.app', type: 'plugin', version: '1.0.0', source: 'main', dependencies: [{ type: 'plugin', id: 'com.dg.lib (>= 1.0)' }] });

  const dep = (await dg(`dependency/${HOST}/plugin/com.dg.app/1.0.0`)).json;
  expect(dep).toEqual({ status: 'OK', code: 0, description: 'None', dependency: [{ name: 'com.dg.lib (>= 1.0)', candidate: '', error: '', installed: 'False', cmd_line: 'Install from Domogik Administration', version: '', type: 'plugin' }] });
  expect((await dg(`dependency/${HOST}/plugin/com.dg.app/9.9.9`)).json).toEqual(err('No package corresponding to request'));

  expect((await dg(`install/${HOST}/plugin/com.dg.app/1.0.0`)).json).toEqual({ status: 'OK', code: 0, description: 'None', install: [] });
  expect(await ids()).toEqual(expect.arrayContaining(['com.dg.app', 'com.dg.lib']));
  // One task per package installed (the dependency its own), none twice (AX's view of the same operations).
  const tasks = await (await fetch(`${g.base}/app_store/jobs/install/tasks`, { headers: { Secret: g.token } })).json() as any[];
  expect(tasks.filter((t) => t.module === 'com.dg.app')).toEqual([expect.objectContaining({ status: 'succeeded', version: '1.0.0' })]);
  expect(tasks.filter((t) => t.module === 'com.dg.lib').length).toBeLessThanOrEqual(1);
  const dep2 = (await dg(`dependency/${HOST}/plugin/com.dg.app/1.0.0`)).json;
  expect(dep2.dependency).toEqual([expect.objectContaining({ installed: 'True', version: '1.0.0', cmd_line: '' })]);
  const inst = (await dg(`installed/${HOST}/plugin`)).json;
  expect(inst.package).toContainEqual({ enabled: 'True', version: '1.0.0', updates: '', fullname: 'plugin-com.dg.app', type: 'plugin', id: 'com.dg.app' });
  expect((await dg(`available/${HOST}/plugin`)).json.package.map((p: any) => p.id)).toEqual(['com.ol.app']);

  const none = (await dg(`install/${HOST}/plugin/com.dg.none/1.0`)).json;
  expect(none).toMatchObject({ status: 'ERROR', code: 999 });
  expect(none.description).toMatch(/com\.dg\.none/);
  expect((await dg(`uninstall/${HOST}/plugin/plugin-com.dg.app`)).json).toEqual({ status: 'OK', code: 0, description: 'None', uninstall: [] });
  expect(await ids()).not.toContain('com.dg.app');
});

async function ol(op: string, body: unknown, headers: Record<string, string> = { 'X-Access-Token': g.token, 'X-Authorization': 'user' }) {
  const r = await fetch(`${g.base}/system-server/v1alpha1/app/service.appstore/v1/${op}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await r.text();
  let json: any = null;
  try { json = JSON.parse(text); } catch { /* plain text */ }
  return { status: r.status, text, json };
}

test('Olares: InstallDevApp from a feed URL, the package must be in that feed; headers; bad source; UninstallDevApp', async () => {
  const body = { appName: 'com.ol.app', repoUrl: `${nginx.url}/extra`, source: 'market' };
  expect(await ol('InstallDevApp', body, { 'X-Authorization': 'u' })).toMatchObject({ status: 401, text: 'no authentication token error' });
  expect(await ol('InstallDevApp', body, { 'X-Access-Token': g.token })).toMatchObject({ status: 401, text: 'access token not found' });
  expect((await ol('InstallDevApp', { ...body, source: 'helm' })).json).toEqual({ code: 1, message: 'invoke provider err: code 400, unsupported chart source: helm' });
  expect((await ol('InstallDevApp', { ...body, repoUrl: `${nginx.url}/main` })).json).toEqual({ code: 1, message: `invoke provider err: code 404, app com.ol.app not found in repo ${nginx.url}/main` });
  expect((await ol('InstallDevApp', { ...body, repoUrl: 'http://127.0.0.1:9/nope' })).json).toEqual({ code: 1, message: 'invoke provider err: code 400, repo http://127.0.0.1:9/nope is not a configured feed' });
  expect(await ids()).not.toContain('com.ol.app');
  const r = await ol('InstallDevApp', { ...body, repoUrl: `${nginx.url}/extra/` });
  expect(r).toMatchObject({ status: 200, json: { code: 0, message: 'success', data: { code: 200, data: { uid: 'com.ol.app', opID: '' } } } });
  expect(await ids()).toContain('com.ol.app');
  expect((await ol('UninstallDevApp', { name: 'com.ol.app' })).json).toEqual({ code: 0, message: 'success', data: { code: 200, data: { uid: 'com.ol.app', opID: '' } } });
  expect(await ids()).not.toContain('com.ol.app');
  expect((await ol('UninstallDevApp', { name: 'com.ol.app' })).json).toEqual({ code: 1, message: 'invoke provider err: code 400, No such id' });
});
