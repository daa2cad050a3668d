// Subscription keys of a service: which open calls get a push under which key (e.g. "status_com.foo").
// Not how pushes are ordered or sent: IncomingMessage (method-registry.ts) queues them behind the call return.
import type { Payload } from './protocol';
import { IncomingMessage, type Message, type SubscriptionHolder } from './method-registry';

export interface SubscriptionRegistry {
  /** Add the message under a key (e.g. "status_com.foo"); removed automatically on cancel or after its last reply. */
  add(key: string, msg: Message): void;
  remove(key: string, msg: Message): void;
  /** Push a payload (non-last) to every message under the key; returns how many got it. */
  reply(key: string, payload: Payload): number;
  count(key: string): number;
}

function incoming(msg: Message): IncomingMessage {
  if (!(msg instanceof IncomingMessage)) throw new TypeError('subscriptions hold only messages received by this client');
  return msg;
}

export interface SubscriptionsOptions {
  /** Runs each fan-out (one reply() to all its messages), e.g. so the transport serialises the payload once. */
  fanout?: <T>(send: () => T) => T;
}

export class Subscriptions implements SubscriptionRegistry, SubscriptionHolder {
  private readonly byKey = new Map<string, Set<IncomingMessage>>();
  private readonly keysOf = new Map<IncomingMessage, Set<string>>();

  constructor(private readonly opts: SubscriptionsOptions = {}) {}

  add(key: string, msg: Message): void {
    const m = incoming(msg);
    if (m.ended) return;
    let set = this.byKey.get(key);
    if (!set) this.byKey.set(key, (set = new Set()));
    set.add(m);
    let keys = this.keysOf.get(m);
    if (!keys) {
      this.keysOf.set(m, (keys = new Set()));
      m.attach(this);
    }
    keys.add(key);
  }

  remove(key: string, msg: Message): void {
    const m = incoming(msg);
    const set = this.byKey.get(key);
    if (set) {
      set.delete(m);
      if (set.size === 0) this.byKey.delete(key);
    }
    const keys = this.keysOf.get(m);
    if (keys) {
      keys.delete(key);
      if (keys.size === 0) this.keysOf.delete(m);
    }
  }

  reply(key: string, payload: Payload): number {
    const set = this.byKey.get(key);
    if (!set) return 0;
    const send = () => {
      let n = 0;
      for (const m of [...set]) if (m.push(payload)) n++;
      return n;
    };
    return this.opts.fanout ? this.opts.fanout(send) : send();
  }

  count(key: string): number { return this.byKey.get(key)?.size ?? 0; }

  /** The keys currently holding at least one message. */
  keys(): string[] { return [...this.byKey.keys()]; }

  holds(msg: IncomingMessage): boolean { return (this.keysOf.get(msg)?.size ?? 0) > 0; }

  drop(msg: IncomingMessage): void {
    for (const key of [...(this.keysOf.get(msg) ?? [])]) this.remove(key, msg);
    this.keysOf.delete(msg);
  }
}
