// Install benchmark: a generated 50 MB, 2,000-file ipk installed through the bus end to end (from the call to
// stage 30) by the real daemon, beside GNU `tar -xzf` of its data.tar.gz and beside `dpkg --root` installing the
// same tree built as a .deb by dpkg-deb. Each timed run starts after `sync`, so no run pays for another's writes.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { openIpk } from '../ipk/ipk-reader';
import { ensureDebianTools } from './baseline-tools';
import { makeBigPackage, makeTinyPackage, type BenchPackage } from './bench-app';
import { installOverBus, removeOverBus, startBenchDaemon, type BenchDaemon } from './bench-daemon';
import { median, msSince, nowNs, round } from './stats';

export interface InstallBenchOptions {
  files: number;
  bytes: number;
  rounds: number;
  /** Environment that turns the daemon's fsyncs off, when the install service offers one: adds install.nosync_ms. */
  noSyncEnv?: NodeJS.ProcessEnv;
  log(line: string): void;
}

export const DEFAULT_INSTALL_OPTIONS: Omit<InstallBenchOptions, 'log'> = { files: 2000, bytes: 50 * 1024 * 1024, rounds: 5 };

function syncDisks(): void {
  execFileSync('sync');
}

/** The package's data.tar.gz, cut out of the ipk. */
async function writeDataTgz(ipk: string, dest: string): Promise<void> {
  const pkg = await openIpk(ipk);
  const fd = fs.openSync(ipk, 'r');
  try {
    const buf = Buffer.alloc(pkg.dataMember.size);
    fs.readSync(fd, buf, 0, buf.length, pkg.dataMember.offset);
    fs.writeFileSync(dest, buf);
  } finally {
    fs.closeSync(fd);
  }
}

/** The same tree as a .deb: data.tar.gz unpacked, the ipk's control file as DEBIAN/control, built by dpkg-deb (gzip). */
function buildDeb(work: string, ipk: string, dataTgz: string): string {
  const tree = path.join(work, 'deb-tree');
  fs.mkdirSync(path.join(tree, 'DEBIAN'), { recursive: true });
  execFileSync('tar', ['-xzf', dataTgz, '-C', tree]);
  const ctl = path.join(work, 'ctl');
  fs.mkdirSync(ctl);
  execFileSync('ar', ['x', ipk, 'control.tar.gz'], { cwd: ctl });
  execFileSync('tar', ['-xzf', 'control.tar.gz', '-C', path.join(tree, 'DEBIAN')], { cwd: ctl });
  const deb = path.join(work, 'bench.deb');
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '-b', tree, deb], { stdio: 'ignore' });
  fs.rmSync(tree, { recursive: true, force: true });
  return deb;
}

/** A fresh dpkg root with an empty database. */
function dpkgRoot(dir: string): void {
  const admin = path.join(dir, 'var/lib/dpkg');
  for (const d of ['info', 'updates', 'triggers']) fs.mkdirSync(path.join(admin, d), { recursive: true });
  fs.writeFileSync(path.join(admin, 'status'), '');
  fs.writeFileSync(path.join(admin, 'available'), '');
}

/** A daemon in its own root, warmed up (every step's code path run once with a tiny package). */
async function warmDaemon(work: string, name: string, warm: BenchPackage, env: NodeJS.ProcessEnv): Promise<BenchDaemon> {
  const daemon = await startBenchDaemon(work, name, env);
  try {
    await installOverBus(daemon.client, warm.id, warm.ipk);
    await removeOverBus(daemon.client, warm.id);
    return daemon;
  } catch (e) {
    await daemon.stop();
    throw e;
  }
}

/** One timed install (call to stage 30), then an untimed remove so the next round installs afresh. */
async function timeInstall(daemon: BenchDaemon, pkg: BenchPackage): Promise<number> {
  syncDisks();
  const t = nowNs();
  await installOverBus(daemon.client, pkg.id, pkg.ipk);
  const ms = msSince(t);
  await removeOverBus(daemon.client, pkg.id);
  return ms;
}

