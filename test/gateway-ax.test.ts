// AX App Store over the gateway (docs/gateway.md): install_local_file, the package list moving to installing and
// up_to_date with task ids and progress, task lists and logs read by character range with X-MORE-DATA/X-TEXT-SIZE,
// uninstall, the seed's 400 bodies, refresh and firmware; the whole seed against an nginx feed is gateway-ax-feed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { call, killAllChildren, makeIpk } from './helpers/appinstall-daemon';
import { READER, READER_FILES, startGatewayDaemon, type GatewayDaemon } from './helpers/gateway';

let g: GatewayDaemon;
let ipk: string;
const READER_TOKEN = 'ax-reader-0123456789abcd';
beforeAll(async () => {
  g = await startGatewayDaemon({ files: READER_FILES, tokens: { [READER_TOKEN]: READER } });
  const dir = fs.mkdtempSync('/tmp/gwa-');
  fs.chmodSync(dir, 0o755);
  ipk = await makeIpk(dir, 'follow', '2.2.0', { files: { 'big.bin': crypto.randomBytes(12_000_000).toString('base64') } });
});
afterAll(async () => {
  await g?.d.stop();
  killAllChildren();
});

async function ax(method: string, p: string, body?: unknown, secret: string | null = g.token) {
  const r = await fetch(`${g.base}${p}`, { method, headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(secret ? { Secret: secret } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const text = await r.text();
  let json: any = null;
  try { json = JSON.parse(text); } catch { /* a log */ }
  return { status: r.status, headers: r.headers, text, json };
}

test('install_local_file while the list shows installing with a task id, then up_to_date; tasks and log ranges; uninstall', async () => {
  const started = ax('POST', '/app_store/services/install_local_file', { filename: ipk });
  let sawInstalling: any = null;
  for (let i = 0; i < 400 && !sawInstalling; i++) {
    const l = await ax('GET', '/app_store/packages');
    sawInstalling = l.json.find((p: any) => p.name === 'follow' && p.status === 'installing') ?? null;
    if (!sawInstalling) await new Promise((r) => setTimeout(r, 10));
  }
  const done = await started;
  expect(done.status).toBe(201);
  expect(done.json).toEqual({ module_name: 'follow', version: '2.2.0' });
  expect(sawInstalling).toMatchObject({ name: 'follow', status: 'installing', install_task_id: expect.any(Number), installing_version: '2.2.0' });
  expect(sawInstalling.installing_progress).toBeGreaterThanOrEqual(0);
  expect(sawInstalling.installing_progress).toBeLessThanOrEqual(1);
  const list = await ax('GET', '/app_store/packages');
  expect(list.json).toContainEqual(expect.objectContaining({ name: 'follow', current_version: '2.2.0', latest_version: '2.2.0', status: 'up_to_date' }));
  const tasks = await ax('GET', '/app_store/jobs/install/tasks');
  const t = tasks.json.find((x: any) => x.module === 'follow');
  expect(t).toMatchObject({ id: sawInstalling.install_task_id, status: 'succeeded', version: '2.2.0', url: `${g.base}/app_store/jobs/install/tasks/${t.id}/log` });
  for (const k of ['create_time', 'start_time', 'end_time']) expect(t[k]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  const whole = await ax('GET', `/app_store/jobs/install/tasks/${t.id}/log`);
  expect(whole.headers.get('content-type')).toBe('text/plain; charset=utf-8');
  expect(whole.headers.get('x-more-data')).toBe('false');
  expect(Number(whole.headers.get('x-text-size'))).toBe(whole.text.length);
  expect(whole.text).toMatch(new RegExp(`^id: ${t.id}\\ncreate time: .+\\ninstall task follow\\(2\\.2\\.0\\) added\\nstart time: .+\\ninstall task follow\\(2\\.2\\.0\\) begin\\n=== `));
  const part = await ax('GET', `/app_store/jobs/install/tasks/${t.id}/log?start=3&end=10`);
  expect(part.text).toBe(whole.text.slice(3, 10));
  expect(part.headers.get('x-text-size')).toBe(String(whole.text.length));
  expect((await ax('GET', `/app_store/jobs/install/tasks/${t.id}/log?start=5&end=0`)).text).toBe(whole.text.slice(5));
  expect((await ax('GET', '/app_store/jobs/install/tasks/99999/log')).status).toBe(404);
  const un = await ax('POST', '/app_store/services/uninstall_packages', { packages: ['follow'] });
  expect(un.status).toBe(201);
  expect(un.json).toEqual({ follow: { task_id: expect.any(Number), version: '2.2.0' } });
  for (let i = 0; i < 200; i++) {
    if (!(await call(g.root, 'luna://com.webos.applicationManager/listApps', {})).apps.some((a: any) => a.id === 'follow')) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect((await ax('GET', '/app_store/packages')).json.find((p: any) => p.name === 'follow')).toBeUndefined();
});

test('errors: no or wrong Secret 401, uninstall of an unknown module 400 per package, bad body 400, read-only token refused', async () => {
  expect(await ax('GET', '/app_store/packages', undefined, null)).toMatchObject({ status: 401, json: { detail: 'Invalid or missing Secret header' } });
  expect(await ax('GET', '/app_store/packages', undefined, 'wrong-secret-wrong-secret')).toMatchObject({ status: 401, json: { detail: 'Invalid or missing Secret header' } });
  const un = await ax('POST', '/app_store/services/uninstall_packages', { packages: ['some_random_package'] });
  expect(un).toMatchObject({ status: 400, json: { some_random_package: { error: 'module some_random_package is not installed, skip...' } } });
  expect((await ax('POST', '/app_store/services/uninstall_packages', { pkgs: [] })).status).toBe(400);
  const ro = await ax('POST', '/app_store/services/install_local_file', { filename: ipk }, READER_TOKEN);
  expect(ro).toMatchObject({ status: 403, json: { detail: 'Denied method call "install" for category "/"' } });
  expect((await call(g.root, 'luna://com.webos.applicationManager/listApps', {})).apps.map((a: any) => a.id)).not.toContain('follow');
  expect((await ax('POST', '/app_store/services/install_local_file', { filename: '/tmp/ax.2.6.4.pi64.tar.gz' })).status).toBe(400);
  expect((await ax('GET', '/app_store/nothing')).status).toBe(404);
  void READER;
});

test('download/install by name of an unknown package, refresh, firmware of an unknown package', async () => {
  const dl = await ax('POST', '/app_store/services/download_packages', { packages: ['some_random_package'] });
  expect(dl).toMatchObject({ status: 400, json: { some_random_package: 'invalid module some_random_package, skip...' } });
  const ins = await ax('POST', '/app_store/services/install_packages', { packages: ['some_random_package'] });
  expect(ins).toMatchObject({ status: 400, json: { some_random_package: { error: 'invalid module some_random_package, skip...' } } });
  const fw = await ax('GET', '/app_store/firmware/packages');
  expect(fw).toMatchObject({ status: 200, json: [] });
  const fwi = await ax('POST', '/app_store/firmware/install_packages', { packages: ['bottom-sensor'] });
  expect(fwi).toMatchObject({ status: 400, json: { 'bottom-sensor': { error: 'invalid module bottom-sensor, skip...' } } });
  expect(await ax('POST', '/app_store/firmware/refresh_store')).toMatchObject({ status: 201, json: { status: 200 } });
});
