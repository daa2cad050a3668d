// Fan-out benchmark: one status event pushed by a service to 1,000 subscribers, each its own bus connection,
// through ls-hubd (its own process). Publisher and subscribers live in the bench process so one clock times
// publish (the service's subscriptions.reply, as the install service pushes status) to the last delivery.
import fs from 'node:fs';
import path from 'node:path';
import { LunaClient } from '../ipc/client';
import type { Payload } from '../ipc/protocol';
import { startChild, type BenchChild } from './bench-process';
import { msSince, nowNs, percentile, round } from './stats';

const DIST = path.resolve(__dirname, '..');
const SERVICE = 'com.bench.fanout';
const KEY = 'status';

export interface FanoutBenchOptions {
  subscribers: number;
  events: number;
  warmup: number;
  log(line: string): void;
}

export const DEFAULT_FANOUT_OPTIONS: Omit<FanoutBenchOptions, 'log'> = { subscribers: 1000, events: 200, warmup: 20 };

export async function runFanoutBench(o: FanoutBenchOptions): Promise<Record<string, number>> {
  const work = fs.mkdtempSync('/tmp/ai-fan-');
  const socketPath = path.join(work, 'hub.sock');
  let hub: BenchChild | null = null;
  const clients: LunaClient[] = [];
  try {
    hub = await startChild(process.execPath, [path.join(DIST, 'ipc/ls-hubd.js'), '--root', path.join(work, 'root'), '--socket', socketPath], 'listening on');
    const publisher = await LunaClient.connect({ socketPath, name: SERVICE });
    clients.push(publisher);
    publisher.registerCategory('/', {
      status: {
        handler: (msg) => {
          if (msg.isSubscription) publisher.subscriptions.add(KEY, msg);
          return { returnValue: true, subscribed: msg.isSubscription };
        },
      },
    });

    // Each subscriber counts into the current event; the last one to get it resolves that event.
    let pending = 0;
    let seq = -1;
    let done: (() => void) | null = null;
    const onEvent = (p: Payload) => {
      if (p.seq !== seq) return;
      if (--pending === 0) done?.();
    };
    const ready: Array<Promise<void>> = [];
    for (let i = 0; i < o.subscribers; i++) {
      const c = await LunaClient.connect({ socketPath });
      clients.push(c);
      ready.push(new Promise<void>((resolve, reject) => {
        let first = true;
        c.call(`luna://${SERVICE}/status`, { subscribe: true }).subscribe({
          next: (p) => {
            if (first) {
              first = false;
              return p.subscribed === true ? resolve() : reject(new Error(`subscribe refused: ${JSON.stringify(p)}`));
            }
            onEvent(p);
          },
          error: reject,
        });
      }));
    }
    await Promise.all(ready);
    const subscribed = publisher.subscriptions.count(KEY);
    if (subscribed !== o.subscribers) throw new Error(`fan-out: ${subscribed} of ${o.subscribers} subscribed`);

    const publishOnce = (n: number) => new Promise<number>((resolve) => {
      seq = n;
      pending = o.subscribers;
      const t = nowNs();
      done = () => resolve(msSince(t));
      publisher.subscriptions.reply(KEY, { id: 'com.bench.app', statusValue: 14, seq: n, details: { state: 'installing : unpacking', progress: n % 101 } });
    });
    for (let i = 0; i < o.warmup; i++) await publishOnce(i);
    const times: number[] = [];
    for (let i = 0; i < o.events; i++) times.push(await publishOnce(o.warmup + i));
    const res = {
      'fanout.subscribers': o.subscribers,
      'fanout.p50_ms': round(percentile(times, 50), 2),
      'fanout.p99_ms': round(percentile(times, 99), 2),
    };
    o.log(`fan-out: ${o.events} events to ${o.subscribers} subscribers: publish to last delivery p50 ${res['fanout.p50_ms']} ms, p99 ${res['fanout.p99_ms']} ms, max ${round(Math.max(...times), 2)} ms`);
    return res;
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await hub?.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}
