// Thunder PackageManager codes that need a particular state of the device, each over WebSocket and HTTP against real
// processes: 1010 ERROR_APP_UNINSTALLING (an install or an uninstall of an app whose uninstall runs), 1 ERROR_GENERAL
// (the engine cannot do it and no specific code says why: an app's storage directory replaced by a symlink) and
// 2 ERROR_UNAVAILABLE (the standalone gateway on a hub whose install daemon is gone).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { install, killAllChildren, makeIpk, REPO, startDaemon } from './helpers/appinstall-daemon';
import { track } from './helpers/child-processes';
import { rpc, startGatewayDaemon, ThunderJsLike, type GatewayDaemon } from './helpers/gateway';

const PM = 'PackageManager';
const GENERAL = { code: 1, message: 'ERROR_GENERAL' };
const UNAVAILABLE = { code: 2, message: 'ERROR_UNAVAILABLE' };
const UNINSTALLING = { code: 1010, message: 'ERROR_APP_UNINSTALLING' };
let g: GatewayDaemon;
let work: string;
beforeAll(async () => {
  g = await startGatewayDaemon();
  work = fs.mkdtempSync('/tmp/gwtc-');
  fs.chmodSync(work, 0o755);
}, 60000);
afterAll(async () => {
  await g?.d.stop();
  killAllChildren();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const http = (method: string, params: object) => rpc(g.base, g.token, { jsonrpc: '2.0', id: 7, method: `org.rdk.PackageManager.1.${method}`, params });
/** An app with many files: its removal takes long enough for calls made meanwhile. */
async function bigApp(id: string): Promise<string> {
  const files: Record<string, string> = {};
  for (let i = 0; i < 3000; i++) files[`f${i}.txt`] = `${i}\n`;
  const ipk = await makeIpk(work, id, '1.0.0', { files });
  expect((await install(g.root, id, ipk)).lines.pop()).toMatchObject({ details: { packageId: id } });
  return ipk;
}

test('1010 ERROR_APP_UNINSTALLING: an install or an uninstall of an app while its uninstall runs (WebSocket and HTTP)', async () => {
  const id = 'com.example.uninstalling';
  const ipk = await bigApp(id);
  const t = await ThunderJsLike.connect(g.host, g.port, g.token);
  await http('getlist', {}); // the HTTP connection is open before the uninstall starts
  // Sent back to back on one socket: the first starts the uninstall, the next two find it running.
  const [un, again, inst] = await Promise.allSettled([
    t.call(PM, 'uninstall', { type: 't', id, versionAsParameter: '1.0.0', uninstalltype: 'full' }),
    t.call(PM, 'uninstall', { type: 't', id, versionAsParameter: '1.0.0', uninstalltype: 'full' }),
    t.call(PM, 'install', { type: 't', id, versionAsParameter: '1.0.1', url: ipk }),
  ]);
  expect(un).toMatchObject({ status: 'fulfilled', value: expect.stringMatching(/^\d+$/) });
  expect(again).toEqual({ status: 'rejected', reason: UNINSTALLING });
  expect(inst).toEqual({ status: 'rejected', reason: UNINSTALLING });
  // Once it ended, the app can be installed again.
  for (const end = Date.now() + 60000; (await t.call(PM, 'getprogress', { handle: (un as PromiseFulfilledResult<string>).value }).then(() => true, () => false)) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
  t.close();

  // Over HTTP, while an uninstall started over WebSocket runs.
  expect((await install(g.root, id, ipk)).lines.pop()).toMatchObject({ details: { packageId: id } });
  const t2 = await ThunderJsLike.connect(g.host, g.port, g.token);
  const h = t2.call(PM, 'uninstall', { type: 't', id, versionAsParameter: '1.0.0', uninstalltype: 'full' });
  const [hUn, hIn] = await Promise.all([http('uninstall', { type: 't', id, version: '1.0.0', uninstalltype: 'full' }), http('install', { type: 't', id, version: '1.0.1', url: ipk })]);
  expect(await h).toMatch(/^\d+$/);
  expect(hUn).toMatchObject({ status: 200, json: { jsonrpc: '2.0', id: 7, error: UNINSTALLING } });
  expect(hIn).toMatchObject({ status: 200, json: { jsonrpc: '2.0', id: 7, error: UNINSTALLING } });
  t2.close();
}, 120000);

test('1 ERROR_GENERAL: storage details of an app whose data directory is a symlink (WebSocket and HTTP)', async () => {
  const id = 'com.example.general';
  const ipk = await makeIpk(work, id, '1.0.0');
  await install(g.root, id, ipk);
  const t = await ThunderJsLike.connect(g.host, g.port, g.token);
  const ok = await t.call(PM, 'getstoragedetails', { type: 't', id, versionAsParameter: '1.0.0' });
  const data = ok.persistent.path;
  expect(data).toBe(path.join(g.root, 'media/internal/appdata', id));
  fs.rmSync(data, { recursive: true, force: true });
  fs.symlinkSync(work, data);
  await expect(t.call(PM, 'getstoragedetails', { type: 't', id, versionAsParameter: '1.0.0' })).rejects.toEqual(GENERAL);
  expect(await http('getstoragedetails', { type: 't', id, version: '1.0.0' })).toMatchObject({ status: 200, json: { jsonrpc: '2.0', id: 7, error: GENERAL } });
  t.close();
});

test('2 ERROR_UNAVAILABLE: the standalone gateway on a hub whose install daemon is gone (WebSocket and HTTP)', async () => {
  // A root set up by the daemon (security files, gateway config), then the daemon stopped; the bus hub alone and
  // appinstall-gateway run on it.
  const d = await startDaemon({ config: { gateway: false } });
  fs.writeFileSync(path.join(d.root, 'etc/palm/appinstalld.json'), JSON.stringify({ gateway: { listen: ['127.0.0.1:0'] } }));
  await d.stop();
  const env = { ...process.env };
  delete env.APPINSTALLD_ROOT;
  delete env.LUNA_HUB_SOCKET;
  const hub = track(spawn(process.execPath, [path.join(REPO, 'dist/ipc/ls-hubd.js'), '--root', d.root], { stdio: ['ignore', 'ignore', 'pipe'], env }));
  const sock = path.join(d.root, 'var/run/luna-service2/com.palm.hub');
  for (const end = Date.now() + 15000; !fs.existsSync(sock) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
  const gw = track(spawn(process.execPath, [path.join(REPO, 'dist/gateway/gateway-main.js'), '--root', d.root], { stdio: ['ignore', 'ignore', 'pipe'], env }));
  let err = '';
  gw.stderr!.on('data', (c) => (err += c));
  let m: RegExpExecArray | null = null;
  for (const end = Date.now() + 15000; !(m = /gateway: listening on http:\/\/([0-9.]+):(\d+)/.exec(err)) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
  expect(m).not.toBeNull();
  const token = Object.keys(JSON.parse(fs.readFileSync(path.join(d.root, 'etc/palm/gateway-tokens.json'), 'utf8')))[0];
  try {
    const t = await ThunderJsLike.connect(m![1], Number(m![2]), token);
    await expect(t.call(PM, 'getlist', {})).rejects.toEqual(UNAVAILABLE);
    await expect(t.call(PM, 'uninstall', { type: 't', id: 'com.example.any', versionAsParameter: '1.0.0', uninstalltype: 'full' })).rejects.toEqual(UNAVAILABLE);
    t.close();
    const r = await rpc(`http://${m![1]}:${m![2]}`, token, { jsonrpc: '2.0', id: 3, method: 'org.rdk.PackageManager.1.getlist', params: {} });
    expect(r).toMatchObject({ status: 200, json: { jsonrpc: '2.0', id: 3, error: UNAVAILABLE } });
  } finally {
    for (const p of [gw, hub]) { const exited = new Promise((res) => p.once('exit', res)); p.kill('SIGTERM'); await exited; }
    fs.rmSync(d.root, { recursive: true, force: true });
  }
}, 60000);
