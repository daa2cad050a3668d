// Thunder PackageManager installs from http(s) URLs (/install with stages 7/8/10/23, docs/appinstall.md): a package of a feed
// served by a real nginx, watched by a ThunderJS-like client as LISA's "DOWNLOADING nn %" then installing details
// rising to Success; an install from a server that stalls mid-body, cancelled while downloading (Cancelled).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { killAllChildren, makeIpk } from './helpers/appinstall-daemon';
import { rpc, startGatewayDaemon, ThunderJsLike, type GatewayDaemon } from './helpers/gateway';
import { startNginx, type NginxServer } from './helpers/nginx';
import { startBadServer, type BadServer } from './helpers/bad-http-server';

let g: GatewayDaemon;
let nginx: NginxServer;
let stall: BadServer;
let bigName: string;
const PM = 'PackageManager';

beforeAll(async () => {
  const work = fs.mkdtempSync('/tmp/gwtf-');
  fs.chmodSync(work, 0o755);
  const www = path.join(work, 'www');
  fs.mkdirSync(path.join(www, 'feed'), { recursive: true });
  const big = await makeIpk(path.join(work, 'src'), 'com.thunder.feed', '1.0.0', { files: { 'blob.bin': crypto.randomBytes(30 * 1024 * 1024).toString('base64') } });
  bigName = path.basename(big);
  fs.copyFileSync(big, path.join(www, 'feed', bigName));
  nginx = await startNginx({ root: www });
  const slow = await makeIpk(path.join(work, 'src2'), 'com.thunder.slow', '1.0.0', { files: { 'blob.bin': crypto.randomBytes(4 * 1024 * 1024).toString('base64') } });
  // Headers and a quarter of the body, then nothing: the download stays running until cancelled.
  const data = fs.readFileSync(slow);
  stall = await startBadServer(data, () => ({ stallAfter: Math.floor(data.length / 4) }));
  g = await startGatewayDaemon({ config: { downloadProgressIntervalMs: 10 } });
}, 120000);
afterAll(async () => {
  await g?.d.stop();
  await nginx?.stop();
  await stall?.close();
  killAllChildren();
});

