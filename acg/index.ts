// createPolicy: the Policy the hub asks (acg/policy.ts), built from the security files under a root. Installs the
// shipped default policy where absent, then answers from PolicyStore's data with decision.ts. Not the decisions.

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


/**
 * Copy the default policy into <root>/usr/share/luna-service2/ file by file, never overwriting a file that exists
 * (a user's edit stays). Returns the files it wrote.
 */
export function installDefaultPolicy(l: Layout, log: (line: string) => void = () => {}, from = DEFAULT_POLICY_DIR): string[] {
  const written: string[] = [];
  const copy = (src: string, dest: string) => {
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    try {
      fs.copyFileSync(src, dest, fs.constants.COPYFILE_EXCL);
      fs.chmodSync(dest, 0o644);
      written.push(dest);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  };
  for (const sub of BUS_SUBDIRS) {
    const dir = path.join(from, sub);
    let names: string[] = [];
    try { names = fs.readdirSync(dir); } catch { /* none shipped */ }
    fs.mkdirSync(path.join(l.staticBus.base, sub), { recursive: true });
    for (const n of names.sort()) copy(path.join(dir, n), path.join(l.staticBus.base, sub, n));
  }
  if (fs.existsSync(path.join(from, DEVMODE_CERTIFICATE))) copy(path.join(from, DEVMODE_CERTIFICATE), path.join(l.staticBus.base, DEVMODE_CERTIFICATE));
  if (written.length) log(`acg: installed ${written.length} default policy file(s) into ${l.staticBus.base}`);
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
