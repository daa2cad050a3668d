// Unit tests of the service side of a call (ipc/method-registry.ts, ipc/subscriptions.ts): validation before the
// handler, errors to replies in one place, reply order and cancel. Replies go to an array instead of a socket.
import { BusErrorText, CodedError, ErrorCode } from '../status-codes';
import { MethodRegistry, pointerToPath, type Message } from '../ipc/method-registry';
import { Subscriptions } from '../ipc/subscriptions';
import type { IncomingCallMsg, Payload, ServiceReplyMsg } from '../ipc/protocol';

const peer = { pid: 1, uid: 0, gid: 0, exe: '/usr/bin/node' };
let nextToken = 1;
function call(method: string, payload: Payload = {}, category = '/'): IncomingCallMsg {
  return { t: 'call', token: nextToken++, sender: 'com.caller', senderId: ':1.1', category, method, payload, peer };
}

function setup() {
  const sent: ServiceReplyMsg[] = [];
  const registry = new MethodRegistry((f) => sent.push(f));
  const subs = new Subscriptions();
  return { sent, registry, subs };
}

describe('schema validation', () => {
  const schema = {
    type: 'object',
    properties: {
      id: { type: 'string' },
      ipkUrl: { type: 'string' },
      opts: { type: 'object', properties: { list: { type: 'array', items: { type: 'number' } } } },
    },
    required: ['id', 'ipkUrl'],
  };

  test.each([
    [{ id: 1, ipkUrl: 'x' }, 'Invalid parameter: "id" must be string'],
    [{ id: 'a' }, 'Invalid parameter: missing required property "ipkUrl"'],
    [{ id: 'a', ipkUrl: 'x', opts: { list: [1, 'two'] } }, 'Invalid parameter: "opts.list[1]" must be number'],
  ])('%j is refused with a text naming the key and the handler never runs', async (payload, text) => {
    const { sent, registry } = setup();
    let ran = 0;
    registry.register('/', { install: { schema, errorExtra: { subscribed: false }, handler: () => { ran++; return { returnValue: true }; } } });
    const c = call('install', payload);
    await registry.handleCall(c);
    expect(ran).toBe(0);
    expect(sent).toEqual([{ t: 'reply', token: c.token, last: true, payload: {
      returnValue: false, errorCode: ErrorCode.INVALID_PARAMETER, errorText: text, subscribed: false,
    } }]);
  });

  test('a valid payload (extra keys allowed) reaches the handler', async () => {
    const { sent, registry } = setup();
    registry.register('/', { install: { schema, handler: (m) => ({ returnValue: true, got: m.payload.id }) } });
    await registry.handleCall(call('install', { id: 'a', ipkUrl: 'u', extra: 1 }));
    expect(sent[0].payload).toEqual({ returnValue: true, got: 'a' });
    expect(sent[0].last).toBe(true);
  });

  test('an unknown property is named when the schema forbids extras', async () => {
    const { sent, registry } = setup();
    registry.register('/', { m: { schema: { type: 'object', additionalProperties: false, properties: {} }, handler: () => ({}) } });
    await registry.handleCall(call('m', { bogus: 1 }));
    expect(sent[0].payload.errorText).toBe(BusErrorText.invalidParameter('unknown property "bogus"'));
  });

  test('a schema that does not compile is refused at registration, naming the method', () => {
    const { registry } = setup();
    expect(() => registry.register('/', { m: { schema: { type: 'nonsense' }, handler: () => ({}) } })).toThrow(/method "m" in category "\/"/);
  });

  test('bad method and category names are refused at registration', () => {
    const { registry } = setup();
    expect(() => registry.register('/', { 'bad-name': { handler: () => ({}) } })).toThrow(/bad-name/);
    expect(() => registry.register('dev', { ok: { handler: () => ({}) } })).toThrow(/must start with "\/"/);
  });

  test('pointerToPath', () => {
    expect(pointerToPath('')).toBe('');
    expect(pointerToPath('/a/b/0/c')).toBe('a.b[0].c');
    expect(pointerToPath('/a~1b/~0c')).toBe('a/b.~c');
  });
});

