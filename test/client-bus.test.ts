// The client library (ipc/client.ts) against a real hub process and the real test service process: calls as
// Observables, subscriptions across several subscribers, cancels seen by the service, registration errors,
// reply order, and what happens when a service, a subscriber or the hub goes away.
import net from 'node:net';
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { LunaClient, type Message } from '../ipc/client';
import type { Payload } from '../ipc/protocol';
import { BusErrorCode, BusErrorText, CodedError } from '../status-codes';
import { killAll, startHub, startLunaSend, startTestService, type HubProcess, type ServiceProcess } from './helpers/client-bus';

const T = 'luna://com.example.test';
let hub: HubProcess;
let svc: ServiceProcess;
const clients: LunaClient[] = [];

async function client(name: string | null = null, socketPath = hub.socketPath): Promise<LunaClient> {
  const c = await LunaClient.connect({ socketPath, name });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  hub = await startHub();
  svc = await startTestService(hub.socketPath);
}, 30000);
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await svc?.stop();
  await hub?.stop();
  killAll();
});

interface Stats { watchers: number; counters: number; cancels: number; calls: Record<string, number> }
async function stats(c: LunaClient): Promise<Stats> {
  return (await c.callOne(`${T}/stats`, {})) as unknown as Stats;
}
async function statsUntil(c: LunaClient, ok: (s: Stats) => boolean): Promise<Stats> {
  let s = await stats(c);
  for (let i = 0; i < 100 && !ok(s); i++) {
    await new Promise((r) => setTimeout(r, 20));
    s = await stats(c);
  }
  return s;
}

async function rejection(p: Promise<unknown>): Promise<CodedError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CodedError);
    return e as CodedError;
  }
  throw new Error('expected a rejection');
}

describe('connecting', () => {
  test('anonymous client: a unique id and the kernel identity of this process', async () => {
    const c = await client();
    expect(c.name).toBeNull();
    expect(c.uniqueId).toMatch(/^:\d+\.\d+$/);
    expect(c.peer).toMatchObject({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!() });
    const who = await c.callOne(`${T}/caller`, {});
    expect(who).toMatchObject({ sender: null, senderId: c.uniqueId });
  });

  test('a taken name is refused with -1028 and the bus text', async () => {
    const e = await rejection(LunaClient.connect({ socketPath: hub.socketPath, name: 'com.example.test' }));
    expect(e.code).toBe(BusErrorCode.NAME_TAKEN);
    expect(e.text).toBe(BusErrorText.nameTaken('com.example.test'));
  });

  test('no hub: the error names the socket path; an over-long path is a clear error', async () => {
    const sock = `${hub.root}/absent/com.palm.hub`;
    const e = await rejection(LunaClient.connect({ socketPath: sock }));
    expect(e.text).toBe(BusErrorText.cannotConnect(sock, 'no such socket (is the hub running?)'));
    const long = `/tmp/${'x'.repeat(120)}/com.palm.hub`;
    expect((await rejection(LunaClient.connect({ socketPath: long }))).text).toContain(long);
    const viaRoot = await rejection(LunaClient.connect({ root: `${hub.root}/r` }));
    expect(viaRoot.text).toContain(`${hub.root}/r/var/run/luna-service2/com.palm.hub`);
  });
});

test('a socket that accepts but never answers hello: a clear error after connectTimeoutMs', async () => {
  const sock = `${hub.root}/mute.sock`;
  const held: net.Socket[] = [];
  const mute = net.createServer((c) => held.push(c));
  await new Promise<void>((r) => mute.listen(sock, r));
  try {
    const e = await rejection(LunaClient.connect({ socketPath: sock, connectTimeoutMs: 200 }));
    expect(e.text).toBe(BusErrorText.cannotConnect(sock, 'no answer from the hub within 200 ms'));
  } finally {
    held.forEach((c) => c.destroy());
    await new Promise((r) => mute.close(r));
  }
});

