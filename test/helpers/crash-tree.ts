// Crash-test checks on a daemon root: a snapshot of the app root and the bus tree (every path with its mode and a hash
// of its content), the comparison of a snapshot with the known old/new versions, and the leftovers a crash must not leave.
// Not a daemon harness (that is appinstall-daemon.ts) and no package builder.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { LunaClient } from '../../ipc/client';
import { BUS_SUBDIRS, layout } from '../../layout/paths';
import { journalDir as journalDirOf } from '../../engine/journal';
import { stagingRoot } from '../../engine/package-switch';
import { isFinal, startDaemon, type Json } from './appinstall-daemon';

/** Directories that exist whatever is installed (created on first use, never removed): left out of snapshots. */
const CONTAINERS = new Set(['usr/', 'usr/palm/', 'usr/palm/applications/', 'usr/palm/services/', 'usr/palm/packages/', 'var/', 'var/lib/', 'var/lib/opkg/', 'var/lib/opkg/info/', '.appinstalld-staging/']);

const appsDir = (root: string) => layout(root).verifiedApps.base;
const busDir = (root: string) => layout(root).volatileBus.base;
const journalDir = (root: string) => journalDirOf(layout(root).installerState);

/** path → "mode sha256" (directories: "dir mode"); the root prefix inside contents is replaced, so roots compare. */
function hashTree(dir: string, root: string, skip: Set<string>): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const rel = path.relative(dir, p) + (e.isDirectory() ? '/' : '');
      const st = fs.lstatSync(p);
      if (e.isDirectory()) {
        if (!skip.has(rel)) out[rel] = `dir ${(st.mode & 0o7777).toString(8)}`;
        walk(p);
      } else if (e.isFile()) {
        const body = fs.readFileSync(p).toString('latin1').split(root).join('<ROOT>');
        out[rel] = `${(st.mode & 0o7777).toString(8)} ${crypto.createHash('sha256').update(body, 'latin1').digest('hex')}`;
      } else {
        out[rel] = `other ${st.mode.toString(8)}`;
      }
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}

export interface Snapshot {
  apps: Record<string, string>;
  bus: Record<string, string>;
}

/** Every file and directory (lists AND contents) of the verified app root and the verified volatile bus tree. */
export function snapshot(root: string): Snapshot {
  return { apps: hashTree(appsDir(root), root, CONTAINERS), bus: hashTree(busDir(root), root, new Set(BUS_SUBDIRS.map((d) => `${d}/`))) };
}

/** The differences between two snapshots, as readable lines (empty = equal). */
export function diffSnapshots(a: Snapshot, b: Snapshot, limit = 12): string[] {
  const out: string[] = [];
  for (const part of ['apps', 'bus'] as const) {
    const keys = new Set([...Object.keys(a[part]), ...Object.keys(b[part])]);
    for (const k of [...keys].sort()) {
      if (a[part][k] !== b[part][k]) out.push(`${part}/${k}: ${a[part][k] ?? 'absent'} vs ${b[part][k] ?? 'absent'}`);
    }
  }
  return out.length > limit ? [...out.slice(0, limit), `… ${out.length - limit} more`] : out;
}

/** Which of the named reference snapshots `snap` equals exactly; throws with the differences to each when none. */
export function whichState(snap: Snapshot, refs: Record<string, Snapshot>): string {
  const why: string[] = [];
  for (const [name, ref] of Object.entries(refs)) {
    const d = diffSnapshots(snap, ref);
    if (d.length === 0) return name;
    why.push(`not ${name}:\n  ${d.join('\n  ')}`);
  }
  throw new Error(`the app is neither wholly ${Object.keys(refs).join(' nor wholly ')}:\n${why.join('\n')}`);
}

