// Downloads with the downloader (download/) in a process of its own, for bench/download-bench.ts: one untimed
// download first (as a running daemon would be warm: code compiled, undici loaded), then the timed one; prints
// {"seconds", "ok", "error"?} measured inside, as curl's own -w %{time_total} is. Not a user tool.
import fs from 'node:fs';
import path from 'node:path';
import { Downloader } from '../download/downloader';

async function main(): Promise<void> {
  const [url, dir, filename, size, sha256] = process.argv.slice(2);
  const d = new Downloader({ dir, fsync: false });
  const warm = await d.start({ url, filename: `warm-${filename}`, size: Number(size) }).done;
  fs.rmSync(path.join(dir, `warm-${filename}`), { force: true });
  if (!warm.ok) throw new Error(warm.error.text);
  const t = process.hrtime.bigint();
  const r = await d.start({ url, filename, size: Number(size), sha256 }).done;
  const seconds = Number(process.hrtime.bigint() - t) / 1e9;
  process.stdout.write(JSON.stringify({ seconds, ok: r.ok, ...(r.ok ? {} : { error: r.error.text }) }) + '\n');
}

main().then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`${(e as Error).stack}\n`);
    process.exit(1);
  },
);
