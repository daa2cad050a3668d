// The gateway's config key and tokens file (gateway/config.ts, gateway/tokens.ts), and the standalone
// `appinstall-gateway` process against a running daemon whose own gateway is off.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseGatewayConfig, DEFAULT_GATEWAY } from '../gateway/config';
import { TokenStore, ADMIN_CLIENT_NAME, bearer } from '../gateway/tokens';
import { parseDaemonConfig } from '../services/appinstall/daemon-config';
import { killAllChildren, makeRoot, startDaemon, REPO } from './helpers/appinstall-daemon';
import { track } from './helpers/child-processes';

afterAll(() => killAllChildren());

test('config: defaults to loopback 127.0.0.1:8090; false turns it off; addresses and limits are checked', () => {
  expect(parseGatewayConfig(undefined)).toEqual(DEFAULT_GATEWAY);
  expect(DEFAULT_GATEWAY.listen).toEqual([{ host: '127.0.0.1', port: 8090 }]);
  expect(parseGatewayConfig(false).enabled).toBe(false);
  expect(parseGatewayConfig({ listen: ['[::1]:9998', '127.0.0.1:0'] }).listen).toEqual([{ host: '::1', port: 9998 }, { host: '127.0.0.1', port: 0 }]);
  expect(() => parseGatewayConfig({ listen: 'nohost' })).toThrow('"gateway": listen address "nohost" must be HOST:PORT or [IPV6]:PORT');
  expect(() => parseGatewayConfig({ listen: ['1.2.3.4:70000'] })).toThrow('port 70000 out of range');
  expect(() => parseGatewayConfig({ maxBodyBytes: 1 })).toThrow('"maxBodyBytes" must be an integer from 256 to 16777216');
  expect(() => parseGatewayConfig({ bogus: 1 })).toThrow('unknown key "bogus"');
  expect(() => parseDaemonConfig({ gateway: 'yes' })).toThrow('bad daemon config');
  expect(parseDaemonConfig({ gateway: false }).gateway.enabled).toBe(false);
});

test('tokens file: created 0600 with one admin token; unsafe mode, other owner or bad JSON refused; lookup', () => {
  const root = makeRoot();
  const lines: string[] = [];
  const store = TokenStore.open(root, (l) => lines.push(l));
  const file = path.join(root, 'etc/palm/gateway-tokens.json');
  expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  expect(lines).toEqual([`created ${file} with one admin token for ${ADMIN_CLIENT_NAME} (mode 0600; read it as root)`]);
  const [token] = Object.keys(JSON.parse(fs.readFileSync(file, 'utf8')));
  expect(store.lookup(token)).toBe(ADMIN_CLIENT_NAME);
  expect(store.lookup(`${token}x`)).toBeNull();
  expect(store.lookup('')).toBeNull();
  expect(store.lookup(undefined)).toBeNull();
  fs.chmodSync(file, 0o640);
  expect(() => TokenStore.open(root, () => undefined)).toThrow(`refusing the tokens file ${file}: mode 640 lets group or others read it (chmod 600)`);
  fs.chmodSync(file, 0o600);
  if (process.getuid?.() === 0) {
    fs.chownSync(file, 65534, 65534);
    expect(() => TokenStore.open(root, () => undefined)).toThrow('owned by uid 65534, not the daemon\'s uid 0');
    fs.chownSync(file, 0, 0);
  }
  fs.writeFileSync(file, '{"short": {"name": "x"}}');
  expect(() => TokenStore.open(root, () => undefined)).toThrow('a token must have 16 to 512 characters');
  fs.writeFileSync(file, '[');
  expect(() => TokenStore.open(root, () => undefined)).toThrow('not valid JSON');
  expect(bearer('Bearer abc')).toBe('abc');
  expect(bearer('Basic abc')).toBeUndefined();
});

test('appinstall-gateway runs alone against a running daemon whose gateway is off', async () => {
  const d = await startDaemon({ config: { gateway: false } });
  fs.writeFileSync(path.join(d.root, 'etc/palm/appinstalld.json'), JSON.stringify({ gateway: { listen: ['127.0.0.1:0'] } }));
  const env = { ...process.env };
  delete env.APPINSTALLD_ROOT;
  delete env.LUNA_HUB_SOCKET;
  const proc = track(spawn(process.execPath, [path.join(REPO, 'dist/gateway/gateway-main.js'), '--root', d.root], { stdio: ['ignore', 'ignore', 'pipe'], env }));
  let err = '';
  proc.stderr!.on('data', (c) => (err += c));
  const end = Date.now() + 15000;
  let m: RegExpExecArray | null = null;
  while (!(m = /gateway: listening on http:\/\/([0-9.:]+)/.exec(err)) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  expect(m).not.toBeNull();
  const token = Object.keys(JSON.parse(fs.readFileSync(path.join(d.root, 'etc/palm/gateway-tokens.json'), 'utf8')))[0];
  const r = await fetch(`http://${m![1]}/jsonrpc`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'org.rdk.PackageManager.1.getlist', params: {} }) });
  expect(await r.json()).toEqual({ jsonrpc: '2.0', id: 1, result: [] });
  const exited = new Promise((res) => proc.once('exit', res));
  proc.kill('SIGTERM');
  await exited;
  await d.stop();
});
