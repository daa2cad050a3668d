// Benchmark: refresh of a generated 20,000-package Packages.gz (HTTP from a local server in another process, gunzip,
// parse, atomic cache write) beside `gzip -dc` of the same file. Not a download benchmark (that is the downloader's).
// Run standalone it prints the figures; `--parse FILE` prints the in-process gunzip+parse time of FILE (tests use it);
// `--serve DIR` is the static server child it starts.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import zlib from 'node:zlib';
import { FeedStore } from '../feeds/feed-store';
import { PackagesParser } from '../feeds/packages-index';
import { startChild } from './bench-process';
import { formatIndex, generatePackages } from './opkg-index-fixture';
import { median } from './stats';

function timeMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** `gzip -dc FILE > /dev/null`, wall time in ms (the process start included, as a shell user would see it). */
export function gunzipMs(file: string): number {
  const t = process.hrtime.bigint();
  execFileSync('sh', ['-c', 'gzip -dc "$1" > /dev/null', 'sh', file]);
  return timeMs(t);
}

/** CPU time (user + system, ms) of `gzip -dc FILE > /dev/null`, from the shell's `times` (a loaded machine skews wall time). */
export function gunzipCpuMs(file: string): number {
  const out = execFileSync('bash', ['-c', 'gzip -dc "$1" > /dev/null; times', 'bash', file], { encoding: 'utf8' });
  // `times`: shell user/sys, then children user/sys, as "0m0.052s 0m0.004s".
  const child = out.trim().split('\n')[1] ?? '';
  let ms = 0;
  for (const m of child.matchAll(/(\d+)m([\d.]+)s/g)) ms += (Number(m[1]) * 60 + Number(m[2])) * 1000;
  return ms;
}

/** Gunzip and parse FILE in this process as a refresh streams it (64 KiB pieces); ms and the package count. */
export function parseGzMs(file: string): { ms: number; packages: number } {
  const gz = fs.readFileSync(file);
  const t = process.hrtime.bigint();
  const p = new PackagesParser('http://127.0.0.1/feed');
  const out = zlib.gunzipSync(gz);
  for (let i = 0; i < out.length; i += 65536) p.push(out.subarray(i, i + 65536));
  const packages = p.end().packages.length;
  return { ms: timeMs(t), packages };
}

function serve(dir: string): void {
  const server = http.createServer((req, res) => {
    const name = (req.url ?? '/').slice(1);
    if (name !== 'Packages.gz' && name !== 'Packages') {
      res.writeHead(404).end();
      return;
    }
    const data = fs.readFileSync(path.join(dir, name));
    res.writeHead(200, { 'content-length': data.length, 'content-type': 'application/octet-stream' }).end(data);
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`));
  process.on('SIGTERM', () => process.exit(0));
}

export async function runFeedsBench(o: { packages?: number; rounds?: number; log?: (s: string) => void } = {}): Promise<Record<string, number>> {
  const count = o.packages ?? 20_000;
  const rounds = o.rounds ?? 5;
  const work = fs.mkdtempSync('/tmp/ai-feeds-bench-');
  try {
    const feedDir = path.join(work, 'www');
    fs.mkdirSync(feedDir);
    const text = formatIndex(generatePackages(count));
    const gzFile = path.join(feedDir, 'Packages.gz');
    fs.writeFileSync(gzFile, zlib.gzipSync(text, { level: 9 }));
    let port = 0;
    // The ready line carries the port.
    const server = await startChild(process.execPath, [__filename, '--serve', feedDir], (out) => {
      const m = /listening (\d+)/.exec(out);
      if (m) port = Number(m[1]);
      return m !== null;
    });
    try {
      const refresh: number[] = [];
      const gunzip: number[] = [];
      const refreshCpu: number[] = [];
      const gunzipCpu: number[] = [];
      let packages = 0;
      for (let r = 0; r <= rounds; r++) {
        // A fresh root each round: a full (not 304) refresh, with its durable cache write.
        const root = path.join(work, `root-${r}`);
        fs.mkdirSync(path.join(root, 'etc/opkg'), { recursive: true });
        fs.writeFileSync(path.join(root, 'etc/opkg/feeds.conf'), `src/gz bench http://127.0.0.1:${port}\n`);
        const store = new FeedStore({ root });
        const t = process.hrtime.bigint();
        const cpu = process.cpuUsage();
        const [info] = await store.refresh();
        const ms = timeMs(t);
        const used = process.cpuUsage(cpu);
        if (info.error) throw new Error(`feeds bench: refresh failed: ${info.error}`);
        packages = info.packages;
        const g = gunzipMs(gzFile);
        const gc = gunzipCpuMs(gzFile);
        fs.rmSync(root, { recursive: true, force: true });
        if (r === 0) continue; // warm-up
        refresh.push(ms);
        gunzip.push(g);
        refreshCpu.push((used.user + used.system) / 1000);
        gunzipCpu.push(gc);
      }
      const figures = {
        'feeds.refresh_ms': Math.round(median(refresh)),
        'feeds.gunzip_ms': Math.round(median(gunzip)),
        'feeds.refresh_cpu_ms': Math.round(median(refreshCpu)),
        'feeds.gunzip_cpu_ms': Math.round(median(gunzipCpu)),
        'feeds.packages': packages,
        'feeds.index_mb': Math.round(text.length / 1e5) / 10,
      };
      o.log?.(`feeds: ${JSON.stringify(figures)}`);
      return figures;
    } finally {
      await server.stop();
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const [mode, arg] = process.argv.slice(2);
  if (mode === '--serve') serve(arg);
  else if (mode === '--parse') {
    parseGzMs(arg); // warm-up (JIT)
    const runs = Array.from({ length: 5 }, () => [parseGzMs(arg).ms, gunzipMs(arg)]);
    process.stdout.write(JSON.stringify({ parse_ms: median(runs.map((r) => r[0])), gunzip_ms: median(runs.map((r) => r[1])), packages: parseGzMs(arg).packages }) + '\n');
  } else {
    runFeedsBench({ log: (s) => process.stderr.write(s + '\n') }).then(
      (r) => console.log(JSON.stringify(r, null, 2)),
      (e) => {
        console.error(e);
        process.exit(1);
      },
    );
  }
}
