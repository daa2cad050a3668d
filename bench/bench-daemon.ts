// The install daemon as the benchmarks drive it: `node dist/services/main.js --root DIR` (hub and services in one
// process, as `npm start` runs it) and install/remove calls over the bus that resolve at the final status event.
import fs from 'node:fs';
import path from 'node:path';
import { filter, firstValueFrom } from 'rxjs';
import { LunaClient } from '../ipc/client';
import type { Payload } from '../ipc/protocol';
import { Stage } from '../status-codes';
import { startChild, type BenchChild } from './bench-process';

const REPO = path.resolve(__dirname, '../..');
const SERVICE = 'luna://com.webos.appInstallService';

export interface StartCommand {
  env: Record<string, string>;
  /** node's own flags (e.g. --max-semi-space-size=1), before the script. */
  nodeArgs: string[];
  /** The script, relative to the repo. */
  script: string;
}

/**
 * Pure: the daemon command of package.json's `start` script, `[VAR=value ...] node [node flags] SCRIPT`, so the
 * benchmarks run the daemon exactly as `npm start` does (flags included). Anything else is refused.
 */
export function parseStartScript(start: string): StartCommand {
  const words = start.trim().split(/\s+/);
  const env: Record<string, string> = {};
  let i = 0;
  for (; i < words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]); i++) {
    const eq = words[i].indexOf('=');
    env[words[i].slice(0, eq)] = words[i].slice(eq + 1);
  }
  if (words[i] !== 'node') throw new Error(`package.json "start" is not "[VAR=value ...] node [flags] SCRIPT": ${start}`);
  const rest = words.slice(i + 1);
  const s = rest.findIndex((w) => !w.startsWith('-'));
  if (s !== rest.length - 1) throw new Error(`package.json "start" is not "[VAR=value ...] node [flags] SCRIPT": ${start}`);
  return { env, nodeArgs: rest.slice(0, s), script: rest[s] };
}

function startCommand(): StartCommand {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  return parseStartScript(pkg.scripts?.start ?? 'node dist/services/main.js');
}

export interface BenchDaemon {
  root: string;
  child: BenchChild;
  client: LunaClient;
  stop(): Promise<void>;
}

/**
 * Starts the daemon as `npm start` runs it (package.json's start command, its env and node flags) in a fresh root
 * under `work`, and connects an anonymous client (root: allowed everything).
 */
export async function startBenchDaemon(work: string, name: string, env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Promise<BenchDaemon> {
  const root = path.join(work, name);
  fs.mkdirSync(root, { recursive: true });
  const start = startCommand();
  const MAIN = path.join(REPO, start.script);
  nodeArgs = [...start.nodeArgs, ...nodeArgs];
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...start.env, ...env };
  delete childEnv.LUNA_HUB_SOCKET;
  delete childEnv.APPINSTALLD_ROOT;
  delete childEnv.APPINSTALLD_FAULT;
  const child = await startChild(process.execPath, [...nodeArgs, MAIN, '--root', root], 'services open', { env: childEnv });
  const client = await LunaClient.connect({ root });
  return {
    root,
    child,
    client,
    async stop() {
      await client.close();
      await child.stop(30000);
    },
  };
}

const FINAL = new Set<number>([Stage.INSTALLED, Stage.INSTALL_FAILED, Stage.INSTALL_CANCELLED, Stage.REMOVED, Stage.REMOVE_FAILED].map((s) => s.statusValue));

/** Calls `method` with subscribe and resolves with the final status event; throws on an error return or a failure. */
async function runTask(client: LunaClient, method: string, payload: Payload, want: number): Promise<Payload> {
  const ev = await firstValueFrom(
    client.call(`${SERVICE}/${method}`, { ...payload, subscribe: true }).pipe(
      filter((p) => {
        if (p.returnValue === false) throw new Error(`${method} ${JSON.stringify(payload)}: ${String(p.errorText)}`);
        return typeof p.statusValue === 'number' && FINAL.has(p.statusValue);
      }),
    ),
  );
  if (ev.statusValue !== want) throw new Error(`${method} ${JSON.stringify(payload)} ended with ${JSON.stringify(ev)}`);
  return ev;
}

/** Install over the bus, from the call to stage 30. */
export function installOverBus(client: LunaClient, id: string, ipkUrl: string): Promise<Payload> {
  return runTask(client, 'install', { id, ipkUrl }, Stage.INSTALLED.statusValue);
}

/** Remove over the bus, from the call to stage 31. */
export function removeOverBus(client: LunaClient, id: string): Promise<Payload> {
  return runTask(client, 'remove', { id }, Stage.REMOVED.statusValue);
}
