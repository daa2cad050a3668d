// Hostile peers against the real hub process (dist/ipc/ls-hubd.js): 10,000 random and malformed frames, an
// oversized frame, a frame cut off by a disconnect and a peer that never reads. Only the offender's connection
// may suffer: a well-behaved service and client keep working before, during and after.
import net from 'node:net';
import { HUB_SERVICE } from '../ipc/protocol';
import { spawnHub, HubProcess } from './helpers/hub-process';
import { RawPeer, Frame } from './helpers/hub-raw-peer';

jest.setTimeout(90000);

const ECHO = 'com.test.echo';
const SENTINEL_TOKEN = 2 ** 40;
const SENTINEL = JSON.stringify({ t: 'call', token: SENTINEL_TOKEN, uri: `luna://${HUB_SERVICE}/isCallAllowed`, payload: { uri: 'luna://a.b/c', requester: 'a.b' } }) + '\n';

/** Deterministic PRNG (mulberry32) so a failure can be reproduced. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  return { next, int, pick };
}

type Expect = 'closed' | 'answered' | 'either';
interface Hostile { kind: string; bytes: Buffer | string; hello: boolean; expect: Expect }

const BAD_TOKENS = ['"1"', '-1', '1.5', '1e300', String(2 ** 60), 'null', '{}', '[]', 'true'];
const BAD_OBJECTS = ['[]', '"x"', '5', 'null', 'true', '[{}]'];
const BAD_STRINGS = ['5', 'null', '[]', '{}', 'true'];

function generate(r: ReturnType<typeof rng>): Hostile {
  const roll = r.int(100);
  const weirdPayload = () => r.pick([
    '{"n":1e308,"m":-1e308,"big":123456789012345678901234567890123456789}',
    `{"deep":${'['.repeat(1 + r.int(500))}${']'.repeat(0)}`.replace(/\[+$/, (s) => s + ']'.repeat(s.length)) + '}',
    '{"s":"\\u0000\\ud800 é 中 \\n","e":"","k":{"__proto__":{"x":1}}}',
    `{"long":"${'x'.repeat(r.int(100000))}"}`,
    '{"a":[1,2,3,{"b":null}],"subscribe":true}',
    '{}',
  ]);
  if (roll < 15) {
    const len = 1 + r.int(300);
    const b = Buffer.alloc(len + 1);
    for (let i = 0; i < len; i++) b[i] = r.int(256);
    b[len] = 0x0a;
    return { kind: 'random bytes', bytes: b, hello: r.int(2) === 0, expect: 'closed' };
  }
  if (roll < 25) {
    const valid = `{"t":"call","token":${r.int(1000)},"uri":"luna://${ECHO}/echo","payload":${weirdPayload()}}`;
    return { kind: 'truncated JSON', bytes: valid.slice(0, 1 + r.int(valid.length - 1)) + '\n', hello: true, expect: 'closed' };
  }
  if (roll < 30) return { kind: 'not an object', bytes: r.pick(['1', '"x"', 'null', '[]', 'true', '1e400', '[{"t":"hello"}]', '']) + '\n', hello: true, expect: 'closed' };
  if (roll < 38) {
    const t = r.pick(['"x' + r.int(1e6) + '"', '5', 'null', '{}', '["call"]', '"CALL"', '""']);
    return { kind: 'unknown type', bytes: (r.int(4) === 0 ? '{"token":1}' : `{"t":${t},"token":1}`) + '\n', hello: true, expect: 'closed' };
  }
  if (roll < 58) {
    const frames = [
      () => `{"t":"call","token":${r.pick(BAD_TOKENS)},"uri":"luna://${ECHO}/echo","payload":{}}`,
      () => `{"t":"call","token":1,"uri":${r.pick(BAD_STRINGS)},"payload":{}}`,
      () => `{"t":"call","token":1,"uri":"luna://${ECHO}/echo","payload":${r.pick(BAD_OBJECTS)}}`,
      () => `{"t":"call","token":1,"uri":"luna://${ECHO}/echo"}`,
      () => `{"t":"call","token":1,"uri":"luna://${ECHO}/echo","payload":{},"appId":${r.pick(['5', '{}', 'null', '[]'])}}`,
      () => `{"t":"reply","token":${r.pick(BAD_TOKENS)},"payload":{}}`,
      () => `{"t":"reply","token":1,"payload":${r.pick(BAD_OBJECTS)}}`,
      () => `{"t":"reply","token":1,"payload":{},"last":${r.pick(['"yes"', '1', 'null', '{}'])}}`,
      () => `{"t":"methods","category":${r.pick(BAD_STRINGS)},"methods":[]}`,
      () => `{"t":"methods","category":"/","methods":${r.pick(['"a"', '[1]', '{}', '[null]', 'null'])}}`,
      () => `{"t":"cancel","token":${r.pick(BAD_TOKENS)}}`,
      () => `{"t":"signal","uri":${r.pick(BAD_STRINGS)},"payload":{}}`,
      () => `{"t":"signal","uri":"luna://a.b/c","payload":${r.pick(BAD_OBJECTS)}}`,
      () => `{"t":"hello","name":${r.pick(['5', '{}', '[]', 'true'])}}`,
    ];
    return { kind: 'wrong field type', bytes: r.pick(frames)() + '\n', hello: r.int(5) !== 0, expect: 'closed' };
  }
  if (roll < 63) return { kind: 'call before hello', bytes: `{"t":"call","token":1,"uri":"luna://${ECHO}/echo","payload":{}}\n`, hello: false, expect: 'closed' };
  if (roll < 66) return { kind: 'second hello', bytes: '{"t":"hello","name":null}\n', hello: true, expect: 'closed' };
  if (roll < 68) return { kind: 'reply never asked for', bytes: `{"t":"reply","token":${1 + r.int(1e9)},"payload":{}}\n`, hello: true, expect: 'closed' };
  if (roll < 70) return { kind: 'signal with a bad URI', bytes: `{"t":"signal","uri":${JSON.stringify(r.pick(['bad uri', 'luna://x', 'luna://a.b/', '']))},"payload":{}}\n`, hello: true, expect: 'closed' };
  if (roll < 73) return { kind: 'bad method names', bytes: `{"t":"methods","category":"${r.pick(['/', 'x', '//'])}","methods":["${r.pick(['a-b', '', '1x', 'a b'])}"]}\n`, hello: true, expect: 'closed' };
  if (roll < 75) {
    const depth = 50000 + r.int(100000);
    return { kind: 'nesting too deep to forward', bytes: `{"t":"call","token":1,"uri":"luna://${ECHO}/echo","payload":{"d":${'['.repeat(depth)}${']'.repeat(depth)}}}\n`, hello: true, expect: 'either' };
  }
  // Tolerated: odd but well-formed traffic gets bus errors or is ignored, and the connection stays.
  const ok = [
    () => `{"t":"call","token":${r.int(1e6)},"uri":"luna://${ECHO}/echo","payload":${weirdPayload()}}`,
    () => `{"t":"call","token":${r.int(1e6)},"uri":"luna://com.test.nobody${r.int(100)}/x","payload":${weirdPayload()}}`,
    () => `{"t":"call","token":${r.int(1e6)},"uri":${JSON.stringify(r.pick(['', 'luna://', 'luna://x/y', 'palm://a.b', 'luna://a.b//c', 'luna://a.b/c/', 'x'.repeat(5000)]))},"payload":{}}`,
    () => `{"t":"call","token":${r.int(1e6)},"uri":"luna://${HUB_SERVICE}/${r.pick(['isCallAllowed', 'addOneManifest', 'nothing', 'signal/addmatch', 'signal/registerServerStatus'])}","payload":${weirdPayload()}}`,
    () => `{"t":"cancel","token":${r.int(1e6)}}`,
    () => `{"t":"signal","uri":"luna://a.b/c${r.pick(['', '/d', '/d/e'])}","payload":${weirdPayload()}}`,
    () => `{"t":"methods","category":"/c${r.int(10)}","methods":["m${r.int(10)}"]}`,
    () => `{"t":"call","token":${r.int(1e6)},"uri":"luna://${ECHO}/echo","payload":{},"appId":"com.app.${r.int(100)}","extra":[1,{"x":null}]}`,
  ];
  return { kind: 'tolerated', bytes: r.pick(ok)() + '\n', hello: true, expect: 'answered' };
}

/** Send one hostile frame on a fresh connection, then the sentinel; did the hub hang up or answer it? */
function tryFrame(socketPath: string, h: Hostile): Promise<'closed' | 'answered'> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath);
    let buf = '';
    let outcome: 'closed' | 'answered' | null = null;
    const timer = setTimeout(() => reject(new Error(`no outcome for ${h.kind}: ${String(h.bytes).slice(0, 200)}`)), 20000);
    s.on('connect', () => {
      if (h.hello) s.write('{"t":"hello"}\n');
      s.write(h.bytes);
      s.write(SENTINEL);
    });
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.includes(`"token":${SENTINEL_TOKEN}`)) {
          outcome = 'answered';
          s.destroy();
        }
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(outcome ?? 'closed');
    });
  });
}

