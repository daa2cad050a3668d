// Gateway security and limits (docs/gateway.md): 1,000 malformed requests, oversized bodies and uploads, 200 idle
// connections, slow clients, a WebSocket flood and oversized messages — the gateway and the bus keep serving others;
// an unsafe tokens file keeps the gateway off (the bus still serves); "gateway": false turns it off.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { call, killAllChildren, makeRoot, startDaemon } from './helpers/appinstall-daemon';
import { rpc, startGatewayDaemon, ThunderJsLike, type GatewayDaemon } from './helpers/gateway';

let g: GatewayDaemon;
beforeAll(async () => {
  g = await startGatewayDaemon({ gateway: { maxBodyBytes: 4096, maxUploadBytes: 65536, headersTimeoutMs: 1000, idleTimeoutMs: 3000, maxConnectionsPerAddress: 64, wsMessagesPerSecond: 20, wsMaxMessageBytes: 8192 } });
});
afterAll(async () => {
  await g?.d.stop();
  killAllChildren();
});

const busServes = async () => expect((await call(g.root, 'luna://com.webos.applicationManager/listApps', {})).returnValue).toBe(true);
const gatewayServes = async () => expect((await rpc(g.base, g.token, { jsonrpc: '2.0', id: 1, method: 'PackageManager.1.versions' })).json).toEqual({ jsonrpc: '2.0', id: 1, result: [1] });

function rawRequest(text: string | Buffer, from = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: g.host, port: g.port, localAddress: from });
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('error', () => resolve(out));
    s.on('close', () => resolve(out));
    s.setTimeout(5000, () => s.destroy());
    s.write(text);
    s.end();
  });
}