describe('errors become replies in one place', () => {
  test('thrown CodedError keeps its code and text, with errorExtra', async () => {
    const { sent, registry } = setup();
    registry.register('/dev', { install: { errorExtra: { subscribed: false }, handler: () => { throw new CodedError(-5, 'boom'); } } });
    await registry.handleCall(call('install', {}, '/dev'));
    expect(sent[0]).toMatchObject({ last: true, payload: { returnValue: false, errorCode: -5, errorText: 'boom', subscribed: false } });
  });
  test('any other throw (also async) is code -1 with its message', async () => {
    const { sent, registry } = setup();
    registry.register('/', { m: { handler: async () => { throw new Error('plain failure'); } } });
    await registry.handleCall(call('m'));
    expect(sent[0]).toMatchObject({ last: true, payload: { returnValue: false, errorCode: -1, errorText: 'plain failure' } });
  });
  test('a handler returning something that is not a JSON object: the caller gets an error reply', async () => {
    const { sent, registry } = setup();
    registry.register('/', { m: { handler: () => 'text' as unknown as Payload }, a: { handler: () => [1] as unknown as Payload } });
    await registry.handleCall(call('m'));
    await registry.handleCall(call('a'));
    for (const f of sent) expect(f).toMatchObject({ last: true, payload: { returnValue: false, errorCode: -1, errorText: BusErrorText.payloadNotObject } });
  });
  test('a method not (or no longer) registered gets unknownMethod', async () => {
    const { sent, registry } = setup();
    registry.register('/c', { m: { handler: () => ({ returnValue: true }) } });
    await registry.handleCall(call('other', {}, '/c'));
    registry.unregister('/c');
    await registry.handleCall(call('m', {}, '/c'));
    expect(sent.map((f) => f.payload.errorText)).toEqual([BusErrorText.unknownMethod('other', '/c'), BusErrorText.unknownMethod('m', '/c')]);
    expect(sent.every((f) => f.last === true && f.payload.errorCode === -1)).toBe(true);
  });
});

describe('subscriptions and reply order', () => {
  test('the call return precedes pushes made before the handler returned; the call stays open', async () => {
    const { sent, registry, subs } = setup();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    registry.register('/', {
      watch: {
        handler: async (m) => {
          subs.add('k', m);
          expect(subs.reply('k', { push: 1 })).toBe(1); // queued behind the return
          await gate;
          return { returnValue: true, subscribed: m.isSubscription };
        },
      },
    });
    const c = call('watch', { subscribe: true });
    const done = registry.handleCall(c);
    subs.reply('k', { push: 2 });
    expect(sent).toEqual([]);
    release();
    await done;
    subs.reply('k', { push: 3 });
    expect(sent.map((f) => [f.payload, f.last])).toEqual([
      [{ returnValue: true, subscribed: true }, undefined],
      [{ push: 1 }, undefined],
      [{ push: 2 }, undefined],
      [{ push: 3 }, undefined],
    ]);
    expect(registry.openCalls).toBe(1);
  });

  test('cancel: onCancel runs once, the message leaves every key, nothing more is sent', async () => {
    const { sent, registry, subs } = setup();
    let msg!: Message;
    let cancels = 0;
    registry.register('/', { watch: { handler: (m) => { msg = m; subs.add('a', m); subs.add('b', m); m.onCancel(() => cancels++); return { returnValue: true }; } } });
    const c = call('watch', { subscribe: true });
    await registry.handleCall(c);
    expect([subs.count('a'), subs.count('b')]).toEqual([1, 1]);
    registry.handleCancel(c.token);
    registry.handleCancel(c.token);
    expect(cancels).toBe(1);
    expect(msg.cancelled).toBe(true);
    expect([subs.count('a'), subs.count('b')]).toEqual([0, 0]);
    expect(subs.reply('a', { x: 1 })).toBe(0);
    msg.respond({ late: true });
    expect(sent).toHaveLength(1);
    let lateCancel = 0;
    msg.onCancel(() => lateCancel++);
    expect(lateCancel).toBe(1);
    expect(registry.openCalls).toBe(0);
  });

  test('a forced last reply ends a subscribed call and removes it from its keys', async () => {
    const { sent, registry, subs } = setup();
    let msg!: Message;
    registry.register('/', { watch: { handler: (m) => { msg = m; subs.add('k', m); return { returnValue: true }; } } });
    await registry.handleCall(call('watch', { subscribe: true }));
    msg.respond({ done: true }, { last: true });
    expect(subs.count('k')).toBe(0);
    expect(sent.map((f) => f.last)).toEqual([undefined, true]);
    expect(registry.openCalls).toBe(0);
  });

  test('a handler replying itself (returning undefined) and an error after subscribing ends the subscription', async () => {
    const { sent, registry, subs } = setup();
    registry.register('/', {
      self: { handler: (m) => { m.respond({ returnValue: true, self: 1 }); } },
      failing: { errorExtra: { subscribed: false }, handler: (m) => { subs.add('k', m); throw new CodedError(-2, 'bad'); } },
    });
    await registry.handleCall(call('self'));
    await registry.handleCall(call('failing', { subscribe: true }));
    expect(sent.map((f) => [f.payload, f.last])).toEqual([
      [{ returnValue: true, self: 1 }, true],
      [{ returnValue: false, errorCode: -2, errorText: 'bad', subscribed: false }, true],
    ]);
    expect(subs.count('k')).toBe(0);
  });

  test('cancelAll (hub gone) cancels every open call', async () => {
    const { registry, subs } = setup();
    const cancelled: number[] = [];
    registry.register('/', { w: { handler: (m) => { subs.add('k', m); m.onCancel(() => cancelled.push(m.token)); return {}; } } });
    const a = call('w'), b = call('w');
    await registry.handleCall(a);
    await registry.handleCall(b);
    registry.cancelAll();
    expect(cancelled.sort()).toEqual([a.token, b.token].sort());
    expect(subs.count('k')).toBe(0);
  });
});