describe('calls', () => {
  test('replies arrive in order and the Observable completes after the last one', async () => {
    const c = await client();
    const all = await lastValueFrom(c.call(`${T}/counter`, { count: 3, intervalMs: 2, end: true, subscribe: true }).pipe(toArray()));
    expect(all).toEqual([{ returnValue: true, subscribed: true, n: 0 }, { n: 1 }, { n: 2 }, { n: 3 }]);
  });

  test('the call is cold: nothing is sent until subscribed', async () => {
    const c = await client();
    const before = (await stats(c)).calls.echo ?? 0;
    const obs = c.call(`${T}/echo`, {});
    expect((await stats(c)).calls.echo ?? 0).toBe(before);
    await firstValueFrom(obs);
    await firstValueFrom(obs);
    expect((await stats(c)).calls.echo).toBe(before + 2);
  });

  test('unsubscribing and callOne send a cancel the service sees', async () => {
    const c = await client();
    const s0 = await stats(c);
    const firstTwo = await lastValueFrom(c.call(`${T}/counter`, { count: 1000, intervalMs: 5, subscribe: true }).pipe(take(2), toArray()));
    expect(firstTwo).toEqual([{ returnValue: true, subscribed: true, n: 0 }, { n: 1 }]);
    const s1 = await statsUntil(c, (s) => s.cancels === s0.cancels + 1);
    expect(s1).toMatchObject({ cancels: s0.cancels + 1, counters: s0.counters });
    expect(await c.callOne(`${T}/watch`, { subscribe: true })).toEqual({ returnValue: true, subscribed: true });
    const s2 = await statsUntil(c, (s) => s.cancels === s0.cancels + 2);
    expect(s2).toMatchObject({ cancels: s0.cancels + 2, watchers: s0.watchers });
  });

  test('bus errors and method errors are ordinary replies', async () => {
    const c = await client();
    expect(await c.callOne('luna://com.example.none/x', {})).toEqual({ returnValue: false, errorCode: -1, errorText: BusErrorText.serviceDoesNotExist('com.example.none') });
    expect(await c.callOne(`${T}/typed`, {})).toEqual({ returnValue: false, errorCode: -2, errorText: 'Invalid parameter: missing required property "id"' });
    expect(await c.callOne(`${T}/fail`, {})).toEqual({ returnValue: false, errorCode: -1, errorText: 'failed on purpose', subscribed: false });
  });
});

describe('subscriptions', () => {
  test('a push reaches every subscriber, after each one\'s call return', async () => {
    const caller = await client();
    const subscribers = await Promise.all([client(), client(), client()]);
    const base = (await stats(caller)).watchers;
    const got = subscribers.map((s) => lastValueFrom(s.call(`${T}/watch`, { subscribe: true }).pipe(take(3), toArray())));
    await statsUntil(caller, (s) => s.watchers === base + 3);
    expect(await caller.callOne(`${T}/notify`, { value: 'a' })).toEqual({ returnValue: true, delivered: base + 3 });
    await caller.callOne(`${T}/notify`, { value: 'b' });
    for (const list of await Promise.all(got)) {
      expect(list).toEqual([{ returnValue: true, subscribed: true }, { value: 'a' }, { value: 'b' }]);
    }
    expect((await statsUntil(caller, (s) => s.watchers === base)).watchers).toBe(base);
  });

  test('a killed subscriber process: its subscription is gone at the service', async () => {
    const c = await client();
    const base = (await stats(c)).watchers;
    const sub = startLunaSend(['-i', `${T}/watch`, '{"subscribe":true}'], { socketPath: hub.socketPath });
    await sub.lines(1);
    expect((await statsUntil(c, (s) => s.watchers === base + 1)).watchers).toBe(base + 1);
    sub.proc.kill('SIGKILL');
    await sub.done;
    expect((await statsUntil(c, (s) => s.watchers === base)).watchers).toBe(base);
  });
});

