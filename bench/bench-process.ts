// Child processes of the benchmark: spawn one, wait for the line that says it is ready, read its RSS, stop it.
// Bounded in time everywhere; the bench never leaves a child behind (stopAll at exit).
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface BenchChild {
  proc: ChildProcess;
  /** Short name for logs: the script's or program's base name. */
  label: string;
  /** Everything the child wrote on stderr so far (for error messages). */
  stderr(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
}

const running = new Set<ChildProcess>();

/** SIGKILL every child still running (safety net on exit or failure). */
export function killAllChildren(): void {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  running.clear();
}

/**
 * Spawns `cmd args` and resolves once a line of its stdout or stderr contains `ready`
 * (a string, or a test on the accumulated text). Rejects if it exits first or after `limitMs`.
 */
export function startChild(cmd: string, args: string[], ready: string | ((out: string) => boolean), opts: SpawnOptions & { limitMs?: number } = {}): Promise<BenchChild> {
  // BENCH_CPU_PROF=DIR: every node child writes a V8 CPU profile there when it exits (for finding a missed goal's cause).
  const profDir = process.env.BENCH_CPU_PROF;
  if (profDir && cmd === process.execPath) args = ['--cpu-prof', `--cpu-prof-dir=${profDir}`, ...args];
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  running.add(proc);
  let out = '';
  let err = '';
  const exited = new Promise<void>((resolve) => proc.once('exit', () => { running.delete(proc); resolve(); }));
  const isReady = typeof ready === 'string' ? (s: string) => s.includes(ready) : ready;
  const script = args.find((a) => !a.startsWith('-'));
  const child: BenchChild = {
    proc,
    label: path.basename(cmd === process.execPath && script ? script : cmd).replace(/\.js$/, ''),
    stderr: () => err,
    async stop(graceMs = 5000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(t);
    },
  };
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (e?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(limit);
      if (e) {
        proc.kill('SIGKILL');
        reject(e);
      } else resolve(child);
    };
    const limit = setTimeout(() => finish(new Error(`${cmd} ${args.join(' ')} not ready after ${opts.limitMs ?? 20000} ms; stderr:\n${err}`)), opts.limitMs ?? 20000);
    const check = () => { if (isReady(out + '\n' + err)) finish(); };
    proc.stdout!.on('data', (d) => { if (out.length < 1e6) out += d; check(); });
    proc.stderr!.on('data', (d) => { if (err.length < 1e6) err += d; check(); });
    proc.once('error', (e) => finish(new Error(`cannot run ${cmd}: ${e.message}`)));
    void exited.then(() => finish(new Error(`${cmd} ${args.join(' ')} exited (${proc.exitCode ?? proc.signalCode}) before it was ready; stderr:\n${err}`)));
  });
}

/** Resident set size of a process in MB (VmRSS from /proc/<pid>/status). */
export function rssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
