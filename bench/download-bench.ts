// Benchmark: the downloader (download/) fetching a ~200 MB file from a local nginx beside `curl` of the same file in
// the same run, and the bytes fetched when resuming after a cut. `runDownloadBench()` returns the figures.
// Each runs in a process of its own and times itself (ours inside after a warm-up download, as in a running daemon;
// curl with -w %{time_total}): the bench runner's own heap (every bench module loaded) doubled the downloader's
// garbage-collection time. Both write to the page cache of one file system: ours with fsync off here, as curl.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Downloader } from '../download/downloader';
import { ensureDebianTools } from './baseline-tools';
import { startCuttingProxy } from './cutting-proxy';
import { startNginx } from './local-nginx';
import { median } from './stats';

export interface DownloadBenchOptions {
  mb: number;
  rounds: number;
  log(line: string): void;
}
export const DEFAULT_DOWNLOAD_OPTIONS: Omit<DownloadBenchOptions, 'log'> = { mb: 200, rounds: 5 };

const FIGURES = ['download.mb_per_s', 'download.curl_mb_per_s', 'download.resume_overhead_pct'];

export async function runDownloadBench(o: DownloadBenchOptions): Promise<{ figures: Record<string, number>; skipped: string[] }> {
  const figures: Record<string, number> = {};
  const skipped: string[] = [];
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ai-dl-bench-'));
  const www = path.join(work, 'www');
  const out = path.join(work, 'out');
  fs.mkdirSync(www);
  let nginx: Awaited<ReturnType<typeof startNginx>> | undefined;
  try {
    try {
      nginx = await startNginx({ root: www });
    } catch (e) {
      skipped.push(`${FIGURES.join(', ')}: ${(e as Error).message.split('\n')[0]}`);
      return { figures, skipped };
    }
    const size = o.mb * 1024 * 1024;
    const hash = crypto.createHash('sha256');
    const fd = fs.openSync(path.join(www, 'big.ipk'), 'w');
    for (let left = size; left > 0; ) {
      const chunk = crypto.randomBytes(Math.min(left, 16 << 20));
      hash.update(chunk);
      fs.writeSync(fd, chunk);
      left -= chunk.length;
    }
    fs.closeSync(fd);
    const sha256 = hash.digest('hex');
    const url = `${nginx.url}/big.ipk`;
    const mbps = (s: number) => size / 1048576 / s;
    const fresh = () => {
      fs.rmSync(out, { recursive: true, force: true });
      fs.mkdirSync(out);
    };
    // Warm nginx and the page cache once, so neither side pays for the first read from disk.
    fresh();
    await new Downloader({ dir: out, fsync: false }).start({ url, filename: 'warm.ipk', size }).done;

    const curlMissing = ensureDebianTools({ curl: 'curl' }, o.log);
    const ours: number[] = [];
    const curl: number[] = [];
    for (let r = 0; r < o.rounds; r++) {
      if (!curlMissing.length) {
        fresh();
        const s = execFileSync('curl', ['-sS', '--fail', '-o', path.join(out, 'curl.ipk'), '-w', '%{time_total}', url], { encoding: 'utf8' });
        curl.push(mbps(Number(s.trim().replace(',', '.'))));
      }
      fresh();
      // As the product downloads a feed's package: Size and SHA256sum verified.
      const line = execFileSync(process.execPath, [path.join(__dirname, 'download-client.js'), url, out, 'ours.ipk', String(size), sha256], { encoding: 'utf8' });
      const res = JSON.parse(line) as { seconds: number; ok: boolean; error?: string };
      if (!res.ok) throw new Error(`download bench: ${res.error}`);
      ours.push(mbps(res.seconds));
    }
    figures['download.mb_per_s'] = Math.round(median(ours) * 10) / 10;
    if (curl.length) figures['download.curl_mb_per_s'] = Math.round(median(curl) * 10) / 10;
    else skipped.push(`download.curl_mb_per_s: curl missing (${curlMissing.join(', ')})`);
    o.log(`download: ours ${ours.map((v) => v.toFixed(0)).join(', ')} MB/s; curl ${curl.map((v) => v.toFixed(0)).join(', ')} MB/s`);

    // Resume: a proxy in front of nginx cuts the first connection at 40 % and the second at 70 % of the file.
    fresh();
    const proxy = await startCuttingProxy(nginx.port, [Math.floor(size * 0.4), Math.floor(size * 0.3)]);
    try {
      const res = await new Downloader({ dir: out, fsync: false, backoffBaseMs: 10 }).start({ url: `${proxy.url}/big.ipk`, filename: 'cut.ipk', size, sha256 }).done;
      if (!res.ok) throw new Error(`download bench (resume): ${res.error.text}`);
      const fetched = Math.max(proxy.forwarded(), res.state.fetchedBytes);
      figures['download.resume_overhead_pct'] = Math.round(((fetched - size) / size) * 100 * 10000) / 10000;
      o.log(`download: resume after 2 cuts fetched ${fetched} bytes for ${size} (${res.state.attempts} attempts; goal ≤ 1 % overhead)`);
    } finally {
      await proxy.close();
    }
  } finally {
    await nginx?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
  return { figures, skipped };
}

if (require.main === module) {
  const mb = Number(process.argv[2] ?? DEFAULT_DOWNLOAD_OPTIONS.mb);
  runDownloadBench({ mb, rounds: DEFAULT_DOWNLOAD_OPTIONS.rounds, log: (l) => process.stderr.write(`${l}\n`) }).then(
    (r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`),
    (e) => {
      process.stderr.write(`${(e as Error).stack}\n`);
      process.exit(1);
    },
  );
}
