// createPolicy: the Policy the hub asks (acg/policy.ts), built from the security files under a root. Installs the
// shipped default policy (absent files, and files still at an earlier shipped version), then answers from PolicyStore's data with decision.ts. Not the decisions.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { BUS_SUBDIRS, type Layout } from '../layout/paths';
import type { PeerIdentity } from '../ipc/protocol';
import { decideCall, decideCallByName, decideRegister, knownService } from './decision';
import type { CallerContext, CallTarget, Denial, Policy } from './policy';
import { DEVMODE_CERTIFICATE, PolicyStore } from './policy-store';
import type { SecurityData } from './security-data';

export type { Policy, Denial, CallerContext, CallTarget } from './policy';

/** The shipped default policy files (acg/default-policy, copied to dist/acg/default-policy by the build). */
export const DEFAULT_POLICY_DIR = path.join(__dirname, 'default-policy');


/** sha256 of every earlier shipped version of each default policy file, by path under the policy directory
 *  (acg/shipped-policy-history.json, written by scripts/policy-history.mjs from git). */
export type PolicyHistory = Readonly<Record<string, readonly string[]>>;

function shippedHistory(): PolicyHistory {
  try {
    return JSON.parse(fs.readFileSync(path.join(__dirname, 'shipped-policy-history.json'), 'utf8')) as PolicyHistory;
  } catch {
    return {};
  }
}

const sha256 = (data: Buffer) => crypto.createHash('sha256').update(data).digest('hex');

/**
 * Installs the default policy into <root>/usr/share/luna-service2/ file by file, as dpkg treats conffiles: a file that
 * is absent is written; one that is byte for byte an earlier shipped version (`history`) was never edited on this
 * device and is replaced by the shipped one (a new method's group reaches devices made before it); any other content
 * is the device owner's edit and stays, said once in the log. Replacements are atomic (a temp file renamed over).
 * Returns the files it wrote.
 */
export function installDefaultPolicy(l: Layout, log: (line: string) => void = () => {}, from = DEFAULT_POLICY_DIR, history: PolicyHistory = shippedHistory()): string[] {
  const written: string[] = [];
  let updated = 0;
  const install = (src: string, dest: string, rel: string) => {
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    const shipped = fs.readFileSync(src);
    let current: Buffer;
    try {
      const st = fs.lstatSync(dest);
      if (!st.isFile()) return log(`acg: kept ${dest}: not a regular file (the shipped ${rel} is not used)`);
      current = fs.readFileSync(dest);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      fs.writeFileSync(dest, shipped, { flag: 'wx', mode: 0o644 });
      fs.chmodSync(dest, 0o644);
      written.push(dest);
      return;
    }
    if (current.equals(shipped)) return;
    if (!(history[rel] ?? []).includes(sha256(current))) return log(`acg: kept ${dest}: edited on this device (delete it to get the shipped version)`);
    const tmp = `${dest}.appinstalld-new`;
    fs.writeFileSync(tmp, shipped, { mode: 0o644 });
    fs.chmodSync(tmp, 0o644);
    fs.renameSync(tmp, dest);
    written.push(dest);
    updated++;
  };
  for (const sub of BUS_SUBDIRS) {
    const dir = path.join(from, sub);
    let names: string[] = [];
    try { names = fs.readdirSync(dir); } catch { /* none shipped */ }
    fs.mkdirSync(path.join(l.staticBus.base, sub), { recursive: true });
    for (const n of names.sort()) install(path.join(dir, n), path.join(l.staticBus.base, sub, n), `${sub}/${n}`);
  }
  if (fs.existsSync(path.join(from, DEVMODE_CERTIFICATE))) install(path.join(from, DEVMODE_CERTIFICATE), path.join(l.staticBus.base, DEVMODE_CERTIFICATE), DEVMODE_CERTIFICATE);
  if (written.length) log(`acg: installed ${written.length - updated} and updated ${updated} default policy file(s) in ${l.staticBus.base}`);
  return written;
}

/** Most remembered call decisions; past it the memory starts afresh. */
const CALL_CACHE_LIMIT = 8192;

/**
 * decideCall is asked on every call through the hub, and its answer depends only on the caller's identity and
 * names, the method, and the security data. Answers are remembered until the data changes: PolicyStore replaces
 * its data whole on every reload and manifest change, never edits it, so a new data object starts afresh.
 */
function cachedDecideCall(data: () => SecurityData): (caller: CallerContext, target: CallTarget) => Denial | null {
  let cachedFor: SecurityData | null = null;
  const answers = new Map<string, Denial | null>();
  return (caller, target) => {
    const current = data();
    if (current !== cachedFor || answers.size >= CALL_CACHE_LIMIT) {
      answers.clear();
      cachedFor = current;
    }
    const p = caller.peer;
    const key = `${p.uid}\0${p.gid}\0${p.exe}\0${caller.name}\0${caller.appId ?? '\u0001'}\0${target.service}\0${target.category}\0${target.method}`;
    let answer = answers.get(key);
    if (answer === undefined) {
      answer = decideCall(current, caller, target);
      answers.set(key, answer);
    }
    return answer;
  };
}

export interface CreatePolicyOptions {
  /** The uid the hub runs as (default: this process's). When not 0 it gets root's privileged role: it owns the bus. */
  ownerUid?: number;
}

/** The policy for one root: default files installed where absent, every security file loaded. */
export function createPolicy(l: Layout, log: (line: string) => void = () => {}, opts: CreatePolicyOptions = {}): Policy & { readonly store: PolicyStore } {
  try {
    installDefaultPolicy(l, log);
  } catch (e) {
    log(`acg: cannot install the default policy into ${l.staticBus.base}: ${(e as Error).message}`);
  }
  const ownerUid = opts.ownerUid ?? process.getuid?.();
  if (ownerUid !== undefined && ownerUid !== 0) log(`acg: the hub runs as uid ${ownerUid}: that uid gets the privileged role root has`);
  const store = new PolicyStore(l, log, ownerUid);
  store.reload();
  return {
    store,
    checkRegister: (peer: PeerIdentity, name: string | null): Denial | null => decideRegister(store.data, peer, name),
    checkCall: cachedDecideCall(() => store.data),
    isCallAllowedByName: (requester: string, target: CallTarget): boolean => decideCallByName(store.data, requester, target),
    isKnownService: (name: string): boolean => knownService(store.data, name),
    reload: (): void => store.reload(),
    addManifest: (manifestPath: string, prefix: string): Denial | null => store.addManifest(manifestPath, prefix),
    removeManifest: (manifestPath: string, prefix: string): Denial | null => store.removeManifest(manifestPath, prefix),
  };
}
