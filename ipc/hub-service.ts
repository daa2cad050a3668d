// The hub's own service, com.webos.service.bus, answered inside the hub: server status, signal matches,
// isCallAllowed and manifests. Not routing or access control: hub.ts checks ACG before a call gets here.
import { BusErrorCode, BusErrorText, errorReply } from '../status-codes';
import type { CallerContext, Policy } from '../acg/policy';
import type { Payload } from './protocol';
import { parseUri } from './uri';

/** An open call to the hub service, as the hub hands it over. `reply(.., true)` ends it at the hub. */
export interface HubServiceCall {
  reply(payload: Payload, last: boolean): void;
  /** Deliver a signal: its payload already serialised, and the sender fields the hub stamped. */
  signal(payloadJson: string, senderJson: string): void;
}

export interface HubServiceHost {
  policy: Policy;
  isServiceConnected(name: string): boolean;
  /** The caller on the connection with this unique id (":1.N"), by its kernel identity; null when it is gone. */
  callerByUniqueId(uniqueId: string): CallerContext | null;
}

/** The methods of com.webos.service.bus, by category. */
export const HUB_SERVICE_METHODS: Readonly<Record<string, readonly string[]>> = {
  '/signal': ['registerServerStatus', 'addmatch'],
  '/': ['isCallAllowed', 'addOneManifest', 'removeOneManifest'],
};

export function hubServiceHasMethod(category: string, method: string): boolean {
  return HUB_SERVICE_METHODS[category]?.includes(method) ?? false;
}

interface Match { call: HubServiceCall; method?: string }

function badParam(detail: string): Payload {
  return errorReply(BusErrorCode.GENERAL, BusErrorText.invalidParameter(detail));
}

function nonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

export class HubService {
  /** registerServerStatus calls by the service name they watch. */
  private readonly watchers = new Map<string, Set<HubServiceCall>>();
  /** addmatch calls by category. */
  private readonly matches = new Map<string, Set<Match>>();
  /** How to forget each open call (on cancel). */
  private readonly open = new Map<HubServiceCall, () => void>();

  constructor(private readonly host: HubServiceHost) {}

  /** Handle one call whose method hubServiceHasMethod() accepted. */
  handle(call: HubServiceCall, category: string, method: string, payload: Payload): void {
    const key = `${category}/${method}`;
    switch (key) {
      case '/signal/registerServerStatus':
        return this.registerServerStatus(call, payload);
      case '/signal/addmatch':
        return this.addmatch(call, payload);
      case '//isCallAllowed':
        return call.reply(this.isCallAllowed(payload), true);
      case '//addOneManifest':
      case '//removeOneManifest':
        return call.reply(this.manifest(method === 'addOneManifest', payload), true);
      default:
        return call.reply(errorReply(BusErrorCode.GENERAL, BusErrorText.unknownMethod(method, category)), true);
    }
  }

  /** The caller cancelled or disconnected. */
  cancel(call: HubServiceCall): void {
    const forget = this.open.get(call);
    if (forget) {
      this.open.delete(call);
      forget();
    }
  }

  /** A service name was registered (connected) or released; tell every watcher. */
  serviceStatusChanged(name: string, connected: boolean): void {
    const set = this.watchers.get(name);
    if (!set) return;
    for (const call of [...set]) call.reply({ serviceName: name, connected }, false);
  }

  /** Deliver a signal to every matching addmatch, stamped with `senderJson` (signalSenderFields); returns how many got it. */
  signal(category: string, method: string, payload: Payload, senderJson: string): number {
    const set = this.matches.get(category);
    if (!set) return 0;
    let json: string | undefined;
    let n = 0;
    for (const m of [...set]) {
      if (m.method === undefined || m.method === method) {
        m.call.signal((json ??= JSON.stringify(payload)), senderJson);
        n++;
      }
    }
    return n;
  }

  /** Open calls held (for stats and tests). */
  get openCalls(): number {
    return this.open.size;
  }

  /** Keep `item` in `map` under `key` while `call` is open; its cancel takes it out (and the key, once empty). */
  private holdWhileOpen<K, V>(call: HubServiceCall, map: Map<K, Set<V>>, key: K, item: V): void {
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    set.add(item);
    this.open.set(call, () => {
      set!.delete(item);
      if (set!.size === 0) map.delete(key);
    });
  }

  private registerServerStatus(call: HubServiceCall, payload: Payload): void {
    const name = payload.serviceName;
    if (!nonEmptyString(name)) return call.reply(badParam('"serviceName" must be a non-empty string'), true);
    this.holdWhileOpen(call, this.watchers, name, call);
    call.reply({ serviceName: name, connected: this.host.isServiceConnected(name) }, false);
  }

  private addmatch(call: HubServiceCall, payload: Payload): void {
    const { category, method } = payload;
    if (!nonEmptyString(category) || !category.startsWith('/')) {
      return call.reply(badParam('"category" must be a string starting with "/"'), true);
    }
    if (method !== undefined && !nonEmptyString(method)) return call.reply(badParam('"method" must be a non-empty string'), true);
    this.holdWhileOpen(call, this.matches, category, { call, method });
    call.reply({ returnValue: true }, false);
  }

  private isCallAllowed(payload: Payload): Payload {
    const { uri, requester } = payload;
    if (!nonEmptyString(uri)) return badParam('"uri" must be a non-empty string');
    if (!nonEmptyString(requester)) return badParam('"requester" must be a non-empty string');
    let target;
    try {
      target = parseUri(uri);
    } catch (e) {
      const err = e as { code?: number; text?: string; message: string };
      return errorReply(err.code ?? BusErrorCode.GENERAL, err.text ?? err.message);
    }
    // A unique id (":1.N", what a service sees as a call's senderId) is answered for that connection's kernel identity,
    // exactly as its own call would be: a service can ask what the caller of a call may do. A closed one may do nothing.
    if (requester.startsWith(':')) {
      const caller = this.host.callerByUniqueId(requester);
      return { returnValue: true, allowed: caller !== null && this.host.policy.checkCall(caller, target) === null };
    }
    return { returnValue: true, allowed: this.host.policy.isCallAllowedByName(requester, target) };
  }

  private manifest(add: boolean, payload: Payload): Payload {
    const { path, prefix } = payload;
    if (!nonEmptyString(path)) return badParam('"path" must be a non-empty string');
    if (prefix !== undefined && typeof prefix !== 'string') return badParam('"prefix" must be a string');
    let denial;
    try {
      denial = add ? this.host.policy.addManifest(path, prefix ?? '') : this.host.policy.removeManifest(path, prefix ?? '');
    } catch (e) {
      return errorReply(BusErrorCode.GENERAL, (e as Error).message);
    }
    return denial ? errorReply(denial.errorCode, denial.errorText) : { returnValue: true };
  }
}
