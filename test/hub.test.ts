// Hub semantics over real Unix sockets, with the hub in this process and a small test policy:
// registration, routing, bus errors, cancels, disconnects, the hub's own service, limits and the socket file.
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { Hub, MAX_METHODS_PER_CONNECTION } from '../ipc/hub';
import { HUB_SERVICE } from '../ipc/protocol';
import { BusErrorCode, BusErrorText } from '../status-codes';
import { RawPeer } from './helpers/hub-raw-peer';
import { createTestPolicy, TestPolicy } from './helpers/hub-test-policy';

let dir: string;
let sock: string;
let hub: Hub;
let policy: TestPolicy;
let logs: string[];
const peers: RawPeer[] = [];

async function startHub(limits = {}): Promise<void> {
  policy = createTestPolicy();
  logs = [];
  hub = new Hub({ socketPath: sock, policy, limits, log: (l) => logs.push(l) });
  await hub.start();
}

async function anon(): Promise<RawPeer> {
  const p = await RawPeer.hello(sock, null);
  peers.push(p);
  return p;
}

/** A service with methods declared; returns once the hub has them (a round trip through the hub). */
async function service(name: string, categories: Record<string, string[]>): Promise<RawPeer> {
  const p = await RawPeer.hello(sock, name);
  peers.push(p);
  for (const [category, methods] of Object.entries(categories)) p.send({ t: 'methods', category, methods });
  await roundTrip(p); // the hub handles one connection's frames in order: the methods are in place
  return p;
}

/** One call answered by the hub itself, to be sure it has handled everything sent before. */
async function roundTrip(p: RawPeer): Promise<void> {
  expect(await p.callOne(`luna://${HUB_SERVICE}/isCallAllowed`, { uri: 'luna://a.b/c', requester: 'a.b' })).toEqual({ returnValue: true, allowed: true });
}

function busErr(text: string, extra = {}) {
  return { returnValue: false, errorCode: BusErrorCode.GENERAL, errorText: text, ...extra };
}

beforeEach(async () => {
  dir = fs.mkdtempSync('/tmp/ai-');
  sock = path.join(dir, 'run', 'hub.sock');
  await startHub();
});

