// The baselines' outside tools: find them on PATH, install missing Debian packages with apt-get (the bench runs
// as root on the dev machines and CI), and say plainly which are still missing so their figures are skipped.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** Full path of an executable on PATH (or an absolute path that exists), else null. */
export function which(tool: string): string | null {
  const candidates = tool.includes('/') ? [tool] : (process.env.PATH ?? '/usr/bin:/bin').split(':').map((d) => path.join(d, tool));
  for (const p of candidates) {
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/**
 * `tools` maps an executable to the Debian package that provides it. Missing ones are installed with apt-get when
 * running as root; returns the executables still missing afterwards.
 */
export function ensureDebianTools(tools: Record<string, string>, log: (l: string) => void): string[] {
  const missing = Object.keys(tools).filter((t) => !which(t));
  if (missing.length === 0) return [];
  const pkgs = [...new Set(missing.map((t) => tools[t]))];
  if (process.getuid?.() === 0 && which('apt-get')) {
    log(`installing Debian package(s) ${pkgs.join(' ')} for the baselines (${missing.join(', ')} missing)`);
    try {
      execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...pkgs], { stdio: 'ignore', timeout: 300000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    } catch (e) {
      log(`apt-get install ${pkgs.join(' ')} failed: ${(e as Error).message.split('\n')[0]}`);
    }
  } else {
    log(`${missing.join(', ')} missing and not root: cannot install ${pkgs.join(' ')}`);
  }
  return Object.keys(tools).filter((t) => !which(t));
}