let hub: HubProcess;
let echo: RawPeer;
let good: RawPeer;
let goodCalls = 0;

async function goodCall(): Promise<void> {
  const n = goodCalls++;
  const payload = await good.callOne(`luna://${ECHO}/echo`, { n, text: 'fine' });
  expect(payload).toEqual({ n, text: 'fine' });
}

beforeAll(async () => {
  hub = await spawnHub(['--max-queued-bytes', String(4 * 1024 * 1024)]);
  echo = await RawPeer.hello(hub.socketPath, ECHO);
  echo.onFrame = (f: Frame) => {
    echo.frames.length = 0;
    if (f.t === 'call') echo.send({ t: 'reply', token: f.token, payload: f.payload, last: true });
  };
  echo.send({ t: 'methods', category: '/', methods: ['echo'] });
  good = await RawPeer.hello(hub.socketPath, null);
  for (let i = 0; i < 10; i++) await goodCall();
});

afterAll(async () => {
  good?.destroy();
  echo?.destroy();
  if (hub) expect(await hub.stop()).toBe(0);
});

it('10,000 random and malformed frames close only their own connections', async () => {
  const r = rng(20261121);
  const frames = Array.from({ length: 10000 }, () => generate(r));
  const outcomes = new Map<string, Record<string, number>>();
  const wrong: string[] = [];
  let next = 0;
  let stopGood = false;
  const background = (async () => {
    while (!stopGood) await goodCall();
  })();
  const worker = async () => {
    while (next < frames.length) {
      const h = frames[next++];
      const got = await tryFrame(hub.socketPath, h);
      const o = outcomes.get(h.kind) ?? {};
      o[got] = (o[got] ?? 0) + 1;
      outcomes.set(h.kind, o);
      if (h.expect !== 'either' && got !== h.expect && wrong.length < 5) wrong.push(`${h.kind} → ${got}: ${String(h.bytes).slice(0, 300)}`);
    }
  };
  await Promise.all(Array.from({ length: 24 }, worker));
  stopGood = true;
  await background;
  if (process.env.HUB_TEST_DEBUG) console.log(outcomes);
  expect(wrong).toEqual([]);
  expect(goodCalls).toBeGreaterThan(20); // the good client kept getting answers during the storm
  for (let i = 0; i < 20; i++) await goodCall();
  expect(echo.closed).toBe(false);
  expect(hub.log()).not.toMatch(/closed com\.test\.echo/);
  expect(hub.log()).toMatch(/protocol violation: frame is not JSON/);
  expect(hub.log()).toMatch(/protocol violation: unknown message type/);
  // every hostile connection is gone from the hub's tables
  await expectHubCounts(2);
});

