// Gateway benchmark (issue #14): GET /app_store/packages under 50 concurrent keep-alive clients beside nginx serving
// the same JSON as a static file (gateway.rps, gateway.nginx_rps, gateway.p99_ms), and one Thunder operationstatus
// event fanned out to 1,000 WebSocket subscribers (gateway.ws_fanout_p99_ms: each delivery's arrival after the
// first arrival of that event, p99 over all deliveries). The daemon runs as `npm start` does, gateway on; the list is
// a 1,000-package opkg feed served by nginx, refreshed through the gateway. Its idle RSS is measured beside bare node
// (gateway.rss_idle_mb, gateway.rss_node_mb).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import zlib from 'node:zlib';
import { makeTinyPackage } from './bench-app';
import { rssMb, sleep, startChild, type BenchChild } from './bench-process';
import { startNginx, type LocalNginx } from './local-nginx';
import { formatIndex, generatePackages } from './opkg-index-fixture';
import { msSince, nowNs, percentile, round } from './stats';

const REPO = path.resolve(__dirname, '../..');

export interface GatewayBenchOptions { concurrency: number; seconds: number; subscribers: number; installs: number; catalog?: number; settleMs?: number; log(line: string): void }
export const DEFAULT_GATEWAY_OPTIONS: Omit<GatewayBenchOptions, 'log'> = { concurrency: 50, seconds: 10, subscribers: 1000, installs: 3, catalog: 1000, settleMs: 3000 };

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** `concurrency` keep-alive loops of GET url for `seconds`: requests per second and p99 latency (ms). */
async function load(url: string, headers: Record<string, string>, concurrency: number, seconds: number): Promise<{ rps: number; p99: number; errors: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const lat: number[] = [];
  let errors = 0;
  const end = Date.now() + seconds * 1000;
  const one = () => new Promise<void>((resolve) => {
    const t = nowNs();
    const req = http.get(url, { agent, headers }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode === 200) lat.push(msSince(t));
        else errors++;
        resolve();
      });
    });
    req.on('error', () => { errors++; resolve(); });
  });
  const started = nowNs();
  await Promise.all(Array.from({ length: concurrency }, async () => { while (Date.now() < end) await one(); }));
  const elapsed = msSince(started) / 1000;
  agent.destroy();
  return { rps: lat.length / elapsed, p99: percentile(lat, 99), errors };
}

async function nginxServing(dir: string, port: number): Promise<ChildProcess | null> {
  if (spawnSync('nginx', ['-v']).error) return null;
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, `worker_processes 1;\ndaemon off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents { worker_connections 1024; }\nhttp {\n access_log off;\n types { application/json json; }\n client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp; uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;\n server { listen 127.0.0.1:${port}; location / { root ${dir}/www; } }\n}\n`);
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  const child = spawn('nginx', ['-p', dir, '-c', conf], { stdio: 'ignore' });
  // nginx prints nothing when ready: wait until the port answers.
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) => { const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); }); s.on('error', () => r(false)); });
    if (ok) return child;
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