/** What a crash must never leave behind after a restart: staging entries, journal records, temp files. */
export function leftovers(root: string): string[] {
  const out: string[] = [];
  const staging = stagingRoot(appsDir(root));
  if (fs.existsSync(staging)) out.push(...fs.readdirSync(staging).map((n) => `staging: ${n}`));
  if (fs.existsSync(journalDir(root))) out.push(...fs.readdirSync(journalDir(root)).map((n) => `journal: ${n}`));
  const walk = (d: string) => {
    if (!fs.existsSync(d)) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (/\.tmp-|\.refused-/.test(e.name)) out.push(`temp: ${path.relative(root, p)}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(appsDir(root));
  walk(busDir(root));
  walk(layout(root).installerState);
  return out;
}

/** The hub's own answer (com.webos.service.bus/isCallAllowed): may `requester` call `uri`? */
export async function hubAllows(c: LunaClient, uri: string, requester: string): Promise<boolean> {
  const r = (await c.callOne('luna://com.webos.service.bus/isCallAllowed', { uri, requester })) as Json;
  if (r.returnValue !== true || typeof r.allowed !== 'boolean') throw new Error(`isCallAllowed ${uri} for ${requester}: ${JSON.stringify(r)}`);
  return r.allowed;
}

/**
 * Waits until the install service's methods answer. The service registers its name (registerServerStatus then says
 * connected:true) before its recovery and before it declares its methods; until then the hub answers "Unknown method".
 */
export async function waitForMethods(c: LunaClient): Promise<void> {
  let last: Json = {};
  for (let i = 0; i < 400; i++) {
    last = (await c.callOne('luna://com.webos.appInstallService/status', {})) as Json;
    if (last.returnValue === true) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`the install service's methods never opened: ${JSON.stringify(last)}`);
}

/** The running tasks `status` reports (every unfinished task's current event). */
export async function runningTasks(c: LunaClient): Promise<Json[]> {
  const r = (await c.callOne('luna://com.webos.appInstallService/status', {})) as Json;
  if (r.returnValue !== true) throw new Error(`status: ${JSON.stringify(r)}`);
  return r.status.apps;
}

/** install or remove with subscribe over a client: every reply until the final one (or the call's end). */
export async function runTask(c: LunaClient, op: 'install' | 'remove', payload: Json, onLine?: (l: Json) => void): Promise<Json[]> {
  const lines: Json[] = [];
  await new Promise<void>((resolve, reject) => {
    const sub = c.call(`luna://com.webos.appInstallService/${op}`, { ...payload, subscribe: true }).subscribe({
      next: (p) => {
        lines.push(p as Json);
        onLine?.(p as Json);
        if (isFinal(p as Json)) {
          sub.unsubscribe();
          resolve();
        }
      },
      error: reject,
      complete: resolve,
    });
  });
  return lines;
}

/** A seeded generator (mulberry32): the same seed gives the same sequence, so a logged seed reproduces a run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Incompressible bytes, cheap and reproducible: AES-128-CTR keystream of a seed. */
export function noiseBytes(seed: string, n: number): Buffer {
  const key = crypto.createHash('sha256').update(seed).digest();
  const c = crypto.createCipheriv('aes-128-ctr', key.subarray(0, 16), key.subarray(16, 32));
  return c.update(Buffer.alloc(n));
}

/** Starts the daemon on `root` with `env`, connects a client once its methods are open, runs `fn`, then stops both. */
export async function withDaemonClient<T>(root: string, env: NodeJS.ProcessEnv, fn: (c: LunaClient, stderr: () => string) => Promise<T>): Promise<T> {
  const d = await startDaemon({ root, env });
  const c = await LunaClient.connect({ root });
  try {
    await waitForMethods(c);
    return await fn(c, d.stderr);
  } finally {
    await c.close();
    await d.stop();
  }
}

/**
 * The fault points a traced daemon (APPINSTALLD_FAULT_TRACE=1) crossed during its task, in order: only those after
 * "services open" (a copied root makes start-up recovery rewrite the service files, whose Exec line names the root:
 * those passes come before and are counted, so the task's pass numbers stay right).
 */
export function taskFaultPoints(stderr: string): string[] {
  return [...stderr.slice(stderr.indexOf('services open')).matchAll(/fault point (\S+)/g)].map((m) => m[1]);
}
