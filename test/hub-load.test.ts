// Load through the real hub process: 50 concurrent clients × 2,000 calls, each call streaming numbered replies.
// Every reply must arrive exactly once and in order, and the hub's memory must return near its baseline.
import net from 'node:net';
import { spawnHub, HubProcess } from './helpers/hub-process';

jest.setTimeout(90000);

const SERVICE = 'com.test.load';
const CLIENTS = 50;
const CALLS = 2000;
const REPLIES = 3; // per call: i = 0..2, the last one with last:true
const WINDOW = 64; // calls each client keeps in flight

/** A minimal NDJSON peer: lines in, one write per tick out. */
function connectLines(socketPath: string, onFrame: (f: any) => void): Promise<{ send(f: object): void; sock: net.Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    let buf = '';
    let out = '';
    const flush = () => {
      sock.write(out);
      out = '';
    };
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      buf += d;
      let start = 0;
      let nl;
      while ((nl = buf.indexOf('\n', start)) >= 0) {
        onFrame(JSON.parse(buf.slice(start, nl)));
        start = nl + 1;
      }
      buf = buf.slice(start);
    });
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.once('error', reject);
    sock.once('connect', () =>
      resolve({
        sock,
        closed,
        send(f: object) {
          if (out === '') process.nextTick(flush);
          out += JSON.stringify(f) + '\n';
        },
      }),
    );
  });
}

async function hello(socketPath: string, name: string | null, onFrame: (f: any) => void) {
  let welcomed!: () => void;
  const w = new Promise<void>((r) => (welcomed = r));
  const peer = await connectLines(socketPath, (f) => (f.t === 'welcome' ? welcomed() : onFrame(f)));
  peer.send({ t: 'hello', name });
  await w;
  return peer;
}

/** Ask the hub for its counts and memory after a full GC (ls-hubd under --expose-gc, SIGUSR2). */
async function hubStats(hub: HubProcess): Promise<{ connections: number; openCalls: number; heapUsed: number; rss: number }> {
  const mark = hub.log().length;
  hub.proc.kill('SIGUSR2');
  for (let i = 0; i < 200; i++) {
    const m = hub.log().slice(mark).match(/stats: connections (\d+) services \d+ openCalls (\d+) .*heapUsed (\d+) .*\(after gc\)\n/);
    if (m) return { connections: Number(m[1]), openCalls: Number(m[2]), heapUsed: Number(m[3]), rss: hub.rss() };
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('no stats from the hub');
}

let hub: HubProcess;
afterAll(async () => {
  if (hub) expect(await hub.stop()).toBe(0);
});

it(`${CLIENTS} clients × ${CALLS} calls: every streamed reply exactly once, in order; memory back near baseline`, async () => {
  hub = await spawnHub([], ['--expose-gc']);

  // The service answers every call with REPLIES numbered replies at once.
  const service = await hello(hub.socketPath, SERVICE, (f) => {
    if (f.t !== 'call') return;
    const { c, k } = f.payload;
    for (let i = 0; i < REPLIES; i++) service.send({ t: 'reply', token: f.token, payload: { i, c, k }, last: i === REPLIES - 1 });
  });
  service.send({ t: 'methods', category: '/load', methods: ['stream'] });

  const errors: string[] = [];
  const fail = (s: string) => {
    if (errors.length < 10) errors.push(s);
  };

  async function runClient(c: number, calls: number) {
    let started = 0;
    let finished = 0;
    const expected = new Map<number, number>(); // token → next i
    let done!: () => void;
    const allDone = new Promise<void>((r) => (done = r));
    const peer = await hello(hub.socketPath, null, (f) => {
      if (f.t !== 'reply') return fail(`client ${c}: unexpected ${JSON.stringify(f)}`);
      const want = expected.get(f.token);
      if (want === undefined) return fail(`client ${c}: reply for a call not open: ${JSON.stringify(f)}`);
      const p = f.payload;
      if (p.i !== want || p.c !== c || p.k !== f.token) return fail(`client ${c}: token ${f.token} wanted i=${want}, got ${JSON.stringify(f)}`);
      if ((f.last === true) !== (want === REPLIES - 1)) return fail(`client ${c}: wrong last flag ${JSON.stringify(f)}`);
      if (f.last) {
        expected.delete(f.token);
        finished++;
        if (started < calls) start();
        else if (finished === calls) done();
      } else expected.set(f.token, want + 1);
    });
    const start = () => {
      const k = ++started;
      expected.set(k, 0);
      peer.send({ t: 'call', token: k, uri: `luna://${SERVICE}/load/stream`, payload: { c, k } });
    };
    for (let i = 0; i < Math.min(WINDOW, calls); i++) start();
    await Promise.race([allDone, peer.closed.then(() => finished < calls && fail(`client ${c}: connection closed after ${finished} calls`))]);
    expect(expected.size).toBe(0);
    return peer;
  }

  // Warm up at the same concurrency (V8 grows its young generation to its working size under load and keeps that
  // capacity), then take the baseline after a full GC with only the service connected.
  const warm = await Promise.all(Array.from({ length: CLIENTS }, (_, c) => runClient(c, 1000)));
  warm.forEach((p) => p.sock.destroy());
  const base = await hubStats(hub);
  expect(base.connections).toBe(1);

  const peers = await Promise.all(Array.from({ length: CLIENTS }, (_, c) => runClient(c, CALLS)));
  expect(errors).toEqual([]);
  const busy = await hubStats(hub);
  expect(busy).toMatchObject({ connections: CLIENTS + 1, openCalls: 0 });

  peers.forEach((p) => p.sock.destroy());
  let after = await hubStats(hub);
  for (let i = 0; i < 50 && after.connections !== 1; i++) after = await hubStats(hub);
  expect(after).toMatchObject({ connections: 1, openCalls: 0 });
  if (process.env.HUB_TEST_DEBUG) console.log(hub.log().match(/stats:.*/g), base, after);
  // No leak: live JS objects back to the baseline (a few MB of slack), and the process within 30 MB of it.
  expect(after.heapUsed).toBeLessThan(base.heapUsed + 4 * 1024 * 1024);
  expect(after.rss).toBeLessThan(base.rss + 30 * 1024 * 1024);
  service.sock.destroy();
});
