// A real nginx (Debian's) on loopback for the download tests and bench: installed with apt-get when missing, run
// non-daemon with its own config, prefix, pid, logs and temp dirs in a temp dir, on a free port. Not a product part.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ensureTool } from './debian-tool';

export interface LocalNginx {
  url: string;
  port: number;
  /** The access log: one line per request, `<status> <body bytes sent> <request>`. */
  accessLog: string;
  stop(): Promise<void>;
}

/** nginx's path, installing Debian's nginx-light (else nginx) when it is missing (bench/debian-tool.ts). */
export function ensureNginx(): string {
  return ensureTool(['/usr/sbin/nginx', '/usr/bin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx'], ['nginx-light', 'nginx']);
}

async function freePort(): Promise<number> {
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
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

/** Starts nginx serving `root` as static files; `stop()` ends it and removes its temp dir. */
export async function startNginx({ root }: { root: string }): Promise<LocalNginx> {
  const bin = ensureNginx();
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'nginx-'));
  for (const d of ['logs', 'client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(prefix, d));
  const accessLog = path.join(prefix, 'logs', 'access.log');
  let lastError = '';
  for (let tries = 0; tries < 3; tries++) {
    const port = await freePort();
    const conf = [
      // As root, workers would run as nobody and could not read a 0700 temp dir.
      process.getuid?.() === 0 ? 'user root;' : '',
      'daemon off;',
      'worker_processes 1;',
      `pid ${prefix}/nginx.pid;`,
      `error_log ${prefix}/logs/error.log warn;`,
      'events { worker_connections 256; }',
      'http {',
      '  log_format bytes \'$status $body_bytes_sent "$request" "$http_range"\';',
      `  access_log ${accessLog} bytes;`,
      `  client_body_temp_path ${prefix}/client_body;`,
      `  proxy_temp_path ${prefix}/proxy;`,
      `  fastcgi_temp_path ${prefix}/fastcgi;`,
      `  uwsgi_temp_path ${prefix}/uwsgi;`,
      `  scgi_temp_path ${prefix}/scgi;`,
      '  sendfile on; tcp_nopush on; keepalive_timeout 10;',
      '  default_type application/octet-stream;',
      `  server { listen 127.0.0.1:${port}; root ${root}; }`,
      '}',
      '',
    ].join('\n');
    fs.writeFileSync(path.join(prefix, 'nginx.conf'), conf);
    const proc = spawn(bin, ['-p', prefix, '-e', path.join(prefix, 'logs', 'error.log'), '-c', path.join(prefix, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    const stop = async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      fs.rmSync(prefix, { recursive: true, force: true });
    };
    const deadline = Date.now() + 10000;
    while (Date.now() < deadline && proc.exitCode === null && proc.signalCode === null) {
      if (await canConnect(port)) return { url: `http://127.0.0.1:${port}`, port, accessLog, stop };
      await new Promise((r) => setTimeout(r, 50));
    }
    lastError = stderr || fs.readFileSync(path.join(prefix, 'logs', 'error.log'), 'utf8').slice(-2000);
    if (proc.exitCode === null) proc.kill('SIGKILL');
    await exited;
  }
  fs.rmSync(prefix, { recursive: true, force: true });
  throw new Error(`nginx did not start: ${lastError}`);
}

/** Body bytes nginx sent, summed over its access log (`bytes` format above). */
export function bytesServed(accessLog: string): number {
  let text = '';
  try {
    text = fs.readFileSync(accessLog, 'utf8');
  } catch {
    return 0;
  }
  return text.split('\n').reduce((sum, l) => sum + (Number(l.split(' ')[1]) || 0), 0);
}
