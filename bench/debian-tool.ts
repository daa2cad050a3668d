// Finds a command-line tool, installing its Debian package with apt-get when it is missing (root or passwordless
// sudo), so the tests and the bench that need nginx, signify, sshd or chromium run on a fresh machine. The one place
// that installs system packages for them; not a general package manager wrapper.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

function which(names: string[]): string | null {
  for (const n of names) {
    if (n.includes('/')) {
      if (fs.existsSync(n)) return n;
      continue;
    }
    const r = spawnSync('sh', ['-c', `command -v ${n}`], { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` } });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return null;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * The path of the first of `binaries` found; when none is, `apt-get install` the first of `packages` that installs.
 * Serialised across jest workers with a lock directory; apt's own lock is waited for. A package's postinst may start
 * a system service (nginx on port 80): a policy-rc.d saying "no" (exit 101, Debian's documented switch for chroots
 * and containers) is put in place for the install when none exists, and removed after.
 */
export function ensureTool(binaries: string[], packages: string[]): string {
  const found = which(binaries);
  if (found) return found;
  const lock = path.join(os.tmpdir(), 'appinstalld-test-apt.lock');
  for (let i = 0; ; i++) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      if (i > 1200) throw new Error(`${binaries[0]}: waited 10 minutes for ${lock} (another test installing)`);
      sleepSync(500);
      const now = which(binaries);
      if (now) return now;
    }
  }
  const policy = '/usr/sbin/policy-rc.d';
  let wrotePolicy = false;
  try {
    const again = which(binaries);
    if (again) return again;
    const asRoot = process.getuid?.() === 0;
    const sudo = asRoot ? [] : ['sudo', '-n'];
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    if (asRoot && !fs.existsSync(policy)) {
      fs.writeFileSync(policy, '#!/bin/sh\n# written by appinstalld tests while installing a package; removed after\nexit 101\n', { mode: 0o755 });
      wrotePolicy = true;
    }
    const apt = (args: string[]) => {
      const cmd = [...sudo, 'apt-get', '-o', 'DPkg::Lock::Timeout=300', ...args];
      return spawnSync(cmd[0], cmd.slice(1), { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
    };
    const install = () => packages.some((p) => apt(['install', '-y', '--no-install-recommends', p]).status === 0);
    if (!install()) {
      apt(['update']);
      if (!install()) throw new Error(`${binaries[0]}: not installed and \`apt-get install ${packages.join(' | ')}\` failed (run as root or with passwordless sudo)`);
    }
    const bin = which(binaries);
    if (!bin) throw new Error(`${binaries[0]}: ${packages.join(' | ')} installed but no binary found`);
    return bin;
  } finally {
    if (wrotePolicy) fs.rmSync(policy, { force: true });
    fs.rmSync(lock, { recursive: true, force: true });
  }
}
