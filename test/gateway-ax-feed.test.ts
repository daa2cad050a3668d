// Seed 000's curl commands, in order, against an opkg feed served by a real nginx (real ipks made by the packer):
// the package list moves not_installed → downloading → downloaded → installing → up_to_date with progress fields
// and task ids; download and install task lists; logs read by range while a task runs (X-MORE-DATA/X-TEXT-SIZE);
// the seed's 400 bodies for download and install; install_local_file; uninstall; refresh; firmware.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { call, killAllChildren, makeIpk } from './helpers/appinstall-daemon';
import { startGatewayDaemon, ThunderJsLike, type GatewayDaemon } from './helpers/gateway';
import { startNginx, type NginxServer } from './helpers/nginx';
import { writeConf, writeFeed, stanzaOf } from './helpers/opkg-feed';
import { firmwareIpk as fwIpk } from './helpers/firmware-ipk';

let g: GatewayDaemon;
let nginx: NginxServer;
let www: string;
let localHigh: string;
const ipks: Record<string, string> = {};

const stanza = stanzaOf;

beforeAll(async () => {
  const work = fs.mkdtempSync('/tmp/gwaf-');
  fs.chmodSync(work, 0o755);
  www = path.join(work, 'www');
  fs.mkdirSync(path.join(www, 'feed'), { recursive: true });
  const src = path.join(work, 'src');
  // A big app (incompressible bytes): its download and install take long enough to be seen in the list.
  const big = await makeIpk(src, 'com.ax.app', '1.0.0', { files: { 'blob.bin': crypto.randomBytes(40 * 1024 * 1024).toString('base64') } });
  const high = await makeIpk(src, 'com.ax.high', '1.0.0');
  for (const [k, f] of [['app', big], ['high', high]] as const) {
    ipks[k] = path.join(www, 'feed', path.basename(f));
    fs.copyFileSync(f, ipks[k]);
  }
  localHigh = await makeIpk(path.join(work, 'local'), 'com.ax.high', '2.0.0');
  fs.chmodSync(path.join(work, 'local'), 0o755);
  writeFeed(path.join(www, 'feed'), [stanza('com.ax.app', '1.0.0', ipks.app), stanza('com.ax.high', '1.0.0', ipks.high)]);
  nginx = await startNginx({ root: www });
  g = await startGatewayDaemon({ config: { downloadProgressIntervalMs: 10 } });
  writeConf(g.root, 'feeds.conf', [`src/gz main ${nginx.url}/feed`, 'option feed_priority main 10']);
}, 120000);
afterAll(async () => {
  await g?.d.stop();
  await nginx?.stop();
  killAllChildren();
});

async function ax(method: string, p: string, body?: unknown) {
  const r = await fetch(`${g.base}${p}`, { method, headers: { ...(body ? { 'content-type': 'application/json' } : {}), Secret: g.token }, body: body ? JSON.stringify(body) : undefined });
  const text = await r.text();
  let json: any = null;
  try { json = JSON.parse(text); } catch { /* a log */ }
  return { status: r.status, headers: r.headers, text, json };
}
const pkg = async (name: string) => (await ax('GET', '/app_store/packages')).json.find((p: any) => p.name === name);
/** Polls the package list until `pred` holds for `name`'s entry; every entry seen is kept. */
async function watch(name: string, pred: (p: any) => boolean, seen: any[], ms = 60000): Promise<any> {
  for (const end = Date.now() + ms; Date.now() < end; ) {
    const p = await pkg(name);
    if (p) seen.push(p);
    if (p && pred(p)) return p;
    await new Promise((r) => setTimeout(r, 3));
  }
  throw new Error(`${name} never matched; last: ${JSON.stringify(seen[seen.length - 1])}`);
}

