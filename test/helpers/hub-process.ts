// Runs the real hub (node dist/ipc/ls-hubd.js) as a separate process for tests, with its log and memory at hand.
import { spawn, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const REPO = path.resolve(__dirname, '..', '..');
export const LS_HUBD = path.join(REPO, 'dist', 'ipc', 'ls-hubd.js');

export interface HubProcess {
  proc: ChildProcess;
  root: string;
  socketPath: string;
  /** Everything the hub logged so far. */
  log(): string;
  /** Wait until the log matches (checks what is already there first). */
  waitLog(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** VmRSS of the hub process in bytes. */
  rss(): number;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
}

export async function spawnHub(hubArgs: string[] = [], nodeArgs: string[] = []): Promise<HubProcess> {
  const root = fs.mkdtempSync('/tmp/ai-');
  const socketPath = path.join(root, 'hub.sock');
  const proc = spawn(process.execPath, [...nodeArgs, LS_HUBD, '--root', root, '--socket', socketPath, ...hubArgs], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let text = '';
  const listeners = new Set<() => void>();
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (s: string) => {
    text += s;
    for (const l of [...listeners]) l();
  });
  // 'close', not 'exit': a process's last stderr lines may still be on their way when 'exit' fires.
  let closed = false;
  const exited = new Promise<number | null>((resolve) => proc.on('close', (code) => {
    closed = true;
    for (const l of [...listeners]) l();
    resolve(code);
  }));
  const hp: HubProcess = {
    proc,
    root,
    socketPath,
    log: () => text,
    waitLog(re, timeoutMs = 15000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = text.match(re);
          if (m) {
            done();
            resolve(m);
          } else if (closed) {
            done();
            reject(new Error(`hub exited before logging ${re}; log:\n${text}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`hub did not log ${re} within ${timeoutMs} ms; log:\n${text.slice(-3000)}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    rss() {
      const status = fs.readFileSync(`/proc/${proc.pid}/status`, 'utf8');
      const m = status.match(/^VmRSS:\s+(\d+) kB/m);
      if (!m) throw new Error('no VmRSS in /proc status');
      return Number(m[1]) * 1024;
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const code = await exited;
      fs.rmSync(root, { recursive: true, force: true });
      return code;
    },
  };
  await hp.waitLog(/listening on /);
  return hp;
}