test('1,000 malformed requests get peer errors or 400s, and the gateway and the bus keep serving', async () => {
  const bad: Array<() => Promise<unknown>> = [];
  for (let i = 0; i < 1000; i++) {
    switch (i % 8) {
      case 0: bad.push(() => rpc(g.base, g.token, null, { raw: `{"jsonrpc":"2.0","id":${i},"method":` })); break;
      case 1: bad.push(() => rpc(g.base, g.token, { jsonrpc: '2.0', id: i, method: 'PackageManager.1.install', params: { id: 7, url: [] } })); break;
      case 2: bad.push(() => rawRequest(`GARBAGE ${i} \x00\x01\r\n\r\n`)); break;
      case 3: bad.push(() => rawRequest(`GET /package/${'%ff'.repeat(50)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${g.token}\r\n\r\n`)); break;
      case 4: bad.push(() => fetch(`${g.base}/app_store/services/install_packages`, { method: 'POST', headers: { Secret: g.token, 'content-type': 'application/json' }, body: '{"packages":' })); break;
      case 5: bad.push(() => fetch(`${g.base}/system-server/v1alpha1/app/service.appstore/v1/InstallDevApp`, { method: 'POST', headers: { 'X-Access-Token': g.token, 'X-Authorization': 'u', 'content-type': 'application/json' }, body: '[[[' })); break;
      case 6: bad.push(() => rawRequest(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`)); break;
      case 7: bad.push(() => rpc(g.base, g.token, { jsonrpc: '2.0', id: i, method: 'PackageManager.1.' + 'x'.repeat(300) })); break;
    }
  }
  const results: unknown[] = [];
  for (let i = 0; i < bad.length; i += 50) results.push(...(await Promise.all(bad.slice(i, i + 50).map((f) => f()))));
  expect((results[0] as any).status).toBe(400);
  expect((results[1] as any).json.error).toEqual({ code: 1001, message: 'ERROR_WRONG_PARAMS' });
  expect(String(results[2])).toMatch(/^HTTP\/1\.1 400/);
  expect(String(results[6])).toMatch(/^HTTP\/1\.1 431/);
  expect((results[7] as any).json.error.code).toBe(-32600);
  await gatewayServes();
  await busServes();
});

test('oversized bodies and uploads are refused in each peer form and install nothing', async () => {
  const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'PackageManager.1.getlist', params: { id: 'x'.repeat(10000) } });
  const t = await rpc(g.base, g.token, null, { raw: big });
  expect(t.status).toBe(413);
  expect(t.json).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Invalid Request' } });
  const a = await fetch(`${g.base}/app_store/services/uninstall_packages`, { method: 'POST', headers: { Secret: g.token, 'content-type': 'application/json' }, body: JSON.stringify({ packages: ['x'.repeat(9000)] }) });
  expect(a.status).toBe(413);
  const up = await fetch(`${g.base}/package/install_from_path/${os.hostname()}?filename=com.example.big_1.0.0.ipk`, { method: 'PUT', headers: { authorization: `Bearer ${g.token}` }, body: Buffer.alloc(100000) });
  expect(await up.json()).toEqual({ status: 'ERROR', code: 999, description: 'Request too large : upload larger than 65536 bytes' });
  expect(fs.readdirSync(path.join(g.root, 'var/cache/appinstalld/gateway-uploads'))).toEqual([]);
  await gatewayServes();
});

test('200 idle connections from one address: others are served; the extra ones and then the idle ones are closed', async () => {
  const socks: net.Socket[] = [];
  const closed = new Set<net.Socket>();
  for (let i = 0; i < 200; i++) {
    const s = net.connect({ host: g.host, port: g.port, localAddress: '127.0.0.2' });
    s.on('error', () => undefined);
    s.resume(); // read, so that the server's FIN is seen
    s.on('close', () => closed.add(s));
    socks.push(s);
  }
  await new Promise((r) => setTimeout(r, 300));
  await gatewayServes();
  await busServes();
  // Over the per-address limit (64): cut within 2 s; the rest by the headers timeout (1 s) / idle timeout (3 s).
  const end = Date.now() + 8000;
  while (closed.size < 200 && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
  expect(closed.size).toBe(200);
  // A slow client sending its headers byte by byte is cut by the headers timeout.
  const slow = net.connect({ host: g.host, port: g.port });
  let slowOut = '';
  slow.on('data', (d) => (slowOut += d));
  slow.on('error', () => undefined);
  const slowClosed = new Promise((r) => slow.on('close', r));
  slow.write('GET /app_store/packages HTTP/1.1\r\nHost: x\r\n');
  const drip = setInterval(() => slow.writable && slow.write('X-Drip: 1\r\n'), 200);
  await slowClosed;
  clearInterval(drip);
  expect(slowOut).toMatch(/^HTTP\/1\.1 408/);
  await gatewayServes();
});

test('over the per-address limit a request gets the peer error form', async () => {
  const held: net.Socket[] = [];
  for (let i = 0; i < 64; i++) {
    const s = net.connect({ host: g.host, port: g.port, localAddress: '127.0.0.3' });
    s.on('error', () => undefined);
    held.push(s);
  }
  await new Promise((r) => setTimeout(r, 200));
  const over = await rawRequest(`POST /jsonrpc?token=${g.token} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`, '127.0.0.3');
  expect(over).toMatch(/^HTTP\/1\.1 503/);
  expect(over).toContain('"error":{"code":1002,"message":"ERROR_TOO_MANY_REQUESTS"}');
  for (const s of held) s.destroy();
  await gatewayServes();
});

test('a WebSocket flood gets 1002 then is closed; an oversized message closes that socket; others keep being served', async () => {
  const other = await ThunderJsLike.connect(g.host, g.port, g.token);
  const flood = new WebSocket(`ws://${g.host}:${g.port}/jsonrpc?token=${g.token}`, 'jsonrpc');
  await new Promise((r) => flood.once('open', r));
  const replies: any[] = [];
  flood.on('message', (m) => replies.push(JSON.parse(String(m))));
  const closedFlood = new Promise<number>((r) => flood.on('close', (code) => r(code)));
  for (let i = 1; i <= 2000 && flood.readyState === WebSocket.OPEN; i++) flood.send(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'PackageManager.1.versions' }));
  expect(await closedFlood).toBe(1008);
  expect(replies.some((r) => r.error?.code === 1002 && r.error.message === 'ERROR_TOO_MANY_REQUESTS')).toBe(true);
  expect(await other.call('PackageManager', 'versions')).toEqual([1]);
  const huge = new WebSocket(`ws://${g.host}:${g.port}/jsonrpc?token=${g.token}`, 'notification');
  await new Promise((r) => huge.once('open', r));
  const closedHuge = new Promise<number>((r) => huge.on('close', (code) => r(code)));
  huge.on('error', () => undefined);
  huge.send('x'.repeat(20000));
  expect(await closedHuge).toBe(1009);
  expect(await other.call('PackageManager', 'versions')).toEqual([1]);
  other.close();
  await busServes();
});

test('a group-readable tokens file keeps the gateway off and the bus serving; "gateway": false turns it off', async () => {
  const root = makeRoot();
  fs.mkdirSync(path.join(root, 'etc/palm'), { recursive: true });
  fs.writeFileSync(path.join(root, 'etc/palm/gateway-tokens.json'), JSON.stringify({ 'abcdefghijklmnopqrstuvwxyz': { name: 'com.webos.appinstall.admin' } }), { mode: 0o644 });
  fs.chmodSync(path.join(root, 'etc/palm/gateway-tokens.json'), 0o644);
  const d = await startDaemon({ root, config: { gateway: { listen: ['127.0.0.1:0'] } } });
  const end = Date.now() + 10000;
  while (!/gateway: not started/.test(d.stderr()) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  expect(d.stderr()).toContain('gateway: not started: refusing the tokens file');
  expect(d.stderr()).toContain('lets group or others read it');
  expect((await call(root, 'luna://com.webos.applicationManager/listApps', {})).returnValue).toBe(true);
  await d.stop();
  const d2 = await startDaemon({ config: { gateway: false } });
  const end2 = Date.now() + 10000;
  while (!/gateway: off/.test(d2.stderr()) && Date.now() < end2) await new Promise((r) => setTimeout(r, 50));
  expect(d2.stderr()).toContain('gateway: off');
  expect(fs.existsSync(path.join(d2.root, 'etc/palm/gateway-tokens.json'))).toBe(false);
  await d2.stop();
});

test('first start creates a 0600 tokens file with one admin token and says where', async () => {
  const file = path.join(g.root, 'etc/palm/gateway-tokens.json');
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  expect(g.d.stderr()).toContain(`created ${file} with one admin token for com.webos.appinstall.admin`);
  expect(g.token.length).toBeGreaterThanOrEqual(40);
});