test('the seed in order: refresh, list, download, downloaded, install, up_to_date, tasks and logs, errors, local file, uninstall', async () => {
  // POST /app_store/services/refresh_store, then the list: every feed package, not installed.
  expect((await ax('POST', '/app_store/services/refresh_store')).status).toBe(201);
  const first = await watch('com.ax.app', () => true, []);
  expect(first).toEqual({ name: 'com.ax.app', latest_version: '1.0.0', current_version: '', status: 'not_installed', optional: true });

  // download_packages: 201 with the task id and version; some_random_package alone is refused (the seed's 400 form).
  expect(await ax('POST', '/app_store/services/download_packages', { packages: ['some_random_package'] }))
    .toMatchObject({ status: 400, json: { some_random_package: 'invalid module some_random_package, skip...' } });
  // A Thunder client listening meanwhile: LISA emits operationstatus for installs and uninstalls, never downloads.
  const thunder = await ThunderJsLike.connect(g.host, g.port, g.token);
  const thunderEvents: any[] = [];
  await thunder.on('PackageManager', 'operationstatus', (p) => thunderEvents.push(p));
  const dl = await ax('POST', '/app_store/services/download_packages', { packages: ['com.ax.app', 'some_random_package'] });
  expect(dl).toMatchObject({ status: 201, json: { 'com.ax.app': { task_id: expect.any(Number), version: '1.0.0' } } });
  expect(Object.keys(dl.json)).toEqual(['com.ax.app']);
  const dlTask = dl.json['com.ax.app'].task_id;
  const seen: any[] = [];
  const downloaded = await watch('com.ax.app', (p) => p.status === 'downloaded', seen);
  expect(downloaded).toMatchObject({ current_version: '', latest_version: '1.0.0', downloaded_versions: ['1.0.0'] });
  const downloading = seen.filter((p) => p.status === 'downloading');
  expect(downloading.length).toBeGreaterThan(0);
  for (const p of downloading) expect(p).toMatchObject({ download_task_id: dlTask, downloading_version: '1.0.0', downloading_progress: expect.any(Number) });
  const progress = downloading.map((p) => p.downloading_progress);
  expect(progress).toEqual([...progress].sort((a, b) => a - b));
  for (const v of progress) { expect(v).toBeGreaterThanOrEqual(0); expect(v).toBeLessThanOrEqual(1); }

  // GET /app_store/jobs/download/tasks: the download task, succeeded, with its log URL; its log whole and in a range.
  const dtasks = await ax('GET', '/app_store/jobs/download/tasks');
  const dt = dtasks.json.find((t: any) => t.id === dlTask);
  expect(dt).toMatchObject({ status: 'succeeded', module: 'com.ax.app', version: '1.0.0', url: `${g.base}/app_store/jobs/download/tasks/${dlTask}/log` });
  expect(dtasks.json.filter((t: any) => t.id === dlTask)).toHaveLength(1);
  const dlog = await ax('GET', `/app_store/jobs/download/tasks/${dlTask}/log`);
  expect(dlog.status).toBe(200);
  expect(dlog.headers.get('x-more-data')).toBe('false');
  expect(Number(dlog.headers.get('x-text-size'))).toBe(dlog.text.length);
  expect(dlog.text.length).toBeGreaterThan(0);

  expect(thunderEvents).toEqual([]);
  thunder.close();

  // install_packages: 201 {task_id, version}; the list shows installing with that task id, then up_to_date; the log
  // read in ranges while the task runs says there is more.
  const ins = await ax('POST', '/app_store/services/install_packages', { packages: ['com.ax.app'] });
  expect(ins).toMatchObject({ status: 201, json: { 'com.ax.app': { task_id: expect.any(Number), version: '1.0.0' } } });
  const insTask = ins.json['com.ax.app'].task_id;
  const ranges: Array<{ text: string; more: string | null; size: number }> = [];
  let at = 0;
  const seen2: any[] = [];
  for (const end = Date.now() + 60000; Date.now() < end; ) {
    const r = await ax('GET', `/app_store/jobs/install/tasks/${insTask}/log?start=${at}&end=${at + 64}`);
    ranges.push({ text: r.text, more: r.headers.get('x-more-data'), size: Number(r.headers.get('x-text-size')) });
    at += r.text.length;
    const p = await pkg('com.ax.app');
    seen2.push(p);
    if (p.status === 'up_to_date' && r.headers.get('x-more-data') === 'false' && at >= Number(r.headers.get('x-text-size'))) break;
  }
  expect(seen2.find((p) => p.status === 'installing')).toMatchObject({ install_task_id: insTask, installing_version: '1.0.0', installing_progress: expect.any(Number) });
  expect(seen2[seen2.length - 1]).toMatchObject({ status: 'up_to_date', current_version: '1.0.0', latest_version: '1.0.0' });
  expect(ranges.some((r) => r.more === 'true')).toBe(true);
  expect(ranges[ranges.length - 1].more).toBe('false');
  const whole = await ax('GET', `/app_store/jobs/install/tasks/${insTask}/log`);
  expect(ranges.map((r) => r.text).join('')).toBe(whole.text);
  expect(whole.text).toMatch(new RegExp(`^id: ${insTask}\\ncreate time: .+\\ninstall task com\\.ax\\.app\\(1\\.0\\.0\\) added\\nstart time: .+\\ninstall task com\\.ax\\.app\\(1\\.0\\.0\\) begin\\n=== `));
  const itasks = await ax('GET', '/app_store/jobs/install/tasks');
  expect(itasks.json.filter((t: any) => t.module === 'com.ax.app')).toEqual([expect.objectContaining({ id: insTask, status: 'succeeded', version: '1.0.0' })]);
  expect(itasks.json.some((t: any) => t.id === dlTask)).toBe(false);

  // The seed's 400 bodies: downloading what is installed; installing when a higher version is installed.
  expect(await ax('POST', '/app_store/services/download_packages', { packages: ['com.ax.app', 'some_random_package'] }))
    .toMatchObject({ status: 400, json: { 'com.ax.app': 'installed version(1.0.0) is already up to date', some_random_package: 'invalid module some_random_package, skip...' } });
  const local = await ax('POST', '/app_store/services/install_local_file', { filename: localHigh });
  expect(local).toMatchObject({ status: 201, json: { module_name: 'com.ax.high', version: '2.0.0' } });
  expect(await ax('POST', '/app_store/services/install_packages', { packages: ['com.ax.high'] }))
    .toMatchObject({ status: 400, json: { 'com.ax.high': { error: 'installed version(2.0.0) is higher than downloaded version(1.0.0), skip...' } } });
  expect(await pkg('com.ax.high')).toMatchObject({ current_version: '2.0.0', latest_version: '1.0.0' });

  // uninstall_packages: 201 {task_id, version}; the package is not installed again (still in the feed).
  const un = await ax('POST', '/app_store/services/uninstall_packages', { packages: ['com.ax.app'] });
  expect(un).toEqual(expect.objectContaining({ status: 201, json: { 'com.ax.app': { task_id: expect.any(Number), version: '1.0.0' } } }));
  await watch('com.ax.app', (p) => p.status === 'not_installed', []);
  expect((await call(g.root, 'luna://com.webos.applicationManager/listApps', {})).apps.map((a: any) => a.id)).not.toContain('com.ax.app');
});

