// Generated app packages for the benchmarks: a big one (50 MB in 2,000 files, half incompressible, half
// text-like, as real assets are) and tiny ones for the install/remove cycles. Packed with the project's packer.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { packApp } from '../ipk/pack';

export interface BenchPackage {
  id: string;
  ipk: string;
  /** The app's own tree (appinfo.json and assets) as packed. */
  appDir: string;
}

function writeAppInfo(dir: string, id: string, version: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'appinfo.json'), JSON.stringify({ id, version, type: 'web', main: 'index.html', title: 'Bench', icon: 'icon.png' }));
  fs.writeFileSync(path.join(dir, 'index.html'), '<html><body>bench</body></html>');
  fs.writeFileSync(path.join(dir, 'icon.png'), 'PNG');
}

/** An app of `files` asset files totalling `bytes`, packed into `outDir`. */
export async function makeBigPackage(work: string, id: string, files: number, bytes: number): Promise<BenchPackage> {
  const appDir = path.join(work, `${id}-src`);
  writeAppInfo(appDir, id, '1.0.0');
  const per = Math.floor(bytes / files);
  for (let i = 0; i < files; i++) {
    const dir = path.join(appDir, 'assets', `d${i % 40}`);
    if (i < 40) fs.mkdirSync(dir, { recursive: true });
    const body = i % 2 ? crypto.randomBytes(per) : Buffer.from(crypto.randomBytes(Math.ceil(per / 4)).toString('hex').repeat(2).slice(0, per));
    fs.writeFileSync(path.join(dir, `f${i}.bin`), body);
  }
  const { file } = await packApp(appDir, [], { outDir: work });
  return { id, ipk: file, appDir };
}

/** A tiny app (three small files). */
export async function makeTinyPackage(work: string, id: string): Promise<BenchPackage> {
  const appDir = path.join(work, `${id}-src`);
  writeAppInfo(appDir, id, '1.0.0');
  const { file } = await packApp(appDir, [], { outDir: work });
  return { id, ipk: file, appDir };
}
