// The question the hub asks before every registration and call, and nothing about how it is answered:
// acg/decision.ts answers it from luna-service2 security files.
import type { PeerIdentity } from '../ipc/protocol';

/** A refusal, with the exact bus error code and text (status-codes BusErrorText). */
export interface Denial { errorCode: number; errorText: string }

export interface CallerContext {
  peer: PeerIdentity;
  /** The caller's registered service name, or null for an anonymous client. */
  name: string | null;
  /** Set when the caller asks to call as an app (`luna-send -a`). */
  appId?: string;
}

export interface CallTarget { service: string; category: string; method: string }

export interface Policy {
  /** May this peer register this name (null = anonymous)? null = yes. */
  checkRegister(peer: PeerIdentity, name: string | null): Denial | null;
  /** May this caller call this method? null = yes. */
  checkCall(caller: CallerContext, target: CallTarget): Denial | null;
  /** isCallAllowed {"uri","requester"}: may the service or app named `requester` call this method? */
  isCallAllowedByName(requester: string, target: CallTarget): boolean;
  /** Is the service known from a service file (so "X is not running." rather than "Service does not exist")? */
  isKnownService(name: string): boolean;
  /** Reload every security file (SIGHUP). */
  reload(): void;
  /** addOneManifest / removeOneManifest: load or unload one manifest file and what it lists. */
  addManifest(manifestPath: string, prefix: string): Denial | null;
  removeManifest(manifestPath: string, prefix: string): Denial | null;
}
