// A small Policy for hub tests: allows everything except a few configurable deny rules, so the hub's
// denial paths are exercised without the real ACG (acg/ is tested on its own and wired in by ls-hubd).
import type { CallTarget, CallerContext, Denial, Policy } from '../../acg/policy';
import type { PeerIdentity } from '../../ipc/protocol';
import { BusErrorCode, BusErrorText } from '../../status-codes';

export interface TestPolicyOptions {
  /** Names nobody may register (exact). */
  forbiddenNames?: string[];
  /** Methods (by name) nobody may call, except callers registered as `trustedName`. */
  deniedMethods?: string[];
  trustedName?: string;
  /** Services "known from a service file" (so a call to them, when not connected, is "X is not running."). */
  knownServices?: string[];
}

export interface TestPolicy extends Policy {
  reloads: number;
  manifests: Array<{ op: 'add' | 'remove'; path: string; prefix: string }>;
  lastCaller: CallerContext | null;
}

export const TEST_POLICY_DEFAULTS: Required<TestPolicyOptions> = {
  forbiddenNames: ['com.test.forbidden'],
  deniedMethods: ['secret', 'addOneManifest'],
  trustedName: 'com.test.trusted',
  knownServices: ['com.test.known'],
};

export function createTestPolicy(opts: TestPolicyOptions = {}): TestPolicy {
  const o = { ...TEST_POLICY_DEFAULTS, ...opts };
  const denied = (name: string | null, target: CallTarget) => o.deniedMethods.includes(target.method) && name !== o.trustedName;
  const policy: TestPolicy = {
    reloads: 0,
    manifests: [],
    lastCaller: null,
    checkRegister(_peer: PeerIdentity, name: string | null): Denial | null {
      if (name !== null && o.forbiddenNames.includes(name)) {
        return { errorCode: BusErrorCode.INVALID_PERMISSIONS, errorText: BusErrorText.invalidPermissions(name) };
      }
      return null;
    },
    checkCall(caller: CallerContext, target: CallTarget): Denial | null {
      policy.lastCaller = caller;
      if (denied(caller.name, target)) {
        return { errorCode: BusErrorCode.GENERAL, errorText: BusErrorText.deniedMethodCall(target.method, target.category) };
      }
      return null;
    },
    isCallAllowedByName(requester: string, target: CallTarget): boolean {
      return !denied(requester, target);
    },
    isKnownService(name: string): boolean {
      return o.knownServices.includes(name);
    },
    reload(): void {
      policy.reloads++;
    },
    addManifest(path: string, prefix: string): Denial | null {
      policy.manifests.push({ op: 'add', path, prefix });
      return null;
    },
    removeManifest(path: string, prefix: string): Denial | null {
      if (!policy.manifests.some((m) => m.op === 'add' && m.path === path)) {
        return { errorCode: BusErrorCode.GENERAL, errorText: `No manifest ${path} is loaded` };
      }
      policy.manifests.push({ op: 'remove', path, prefix });
      return null;
    },
  };
  return policy;
}
