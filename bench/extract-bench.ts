// Benchmark: extracting a generated 50 MB, 2,000-file package with our safe extractor beside GNU `tar -xzf` of the
// same data.tar.gz, in the same run. `runExtractBench()` returns the figures; run standalone it prints them.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { openIpk } from '../ipk/ipk-reader';
import { extractData } from '../ipk/extract';
import { packApp } from '../ipk/pack';

const FILES = 2000;
const TOTAL_BYTES = 50 * 1024 * 1024;

function timeMs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export async function runExtractBench(rounds = 3): Promise<Record<string, number>> {
  const work = fs.mkdtempSync('/tmp/ai-bench-');
  try {
    const app = path.join(work, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(path.join(app, 'appinfo.json'), JSON.stringify({ id: 'com.bench.app', version: '1.0.0', type: 'web', main: 'index.html', title: 'Bench', icon: 'icon.png' }));
    fs.writeFileSync(path.join(app, 'index.html'), '<html></html>');
    fs.writeFileSync(path.join(app, 'icon.png'), 'PNG');
    const per = Math.floor(TOTAL_BYTES / FILES);
    for (let i = 0; i < FILES; i++) {
      const dir = path.join(app, 'assets', `d${i % 40}`);
      if (i < 40) fs.mkdirSync(dir, { recursive: true });
      // Half random (incompressible), half text-like, as real app assets are.
      const body = i % 2 ? crypto.randomBytes(per) : Buffer.from(crypto.randomBytes(per / 4).toString('hex').repeat(2).slice(0, per));
      fs.writeFileSync(path.join(dir, `f${i}.bin`), body);
    }
    const { file } = await packApp(app, [], { outDir: work });
    const pkg = await openIpk(file);
    const dataTgz = path.join(work, 'data.tar.gz');
    const fd = fs.openSync(file, 'r');
    const buf = Buffer.alloc(pkg.dataMember.size);
    fs.readSync(fd, buf, 0, buf.length, pkg.dataMember.offset);
    fs.closeSync(fd);
    fs.writeFileSync(dataTgz, buf);

    const ours: number[] = [];
    const gnu: number[] = [];
    let files = 0;
    // `sync` before each timed run, so neither side pays for the other's dirty pages.
    const settle = () => execFileSync('sync');
    for (let r = 0; r < rounds; r++) {
      const staging = path.join(work, `staging-${r}`);
      settle();
      let t = process.hrtime.bigint();
      const res = await extractData(pkg, staging);
      ours.push(timeMs(t));
      files = res.files;
      const dest = path.join(work, `gnu-${r}`);
      fs.mkdirSync(dest);
      settle();
      t = process.hrtime.bigint();
      execFileSync('tar', ['-xzf', dataTgz, '-C', dest]);
      gnu.push(timeMs(t));
      fs.rmSync(staging, { recursive: true, force: true });
      fs.rmSync(dest, { recursive: true, force: true });
    }
    const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
    const ms = median(ours);
    const tarMs = median(gnu);
    return {
      'extract.ms': Math.round(ms),
      'extract.tar_ms': Math.round(tarMs),
      'extract.ratio_to_tar': Math.round((ms / tarMs) * 100) / 100,
      'extract.files': files,
      'extract.mb': Math.round((pkg.control.installedSize ?? 0) / 1e5) / 10,
      'extract.mb_per_s': Math.round(((pkg.control.installedSize ?? 0) / 1e6 / (ms / 1000)) * 10) / 10,
    };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  runExtractBench().then(
    (r) => console.log(JSON.stringify(r, null, 2)),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