it('an oversized frame is cut off before its newline arrives', async () => {
  const p = await RawPeer.hello(hub.socketPath, null);
  p.sendRaw('{"t":"call","token":1,"uri":"luna://com.test.echo/echo","payload":{"x":"' + 'a'.repeat(1024 * 1024 + 100));
  await p.closedP; // closed by the hub without a newline ever being sent
  await hub.waitLog(/protocol violation: frame of more than 1048576 bytes/);
  await goodCall();
});

it('a frame cut off by a disconnect is logged and harms nobody', async () => {
  const p = await RawPeer.hello(hub.socketPath, null);
  p.sendRaw('{"t":"call","token":1,"uri":"luna://com.test.ec');
  p.socket.end();
  await p.closedP;
  await hub.waitLog(/stream ended inside a frame/);
  await goodCall();
});

it('a client that never reads is dropped, and the hub memory stays bounded', async () => {
  const before = hub.rss();
  const lazy = await RawPeer.hello(hub.socketPath, null);
  lazy.socket.pause(); // never reads again
  const big = 'b'.repeat(100 * 1024);
  // 90 MB of replies coming back: far more than the hub may hold, so a bound well below it says the hub did not keep them.
  for (let i = 0; i < 900; i++) lazy.call(`luna://${ECHO}/echo`, { i, big });
  let during = 0;
  const dropped = hub.waitLog(/closed :1\.\d+ .*peer does not read its messages: \d+ bytes queued \(limit 4194304\)/, 30000);
  let isDropped = false;
  dropped.then(() => (isDropped = true), () => undefined);
  while (!isDropped) {
    await goodCall();
    during++;
    await new Promise((r) => setTimeout(r, 10));
  }
  await dropped;
  lazy.destroy();
  expect(during).toBeGreaterThan(0);
  for (let i = 0; i < 10; i++) await goodCall();
  // Bounded: the queue limit (4 MiB) plus working memory, which does not grow with what the lazy client asked for
  // (about 11-14 MB here on Node 20 and 24 whether it asks 30 MB or 90 MB; up to 26 MB seen on a loaded machine under
  // Node 24, whose heap grows more eagerly). Less than half of the 90 MB asked.
  expect(hub.rss() - before).toBeLessThan(40 * 1024 * 1024);
  expect(echo.closed).toBe(false);
  await expectHubCounts(2);
});

/** Ask the hub (SIGUSR2) for its counts until its connection count settles at `n` and no call is open. */
async function expectHubCounts(n: number): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const mark = hub.log().length;
    hub.proc.kill('SIGUSR2');
    await hub.waitLog(/stats: connections \d+[^\n]*\n/);
    for (let j = 0; j < 20 && !/stats: [^\n]*\n/.test(hub.log().slice(mark)); j++) await new Promise((r) => setTimeout(r, 25));
    const m = hub.log().slice(mark).match(/stats: connections (\d+) services (\d+) openCalls (\d+)/);
    if (m && Number(m[1]) === n && Number(m[3]) === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`hub did not settle at ${n} connections with no open call:\n${hub.log().slice(-500)}`);
}
