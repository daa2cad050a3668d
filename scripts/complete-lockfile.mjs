// After `npm install`: adds to package-lock.json the platform-specific optional packages (other OSes and CPUs)
// that the registry reachable here does not serve, so the lock is complete and `npm ci` accepts it.
// Each added entry carries the os/cpu its name states, so npm skips it on every other platform, as it would anyway.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const lockPath = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', 'package-lock.json');
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const OS = { darwin: 'darwin', win32: 'win32', linux: 'linux', android: 'android', freebsd: 'freebsd', openharmony: 'openharmony' };
const CPU = { arm64: 'arm64', x64: 'x64', ia32: 'ia32', arm: 'arm', ppc64: 'ppc64', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64' };

let added = 0;
for (const [at, pkg] of Object.entries(lock.packages)) {
  for (const [name, range] of Object.entries(pkg.optionalDependencies ?? {})) {
    const key = `${at ? `${at}/` : ''}node_modules/${name}`.replace(/^\//, '');
    if (lock.packages[key] || lock.packages[`node_modules/${name}`]) continue;
    const parts = name.split('/').pop().split('-');
    const os = parts.find((p) => OS[p]);
    const cpu = parts.find((p) => CPU[p]);
    if (!os || !cpu || !/^\d+\.\d+\.\d+/.test(range)) {
      console.error(`complete-lockfile: cannot place ${name}@${range} (needed by ${at || 'the root'}); left out`);
      continue;
    }
    lock.packages[`node_modules/${name}`] = { version: range, ...(pkg.dev ? { dev: true } : {}), optional: true, os: [os], cpu: [cpu] };
    added++;
  }
}
writeFileSync(lockPath, JSON.stringify(lock, null, 2) + '\n');
console.error(`complete-lockfile: added ${added} platform-specific optional package(s)`);
