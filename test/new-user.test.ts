// A new user's first minutes, as real processes: `npm start` in one shell and `npx luna-send` in another,
// with no settings at all (only a fresh HOME), must find each other; with the hub down luna-send says where it looked.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const repo = path.resolve(__dirname, '..');
let home: string;
let env: NodeJS.ProcessEnv;
let daemon: ChildProcess | null = null;

function npx(args: string[]) {
  return spawnSync('npx', ['--no-install', ...args], { cwd: repo, env, encoding: 'utf8', timeout: 30000 });
}

function defaultSocket(): string {
  return path.join(home, '.local/state/appinstalld/var/run/luna-service2/com.palm.hub');
}

async function waitFor(check: () => boolean, what: string, ms = 20000): Promise<void> {
  const until = Date.now() + ms;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(() => {
  home = fs.mkdtempSync('/tmp/ai-home-');
  env = { PATH: process.env.PATH, HOME: home, npm_config_update_notifier: 'false' };
});

afterAll(async () => {
  if (daemon?.pid && daemon.exitCode === null) {
    process.kill(-daemon.pid, 'SIGTERM');
    await new Promise((r) => daemon!.once('exit', r));
  }
  fs.rmSync(home, { recursive: true, force: true });
});

test('with the hub down, luna-send exits 1 and names the socket it tried', () => {
  const r = npx(['luna-send', '-n', '1', 'luna://com.webos.service.bus/signal/registerServerStatus', '{"serviceName":"com.webos.service.bus"}']);
  expect(r.status).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).toContain(defaultSocket());
});

test('npm start, then npx luna-send with no settings: one line with "connected":true, exit 0', async () => {
  let log = '';
  daemon = spawn('npm', ['start'], { cwd: repo, env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  daemon.stderr!.on('data', (d) => (log += d));
  await waitFor(() => fs.existsSync(defaultSocket()) && /appInstallService/.test(log), `npm start to come up (log so far: ${log})`);

  const r = npx(['luna-send', '-n', '1', 'luna://com.webos.service.bus/signal/registerServerStatus', '{"serviceName":"com.webos.service.bus"}']);
  expect(r.status).toBe(0);
  const lines = r.stdout.split('\n').filter(Boolean);
  expect(lines).toHaveLength(1);
  expect(JSON.parse(lines[0])).toMatchObject({ serviceName: 'com.webos.service.bus', connected: true });

  const s = npx(['luna-send', '-n', '1', 'luna://com.webos.appInstallService/status', '{}']);
  expect(s.status).toBe(0);
  expect(JSON.parse(s.stdout)).toEqual({ returnValue: true, subscribed: false, status: { apps: [] } });
});