afterEach(async () => {
  for (const p of peers.splice(0)) p.destroy();
  await hub.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('socket file', () => {
  it('creates parent dirs, is connectable by anyone (0666) and is removed on stop', async () => {
    expect(fs.statSync(sock).mode & 0o777).toBe(0o666);
    await hub.stop();
    expect(fs.existsSync(sock)).toBe(false);
    await startHub();
  });

  it('refuses to start while a live hub answers on the socket', async () => {
    const second = new Hub({ socketPath: sock, policy, log: () => undefined });
    await expect(second.start()).rejects.toThrow(`A hub is already listening on ${sock}`);
    expect(fs.existsSync(sock)).toBe(true);
    const p = await anon(); // the first hub is untouched
    expect(p.closed).toBe(false);
  });

  it('removes a stale socket file nobody answers on', async () => {
    const stale = path.join(dir, 'stale.sock');
    // a process that listens and dies without cleaning up, as a crashed hub would
    spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(fs.existsSync(stale)).toBe(true);
    const h = new Hub({ socketPath: stale, policy, log: (l) => logs.push(l) });
    await h.start();
    expect(logs.some((l) => l.includes('removed stale socket'))).toBe(true);
    const p = await RawPeer.hello(stale);
    p.destroy();
    await h.stop();
  });

  it('never removes a file that is not a socket', async () => {
    const f = path.join(dir, 'plain');
    fs.writeFileSync(f, 'x');
    const h = new Hub({ socketPath: f, policy, log: () => undefined });
    await expect(h.start()).rejects.toThrow('exists and is not a socket');
    expect(fs.readFileSync(f, 'utf8')).toBe('x');
  });

  it('refuses a socket path longer than a Unix socket allows', () => {
    expect(() => new Hub({ socketPath: '/tmp/' + 'x'.repeat(120), policy })).toThrow(/longer than the 107/);
  });
});

describe('registration', () => {
  it('welcomes an anonymous client with a unique id and its kernel identity', async () => {
    const a = await RawPeer.connect(sock);
    peers.push(a);
    a.send({ t: 'hello' });
    const w = await a.next();
    expect(w).toMatchObject({ t: 'welcome', name: null, uniqueId: expect.stringMatching(/^:1\.\d+$/) });
    expect(w.peer).toEqual({ pid: process.pid, uid: process.getuid!(), gid: process.getgid!(), exe: fs.realpathSync(process.execPath) });
  });

  it('registers a name once; a second registration gets -1028', async () => {
    await service('com.test.one', {});
    const b = await RawPeer.connect(sock);
    b.send({ t: 'hello', name: 'com.test.one' });
    expect(await b.next()).toEqual({ t: 'refused', errorCode: BusErrorCode.NAME_TAKEN, errorText: BusErrorText.nameTaken('com.test.one') });
    await b.closedP;
  });

  it("refuses the hub's own name, names the policy forbids, and malformed names", async () => {
    const cases: Array<[string, number, string]> = [
      [HUB_SERVICE, BusErrorCode.NAME_TAKEN, BusErrorText.nameTaken(HUB_SERVICE)],
      ['com.test.forbidden', BusErrorCode.INVALID_PERMISSIONS, BusErrorText.invalidPermissions('com.test.forbidden')],
      ['nodots', BusErrorCode.INVALID_PERMISSIONS, BusErrorText.invalidServiceName('nodots', 'service name "nodots" must contain at least one "."')],
    ];
    for (const [name, code, text] of cases) {
      const p = await RawPeer.connect(sock);
      p.send({ t: 'hello', name });
      expect(await p.next()).toEqual({ t: 'refused', errorCode: code, errorText: text });
      await p.closedP;
    }
  });

  it('frees the name when the service disconnects', async () => {
    const s = await service('com.test.one', {});
    s.destroy();
    await s.closedP;
    const watcher = await anon();
    const t = watcher.call(`luna://${HUB_SERVICE}/signal/registerServerStatus`, { serviceName: 'com.test.one' });
    // the hub may not have seen the close yet: wait until it says disconnected
    let r = await watcher.reply(t);
    if (r.payload.connected) r = await watcher.reply(t);
    expect(r.payload).toEqual({ serviceName: 'com.test.one', connected: false });
    await service('com.test.one', {});
  });
});

describe('calls', () => {
  it('routes a call with caller identity and forwards replies in order; last ends the call', async () => {
    const s = await service('com.test.svc', { '/': ['ping'], '/dev/tools': ['stream'] });
    const c = await anon();
    const token = c.call('luna://com.test.svc/dev/tools/stream', { n: 1 }, { appId: 'com.app.x' });
    const inc = await s.next((f) => f.t === 'call');
    expect(inc).toEqual({
      t: 'call', token: expect.any(Number), sender: null, senderId: expect.stringMatching(/^:1\./), appId: 'com.app.x',
      category: '/dev/tools', method: 'stream', payload: { n: 1 },
      peer: { pid: process.pid, uid: process.getuid!(), gid: process.getgid!(), exe: fs.realpathSync(process.execPath) },
    });
    expect(policy.lastCaller).toMatchObject({ name: null, appId: 'com.app.x', peer: { pid: process.pid } });
    for (let i = 0; i < 5; i++) s.send({ t: 'reply', token: inc.token, payload: { i }, last: i === 4 });
    for (let i = 0; i < 5; i++) {
      const r = await c.reply(token);
      expect(r.payload).toEqual({ i });
      expect(r.last === true).toBe(i === 4);
    }
    expect(hub.stats().openCalls).toBe(0);
    // a call from a named service carries its name as sender, on the root category
    const s2 = await service('com.test.caller', {});
    const t2 = s2.call('palm://com.test.svc/ping', {});
    const inc2 = await s.next((f) => f.t === 'call');
    expect(inc2).toMatchObject({ sender: 'com.test.caller', category: '/', method: 'ping' });
    s.send({ t: 'reply', token: inc2.token, payload: { returnValue: true }, last: true });
    expect((await s2.reply(t2)).payload).toEqual({ returnValue: true });
  });

  it('answers bus errors with the exact texts', async () => {
    await service('com.test.svc', { '/a': ['m'] });
    const c = await anon();
    expect(await c.callOne('luna://com.test.nope/x', {})).toEqual(busErr(BusErrorText.serviceDoesNotExist('com.test.nope')));
    expect(await c.callOne('luna://com.test.known/x', {})).toEqual(busErr(BusErrorText.serviceNotRunning('com.test.known'), { serviceName: 'com.test.known' }));
    expect(await c.callOne('luna://com.test.svc/a/other', {})).toEqual(busErr(BusErrorText.unknownMethod('other', '/a')));
    expect(await c.callOne('luna://com.test.svc/b/m', {})).toEqual(busErr(BusErrorText.unknownMethod('m', '/b')));
    // ACG denial comes first, even for a method that does not exist
    expect(await c.callOne('luna://com.test.svc/a/secret', {})).toEqual(busErr(BusErrorText.deniedMethodCall('secret', '/a')));
    const bad = await c.callOne('http://x/y', {});
    expect(bad).toMatchObject({ returnValue: false, errorCode: BusErrorCode.GENERAL, errorText: expect.stringContaining('Invalid URI "http://x/y"') });
    expect(await c.callOne(`luna://${HUB_SERVICE}/nothing`, {})).toEqual(busErr(BusErrorText.unknownMethod('nothing', '/')));
    expect(hub.stats().openCalls).toBe(0);
  });

  it('one connection may declare at most MAX_METHODS_PER_CONNECTION methods', async () => {
    const s = await service('com.test.svc', {});
    const names = (n: number, p: string) => Array.from({ length: n }, (_, i) => `${p}${i}`);
    s.send({ t: 'methods', category: '/a', methods: names(MAX_METHODS_PER_CONNECTION - 1, 'm') });
    s.send({ t: 'methods', category: '/a', methods: names(MAX_METHODS_PER_CONNECTION - 1, 'n') }); // replaces: still fine
    s.send({ t: 'methods', category: '/b', methods: ['x'] });
    await roundTrip(s);
    s.send({ t: 'methods', category: '/c', methods: ['y'] });
    await s.closedP;
    expect(logs.some((l) => l.includes(`more than ${MAX_METHODS_PER_CONNECTION} methods declared on one connection`))).toBe(true);
  });

  it('a method table can be replaced and removed', async () => {
    const s = await service('com.test.svc', { '/a': ['m'] });
    s.send({ t: 'methods', category: '/a', methods: [] });
    await roundTrip(s);
    const c = await anon();
    expect(await c.callOne('luna://com.test.svc/a/m', {})).toEqual(busErr(BusErrorText.unknownMethod('m', '/a')));
  });

  it('forwards cancel; a reply racing the cancel is dropped quietly', async () => {
    const s = await service('com.test.svc', { '/': ['sub'] });
    const c = await anon();
    const t = c.call('luna://com.test.svc/sub', { subscribe: true });
    const inc = await s.next((f) => f.t === 'call');
    s.send({ t: 'reply', token: inc.token, payload: { first: true } });
    expect((await c.reply(t)).payload).toEqual({ first: true });
    c.send({ t: 'cancel', token: t });
    expect(await s.next((f) => f.t === 'cancel')).toEqual({ t: 'cancel', token: inc.token });
    s.send({ t: 'reply', token: inc.token, payload: { late: true } }); // raced the cancel: fine
    c.send({ t: 'cancel', token: t }); // cancelling an ended call: ignored
    expect(await c.callOne(`luna://${HUB_SERVICE}/isCallAllowed`, { uri: 'luna://a.b/c', requester: 'a.b' })).toEqual({ returnValue: true, allowed: true });
    expect(c.frames.filter((f) => f.token === t)).toEqual([]);
    expect(s.closed).toBe(false);
    expect(hub.stats().openCalls).toBe(0);
  });

  it('limits outstanding calls per connection with an error reply', async () => {
    await hub.stop();
    await startHub({ maxOutstandingCallsPerConnection: 3 });
    const s = await service('com.test.svc', { '/': ['hold'] });
    const c = await anon();
    const tokens = [1, 2, 3].map(() => c.call('luna://com.test.svc/hold', {}));
    for (let i = 0; i < 3; i++) await s.next((f) => f.t === 'call');
    expect(await c.callOne('luna://com.test.svc/hold', {})).toEqual(busErr(BusErrorText.tooManyCalls(3)));
    c.send({ t: 'cancel', token: tokens[0] });
    await s.next((f) => f.t === 'cancel');
    const t = c.call('luna://com.test.svc/hold', {});
    expect(await s.next((f) => f.t === 'call')).toMatchObject({ method: 'hold' });
    expect(c.frames.some((f) => f.token === t)).toBe(false);
  });

  it('limits connections: one over the limit is refused, the others carry on', async () => {
    await hub.stop();
    await startHub({ maxConnections: 2 });
    const a = await anon();
    await anon();
    const c = await RawPeer.connect(sock);
    expect(await c.next()).toEqual({ t: 'refused', errorCode: BusErrorCode.GENERAL, errorText: BusErrorText.tooManyConnections(2) });
    await c.closedP;
    expect((await a.callOne(`luna://${HUB_SERVICE}/isCallAllowed`, { uri: 'luna://a.b/c', requester: 'a.b' })).returnValue).toBe(true);
  });
});

describe('disconnects', () => {
  it('a service that goes away answers its open calls with "X is not running."', async () => {
    const s = await service('com.test.svc', { '/': ['hold'] });
    const c = await anon();
    const t1 = c.call('luna://com.test.svc/hold', {});
    const t2 = c.call('luna://com.test.svc/hold', { subscribe: true });
    await s.next((f) => f.t === 'call');
    await s.next((f) => f.t === 'call');
    s.destroy();
    const want = busErr(BusErrorText.serviceNotRunning('com.test.svc'), { serviceName: 'com.test.svc' });
    expect(await c.reply(t1)).toEqual({ t: 'reply', token: t1, payload: want, last: true });
    expect(await c.reply(t2)).toEqual({ t: 'reply', token: t2, payload: want, last: true });
    expect(hub.stats().openCalls).toBe(0);
  });

  it('a caller that goes away cancels all its calls at the service', async () => {
    const s = await service('com.test.svc', { '/': ['hold'] });
    const c = await anon();
    c.call('luna://com.test.svc/hold', {});
    c.call('luna://com.test.svc/hold', {});
    const tokens = [(await s.next((f) => f.t === 'call')).token, (await s.next((f) => f.t === 'call')).token];
    c.destroy();
    const cancels = [(await s.next((f) => f.t === 'cancel')).token, (await s.next((f) => f.t === 'cancel')).token];
    expect(cancels.sort()).toEqual(tokens.sort());
    expect(hub.stats().openCalls).toBe(0);
  });
});

describe('protocol violations close only that connection', () => {
  async function expectDropped(p: RawPeer, reason: string | RegExp) {
    await p.closedP;
    await new Promise((r) => setImmediate(r));
    expect(logs.some((l) => (typeof reason === 'string' ? l.includes(reason) : reason.test(l)))).toBe(true);
  }

  it.each([
    ['a first frame that is not hello', [{ t: 'call', token: 1, uri: 'luna://a.b/c', payload: {} }], 'first frame must be "hello"'],
    ['a second hello', [{ t: 'hello' }, { t: 'hello' }], 'second "hello"'],
    ['a reused call token', [{ t: 'hello' }, { t: 'call', token: 7, uri: 'luna://com.test.svc/hold', payload: {} }, { t: 'call', token: 7, uri: 'luna://com.test.svc/hold', payload: {} }], 'call token 7 is already in use'],
    ['a reply for a token never given', [{ t: 'hello', name: 'com.test.liar' }, { t: 'reply', token: 99, payload: {} }], 'reply for token 99'],
    ['a bad method name', [{ t: 'hello', name: 'com.test.bad' }, { t: 'methods', category: '/', methods: ['no-dash'] }], 'method name "no-dash"'],
    ['an unknown type', [{ t: 'hello' }, { t: 'bogus' }], 'unknown message type "bogus"'],
    ['a signal with a bad URI (no reply path to report it on)', [{ t: 'hello' }, { t: 'signal', uri: 'nope', payload: {} }], 'signal: Invalid URI "nope"'],
    ['a wrong field type', [{ t: 'hello' }, { t: 'call', token: '1', uri: 'luna://a.b/c', payload: {} }], 'field "token" must be'],
    ['a non-object payload', [{ t: 'hello' }, { t: 'call', token: 1, uri: 'luna://a.b/c', payload: [] }], 'field "payload" must be a JSON object'],
  ])('%s', async (_name, frames, reason) => {
    const s = await service('com.test.svc', { '/': ['hold'] });
    const good = await anon();
    const bad = await RawPeer.connect(sock);
    for (const f of frames) bad.send(f);
    await expectDropped(bad, reason);
    expect(await good.callOne(`luna://${HUB_SERVICE}/isCallAllowed`, { uri: 'luna://a.b/c', requester: 'a.b' })).toEqual({ returnValue: true, allowed: true });
    expect(s.closed).toBe(false);
  });

  it('bad JSON, an oversized frame and a payload too deep to forward', async () => {
    await hub.stop();
    await startHub({ maxFrameBytes: 4096 });
    const s = await service('com.test.svc', { '/': ['echo'] });
    const a = await anon();
    a.sendRaw('{"t":"call",,}\n');
    await expectDropped(a, 'frame is not JSON');
    const b = await anon();
    b.sendRaw('{"t":"call","x":"' + 'y'.repeat(5000)); // no newline needed: too big already
    await expectDropped(b, 'frame of more than 4096 bytes');
    const c = await anon();
    const deep = '['.repeat(2000) + ']'.repeat(2000);
    c.sendRaw(`{"t":"call","token":1,"uri":"luna://com.test.svc/echo","payload":{"d":${deep}}}\n`);
    // within the frame limit; forwarding works (V8 handles this depth) or the sender is dropped: never the hub
    await new Promise((r) => setTimeout(r, 100));
    expect(s.closed).toBe(false);
    const d = await anon();
    expect((await d.callOne('luna://com.test.svc/missing', {})).errorText).toBe(BusErrorText.unknownMethod('missing', '/'));
  });

  it('a peer that does not read is dropped once its queue passes the limit', async () => {
    await hub.stop();
    await startHub({ maxQueuedBytesPerConnection: 256 * 1024 });
    const s = await service('com.test.svc', { '/': ['flood'] });
    const lazy = await anon();
    lazy.socket.pause(); // never reads
    const t = lazy.call('luna://com.test.svc/flood', {});
    const inc = await s.next((f) => f.t === 'call');
    const big = 'z'.repeat(16 * 1024);
    s.onFrame = () => undefined;
    let sent = 0;
    while (hub.stats().openCalls > 0 && sent < 10000) {
      s.send({ t: 'reply', token: inc.token, payload: { big, sent: sent++ } });
      if (sent % 50 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    expect(hub.stats().openCalls).toBe(0);
    await new Promise((r) => setTimeout(r, 50));
    expect(logs.some((l) => l.includes('peer does not read its messages'))).toBe(true);
    expect(s.closed).toBe(false);
    expect(t).toBe(1);
  });
});

describe(`the hub's own service ${HUB_SERVICE}`, () => {
  it('registerServerStatus reports now and on every change until cancelled', async () => {
    const w = await anon();
    const t = w.call(`luna://${HUB_SERVICE}/signal/registerServerStatus`, { serviceName: 'com.test.svc' });
    expect((await w.reply(t)).payload).toEqual({ serviceName: 'com.test.svc', connected: false });
    const s = await service('com.test.svc', {});
    expect((await w.reply(t)).payload).toEqual({ serviceName: 'com.test.svc', connected: true });
    s.destroy();
    expect((await w.reply(t)).payload).toEqual({ serviceName: 'com.test.svc', connected: false });
    w.send({ t: 'cancel', token: t });
    await service('com.test.svc', {});
    expect(await w.callOne(`luna://${HUB_SERVICE}/isCallAllowed`, { uri: 'luna://a.b/c', requester: 'a.b' })).toMatchObject({ allowed: true });
    expect(w.frames.filter((f) => f.token === t)).toEqual([]);
    expect(hub.stats().hubServiceCalls).toBe(0);
    // the hub itself is always up
    expect(await w.callOne(`luna://${HUB_SERVICE}/signal/registerServerStatus`, { serviceName: HUB_SERVICE })).toEqual({ serviceName: HUB_SERVICE, connected: true });
  });

  it('addmatch delivers matching signals by category and method', async () => {
    const all = await anon();
    const onlyM = await anon();
    const tAll = all.call(`luna://${HUB_SERVICE}/signal/addmatch`, { category: '/events' });
    const tM = onlyM.call(`luna://${HUB_SERVICE}/signal/addmatch`, { category: '/events', method: 'm' });
    expect((await all.reply(tAll)).payload).toEqual({ returnValue: true });
    expect((await onlyM.reply(tM)).payload).toEqual({ returnValue: true });
    const sender = await anon();
    sender.send({ t: 'signal', uri: 'luna://com.test.src/events/other', payload: { n: 1 } });
    sender.send({ t: 'signal', uri: 'luna://com.test.src/elsewhere/m', payload: { n: 2 } });
    sender.send({ t: 'signal', uri: 'luna://com.test.src/events/m', payload: { n: 3 } });
    // the frame carries the payload as sent, plus who sent it, stamped by the hub (here: anonymous, this process's uid)
    expect(await all.reply(tAll)).toEqual({ t: 'reply', token: tAll, payload: { n: 1 }, sender: null, senderId: expect.stringMatching(/^:1\.\d+$/), senderUid: process.getuid!() });
    expect((await all.reply(tAll)).payload).toEqual({ n: 3 });
    expect((await onlyM.reply(tM)).payload).toEqual({ n: 3 });
    expect(onlyM.frames).toEqual([]);
  });

  it('isCallAllowed answers from the policy by name', async () => {
    const c = await anon();
    const ask = (uri: string, requester: string) => c.callOne(`luna://${HUB_SERVICE}/isCallAllowed`, { uri, requester });
    expect(await ask('luna://com.x.y/cat/secret', 'com.some.one')).toEqual({ returnValue: true, allowed: false });
    expect(await ask('luna://com.x.y/cat/secret', 'com.test.trusted')).toEqual({ returnValue: true, allowed: true });
    expect(await ask('luna://com.x.y/cat/open', 'com.some.one')).toEqual({ returnValue: true, allowed: true });
    expect(await ask('nope', 'a.b')).toMatchObject({ returnValue: false, errorText: expect.stringContaining('Invalid URI "nope"') });
    expect(await c.callOne(`luna://${HUB_SERVICE}/isCallAllowed`, { uri: 'luna://a.b/c' })).toEqual(
      busErr(BusErrorText.invalidParameter('"requester" must be a non-empty string')),
    );
  });

  it('addOneManifest / removeOneManifest go through the ACG check and the policy', async () => {
    const c = await anon();
    const add = { path: '/x/manifest.json', prefix: '/x' };
    expect(await c.callOne(`luna://${HUB_SERVICE}/addOneManifest`, add)).toEqual(busErr(BusErrorText.deniedMethodCall('addOneManifest', '/')));
    expect(policy.manifests).toEqual([]);
    const trusted = await service('com.test.trusted', {});
    expect(await trusted.callOne(`luna://${HUB_SERVICE}/addOneManifest`, add)).toEqual({ returnValue: true });
    expect(await trusted.callOne(`luna://${HUB_SERVICE}/removeOneManifest`, add)).toEqual({ returnValue: true });
    expect(await trusted.callOne(`luna://${HUB_SERVICE}/removeOneManifest`, { path: '/y', prefix: '' })).toEqual(busErr('No manifest /y is loaded'));
    expect(await trusted.callOne(`luna://${HUB_SERVICE}/addOneManifest`, { prefix: '/x' })).toEqual(
      busErr(BusErrorText.invalidParameter('"path" must be a non-empty string')),
    );
    expect(policy.manifests.map((m) => m.op)).toEqual(['add', 'remove']);
  });

  it('bad payloads get clear errors', async () => {
    const c = await anon();
    expect(await c.callOne(`luna://${HUB_SERVICE}/signal/registerServerStatus`, { serviceName: 5 })).toEqual(
      busErr(BusErrorText.invalidParameter('"serviceName" must be a non-empty string')),
    );
    expect(await c.callOne(`luna://${HUB_SERVICE}/signal/addmatch`, { category: 'x' })).toEqual(
      busErr(BusErrorText.invalidParameter('"category" must be a string starting with "/"')),
    );
    expect(hub.stats().hubServiceCalls).toBe(0);
  });

  it('reload asks the policy', () => {
    hub.reload();
    expect(policy.reloads).toBe(1);
  });
});