test('firmware: refresh_store {"status":200}, the firmware list, an unknown firmware package refused in the seed form', async () => {
  expect(await ax('POST', '/app_store/firmware/refresh_store')).toMatchObject({ status: 201, json: { status: 200 } });
  const fw = await ax('GET', '/app_store/firmware/packages');
  expect(fw).toMatchObject({ status: 200, json: [] });
  expect(await ax('POST', '/app_store/firmware/install_packages', { packages: ['bottom-sensor'] }))
    .toMatchObject({ status: 400, json: { 'bottom-sensor': { error: 'invalid module bottom-sensor, skip...' } } });
});

test('firmware from the feed: listed not_installed, upgradable, installed in one step under lib/firmware, then up_to_date; its task and log', async () => {
  const fw = fwIpk(path.join(www, 'feed'), 'bottom-sensor', '1.5.4', { 'sensor.bin': 'bottom sensor 1.5.4\n' });
  const old = fwIpk(path.join(path.dirname(www), 'local-fw'), 'bottom-sensor', '1.3.1', { 'sensor.bin': 'bottom sensor 1.3.1\n', 'old.txt': 'old\n' });
  writeFeed(path.join(www, 'feed'), [stanza('com.ax.app', '1.0.0', ipks.app), stanza('com.ax.high', '1.0.0', ipks.high), { ...stanza('bottom-sensor', '1.5.4', fw), section: 'firmware' }]);
  expect(await ax('POST', '/app_store/firmware/refresh_store')).toMatchObject({ status: 201, json: { status: 200 } });
  // The firmware list has the firmware only, with the seed's four fields; the app list does not have it.
  expect((await ax('GET', '/app_store/firmware/packages')).json).toEqual([{ name: 'bottom-sensor', latest_version: '1.5.4', current_version: '', status: 'not_installed' }]);
  expect((await ax('GET', '/app_store/packages')).json.map((p: any) => p.name)).not.toContain('bottom-sensor');

  // An older firmware installed from a file: the feed's is an upgrade.
  expect(await ax('POST', '/app_store/services/install_local_file', { filename: old })).toMatchObject({ status: 201, json: { module_name: 'bottom-sensor', version: '1.3.1' } });
  await new Promise((r) => setTimeout(r, 300)); // the list answer is reused for 250 ms
  expect((await ax('GET', '/app_store/firmware/packages')).json).toEqual([{ name: 'bottom-sensor', latest_version: '1.5.4', current_version: '1.3.1', status: 'upgradable' }]);

  // One step: no download beforehand.
  const r = await ax('POST', '/app_store/firmware/install_packages', { packages: ['bottom-sensor'] });
  expect(r).toMatchObject({ status: 201, json: { 'bottom-sensor': { task_id: expect.any(Number), version: '1.5.4' } } });
  const task = r.json['bottom-sensor'].task_id;
  let last: any;
  for (const end = Date.now() + 60000; Date.now() < end; await new Promise((res) => setTimeout(res, 20))) {
    last = (await ax('GET', '/app_store/firmware/packages')).json[0];
    if (last?.status === 'up_to_date') break;
  }
  expect(last).toEqual({ name: 'bottom-sensor', latest_version: '1.5.4', current_version: '1.5.4', status: 'up_to_date' });
  const dir = path.join(g.root, 'lib/firmware/bottom-sensor');
  expect(fs.readdirSync(dir).sort()).toEqual(['sensor.bin']);
  expect(fs.readFileSync(path.join(dir, 'sensor.bin'), 'utf8')).toBe('bottom sensor 1.5.4\n');
  expect((await call(g.root, 'luna://com.webos.appInstallService/installed', { section: 'firmware' })).packages)
    .toEqual([expect.objectContaining({ id: 'bottom-sensor', version: '1.5.4', section: 'firmware' })]);

  // The install task is in the install task list, succeeded, with a log; installing it again is refused.
  const t = (await ax('GET', '/app_store/jobs/install/tasks')).json.find((x: any) => x.id === task);
  expect(t).toMatchObject({ status: 'succeeded', module: 'bottom-sensor', version: '1.5.4', url: `${g.base}/app_store/jobs/install/tasks/${task}/log` });
  const log = await ax('GET', `/app_store/jobs/install/tasks/${task}/log`);
  expect(log.status).toBe(200);
  expect(log.headers.get('x-more-data')).toBe('false');
  expect(log.text).toMatch(/firmware task bottom-sensor\(1\.5\.4\) added\n[^]*firmware task bottom-sensor\(1\.5\.4\) succeeded\n$/);
  expect(await ax('POST', '/app_store/firmware/install_packages', { packages: ['bottom-sensor'] }))
    .toMatchObject({ status: 400, json: { 'bottom-sensor': { error: 'installed version(1.5.4) is already up to date' } } });
});