export async function runGatewayBench(o: GatewayBenchOptions): Promise<{ figures: Record<string, number>; skipped: string[] }> {
  const work = fs.mkdtempSync('/tmp/ai-gw-');
  fs.chmodSync(work, 0o755);
  const root = path.join(work, 'root');
  fs.mkdirSync(path.join(root, 'etc/palm'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/palm/appinstalld.json'), JSON.stringify({ gateway: { listen: ['127.0.0.1:0'], maxConnectionsPerAddress: o.subscribers + 200, maxConnections: o.subscribers + 500, maxWebSockets: o.subscribers + 100 } }));
  const figures: Record<string, number> = {};
  const skipped: string[] = [];
  const children: BenchChild[] = [];
  let nginx: ChildProcess | null = null;
  let feedServer: LocalNginx | null = null;
  // The feed: `catalog` generated packages (app sections only) in Packages and Packages.gz, served by nginx.
  const count = o.catalog ?? 1000;
  const feedDir = path.join(work, 'feedwww/feed');
  fs.mkdirSync(feedDir, { recursive: true });
  const index = Buffer.from(formatIndex(generatePackages(count).map((p) => ({ ...p, section: 'apps' }))));
  fs.writeFileSync(path.join(feedDir, 'Packages'), index);
  fs.writeFileSync(path.join(feedDir, 'Packages.gz'), zlib.gzipSync(index, { level: 9 }));
  const sockets: WebSocket[] = [];
  try {
    feedServer = await startNginx({ root: path.join(work, 'feedwww') });
    fs.mkdirSync(path.join(root, 'etc/opkg'), { recursive: true });
    fs.writeFileSync(path.join(root, 'etc/opkg/feeds.conf'), `src/gz main ${feedServer.url}/feed\n`);
    const env: NodeJS.ProcessEnv = { ...process.env, MALLOC_ARENA_MAX: '2', MALLOC_TRIM_THRESHOLD_: '131072' };
    delete env.APPINSTALLD_ROOT;
    delete env.LUNA_HUB_SOCKET;
    const daemon = await startChild(process.execPath, ['--max-semi-space-size=1', '--optimize-for-size', path.join(REPO, 'dist/services/main.js'), '--root', root], 'gateway: listening on', { env, limitMs: 30000 });
    children.push(daemon);
    const base = /gateway: listening on (http:\/\/[0-9.:]+)/.exec(daemon.stderr())![1];
    const token = Object.keys(JSON.parse(fs.readFileSync(path.join(root, 'etc/palm/gateway-tokens.json'), 'utf8')))[0];

    // Idle RSS of the daemon with the gateway on, beside a bare node process.
    await sleep(o.settleMs ?? 3000);
    figures['gateway.rss_idle_mb'] = round(rssMb(daemon.proc.pid!), 1);
    const bare = await startChild(process.execPath, ['-e', 'setInterval(() => {}, 1000); console.log("ready")'], 'ready');
    try { await sleep(o.settleMs ?? 3000); figures['gateway.rss_node_mb'] = round(rssMb(bare.proc.pid!), 1); } finally { await bare.stop(); }
    o.log(`gateway: daemon (npm start, gateway on) idle RSS ${figures['gateway.rss_idle_mb']} MB; bare node ${figures['gateway.rss_node_mb']} MB`);

    // The list: the refreshed feed's packages plus the few installed below (for the fan-out's install/uninstall).
    const refreshed = await fetch(`${base}/app_store/services/refresh_store`, { method: 'POST', headers: { Secret: token } });
    if (refreshed.status !== 201) skipped.push(`gateway: refresh_store answered ${refreshed.status}`);
    for (const end = Date.now() + 60000; Date.now() < end; await sleep(100)) {
      const r = await fetch(`${base}/app_store/packages`, { headers: { Secret: token } });
      if (r.status === 200 && ((await r.json()) as unknown[]).length >= count) break;
    }
    const pkgs = await Promise.all(Array.from({ length: 5 }, (_, i) => makeTinyPackage(work, `com.bench.gw${i}`)));
    const install = async (id: string, ipk: string) => fetch(`${base}/app_store/services/install_local_file`, { method: 'POST', headers: { Secret: token, 'content-type': 'application/json' }, body: JSON.stringify({ filename: ipk.replace(/[^/]+$/, `${id}_1.0.0.ipk`) }) });
    for (const p of pkgs) {
      fs.copyFileSync(p.ipk, p.ipk.replace(/[^/]+$/, `${p.id}_1.0.0.ipk`));
      await install(p.id, p.ipk);
    }
    const body = await (await fetch(`${base}/app_store/packages`, { headers: { Secret: token } })).text();
    figures['gateway.catalog_entries'] = (JSON.parse(body) as unknown[]).length;
    if (figures['gateway.catalog_entries'] < count) skipped.push(`gateway: ${figures['gateway.catalog_entries']} packages in the list, not ${count}`);
    const g = await load(`${base}/app_store/packages`, { Secret: token }, o.concurrency, o.seconds);
    figures['gateway.rps'] = round(g.rps);
    figures['gateway.p99_ms'] = round(g.p99, 2);
    o.log(`gateway: ${round(g.rps)} req/s, p99 ${round(g.p99, 2)} ms, ${g.errors} errors`);
    fs.mkdirSync(path.join(work, 'www/app_store'), { recursive: true });
    fs.writeFileSync(path.join(work, 'www/app_store/packages.json'), body);
    const port = await freePort();
    nginx = await nginxServing(work, port);
    if (nginx) {
      const n = await load(`http://127.0.0.1:${port}/app_store/packages.json`, {}, o.concurrency, o.seconds);
      figures['gateway.nginx_rps'] = round(n.rps);
      o.log(`nginx: ${round(n.rps)} req/s, p99 ${round(n.p99, 2)} ms, ${n.errors} errors`);
    } else skipped.push('gateway.nginx_rps: nginx not installed');

    // Fan-out: subscribers register as ThunderJS does; a Thunder client installs and removes a package.
    const arrivals = new Map<string, number[]>();
    const host = base.replace('http://', '');
    for (let i = 0; i < o.subscribers; i++) {
      const ws = new WebSocket(`ws://${host}/jsonrpc?token=${token}`, 'notification');
      sockets.push(ws);
      await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
      ws.on('message', (m) => {
        const d = JSON.parse(String(m));
        if (d.id || !d.method) return;
        const key = `${d.params.handle} ${d.params.status} ${d.params.details}`;
        const list = arrivals.get(key) ?? [];
        list.push(performance.now());
        arrivals.set(key, list);
      });
      await new Promise<void>((r) => {
        ws.once('message', () => r());
        ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'PackageManager.1.register', params: { event: 'operationstatus', id: 'client.PackageManager.events' } }));
      });
    }
    const driver = sockets[0];
    let rid = 10;
    const rpc = (method: string, params: object) => new Promise<any>((resolve) => {
      const id = ++rid;
      const on = (m: WebSocket.RawData) => { const d = JSON.parse(String(m)); if (d.id === id) { driver.off('message', on); resolve(d); } };
      driver.on('message', on);
      driver.send(JSON.stringify({ jsonrpc: '2.0', id, method: `PackageManager.1.${method}`, params }));
    });
    const t = nowNs();
    for (let i = 0; i < o.installs; i++) {
      const p = pkgs[0];
      const h = (await rpc('uninstall', { type: 't', id: p.id, version: '1.0.0', uninstalltype: 'full' })).result;
      while (![...arrivals.keys()].some((k) => k.startsWith(`${h} Success`))) await new Promise((r) => setTimeout(r, 20));
      const h2 = (await rpc('install', { type: 't', id: p.id, version: '1.0.0', url: p.ipk })).result;
      while (![...arrivals.keys()].some((k) => k.startsWith(`${h2} Success`) || k.startsWith(`${h2} Failed`))) await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 500));
    const spreads: number[] = [];
    for (const list of arrivals.values()) { const first = Math.min(...list); for (const a of list) spreads.push(a - first); }
    figures['gateway.ws_subscribers'] = o.subscribers;
    figures['gateway.ws_fanout_p99_ms'] = round(percentile(spreads, 99), 2);
    o.log(`gateway fan-out: ${arrivals.size} events to ${o.subscribers} WebSockets in ${Math.round(msSince(t))} ms, p99 ${figures['gateway.ws_fanout_p99_ms']} ms after the first delivery`);
    return { figures, skipped };
  } finally {
    for (const s of sockets) s.terminate();
    nginx?.kill('SIGTERM');
    await feedServer?.stop();
    for (const c of children.reverse()) await c.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}
