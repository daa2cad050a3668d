// A real nginx from Debian serving a directory on loopback, for tests (feeds, downloads, gateway) to reuse:
// installs nginx-light (or nginx) when missing, runs it in the foreground with its own prefix/config/pid/temp dirs.
// Not a fixture server that misbehaves on purpose: tests write their own small Node server for that.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { track } from './child-processes';
import { ensureTool } from './debian-tool';

export interface NginxServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** The nginx binary, installed from Debian (nginx-light, else nginx) when missing. */
export function ensureNginx(): string {
  return ensureTool(['/usr/sbin/nginx', 'nginx'], ['nginx-light', 'nginx']);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

function config(prefix: string, root: string, port: number): string {
  const asRoot = process.getuid?.() === 0;
  return [
    // As root nginx's workers would drop to "nobody", who cannot read a test's private temp dirs.
    asRoot ? 'user root root;' : '',
    'daemon off;',
    'master_process on;',
    'worker_processes 1;',
    `pid ${prefix}/nginx.pid;`,
    `error_log ${prefix}/error.log warn;`,
    'events { worker_connections 256; }',
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${prefix}/tmp/body;`,
    `  proxy_temp_path ${prefix}/tmp/proxy;`,
    `  fastcgi_temp_path ${prefix}/tmp/fastcgi;`,
    `  uwsgi_temp_path ${prefix}/tmp/uwsgi;`,
    `  scgi_temp_path ${prefix}/tmp/scgi;`,
    '  default_type application/octet-stream;',
    '  sendfile on;',
    '  etag on;',
    '  server {',
    `    listen 127.0.0.1:${port};`,
    `    root ${root};`,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Serve `root` (read-only) on a free loopback port until stop(). */
export async function startNginx({ root }: { root: string }): Promise<NginxServer> {
  const bin = ensureNginx();
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-nginx-'));
  fs.mkdirSync(path.join(prefix, 'tmp'));
  const absRoot = path.resolve(root);
  let lastErr = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const conf = path.join(prefix, 'nginx.conf');
    fs.writeFileSync(conf, config(prefix, absRoot, port));
    // -e: the startup error log too goes to our prefix (not /var/log/nginx, which may not exist or be writable).
    const child = track(spawn(bin, ['-p', prefix, '-c', conf, '-e', path.join(prefix, 'error.log')], { stdio: ['ignore', 'ignore', 'pipe'] }));
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 10_000;
    let up = false;
    while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
      if (await canConnect(port)) {
        up = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    if (up) {
      return {
        url: `http://127.0.0.1:${port}`,
        port,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) {
            child.kill('SIGTERM');
            const t = setTimeout(() => child.kill('SIGKILL'), 5000);
            await exited;
            clearTimeout(t);
          }
          fs.rmSync(prefix, { recursive: true, force: true });
        },
      };
    }
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    let log = '';
    try {
      log = fs.readFileSync(path.join(prefix, 'error.log'), 'utf8');
    } catch {
      /* no log */
    }
    lastErr = `${stderr}${log}`.trim().split('\n').slice(-3).join(' | ');
  }
  fs.rmSync(prefix, { recursive: true, force: true });
  throw new Error(`nginx did not start: ${lastErr}`);
}

/** The nginx version line (nginx -v writes it to stderr). */
export function nginxVersion(): string {
  const r = spawnSync(ensureNginx(), ['-v'], { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`.trim();
}
