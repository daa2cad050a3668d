// Every child process a test helper starts, so that a failing test never leaves processes behind.
import type { ChildProcess } from 'node:child_process';

const children = new Set<ChildProcess>();

/** Remember a child until it exits. */
export function track(c: ChildProcess): ChildProcess {
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}

/** SIGKILL every tracked child still running (an afterAll safety net). */
export function killAllChildren(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  children.clear();
}