const until = async (pred: () => boolean, ms = 60000) => {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

test('install by URL from nginx: DOWNLOADING nn % rising, then installing stages, then Success', async () => {
  const t = await ThunderJsLike.connect(g.host, g.port, g.token);
  const events: any[] = [];
  await t.on(PM, 'operationstatus', (p) => events.push(p));
  const h = await t.call(PM, 'install', { type: 'application/vnd.rdk-app.dac.native', id: 'com.thunder.feed', versionAsParameter: '1.0.0', url: `${nginx.url}/feed/${bigName}`, appname: 'Feed', category: 'c' });
  expect(h).toMatch(/^\d+$/);
  await until(() => events.some((e) => e.handle === h && e.status !== 'Progress'));
  const mine = events.filter((e) => e.handle === h);
  expect(mine.pop()).toEqual({ handle: h, operation: 'Installing', type: 'application/vnd.rdk-app.dac.native', id: 'com.thunder.feed', version: '1.0.0', status: 'Success', details: '' });
  for (const e of mine) expect(e).toMatchObject({ status: 'Progress', details: expect.stringMatching(/^(DOWNLOADING|UNTARING|UPDATING_DATABASE|FINISHED) \d+ %$/) });
  const pcts = mine.map((e) => Number(/(\d+) %/.exec(e.details)![1]));
  expect([...pcts].sort((a, b) => a - b)).toEqual(pcts);
  // Downloading is seen part-way (not only 0 and 90), and the installing stages after it.
  expect(mine.some((e) => /^DOWNLOADING ([1-9]|[1-8]\d) %$/.test(e.details))).toBe(true);
  expect(mine.some((e) => /^(UNTARING|UPDATING_DATABASE)/.test(e.details))).toBe(true);
  expect(await t.call(PM, 'getlist', { id: 'com.thunder.feed' })).toEqual([{ id: 'com.thunder.feed', version: '1.0.0' }]);
  t.close();

  // The lock methods over plain HTTP POST: a locked app's uninstall is 1009; a stale unlock handle 1007.
  let id = 500;
  const call = async (method: string, params: object) => (await rpc(g.base, g.token, { jsonrpc: '2.0', id: ++id, method: `org.rdk.PackageManager.1.${method}`, params })).json;
  const key = { type: 't', id: 'com.thunder.feed', version: '1.0.0' };
  const lock = await call('lock', { ...key, reason: 'playing', owner: 'player' });
  expect(lock.result).toMatch(/^\d+$/);
  expect((await call('getlockinfo', key)).result).toEqual({ reason: 'playing', owner: 'player' });
  expect((await call('uninstall', { ...key, uninstalltype: 'full' })).error).toEqual({ code: 1009, message: 'ERROR_APP_LOCKED' });
  expect((await call('unlock', { handle: lock.result })).result).toBeNull();
  expect((await call('unlock', { handle: lock.result })).error).toEqual({ code: 1007, message: 'ERROR_WRONG_HANDLE' });
  expect((await call('uninstall', { ...key, uninstalltype: 'full' })).result).toMatch(/^\d+$/);
});

test('an install whose server stalls mid-body: getprogress while downloading, cancel, Cancelled, nothing installed', async () => {
  const t = await ThunderJsLike.connect(g.host, g.port, g.token);
  const events: any[] = [];
  await t.on(PM, 'operationstatus', (p) => events.push(p));
  const h = await t.call(PM, 'install', { type: 't', id: 'com.thunder.slow', versionAsParameter: '1.0.0', url: `${stall.url}/com.thunder.slow_1.0.0.ipk` });
  // The server got the request and sent its quarter; the download then waits on it (the downloader reports progress
  // on its interval as bytes come, so a stalled body shows DOWNLOADING 0 % here).
  await until(() => stall.requests.length > 0 && events.some((e) => e.handle === h && /^DOWNLOADING \d+ %$/.test(e.details)));
  await new Promise((r) => setTimeout(r, 300));
  // While it runs: a second operation on the same package is LISA's 1002, over WebSocket and HTTP (lock too).
  await expect(t.call(PM, 'install', { type: 't', id: 'com.thunder.slow', versionAsParameter: '1.0.0', url: `${stall.url}/x.ipk` })).rejects.toEqual({ code: 1002, message: 'ERROR_TOO_MANY_REQUESTS' });
  const again = await rpc(g.base, g.token, { jsonrpc: '2.0', id: 9, method: 'PackageManager.1.install', params: { type: 't', id: 'com.thunder.slow', version: '1.0.0', url: `${stall.url}/x.ipk` } });
  expect(again.json.error).toEqual({ code: 1002, message: 'ERROR_TOO_MANY_REQUESTS' });
  await expect(t.call(PM, 'lock', { type: 't', id: 'com.thunder.slow', versionAsParameter: '1.0.0', reason: 'r', owner: 'o' })).rejects.toEqual({ code: 1002, message: 'ERROR_TOO_MANY_REQUESTS' });
  const p = await Promise.race([t.call(PM, 'getprogress', { handle: h }), new Promise((_, j) => setTimeout(() => j(new Error('getprogress hung')), 5000))]) as number;
  expect(p).toBeGreaterThanOrEqual(0);
  expect(p).toBeLessThan(90);
  expect(await Promise.race([t.call(PM, 'cancel', { handle: h }), new Promise((_, j) => setTimeout(() => j(new Error('cancel hung')), 5000))])).toBeNull();
  await until(() => events.some((e) => e.handle === h && e.status !== 'Progress'), 15000).catch(() => { throw new Error(JSON.stringify(events)); });
  expect(events.filter((e) => e.handle === h).pop()).toEqual({ handle: h, operation: 'Installing', type: 't', id: 'com.thunder.slow', version: '1.0.0', status: 'Cancelled', details: '' });
  expect(await t.call(PM, 'getlist', { id: 'com.thunder.slow' })).toEqual([]);
  await expect(t.call(PM, 'cancel', { handle: h })).rejects.toEqual({ code: 1001, message: 'ERROR_WRONG_PARAMS' });
  t.close();
});