describe('an in-process service', () => {
  test('declared methods: schema text, return before pushes, onCancel, unregister → unknown method', async () => {
    const service = await client('com.example.inproc');
    const cancelled: number[] = [];
    let watching: Message | undefined;
    service.registerCategory('/sub', {
      watch: {
        handler: async (m) => {
          service.subscriptions.add('k', m);
          watching = m;
          m.onCancel(() => cancelled.push(m.token));
          // Pushed before the handler returns: must arrive after the return.
          service.subscriptions.reply('k', { early: true });
          await new Promise((r) => setTimeout(r, 20));
          return { returnValue: true, subscribed: true };
        },
      },
      strict: { schema: { type: 'object', properties: { n: { type: 'number' } }, required: ['n'] }, handler: (m) => ({ returnValue: true, n: m.payload.n }) },
    });
    const caller = await client();
    const uri = 'luna://com.example.inproc/sub/watch';
    const seen: Payload[] = [];
    const s = caller.call(uri, { subscribe: true }).subscribe((p) => seen.push(p));
    for (let i = 0; i < 100 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toEqual([{ returnValue: true, subscribed: true }, { early: true }]);
    expect(service.subscriptions.count('k')).toBe(1);
    s.unsubscribe();
    for (let i = 0; i < 100 && cancelled.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(cancelled).toEqual([watching!.token]);
    expect(service.subscriptions.count('k')).toBe(0);

    expect(await caller.callOne('luna://com.example.inproc/sub/strict', { n: 'x' })).toEqual({ returnValue: false, errorCode: -2, errorText: 'Invalid parameter: "n" must be number' });
    expect(await caller.callOne('luna://com.example.inproc/sub/strict', { n: 4 })).toEqual({ returnValue: true, n: 4 });
    service.unregisterCategory('/sub');
    expect(await caller.callOne('luna://com.example.inproc/sub/strict', { n: 4 })).toEqual({ returnValue: false, errorCode: -1, errorText: BusErrorText.unknownMethod('strict', '/sub') });
  });

  test('a caller that disconnects cancels its calls at the service; a service that goes away ends its calls', async () => {
    const service = await client('com.example.inproc2');
    const cancels: string[] = [];
    service.registerCategory('/', {
      hold: { handler: (m) => { service.subscriptions.add('hold', m); m.onCancel(() => cancels.push(m.senderId)); return { returnValue: true }; } },
    });
    const leaving = await LunaClient.connect({ socketPath: hub.socketPath });
    const first = firstValueFrom(leaving.call('luna://com.example.inproc2/hold', { subscribe: true }));
    expect(await first).toEqual({ returnValue: true });
    // firstValueFrom cancelled that one; hold another open and close the connection.
    const open = leaving.call('luna://com.example.inproc2/hold', { subscribe: true }).subscribe({ error: () => undefined });
    for (let i = 0; i < 100 && service.subscriptions.count('hold') === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await leaving.close();
    expect(open.closed).toBe(true);
    for (let i = 0; i < 100 && cancels.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(cancels).toEqual([leaving.uniqueId, leaving.uniqueId]);

    const caller = await client();
    const replies = lastValueFrom(caller.call('luna://com.example.inproc2/hold', { subscribe: true }).pipe(toArray()));
    for (let i = 0; i < 100 && service.subscriptions.count('hold') === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await service.close();
    expect(await replies).toEqual([
      { returnValue: true },
      { serviceName: 'com.example.inproc2', returnValue: false, errorCode: -1, errorText: BusErrorText.serviceNotRunning('com.example.inproc2') },
    ]);
  });

  test('sendSignal reaches signal/addmatch calls of the matching category', async () => {
    const sender = await client('com.example.signaller');
    const listener = await client();
    const got: Payload[] = [];
    const sub = listener.call('luna://com.webos.service.bus/signal/addmatch', { category: '/sig', method: 'changed' }).subscribe((p) => got.push(p));
    // The match is in place once its first reply has arrived.
    for (let i = 0; i < 100 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    sender.sendSignal('luna://com.example.signaller/sig/other', { no: 1 });
    sender.sendSignal('luna://com.example.signaller/sig/changed', { yes: 1 });
    for (let i = 0; i < 100 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    sub.unsubscribe();
    expect(got).toEqual([{ returnValue: true }, { yes: 1 }]);
  });

  test('a signal with a bad URI is refused at the sender and the connection survives', async () => {
    const sender = await client('com.example.signaller2');
    expect(() => sender.sendSignal('luna://no-dots/sig', {})).toThrow(/Invalid URI/);
    await expect(sender.callOne('luna://com.webos.service.bus/signal/registerServerStatus', { serviceName: 'com.example.signaller2' }))
      .resolves.toMatchObject({ connected: true });
  });

  test('a reply too large for a frame, or not serialisable, becomes an error reply; the connection survives', async () => {
    const service = await LunaClient.connect({ socketPath: hub.socketPath, name: 'com.example.inproc3', maxFrameBytes: 300 });
    clients.push(service);
    const status: Payload = { n: 1 };
    service.registerCategory('/', {
      big: { handler: () => ({ returnValue: true, blob: 'x'.repeat(1000) }) },
      bigint: { handler: () => ({ returnValue: true, v: BigInt(1) }) },
      small: { handler: () => ({ returnValue: true }) },
      watch: { handler: (m) => { service.subscriptions.add('s', m); return { returnValue: true }; } },
    });
    const caller = await client();
    const big = await caller.callOne('luna://com.example.inproc3/big', {});
    expect(big).toMatchObject({ returnValue: false, errorCode: -1 });
    expect(String(big.errorText)).toMatch(/^Message of \d+ bytes is larger than the 300-byte frame limit$/);
    expect(await caller.callOne('luna://com.example.inproc3/bigint', {})).toMatchObject({ returnValue: false, errorCode: -1, errorText: expect.stringMatching(/^Reply could not be serialised: /) });
    expect(await caller.callOne('luna://com.example.inproc3/small', {})).toEqual({ returnValue: true });

    // One payload object pushed, changed, pushed again: each push carries what it held at the time.
    const got = lastValueFrom(caller.call('luna://com.example.inproc3/watch', { subscribe: true }).pipe(take(3), toArray()));
    for (let i = 0; i < 100 && service.subscriptions.count('s') === 0; i++) await new Promise((r) => setTimeout(r, 10));
    service.subscriptions.reply('s', status);
    status.n = 2;
    service.subscriptions.reply('s', status);
    expect(await got).toEqual([{ returnValue: true }, { n: 1 }, { n: 2 }]);
  });

  test('anonymous clients cannot declare methods', async () => {
    const c = await client();
    expect(() => c.registerCategory('/', { m: { handler: () => ({}) } })).toThrow(CodedError);
  });
});

describe('the hub going away', () => {
  test('hubGone$ fires, open calls error with the socket path, new calls fail at once', async () => {
    const hub2 = await startHub();
    try {
      const c = await LunaClient.connect({ socketPath: hub2.socketPath });
      const gone = firstValueFrom(c.hubGone$, { defaultValue: 'completed' as const });
      const open = rejection(lastValueFrom(c.call('luna://com.webos.service.bus/signal/addmatch', { category: '/x' }).pipe(toArray())));
      await new Promise((r) => setTimeout(r, 50));
      hub2.proc.kill('SIGKILL');
      expect(await gone).toBeUndefined();
      const e = await open;
      expect(e.text).toBe(BusErrorText.hubGone(hub2.socketPath));
      expect((await rejection(c.callOne(`${T}/echo`, {}))).text).toBe(BusErrorText.hubGone(hub2.socketPath));
      await c.close();
    } finally {
      await hub2.stop();
    }
  });

  test('close() is not a hub loss: hubGone$ completes without emitting, open calls error clientClosed', async () => {
    const c = await LunaClient.connect({ socketPath: hub.socketPath });
    const gone = firstValueFrom(c.hubGone$, { defaultValue: 'completed' as const });
    const open = rejection(firstValueFrom(c.call(`${T}/slow`, { ms: 5000 })));
    await c.close();
    expect(await gone).toBe('completed');
    expect((await open).text).toBe(BusErrorText.clientClosed);
    expect((await rejection(c.callOne(`${T}/echo`, {}))).text).toBe(BusErrorText.clientClosed);
  });
});
