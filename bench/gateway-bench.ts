// Gateway benchmark (issue #14): GET /app_store/packages under 50 concurrent keep-alive clients beside nginx serving
// the same JSON as a static file (gateway.rps, gateway.nginx_rps, gateway.p99_ms), and one Thunder operationstatus
// event fanned out to 1,000 WebSocket subscribers (gateway.ws_fanout_p99_ms: each delivery's arrival after the
// first arrival of that event, p99 over all deliveries). The daemon runs as `npm start` does, gateway on.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import { makeTinyPackage } from './bench-app';
import { startChild, type BenchChild } from './bench-process';
import { msSince, nowNs, percentile, round } from './stats';

const REPO = path.resolve(__dirname, '../..');

export interface GatewayBenchOptions { concurrency: number; seconds: number; subscribers: number; installs: number; log(line: string): void }
export const DEFAULT_GATEWAY_OPTIONS: Omit<GatewayBenchOptions, 'log'> = { concurrency: 50, seconds: 10, subscribers: 1000, installs: 3 };

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
  const sockets: WebSocket[] = [];
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, MALLOC_ARENA_MAX: '2', MALLOC_TRIM_THRESHOLD_: '131072' };
    delete env.APPINSTALLD_ROOT;
    delete env.LUNA_HUB_SOCKET;
    const daemon = await startChild(process.execPath, ['--max-semi-space-size=1', '--optimize-for-size', path.join(REPO, 'dist/services/main.js'), '--root', root], 'gateway: listening on', { env, limitMs: 30000 });
    children.push(daemon);
    const base = /gateway: listening on (http:\/\/[0-9.:]+)/.exec(daemon.stderr())![1];
    const token = Object.keys(JSON.parse(fs.readFileSync(path.join(root, 'etc/palm/gateway-tokens.json'), 'utf8')))[0];

    // Packages in the list: the catalog once the feeds branch is merged; until then the installed apps.
    const pkgs = await Promise.all(Array.from({ length: 5 }, (_, i) => makeTinyPackage(work, `com.bench.gw${i}`)));
    const install = async (id: string, ipk: string) => fetch(`${base}/app_store/services/install_local_file`, { method: 'POST', headers: { Secret: token, 'content-type': 'application/json' }, body: JSON.stringify({ filename: ipk.replace(/[^/]+$/, `${id}_1.0.0.ipk`) }) });
    for (const p of pkgs) {
      fs.copyFileSync(p.ipk, p.ipk.replace(/[^/]+$/, `${p.id}_1.0.0.ipk`));
      await install(p.id, p.ipk);
    }
    const body = await (await fetch(`${base}/app_store/packages`, { headers: { Secret: token } })).text();
    figures['gateway.catalog_entries'] = (JSON.parse(body) as unknown[]).length;
    if (figures['gateway.catalog_entries'] < 1000) skipped.push(`gateway: ${figures['gateway.catalog_entries']} packages in the list, not 1,000 (the catalog needs the feeds branch's /catalog/list)`);
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
    for (const c of children.reverse()) await c.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}