export async function runInstallBench(o: InstallBenchOptions): Promise<{ figures: Record<string, number>; skipped: string[] }> {
  const work = fs.mkdtempSync('/tmp/ai-inst-');
  fs.chmodSync(work, 0o755);
  const figures: Record<string, number> = {};
  const skipped: string[] = [];
  try {
    const missing = ensureDebianTools({ tar: 'tar', gzip: 'gzip', ar: 'binutils', 'dpkg-deb': 'dpkg', dpkg: 'dpkg' }, o.log);
    const t0 = nowNs();
    const pkg = await makeBigPackage(work, 'com.bench.big', o.files, o.bytes);
    const warm = await makeTinyPackage(work, 'com.bench.warm');
    o.log(`install: generated ${path.basename(pkg.ipk)} (${round(fs.statSync(pkg.ipk).size / 1e6, 1)} MB packed, ${o.files} files) in ${Math.round(msSince(t0))} ms`);
    const dataTgz = path.join(work, 'data.tar.gz');
    await writeDataTgz(pkg.ipk, dataTgz);
    const haveTar = !missing.includes('tar') && !missing.includes('gzip');
    const haveDpkg = !missing.some((t) => ['dpkg', 'dpkg-deb', 'ar'].includes(t)) && haveTar;
    const deb = haveDpkg ? buildDeb(work, pkg.ipk, dataTgz) : null;
    if (!haveTar) skipped.push('install.tar_ms skipped: GNU tar/gzip not installed and could not be installed');
    if (!deb) skipped.push(`install.dpkg_ms skipped: ${missing.join(', ')} not installed and could not be installed`);

    const daemon = await warmDaemon(work, 'root', warm, {});
    let nosyncDaemon: BenchDaemon | null = null;
    if (o.noSyncEnv) {
      nosyncDaemon = await warmDaemon(work, 'root-nosync', warm, o.noSyncEnv);
      // It counts only if the daemon says it took the switch (it warns loudly that fsync is off).
      const name = Object.keys(o.noSyncEnv)[0];
      if (!nosyncDaemon.child.stderr().includes(name)) {
        skipped.push(`install.nosync_ms skipped: the daemon did not acknowledge ${name} (no no-sync mode in this build)`);
        await nosyncDaemon.stop();
        nosyncDaemon = null;
      }
    }
    // Rounds interleave the systems, so a slow patch of the disk or a busy neighbour hits each of them alike.
    const ours: number[] = [];
    const nosync: number[] = [];
    const tar: number[] = [];
    const dpkg: number[] = [];
    try {
      // Round -1 is a warm-up of the big package on every system (first-time costs of paths, caches and allocation), not counted.
      const keep = (list: number[], r: number, ms: number) => {
        if (r >= 0) list.push(ms);
      };
      for (let r = -1; r < o.rounds; r++) {
        keep(ours, r, await timeInstall(daemon, pkg));
        if (nosyncDaemon) keep(nosync, r, await timeInstall(nosyncDaemon, pkg));
        if (haveTar) {
          const dest = path.join(work, `tar-${r}`);
          fs.mkdirSync(dest);
          syncDisks();
          const t = nowNs();
          execFileSync('tar', ['-xzf', dataTgz, '-C', dest]);
          keep(tar, r, msSince(t));
          fs.rmSync(dest, { recursive: true, force: true });
        }
        if (deb) {
          const dest = path.join(work, `dpkg-${r}`);
          dpkgRoot(dest);
          syncDisks();
          const t = nowNs();
          execFileSync('dpkg', [`--root=${dest}`, '-i', deb], { stdio: 'ignore' });
          keep(dpkg, r, msSince(t));
          fs.rmSync(dest, { recursive: true, force: true });
        }
      }
    } finally {
      await daemon.stop();
      await nosyncDaemon?.stop();
    }
    const fmt = (a: number[]) => a.map((x) => Math.round(x)).join(', ');
    figures['install.ms'] = Math.round(median(ours));
    o.log(`install: ours over the bus ${fmt(ours)} ms`);
    if (tar.length) {
      figures['install.tar_ms'] = Math.round(median(tar));
      o.log(`install: tar -xzf ${fmt(tar)} ms`);
    }
    if (dpkg.length) {
      figures['install.dpkg_ms'] = Math.round(median(dpkg));
      o.log(`install: dpkg --root -i ${fmt(dpkg)} ms`);
    }
    if (nosync.length) {
      figures['install.nosync_ms'] = Math.round(median(nosync));
      o.log(`install: ours without fsyncs ${fmt(nosync)} ms`);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  return { figures, skipped };
}
